// Cuts a plain pg_dump script (the pre-data and post-data sections of a logical backup) down to
// what a single-table restore (restore --only) needs: pure text work.
//
// A plain script is a preamble (SET statements) and entries, each opened by a comment header
// "-- Name: N; Type: T; Schema: S; Owner: O". Kept: the preamble and every entry that belongs to
// no table (schemas, types, functions, sequences, extensions...), the chosen table's own entry,
// and the entries bound to a table (defaults, constraints, indexes, triggers, rules, policies,
// sequence ownership, comments and grants on tables or columns...) whose statements name the
// chosen table. Dropped: every other table and what is bound to it, every view and materialized
// view (they may read other tables), and every foreign key (its other side is not restored).
#pragma once

#include <string>
#include <string_view>

namespace lifeboat::postgres_logical {

// How pg_dump writes an identifier: bare when it is lower case letters, digits and underscores
// starting with a letter or underscore, double-quoted otherwise.
std::string dump_identifier(std::string_view name);

std::string filter_dump_for_table(std::string_view script, std::string_view schema,
                                  std::string_view table);

// A pre-data script parted in two: `objects`, everything but ownership and privileges, and
// `ownership`, every "ALTER ... OWNER TO" statement and every ACL and DEFAULT ACL entry (GRANT,
// REVOKE), each with the preamble. A restore loads the second last and lets its statements fail
// one by one (a role the target does not have, a grant its role may not give) without losing the
// objects.
struct OwnershipSplit {
    std::string objects;
    std::string ownership;
};
OwnershipSplit split_ownership(std::string_view script);

// A pg_dumpall --roles-only script whose "CREATE ROLE name;" statements do nothing for a role the
// target has already (the restoring superuser, the bootstrap role), so that the ALTER ROLE that
// follows each still applies the recorded attributes.
std::string tolerate_existing_roles(std::string_view script);

// The sequence values script (setval per sequence) made to skip sequences that do not exist
// (those of tables a single-table restore leaves out): setval(to_regclass(name), ...) is NULL
// and does nothing for a missing name.
std::string guard_missing_sequences(std::string_view script);

}  // namespace lifeboat::postgres_logical
