// ChangeApplier: applies change-stream events (the documents a $changeStream returns, in the
// shapes MongoDB 4.0+ and Amazon DocumentDB document) to a target server, in the order given
// (cluster-time order), idempotently by _id: a restore to a time loads the base backup, whose
// dump ran while events were already being recorded, then replays every event from the base's
// start point up to the target, so events the dump already reflects are applied again and must
// leave the same result as applying them once.
//
// Per operationType:
// - insert, replace: the whole document replaces the one with its _id (upsert).
// - update: updateDescription applied to the document with its _id (no upsert: a document the
//   base no longer holds is deleted by a later event): removedFields as $unset, updatedFields
//   as $set, truncatedArrays as a truncation of each array to its newSize, before the sets.
//   fullDocument, when present, is never used (it is the document at lookup time, not at the
//   event's time).
// - delete: deletes the document with its _id (absent: nothing to do).
// - drop: drops the collection; dropDatabase: drops the database; rename: renames ns to `to`,
//   replacing an existing target collection (the event happened, so the name was free then).
// - invalidate: nothing (the stream ends; the capture records it).
// - anything else (createIndexes, modify, ... from expanded events): ErrorCode::unsupported
//   naming the operationType and the event's cluster time, so that a restore never silently
//   skips a change it cannot apply.
// An event that is not a change event (no operationType or no ns) is ErrorCode::corrupt.
//
// `only` (restore --only DB or DB.COLL): events of other namespaces are skipped; a rename into
// or out of the restored part follows the part (a rename out of it drops the source, into it
// is applied when its source is in the part, else ErrorCode::unsupported: the documents are
// not in the base).
//
// Writes may be batched: a failure of a batched write surfaces at a later apply() or at
// finish(), naming the event whose write failed. Every failure is ErrorCode::database with the
// server's message unless stated above.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "sources/mongodb/bson.hpp"
#include "sources/mongodb/client.hpp"
#include "util/error.hpp"

namespace lifeboat::mongodb_driver {

// A database, or one collection of it (collection empty: the whole database).
struct NamespaceFilter {
    std::string database;
    std::string collection;
};

struct ApplyCounts {
    std::uint64_t events = 0;    // applied (skipped by `only` not counted)
    std::uint64_t upserted = 0;  // insert and replace
    std::uint64_t updated = 0;
    std::uint64_t deleted = 0;
    std::uint64_t ddl = 0;  // drop, dropDatabase, rename
};

class ChangeApplier {
  public:
    // `target` must outlive the applier.
    ChangeApplier(const mongodb::Client& target, std::optional<NamespaceFilter> only);
    ~ChangeApplier();
    ChangeApplier(ChangeApplier&&) noexcept;
    ChangeApplier& operator=(ChangeApplier&&) noexcept;

    Status apply(const mongodb::Bson& event);
    // Writes whatever is batched; the applier is done after it.
    Status finish();
    const ApplyCounts& counts() const;

  private:
    struct State;
    std::unique_ptr<State> m_state;
};

}  // namespace lifeboat::mongodb_driver
