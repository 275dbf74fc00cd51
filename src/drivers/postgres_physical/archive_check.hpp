// check: is WAL archiving working, end to end? Like pgBackRest's `check`: connects to the
// source, checks its archive settings, forces a WAL switch, waits until the segment just
// finished is stored in every repository WAL is archived to, and reads the archiver's own
// account of it (pg_stat_archiver).
//
// A broken archive is a finding, not an error: check_archive returns a report whose `problem`
// says, in one line, what is wrong and what to do. Errors are what stopped the check itself
// (a repository that cannot be opened, a server that cannot be reached or queried).
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "repository/keys.hpp"
#include "repository/repository.hpp"
#include "sources/postgres/archiver.hpp"
#include "util/operation_context.hpp"
#include "util/progress.hpp"

namespace lifeboat::postgres_physical {

struct ArchiveCheckRepository {
    std::string name;      // as configured, or the location when it has no name
    std::string location;  // as given to wal-push
};

struct ArchiveCheckOptions {
    std::string conninfo;
    // Every repository wal-push archives into (the primary first): the segment must reach all.
    std::vector<ArchiveCheckRepository> repositories;
    std::chrono::seconds timeout{60};  // how long to wait for the segment
    std::chrono::seconds pg_timeout{3600};
    // The archive_command to suggest when the server has none ("lifeboat wal-push %p --repo R").
    std::string suggested_archive_command;
};

struct ArchiveArrival {
    std::string name;
    std::string location;
    std::optional<double> seconds;  // after the switch; nullopt: it did not arrive
};

struct ArchiveCheckReport {
    int server_version = 0;
    postgres::ArchiveSettings settings;
    std::string segment;  // the segment the check switched to and waited for ("" if none)
    std::vector<ArchiveArrival> arrivals;
    std::optional<postgres::ArchiverStatus> archiver;  // as read at the end
    std::string problem;                               // "" when archiving works
    bool ok() const { return problem.empty(); }
};

// `repositories` are the opened repositories options.repositories names, in the same order.
Result<ArchiveCheckReport> check_archive(std::span<repo::Repository> repositories,
                                         const ArchiveCheckOptions& options,
                                         const OperationContext& ctx);

}  // namespace lifeboat::postgres_physical
