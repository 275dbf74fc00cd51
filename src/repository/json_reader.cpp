#include "repository/json_reader.hpp"

#include "util/exceptions.hpp"

#include <cstring>
#include <limits>
#include <type_traits>

namespace lifeboat::repo {

using nlohmann::json;

namespace {

// The error for text the parser refused: a second pass with exceptions only words the message,
// so nothing escapes the callers.
std::unexpected<Error> malformed(std::string_view text, std::string_view object,
                                 std::string_view structure) {
    std::string why = "not valid JSON";
    try {
        [[maybe_unused]] const json reparsed = json::parse(text);
    } catch (const json::exception& e) {
        why = e.what();
    }
    return fail(ErrorCode::corrupt, "{}: malformed {}: {}", object, structure, why);
}

}  // namespace

std::optional<std::size_t> end_of_array(std::string_view text, std::size_t open) {
    if (open >= text.size() || text[open] != '[') return std::nullopt;
    std::size_t depth = 0;
    for (std::size_t i = open; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '"') {
            // To the closing quote: the next one not escaped (preceded by an even number of
            // backslashes). memchr: block ids make most of a manifest's text strings.
            for (std::size_t from = i + 1;;) {
                const void* found = std::memchr(text.data() + from, '"', text.size() - from);
                if (found == nullptr) return std::nullopt;
                const auto quote =
                    static_cast<std::size_t>(static_cast<const char*>(found) - text.data());
                std::size_t backslashes = 0;
                while (quote - backslashes > i + 1 && text[quote - backslashes - 1] == '\\')
                    ++backslashes;
                from = quote + 1;
                if (backslashes % 2 == 0) {
                    i = quote;
                    break;
                }
            }
        } else if (c == '[' || c == '{') {
            ++depth;
        } else if (c == ']' || c == '}') {
            if (--depth == 0) {
                if (c != ']') return std::nullopt;
                return i + 1;
            }
        }
    }
    return std::nullopt;
}

Result<JsonDocument> JsonDocument::parse(std::string_view text, std::string_view object,
                                         std::string_view structure) {
    auto state = std::make_unique<State>();
    state->object = object;
    state->structure = structure;
    // The parser reports malformed text through its return value here (allow_exceptions false).
    state->root = json::parse(text, nullptr, false);
    if (state->root.is_discarded()) return malformed(text, object, structure);
    return JsonDocument(std::move(state));
}

Result<JsonDocument> JsonDocument::parse_streaming(
    std::string_view text, std::string_view object, std::string_view structure,
    std::string_view array, const std::function<Status(const JsonValue&)>& visit) {
    auto state = std::make_unique<State>();
    state->object = object;
    state->structure = structure;
    const JsonValue root(nullptr, &state->object, &state->structure);
    std::string key;        // the last key of the root object
    bool in_array = false;  // inside the root's `array` field
    std::size_t index = 0;
    Status status;
    // The parser reports depth 1 for the root's keys and for the start and end of their values,
    // depth 2 for the elements of those values.
    const json::parser_callback_t keep = [&](int depth, json::parse_event_t event,
                                             json& parsed) -> bool {
        using Event = json::parse_event_t;
        if (depth == 1) {
            if (event == Event::key) key = parsed.get<std::string>();
            if (event == Event::array_start) in_array = key == array;
            if (event == Event::array_end) in_array = false;
            return true;
        }
        if (depth != 2 || !in_array ||
            (event != Event::object_end && event != Event::array_end && event != Event::value))
            return true;
        if (status) {
            const JsonValue element = root.child(&parsed, JsonValue::Segment{array, 0, false})
                                          .child(&parsed, JsonValue::Segment{{}, index, true});
            status = call_catching_exceptions([&] { return visit(element); });
        }
        ++index;
        return false;  // handed over: not kept in the document
    };
    state->root = json::parse(text, keep, false);
    if (state->root.is_discarded()) return malformed(text, object, structure);
    if (!status) return std::unexpected(status.error());
    return JsonDocument(std::move(state));
}

JsonValue JsonDocument::root() const {
    return JsonValue(&m_state->root, &m_state->object, &m_state->structure);
}

namespace {

std::string describe(const json& value) {
    switch (value.type()) {
        case json::value_t::null:
            return "null";
        case json::value_t::boolean:
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
        case json::value_t::number_float:
            return value.dump();
        case json::value_t::string:
            return "a string";
        case json::value_t::array:
            return "an array";
        case json::value_t::object:
            return "an object";
        default:
            return "another JSON type";
    }
}

}  // namespace

JsonValue JsonValue::child(const json* value, Segment segment) const {
    JsonValue out = *this;
    out.m_value = value;
    // Deeper than any format nests: the path keeps its first levels (messages only).
    if (out.m_depth < k_max_depth) out.m_path[out.m_depth++] = segment;
    return out;
}

std::string JsonValue::path() const {
    if (m_depth == 0) return "the document";
    std::string out;
    std::string_view label;
    for (std::size_t i = 0; i < m_depth; ++i) {
        const Segment& s = m_path[i];
        if (s.is_element) {
            out += fmt::format("[{}]", s.index);
            label = s.name;
        } else {
            if (!out.empty()) out += '.';
            out += s.name;
            label = {};
        }
    }
    if (!label.empty()) out += fmt::format(" ({})", label);
    return out;
}

Error JsonValue::problem(std::string_view problem) const {
    return Error{ErrorCode::corrupt,
                 fmt::format("{}: malformed {}: {}: {}", *m_object, *m_structure, path(), problem)};
}

Result<JsonValue> JsonValue::field(std::string_view name) const {
    auto value = LB_TRY(optional_field(name));
    if (!value) {
        return std::unexpected(child(m_value, Segment{name}).problem("required field missing"));
    }
    return *value;
}

Result<std::optional<JsonValue>> JsonValue::optional_field(std::string_view name) const {
    if (!m_value->is_object()) {
        return std::unexpected(
            problem(fmt::format("expected an object, found {}", describe(*m_value))));
    }
    const auto it = m_value->find(name);
    if (it == m_value->end()) return std::optional<JsonValue>();
    return std::optional<JsonValue>(child(&*it, Segment{name}));
}

Result<JsonValue> JsonValue::element(std::size_t index, std::string_view label) const {
    if (!m_value->is_array()) {
        return std::unexpected(
            problem(fmt::format("expected an array, found {}", describe(*m_value))));
    }
    if (index >= m_value->size()) {
        return std::unexpected(
            child(m_value, Segment{label, index, true})
                .problem(fmt::format("missing (the array has {} elements)", m_value->size())));
    }
    return child(&(*m_value)[index], Segment{label, index, true});
}

Error JsonValue::not_an_array() const {
    return problem(fmt::format("expected an array, found {}", describe(*m_value)));
}

Result<std::map<std::string, std::string>> JsonValue::optional_string_map(
    std::string_view name) const {
    std::map<std::string, std::string> out;
    auto value = LB_TRY(optional_field(name));
    if (!value) return out;
    if (!value->m_value->is_object()) {
        return std::unexpected(
            value->problem(fmt::format("expected an object, found {}", describe(*value->m_value))));
    }
    for (const auto& [key, item] : value->m_value->items()) {
        const JsonValue v = value->child(&item, Segment{key});
        // `key` lives in the document, so the segment may point at it.
        out.emplace(key, LB_TRY(v.as<std::string>()));
    }
    return out;
}

Result<std::uint64_t> JsonValue::unsigned_in(std::uint64_t min, std::uint64_t max) const {
    const auto out_of_range = [&] {
        return std::unexpected(problem(
            fmt::format("expected an integer in {}..{}, found {}", min, max, describe(*m_value))));
    };
    if (m_value->is_number_unsigned()) {
        const auto v = m_value->get<std::uint64_t>();
        if (v < min || v > max) return out_of_range();
        return v;
    }
    if (m_value->is_number_integer()) {  // signed: only negative values are stored so
        const auto v = m_value->get<std::int64_t>();
        if (v < 0 || static_cast<std::uint64_t>(v) < min || static_cast<std::uint64_t>(v) > max)
            return out_of_range();
        return static_cast<std::uint64_t>(v);
    }
    return out_of_range();
}

Result<std::int64_t> JsonValue::signed_in(std::int64_t min, std::int64_t max) const {
    const auto out_of_range = [&] {
        return std::unexpected(problem(
            fmt::format("expected an integer in {}..{}, found {}", min, max, describe(*m_value))));
    };
    if (m_value->is_number_unsigned()) {
        const auto v = m_value->get<std::uint64_t>();
        if (max < 0 || v > static_cast<std::uint64_t>(max) || static_cast<std::int64_t>(v) < min) {
            return out_of_range();
        }
        return static_cast<std::int64_t>(v);
    }
    if (m_value->is_number_integer()) {
        const auto v = m_value->get<std::int64_t>();
        if (v < min || v > max) return out_of_range();
        return v;
    }
    return out_of_range();
}

template <typename T>
Result<T> JsonValue::as_in(T min, T max) const {
    static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
    if constexpr (std::is_unsigned_v<T>) {
        return static_cast<T>(LB_TRY(unsigned_in(min, max)));
    } else {
        return static_cast<T>(LB_TRY(signed_in(min, max)));
    }
}

template <typename T>
Result<T> JsonValue::as() const {
    if constexpr (std::is_same_v<T, std::string>) {
        if (!m_value->is_string()) {
            return std::unexpected(
                problem(fmt::format("expected a string, found {}", describe(*m_value))));
        }
        return m_value->get<std::string>();
    } else if constexpr (std::is_same_v<T, bool>) {
        if (!m_value->is_boolean()) {
            return std::unexpected(
                problem(fmt::format("expected true or false, found {}", describe(*m_value))));
        }
        return m_value->get<bool>();
    } else if constexpr (std::is_same_v<T, double>) {
        if (!m_value->is_number()) {
            return std::unexpected(
                problem(fmt::format("expected a number, found {}", describe(*m_value))));
        }
        return m_value->get<double>();
    } else if constexpr (std::is_same_v<T, Timestamp>) {
        const std::string text = LB_TRY(as<std::string>());
        auto time = parse_iso8601(text);
        if (!time) return std::unexpected(problem(time.error().message));
        return *time;
    } else {
        return as_in<T>(std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
    }
}

template Result<std::string> JsonValue::as<std::string>() const;
template Result<bool> JsonValue::as<bool>() const;
template Result<double> JsonValue::as<double>() const;
template Result<Timestamp> JsonValue::as<Timestamp>() const;
template Result<std::uint8_t> JsonValue::as<std::uint8_t>() const;
template Result<std::uint32_t> JsonValue::as<std::uint32_t>() const;
template Result<std::uint64_t> JsonValue::as<std::uint64_t>() const;
template Result<std::int64_t> JsonValue::as<std::int64_t>() const;
template Result<int> JsonValue::as<int>() const;
template Result<std::uint8_t> JsonValue::as_in(std::uint8_t, std::uint8_t) const;
template Result<std::uint32_t> JsonValue::as_in(std::uint32_t, std::uint32_t) const;
template Result<std::uint64_t> JsonValue::as_in(std::uint64_t, std::uint64_t) const;
template Result<std::int64_t> JsonValue::as_in(std::int64_t, std::int64_t) const;
template Result<int> JsonValue::as_in(int, int) const;

}  // namespace lifeboat::repo
