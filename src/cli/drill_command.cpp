#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "engine/drill.hpp"

namespace lifeboat::cli {

namespace {

void print_record(const engine::DrillRecord& r, const std::string& repository) {
    std::printf("drill %s: %s\n", r.id.c_str(), r.passed ? "PASSED" : "FAILED");
    std::printf("  repository   %s\n", repository.c_str());
    std::printf("  target       %s (backup %s)\n",
                r.target       ? format_iso8601(*r.target).c_str()
                : r.consistent ? "consistent"
                               : "latest",
                r.backup_id.empty() ? "-" : r.backup_id.c_str());
    if (!r.target && r.checked_against) {
        std::printf("  checked at   %s (the newest commit restored, for point-in-time checks)\n",
                    format_iso8601(*r.checked_against).c_str());
    }
    if (!r.error.empty()) std::printf("  error        %s\n", r.error.c_str());
    std::printf("  RTO          %s = files %s + WAL replay %s + ready %s\n",
                format_seconds(r.total_seconds).c_str(), format_seconds(r.files_seconds).c_str(),
                format_seconds(r.replay_seconds).c_str(), format_seconds(r.ready_seconds).c_str());
    if (r.prepare_seconds > 0) {
        std::printf(
            "  in parallel  %s preparing the start (server programs, account, port) while "
            "files were written\n",
            format_seconds(r.prepare_seconds).c_str());
    }
    if (r.target && r.newest_commit) {
        std::printf(
            "  data loss    at most %s (newest restored commit %s)\n",
            format_seconds(static_cast<double>(r.target->micros - r.newest_commit->micros) / 1e6)
                .c_str(),
            format_iso8601(*r.newest_commit).c_str());
    }
    for (const auto& d : r.databases)
        std::printf("  %s\n", d.summary.c_str());
    std::size_t failed = 0;
    for (const auto& c : r.checks) {
        if (c.passed) continue;
        ++failed;
        std::printf("  FAILED %s %s: %s\n", c.kind.c_str(), c.name.c_str(), c.detail.c_str());
    }
    std::printf("  checks       %zu passed, %zu failed\n", r.checks.size() - failed, failed);
    if (!r.stop_error.empty()) std::printf("  stop         %s\n", r.stop_error.c_str());
    if (!r.kept_directory.empty()) std::printf("  kept         %s\n", r.kept_directory.c_str());
}

// Why a drill failed, in one line: the error that stopped it, else its first failed check.
std::string failure_reason(const engine::DrillRecord& r) {
    if (r.passed) return "-";
    std::size_t failed = 0;
    const engine::DrillCheck* first = nullptr;
    for (const auto& c : r.checks) {
        if (c.passed) continue;
        if (!first) first = &c;
        ++failed;
    }
    std::string reason = !r.error.empty() ? r.error
                         : first ? fmt::format("{} {}: {}", first->kind, first->name, first->detail)
                                 : std::string("no reason recorded");
    if (r.error.empty() && failed > 1)
        reason += fmt::format(" (and {} more failed check(s))", failed - 1);
    for (char& c : reason)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return reason;
}

}  // namespace

Status run_drill_command(const Settings& s, const DrillArgs& args, OutputFormat format) {
    engine::DrillOptions options;
    const std::string location = LB_TRY(s.repository());
    options.repository_location = location;
    const int chosen = !args.to.empty() + !args.ago.empty() + args.latest;
    if (chosen > 1) return fail(ErrorCode::usage, "give one of --to, --ago and --latest");
    // --latest is the older spelling of --to latest; nothing given means one hour ago.
    const std::string to = args.latest ? std::string("latest") : args.to;
    const std::string ago = chosen == 0 ? std::string("1h") : args.ago;
    options.target = LB_TRY(engine::parse_target(to, ago, system_clock().now()));
    if (!args.timeline.empty())
        options.timeline = LB_TRY(engine::parse_timeline_request(args.timeline));
    if (!args.checks.empty()) options.checks_file = args.checks;
    options.databases = args.databases;
    options.pg_timeout = std::chrono::seconds(LB_TRY(s.get_unsigned("pg-timeout")));
    options.keep = args.keep;
    if (!args.scratch_dir.empty()) {
        options.scratch_parent = args.scratch_dir;
    } else if (const char* tmp = std::getenv("TMPDIR"); tmp != nullptr && *tmp != '\0') {
        options.scratch_parent = tmp;
    }
    std::error_code ec;
    options.lifeboat_binary = fs::read_symlink("/proc/self/exe", ec);
    if (auto bin = s.find("pg-bin")) options.pg_bin = *bin;
    options.run_as_user = s.get("run-as");
    options.jobs = LB_TRY(s.jobs());
    options.io_depth = LB_TRY(s.io_depth_for(location));
    options.replay_memory = LB_TRY(replay_memory_setting(s));
    options.direct_writes = LB_TRY(direct_writes_setting(s));
    options.check_block_ids = LB_TRY(block_id_checks_setting(s));
    if (!args.target_mongo.empty()) options.target_conninfo = args.target_mongo;
    const repo::KeySource keys = keys_of(s, location);
    options.key_file = keys.key_file;
    repo::Repository repository = LB_TRY(open_repository(location, keys));
    ProgressLine progress;
    auto record = engine::run_drill(repository, options, command_context(progress.callback()));
    progress.clear();
    if (!record) return std::unexpected(record.error());
    if (format == OutputFormat::json) {
        auto j = nlohmann::json::parse(engine::drill_json(*record));
        add_repository_json(j, s, location);
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        print_record(*record, s.describe_repository(location));
    }
    if (!record->passed) {
        return fail(ErrorCode::check_failed, "drill {} failed (recorded in the repository)",
                    record->id);
    }
    return {};
}

Status run_drills_command(const Settings& s, OutputFormat format) {
    const std::string repository = LB_TRY(s.repository());
    const repo::Repository opened = LB_TRY(open_repository(s, repository));
    const auto drills = LB_TRY(engine::read_drills(opened));
    if (format == OutputFormat::json) {
        // The result is an array of records: the repository goes to stderr.
        std::fprintf(stderr, "lifeboat: repository %s\n",
                     s.describe_repository(repository).c_str());
        nlohmann::json all = nlohmann::json::array();
        for (const auto& d : drills)
            all.push_back(nlohmann::json::parse(engine::drill_json(d)));
        std::printf("%s\n", all.dump(2).c_str());
        return {};
    }
    std::printf("repository %s\n", s.describe_repository(repository).c_str());
    if (drills.empty()) std::printf("no drills recorded yet (run `lifeboat drill`)\n");
    if (drills.empty()) return {};
    std::printf("%-28s %-7s %-28s %-20s %10s  %s\n", "DRILL", "RESULT", "TARGET", "BACKUP", "RTO",
                "REASON");
    for (const auto& d : drills) {
        std::printf("%-28s %-7s %-28s %-20s %10s  %s\n", d.id.c_str(),
                    d.passed ? "PASSED" : "FAILED",
                    d.target       ? format_iso8601(*d.target).c_str()
                    : d.consistent ? "consistent"
                                   : "latest",
                    d.backup_id.empty() ? "-" : d.backup_id.c_str(),
                    format_seconds(d.total_seconds).c_str(), failure_reason(d).c_str());
    }
    return {};
}

}  // namespace lifeboat::cli
