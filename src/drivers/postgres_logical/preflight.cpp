#include "drivers/postgres_logical/preflight.hpp"

#include <fmt/format.h>

#include "drivers/postgres_logical/setup.hpp"

namespace lifeboat::postgres_logical {

namespace {

// At most this many names are quoted in one line; the count says how many there are.
constexpr std::size_t k_names_quoted = 10;

std::string name_list(const std::vector<std::string>& names) {
    std::string out;
    for (std::size_t i = 0; i < names.size() && i < k_names_quoted; ++i)
        out += (i ? ", " : "") + names[i];
    if (names.size() > k_names_quoted)
        out += fmt::format(" and {} more", names.size() - k_names_quoted);
    return out;
}

// User tables only: the catalogs and extension-owned tables belong to the server.
constexpr const char* k_user_tables =
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
    "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
    "AND d.objid = c.oid AND d.deptype = 'e') ";

Result<std::vector<std::string>> table_names(postgres::Connection& conn, const std::string& where) {
    auto rows =
        LB_TRY(conn.query("SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) " +
                          std::string(k_user_tables) + where + " ORDER BY 1"));
    std::vector<std::string> out;
    for (std::size_t r = 0; r < rows.rows(); ++r)
        out.push_back(rows.text(r, 0));
    return out;
}

}  // namespace

Result<SourceFacts> read_source_facts(postgres::Connection& conn) {
    SourceFacts facts;
    facts.server_version = conn.server_version();
    facts.wal_level = LB_TRY(conn.query_value("SHOW wal_level"));
    auto role = LB_TRY(
        conn.query("SELECT current_user, rolsuper, rolreplication FROM pg_roles WHERE rolname = "
                   "current_user"));
    if (role.rows() == 1) {
        facts.role = role.text(0, 0);
        facts.superuser = role.text(0, 1) == "t";
        facts.replication = role.text(0, 2) == "t";
    }
    facts.tables_without_identity = LB_TRY(table_names(
        conn,
        "AND c.relkind = 'r' AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS "
        "(SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))"));
    facts.unlogged_tables = LB_TRY(table_names(conn, "AND c.relpersistence = 'u'"));
    facts.unreadable_tables =
        LB_TRY(table_names(conn, "AND NOT has_table_privilege(c.oid, 'SELECT')"));
    const std::string objects =
        LB_TRY(conn.query_value("SELECT count(*) FROM pg_largeobject_metadata"));
    facts.large_objects = std::stoll(objects);
    auto triggers =
        LB_TRY(conn.query("SELECT 1 FROM pg_event_trigger WHERE evtname = $1 AND evtenabled <> 'D'",
                          {std::string(k_ddl_trigger)}));
    facts.ddl_capture = triggers.rows() > 0;
    auto publication =
        LB_TRY(conn.query("SELECT puballtables FROM pg_publication WHERE pubname = $1",
                          {std::string(k_publication)}));
    facts.publication = publication.rows() == 1;
    facts.publication_all_tables = facts.publication && publication.text(0, 0) == "t";
    return facts;
}

std::vector<std::string> preflight_problems(const SourceFacts& facts) {
    std::vector<std::string> out;
    if (facts.server_version / 10000 != 15) {
        out.push_back(fmt::format(
            "the server runs PostgreSQL {}; this version of Lifeboat backs up PostgreSQL 15",
            facts.server_version));
    }
    if (facts.wal_level != "logical") {
        out.push_back(fmt::format(
            "wal_level is {}: a logical backup needs wal_level = logical (on RDS and Aurora: "
            "rds.logical_replication = 1 in the parameter group), then a restart",
            facts.wal_level));
    }
    if (!facts.superuser && !facts.replication) {
        out.push_back(fmt::format(
            "role {} has no REPLICATION privilege: ALTER ROLE {} REPLICATION (on RDS and Aurora: "
            "GRANT rds_replication TO {})",
            facts.role, facts.role, facts.role));
    }
    if (!facts.unreadable_tables.empty()) {
        out.push_back(fmt::format(
            "role {} cannot read {} table(s): {} (GRANT SELECT ON ALL TABLES IN SCHEMA ... TO {})",
            facts.role, facts.unreadable_tables.size(), name_list(facts.unreadable_tables),
            facts.role));
    }
    if (!facts.tables_without_identity.empty()) {
        out.push_back(fmt::format(
            "{} table(s) have neither a primary key nor a replica identity, so their updates and "
            "deletes cannot be captured: {} (add a primary key, or ALTER TABLE ... REPLICA "
            "IDENTITY FULL)",
            facts.tables_without_identity.size(), name_list(facts.tables_without_identity)));
    }
    if (!facts.unlogged_tables.empty()) {
        out.push_back(fmt::format(
            "{} unlogged table(s) are never decoded and cannot be protected: {} (ALTER TABLE ... "
            "SET LOGGED)",
            facts.unlogged_tables.size(), name_list(facts.unlogged_tables)));
    }
    if (facts.large_objects > 0) {
        out.push_back(fmt::format(
            "the database holds {} large object(s), which logical replication does not carry; "
            "store them in bytea columns instead",
            facts.large_objects));
    }
    return out;
}

}  // namespace lifeboat::postgres_logical
