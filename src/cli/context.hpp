// The one place the CLI builds what engine operations are given besides their options: the
// operation context (clock, cancellation on SIGINT/SIGTERM, progress, the test stage hook) and
// opened repositories with their keys. Engine code never reads the environment for keys or hooks.
#pragma once

#include "io/durable_file.hpp"

#include <memory>
#include <string>

#include "cli/settings.hpp"
#include "engine/progress.hpp"
#include "repository/keys.hpp"
#include "repository/repository.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::cli {

// Blocks SIGINT and SIGTERM in the calling thread (call it first in main, before any other thread
// starts, so every thread inherits the mask) and starts a thread that waits for them with
// sigwait. The first signal cancels the command's token (the operation stops at its next block or
// wait, releases its locks and exits with status 12); a second one ends the process at once with
// 128 + its number. Children started with util/process get the default mask back.
void start_signal_thread();

// The context every command runs with: the system clock, the token the signal thread cancels,
// `progress` (may be empty) and the stage hook from LIFEBOAT_TEST_STAGE_HOOK, which the end-to-end
// tests use: "<stage>:kill" (SIGKILL, as a power loss would), "<stage>:pause=<seconds>" (a pause a
// signal ends) or "<stage>:fail" (the stage fails with an I/O error). docs/configuration.md lists
// the stages.
OperationContext command_context(const engine::ProgressFn& progress = {});

// For tests of durability: LIFEBOAT_TEST_FSYNC_FAIL=NAME makes the flush of every restored
// file or directory whose last path component is NAME fail with EIO; unset, nullptr (the
// kernel's flushes).
const FileSync* file_sync_from_environment();

// The key of the repository at `location`: its own key_file in the configuration, else --key-file
// / LIFEBOAT_KEY_FILE, and LIFEBOAT_PASSPHRASE (read once).
repo::KeySource keys_of(const Settings& s, const std::string& location);

// How a repository is opened: `read_only` puts it on a ReadOnlyStorage
// (storage/read_only_storage.hpp), so that any write is refused with ErrorCode::read_only before
// the store sees it, and readers take no lock objects.
enum class Access { read_write, read_only };

// Opens the repository at `location` (a location, not a configured name) with its key, read-only
// when the settings say so (--read-only).
Result<repo::Repository> open_repository(const Settings& s, const std::string& location);
// The same with a key chosen by the caller (copy's --from-key-file / --to-key-file).
Result<repo::Repository> open_repository(const std::string& location, const repo::KeySource& keys,
                                         Access access = Access::read_write);

}  // namespace lifeboat::cli
