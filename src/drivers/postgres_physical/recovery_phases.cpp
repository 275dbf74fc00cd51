#include "drivers/postgres_physical/recovery_phases.hpp"

#include <fmt/format.h>

#include <thread>

#include "io/file.hpp"

namespace lifeboat::postgres_physical {

namespace {

// How many data blocks the recovery prefetcher may have in flight, and how far ahead in the WAL
// it decodes to find them. PostgreSQL's defaults (10 and 512kB) are for a server that shares its
// disk with a workload; a restored instance in recovery has the disk to itself.
constexpr int k_recovery_io_concurrency = 64;
constexpr std::string_view k_wal_decode_buffer = "4MB";

// Read at most this much of the log per poll: the marks are near the start and the end.
constexpr std::size_t k_max_poll_bytes = 1u << 20;

}  // namespace

std::string run_only_settings(RecoveryEnd end) {
    std::string out = fmt::format(
        " -c recovery_init_sync_method=syncfs -c recovery_prefetch=try"
        " -c maintenance_io_concurrency={} -c wal_decode_buffer_size={}",
        k_recovery_io_concurrency, k_wal_decode_buffer);
    // Pausing needs hot standby: without it PostgreSQL treats 'pause' as 'shutdown'.
    if (end == RecoveryEnd::promote_at_target)
        out += " -c hot_standby=on -c recovery_target_action=pause";
    return out;
}

Status promote_paused_server(postgres::Connection& conn, std::chrono::seconds timeout) {
    const auto requested = LB_TRY(conn.query_value("SELECT pg_promote(false)"));
    if (requested != "t") return fail(ErrorCode::database, "pg_promote returned false");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        // Resume-then-pause in one statement: the resume broadcasts the condition variable the
        // paused startup process sleeps on, the pause (microseconds later) keeps it in its
        // pause loop, where it then sees the promotion. Both fail once the promotion is under
        // way, and a startup process that woke before the promotion reached it sleeps again
        // until the next round. Were the pause ever too late, recovery would end without the
        // promotion, through PostgreSQL's end-of-recovery checkpoint: slower, never wrong.
        const auto state = LB_TRY(conn.query_value(
            "SELECT CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() ELSE "
            "'promoted' END"));
        if (state == "promoted") return {};
        if (state == "paused")
            (void)conn.query_value("SELECT pg_wal_replay_resume(), pg_wal_replay_pause()");
        if (std::chrono::steady_clock::now() > deadline) {
            return fail(ErrorCode::database, "still in recovery {} s after pg_promote",
                        timeout.count());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

void RecoveryLogWatch::poll() {
    auto file = File::open(m_log, OpenMode::read);
    if (!file) return;
    auto chunk = file->read_range(m_offset, k_max_poll_bytes);
    if (!chunk || chunk->empty()) return;
    m_offset += chunk->size();
    const auto now = Clock::now();
    std::string text = std::move(m_partial) + *chunk;
    const auto last_newline = text.rfind('\n');
    if (last_newline == std::string::npos) {
        m_partial = std::move(text);
        return;
    }
    m_partial = text.substr(last_newline + 1);
    text.resize(last_newline);
    if (!m_redo_started && text.find("redo starts at") != std::string::npos) m_redo_started = now;
    if (!m_redo_done && text.find("redo done at") != std::string::npos) m_redo_done = now;
}

}  // namespace lifeboat::postgres_physical
