#include "drivers/mongodb/document_edit.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>

namespace lifeboat::mongodb_driver {

namespace {

using mongodb::Bson;

DocumentPath split_dotted(std::string_view key) {
    DocumentPath path;
    std::size_t start = 0;
    while (true) {
        const auto dot = key.find('.', start);
        path.emplace_back(key.substr(start, dot == std::string_view::npos ? dot : dot - start));
        if (dot == std::string_view::npos) return path;
        start = dot + 1;
    }
}

bool is_plain(const DocumentPath& path) {
    for (const auto& component : path)
        if (component.find('.') != std::string::npos || (!component.empty() && component[0] == '$'))
            return false;
    return true;
}

Bson sub_document(const bson_iter_t& it) {
    std::uint32_t length = 0;
    const std::uint8_t* data = nullptr;
    if (BSON_ITER_HOLDS_ARRAY(&it))
        bson_iter_array(&it, &length, &data);
    else
        bson_iter_document(&it, &length, &data);
    bson_t sub;
    if (!data || !bson_init_static(&sub, data, length)) return Bson();
    return Bson::copy_of(sub);
}

// The components disambiguatedPaths lists for each key it names.
Result<std::vector<std::pair<std::string, DocumentPath>>> disambiguated(const bson_t* description) {
    std::vector<std::pair<std::string, DocumentPath>> out;
    bson_iter_t it;
    if (!bson_iter_init_find(&it, description, "disambiguatedPaths")) return out;
    bson_iter_t entries;
    if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &entries))
        return fail(ErrorCode::corrupt, "updateDescription.disambiguatedPaths is not a document");
    while (bson_iter_next(&entries)) {
        bson_iter_t components;
        if (!BSON_ITER_HOLDS_ARRAY(&entries) || !bson_iter_recurse(&entries, &components))
            return fail(ErrorCode::corrupt, "disambiguatedPaths.{} is not an array",
                        bson_iter_key(&entries));
        DocumentPath path;
        while (bson_iter_next(&components)) {
            if (BSON_ITER_HOLDS_UTF8(&components))
                path.emplace_back(bson_iter_utf8(&components, nullptr));
            else if (BSON_ITER_HOLDS_INT(&components))
                path.push_back(std::to_string(bson_iter_as_int64(&components)));
            else
                return fail(ErrorCode::corrupt,
                            "disambiguatedPaths.{} holds something else than names and positions",
                            bson_iter_key(&entries));
        }
        out.emplace_back(bson_iter_key(&entries), std::move(path));
    }
    return out;
}

enum class EditKind { set, unset, truncate };

struct Edit {
    EditKind kind;
    const Bson* value = nullptr;  // set: {"v": value}
    std::uint64_t new_size = 0;   // truncate
};

enum class Container { document, array };

std::optional<std::uint64_t> position_of(std::string_view key) {
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), value);
    if (error != std::errc{} || end != key.data() + key.size() || key.empty()) return std::nullopt;
    return value;
}

void append_child(bson_t* out, const char* key, const Bson& child, Container container) {
    if (container == Container::array)
        bson_append_array(out, key, -1, child.get());
    else
        bson_append_document(out, key, -1, child.get());
}

// `in` (a document or an array's elements) with `edit` applied at path[depth..].
Result<Bson> rewrite(const bson_t* in, Container container, const DocumentPath& path,
                     std::size_t depth, const Edit& edit) {
    const std::string& key = path[depth];
    const bool last = depth + 1 == path.size();
    Bson out;
    bson_iter_t it;
    bool found = false;
    std::uint64_t count = 0;
    if (bson_iter_init(&it, in)) {
        while (bson_iter_next(&it)) {
            ++count;
            if (key != bson_iter_key(&it)) {
                bson_append_iter(out.get(), bson_iter_key(&it), -1, &it);
                continue;
            }
            found = true;
            const bool nested = BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it);
            const Container inner =
                BSON_ITER_HOLDS_ARRAY(&it) ? Container::array : Container::document;
            if (last && edit.kind == EditKind::set) {
                append_held_value(out.get(), key, *edit.value);
            } else if (last && edit.kind == EditKind::unset) {
                if (container == Container::array) bson_append_null(out.get(), key.c_str(), -1);
            } else if (last && inner == Container::array) {  // truncate
                const Bson elements = sub_document(it);
                Bson kept;
                bson_iter_t element;
                std::uint64_t index = 0;
                if (bson_iter_init(&element, elements.get())) {
                    while (index < edit.new_size && bson_iter_next(&element)) {
                        bson_append_iter(kept.get(), bson_iter_key(&element), -1, &element);
                        ++index;
                    }
                }
                bson_append_array(out.get(), key.c_str(), -1, kept.get());
            } else if (!last && nested) {
                const Bson sub = sub_document(it);
                const Bson child = LB_TRY(rewrite(sub.get(), inner, path, depth + 1, edit));
                append_child(out.get(), key.c_str(), child, inner);
            } else if (!last && edit.kind == EditKind::set) {
                return fail(ErrorCode::database, "cannot set '{}': '{}' is not a document",
                            dotted_path(path), key);
            } else {
                bson_append_iter(out.get(), key.c_str(), -1, &it);
            }
        }
    }
    if (found || edit.kind != EditKind::set) return out;
    if (container == Container::array) {
        const auto position = position_of(key);
        if (!position)
            return fail(ErrorCode::database, "cannot set '{}': '{}' is not an array position",
                        dotted_path(path), key);
        for (; count < *position; ++count)
            bson_append_null(out.get(), std::to_string(count).c_str(), -1);
    }
    if (last) {
        append_held_value(out.get(), key, *edit.value);
    } else {
        const Bson empty;
        const Bson child = LB_TRY(rewrite(empty.get(), Container::document, path, depth + 1, edit));
        append_child(out.get(), key.c_str(), child, Container::document);
    }
    return out;
}

}  // namespace

std::string dotted_path(const DocumentPath& path) {
    std::string out;
    for (const auto& component : path) {
        if (!out.empty()) out += '.';
        out += component;
    }
    return out;
}

void append_held_value(bson_t* out, const std::string& key, const Bson& holder) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, holder.get(), "v"))
        bson_append_iter(out, key.c_str(), static_cast<int>(key.size()), &it);
}

Result<UpdateDescription> parse_update_description(const Bson& description) {
    const bson_t* doc = description.get();
    const auto named = LB_TRY(disambiguated(doc));
    const auto path_of = [&](std::string_view key) {
        for (const auto& [name, path] : named)
            if (name == key) return path;
        return split_dotted(key);
    };
    UpdateDescription update;
    bson_iter_t it;
    bson_iter_t fields;
    if (bson_iter_init_find(&it, doc, "updatedFields")) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &fields))
            return fail(ErrorCode::corrupt, "updateDescription.updatedFields is not a document");
        while (bson_iter_next(&fields)) {
            Bson holder;
            bson_append_iter(holder.get(), "v", 1, &fields);
            update.sets.push_back(PathValue{path_of(bson_iter_key(&fields)), std::move(holder)});
        }
    }
    if (bson_iter_init_find(&it, doc, "removedFields")) {
        if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &fields))
            return fail(ErrorCode::corrupt, "updateDescription.removedFields is not an array");
        while (bson_iter_next(&fields)) {
            if (!BSON_ITER_HOLDS_UTF8(&fields))
                return fail(ErrorCode::corrupt, "updateDescription.removedFields holds a non-name");
            update.unsets.push_back(path_of(bson_iter_utf8(&fields, nullptr)));
        }
    }
    if (bson_iter_init_find(&it, doc, "truncatedArrays")) {
        if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &fields))
            return fail(ErrorCode::corrupt, "updateDescription.truncatedArrays is not an array");
        while (bson_iter_next(&fields)) {
            bson_iter_t entry;
            bson_iter_t field;
            bson_iter_t size;
            if (!BSON_ITER_HOLDS_DOCUMENT(&fields) || !bson_iter_recurse(&fields, &entry) ||
                !bson_iter_find_descendant(&entry, "field", &field) ||
                !BSON_ITER_HOLDS_UTF8(&field) || !bson_iter_recurse(&fields, &entry) ||
                !bson_iter_find_descendant(&entry, "newSize", &size) ||
                !BSON_ITER_HOLDS_NUMBER(&size) || bson_iter_as_int64(&size) < 0)
                return fail(ErrorCode::corrupt,
                            "a truncatedArrays entry is not {{field, newSize}}");
            update.truncations.push_back(
                ArrayTruncation{path_of(bson_iter_utf8(&field, nullptr)),
                                static_cast<std::uint64_t>(bson_iter_as_int64(&size))});
        }
    }
    const auto empty = [](const DocumentPath& path) { return path.empty(); };
    if (std::ranges::any_of(update.sets, empty, &PathValue::path) ||
        std::ranges::any_of(update.unsets, empty) ||
        std::ranges::any_of(update.truncations, empty, &ArrayTruncation::path))
        return fail(ErrorCode::corrupt, "an updateDescription names an empty path");
    for (const auto& set : update.sets)
        update.needs_whole_document |= !is_plain(set.path);
    for (const auto& path : update.unsets)
        update.needs_whole_document |= !is_plain(path);
    for (const auto& truncation : update.truncations)
        update.needs_whole_document |= !is_plain(truncation.path);
    return update;
}

Result<Bson> apply_update_description(const Bson& document, const UpdateDescription& update) {
    Bson current = document.clone();
    for (const auto& truncation : update.truncations) {
        const Edit edit{.kind = EditKind::truncate, .new_size = truncation.new_size};
        current = LB_TRY(rewrite(current.get(), Container::document, truncation.path, 0, edit));
    }
    for (const auto& path : update.unsets) {
        const Edit edit{.kind = EditKind::unset};
        current = LB_TRY(rewrite(current.get(), Container::document, path, 0, edit));
    }
    for (const auto& set : update.sets) {
        const Edit edit{.kind = EditKind::set, .value = &set.value};
        current = LB_TRY(rewrite(current.get(), Container::document, set.path, 0, edit));
    }
    return current;
}

}  // namespace lifeboat::mongodb_driver
