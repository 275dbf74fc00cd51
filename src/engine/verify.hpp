// verify: reads back everything the selected backups need — every block (checked against its id),
// every pack envelope, and the WAL from each backup's start to the end of its gap-free run — and
// reports each problem naming the object, and the backups and files it affects. A manifest entry
// that restore would refuse (repo::find_unsafe_entries: a path leaving the target, a link where
// none may be, setuid bits, ...) is a problem too, and so are, for the whole repository, a
// damaged pin (affecting its backup) or drill record. Looser file modes in a local repository
// are warnings, not problems.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/progress.hpp"
#include "repository/repository.hpp"
#include "util/error.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::engine {

struct VerifyOptions {
    std::optional<std::string> backup_id;  // default: every backup
    unsigned jobs = 0;
    unsigned io_depth = 0;  // reads in flight; 0: the storage's default
};

struct VerifyProblem {
    std::string object;  // storage key, or a WAL file name
    std::string message;
    std::vector<std::string> affected;  // "backup X file Y" / "backup X"
};

inline constexpr std::size_t k_max_permission_warnings = 20;

struct VerifyReport {
    std::size_t backups = 0;
    std::size_t packs = 0;
    std::size_t blocks = 0;
    std::size_t wal_files = 0;
    std::size_t unreferenced_packs = 0;  // left by interrupted backups; adopted by the next one
    // Reads of packs (each whole: its envelope is checked too) and WAL objects, and their bytes
    // (a WAL segment counted as decoded).
    std::uint64_t requests = 0;
    std::uint64_t bytes_fetched = 0;
    unsigned io_depth = 0;  // used
    std::vector<VerifyProblem> problems;
    // A local repository's files and directories readable or writable beyond owner and group
    // (looser than 0640 / 0750): "<path> is <mode> ...", at most k_max_permission_warnings.
    std::vector<std::string> permission_warnings;
    std::size_t loose_permissions = 0;  // how many in all
    bool ok() const { return problems.empty(); }
};

// Verifies `repository` (opened by the caller); progress and cancellation come from `ctx`.
Result<VerifyReport> run_verify(repo::Repository& repository, const VerifyOptions& options,
                                const OperationContext& ctx);

}  // namespace lifeboat::engine
