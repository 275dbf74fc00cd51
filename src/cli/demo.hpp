// demo: the quick start's main job, self-contained in a temporary directory. Starts a throwaway
// PostgreSQL 15 archiving into a new repository, loads data, backs it up, writes more, restores
// to a point in time between two writes into a new instance, validates it (row counts must equal
// what was committed at the target, and no row may be newer than the target), and reports.
// Every server it starts is stopped before it returns, on success or failure.
#pragma once

#include <optional>
#include <string>

#include "engine/progress.hpp"
#include "util/fs.hpp"
#include "util/operation_context.hpp"
#include "util/time.hpp"

namespace lifeboat::cli {

struct DemoOptions {
    fs::path lifeboat_binary;  // copied next to the demo so the server's account can run it
    std::optional<fs::path> pg_bin;
    std::string run_as_user = "postgres";  // when started as root
    bool keep = false;  // keep the temporary directory (servers are stopped anyway)
    unsigned jobs = 0;
    std::function<void(const std::string&)> say;  // narration, one line per step
};

struct DemoReport {
    fs::path directory;
    std::string backup_id;
    std::uint64_t backup_data_bytes = 0;
    std::uint64_t backup_stored_bytes = 0;
    double backup_seconds = 0;
    std::string window;
    Timestamp target;
    std::int64_t rows_at_target = 0;
    std::int64_t rows_at_end = 0;
    double files_seconds = 0, replay_seconds = 0, ready_seconds = 0, total_seconds = 0;
    bool validation_passed = false;
    std::string validation_text;
};

Result<DemoReport> run_demo(const DemoOptions& options, const OperationContext& ctx);

}  // namespace lifeboat::cli
