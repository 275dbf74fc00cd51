// `lifeboat repair`: moves damaged objects aside and rebuilds the index (engine/repair.hpp).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "engine/repair.hpp"

namespace lifeboat::cli {

using nlohmann::json;

namespace {

json objects_json(const std::vector<repo::DamagedObject>& objects) {
    json out = json::array();
    for (const auto& o : objects)
        out.push_back({{"object", o.key}, {"reason", o.reason}});
    return out;
}

void print_outcome(const engine::RepairOutcome& o, const std::string& repository,
                   OutputFormat format) {
    if (format == OutputFormat::json) {
        json moved = json::array();
        for (const auto& m : o.moved) {
            moved.push_back({{"object", m.key},
                             {"reason", m.reason},
                             {"moved_to", m.moved_to.empty() ? json(nullptr) : json(m.moved_to)}});
        }
        std::printf("%s\n",
                    json{{"repository", repository},
                         {"dry_run", o.dry_run},
                         {"moved_aside", moved},
                         {"packs_indexed", o.packs_indexed},
                         {"new_index", o.new_index.empty() ? json(nullptr) : json(o.new_index)},
                         {"unreadable_packs", objects_json(o.unreadable_packs)},
                         {"suspect_wal", objects_json(o.suspect_wal)}}
                        .dump(2)
                        .c_str());
        return;
    }
    const char* would = o.dry_run ? "would " : "";
    for (const auto& m : o.moved) {
        std::printf("%smove aside %s%s%s: %s\n", would, m.key.c_str(),
                    m.moved_to.empty() ? "" : " -> ", m.moved_to.c_str(), m.reason.c_str());
    }
    if (o.packs_indexed) {
        std::printf("%sindex %zu pack(s) that no sound index object named%s%s\n", would,
                    o.packs_indexed, o.new_index.empty() ? "" : ", in index/", o.new_index.c_str());
    }
    for (const auto& p : o.unreadable_packs)
        std::printf("UNREADABLE %s (left in place): %s\n", p.key.c_str(), p.reason.c_str());
    for (const auto& w : o.suspect_wal)
        std::printf("SUSPECT %s (left in place): %s\n", w.key.c_str(), w.reason.c_str());
    if (o.moved.empty() && !o.packs_indexed && o.clean()) {
        std::printf("nothing to repair in %s\n", repository.c_str());
    } else if (!o.dry_run) {
        std::printf("repaired %s; `lifeboat verify` checks the result\n", repository.c_str());
    }
}

}  // namespace

Status run_repair_command(const Settings& s, const RepairArgs& args, OutputFormat format) {
    engine::RepairOptions options;
    const std::string location = LB_TRY(s.repository());
    options.mode = args.dry_run ? engine::RepairMode::dry_run : engine::RepairMode::apply;
    options.lock_wait = std::chrono::seconds(args.lock_wait);
    repo::Repository repository = LB_TRY(open_repository(s, location));
    ProgressLine progress;
    options.on_wait = tell_once_when_waiting();
    auto outcome = engine::run_repair(repository, options, command_context(progress.callback()));
    progress.clear();
    if (!outcome) return std::unexpected(outcome.error());
    print_outcome(*outcome, location, format);
    if (!outcome->clean()) {
        return fail(ErrorCode::corrupt,
                    "{} unreadable pack(s) and {} questionable WAL file(s) were left in place; "
                    "`lifeboat verify` names the backups they affect",
                    outcome->unreadable_packs.size(), outcome->suspect_wal.size());
    }
    return {};
}

}  // namespace lifeboat::cli
