#include "drivers/mongodb/id_ranges.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace lifeboat::mongodb_driver {

namespace {

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) {
    return b == 0 ? 0 : a / b + (a % b != 0 ? 1 : 0);
}

// Appends `{<op>: <the _id of point>}` to `out` (an operator document being built).
void append_id_as(bson_t* out, const char* op, const mongodb::Bson& point) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, point.get(), "_id")) bson_append_iter(out, op, -1, &it);
}

}  // namespace

std::uint64_t range_count(std::uint64_t documents, std::uint64_t bytes,
                          const RangeThresholds& thresholds) {
    if (thresholds.split_bytes == 0 || documents < 2) return 1;
    std::uint64_t ranges = ceil_div(bytes, thresholds.split_bytes);
    if (thresholds.split_documents > 0)
        ranges = std::max(ranges, ceil_div(documents, thresholds.split_documents));
    return std::clamp<std::uint64_t>(ranges, 1, std::min(thresholds.max_ranges, documents));
}

IdBracket id_bracket(const bson_t& doc) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, &doc, "_id")) return IdBracket::unusable;
    switch (bson_iter_type(&it)) {
        case BSON_TYPE_INT32:
        case BSON_TYPE_INT64:
            return IdBracket::number;
        case BSON_TYPE_DOUBLE:
            // NaN sorts below every number but compares false with all of them.
            return std::isnan(bson_iter_double(&it)) ? IdBracket::unusable : IdBracket::number;
        case BSON_TYPE_DECIMAL128: {
            bson_decimal128_t value;
            char text[BSON_DECIMAL128_STRING];
            if (!bson_iter_decimal128(&it, &value)) return IdBracket::unusable;
            bson_decimal128_to_string(&value, text);
            return std::strstr(text, "NaN") ? IdBracket::unusable : IdBracket::number;
        }
        case BSON_TYPE_UTF8:
            return IdBracket::string;
        case BSON_TYPE_OID:
            return IdBracket::object_id;
        case BSON_TYPE_DATE_TIME:
            return IdBracket::date;
        case BSON_TYPE_BINARY:
            return IdBracket::binary;
        default:
            return IdBracket::unusable;
    }
}

std::vector<mongodb::Bson> range_filters(const std::vector<mongodb::Bson>& points) {
    std::vector<mongodb::Bson> out;
    if (points.empty()) {
        out.emplace_back();
        return out;
    }
    // G(p) as {$gte: p} and "not G(p)" as {$not: {$gte: p}} (not $lt: that would be a second
    // comparison whose agreement with $gte on odd values the partition would depend on).
    auto range = [&](const mongodb::Bson* low, const mongodb::Bson* high) {
        mongodb::Bson filter;
        bson_t id;
        BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "_id", &id);
        if (low) append_id_as(&id, "$gte", *low);
        if (high) {
            bson_t negated;
            BSON_APPEND_DOCUMENT_BEGIN(&id, "$not", &negated);
            append_id_as(&negated, "$gte", *high);
            bson_append_document_end(&id, &negated);
        }
        bson_append_document_end(filter.get(), &id);
        return filter;
    };
    out.push_back(range(nullptr, &points.front()));
    for (std::size_t i = 0; i + 1 < points.size(); ++i)
        out.push_back(range(&points[i], &points[i + 1]));
    out.push_back(range(&points.back(), nullptr));
    return out;
}

Result<IdRangePlan> plan_id_ranges(std::uint64_t ranges, std::uint64_t documents,
                                   const NextPointFn& next) {
    IdRangePlan plan;
    plan.stride = ranges > 1 ? ceil_div(documents, ranges) : documents;
    std::vector<mongodb::Bson> points;
    if (ranges > 1 && plan.stride > 0) {
        IdBracket bracket = IdBracket::unusable;
        while (points.size() + 1 < ranges) {
            auto point = LB_TRY(next(points.empty() ? nullptr : &points.back(), plan.stride));
            if (!point) break;
            const IdBracket b = id_bracket(*point->get());
            if (b == IdBracket::unusable || (!points.empty() && b != bracket)) break;
            bracket = b;
            points.push_back(std::move(*point));
        }
    }
    plan.filters = range_filters(points);
    if (points.empty()) plan.stride = documents;
    return plan;
}

}  // namespace lifeboat::mongodb_driver
