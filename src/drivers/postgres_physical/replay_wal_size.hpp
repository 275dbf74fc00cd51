// The max_wal_size a restored PostgreSQL instance replays its WAL with, given for the replay
// alone.
//
// In archive recovery PostgreSQL makes a restartpoint at a replayed checkpoint record once the
// WAL since the previous one passes about max_wal_size / (1 + checkpoint_completion_target):
// the checkpointer writes every dirty buffer out and fsyncs the files while the startup process
// replays on. With the source's max_wal_size (1 GB by default) a replay of gigabytes makes one
// every ~540 MB of WAL, and none of them is needed for a read-write promotion: what is replayed
// is durable through its WAL, whose segments stay in pg_wal until the first checkpoint after
// the promotion (which PostgreSQL runs in the background, paced as configured). So a replay the
// restore promotes at its target runs with max_wal_size raised to a quarter of the space free
// for pg_wal, never lowered. (A recovery the server ends itself, to the end of the archive, ends
// with an immediate checkpoint the restore waits for: there the restartpoints' writes overlap
// the replay instead, and the setting is left alone.)
//
// Unlike the `-c` run-only settings (recovery_phases.hpp), this one must not outlive the
// replay: a running instance with it keeps that much WAL between checkpoints, and a `-c` option
// cannot be undone without a restart. So it goes into postgresql.auto.conf on a line marked as
// the replay's (after every other line: the last setting wins), and the restore removes that
// line and reloads the configuration as soon as the instance is read-write, or removes it when
// the start fails.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace lifeboat::postgres_physical {

// PostgreSQL's max_wal_size when no configuration file sets it; a number without a unit
// counts MB.
constexpr std::uint64_t k_default_max_wal_size = 1ull << 30;
constexpr std::uint64_t k_max_wal_size_unit = 1ull << 20;

// The automatic choice: a quarter of `free_space` (bytes free on pg_wal's file system once the
// files are restored), in whole MiB; nullopt when that is not above `configured`, or either is
// unknown (a value the restore cannot see must never be lowered).
std::optional<std::uint64_t> automatic_replay_max_wal_size(std::optional<std::uint64_t> configured,
                                                           std::optional<std::uint64_t> free_space);

// The choice for the restored files in `data_dir`: their configured max_wal_size
// (replay_memory.hpp, configured_size_setting) and the space free for `data_dir`/pg_wal.
std::optional<std::uint64_t> replay_max_wal_size_for(const fs::path& data_dir);

// Appends `name = 'value'` to `data_dir`/postgresql.auto.conf on a line marked as the replay's
// (written atomically, with fsync).
Status add_replay_only_setting(const fs::path& data_dir, std::string_view name,
                               std::string_view value);

// Removes every line add_replay_only_setting wrote, leaving every other line as it was; true
// when there was one (the file is then rewritten atomically, with fsync).
Result<bool> remove_replay_only_settings(const fs::path& data_dir);

}  // namespace lifeboat::postgres_physical
