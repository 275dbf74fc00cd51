#include "sources/postgres/timeline_history.hpp"

#include <charconv>

#include <fmt/format.h>

namespace lifeboat::postgres {

std::optional<std::uint32_t> TimelineHistory::parent() const {
    if (ancestors.empty()) return std::nullopt;
    return ancestors.back().timeline;
}

bool TimelineHistory::contains(std::uint32_t id) const {
    if (id == timeline) return true;
    for (const auto& a : ancestors)
        if (a.timeline == id) return true;
    return false;
}

std::optional<Lsn> TimelineHistory::end_of(std::uint32_t ancestor) const {
    for (const auto& a : ancestors)
        if (a.timeline == ancestor) return a.switch_lsn;
    return std::nullopt;
}

Lsn TimelineHistory::begin() const {
    return ancestors.empty() ? Lsn{0} : ancestors.back().switch_lsn;
}

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

}  // namespace

Result<TimelineHistory> parse_timeline_history(std::uint32_t timeline, std::string_view text) {
    TimelineHistory history;
    history.timeline = timeline;
    std::size_t line_number = 0;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = trim(text.substr(start, end - start));
        start = end + 1;
        ++line_number;
        if (line.empty() || line.front() == '#') continue;
        auto bad = [&](std::string_view why) {
            return fail(ErrorCode::corrupt, "not a timeline history (timeline {}, line {}: {})",
                        timeline, line_number, why);
        };
        // "<decimal timeline> <white space> <hex>/<hex> [<white space> reason]"
        std::uint32_t parent = 0;
        const auto [after_id, ec] = std::from_chars(line.data(), line.data() + line.size(), parent);
        if (ec != std::errc() || after_id == line.data()) return bad("no timeline id");
        std::string_view rest(after_id,
                              static_cast<std::size_t>(line.data() + line.size() - after_id));
        if (rest.empty() || (rest.front() != '\t' && rest.front() != ' '))
            return bad("no switch position after the timeline id");
        rest = trim(rest);
        const std::size_t lsn_end = rest.find_first_of(" \t");
        const auto lsn = parse_lsn(rest.substr(0, lsn_end));
        if (!lsn) return bad("malformed switch position");
        const std::string_view reason =
            lsn_end == std::string_view::npos ? std::string_view() : trim(rest.substr(lsn_end));
        if (parent == 0 || parent >= timeline) {
            return bad(
                fmt::format("timeline {} cannot be an ancestor of timeline {}", parent, timeline));
        }
        if (!history.ancestors.empty()) {
            const auto& previous = history.ancestors.back();
            // As PostgreSQL's readTimeLineHistory: ids increase; switch positions are not checked
            // (the server does not either, and can write a history whose positions go back).
            if (parent <= previous.timeline) return bad("timeline ids must increase");
        }
        history.ancestors.push_back({parent, *lsn, std::string(reason)});
    }
    if (history.ancestors.empty() && timeline != 1) {
        return fail(ErrorCode::corrupt, "history of timeline {} names no parent timeline",
                    timeline);
    }
    return history;
}

std::optional<std::uint32_t> timeline_of_history_file(std::string_view name) {
    if (classify_wal_file(name) != WalFileKind::history) return std::nullopt;
    std::uint32_t id = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + 8, id, 16);
    if (ec != std::errc() || end != name.data() + 8 || id == 0) return std::nullopt;
    return id;
}

std::string history_file_name(std::uint32_t timeline) {
    return fmt::format("{:08X}.history", timeline);
}

}  // namespace lifeboat::postgres
