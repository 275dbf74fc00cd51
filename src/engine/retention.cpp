#include "engine/retention.hpp"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include <fmt/format.h>

#include "util/time.hpp"

namespace lifeboat::engine {

namespace {

constexpr std::int64_t k_micros_per_day = 86400LL * 1000000;

std::chrono::sys_days day_of(Timestamp t) {
    std::int64_t days = t.micros / k_micros_per_day;
    if (t.micros < 0 && t.micros % k_micros_per_day != 0) --days;
    return std::chrono::sys_days(std::chrono::days(days));
}

struct Period {
    const char* name;
    unsigned count;
    std::string (*bucket)(std::chrono::sys_days);
};

std::string day_bucket(std::chrono::sys_days d) {
    const std::chrono::year_month_day ymd(d);
    return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()),
                       static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

// ISO 8601 week: weeks start on Monday and belong to the year of their Thursday.
std::string week_bucket(std::chrono::sys_days d) {
    const unsigned iso_weekday = std::chrono::weekday(d).iso_encoding();  // Monday = 1
    const std::chrono::sys_days thursday =
        d - std::chrono::days(iso_weekday - 1) + std::chrono::days(3);
    const std::chrono::year year = std::chrono::year_month_day(thursday).year();
    const std::chrono::sys_days jan1 = std::chrono::year_month_day(year / std::chrono::January / 1);
    const auto week = (thursday - jan1).count() / 7 + 1;
    return fmt::format("{:04}-W{:02}", static_cast<int>(year), week);
}

std::string month_bucket(std::chrono::sys_days d) {
    const std::chrono::year_month_day ymd(d);
    return fmt::format("{:04}-{:02}", static_cast<int>(ymd.year()),
                       static_cast<unsigned>(ymd.month()));
}

std::string year_bucket(std::chrono::sys_days d) {
    return fmt::format("{:04}", static_cast<int>(std::chrono::year_month_day(d).year()));
}

void keep(RetentionDecision& d, std::string reason) {
    d.keep = true;
    d.reasons.push_back(std::move(reason));
}

}  // namespace

std::string format_window(std::chrono::seconds window) {
    const auto s = window.count();
    if (s == 0) return "0";
    if (s % 86400 == 0) return fmt::format("{}d", s / 86400);
    if (s % 3600 == 0) return fmt::format("{}h", s / 3600);
    if (s % 60 == 0) return fmt::format("{}m", s / 60);
    return fmt::format("{}s", s);
}

Result<std::chrono::seconds> parse_window(std::string_view text) {
    if (text == "0") return std::chrono::seconds(0);
    return parse_duration(text);
}

std::string RetentionPolicy::describe() const {
    std::string out =
        window.count() ? fmt::format("window {}", format_window(window)) : "no window";
    out += fmt::format(", at least {} backup{}", min_backups, min_backups == 1 ? "" : "s");
    const std::pair<const char*, unsigned> gfs[] = {
        {"daily", daily}, {"weekly", weekly}, {"monthly", monthly}, {"yearly", yearly}};
    for (const auto& [name, count] : gfs)
        if (count) out += fmt::format(", {} {}", name, count);
    return out;
}

std::vector<RetentionDecision> apply_retention(const std::vector<RetentionCandidate>& candidates,
                                               Timestamp now, const RetentionPolicy& policy) {
    std::vector<RetentionDecision> decisions(candidates.size());
    std::map<std::string, std::vector<std::size_t>> by_source;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        decisions[i].id = candidates[i].id;
        by_source[candidates[i].source].push_back(i);
    }
    const Timestamp boundary{now.micros - std::chrono::microseconds(policy.window).count()};
    const Period periods[] = {{"daily", policy.daily, day_bucket},
                              {"weekly", policy.weekly, week_bucket},
                              {"monthly", policy.monthly, month_bucket},
                              {"yearly", policy.yearly, year_bucket}};
    for (auto& [source, order] : by_source) {
        // Newest first; ties broken by id so the outcome never depends on input order.
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            if (candidates[a].stop_time != candidates[b].stop_time)
                return candidates[a].stop_time > candidates[b].stop_time;
            return candidates[a].id > candidates[b].id;
        });
        for (std::size_t rank = 0; rank < order.size(); ++rank) {
            const auto& c = candidates[order[rank]];
            auto& d = decisions[order[rank]];
            if (c.pinned) keep(d, "pinned");
            if (rank < policy.min_backups) keep(d, fmt::format("newest {}", policy.min_backups));
        }
        if (policy.window.count() > 0) {
            for (std::size_t rank = 0; rank < order.size(); ++rank) {
                const auto& c = candidates[order[rank]];
                auto& d = decisions[order[rank]];
                if (c.stop_time > boundary) {
                    keep(d, "window");
                } else {
                    keep(d, "window start");  // the newest backup before the window
                    d.window_anchor = true;
                    break;
                }
            }
        }
        for (const auto& period : periods) {
            if (period.count == 0) continue;
            std::set<std::string> seen;
            for (std::size_t i : order) {
                const std::string bucket = period.bucket(day_of(candidates[i].stop_time));
                if (seen.count(bucket)) continue;
                if (seen.size() == period.count) break;
                seen.insert(bucket);
                keep(decisions[i], fmt::format("{} {}", period.name, bucket));
            }
        }
    }
    return decisions;
}

}  // namespace lifeboat::engine
