#include "repository/manifest.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "repository/json_reader.hpp"
#include "repository/manifest_mongodb.hpp"
#include "repository/object.hpp"
#include "util/parallel.hpp"

namespace lifeboat::repo {

using nlohmann::json;

std::string manifest_key(const std::string& backup_id) {
    return "backups/" + backup_id;
}

namespace {

std::string type_name(EntryType t) {
    switch (t) {
        case EntryType::directory:
            return "dir";
        case EntryType::file:
            return "file";
        case EntryType::symlink:
            return "link";
    }
    return "file";
}

json entry_to_json(const ManifestEntry& e) {
    json j = {{"path", e.path}, {"type", type_name(e.type)}};
    if (e.type == EntryType::symlink) {
        j["target"] = e.link_target;
    } else {
        j["mode"] = e.mode;
    }
    if (e.type == EntryType::file) {
        j["size"] = e.size;
        j["mtime"] = e.mtime;
        if (e.mtime_nsec != 0) j["mtime_nsec"] = e.mtime_nsec;
        json blocks = json::array();
        for (const auto& b : e.blocks)
            blocks.push_back(b.hex());
        j["blocks"] = std::move(blocks);
    }
    return j;
}

// Everything but the entries, which manifest_text adds one at a time: a large backup's entries
// as one JSON tree took several times their text's size.
json to_json_without_entries(const Manifest& m) {
    const PostgresPhysicalPayload& pg = m.postgres;
    json tablespaces = json::array();
    for (const auto& t : pg.tablespaces)
        tablespaces.push_back({{"oid", t.oid}, {"location", t.location}});
    json failures = json::array();
    for (const auto& f : pg.page_checksum_failures)
        failures.push_back({{"path", f.path}, {"block", f.block}});
    json out = {
        {"format", 2},
        {"id", m.id},
        {"source",
         {{"kind", m.source.kind},
          {"identity", m.source.system_identifier},
          {"server_version", m.source.server_version}}},
        {"start_time", format_iso8601(m.start_time)},
        {"stop_time", format_iso8601(m.stop_time)},
        {"log",
         {{"branch", m.timeline},
          {"start", m.start_lsn},
          {"stop", m.stop_lsn},
          {"first_object", m.start_wal},
          {"last_object", m.stop_wal}}},
        {"tags", m.tags},
        {"stats",
         {{"files", m.stats.files},
          {"data_bytes", m.stats.data_bytes},
          {"stored_bytes", m.stats.stored_bytes},
          {"new_blocks", m.stats.new_blocks},
          {"reused_files", m.stats.reused_files},
          {"read_bytes", m.stats.read_bytes},
          {"duration_seconds", m.stats.duration_seconds}}},
        {"indexes", m.indexes},
        {"entries", json::array()},
    };
    if (m.source.kind == k_kind_postgres_physical) {
        out["postgres_physical"] = {{"pgdata", pg.pgdata},
                                    {"wal_segment_size", pg.wal_segment_size},
                                    {"data_checksums", pg.data_checksums},
                                    {"block_size", pg.block_size},
                                    {"backup_label", pg.backup_label},
                                    {"tablespace_map", pg.tablespace_map},
                                    {"tablespaces", std::move(tablespaces)},
                                    {"page_checksum_failures", std::move(failures)}};
        if (pg.files_from) out["postgres_physical"]["files_from"] = format_iso8601(*pg.files_from);
    } else if (m.source.kind == k_kind_postgres_logical) {
        const PostgresLogicalPayload& lg = m.logical;
        json tables = json::array();
        for (const auto& t : lg.tables)
            tables.push_back({{"schema", t.schema}, {"name", t.name}, {"path", t.path}});
        out["postgres_logical"] = {
            {"database", lg.database},        {"slot", lg.slot_name},
            {"snapshot", lg.snapshot_name},   {"pre_data", lg.pre_data_path},
            {"post_data", lg.post_data_path}, {"sequences", lg.sequences_path},
            {"tables", std::move(tables)}};
        if (!lg.roles_path.empty()) out["postgres_logical"]["roles"] = lg.roles_path;
    } else if (m.source.kind == k_kind_mongodb) {
        out["mongodb"] = mongo_payload_to_json(m.mongodb);
    }
    return out;
}

// PostgreSQL's own limits (sources/postgres/wal.hpp, is_valid_wal_segment_size): every WAL name
// computation divides by it, so a forged 0 must never reach them.
bool is_wal_segment_size(std::uint64_t size) {
    return size >= (1ull << 20) && size <= (1ull << 30) && (size & (size - 1)) == 0;
}

Result<ManifestEntry> entry_from_json(const JsonValue& e) {
    ManifestEntry entry;
    entry.path = LB_TRY(e.required<std::string>("path"));
    const JsonValue type_field = LB_TRY(e.field("type"));
    const std::string type = LB_TRY(type_field.as<std::string>());
    if (type == "dir") {
        entry.type = EntryType::directory;
    } else if (type == "link") {
        entry.type = EntryType::symlink;
        entry.link_target = LB_TRY(e.required<std::string>("target"));
    } else if (type == "file") {
        entry.type = EntryType::file;
        entry.size = LB_TRY(e.required<std::uint64_t>("size"));
        entry.mtime = LB_TRY(e.optional<std::int64_t>("mtime", 0));
        entry.mtime_nsec = LB_TRY(e.optional<std::int64_t>("mtime_nsec", 0));
        if (entry.mtime_nsec < 0 || entry.mtime_nsec > 999'999'999) {
            return std::unexpected(
                LB_TRY(e.field("mtime_nsec"))
                    .problem(fmt::format("{} is outside 0..999999999", entry.mtime_nsec)));
        }
        LB_CHECK(e.for_each_in("blocks", [&](const JsonValue& b) -> Status {
            auto id = BlockId::from_hex(LB_TRY(b.as<std::string>()));
            if (!id) return std::unexpected(b.problem("malformed block id"));
            entry.blocks.push_back(*id);
            return {};
        }));
    } else {
        return std::unexpected(type_field.problem(fmt::format("unknown entry type '{}'", type)));
    }
    entry.mode = LB_TRY(e.optional<std::uint32_t>("mode", 0600u));
    if (entry.mode > 07777) {
        return std::unexpected(
            LB_TRY(e.field("mode"))
                .problem(fmt::format("{:o} (octal) has bits beyond permissions", entry.mode)));
    }
    return entry;
}

// The postgres-physical payload: the "postgres_physical" object of v2, the top level (and the
// source object, for the first four fields) of v1.
Result<PostgresPhysicalPayload> postgres_payload_from_json(const JsonValue& facts,
                                                           const JsonValue& files) {
    PostgresPhysicalPayload pg;
    pg.pgdata = LB_TRY(facts.optional<std::string>("pgdata", ""));
    pg.wal_segment_size =
        LB_TRY(facts.optional<std::uint64_t>("wal_segment_size", 16 * 1024 * 1024));
    if (!is_wal_segment_size(pg.wal_segment_size)) {
        return std::unexpected(
            LB_TRY(facts.field("wal_segment_size"))
                .problem(fmt::format("{} is not a power of two from 1 MiB to 1 GiB",
                                     pg.wal_segment_size)));
    }
    pg.data_checksums = LB_TRY(facts.optional<bool>("data_checksums", false));
    pg.block_size = LB_TRY(facts.optional<std::uint32_t>("block_size", 8192u));
    pg.backup_label = LB_TRY(files.required<std::string>("backup_label"));
    pg.tablespace_map = LB_TRY(files.optional<std::string>("tablespace_map", ""));
    pg.files_from = LB_TRY(files.nullable<Timestamp>("files_from"));
    LB_CHECK(files.for_each_in_optional("tablespaces", [&](const JsonValue& t) -> Status {
        // One LB_TRY per statement (an early return from inside a braced initializer leaks).
        const auto oid = LB_TRY(t.required<std::uint32_t>("oid"));
        auto location = LB_TRY(t.required<std::string>("location"));
        pg.tablespaces.push_back({oid, std::move(location)});
        return {};
    }));
    LB_CHECK(
        files.for_each_in_optional("page_checksum_failures", [&](const JsonValue& f) -> Status {
            auto path = LB_TRY(f.required<std::string>("path"));
            const auto block = LB_TRY(f.required<std::uint64_t>("block"));
            pg.page_checksum_failures.push_back({std::move(path), block});
            return {};
        }));
    return pg;
}

// The postgres-logical payload: the "postgres_logical" object of v2. Every path it names must be
// one of the manifest's file entries (a restore reads them); not checked when `entries` is null
// (a header read).
Result<PostgresLogicalPayload> logical_payload_from_json(
    const JsonValue& j, const std::vector<ManifestEntry>* entries) {
    PostgresLogicalPayload lg;
    lg.database = LB_TRY(j.required<std::string>("database"));
    lg.slot_name = LB_TRY(j.required<std::string>("slot"));
    lg.snapshot_name = LB_TRY(j.required<std::string>("snapshot"));
    lg.pre_data_path = LB_TRY(j.required<std::string>("pre_data"));
    lg.post_data_path = LB_TRY(j.required<std::string>("post_data"));
    lg.sequences_path = LB_TRY(j.required<std::string>("sequences"));
    lg.roles_path = LB_TRY(j.nullable<std::string>("roles")).value_or("");
    LB_CHECK(j.for_each_in("tables", [&](const JsonValue& t) -> Status {
        LogicalTable table;
        table.schema = LB_TRY(t.required<std::string>("schema"));
        table.name = LB_TRY(t.required<std::string>("name"));
        table.path = LB_TRY(t.required<std::string>("path"));
        lg.tables.push_back(std::move(table));
        return {};
    }));
    if (entries == nullptr) return lg;
    auto is_file_entry = [&](const std::string& path) {
        return std::any_of(entries->begin(), entries->end(), [&](const ManifestEntry& e) {
            return e.type == EntryType::file && e.path == path;
        });
    };
    for (const auto* field : {"pre_data", "post_data", "sequences"}) {
        const std::string path = LB_TRY(j.required<std::string>(field));
        if (!is_file_entry(path)) {
            return std::unexpected(
                LB_TRY(j.field(field))
                    .problem(fmt::format("'{}' is not a file entry of the backup", path)));
        }
    }
    if (!lg.roles_path.empty() && !is_file_entry(lg.roles_path)) {
        return std::unexpected(
            LB_TRY(j.field("roles"))
                .problem(fmt::format("'{}' is not a file entry of the backup", lg.roles_path)));
    }
    for (const auto& t : lg.tables) {
        if (!is_file_entry(t.path)) {
            return std::unexpected(LB_TRY(j.field("tables"))
                                       .problem(fmt::format("table {}.{}: '{}' is not a file "
                                                            "entry of the backup",
                                                            t.schema, t.name, t.path)));
        }
    }
    return lg;
}

// The kind-neutral part, the same in v1 and v2. The entries were streamed (parse_manifest):
// `entries` are they, and the document's array is empty.
Status common_from_json(const JsonValue& j, Manifest& m, std::vector<ManifestEntry> entries) {
    m.id = LB_TRY(j.required<std::string>("id"));
    m.start_time = LB_TRY(j.required<Timestamp>("start_time"));
    m.stop_time = LB_TRY(j.required<Timestamp>("stop_time"));
    m.tags = LB_TRY(j.optional_string_map("tags"));
    if (const auto st = LB_TRY(j.optional_field("stats"))) {
        m.stats.files = LB_TRY(st->optional<std::uint64_t>("files", 0));
        m.stats.data_bytes = LB_TRY(st->optional<std::uint64_t>("data_bytes", 0));
        m.stats.stored_bytes = LB_TRY(st->optional<std::uint64_t>("stored_bytes", 0));
        m.stats.new_blocks = LB_TRY(st->optional<std::uint64_t>("new_blocks", 0));
        m.stats.reused_files = LB_TRY(st->optional<std::uint64_t>("reused_files", 0));
        m.stats.read_bytes = LB_TRY(st->optional<std::uint64_t>("read_bytes", 0));
        m.stats.duration_seconds = LB_TRY(st->optional<double>("duration_seconds", 0.0));
    }
    LB_CHECK(j.for_each_in_optional("indexes", [&](const JsonValue& i) -> Status {
        m.indexes.push_back(LB_TRY(i.as<std::string>()));
        return {};
    }));
    // The array itself must be there.
    LB_CHECK(j.for_each_in("entries", [](const JsonValue&) -> Status { return {}; }));
    m.entries = std::move(entries);
    return {};
}

// Version 1: a physical PostgreSQL backup with its facts at the top level (kind "postgres").
Result<Manifest> from_json_v1(const JsonValue& j, std::vector<ManifestEntry> entries) {
    Manifest m;
    m.format_version = 1;
    LB_CHECK(common_from_json(j, m, std::move(entries)));
    const JsonValue s = LB_TRY(j.field("source"));
    const std::string kind = LB_TRY(s.required<std::string>("kind"));
    if (kind != "postgres") {
        return std::unexpected(
            LB_TRY(s.field("kind")).problem(fmt::format("unknown v1 source kind '{}'", kind)));
    }
    m.source.kind = std::string(k_kind_postgres_physical);
    m.source.system_identifier = LB_TRY(s.optional<std::string>("system_identifier", ""));
    m.source.server_version = LB_TRY(s.optional<int>("server_version", 0));
    m.start_lsn = LB_TRY(j.required<std::string>("start_lsn"));
    m.stop_lsn = LB_TRY(j.required<std::string>("stop_lsn"));
    // Timeline 0 does not exist: PostgreSQL numbers them from 1.
    m.timeline = LB_TRY(j.required_in<std::uint32_t>("timeline", 1, UINT32_MAX));
    m.start_wal = LB_TRY(j.required<std::string>("start_wal"));
    m.stop_wal = LB_TRY(j.required<std::string>("stop_wal"));
    m.postgres = LB_TRY(postgres_payload_from_json(s, j));
    return m;
}

Result<Manifest> from_json_v2(const JsonValue& j, std::vector<ManifestEntry> entries,
                              ManifestParts parts) {
    Manifest m;
    m.format_version = 2;
    LB_CHECK(common_from_json(j, m, std::move(entries)));
    const JsonValue s = LB_TRY(j.field("source"));
    m.source.kind = LB_TRY(s.required<std::string>("kind"));
    m.source.system_identifier = LB_TRY(s.required<std::string>("identity"));
    m.source.server_version = LB_TRY(s.optional<int>("server_version", 0));
    const JsonValue log = LB_TRY(j.field("log"));
    m.timeline = LB_TRY(log.required_in<std::uint32_t>("branch", 1, UINT32_MAX));
    m.start_lsn = LB_TRY(log.required<std::string>("start"));
    m.stop_lsn = LB_TRY(log.required<std::string>("stop"));
    m.start_wal = LB_TRY(log.required<std::string>("first_object"));
    m.stop_wal = LB_TRY(log.required<std::string>("last_object"));
    // The payload's references to entries are checked against entries that were read.
    const std::vector<ManifestEntry>* read_entries =
        parts == ManifestParts::whole ? &m.entries : nullptr;
    if (m.source.kind == k_kind_postgres_logical) {
        const JsonValue lg = LB_TRY(j.field("postgres_logical"));
        m.logical = LB_TRY(logical_payload_from_json(lg, read_entries));
        return m;
    }
    if (m.source.kind == k_kind_mongodb) {
        const JsonValue mongo = LB_TRY(j.field("mongodb"));
        m.mongodb = LB_TRY(mongo_payload_from_json(mongo, read_entries));
        return m;
    }
    if (m.source.kind != k_kind_postgres_physical) {
        return std::unexpected(
            LB_TRY(s.field("kind"))
                .problem(fmt::format(
                    "source kind '{}' is not known to this Lifeboat (it restores {}, {} and {})",
                    m.source.kind, k_kind_postgres_physical, k_kind_postgres_logical,
                    k_kind_mongodb)));
    }
    const JsonValue pg = LB_TRY(j.field("postgres_physical"));
    m.postgres = LB_TRY(postgres_payload_from_json(pg, pg));
    return m;
}

// The manifest of envelope `version` from its parsed document and its streamed entries.
Result<Manifest> manifest_from_json(std::uint32_t version, const JsonValue& j,
                                    std::vector<ManifestEntry> entries, ManifestParts parts) {
    if (version == 1) return from_json_v1(j, std::move(entries));
    return from_json_v2(j, std::move(entries), parts);
}

}  // namespace

std::optional<std::uint32_t> tablespace_link_oid(std::string_view path) {
    constexpr std::string_view prefix = "pg_tblspc/";
    if (!path.starts_with(prefix)) return std::nullopt;
    const std::string_view digits = path.substr(prefix.size());
    if (digits.empty() || digits.size() > 10 || digits.front() == '0') return std::nullopt;
    std::uint32_t oid = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), oid);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return oid;
}

namespace {

// Files restore writes itself, and pg_wal, which recovery fills: a link there would make restore
// or the restored server write wherever it points.
constexpr std::string_view k_names_restore_writes[] = {"backup_label",
                                                       "tablespace_map",
                                                       "recovery.signal",
                                                       "standby.signal",
                                                       "postgresql.conf",
                                                       "pg_hba.conf",
                                                       "pg_ident.conf",
                                                       "postgresql.auto.conf",
                                                       "lifeboat-restore.log",
                                                       "pg_wal",
                                                       "postmaster.pid",
                                                       "postmaster.opts",
                                                       "pg_tblspc",
                                                       "global",
                                                       "base",
                                                       "PG_VERSION"};

std::optional<std::string> path_problem(std::string_view path) {
    if (path.empty()) return "empty path";
    if (path.size() > 4095) return "path longer than PATH_MAX";
    if (path.find('\0') != std::string_view::npos) return "path contains a NUL byte";
    if (path.front() == '/') return "absolute path";
    std::size_t start = 0;
    for (;;) {
        const std::size_t slash = path.find('/', start);
        const std::string_view part =
            path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
        if (part.empty()) return "empty path component";
        if (part == ".") return "'.' path component";
        if (part == "..") return "'..' path component";
        if (part.size() > 255) return "path component longer than NAME_MAX";
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return std::nullopt;
}

}  // namespace

std::vector<UnsafeEntry> find_unsafe_entries(const Manifest& manifest) {
    std::vector<UnsafeEntry> out;
    std::set<std::uint32_t> tablespaces;
    for (const auto& t : manifest.postgres.tablespaces)
        tablespaces.insert(t.oid);
    // Every valid path and its type, to judge what lies below what.
    std::unordered_map<std::string_view, EntryType> types;
    for (const auto& e : manifest.entries) {
        if (auto problem = path_problem(e.path)) {
            out.push_back({e.path, *problem});
            continue;
        }
        if (!types.emplace(e.path, e.type).second) out.push_back({e.path, "duplicate path"});
    }
    for (const auto& e : manifest.entries) {
        if (path_problem(e.path)) continue;
        // The nearest enclosing entry that is not a directory decides.
        for (std::size_t slash = e.path.find('/'); slash != std::string::npos;
             slash = e.path.find('/', slash + 1)) {
            const std::string_view parent = std::string_view(e.path).substr(0, slash);
            auto it = types.find(parent);
            if (it == types.end() || it->second == EntryType::directory) continue;
            if (it->second == EntryType::symlink && tablespace_link_oid(parent)) continue;
            out.push_back(
                {e.path, fmt::format("lies below {} {}",
                                     it->second == EntryType::file ? "file" : "link", parent)});
            break;
        }
        if (e.type == EntryType::symlink) {
            if (const auto oid = tablespace_link_oid(e.path)) {
                if (!tablespaces.contains(*oid))
                    out.push_back({e.path, fmt::format("link for unknown tablespace {}", *oid)});
            } else if (std::find(std::begin(k_names_restore_writes),
                                 std::end(k_names_restore_writes),
                                 e.path) != std::end(k_names_restore_writes)) {
                out.push_back({e.path, "a link where restore or recovery writes"});
            } else if (e.path.starts_with("pg_tblspc/") &&
                       e.path.find('/', std::string_view("pg_tblspc/").size()) ==
                           std::string::npos) {
                out.push_back({e.path, "a link in pg_tblspc that is not a tablespace"});
            }
            if (e.link_target.empty() || e.link_target.find('\0') != std::string::npos ||
                e.link_target.size() > 4095) {
                out.push_back({e.path, "invalid link target"});
            }
        } else if ((e.mode & 07000) != 0) {
            out.push_back({e.path, fmt::format("mode {:04o} has setuid, setgid or sticky bits",
                                               e.mode & 07777)});
        }
    }
    return out;
}

Status check_entries_safe(const Manifest& manifest) {
    const auto unsafe = find_unsafe_entries(manifest);
    if (unsafe.empty()) return {};
    std::string path = unsafe.front().path;
    for (char& c : path)
        if (static_cast<unsigned char>(c) < 0x20) c = '?';  // one line, whatever the path holds
    return fail(ErrorCode::corrupt,
                "backup {}: refusing to restore: entry '{}': {}{} (no backup writes such an "
                "entry: the manifest is forged or damaged; nothing was restored)",
                manifest.id, path, unsafe.front().reason,
                unsafe.size() > 1 ? fmt::format(", and {} more unsafe entries", unsafe.size() - 1)
                                  : std::string());
}

namespace {

// The manifest's JSON text, the same as one tree's dump(): keys in order, so the (empty) entries
// array opens the text, and the entries are written into it one by one.
std::string manifest_text(const Manifest& manifest) {
    std::string rest = to_json_without_entries(manifest).dump();
    constexpr std::string_view head = "{\"entries\":[]";
    if (!rest.starts_with(head)) return {};
    std::string text = "{\"entries\":[";
    for (std::size_t i = 0; i < manifest.entries.size(); ++i) {
        if (i != 0) text += ',';
        text += entry_to_json(manifest.entries[i]).dump();
    }
    text += ']';
    text.append(rest, head.size());
    return text;
}

}  // namespace

Status write_manifest(Storage& storage, const Manifest& manifest) {
    const std::string text = manifest_text(manifest);
    if (text.empty())
        return fail(ErrorCode::internal, "manifest {}: cannot serialise", manifest.id);
    const std::string object =
        LB_TRY(encode_object(ObjectKind::manifest, text, PayloadCompression::zstd));
    return storage.write(manifest_key(manifest.id), object, Overwrite::never);
}

Status check_backup_id(const std::string& backup_id) {
    const bool valid =
        !backup_id.empty() && backup_id.size() <= 128 && backup_id.front() != '.' &&
        std::all_of(backup_id.begin(), backup_id.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
        });
    if (!valid) {
        std::string shown;
        for (const char c : backup_id.substr(0, 128))
            shown += static_cast<unsigned char>(c) < 0x20 ? '?' : c;
        return fail(ErrorCode::usage,
                    "invalid backup id '{}': ids look like 20260131T020000Z (`lifeboat list` shows "
                    "them)",
                    shown);
    }
    return {};
}

namespace {

Result<std::string> read_manifest_object(const Storage& storage, const std::string& backup_id) {
    LB_CHECK(check_backup_id(backup_id));
    auto bytes = storage.read(manifest_key(backup_id));
    if (!bytes && bytes.error().code == ErrorCode::not_found)
        return fail(ErrorCode::not_found, "no backup '{}' in the repository", backup_id);
    return bytes;
}

Result<Manifest> decode_manifest(const std::string& bytes, const std::string& backup_id,
                                 ManifestParts parts) {
    const std::string key = manifest_key(backup_id);
    const std::string text = LB_TRY(decode_object(bytes, ObjectKind::manifest, key));
    return parse_manifest(text, key, object_version(bytes), parts);
}

}  // namespace

Result<Manifest> read_manifest(const Storage& storage, const std::string& backup_id) {
    const std::string bytes = LB_TRY(read_manifest_object(storage, backup_id));
    return decode_manifest(bytes, backup_id, ManifestParts::whole);
}

namespace {

// The header of a manifest laid out as manifest_text writes it (the entries array opens the
// text): the array is skipped by its brackets, unparsed, and the rest parsed as one document.
// nullopt for any other layout (a hand-made or older manifest), which the streaming parse reads.
std::optional<Result<Manifest>> parse_header_as_written(std::string_view text, std::string_view key,
                                                        std::uint32_t version) {
    constexpr std::string_view head = "{\"entries\":";
    if (!text.starts_with(head)) return std::nullopt;
    const auto end = end_of_array(text, head.size());
    if (!end) return std::nullopt;
    std::string header(head);
    header += "[]";
    header.append(text.substr(*end));
    auto doc = JsonDocument::parse(header, key, "manifest");
    if (!doc) return std::unexpected(doc.error());
    return manifest_from_json(version, doc->root(), {}, ManifestParts::header);
}

}  // namespace

Result<Manifest> parse_manifest(std::string_view text, std::string_view key, std::uint32_t version,
                                ManifestParts parts) {
    if (parts == ManifestParts::header) {
        auto header = parse_header_as_written(text, key, version);
        if (!header) {
            // Another layout: streamed, each entry dropped unread.
            const JsonDocument doc = LB_TRY(JsonDocument::parse_streaming(
                text, key, "manifest", "entries", [](const JsonValue&) -> Status { return {}; }));
            header = manifest_from_json(version, doc.root(), {}, parts);
        }
        if (*header) (*header)->entries_read = false;
        return std::move(*header);
    }
    // Streamed: a large backup's entries hold hundreds of thousands of block ids, whose whole
    // parsed tree took several times the text's size.
    std::vector<ManifestEntry> entries;
    const JsonDocument doc = LB_TRY(JsonDocument::parse_streaming(
        text, key, "manifest", "entries", [&](const JsonValue& e) -> Status {
            entries.push_back(LB_TRY(entry_from_json(e)));
            return {};
        }));
    return manifest_from_json(version, doc.root(), std::move(entries), parts);
}

Result<std::vector<std::string>> list_backup_ids(const Storage& storage) {
    const auto objects = LB_TRY(storage.list("backups"));
    std::vector<std::string> ids;
    for (const auto& o : objects)
        ids.push_back(o.key.substr(o.key.rfind('/') + 1));
    std::sort(ids.begin(), ids.end());
    return ids;
}

namespace {

// Every manifest named in `ids`, read several at once (a repository far away answers each read
// after a round trip; many backups would otherwise cost as many round trips one after the other).
// The results are in the order of `ids`.
// The stored objects are read a batch at a time; each is decoded and parsed alone, so that one
// decoded manifest (several MiB of text for a large backup) is held at a time.
std::vector<Result<Manifest>> read_manifests_in_parallel(const Storage& storage,
                                                         const std::vector<std::string>& ids,
                                                         ManifestParts parts) {
    std::vector<Result<Manifest>> out;
    out.reserve(ids.size());
    const auto threads = static_cast<unsigned>(
        std::min<std::size_t>(ids.size(), std::max(1u, storage.features().io_depth)));
    const std::size_t batch = std::max(1u, threads);
    for (std::size_t first = 0; first < ids.size(); first += batch) {
        const std::size_t count = std::min(batch, ids.size() - first);
        std::vector<Result<std::string>> stored(count);
        (void)parallel_for(count, batch, [&](std::size_t i, unsigned) -> Status {
            stored[i] = read_manifest_object(storage, ids[first + i]);
            return {};
        });
        for (std::size_t i = 0; i < count; ++i) {
            if (!stored[i]) {
                out.push_back(std::unexpected(stored[i].error()));
                continue;
            }
            out.push_back(decode_manifest(*stored[i], ids[first + i], parts));
            stored[i] = std::string();
        }
    }
    return out;
}

}  // namespace

Result<std::vector<Manifest>> read_all_manifests(const Storage& storage) {
    std::vector<Manifest> out;
    const std::vector<std::string> ids = LB_TRY(list_backup_ids(storage));
    for (auto& manifest : read_manifests_in_parallel(storage, ids, ManifestParts::whole))
        out.push_back(LB_TRY(std::move(manifest)));
    std::sort(out.begin(), out.end(),
              [](const Manifest& a, const Manifest& b) { return a.start_time < b.start_time; });
    return out;
}

Result<ManifestSet> read_manifests(const Storage& storage, ManifestParts parts) {
    ManifestSet set;
    const std::vector<std::string> ids = LB_TRY(list_backup_ids(storage));
    auto manifests = read_manifests_in_parallel(storage, ids, parts);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const std::string& id = ids[i];
        auto& manifest = manifests[i];
        if (manifest) {
            set.backups.push_back(std::move(*manifest));
        } else if (manifest.error().code == ErrorCode::corrupt ||
                   manifest.error().code == ErrorCode::usage) {  // a stray object, not a backup
            set.damaged.push_back(damaged_object(manifest_key(id), manifest.error()));
        } else if (manifest.error().code != ErrorCode::not_found) {  // removed meanwhile
            return std::unexpected(manifest.error());
        }
    }
    std::sort(set.backups.begin(), set.backups.end(),
              [](const Manifest& a, const Manifest& b) { return a.start_time < b.start_time; });
    return set;
}

}  // namespace lifeboat::repo
