// How the base backup cuts a large collection into _id ranges dumped on parallel connections
// (docs/operations.md, "MongoDB and DocumentDB"). Pure planning: the queries that find split
// points are the caller's (NextPointFn), so the plan is tested without a server.
//
// A range is a find filter on _id. With split points p1 < p2 < ... < pn (all of one comparison
// bracket: numbers, strings, ObjectIds, dates or binary) and G(p) = {_id: {$gte: p}}:
//   range 0      {_id: {$not: {$gte: p1}}}             everything not G(p1)
//   range i      {_id: {$gte: pi, $not: {$gte: pi+1}}}  G(pi) and not G(pi+1)
//   range n      {_id: {$gte: pn}}                      G(pn)
// Because G(pi+1) implies G(pi), every document matches exactly one range, whatever its _id's
// type: a query operator only compares values of its own bracket, so an _id of another type
// (null, a boolean, a document, ...) is never G(p) and lands in range 0. The ranges follow one
// another in the server's BSON order within the points' bracket; only range 0 also holds the
// other brackets.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "sources/mongodb/bson.hpp"
#include "util/error.hpp"

namespace lifeboat::mongodb_driver {

// A collection with more documents than this is split too (besides the byte threshold,
// BaseBackupRequest::split_table_bytes): ranges of at most about this many documents.
inline constexpr std::uint64_t k_split_documents = 1'000'000;
// At most this many ranges per collection (each split point costs one query).
inline constexpr std::uint64_t k_max_id_ranges = 1024;

struct RangeThresholds {
    std::uint64_t split_bytes = 0;  // 0: never split
    std::uint64_t split_documents = k_split_documents;
    std::uint64_t max_ranges = k_max_id_ranges;
};

// How many ranges a collection of `documents` documents and `bytes` bytes of data (collStats
// `size`, 0 when unknown) is dumped in: ceil(bytes / split_bytes) or ceil(documents /
// split_documents), the larger, within 1 .. max_ranges, and never more ranges than documents.
// 1 when split_bytes is 0.
std::uint64_t range_count(std::uint64_t documents, std::uint64_t bytes,
                          const RangeThresholds& thresholds);

// The comparison brackets a split point may come from: the types whose $gte compares values in
// the server's sort order. Everything else (null, booleans, documents, regular expressions,
// NaN, MinKey/MaxKey, ...) is `unusable`.
enum class IdBracket { unusable, number, string, object_id, date, binary };
// The bracket of `doc`'s _id (`unusable` without an _id).
IdBracket id_bracket(const bson_t& doc);

// Asked for a split point: the {_id: ...} of the document `skip` places after `after` (`after`
// itself at 0) in _id order among those with G(after), or `skip` places from the first document
// of the collection when `after` is nullptr; std::nullopt when there is no such document.
using NextPointFn = std::function<Result<std::optional<mongodb::Bson>>(const mongodb::Bson* after,
                                                                       std::uint64_t skip)>;

struct IdRangePlan {
    std::vector<mongodb::Bson> filters;  // one find filter per range, in _id order
    // Planned documents per range: range i starts about i * stride documents into the
    // collection (how its sample positions are numbered).
    std::uint64_t stride = 0;
};

// Plans `ranges` ranges of a collection of `documents` documents: split points every
// ceil(documents / ranges) documents, asked of `next` one after another. Planning stops early
// (fewer ranges) at the end of the collection, or at a point that is `unusable` or of another
// bracket than the first. One range (filter {}) when `ranges` is 1 or no point qualifies.
Result<IdRangePlan> plan_id_ranges(std::uint64_t ranges, std::uint64_t documents,
                                   const NextPointFn& next);

// The filters of the ranges cut by `points` (each {_id: value}, increasing): points.size() + 1
// filters as described at the top; {} alone when there are no points.
std::vector<mongodb::Bson> range_filters(const std::vector<mongodb::Bson>& points);

}  // namespace lifeboat::mongodb_driver
