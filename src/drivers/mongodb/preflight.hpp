// What a mongodb source offers a backup, and what it lacks (`lifeboat mongo-preflight`, and the
// warnings of every mongodb backup): reachable, a replica set or not, change streams available
// or not (with the command that enables them on DocumentDB), the privileges a backup needs, and
// the change-stream history the server keeps when it tells.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "sources/mongodb/client.hpp"
#include "util/error.hpp"

namespace lifeboat::mongodb_driver {

// The command that enables change streams on every collection of an Amazon DocumentDB cluster.
inline constexpr std::string_view k_documentdb_enable_change_streams =
    R"(db.adminCommand({modifyChangeStreams: 1, database: "", collection: "", enable: true}))";

struct PreflightReport {
    std::string server_version;   // buildInfo's version ("" when not told)
    std::string replica_set;      // hello's setName ("" when not a replica set)
    bool documentdb = false;      // the server says it is Amazon DocumentDB
    bool change_streams = false;  // an aggregate with $changeStream was accepted
    // How far back the change-stream history reaches: the oplog's oldest entry (MongoDB, a role
    // that may read `local`); nullopt when the server does not tell (DocumentDB).
    std::optional<double> history_seconds;
    std::vector<std::string> problems;  // what stops change capture (a backup still runs)
    std::vector<std::string> notes;     // what a person should know

    bool ok() const { return problems.empty(); }
};

// Asks the server behind `client` (hello, buildInfo, connectionStatus, a $changeStream
// aggregate whose cursor is closed at once). Errors only when the server stops answering.
Result<PreflightReport> preflight(const mongodb::Client& client);

}  // namespace lifeboat::mongodb_driver
