#include "drivers/mongodb/preflight.hpp"

#include <algorithm>
#include <set>

#include "sources/mongodb/change_stream.hpp"
#include "util/time.hpp"

namespace lifeboat::mongodb_driver {

namespace {

std::string string_field(const mongodb::Bson& doc, const char* name) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc.get(), name) && BSON_ITER_HOLDS_UTF8(&it))
        return bson_iter_utf8(&it, nullptr);
    return {};
}

// The actions the authenticated users hold on any resource (connectionStatus with
// showPrivileges): a backup needs to read everything, a capture to open change streams.
std::set<std::string> granted_actions(const mongodb::Bson& status) {
    std::set<std::string> actions;
    bson_iter_t it, privileges, privilege;
    if (!bson_iter_init(&it, status.get()) ||
        !bson_iter_find_descendant(&it, "authInfo.authenticatedUserPrivileges", &privileges) ||
        !BSON_ITER_HOLDS_ARRAY(&privileges) || !bson_iter_recurse(&privileges, &privilege)) {
        return actions;
    }
    while (bson_iter_next(&privilege)) {
        bson_iter_t entry, list;
        if (!BSON_ITER_HOLDS_DOCUMENT(&privilege) || !bson_iter_recurse(&privilege, &entry) ||
            !bson_iter_find(&entry, "actions") || !bson_iter_recurse(&entry, &list)) {
            continue;
        }
        while (bson_iter_next(&list))
            if (BSON_ITER_HOLDS_UTF8(&list)) actions.insert(bson_iter_utf8(&list, nullptr));
    }
    return actions;
}

bool has_authenticated_users(const mongodb::Bson& status) {
    bson_iter_t it, users, user;
    return bson_iter_init(&it, status.get()) &&
           bson_iter_find_descendant(&it, "authInfo.authenticatedUsers", &users) &&
           BSON_ITER_HOLDS_ARRAY(&users) && bson_iter_recurse(&users, &user) &&
           bson_iter_next(&user);
}

}  // namespace

Result<PreflightReport> preflight(const mongodb::Client& client) {
    PreflightReport report;
    const auto hello_cmd = LB_TRY(mongodb::Bson::from_json(R"({"hello": 1})"));
    const mongodb::Bson hello = LB_TRY(client.command("admin", hello_cmd));
    report.replica_set = string_field(hello, "setName");
    if (string_field(hello, "msg") == "isdbgrid")
        report.notes.push_back(
            "the server is a mongos (sharded cluster): each shard's change "
            "stream is merged by it");
    const auto build_cmd = LB_TRY(mongodb::Bson::from_json(R"({"buildInfo": 1})"));
    if (auto build = client.command("admin", build_cmd)) {
        report.server_version = string_field(*build, "version");
        // DocumentDB answers buildInfo like MongoDB but says so in its own fields.
        const std::string json = build->relaxed_json();
        report.documentdb =
            json.find("DocumentDB") != std::string::npos || json.find("docdb") != std::string::npos;
    }

    const auto status_cmd =
        LB_TRY(mongodb::Bson::from_json(R"({"connectionStatus": 1, "showPrivileges": true})"));
    if (auto status = client.command("admin", status_cmd)) {
        if (has_authenticated_users(*status)) {
            const auto granted = granted_actions(*status);
            std::vector<std::string> missing;
            for (const char* action :
                 {"find", "listDatabases", "listCollections", "listIndexes", "changeStream"}) {
                if (!granted.contains(action) && !granted.contains("anyAction"))
                    missing.push_back(action);
            }
            if (!missing.empty()) {
                report.problems.push_back(fmt::format(
                    "the user lacks the privilege(s) {} (grant the built-in role 'backup', or "
                    "'read' on every database and 'changeStream' on the cluster)",
                    fmt::join(missing, ", ")));
            }
        } else {
            report.notes.push_back(
                "no authenticated user: privileges not checked (the server "
                "runs without access control)");
        }
    } else {
        report.notes.push_back(fmt::format("privileges not checked: {}", status.error().message));
    }

    // Opening a change stream is the only sure test: servers disable them in several ways.
    const auto watch_cmd = LB_TRY(mongodb::Bson::from_json(
        R"({"aggregate": 1, "pipeline": [{"$changeStream": {"allChangesForCluster": true}}], )"
        R"("cursor": {"batchSize": 0}})"));
    auto watch = client.command("admin", watch_cmd);
    if (watch) {
        report.change_streams = true;
        bson_iter_t root, it;
        if (bson_iter_init(&root, watch->get()) &&
            bson_iter_find_descendant(&root, "cursor.id", &it) && bson_iter_as_int64(&it) != 0) {
            bson_t kill = BSON_INITIALIZER;
            BSON_APPEND_UTF8(&kill, "killCursors", "$cmd.aggregate");
            bson_t ids;
            BSON_APPEND_ARRAY_BEGIN(&kill, "cursors", &ids);
            BSON_APPEND_INT64(&ids, "0", bson_iter_as_int64(&it));
            bson_append_array_end(&kill, &ids);
            (void)client.command("admin", mongodb::Bson::copy_of(kill));
            bson_destroy(&kill);
        }
    } else if (report.documentdb ||
               watch.error().message.find("modifyChangeStreams") != std::string::npos) {
        report.problems.push_back(
            fmt::format("change streams are not enabled (enable them with {}; their history is "
                        "change_stream_log_retention_duration, 3 hours by default, 7 days at most)",
                        k_documentdb_enable_change_streams));
    } else if (report.replica_set.empty()) {
        report.problems.push_back(fmt::format(
            "not a replica set, so no change streams ({}): point-in-time recovery needs a "
            "replica set (MongoDB: --replSet, even with one member; DocumentDB: {})",
            watch.error().message, k_documentdb_enable_change_streams));
    } else {
        report.problems.push_back(
            fmt::format("change streams are not available: {}", watch.error().message));
    }
    if (report.change_streams && !report.documentdb) {
        const auto oldest = LB_TRY(mongodb::oldest_oplog_time(client));
        if (oldest) {
            const double now = static_cast<double>(system_clock().now().micros) / 1e6;
            report.history_seconds = std::max(0.0, now - static_cast<double>(*oldest));
            report.notes.push_back(fmt::format(
                "change-stream history: the oplog reaches back {:.1f} hours (its oldest entry); a "
                "capture stopped longer than that needs a new base backup",
                *report.history_seconds / 3600));
        } else {
            report.notes.push_back(
                "change-stream history: the oplog's span (rs.printReplicationInfo(); this role "
                "cannot read local.oplog.rs); a resume point older than it needs a new base "
                "backup");
        }
    }
    return report;
}

}  // namespace lifeboat::mongodb_driver
