// Timeline history files ("00000002.history"): which timeline a timeline branched off, and
// where. PostgreSQL writes one at every promotion; recovery follows them to go from a backup's
// timeline onto a later one (docs/repository-format.md, "Timelines").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sources/postgres/wal.hpp"
#include "util/error.hpp"

namespace lifeboat::postgres {

// One line of a history file: timeline `timeline` ended at `switch_lsn`, where its child began.
struct TimelineSwitch {
    std::uint32_t timeline = 0;
    Lsn switch_lsn;
    std::string reason;  // free text ("before 2026-11-29 17:20:00.123+00", "no recovery target…")
};

// The history of one timeline: every ancestor, oldest first, each with the position where the
// next one branched off it. Timeline 1 (and any timeline without a history file) has none.
struct TimelineHistory {
    std::uint32_t timeline = 1;
    std::vector<TimelineSwitch> ancestors;

    std::optional<std::uint32_t> parent() const;
    // Whether `timeline` is this one or one of its ancestors.
    bool contains(std::uint32_t timeline) const;
    // Where `ancestor` stops being part of this history (nullopt: it is this timeline itself,
    // or not part of the history at all).
    std::optional<Lsn> end_of(std::uint32_t ancestor) const;
    // The first position of this timeline's own WAL (0 for a timeline without ancestors).
    Lsn begin() const;
};

// Parses the content of `<timeline>.history` as PostgreSQL's readTimeLineHistory does:
// "parentTLI <tab> X/X <tab> reason" per line, '#' comments and blank lines ignored. Refuses
// (ErrorCode::corrupt) what PostgreSQL would refuse or what cannot be a history: malformed lines,
// timeline ids not strictly increasing or not below `timeline`. Switch positions may go back,
// as PostgreSQL itself accepts (and can write).
Result<TimelineHistory> parse_timeline_history(std::uint32_t timeline, std::string_view text);

// The timeline a history file name is for ("0000000A.history" -> 10), nullopt for other names.
std::optional<std::uint32_t> timeline_of_history_file(std::string_view name);
// "0000000A.history".
std::string history_file_name(std::uint32_t timeline);

}  // namespace lifeboat::postgres
