// Applies a backup's change log (change_log.hpp) to the database its base was loaded into: the
// second half of a logical restore to a time (restore_target.hpp).
//
// Contract:
// - Reads `objects` in order through `fetch` and decodes them (pgoutput_decoder.hpp).
// - Applies the committed transactions in commit order, each as one target transaction,
//   skipping those the base already holds (ending at or before `consistent_lsn`), and stops
//   before the first one whose commit time is later than `target` (as PostgreSQL's
//   recovery_target_time stops; a target equal to a commit time includes it). No target: every
//   committed transaction stored.
// - DDL messages are executed in place, inside their transaction. Row changes go through one
//   prepared statement per relation definition and shape (change_sql.hpp), pipelined in
//   batches, on `connections` sessions (apply_workers.hpp); they run with synchronous_commit
//   off, and the last step (sequences) commits synchronously on its own session after them,
//   which flushes the WAL of every earlier commit too.
// - Sequences: for each sequence, the first sample taken at or after the end of the last applied
//   transaction (it reflects every applied commit, so the value is never lower than a value the
//   applied rows used; it may include values drawn by later transactions, a gap sequences allow
//   anyway, and may be below a physical restore's value by values that transactions still open
//   at the target drew, which no sample can place); when none was taken after it, the newest sample
//   before it; none at all: the base's value stays.
// - `only`: the row changes and truncates of that one table only, and the DDL statements that
//   name it (a whole word, any case: a DDL message does not say which tables it touches, so a
//   statement naming it and another table fails the restore, naming the statement's
//   transaction); sequences keep the base's values.
// - Errors: the first failing statement, ErrorCode::database, naming the transaction's commit
//   position; ErrorCode::corrupt for damaged objects.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "drivers/postgres_logical/pgoutput_decoder.hpp"
#include "util/error.hpp"
#include "util/operation_context.hpp"
#include "util/time.hpp"

namespace lifeboat::postgres_logical {

struct TableName {
    std::string schema;
    std::string name;
};

struct ApplyRequest {
    std::string conninfo;  // the target database
    std::vector<std::string> objects;
    // Reads one object's content (decompressed, checked).
    std::function<Result<std::string>(const std::string& name)> fetch;
    std::uint64_t consistent_lsn = 0;
    std::optional<Timestamp> target;
    std::optional<TableName> only;
    // Sessions applying in parallel (apply_workers.hpp: tables spread over them, commit order
    // kept per table); 1: everything in commit order on one.
    unsigned connections = 1;
};

struct ApplyOutcome {
    std::uint64_t transactions = 0;
    std::uint64_t rows = 0;  // inserted, updated, deleted
    std::optional<Timestamp> last_commit;
    std::uint64_t sequences = 0;
    double seconds = 0;
};

Result<ApplyOutcome> apply_changes(const ApplyRequest& request, const OperationContext& ctx);

// The sample set for each sequence (see above), by the end of the last applied transaction.
std::vector<SequenceSample> choose_sequence_samples(const std::vector<SequenceSample>& samples,
                                                    std::uint64_t applied_end);

}  // namespace lifeboat::postgres_logical
