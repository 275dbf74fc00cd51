// RestoreRecord: what the change events a mongodb restore applied did to the backup's
// collections, so that validate (validate.hpp) can check a restore to a time against the state
// the events left instead of the backup's record. The restore target (restore_target.hpp) feeds
// every applied event to a RestoreRecordBuilder and writes the record into the restore's target
// directory (k_restore_record_file); `drill` and `validate --target-dir` read it.
//
// What it tracks, in event order: per collection name, whether an applied event touched it
// (insert, update, replace, delete, drop, rename, dropDatabase) and how many did; where a backup
// collection's documents went (a rename moves them, a drop or dropDatabase removes them); and for
// each of the backup's sampled documents an event touched, the last operation: insert/replace
// (the fullDocument's SHA-256, as the backup hashes samples), delete (absent), update (unknown: an
// update event does not carry the resulting document). Memory: one entry per collection name and
// per touched sample, never per event.
//
// File grammar (JSON, one object):
//   {"format":"lifeboat-mongodb-restore-record","version":1,"backup":ID,
//    "target":ISO8601|null,"events":N,
//    "collections":[{"name":"DB.COLL","origin":"DB.COLL"|"","events":N,
//                    "samples":[{"id":ID_JSON,"state":"hash"|"absent"|"unknown",
//                                "sha256":HEX}]}],
//    "gone":["DB.COLL"]}
// "collections" lists the names events touched (their current name; origin: the backup
// collection whose documents they hold, "" when events created it); a backup collection not
// listed as an origin and not "gone" is untouched. "gone": backup collections whose documents no
// longer exist under any name (dropped). Unknown fields are ignored.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "repository/manifest.hpp"
#include "sources/mongodb/bson.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/time.hpp"

namespace lifeboat::mongodb_driver {

inline constexpr const char* k_restore_record_file = "restore-record.json";

enum class SampleState { hash, absent, unknown };

struct SampleFate {
    SampleState state = SampleState::unknown;
    std::string sha256;  // state hash: the document's expected SHA-256
    bool operator==(const SampleFate&) const = default;
};

struct CollectionFate {
    std::string name;    // "DB.COLL", where it is now
    std::string origin;  // the backup collection ("DB.COLL") it started as; "" = made by events
    std::uint64_t events = 0;                   // applied events that touched it (renames too)
    std::map<std::string, SampleFate> samples;  // by the sample's id JSON: the ones events touched
};

struct RestoreRecord {
    std::string backup_id;
    std::optional<Timestamp> target;
    std::uint64_t events = 0;
    std::vector<CollectionFate> collections;
    std::vector<std::string> gone;

    // Where the backup collection `ns` is now: its fate (nullptr when untouched or gone).
    const CollectionFate* fate_of(const std::string& ns) const;
    bool is_gone(const std::string& ns) const;
};

// One applied change event, as far as the record needs it.
struct ChangeSummary {
    std::string operation;  // operationType
    std::string ns;         // "DB.COLL" ("DB" for dropDatabase)
    std::string to;         // rename: "DB.COLL"
    std::string id_json;    // documentKey as {"_id": ...} in canonical extended JSON, or ""
    std::string full_hash;  // insert/replace: SHA-256 of fullDocument, or ""
};

// The fields of a change event the record needs; ErrorCode::corrupt without operationType.
Result<ChangeSummary> summarize_change(const mongodb::Bson& event);

class RestoreRecordBuilder {
  public:
    // Every collection of `backup` starts untouched under its own name.
    explicit RestoreRecordBuilder(const repo::Manifest& backup);
    void observe(const ChangeSummary& change);
    RestoreRecord finish(std::optional<Timestamp> target) const;

  private:
    std::string m_backup_id;
    std::vector<std::string> m_backup;  // the backup's collections, in manifest order
    std::map<std::string, std::set<std::string>> m_sampled;  // origin -> sampled id JSON
    std::map<std::string, CollectionFate> m_present;         // by current name
    std::uint64_t m_events = 0;
};

std::string restore_record_json(const RestoreRecord& record);
Result<RestoreRecord> parse_restore_record(std::string_view text, std::string_view what);
// Reads `dir`/k_restore_record_file; ErrorCode::not_found when there is none.
Result<RestoreRecord> read_restore_record(const fs::path& dir);

}  // namespace lifeboat::mongodb_driver
