// The figures the agent shows, computed from a state snapshot: RPO, readiness, the alerts'
// values, the Prometheus exposition and the JSON status. Pure functions of the snapshot (and
// the thresholds), so scrapes cost no I/O and tests need no agent.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/config.hpp"
#include "agent/state.hpp"

namespace lifeboat::agent {

// Seconds the oldest unarchived change has waited (0 when the archive has everything).
double rpo_seconds(const SourceState& s, Timestamp now);

// Storage growth over the last 24 h (or the samples there are, at least an hour old, scaled
// to a day), as a percentage of the size then; nullopt when there is no such sample.
std::optional<double> growth_percent_per_day(const SourceState& s, Timestamp now);

// The RTO a restore to the end of the archive would take now: the last passing drill's fixed
// part plus the WAL since the newest backup at the drill's replay speed. nullopt until this
// agent has measured a drill.
std::optional<double> estimated_rto_seconds(const SourceState& s);

struct Readiness {
    std::string verdict;  // ready | at_risk | not_ready
    std::vector<std::string> reasons;
};
Readiness readiness(const SourceState& s, const AlertSettings& thresholds, Timestamp now);

// Every rule's current value for every source; `firing` set where the threshold is crossed.
std::vector<AlertStatus> evaluate_alerts(const StateSnapshot& snapshot,
                                         const AlertSettings& thresholds);

// The Prometheus text exposition (version 0.0.4).
std::string render_metrics(const StateSnapshot& snapshot, const AlertSettings& thresholds);

// GET /api/status: every figure of the page.
std::string status_json(const StateSnapshot& snapshot, const AlertSettings& thresholds);

}  // namespace lifeboat::agent
