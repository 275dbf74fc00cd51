#include "drivers/postgres_logical/sequence_sampler.hpp"

#include <limits>

#include "drivers/postgres_logical/pgoutput.hpp"

namespace lifeboat::postgres_logical {

namespace {

// Sequences come and go with DDL: the list is read again every few samples.
constexpr unsigned k_refresh_list = 5;

std::int64_t to_int64(const std::string& text) {
    return std::stoll(text);
}

}  // namespace

std::int64_t recovered_sequence_value(const SequenceState& state) {
    if (!state.is_called) return state.last_value;
    const __int128 value =
        static_cast<__int128>(state.last_value) +
        static_cast<__int128>(state.log_cnt) * static_cast<__int128>(state.increment);
    if (value > std::numeric_limits<std::int64_t>::max())
        return std::numeric_limits<std::int64_t>::max();
    if (value < std::numeric_limits<std::int64_t>::min())
        return std::numeric_limits<std::int64_t>::min();
    return static_cast<std::int64_t>(value);
}

Result<SequenceSampler> SequenceSampler::open(const std::string& conninfo,
                                              std::chrono::seconds statement_timeout) {
    postgres::Connection conn =
        LB_TRY(postgres::Connection::open(conninfo, {.statement = statement_timeout}));
    return SequenceSampler(std::move(conn));
}

Result<SequenceSnapshot> SequenceSampler::sample() {
    if (m_calls++ % k_refresh_list == 0) {
        auto rows = LB_TRY(m_conn.query(
            "SELECT n.nspname, c.relname, quote_ident(n.nspname) || '.' || quote_ident(c.relname), "
            "s.seqincrement, has_sequence_privilege(c.oid, 'SELECT') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_sequence s ON s.seqrelid = c.oid WHERE c.relkind = 'S' "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
            "AND d.objid = c.oid AND d.deptype = 'e') ORDER BY 1, 2"));
        m_sequences.clear();
        for (std::size_t r = 0; r < rows.rows(); ++r) {
            m_sequences.push_back({rows.text(r, 0), rows.text(r, 1), rows.text(r, 2),
                                   to_int64(rows.text(r, 3)), rows.text(r, 4) == "t"});
        }
    }
    SequenceSnapshot out;
    const auto lsn =
        parse_lsn_text(LB_TRY(m_conn.query_value("SELECT pg_current_wal_insert_lsn()")));
    if (!lsn) return fail(ErrorCode::database, "pg_current_wal_insert_lsn() returned no LSN");
    out.lsn = *lsn;
    for (const auto& seq : m_sequences) {
        if (!seq.readable) {
            out.unreadable.push_back(seq.schema + "." + seq.name);
            continue;
        }
        // A sequence dropped since the list was read: the next list leaves it out.
        auto row = m_conn.query("SELECT last_value, log_cnt, is_called FROM " + seq.qualified);
        if (!row || row->rows() != 1) {
            m_calls = 0;
            continue;
        }
        const bool called = row->text(0, 2) == "t";
        const SequenceState state{.last_value = to_int64(row->text(0, 0)),
                                  .log_cnt = to_int64(row->text(0, 1)),
                                  .increment = seq.increment,
                                  .is_called = called};
        const std::int64_t value = recovered_sequence_value(state);
        out.values[seq.schema + "\t" + seq.name] =
            fmt::format("{}\t{}\t{}\t{}", seq.schema, seq.name, value, called ? 't' : 'f');
    }
    return out;
}

}  // namespace lifeboat::postgres_logical
