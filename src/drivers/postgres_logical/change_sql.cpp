#include "drivers/postgres_logical/change_sql.hpp"

namespace lifeboat::postgres_logical {

namespace {

std::optional<std::string> param_of(const ColumnValue& value) {
    if (value.kind == ValueKind::text) return value.text;
    return std::nullopt;
}

// The WHERE clause locating the changed row, adding its parameters.
Result<std::string> locate(const Change& change, ChangeStatement& out) {
    const Relation& relation = *change.relation;
    const auto& columns = relation.columns;
    std::string where;
    auto add = [&](std::size_t column, const ColumnValue& value, std::string_view op) {
        if (!where.empty()) where += " AND ";
        out.params.push_back(param_of(value));
        where +=
            fmt::format("{} {} ${}", quote_identifier(columns[column].name), op, out.params.size());
        out.shape += fmt::format("{},", column);
    };
    if (change.old_kind == OldTuple::full) {
        // Identity full: every old value that was sent (unchanged TOAST was not).
        std::string inner;
        for (std::size_t i = 0; i < columns.size(); ++i) {
            if (change.old_values[i].kind == ValueKind::unchanged_toast) continue;
            add(i, change.old_values[i], "IS NOT DISTINCT FROM");
        }
        if (where.empty()) return fail(ErrorCode::corrupt, "an old row with no value to match");
        return fmt::format("ctid = (SELECT ctid FROM {} WHERE {} LIMIT 1)",
                           qualified_name(relation), where);
    }
    const Tuple& key_source =
        change.old_kind == OldTuple::key ? change.old_values : change.new_values;
    for (std::size_t i = 0; i < columns.size(); ++i) {
        if (!columns[i].is_key) continue;
        if (key_source[i].kind != ValueKind::text) {
            return fail(ErrorCode::corrupt, "key column {} of {} has no value", columns[i].name,
                        qualified_name(relation));
        }
        add(i, key_source[i], "=");
    }
    if (where.empty()) {
        return fail(ErrorCode::corrupt,
                    "{} has no replica identity key: its updated or deleted rows cannot be "
                    "located",
                    qualified_name(relation));
    }
    return where;
}

}  // namespace

std::string quote_identifier(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + '"';
}

std::string qualified_name(const Relation& relation) {
    return quote_identifier(relation.schema) + "." + quote_identifier(relation.name);
}

Result<ChangeStatement> change_statement(const Change& change) {
    if (!change.relation) return fail(ErrorCode::internal, "a row change without its relation");
    const Relation& relation = *change.relation;
    const std::size_t width = relation.columns.size();
    const bool needs_new = change.action != ChangeAction::remove;
    const bool needs_old = change.old_kind != OldTuple::none;
    if ((needs_new && change.new_values.size() != width) ||
        (needs_old && change.old_values.size() != width)) {
        return fail(ErrorCode::corrupt, "a change of {} with {} values for {} columns",
                    qualified_name(relation),
                    needs_new ? change.new_values.size() : change.old_values.size(), width);
    }
    ChangeStatement out;
    const std::string table = qualified_name(relation);
    switch (change.action) {
        case ChangeAction::insert: {
            std::string names;
            std::string values;
            for (std::size_t i = 0; i < width; ++i) {
                if (i) {
                    names += ", ";
                    values += ", ";
                }
                names += quote_identifier(relation.columns[i].name);
                values += fmt::format("${}", i + 1);
                out.params.push_back(param_of(change.new_values[i]));
            }
            out.sql = fmt::format("INSERT INTO {} ({}) VALUES ({})", table, names, values);
            out.shape = "I";
            return out;
        }
        case ChangeAction::update: {
            std::string set;
            out.shape = "U";
            for (std::size_t i = 0; i < width; ++i) {
                // Unchanged TOAST: the target already holds the value; leave the column out.
                if (change.new_values[i].kind == ValueKind::unchanged_toast) continue;
                if (!set.empty()) set += ", ";
                out.params.push_back(param_of(change.new_values[i]));
                set += fmt::format("{} = ${}", quote_identifier(relation.columns[i].name),
                                   out.params.size());
                out.shape += fmt::format("{},", i);
            }
            out.shape += change.old_kind == OldTuple::full ? "|F" : "|K";
            const std::string where = LB_TRY(locate(change, out));
            // Every column unchanged TOAST (cannot happen for a real update): nothing to set.
            if (set.empty()) {
                out.sql = fmt::format("SELECT 1 FROM {} WHERE {}", table, where);
            } else {
                out.sql = fmt::format("UPDATE {} SET {} WHERE {}", table, set, where);
            }
            return out;
        }
        case ChangeAction::remove: {
            if (!needs_old) {
                return fail(ErrorCode::corrupt, "a delete from {} without its old key", table);
            }
            out.shape = change.old_kind == OldTuple::full ? "D|F" : "D|K";
            const std::string where = LB_TRY(locate(change, out));
            out.sql = fmt::format("DELETE FROM {} WHERE {}", table, where);
            return out;
        }
        case ChangeAction::truncate:
        case ChangeAction::ddl:
            break;
    }
    return fail(ErrorCode::internal, "change_statement of a truncate or DDL change");
}

std::string truncate_statement(const Change& change) {
    std::string names;
    for (const auto& relation : change.truncated) {
        if (!names.empty()) names += ", ";
        names += qualified_name(*relation);
    }
    return fmt::format("TRUNCATE ONLY {}{}{}", names,
                       (change.truncate_options & 2) ? " RESTART IDENTITY" : "",
                       (change.truncate_options & 1) ? " CASCADE" : "");
}

}  // namespace lifeboat::postgres_logical
