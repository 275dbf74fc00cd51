// What a restored PostgreSQL instance is started with for the duration of its recovery, and how
// its recovery phases are timed from its log.
//
// Run-only settings: given as `-c` options to this start of the postmaster, never written into
// the configuration files, so the instance runs as the source was configured from its next
// restart on (docs/cli.md, restore). They speed up recovery and its end:
//   recovery_init_sync_method = syncfs   the restore already made every file durable: one
//       syncfs instead of PostgreSQL opening and fsyncing every file again at start-up;
//   maintenance_io_concurrency, wal_decode_buffer_size, recovery_prefetch   read the data
//       blocks the WAL will touch ahead of replay;
//   with a recovery target: recovery_target_action = pause and hot_standby = on, so that the
//       restore can request the promotion itself (request_promotion) as soon as the instance
//       accepts connections: PostgreSQL then ends recovery at the target with an end-of-recovery
//       record instead of an immediate checkpoint the restore would wait for.
// (max_wal_size, raised for the replay too, is not one of them: it must not outlive the replay,
// and a -c option cannot be undone without a restart; see replay_wal_size.hpp.)
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "sources/postgres/connection.hpp"
#include "util/fs.hpp"

namespace lifeboat::postgres_physical {

enum class RecoveryEnd { server_ends_it, promote_at_target };

// The -c options (one string for pg_ctl -o) of a restored instance's first start; with
// `shared_buffers`, that many bytes of them (replay_memory.hpp).
std::string run_only_settings(RecoveryEnd end,
                              std::optional<std::uint64_t> shared_buffers = std::nullopt);

// Asks a server in recovery, paused at its target or still replaying towards it, to promote
// (pg_promote without waiting). In an archive recovery that is not a standby, PostgreSQL 15
// looks at a promotion request only while paused: requested during replay, it takes effect the
// moment the server pauses at the target (an end-of-recovery record, no checkpoint to wait
// for). Requested once it is paused, it is seen within a second (the pause loop sleeps on a
// condition variable with a 1 s timeout that the promotion signal does not wake).
Status request_promotion(postgres::Connection& conn);

// Follows a server log as it grows and notes when the lines that mark the phases of recovery
// first appear. Reads only what was appended since the last poll. A log that is not there (the
// server logs elsewhere, e.g. logging_collector) leaves the times unset.
class RecoveryLogWatch {
  public:
    using Clock = std::chrono::steady_clock;
    explicit RecoveryLogWatch(fs::path log) : m_log(std::move(log)) {}

    void poll();
    std::optional<Clock::time_point> redo_started() const { return m_redo_started; }
    // "redo done at" (PostgreSQL ended replay itself, at the end of the WAL or a target).
    std::optional<Clock::time_point> redo_done() const { return m_redo_done; }
    // "pausing at the end of recovery" (paused at the target).
    std::optional<Clock::time_point> paused() const { return m_paused; }

  private:
    fs::path m_log;
    std::uint64_t m_offset = 0;
    std::string m_partial;  // an incomplete last line
    std::optional<Clock::time_point> m_redo_started;
    std::optional<Clock::time_point> m_redo_done;
    std::optional<Clock::time_point> m_paused;
};

}  // namespace lifeboat::postgres_physical
