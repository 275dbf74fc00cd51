// `lifeboat expire`: applies the repository's retention policy (engine/expire.hpp).
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "engine/expire.hpp"

namespace lifeboat::cli {

using nlohmann::json;

Result<engine::RetentionPolicy> retention_policy(const Settings& s, const std::string& repository) {
    engine::RetentionPolicy policy;
    policy.window = LB_TRY(engine::parse_window(s.get_for("retention-window", repository)));
    auto count = [&](const char* name) { return s.get_unsigned_for(name, repository); };
    policy.min_backups = LB_TRY(count("keep-min"));
    policy.daily = LB_TRY(count("keep-daily"));
    policy.weekly = LB_TRY(count("keep-weekly"));
    policy.monthly = LB_TRY(count("keep-monthly"));
    policy.yearly = LB_TRY(count("keep-yearly"));
    return policy;
}

namespace {

void print_outcome(const engine::ExpireOutcome& o, const Settings& s, const std::string& repository,
                   OutputFormat format) {
    if (format == OutputFormat::json) {
        json backups = json::array();
        for (const auto& b : o.backups) {
            backups.push_back({{"id", b.id},
                               {"stop_time", format_iso8601(b.stop_time)},
                               {"keep", b.keep},
                               {"reasons", b.reasons}});
        }
        json out = {
            {"dry_run", o.dry_run},
            {"policy", o.policy},
            {"now", format_iso8601(o.now)},
            {"backups", backups},
            {"expired", o.expired},
            {"pins_removed", o.pins_removed},
            {"wal_removed", o.wal_removed},
            {"wal_bytes", o.wal_bytes},
            {"packs_deleted", o.packs_deleted},
            {"packs_repacked", o.packs_repacked},
            {"pack_bytes_deleted", o.pack_bytes_deleted},
            {"live_bytes_moved", o.live_bytes_moved},
            {"indexes_replaced", o.indexes_replaced},
            {"freed_bytes", o.freed_bytes()},
            {"kept_locked", o.kept_locked},
            {"kept_locked_until",
             o.kept_locked_until ? json(format_iso8601(*o.kept_locked_until)) : json(nullptr)},
            {"warnings", o.warnings}};
        add_repository_json(out, s, repository);
        std::printf("%s\n", out.dump(2).c_str());
        return;
    }
    const char* would = o.dry_run ? "would " : "";
    std::printf("repository %s\n", s.describe_repository(repository).c_str());
    std::printf("policy: %s (now %s)\n", o.policy.c_str(), format_iso8601(o.now).c_str());
    for (const auto& b : o.backups) {
        std::string why;
        for (const auto& r : b.reasons)
            why += (why.empty() ? "" : ", ") + r;
        std::printf("%-7s %s  %s  %s\n", b.keep ? "keep" : "expire", b.id.c_str(),
                    format_iso8601(b.stop_time).c_str(),
                    b.keep ? why.c_str() : "outside the policy");
    }
    std::printf("%sremove %zu backup(s)", would, o.expired.size());
    if (!o.wal_removed.empty()) {
        std::printf(", %zu WAL file(s) (%s .. %s, %s)", o.wal_removed.size(),
                    o.wal_removed.front().c_str(), o.wal_removed.back().c_str(),
                    human_bytes(o.wal_bytes).c_str());
    }
    std::printf(
        ", %zu garbage pack(s), and %srewrite %zu mostly-garbage pack(s) (moving %s); "
        "%sfree %s\n",
        o.packs_deleted, would, o.packs_repacked, human_bytes(o.live_bytes_moved).c_str(), would,
        human_bytes(o.freed_bytes()).c_str());
    if (o.kept_locked > 0) {
        std::printf(
            "kept %zu object(s) still under object-lock retention (the first can go at %s)\n",
            o.kept_locked, format_iso8601(*o.kept_locked_until).c_str());
    }
}

}  // namespace

Status run_expire_command(const Settings& s, const ExpireArgs& args, OutputFormat format) {
    engine::ExpireOptions options;
    const std::string location = LB_TRY(s.repository());
    options.policy = LB_TRY(retention_policy(s, location));
    options.dry_run = args.dry_run;
    options.jobs = LB_TRY(s.jobs());
    options.lock_wait = std::chrono::seconds(args.lock_wait);
    if (!(args.repack_below >= 0 && args.repack_below <= 1)) {
        return fail(ErrorCode::usage, "--repack-below must be between 0 and 1");
    }
    options.repack_below = args.repack_below;
    if (const char* clock = std::getenv("LIFEBOAT_TEST_CLOCK"); clock && *clock)
        options.clock = LB_TRY(engine::parse_scaled_clock(clock));
    repo::Repository repository = LB_TRY(open_repository(s, location));
    ProgressLine progress;
    options.on_wait = tell_once_when_waiting();
    auto outcome = engine::run_expire(repository, options, command_context(progress.callback()));
    progress.clear();
    if (!outcome) return std::unexpected(outcome.error());
    for (const auto& w : outcome->warnings)
        std::fprintf(stderr, "lifeboat: warning: %s\n", w.c_str());
    print_outcome(*outcome, s, location, format);
    return {};
}

}  // namespace lifeboat::cli
