#include "drivers/postgres_logical/base_backup.hpp"

#include <atomic>
#include <cctype>
#include <mutex>

#include "drivers/postgres_logical/block_cutter.hpp"
#include "drivers/postgres_logical/preflight.hpp"
#include "drivers/postgres_logical/setup.hpp"
#include "drivers/postgres_logical/table_ranges.hpp"
#include "sources/postgres/connection.hpp"
#include "sources/postgres/local_server.hpp"
#include "util/parallel.hpp"
#include "util/process.hpp"

namespace lifeboat::postgres_logical {

namespace {

struct TableToCopy {
    std::string schema;
    std::string name;
    std::string qualified;  // quoted for SQL
    std::uint64_t relation_bytes = 0;
    std::uint64_t block_bytes = 8192;
};

// One COPY of the base backup: a whole table, or one block range of a large one.
struct CopyUnit {
    std::size_t table = 0;  // index into the tables
    BlockRange range;
    std::string path;  // the entry
};

std::vector<CopyUnit> plan_copies(const std::vector<TableToCopy>& tables,
                                  std::uint64_t split_bytes) {
    std::vector<CopyUnit> out;
    for (std::size_t i = 0; i < tables.size(); ++i) {
        const auto& t = tables[i];
        const auto ranges = plan_block_ranges(t.relation_bytes, t.block_bytes, split_bytes);
        if (ranges.size() == 1) {
            out.push_back({i, ranges.front(), table_entry_path(t.schema, t.name)});
            continue;
        }
        for (std::size_t r = 0; r < ranges.size(); ++r)
            out.push_back({i, ranges[r], table_piece_path(t.schema, t.name, r)});
    }
    return out;
}

// What one entry became in the repository.
struct StoredEntry {
    std::uint64_t size = 0;
    std::vector<repo::BlockId> blocks;
};

// Opens a connection that sees exactly what the exported snapshot `snapshot` saw.
Result<postgres::Connection> open_in_snapshot(const source::BaseBackupRequest& request,
                                              const std::string& snapshot) {
    postgres::Connection conn = LB_TRY(
        postgres::Connection::open(request.conninfo, {.statement = request.statement_timeout}));
    LB_CHECK(conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"));
    LB_CHECK(conn.execute("SET TRANSACTION SNAPSHOT " + conn.quote_literal(snapshot)));
    return conn;
}

Result<std::vector<TableToCopy>> list_tables(postgres::Connection& conn) {
    // Leaf tables only: a partitioned table's rows are copied through its partitions.
    auto rows = LB_TRY(conn.query(
        "SELECT n.nspname, c.relname, quote_ident(n.nspname) || '.' || quote_ident(c.relname), "
        "pg_relation_size(c.oid), current_setting('block_size') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' AND c.relpersistence = 'p' "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
        "AND d.objid = c.oid AND d.deptype = 'e') ORDER BY 1, 2"));
    std::vector<TableToCopy> out;
    for (std::size_t r = 0; r < rows.rows(); ++r) {
        out.push_back({rows.text(r, 0), rows.text(r, 1), rows.text(r, 2),
                       std::stoull(rows.text(r, 3)), std::stoull(rows.text(r, 4))});
    }
    return out;
}

// setval() statements restoring every sequence to its value at the snapshot.
Result<std::string> sequence_values(postgres::Connection& conn) {
    auto sequences = LB_TRY(conn.query(
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
        "AND d.objid = c.oid AND d.deptype = 'e') ORDER BY 1"));
    std::string out = "-- Sequence values at the backup's snapshot (written by lifeboat backup).\n";
    for (std::size_t r = 0; r < sequences.rows(); ++r) {
        const std::string name = sequences.text(r, 0);
        auto value = LB_TRY(conn.query("SELECT last_value, is_called FROM " + name));
        out += fmt::format("SELECT pg_catalog.setval({}, {}, {});\n", conn.quote_literal(name),
                           value.text(0, 0), value.text(0, 1) == "t" ? "true" : "false");
    }
    return out;
}

Result<StoredEntry> store_text(source::ContentSink& sink, std::string_view text) {
    BlockCutter cutter(sink.block_size(),
                       [&](std::string_view block) { return sink.store(block, 0); });
    LB_CHECK(cutter.add(text));
    LB_CHECK(cutter.finish());
    return StoredEntry{cutter.size(), cutter.blocks()};
}

// The last line of a failed dump program's output: the reason.
std::string dump_failure(std::string reason) {
    while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' '))
        reason.pop_back();
    if (auto nl = reason.rfind('\n'); nl != std::string::npos) reason.erase(0, nl + 1);
    return reason;
}

// pg_dumpall --roles-only --no-role-passwords: the roles, their attributes, memberships and
// settings, without passwords (which a role that is not a superuser cannot read, and which a
// backup should not carry). Tablespaces are left out: their locations are the source host's.
Result<std::string> dump_roles(const source::BaseBackupRequest& request, const fs::path& pg_dumpall,
                               const fs::path& scratch) {
    const fs::path out = scratch / "roles.sql";
    auto run = LB_TRY(
        run_process({pg_dumpall.string(), "--roles-only", "--no-role-passwords", "--no-comments",
                     "--no-security-labels", "-f", out.string(), "-d", request.conninfo},
                    {.merge_stderr = true}));
    if (run.exit_status != 0) {
        return fail(ErrorCode::database, "pg_dumpall --roles-only failed (exit {}): {}",
                    run.exit_status, dump_failure(run.output));
    }
    return read_file(out);
}

// pg_dump of one section under the snapshot, with ownership and grants (a restore loads those
// last and lets them fail one by one: dump_filter.hpp, split_ownership). The role need not be a
// superuser.
Result<std::string> dump_section(const source::BaseBackupRequest& request, const fs::path& pg_dump,
                                 const fs::path& scratch, const std::string& snapshot,
                                 std::string_view section) {
    const fs::path out = scratch / fmt::format("{}.sql", section);
    auto run = LB_TRY(run_process(
        {pg_dump.string(), "--section=" + std::string(section), "--snapshot=" + snapshot,
         "--no-publications", "--no-subscriptions", "--no-security-labels", "--no-comments", "-f",
         out.string(), "-d", request.conninfo},
        {.merge_stderr = true}));
    if (run.exit_status != 0) {
        return fail(ErrorCode::database, "pg_dump --section={} failed (exit {}): {}", section,
                    run.exit_status, dump_failure(run.output));
    }
    return read_file(out);
}

repo::ManifestEntry file_entry(std::string path, StoredEntry stored, Timestamp when) {
    repo::ManifestEntry e;
    e.path = std::move(path);
    e.type = repo::EntryType::file;
    e.mode = 0600;
    e.size = stored.size;
    e.blocks = std::move(stored.blocks);
    e.mtime = when.micros / 1'000'000;
    return e;
}

repo::ManifestEntry directory_entry(std::string path, Timestamp when) {
    repo::ManifestEntry e;
    e.path = std::move(path);
    e.type = repo::EntryType::directory;
    e.mode = 0700;
    e.mtime = when.micros / 1'000'000;
    return e;
}

class LogicalBaseBackup final : public source::BaseBackup {
  public:
    LogicalBaseBackup(source::BaseBackupRequest request, postgres::Connection replication,
                      repo::SourceInfo source_info, std::string database, SourceFacts facts)
        : m_request(std::move(request)),
          m_replication(std::move(replication)),
          m_source(std::move(source_info)),
          m_database(std::move(database)),
          m_facts(std::move(facts)) {}

    const repo::SourceInfo& source() const override { return m_source; }

    Result<source::BaseBackupResult> copy(const repo::Manifest* previous, source::ContentSink& sink,
                                          const OperationContext& ctx) override;

  private:
    // The slot, created afresh: its exported snapshot and consistent point.
    struct Slot {
        std::string name, consistent_point, snapshot;
    };
    Result<Slot> create_slot();
    // Everything after the slot: schema, sequences and tables under its snapshot.
    Result<source::BaseBackupResult> copy_in_snapshot(const Slot& slot, Timestamp started,
                                                      source::ContentSink& sink,
                                                      const OperationContext& ctx);
    Result<std::vector<StoredEntry>> copy_tables(const std::vector<TableToCopy>& tables,
                                                 const std::vector<CopyUnit>& units,
                                                 const std::string& snapshot,
                                                 source::ContentSink& sink,
                                                 const OperationContext& ctx);

    source::BaseBackupRequest m_request;
    postgres::Connection m_replication;
    repo::SourceInfo m_source;
    std::string m_database;
    SourceFacts m_facts;  // what the preflight found
};

Result<LogicalBaseBackup::Slot> LogicalBaseBackup::create_slot() {
    Slot slot;
    slot.name = slot_name_for(m_request.repository_id);
    {
        postgres::Connection conn = LB_TRY(postgres::Connection::open(
            m_request.conninfo, {.statement = m_request.statement_timeout}));
        auto active = LB_TRY(conn.query(
            "SELECT active FROM pg_replication_slots WHERE slot_name = $1", {slot.name}));
        if (active.rows() == 1 && active.text(0, 0) == "t") {
            return fail(ErrorCode::conflict,
                        "replication slot {} is in use by another process (a backup or capture "
                        "of this repository is running)",
                        slot.name);
        }
        if (active.rows() == 1) {
            LB_CHECK(conn.execute("SELECT pg_drop_replication_slot(" +
                                  conn.quote_literal(slot.name) + ")"));
        }
    }
    auto created = LB_TRY(m_replication.query(
        fmt::format("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (SNAPSHOT 'export')",
                    m_replication.quote_identifier(slot.name))));
    if (created.rows() != 1 || created.columns() < 3) {
        return fail(ErrorCode::database, "CREATE_REPLICATION_SLOT returned no slot");
    }
    slot.consistent_point = created.text(0, 1);
    slot.snapshot = created.text(0, 2);
    return slot;
}

Result<std::vector<StoredEntry>> LogicalBaseBackup::copy_tables(
    const std::vector<TableToCopy>& tables, const std::vector<CopyUnit>& units,
    const std::string& snapshot, source::ContentSink& sink, const OperationContext& ctx) {
    const unsigned jobs =
        std::max(1u, std::min<unsigned>(sink.workers(), static_cast<unsigned>(units.size())));
    // One connection per worker, each in the snapshot: opened before any copy starts, while the
    // replication connection still holds the snapshot open.
    std::vector<postgres::Connection> connections;
    for (unsigned w = 0; w < jobs && !units.empty(); ++w)
        connections.push_back(LB_TRY(open_in_snapshot(m_request, snapshot)));
    std::vector<StoredEntry> stored(units.size());
    std::atomic<std::uint64_t> bytes_done{0};
    std::mutex progress_mutex;
    LB_CHECK(parallel_for(units.size(), jobs, [&](std::size_t i, unsigned worker) -> Status {
        LB_CHECK(sink.keep_going());
        BlockCutter cutter(sink.block_size(),
                           [&](std::string_view block) { return sink.store(block, worker); });
        const std::string& qualified = tables[units[i].table].qualified;
        const std::string condition = ctid_condition(units[i].range);
        // A range is a query: COPY of a table cannot take a WHERE clause.
        const std::string what = condition.empty()
                                     ? qualified
                                     : "(SELECT * FROM " + qualified + " WHERE " + condition + ")";
        const std::uint64_t copied = LB_TRY(connections[worker].copy_out(
            "COPY " + what + " TO STDOUT (FORMAT binary)",
            [&](std::string_view piece) { return cutter.add(piece); }));
        (void)copied;
        LB_CHECK(cutter.finish());
        bytes_done += cutter.size();
        const std::lock_guard lock(progress_mutex);  // the progress sink is not thread safe
        ctx.report({"copying tables", bytes_done.load(), 0});
        stored[i] = {cutter.size(), cutter.blocks()};
        return {};
    }));
    return stored;
}

Result<source::BaseBackupResult> LogicalBaseBackup::copy(const repo::Manifest* /*previous*/,
                                                         source::ContentSink& sink,
                                                         const OperationContext& ctx) {
    const Timestamp started = ctx.now();
    const Slot slot = LB_TRY(create_slot());
    auto copied = copy_in_snapshot(slot, started, sink, ctx);
    if (!copied) {
        // A slot no backup uses would retain WAL on the source for nothing. Dropping it on the
        // replication connection also ends the snapshot, which nothing needs any more.
        (void)m_replication.execute("DROP_REPLICATION_SLOT " +
                                    m_replication.quote_identifier(slot.name));
    }
    return copied;
}

Result<source::BaseBackupResult> LogicalBaseBackup::copy_in_snapshot(const Slot& slot,
                                                                     Timestamp started,
                                                                     source::ContentSink& sink,
                                                                     const OperationContext& ctx) {
    source::BaseBackupResult result;
    repo::Manifest& manifest = result.manifest;
    manifest.source = m_source;
    manifest.start_time = started;
    manifest.stop_time = ctx.now();
    manifest.timeline = 1;
    manifest.start_lsn = slot.consistent_point;
    manifest.stop_lsn = slot.consistent_point;
    repo::PostgresLogicalPayload& payload = manifest.logical;
    payload.database = m_database;
    payload.slot_name = slot.name;
    payload.snapshot_name = slot.snapshot;
    payload.pre_data_path = "schema/pre-data.sql";
    payload.post_data_path = "schema/post-data.sql";
    payload.sequences_path = "schema/sequences.sql";
    payload.roles_path = "schema/roles.sql";

    LB_CHECK(ctx.stage("backup:files"));
    postgres::Connection conn = LB_TRY(open_in_snapshot(m_request, slot.snapshot));
    const std::vector<TableToCopy> tables = LB_TRY(list_tables(conn));
    const std::string sequences = LB_TRY(sequence_values(conn));

    const fs::path bindir = LB_TRY(postgres::find_server_bindir(std::nullopt));
    TempDirectory scratch =
        LB_TRY(TempDirectory::create(fs::temp_directory_path(), "lifeboat-dump-"));
    ctx.report({"dumping the schema", 0, 0});
    const std::string pre_data = LB_TRY(
        dump_section(m_request, bindir / "pg_dump", scratch.path(), slot.snapshot, "pre-data"));
    const std::string post_data = LB_TRY(
        dump_section(m_request, bindir / "pg_dump", scratch.path(), slot.snapshot, "post-data"));
    const std::string roles = LB_TRY(dump_roles(m_request, bindir / "pg_dumpall", scratch.path()));
    const std::vector<CopyUnit> units = plan_copies(tables, m_request.split_table_bytes);
    std::vector<StoredEntry> data = LB_TRY(copy_tables(tables, units, slot.snapshot, sink, ctx));
    LB_CHECK(sink.keep_going());

    const Timestamp when = manifest.stop_time;
    manifest.entries.push_back(directory_entry("schema", when));
    manifest.entries.push_back(
        file_entry(payload.pre_data_path, LB_TRY(store_text(sink, pre_data)), when));
    manifest.entries.push_back(
        file_entry(payload.post_data_path, LB_TRY(store_text(sink, post_data)), when));
    manifest.entries.push_back(
        file_entry(payload.sequences_path, LB_TRY(store_text(sink, sequences)), when));
    manifest.entries.push_back(
        file_entry(payload.roles_path, LB_TRY(store_text(sink, roles)), when));
    manifest.entries.push_back(directory_entry("data", when));
    // A split table appears once per range, in block order: a restore loads each.
    for (std::size_t i = 0; i < units.size(); ++i) {
        const TableToCopy& table = tables[units[i].table];
        payload.tables.push_back({table.schema, table.name, units[i].path});
        manifest.entries.push_back(file_entry(units[i].path, std::move(data[i]), when));
    }
    for (const auto& e : manifest.entries) {
        if (e.type != repo::EntryType::file) continue;
        manifest.stats.files += 1;
        manifest.stats.data_bytes += e.size;
        manifest.stats.read_bytes += e.size;
    }
    result.warnings.push_back(fmt::format(
        "replication slot {} on the source now retains WAL from {} until a change stream "
        "consumes it; without one, drop it (SELECT pg_drop_replication_slot('{}'))",
        slot.name, slot.consistent_point, slot.name));
    // Not needed for the backup itself, but without them the change stream misses DDL or tables
    // created later: said now, before a capture depends on it.
    if (!m_facts.ddl_capture) {
        result.warnings.push_back(fmt::format(
            "the DDL-capture event trigger {} is missing on the source: a change stream would "
            "not carry DDL (lifeboat logical-setup --apply creates it)",
            k_ddl_trigger));
    }
    if (!m_facts.publication) {
        result.warnings.push_back(fmt::format(
            "the publication {} is missing on the source: capture cannot stream without it "
            "(lifeboat logical-setup --apply creates it)",
            k_publication));
    }
    return result;
}

}  // namespace

std::string slot_name_for(const std::string& repository_id) {
    std::string out = "lifeboat_";
    for (char c : repository_id.substr(0, 16))
        out += std::isalnum(static_cast<unsigned char>(c))
                   ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                   : '_';
    return out;
}

std::string table_entry_path(const std::string& schema, const std::string& table) {
    auto escape = [](const std::string& name) {
        std::string out;
        for (unsigned char c : name) {
            if (c == '%' || c == '/' || c == '.' || c < 0x20 || c == 0x7f) {
                out += fmt::format("%{:02X}", c);
            } else {
                out += static_cast<char>(c);
            }
        }
        return out;
    };
    return "data/" + escape(schema) + "." + escape(table) + ".copy";
}

std::string table_piece_path(const std::string& schema, const std::string& table,
                             std::size_t piece) {
    std::string path = table_entry_path(schema, table);
    path.insert(path.size() - std::string_view(".copy").size(), fmt::format(".{}", piece));
    return path;
}

Result<std::unique_ptr<source::BaseBackup>> open_base_backup(
    const source::BaseBackupRequest& request) {
    if (request.conninfo.empty()) {
        return fail(ErrorCode::usage,
                    "no PostgreSQL connection given (use --pg CONNINFO or LIFEBOAT_PG)");
    }
    postgres::Connection conn = LB_TRY(
        postgres::Connection::open(request.conninfo, {.statement = request.statement_timeout}));
    const SourceFacts facts = LB_TRY(read_source_facts(conn));
    const auto problems = preflight_problems(facts);
    if (!problems.empty()) {
        return fail(ErrorCode::database, "{}{}", problems.front(),
                    problems.size() > 1
                        ? fmt::format(" ({} more problem(s): lifeboat logical-setup lists them)",
                                      problems.size() - 1)
                        : std::string());
    }
    postgres::Connection replication =
        LB_TRY(postgres::Connection::open(postgres::replication_conninfo(request.conninfo)));
    auto identity = LB_TRY(replication.query("IDENTIFY_SYSTEM"));
    if (identity.rows() != 1) return fail(ErrorCode::database, "IDENTIFY_SYSTEM returned no row");
    repo::SourceInfo info{std::string(repo::k_kind_postgres_logical), identity.text(0, 0),
                          facts.server_version};
    return std::make_unique<LogicalBaseBackup>(request, std::move(replication), std::move(info),
                                               conn.database(), facts);
}

}  // namespace lifeboat::postgres_logical
