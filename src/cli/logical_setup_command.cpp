// lifeboat logical-setup: what a postgres-logical source needs (drivers/postgres_logical/
// setup.hpp), for a person (one line per finding) or as JSON; exit 10 while anything is missing.
#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "drivers/postgres_logical/setup.hpp"

namespace lifeboat::cli {

Status run_logical_setup_command(const Settings& s, const LogicalSetupArgs& args,
                                 OutputFormat format) {
    const auto report = LB_TRY(postgres_logical::logical_setup(
        s.get("pg"),
        args.apply ? postgres_logical::ApplySetup::yes : postgres_logical::ApplySetup::no,
        std::chrono::seconds(LB_TRY(s.get_unsigned("pg-timeout")))));
    if (format == OutputFormat::json) {
        const nlohmann::json out = {
            {"ok", report.ok()},         {"problems", report.problems},
            {"missing", report.missing}, {"applied", report.applied},
            {"notes", report.notes},     {"ddl_capture", report.ddl_capture}};
        std::printf("%s\n", out.dump(2).c_str());
    } else {
        for (const auto& p : report.problems)
            std::printf("problem: %s\n", p.c_str());
        for (const auto& m : report.missing) {
            const bool done =
                std::find(report.applied.begin(), report.applied.end(), m) != report.applied.end();
            std::printf("%s: %s;\n", done ? "applied" : "missing (run it, or --apply)", m.c_str());
        }
        for (const auto& n : report.notes)
            std::printf("note: %s\n", n.c_str());
        if (report.ok()) std::printf("the source is ready for logical backups\n");
    }
    if (!report.problems.empty()) {
        return fail(ErrorCode::check_failed, "the source is not ready for logical backups: {}{}",
                    report.problems.front(),
                    report.problems.size() > 1
                        ? fmt::format(" (and {} more problem(s))", report.problems.size() - 1)
                        : std::string());
    }
    if (!report.ok()) {
        const auto& first = report.missing[report.applied.size()];
        return fail(
            ErrorCode::check_failed,
            "the source lacks {} (lifeboat logical-setup --apply creates it, as a "
            "superuser or rds_superuser)",
            first.starts_with("CREATE PUBLICATION")
                ? fmt::format("the publication {}", postgres_logical::k_publication)
                : fmt::format("the DDL-capture event trigger {}", postgres_logical::k_ddl_trigger));
    }
    return {};
}

}  // namespace lifeboat::cli
