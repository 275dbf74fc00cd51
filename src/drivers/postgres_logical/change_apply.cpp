#include "drivers/postgres_logical/change_apply.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <set>

#include "drivers/postgres_logical/change_sql.hpp"
#include "sources/postgres/connection.hpp"
#include "sources/postgres/pipeline.hpp"

namespace lifeboat::postgres_logical {

namespace {

// Statements sent before their answers are read: enough to hide the round trips, few enough
// that the answers fit in the socket buffers (they are read only at each sync).
constexpr std::size_t k_batch_statements = 256;

// Whether a DDL statement names `table` as a whole word (case-insensitive, quoted or not): the
// statements --only runs, since a DDL message does not say which tables it touches.
bool ddl_names_table(std::string_view ddl, std::string_view table) {
    auto lower = [](std::string_view s) {
        std::string out(s);
        for (char& c : out)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return out;
    };
    const std::string text = lower(ddl);
    const std::string name = lower(table);
    auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    for (auto at = text.find(name); at != std::string::npos; at = text.find(name, at + 1)) {
        const auto after = at + name.size();
        if ((at == 0 || !word(text[at - 1])) && (after == text.size() || !word(text[after])))
            return true;
    }
    return false;
}

std::string lsn_text(std::uint64_t lsn) {
    return fmt::format("{:X}/{:X}", lsn >> 32, lsn & 0xFFFFFFFFu);
}

// Applies transactions through one pipelined session, one prepared statement per shape.
class Applier {
  public:
    Applier(postgres::Pipeline& pipeline, const std::optional<TableName>& only)
        : m_pipeline(pipeline), m_only(only) {}

    Status apply(const Transaction& t, ApplyOutcome& counts) {
        m_batch_last = t.commit_lsn;
        if (!m_batch_first) m_batch_first = t.commit_lsn;
        LB_CHECK(m_pipeline.execute("BEGIN"));
        for (const Change& change : t.changes) {
            LB_CHECK(apply(change, counts));
            // Also inside a large transaction: a sync there does not commit it, and answers
            // left unread would eventually block the server's writes and so our own.
            if (m_pipeline.queued() >= k_batch_statements) {
                LB_CHECK(sync());
                m_batch_first = t.commit_lsn;  // the transaction continues in the next batch
            }
        }
        LB_CHECK(m_pipeline.execute("COMMIT"));
        if (m_pipeline.queued() >= k_batch_statements) LB_CHECK(sync());
        return {};
    }

    // Reads every answer; a failure names the transactions of the batch.
    Status sync() {
        auto synced = m_pipeline.sync();
        if (!synced && m_batch_first) {
            return std::unexpected(
                synced.error().context("applying the transactions committed at {} .. {}",
                                       lsn_text(*m_batch_first), lsn_text(m_batch_last)));
        }
        m_batch_first.reset();
        return synced;
    }

  private:
    bool wanted(const Relation& relation) const {
        return !m_only || (relation.schema == m_only->schema && relation.name == m_only->name);
    }

    Status apply(const Change& change, ApplyOutcome& counts) {
        switch (change.action) {
            case ChangeAction::ddl:
                if (m_only && !ddl_names_table(change.ddl, m_only->name)) return {};
                if (auto ran = m_pipeline.run_simple(change.ddl); !ran) {
                    return std::unexpected(ran.error().context(
                        "applying DDL of the transaction committed at {}", lsn_text(m_batch_last)));
                }
                return {};
            case ChangeAction::truncate: {
                Change kept = change;
                std::erase_if(kept.truncated, [&](const auto& r) { return !wanted(*r); });
                if (kept.truncated.empty()) return {};
                return m_pipeline.execute(truncate_statement(kept));
            }
            default:
                break;
        }
        if (!wanted(*change.relation)) return {};
        auto statement = LB_TRY(change_statement(change));
        const std::string key =
            fmt::format("{}/{}", static_cast<const void*>(change.relation.get()), statement.shape);
        auto it = m_prepared.find(key);
        if (it == m_prepared.end()) {
            const std::string name = fmt::format("lb_apply_{}", m_prepared.size());
            LB_CHECK(
                m_pipeline.prepare(name, statement.sql, static_cast<int>(statement.params.size())));
            it = m_prepared.emplace(key, name).first;
            m_keep_alive.push_back(change.relation);  // the key's address stays unique
        }
        ++counts.rows;
        return m_pipeline.execute_prepared(it->second, statement.params);
    }

    postgres::Pipeline& m_pipeline;
    const std::optional<TableName>& m_only;
    std::map<std::string, std::string> m_prepared;
    std::vector<std::shared_ptr<const Relation>> m_keep_alive;
    std::optional<std::uint64_t> m_batch_first;
    std::uint64_t m_batch_last = 0;
};

}  // namespace

std::vector<SequenceSample> choose_sequence_samples(const std::vector<SequenceSample>& samples,
                                                    std::uint64_t applied_end) {
    std::map<std::pair<std::string, std::string>, const SequenceSample*> before;
    std::map<std::pair<std::string, std::string>, const SequenceSample*> after;
    for (const auto& s : samples) {
        const auto key = std::make_pair(s.schema, s.name);
        if (s.lsn >= applied_end) {
            auto& slot = after[key];
            if (!slot || s.lsn < slot->lsn) slot = &s;
        } else {
            auto& slot = before[key];
            if (!slot || s.lsn >= slot->lsn) slot = &s;
        }
    }
    for (const auto& [key, s] : after)
        before[key] = s;
    std::vector<SequenceSample> out;
    for (const auto& [key, s] : before)
        out.push_back(*s);
    return out;
}

Result<ApplyOutcome> apply_changes(const ApplyRequest& request, const OperationContext& ctx) {
    const auto started = std::chrono::steady_clock::now();
    ApplyOutcome outcome;
    postgres::Connection conn = LB_TRY(postgres::Connection::open(request.conninfo));
    // Each source transaction is applied once and the restore reports success only after the
    // final synchronous commit below: waiting for every intermediate flush gains nothing.
    LB_CHECK(conn.execute("SET synchronous_commit = off"));
    // Foreign keys were checked on the source; the target sees them in the source's order
    // anyway, so triggers and rules stay as the source's restore would have them.
    LB_CHECK(conn.execute("SET session_replication_role = replica"));
    PgoutputDecoder decoder;
    std::uint64_t applied_end = request.consistent_lsn;
    bool stopped = false;
    {
        postgres::Pipeline pipeline = LB_TRY(postgres::Pipeline::start(conn));
        Applier applier(pipeline, request.only);
        std::size_t done = 0;
        for (const auto& name : request.objects) {
            LB_CHECK(ctx.check());
            const std::string content = LB_TRY(request.fetch(name));
            LB_CHECK(decoder.add_object(content, name));
            for (const Transaction& t : decoder.take_committed()) {
                if (stopped || t.end_lsn <= request.consistent_lsn) continue;
                if (request.target && t.commit_time > *request.target) {
                    stopped = true;
                    continue;
                }
                if (t.changes.empty()) {
                    applied_end = t.end_lsn;
                    continue;
                }
                LB_CHECK(applier.apply(t, outcome));
                ++outcome.transactions;
                outcome.last_commit = t.commit_time;
                applied_end = t.end_lsn;
            }
            ctx.report(
                {"applying the change log", ++done, request.objects.size(), ProgressUnit::items});
            // Past the target, objects are read only for a sequence sample taken after the
            // last applied transaction (samples cover every sequence at once).
            if (stopped && std::any_of(decoder.sequences().begin(), decoder.sequences().end(),
                                       [&](const auto& s) { return s.lsn >= applied_end; })) {
                break;
            }
        }
        LB_CHECK(applier.sync());
    }
    LB_CHECK(conn.execute("SET session_replication_role = origin"));
    LB_CHECK(conn.execute("SET synchronous_commit = on"));
    if (!request.only) {
        const auto chosen = choose_sequence_samples(decoder.sequences(), applied_end);
        LB_CHECK(conn.execute("BEGIN"));
        for (const auto& s : chosen) {
            const std::string name = quote_identifier(s.schema) + "." + quote_identifier(s.name);
            // A sequence dropped by a later DDL may still have a sample: setval only what exists.
            const auto set = LB_TRY(conn.query(
                "SELECT pg_catalog.setval(r.seq, $2, $3) FROM (SELECT to_regclass($1) AS seq) r "
                "WHERE r.seq IS NOT NULL",
                {name, s.last_value, s.is_called ? "true" : "false"}));
            outcome.sequences += set.rows();
        }
        // Synchronous: flushes the WAL of every transaction applied before it.
        LB_CHECK(conn.execute("COMMIT"));
    } else {
        LB_CHECK(conn.execute("SELECT pg_catalog.txid_current()"));
    }
    outcome.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return outcome;
}

}  // namespace lifeboat::postgres_logical
