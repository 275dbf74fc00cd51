// The updateDescription of a change event (MongoDB 4.0+, DocumentDB), parsed into paths, and
// applied to a whole document when the server's update operators cannot name its fields.
//
// A path is the list of its components: field names, and array positions as decimal text.
// Without disambiguatedPaths, an updatedFields/removedFields/truncatedArrays key is split at its
// dots, which is how the server reads it too ("a.2" is element 2 of an array a, or field "2" of
// a document a). With disambiguatedPaths (MongoDB 6.1+, for keys whose field names hold dots or
// look like positions), the components are the ones it lists.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sources/mongodb/bson.hpp"
#include "util/error.hpp"

namespace lifeboat::mongodb_driver {

using DocumentPath = std::vector<std::string>;

struct PathValue {
    DocumentPath path;
    mongodb::Bson value;  // {"v": <the value>}: the document owns the value's bytes
};

struct ArrayTruncation {
    DocumentPath path;
    std::uint64_t new_size = 0;
};

struct UpdateDescription {
    std::vector<PathValue> sets;       // updatedFields
    std::vector<DocumentPath> unsets;  // removedFields
    std::vector<ArrayTruncation> truncations;
    // A component holds a dot or starts with '$': no update operator can name that field, the
    // update must be applied to the whole document (apply_update_description).
    bool needs_whole_document = false;
};

// ErrorCode::corrupt when a part has the wrong type (updatedFields not a document, a
// truncatedArrays entry without field/newSize, a disambiguatedPaths entry not an array of
// names and positions).
Result<UpdateDescription> parse_update_description(const mongodb::Bson& description);

// The path as an update operator names it: its components joined with dots.
std::string dotted_path(const DocumentPath& path);

// Appends the value held by `holder` ({"v": value}) to `out` under `key`.
void append_held_value(bson_t* out, const std::string& key, const mongodb::Bson& holder);

// `document` with `update` applied as the server applies an update event: truncations, then
// removals, then sets. A set creates missing documents on its path and pads an array with nulls
// up to its position; a removal inside an array leaves null (as $unset does). A set through a
// value that is neither a document nor an array is ErrorCode::database (the server refuses it
// the same way).
Result<mongodb::Bson> apply_update_description(const mongodb::Bson& document,
                                               const UpdateDescription& update);

}  // namespace lifeboat::mongodb_driver
