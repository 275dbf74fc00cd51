#include "source/window.hpp"

#include <algorithm>

namespace lifeboat::source {

bool TimelineWindow::descends_from(std::uint32_t other) const {
    return std::find(ancestors.begin(), ancestors.end(), other) != ancestors.end();
}

const BackupReach* RestorableWindow::best_for(std::optional<Timestamp> target) const {
    const BackupReach* best = nullptr;
    for (const auto& b : backups) {
        if (!b.consistent) continue;
        if (target && !b.covers(*target)) continue;
        if (!best || best->from < b.from) best = &b;
    }
    return best;
}

const TimelineWindow* RestorableWindow::timeline(std::uint32_t id) const {
    for (const auto& t : timelines)
        if (t.timeline == id) return &t;
    return nullptr;
}

std::string RestorableWindow::describe() const {
    if (!earliest || !latest) return "empty";
    return format_iso8601(*earliest) + " .. " + format_iso8601(*latest);
}

void compute_span(const std::vector<BackupReach>& reaches, std::optional<Timestamp>& earliest,
                  std::optional<Timestamp>& latest) {
    earliest.reset();
    latest.reset();
    for (const auto& r : reaches)
        if (r.consistent && r.to && (!latest || *latest < *r.to)) latest = r.to;
    if (!latest) return;
    Timestamp start = *latest;
    for (bool grew = true; grew;) {
        grew = false;
        for (const auto& r : reaches) {
            if (r.to && *r.to >= start && r.from < start) {
                start = r.from;
                grew = true;
            }
        }
    }
    earliest = start;
}

}  // namespace lifeboat::source
