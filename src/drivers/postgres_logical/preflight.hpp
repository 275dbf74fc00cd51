// What a source must offer before a logical backup (docs/operations.md, "Managed PostgreSQL"):
// PostgreSQL 15, wal_level = logical (rds.logical_replication = 1 on RDS/Aurora), a role with
// REPLICATION (or superuser) and SELECT on every table, every table with a primary key or a replica
// identity (the change stream needs one to apply updates and deletes), no unlogged tables (never
// decoded) and no large objects (not carried by logical decoding). The source is never altered:
// problems are reported.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sources/postgres/connection.hpp"
#include "util/error.hpp"

namespace lifeboat::postgres_logical {

struct SourceFacts {
    int server_version = 0;
    std::string wal_level;
    std::string role;
    bool superuser = false;
    bool replication = false;
    std::vector<std::string> tables_without_identity;  // "schema.table"
    std::vector<std::string> unlogged_tables;
    std::vector<std::string> unreadable_tables;  // the role lacks SELECT
    std::int64_t large_objects = 0;
    // The DDL-capture event trigger (setup.hpp, k_ddl_trigger) exists and is enabled. Not a
    // problem when absent (the change stream then carries no DDL): logical-setup offers it.
    bool ddl_capture = false;
    // The publication k_publication exists, and FOR ALL TABLES (so that it covers new tables).
    bool publication = false;
    bool publication_all_tables = false;
};

// Reads the facts through `conn` (a normal connection to the database to protect).
Result<SourceFacts> read_source_facts(postgres::Connection& conn);

// Every problem, one line each, in the order above; empty when the source can be backed up.
std::vector<std::string> preflight_problems(const SourceFacts& facts);

}  // namespace lifeboat::postgres_logical
