// The shared_buffers a restored PostgreSQL instance replays its WAL with.
//
// Replay reads and writes the pages the WAL names; with the source's shared_buffers (often the
// 128 MB default, or sized for a server sharing its machine) the startup process spends much of
// its time writing out dirty pages to make room, one at a time. A restored instance in recovery
// has the machine to itself, so the restore raises shared_buffers for that run (a `-c` on the
// server's command line: the configuration files keep their value, which the instance takes at
// its next restart).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "source/restore_target.hpp"
#include "util/fs.hpp"

namespace lifeboat::postgres_physical {

// PostgreSQL's shared_buffers when no configuration file sets it.
constexpr std::uint64_t k_default_shared_buffers = 128ull << 20;

// Beyond this the automatic choice does not go. Every buffer replay takes for the first time is
// shared memory the kernel must fault in and zero in the startup process, page by page; past a
// few hundred MiB that costs the replay more than the evictions it spares (docs/performance.md,
// "the replay's shared buffers capped": replaying 2.6 GB of vacuum WAL over 2.2 GB of data,
// redo 15.6-18.5 s with 2.2 GB of buffers, 10.1-11.7 s with 512 MB; a random-access pgbench
// burst alike with 128 MB, 512 MB and 2.2 GB).
constexpr std::uint64_t k_automatic_replay_buffers_cap = 512ull << 20;

// The automatic choice: the data's size (what replay can touch), at most
// k_automatic_replay_buffers_cap and a quarter of the memory available, in whole MiB; nullopt
// when that is not above `configured` (or `configured` is unknown: a value the restore cannot
// see must never be lowered).
std::optional<std::uint64_t> automatic_replay_buffers(std::optional<std::uint64_t> configured,
                                                      std::optional<std::uint64_t> available,
                                                      std::uint64_t data_bytes);

// A size setting `name` (a number without a unit counts `unit_bytes`) as the restored files in
// `data_dir` configure it: postgresql.conf, then postgresql.auto.conf, the last setting winning
// (`default_bytes` when neither sets it); nullopt when a file includes others or the value
// cannot be read.
std::optional<std::uint64_t> configured_size_setting(const fs::path& data_dir,
                                                     std::string_view name,
                                                     std::uint64_t default_bytes,
                                                     std::uint64_t unit_bytes);

// shared_buffers as the restored files in `data_dir` configure it: postgresql.conf, then
// postgresql.auto.conf, the last setting winning (the default when neither sets it); nullopt
// when a file includes others or the value cannot be read.
std::optional<std::uint64_t> configured_shared_buffers(const fs::path& data_dir);

// What the run sets, per `request`: nullopt keeps the configured value.
std::optional<std::uint64_t> replay_buffers_for(const source::ReplayMemory& request,
                                                const fs::path& data_dir, std::uint64_t data_bytes);

}  // namespace lifeboat::postgres_physical
