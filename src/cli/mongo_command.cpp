// The mongodb source's own commands: mongo-preflight (drivers/mongodb/preflight.hpp), and the
// backup a mongodb validate compares with (and the restore record it expects, restore_record.hpp).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "drivers/mongodb/preflight.hpp"
#include "drivers/mongodb/restore_record.hpp"
#include "engine/catalog.hpp"

namespace lifeboat::cli {

Result<repo::Manifest> recorded_mongodb_backup(const Settings& s, const std::string& backup_id) {
    const std::string location = LB_TRY(s.repository());
    const repo::Repository repository = LB_TRY(open_repository(s, location));
    auto catalog = LB_TRY(engine::load_catalog(repository));
    for (auto it = catalog.backups.rbegin(); it != catalog.backups.rend(); ++it) {
        if (!backup_id.empty() && it->id != backup_id) continue;
        if (it->source.kind != repo::k_kind_mongodb) {
            return fail(ErrorCode::usage, "backup {} of {} is a {} backup, not mongodb", it->id,
                        location, it->source.kind);
        }
        // The catalog read headers: the recorded backup whole.
        return repo::read_manifest(repository.storage(), it->id);
    }
    if (!backup_id.empty())
        return fail(ErrorCode::not_found, "no backup {} in {}", backup_id, location);
    return fail(ErrorCode::not_found, "no backup in {} to compare with", location);
}

Result<std::string> restored_mongodb_backup(const fs::path& dir) {
    const auto record = LB_TRY(mongodb_driver::read_restore_record(dir));
    return record.backup_id;
}

Status run_mongo_preflight_command(const Settings& s, const MongoPreflightArgs&,
                                   OutputFormat format) {
    const auto uri = s.find("mongo");
    if (!uri) {
        return fail(ErrorCode::usage,
                    "--mongo is required: give it, set LIFEBOAT_MONGO, or put it in the --config "
                    "file");
    }
    const auto client = LB_TRY(mongodb::Client::connect(*uri, {}));
    const auto report = LB_TRY(mongodb_driver::preflight(client));
    if (format == OutputFormat::json) {
        const nlohmann::json out = {
            {"ok", report.ok()},
            {"server_version", report.server_version},
            {"replica_set", report.replica_set},
            {"documentdb", report.documentdb},
            {"change_streams", report.change_streams},
            {"history_seconds", report.history_seconds ? nlohmann::json(*report.history_seconds)
                                                       : nlohmann::json(nullptr)},
            {"problems", report.problems},
            {"notes", report.notes}};
        std::printf("%s\n", out.dump(2).c_str());
    } else {
        std::printf(
            "server: %s%s, %s\n",
            report.server_version.empty() ? "version unknown" : report.server_version.c_str(),
            report.documentdb ? " (Amazon DocumentDB)" : "",
            report.replica_set.empty() ? "not a replica set"
                                       : ("replica set " + report.replica_set).c_str());
        std::printf("change streams: %s\n", report.change_streams ? "available" : "not available");
        for (const auto& p : report.problems)
            std::printf("problem: %s\n", p.c_str());
        for (const auto& n : report.notes)
            std::printf("note: %s\n", n.c_str());
        if (report.ok()) std::printf("the source is ready for backups and change capture\n");
    }
    if (!report.ok()) {
        return fail(ErrorCode::check_failed, "the source can be backed up but not captured: {}{}",
                    report.problems.front(),
                    report.problems.size() > 1
                        ? fmt::format(" (and {} more problem(s))", report.problems.size() - 1)
                        : std::string());
    }
    return {};
}

}  // namespace lifeboat::cli
