// Retention policies (docs/configuration.md, "Retention"): which backups `expire` keeps.
//
// A backup is kept when any rule keeps it (rules combine by union):
// - pinned: a pin in force;
// - window: point-in-time recovery must reach every moment of the last `window`, so every backup
//   that ends inside it is kept, plus the newest one that ends before it (the "anchor" that
//   recovery to the window's first moment starts from);
// - minimum: the newest `min_backups` backups;
// - grandfather-father-son: the newest backup of each of the newest `daily` days, `weekly` ISO
//   weeks, `monthly` months and `yearly` years that have a backup (calendar in UTC).
// Rules apply per source (system identifier): one source's backups never count for another's.
// Everything is a pure function of its inputs, so a test can simulate any calendar.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "util/time.hpp"

namespace lifeboat::engine {

struct RetentionPolicy {
    std::chrono::seconds window{7 * 86400};  // 0: no window rule
    unsigned min_backups = 1;
    unsigned daily = 0;
    unsigned weekly = 0;
    unsigned monthly = 0;
    unsigned yearly = 0;
    std::string describe() const;  // "window 7d, at least 1 backup, daily 7, weekly 4"
};

struct RetentionCandidate {
    std::string id;
    std::string source;  // system identifier
    Timestamp stop_time;
    bool pinned = false;  // a pin in force now
};

struct RetentionDecision {
    std::string id;
    bool keep = false;
    bool window_anchor = false;  // kept as the start of the recovery window
    std::vector<std::string>
        reasons;  // why kept: "pinned", "window", "newest 2", "daily 2026-11-26"
};

// Decisions in the order of `candidates`. `now` is on the same clock as the stop times.
std::vector<RetentionDecision> apply_retention(const std::vector<RetentionCandidate>& candidates,
                                               Timestamp now, const RetentionPolicy& policy);

// "7d", "36h", "90m", "0" (no window): the window setting.
Result<std::chrono::seconds> parse_window(std::string_view text);
std::string format_window(std::chrono::seconds window);

}  // namespace lifeboat::engine
