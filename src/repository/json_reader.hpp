// JsonDocument / JsonValue: the one way JSON-bodied repository objects are read (config, index,
// manifests, WAL metadata, pins, drill records, locks, the cluster identity). Every accessor checks
// the JSON type and the integer range of the C++ field it fills and returns an ErrorCode::corrupt
// error naming the object, the structure and the field's path ("entries[3].size"); nothing throws
// and nothing narrows: -1 or 2^40 for a uint32 field, 3.5 for an integer, "7" for a number are all
// refused. Unknown fields are ignored (docs/repository-format.md, "Compatibility").
//
// Includes nlohmann/json: include this header from .cpp files only.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "util/error.hpp"
#include "util/time.hpp"

namespace lifeboat::repo {

class JsonValue;

// A parsed document. Values taken from it (root() and below) point into it: keep it alive and in
// place while they are used.
class JsonDocument {
  public:
    // Parses `text`; `object` (the key) and `structure` ("manifest", "index", ...) name it in
    // errors. Malformed JSON is ErrorCode::corrupt.
    static Result<JsonDocument> parse(std::string_view text, std::string_view object,
                                      std::string_view structure);
    // As parse(), but each element of the top-level array field `array` (a string literal) is
    // handed to `visit` as soon as it is parsed, as the value at "array[i]", and then dropped:
    // the document returned holds that array empty, so a manifest or index of millions of
    // values is never held whole. The first error `visit` returns is the result (later
    // elements are not visited).
    static Result<JsonDocument> parse_streaming(
        std::string_view text, std::string_view object, std::string_view structure,
        std::string_view array, const std::function<Status(const JsonValue&)>& visit);
    JsonValue root() const;

  private:
    struct State {
        nlohmann::json root;
        std::string object;
        std::string structure;
    };
    explicit JsonDocument(std::unique_ptr<State> state) : m_state(std::move(state)) {}
    std::unique_ptr<State> m_state;  // heap: values keep pointing at it when the document moves
};

// One past the `]` that closes the array opening at text[open] (which must be `[`), found by
// the brackets and strings alone (escapes inside strings respected, nothing else checked);
// nullopt when text[open] is not `[` or the array is not closed. For skipping, unparsed, an array
// a reader does not need (a manifest's entries when only its header is wanted): what it holds is
// not validated.
std::optional<std::size_t> end_of_array(std::string_view text, std::size_t open);

// One value in a document, with its path for messages. Field names passed to accessors must
// outlive the values made from them: pass string literals.
class JsonValue {
  public:
    // This value as T: std::string, bool, double, Timestamp (ISO 8601 text), or an integer type
    // (std::uint8_t, std::uint32_t, std::uint64_t, std::int64_t, int) whose whole range it must
    // fit.
    template <typename T>
    Result<T> as() const;
    // This value as the integer type T, within [min, max].
    template <typename T>
    Result<T> as_in(T min, T max) const;

    // The object field `name`: required (missing is an error), or absent -> nullopt.
    Result<JsonValue> field(std::string_view name) const;
    Result<std::optional<JsonValue>> optional_field(std::string_view name) const;

    template <typename T>
    Result<T> required(std::string_view name) const {
        return LB_TRY(field(name)).as<T>();
    }
    template <typename T>
    Result<T> required_in(std::string_view name, T min, T max) const {
        return LB_TRY(field(name)).as_in<T>(min, max);
    }
    // Absent -> `fallback`; present with another type -> error.
    template <typename T>
    Result<T> optional(std::string_view name, T fallback) const {
        auto value = LB_TRY(optional_field(name));
        if (!value) return fallback;
        return value->as<T>();
    }
    // Absent or null -> nullopt.
    template <typename T>
    Result<std::optional<T>> nullable(std::string_view name) const {
        auto value = LB_TRY(optional_field(name));
        if (!value || value->is_null()) return std::optional<T>();
        return std::optional<T>(LB_TRY(value->as<T>()));
    }

    // Element `index` of this array (`label` names it in messages, e.g. "offset").
    Result<JsonValue> element(std::size_t index, std::string_view label) const;
    template <typename T>
    Result<T> element_as(std::size_t index, std::string_view label) const {
        return LB_TRY(element(index, label)).as<T>();
    }

    // Calls `visit` (Status(const JsonValue&)) for each element of this array, stopping at the
    // first error. A template, not std::function: manifests hold millions of values.
    template <typename Visit>
    Status for_each(Visit&& visit) const {
        if (!m_value->is_array()) return std::unexpected(not_an_array());
        for (std::size_t i = 0; i < m_value->size(); ++i)
            LB_CHECK(visit(child(&(*m_value)[i], Segment{{}, i, true})));
        return {};
    }
    // ... of the array field `name` (required), or of an optional one (absent: no calls).
    template <typename Visit>
    Status for_each_in(std::string_view name, Visit&& visit) const {
        return LB_TRY(field(name)).for_each(visit);
    }
    template <typename Visit>
    Status for_each_in_optional(std::string_view name, Visit&& visit) const {
        auto value = LB_TRY(optional_field(name));
        if (!value) return {};
        return value->for_each(visit);
    }
    // The optional object field `name` whose values are all strings (absent: empty).
    Result<std::map<std::string, std::string>> optional_string_map(std::string_view name) const;

    bool is_null() const { return m_value->is_null(); }
    bool is_object() const { return m_value->is_object(); }

    // ErrorCode::corrupt naming this value: "<object>: malformed <structure>: <path>: <problem>".
    Error problem(std::string_view problem) const;

  private:
    friend class JsonDocument;
    struct Segment {
        std::string_view name;  // field name, or an element's label (may be empty)
        std::size_t index = 0;
        bool is_element = false;
    };
    static constexpr std::size_t k_max_depth = 6;  // the deepest format path is 5 (index blobs)

    JsonValue(const nlohmann::json* value, const std::string* object, const std::string* structure)
        : m_value(value), m_object(object), m_structure(structure) {}
    JsonValue child(const nlohmann::json* value, Segment segment) const;
    std::string path() const;
    Error not_an_array() const;
    Result<std::uint64_t> unsigned_in(std::uint64_t min, std::uint64_t max) const;
    Result<std::int64_t> signed_in(std::int64_t min, std::int64_t max) const;

    const nlohmann::json* m_value;
    const std::string* m_object;
    const std::string* m_structure;
    std::array<Segment, k_max_depth> m_path{};
    std::size_t m_depth = 0;
};

}  // namespace lifeboat::repo
