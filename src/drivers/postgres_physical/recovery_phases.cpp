#include "drivers/postgres_physical/recovery_phases.hpp"

#include <fmt/format.h>

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

std::string run_only_settings(RecoveryEnd end, std::optional<std::uint64_t> shared_buffers) {
    // wal_recycle=off: each restartpoint deletes the replayed segments instead of renaming them
    // for reuse, so their pages, still dirty in the page cache (they were written there moments
    // before, by the prefetch), are dropped rather than written to disk later. A replay of 362
    // segments paused at its target after 18.2-18.6 s against 19.5-21.9 s with recycling (three
    // alternated runs each, page cache dropped).
    std::string out = fmt::format(
        " -c recovery_init_sync_method=syncfs -c recovery_prefetch=try"
        " -c maintenance_io_concurrency={} -c wal_decode_buffer_size={} -c wal_recycle=off",
        k_recovery_io_concurrency, k_wal_decode_buffer);
    // In kB: PostgreSQL reads a number without a unit as 8 kB pages.
    if (shared_buffers) out += fmt::format(" -c shared_buffers={}kB", *shared_buffers / 1024);
    // Pausing needs hot standby: without it PostgreSQL treats 'pause' as 'shutdown'.
    if (end == RecoveryEnd::promote_at_target)
        out += " -c hot_standby=on -c recovery_target_action=pause";
    return out;
}

Status request_promotion(postgres::Connection& conn) {
    const auto requested = LB_TRY(conn.query_value("SELECT pg_promote(false)"));
    if (requested != "t") return fail(ErrorCode::database, "pg_promote returned false");
    return {};
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
    if (!m_paused && text.find("pausing at the end of recovery") != std::string::npos)
        m_paused = now;
}

}  // namespace lifeboat::postgres_physical
