// The data directory's layout as a backup sees it: which files are relation data (and so get
// page checksum verification and per-block treatment), and which paths a base backup leaves out.
// All paths are relative to the data directory, '/'-separated, without a leading "./" or "/".
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace lifeboat::postgres {

struct RelationFile {
    std::uint32_t relfilenode = 0;
    std::uint32_t segment = 0;  // the ".N" suffix; 0 when absent
    std::string fork;           // "main", "fsm", "vm" or "init"
};

// Recognises a relation data file: `<relfilenode>[_fsm|_vm|_init][.<segno>]` (digits only, no
// leading zeros) directly inside `base/<dboid>/`, `global/` or
// `pg_tblspc/<tsoid>/PG_<version>_<catversion>/<dboid>/`. Everything else — pg_filenode.map,
// PG_VERSION, pg_internal.init, temporary relations "t<backend>_<relfilenode>", files in other
// directories — is nullopt.
std::optional<RelationFile> parse_relation_file(std::string_view relative_path);

// True when a base backup must not contain this path (what PostgreSQL's documentation for the
// low-level backup API and pg_basebackup leave out):
//  - the contents of pg_wal, pg_replslot, pg_dynshmem, pg_notify, pg_serial, pg_snapshots,
//    pg_stat_tmp and pg_subtrans (top level). The directories themselves are kept, and so is the
//    directory pg_wal/archive_status (empty);
//  - files named postmaster.pid, postmaster.opts, backup_label, tablespace_map, backup_manifest,
//    postgresql.auto.conf.tmp, current_logfiles.tmp, or starting with pg_internal.init, at any
//    depth (directories of those names are kept);
//  - anything whose name starts with pgsql_tmp, at any depth, file or directory;
//  - lifeboat-restore.log at the top (the server log `lifeboat restore` leaves there);
//  - temporary relation files "t<digits>_<digits>[_fork][.segno]" in database directories.
// Excluding a directory implies excluding everything below it; callers may stop descending.
// Unlogged relations are handled separately by is_unlogged_non_init_fork.
bool is_excluded_from_backup(std::string_view relative_path, bool is_directory);

// "<dir>/<relfilenode>" when `relative_path` is the init fork of a relation (the mark of an
// unlogged relation), e.g. "base/5/16384_init" -> "base/5/16384"; nullopt otherwise.
std::optional<std::string> init_fork_prefix(std::string_view relative_path);

// True when `relative_path` is a non-init fork (main, fsm, vm, any segment) of an unlogged
// relation, which a backup leaves out: recovery recreates it from the init fork.
// `init_fork_prefixes` holds init_fork_prefix() of every `_init` file of the directory (callers
// collect them per directory before deciding).
bool is_unlogged_non_init_fork(const std::string& relative_path,
                               const std::set<std::string>& init_fork_prefixes);

}  // namespace lifeboat::postgres
