// Backup manifests (docs/repository-format.md, "MNFT"): everything needed to restore one backup.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "repository/block.hpp"
#include "repository/object.hpp"
#include "storage/storage.hpp"
#include "util/time.hpp"

namespace lifeboat::repo {

enum class EntryType { directory, file, symlink };

struct ManifestEntry {
    std::string path;  // relative to the data directory
    EntryType type = EntryType::file;
    std::uint32_t mode = 0600;
    std::uint64_t size = 0;
    std::int64_t mtime = 0;  // seconds since the Unix epoch
    std::string link_target;
    std::vector<BlockId> blocks;
    std::int64_t mtime_nsec = 0;  // sub-second part (0 on file systems without it)
};

struct Tablespace {
    std::uint32_t oid = 0;
    std::string location;
};

struct PageChecksumFailure {
    std::string path;
    std::uint64_t block = 0;
};

// The source kinds (docs/repository-format.md, "Source kinds"). A repository holds backups of
// one source; the kind says which driver made a backup and which payload its manifest carries.
inline constexpr std::string_view k_kind_postgres_physical = "postgres-physical";
inline constexpr std::string_view k_kind_postgres_logical = "postgres-logical";
inline constexpr std::string_view k_kind_mongodb = "mongodb";

struct SourceInfo {
    std::string kind = std::string(k_kind_postgres_physical);
    // The source's identity: a repository refuses backups of another source (PostgreSQL: the
    // system identifier, decimal).
    std::string system_identifier;
    int server_version = 0;
};

struct BackupStats {
    std::uint64_t files = 0;
    std::uint64_t data_bytes = 0;
    std::uint64_t stored_bytes = 0;
    std::uint64_t new_blocks = 0;
    std::uint64_t reused_files = 0;  // taken unchanged from the previous backup
    std::uint64_t read_bytes = 0;    // bytes actually read from the source
    double duration_seconds = 0;
};

// The payload of a postgres-physical backup: what only a data-directory copy has.
struct PostgresPhysicalPayload {
    std::string pgdata;
    std::uint64_t wal_segment_size = 16 * 1024 * 1024;
    bool data_checksums = false;
    std::uint32_t block_size = 8192;
    std::string backup_label;
    std::string tablespace_map;
    std::vector<Tablespace> tablespaces;
    std::vector<PageChecksumFailure> page_checksum_failures;
    // When the backup started reading files: after pg_backup_start's checkpoint and a pause of the
    // timestamp margin, so that files that checkpoint wrote count as changed before it (the next
    // incremental's size-and-time rule). Absent in older manifests: start_time is used.
    std::optional<Timestamp> files_from;
};

// One table of a postgres-logical backup: its data is the entry at `path` (COPY binary format).
struct LogicalTable {
    std::string schema;
    std::string name;
    std::string path;
    bool operator==(const LogicalTable&) const = default;
};

// The payload of a postgres-logical backup: an exported snapshot of one database, taken when a
// logical replication slot was created (its consistent point is the manifest's log start and
// stop). Entries: the schema (pg_dump sections) and one COPY per table.
struct PostgresLogicalPayload {
    std::string database;        // the database copied
    std::string slot_name;       // the logical slot whose consistent point this is
    std::string snapshot_name;   // the exported snapshot everything was read under
    std::string pre_data_path;   // entry: pg_dump --section=pre-data
    std::string post_data_path;  // entry: pg_dump --section=post-data
    std::string sequences_path;  // entry: setval() of every sequence at the snapshot
    // entry: pg_dumpall --roles-only --no-role-passwords ("" in backups made before it)
    std::string roles_path;
    std::vector<LogicalTable> tables;
};

// One sampled document of a collection: its _id and the SHA-256 of its BSON bytes, as dumped.
struct MongoSample {
    std::string id_json;  // {"_id": ...} in canonical extended JSON
    std::string sha256;   // hex
    bool operator==(const MongoSample&) const = default;
};

// One collection or view of a mongodb backup. Options and index specifications are kept in
// canonical extended JSON so every BSON type survives the JSON manifest.
struct MongoCollection {
    std::string database;
    std::string name;
    std::string type = "collection";  // "collection" or "view"
    std::string options_json;         // listCollections' options document
    std::string indexes_json;         // {"indexes": [listIndexes' specifications]}
    std::string path;                 // entry holding the documents ("" for a view)
    std::uint64_t documents = 0;      // documents dumped
    std::vector<MongoSample> samples;
    // How many _id ranges the documents were dumped in, on parallel connections (1: one find);
    // the entry holds the ranges one after another either way.
    std::uint64_t ranges = 1;
    bool operator==(const MongoCollection&) const = default;
};

// The payload of a mongodb backup: every collection dumped (documents as BSON in its entry),
// and where the change stream stood when the dump began and ended ("" when the server has no
// change streams: then the backup restores to itself only).
struct MongoPayload {
    std::string resume_token_start;  // canonical extended JSON of the resume token
    std::string resume_token_stop;
    std::vector<MongoCollection> collections;
};

struct Manifest {
    std::string id;
    SourceInfo source;
    Timestamp start_time;
    Timestamp stop_time;
    // Where the backup lies in its source's log (v2: the "log" object). Every kind has a branch
    // (PostgreSQL: the timeline; 1 for kinds without branches), start and stop positions (LSNs)
    // and the first and last log objects a restore of the backup needs (WAL file names).
    std::uint32_t timeline = 1;
    std::string start_lsn;
    std::string stop_lsn;
    std::string start_wal;
    std::string stop_wal;
    std::map<std::string, std::string> tags;
    BackupStats stats;
    std::vector<std::string> indexes;
    // Content, kind-neutral: paths with blocks (a data directory, dumped collections, copied
    // tables).
    std::vector<ManifestEntry> entries;
    // The kind's payload: set when source.kind is postgres-physical (every v1 manifest). A new
    // kind adds its own payload member here and its own section in the format document.
    PostgresPhysicalPayload postgres;
    // Set when source.kind is postgres-logical.
    PostgresLogicalPayload logical;
    // Set when source.kind is mongodb.
    MongoPayload mongodb;
    // The envelope version it was read from (1 or 2); written as current_version.
    std::uint32_t format_version = 2;
    // False when only the header was read (ManifestParts::header): `entries` is empty then,
    // whatever the backup holds.
    bool entries_read = true;
};

// What of a manifest a reader parses: all of it, or its header (everything but the entries,
// which are most of its text: what list, the window and the choice of a backup need). A header
// read skips the entries unparsed, so what they hold is not checked, nor are the payload's
// references to them; a whole read checks both.
enum class ManifestParts { whole, header };

std::string manifest_key(const std::string& backup_id);
// ErrorCode::usage unless `backup_id` could name a backup: letters, digits, '_', '-', '.', not
// starting with '.' (so never a path such as "../x").
Status check_backup_id(const std::string& backup_id);

// An entry a restore must not materialise as it stands (docs/repository-format.md, "Entry
// safety"): a path that is empty, absolute, has an empty, "." or ".." component, a NUL, or lies
// below a link (other than a tablespace link, whose contents restore places itself) or below a
// file; a duplicate path; a tablespace link with no tablespace; a link where restore writes its
// own files; a mode with setuid, setgid or sticky bits. None of these comes from a real backup.
struct UnsafeEntry {
    std::string path;
    std::string reason;
};
std::vector<UnsafeEntry> find_unsafe_entries(const Manifest& manifest);
// The first unsafe entry as an ErrorCode::corrupt error naming the backup and the entry.
Status check_entries_safe(const Manifest& manifest);
// The tablespace oid when `path` is "pg_tblspc/<oid>" (a tablespace link's place).
std::optional<std::uint32_t> tablespace_link_oid(std::string_view path);

// Publishes the manifest (never replacing an existing one).
Status write_manifest(Storage& storage, const Manifest& manifest);
Result<Manifest> read_manifest(const Storage& storage, const std::string& backup_id);
// Parses the payload of manifest `key` (the JSON text, envelope already checked) written with
// envelope `version` (1: the v1 layout; 2: source, log and per-kind payload): types and
// ranges checked (timeline >= 1, wal_segment_size a power of two from 1 MiB to 1 GiB, mode
// <= 07777, mtime_nsec < 10^9, times in range, block ids 64 hex digits); ErrorCode::corrupt
// naming the key and the field otherwise. An entry point for fuzzing.
Result<Manifest> parse_manifest(std::string_view text, std::string_view key, std::uint32_t version,
                                ManifestParts parts = ManifestParts::whole);
// Every published backup, oldest first. Fails on the first unreadable manifest.
Result<std::vector<Manifest>> read_all_manifests(const Storage& storage);
Result<std::vector<std::string>> list_backup_ids(const Storage& storage);

struct ManifestSet {
    std::vector<Manifest> backups;       // oldest first
    std::vector<DamagedObject> damaged;  // manifests that failed their checks, by key
};
// Every published backup, oldest first, carrying on past damaged manifests (ErrorCode::corrupt),
// which are listed in `damaged`: one damaged manifest must not hide the other backups. Any other
// failure (storage I/O) fails the call. With ManifestParts::header only the headers are read
// (entries_read false): read_manifest gives a chosen backup whole.
Result<ManifestSet> read_manifests(const Storage& storage,
                                   ManifestParts parts = ManifestParts::whole);

}  // namespace lifeboat::repo
