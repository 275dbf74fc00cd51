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
//   as $set, truncatedArrays as a truncation of each array to its newSize, before the sets (a
//   first update of the same ordered batch: one update cannot both truncate an array and set
//   into it). fullDocument, when present, is never used (it is the document at lookup time, not
//   at the event's time). A path that updateDescription.disambiguatedPaths lists with a field
//   name holding a dot or starting with '$' (MongoDB 5.0+) cannot be named by an update
//   operator: that event is applied by reading the document, changing it here
//   (document_edit.hpp) and replacing it.
// - delete: deletes the document with its _id (absent: nothing to do).
// - drop: drops the collection (absent: nothing to do); dropDatabase: drops the database;
//   rename: renames ns to `to`, replacing an existing target collection (the event happened, so
//   the name was free then); a source no longer there is nothing to do (the dump saw the rename).
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
// Replays of events the target already reflects (ApplyOptions::replay_through, the end of the
// base's dump): an update is written one path per write there, and a path that the target's
// later state refuses (a $set through a value that became a string, a truncation of a field that
// is no longer an array) is skipped and counted, because a later event, replayed too,
// re-establishes that field; the event's other paths are written (the base holds them, and no
// later event need repeat them). After that point every refusal fails. What replaying cannot
// make consistent is DDL during the dump (a rename or drop the dump raced): the base backup must
// not leave that to the replay.
//
// Writes are batched: consecutive document events of one collection go to the server as one
// ordered bulk write (order per _id kept), sent when an event names another collection, at DDL,
// at k_apply_batch_writes writes, and at finish(). A failure of a batched write therefore
// surfaces at a later apply() or at finish(), naming the event whose write failed; after a
// failure every call returns it. Every failure is ErrorCode::database with the server's message
// unless stated above. An applier destroyed without finish() drops what it batched.
#pragma once

#include <compare>
#include <cstddef>
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

// A cluster time (BSON Timestamp): seconds, then the order within the second.
struct ClusterTime {
    std::uint32_t seconds = 0;
    std::uint32_t increment = 0;
    auto operator<=>(const ClusterTime&) const = default;
};

struct ApplyOptions {
    // Events at or before this time may already be reflected in the target (see "Replays").
    // None: every event is new to the target, every refusal fails.
    std::optional<ClusterTime> replay_through;
};

inline constexpr std::size_t k_apply_batch_writes = 1000;

struct ApplyCounts {
    std::uint64_t events = 0;    // applied (skipped by `only` not counted)
    std::uint64_t upserted = 0;  // insert and replace
    std::uint64_t updated = 0;
    std::uint64_t deleted = 0;
    std::uint64_t ddl = 0;  // drop, dropDatabase, rename
    // Replayed writes the target's later state refused, and renames of a source no longer there.
    std::uint64_t replay_refusals = 0;
};

class ChangeApplier {
  public:
    // `target` must outlive the applier.
    ChangeApplier(const mongodb::Client& target, std::optional<NamespaceFilter> only,
                  ApplyOptions options = {});
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
