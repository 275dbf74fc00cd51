// The disaster-recovery report's data: for each repository, what it holds (the catalog and its
// restorable window per timeline), what was proven (drills), how fresh its archive is and the
// retention in force. Gathered once; `report` renders it as Markdown or JSON, and
// render_report_html (engine/report_html.hpp) renders it as a page, for `report --format html`
// and the agent's status page alike.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "engine/catalog.hpp"
#include "engine/drill.hpp"
#include "engine/retention.hpp"
#include "util/time.hpp"

namespace lifeboat::engine {

struct RepositoryReport {
    std::string name;  // the configured name ("" when the repository was given by location)
    std::string location;
    Catalog catalog;
    std::vector<DrillRecord> drills;  // oldest first
    std::optional<Timestamp> newest_wal_pushed;
    std::string retention;                  // the policy in force, described
    std::size_t outside_retention = 0;      // backups the next expire would remove
    std::optional<double> backup_interval;  // median seconds between the last backups
};

struct Report {
    Timestamp generated;
    std::vector<RepositoryReport> repositories;
};

// Reads one repository's (opened once by the caller) catalog, drills and newest archived WAL, and
// applies `policy` at `now` to count what the next expire would remove. A damaged WAL segment's
// metadata is added to catalog.damaged (the RPO then comes from the newest readable segment) rather
// than failing.
Result<RepositoryReport> gather_repository_report(const repo::Repository& repository,
                                                  const std::string& name,
                                                  const std::string& location,
                                                  const RetentionPolicy& policy, Timestamp now);

}  // namespace lifeboat::engine
