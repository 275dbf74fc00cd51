#include "drivers/mongodb/change_log.hpp"
#include "util/endian.hpp"

#include <fmt/format.h>

#include <map>

#include "sources/mongodb/bson.hpp"

namespace lifeboat::mongodb_driver {

namespace {

constexpr std::size_t k_record_header = 1 + 8 + 8 + 4;
constexpr std::string_view k_gap_suffix = ".gap";

bool is_known_kind(std::uint8_t kind) {
    return kind == static_cast<std::uint8_t>(ChangeRecordKind::session_start) ||
           kind == static_cast<std::uint8_t>(ChangeRecordKind::event) ||
           kind == static_cast<std::uint8_t>(ChangeRecordKind::resume_token) ||
           kind == static_cast<std::uint8_t>(ChangeRecordKind::gap);
}

int hex_digit(char c, char ten) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= ten && c <= ten + 5) return c - ten + 10;
    return -1;
}

// Upper case only in names: one spelling per position.
std::optional<std::uint64_t> parse_hex16(std::string_view text) {
    if (text.size() != 16) return std::nullopt;
    std::uint64_t value = 0;
    for (char c : text) {
        const int digit = hex_digit(c, 'A');
        if (digit < 0) return std::nullopt;
        value = (value << 4) | static_cast<std::uint64_t>(digit);
    }
    return value;
}

}  // namespace

ChangeLogWriter::ChangeLogWriter() {
    m_content.append(k_change_log_magic);
    m_content.push_back(static_cast<char>(k_change_log_version));
}

void ChangeLogWriter::add(ChangeRecordKind kind, std::uint64_t cluster_time, std::int64_t wall_ms,
                          std::string_view payload) {
    m_content.push_back(static_cast<char>(kind));
    put_be(m_content, cluster_time, 8);
    put_be(m_content, static_cast<std::uint64_t>(wall_ms), 8);
    put_be(m_content, payload.size(), 4);
    m_content.append(payload);
    ++m_records;
}

std::string ChangeLogWriter::take() {
    std::string content = std::move(m_content);
    *this = ChangeLogWriter();
    return content;
}

Result<std::vector<ChangeRecordView>> read_change_log(std::string_view content,
                                                      std::string_view name) {
    const std::size_t header = k_change_log_magic.size() + 1;
    if (content.size() < header ||
        content.substr(0, k_change_log_magic.size()) != k_change_log_magic)
        return fail(ErrorCode::corrupt, "{}: not a mongodb change log (bad magic)", name);
    const auto version = static_cast<std::uint8_t>(content[k_change_log_magic.size()]);
    if (version != k_change_log_version) {
        return fail(ErrorCode::corrupt,
                    "{}: change log version {} is unknown to this Lifeboat (it reads {})", name,
                    version, k_change_log_version);
    }
    std::vector<ChangeRecordView> records;
    std::size_t at = header;
    while (at < content.size()) {
        if (content.size() - at < k_record_header)
            return fail(ErrorCode::corrupt, "{}: truncated record header at byte {}", name, at);
        const auto kind = static_cast<std::uint8_t>(content[at]);
        if (!is_known_kind(kind))
            return fail(ErrorCode::corrupt, "{}: unknown record kind {} at byte {}", name, kind,
                        at);
        const std::uint64_t cluster_time = get_be(content, at + 1, 8);
        const auto wall_ms = static_cast<std::int64_t>(get_be(content, at + 9, 8));
        const std::uint64_t length = get_be(content, at + 17, 4);
        at += k_record_header;
        if (length > content.size() - at) {
            return fail(ErrorCode::corrupt, "{}: record of {} bytes runs past the end at byte {}",
                        name, length, at);
        }
        records.push_back({static_cast<ChangeRecordKind>(kind), cluster_time, wall_ms,
                           content.substr(at, length)});
        at += length;
    }
    return records;
}

std::string change_log_object_name(const ChangeLogSpan& span) {
    if (span.kind == SpanKind::gap)
        return fmt::format("{}{:016X}-{:016X}{}", k_change_log_prefix, span.start, span.start,
                           k_gap_suffix);
    return fmt::format("{}{:016X}-{:016X}", k_change_log_prefix, span.start, span.end);
}

std::optional<ChangeLogSpan> parse_change_log_object_name(std::string_view name) {
    if (!name.starts_with(k_change_log_prefix)) return std::nullopt;
    name.remove_prefix(k_change_log_prefix.size());
    SpanKind kind = SpanKind::events;
    if (name.ends_with(k_gap_suffix)) {
        kind = SpanKind::gap;
        name.remove_suffix(k_gap_suffix.size());
    }
    if (name.size() != 33 || name[16] != '-') return std::nullopt;
    const auto start = parse_hex16(name.substr(0, 16));
    const auto end = parse_hex16(name.substr(17));
    if (!start || !end || *end < *start) return std::nullopt;
    if (kind == SpanKind::gap && *end != *start) return std::nullopt;
    return ChangeLogSpan{*start, *end, kind};
}

std::string format_cluster_time(std::uint64_t position) {
    return fmt::format("{}.{}", position >> 32, position & 0xffffffffu);
}

Timestamp event_time(std::uint64_t cluster_time, std::int64_t wall_ms) {
    std::int64_t micros = 0;
    if (wall_ms > 0) {  // read from a log object: saturate instead of overflowing on damage
        return Timestamp{__builtin_mul_overflow(wall_ms, 1000, &micros) ? INT64_MAX : micros};
    }
    return Timestamp{static_cast<std::int64_t>(cluster_time >> 32) * 1000000};
}

std::optional<std::uint64_t> resume_token_position(std::string_view token_json) {
    auto token = mongodb::Bson::from_json(token_json);
    if (!token) return std::nullopt;
    bson_iter_t it;
    if (!bson_iter_init_find(&it, token->get(), "_data") || !BSON_ITER_HOLDS_UTF8(&it))
        return std::nullopt;
    const std::string_view data = bson_iter_utf8(&it, nullptr);
    // KeyString: 0x82 is the type byte of a timestamp, then its 8 bytes.
    if (data.size() < 18 || (data.substr(0, 2) != "82")) return std::nullopt;
    std::uint64_t value = 0;
    for (char c : data.substr(2, 16)) {
        int digit = hex_digit(c, 'A');
        if (digit < 0) digit = hex_digit(c, 'a');
        if (digit < 0) return std::nullopt;
        value = (value << 4) | static_cast<std::uint64_t>(digit);
    }
    return value;
}

ChainRun follow_chain(const std::vector<std::string>& names, std::uint64_t from) {
    // start -> the object reaching furthest from it; objects without a span (start == end: all
    // their events at one cluster time) and gaps apart.
    struct Object {
        std::uint64_t end = 0;
        std::string name;
    };
    std::map<std::uint64_t, Object> by_start;
    std::map<std::uint64_t, std::string> at_point;
    std::map<std::uint64_t, std::string> gaps;
    for (const auto& name : names) {
        const auto span = parse_change_log_object_name(name);
        if (!span) continue;
        if (span->kind == SpanKind::gap) {
            gaps.emplace(span->start, name);
        } else if (span->end == span->start) {
            at_point.emplace(span->start, name);
        } else {
            auto [it, inserted] = by_start.try_emplace(span->start, Object{span->end, name});
            if (!inserted && span->end > it->second.end) it->second = {span->end, name};
        }
    }
    ChainRun run;
    std::uint64_t at = from;
    auto next = by_start.find(at);
    if (next == by_start.end() && !at_point.contains(at) && !gaps.contains(at)) {
        // An object of an earlier session covering the point: its events after `from` continue
        // the backup.
        for (auto it = by_start.begin(); it != by_start.end() && it->first < from; ++it) {
            if (it->second.end > from &&
                (next == by_start.end() || it->second.end > next->second.end))
                next = it;
        }
    }
    for (;;) {
        if (auto point = at_point.find(at); point != at_point.end()) {
            run.objects.push_back(point->second);
            at_point.erase(point);  // followed once
        }
        if (auto gap = gaps.find(at); gap != gaps.end()) {
            run.objects.push_back(gap->second);
            run.lost = true;
            break;
        }
        if (next == by_start.end()) break;
        run.objects.push_back(next->second.name);
        at = next->second.end;
        next = by_start.find(at);
    }
    run.end = at;
    if (!run.lost)
        run.hole = by_start.upper_bound(at) != by_start.end() ||
                   at_point.upper_bound(at) != at_point.end() || gaps.upper_bound(at) != gaps.end();
    return run;
}

}  // namespace lifeboat::mongodb_driver
