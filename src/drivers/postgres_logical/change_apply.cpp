#include "drivers/postgres_logical/change_apply.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <set>

#include "drivers/postgres_logical/apply_workers.hpp"
#include "drivers/postgres_logical/change_sql.hpp"
#include "sources/postgres/connection.hpp"

namespace lifeboat::postgres_logical {

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
    // Sequences and the final synchronous commit, after the workers.
    postgres::Connection conn = LB_TRY(postgres::Connection::open(request.conninfo));
    PgoutputDecoder decoder;
    std::uint64_t applied_end = request.consistent_lsn;
    bool stopped = false;
    {
        auto workers =
            LB_TRY(ApplyWorkers::open(request.conninfo, request.connections, request.only));
        std::size_t done = 0;
        for (const auto& name : request.objects) {
            LB_CHECK(ctx.check());
            const std::string content = LB_TRY(request.fetch(name));
            LB_CHECK(decoder.add_object(content, name));
            for (Transaction& t : decoder.take_committed()) {
                if (stopped || t.end_lsn <= request.consistent_lsn) continue;
                if (request.target && t.commit_time > *request.target) {
                    stopped = true;
                    continue;
                }
                if (t.changes.empty()) {
                    applied_end = t.end_lsn;
                    continue;
                }
                outcome.last_commit = t.commit_time;
                applied_end = t.end_lsn;
                LB_CHECK(workers->submit(std::make_shared<const Transaction>(std::move(t))));
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
        LB_CHECK(workers->finish());
        const ApplyOutcome counts = workers->counts();
        outcome.rows = counts.rows;
        outcome.transactions = counts.transactions;
    }
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
