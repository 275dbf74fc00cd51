#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/demo.hpp"
#include "cli/output.hpp"

namespace lifeboat::cli {

Status run_demo_command(const Settings& s, const DemoArgs& args, OutputFormat format) {
    DemoOptions options;
    std::error_code ec;
    options.lifeboat_binary = fs::read_symlink("/proc/self/exe", ec);
    if (auto bin = s.find("pg-bin")) options.pg_bin = *bin;
    options.run_as_user = s.get("run-as");
    options.keep = args.keep;
    options.jobs = LB_TRY(s.jobs());
    // The demonstration makes its own plaintext repository: a key meant for the user's
    // repositories would be refused there (and must not reach its archive_command either).
    ::unsetenv("LIFEBOAT_KEY_FILE");
    ::unsetenv("LIFEBOAT_PASSPHRASE");
    ProgressLine progress;
    options.say = [&](const std::string& line) {
        progress.clear();
        if (format == OutputFormat::text) std::printf("==> %s\n", line.c_str());
        std::fflush(stdout);
    };
    auto report = run_demo(options, command_context(progress.callback()));
    progress.clear();
    if (!report) return std::unexpected(report.error());
    const auto& r = *report;
    if (format == OutputFormat::json) {
        nlohmann::json j = {{"directory", r.directory.string()},
                            {"backup",
                             {{"id", r.backup_id},
                              {"data_bytes", r.backup_data_bytes},
                              {"stored_bytes", r.backup_stored_bytes},
                              {"seconds", r.backup_seconds}}},
                            {"window", r.window},
                            {"target", format_iso8601(r.target)},
                            {"rows_at_target", r.rows_at_target},
                            {"rows_at_end", r.rows_at_end},
                            {"restore",
                             {{"files_seconds", r.files_seconds},
                              {"replay_seconds", r.replay_seconds},
                              {"ready_seconds", r.ready_seconds},
                              {"total_seconds", r.total_seconds}}},
                            {"validation_passed", r.validation_passed}};
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        std::printf("\nLifeboat demo report\n");
        std::printf("  backup             %s: %s of data stored as %s in %s\n", r.backup_id.c_str(),
                    human_bytes(r.backup_data_bytes).c_str(),
                    human_bytes(r.backup_stored_bytes).c_str(),
                    format_seconds(r.backup_seconds).c_str());
        std::printf("  restorable window  %s\n", r.window.c_str());
        std::printf("  restore target     %s (%lld orders committed then; %lld by the end)\n",
                    format_iso8601(r.target).c_str(), static_cast<long long>(r.rows_at_target),
                    static_cast<long long>(r.rows_at_end));
        std::printf("  restore phases     files %s, WAL replay %s, ready %s\n",
                    format_seconds(r.files_seconds).c_str(),
                    format_seconds(r.replay_seconds).c_str(),
                    format_seconds(r.ready_seconds).c_str());
        std::printf("  measured RTO       %s\n", format_seconds(r.total_seconds).c_str());
        std::printf("  validation         %s\n", r.validation_passed ? "PASSED" : "FAILED");
        std::printf("%s", r.validation_text.c_str());
        if (args.keep) std::printf("  kept %s (servers stopped)\n", r.directory.string().c_str());
    }
    if (!r.validation_passed)
        return fail(ErrorCode::check_failed, "the restored instance failed validation");
    return {};
}

}  // namespace lifeboat::cli
