#include "drivers/postgres_logical/apply_workers.hpp"

#include <cctype>
#include <deque>
#include <map>
#include <set>
#include <thread>

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

// A worker queue this long makes submit() wait: decoded transactions stay bounded in memory.
constexpr std::size_t k_queue_limit = 4096;

}  // namespace

struct ApplyWorkers::Worker {
    std::unique_ptr<postgres::Connection> connection;
    std::optional<postgres::Pipeline> pipeline;
    std::unique_ptr<Applier> applier;
    std::deque<std::shared_ptr<const Transaction>> queue;
    bool busy = false;
    std::optional<Error> error;
    ApplyOutcome counts;
    std::thread thread;
};

Result<std::unique_ptr<ApplyWorkers>> ApplyWorkers::open(const std::string& conninfo,
                                                         unsigned connections,
                                                         const std::optional<TableName>& only) {
    std::unique_ptr<ApplyWorkers> workers(new ApplyWorkers());
    for (unsigned i = 0; i < std::max(connections, 1u); ++i) {
        auto worker = std::make_unique<Worker>();
        auto conn = LB_TRY(postgres::Connection::open(conninfo));
        worker->connection = std::make_unique<postgres::Connection>(std::move(conn));
        // Each source transaction is applied once and the restore reports success only after
        // a final synchronous commit: waiting for every intermediate flush gains nothing.
        LB_CHECK(worker->connection->execute("SET synchronous_commit = off"));
        // The source ran its triggers and checked its foreign keys already.
        LB_CHECK(worker->connection->execute("SET session_replication_role = replica"));
        auto pipeline = LB_TRY(postgres::Pipeline::start(*worker->connection));
        worker->pipeline.emplace(std::move(pipeline));
        worker->applier = std::make_unique<Applier>(*worker->pipeline, only);
        workers->m_workers.push_back(std::move(worker));
    }
    for (auto& worker : workers->m_workers) {
        Worker* w = worker.get();
        ApplyWorkers* self = workers.get();
        w->thread = std::thread([self, w] { self->run(*w); });
    }
    return workers;
}

ApplyWorkers::~ApplyWorkers() {
    {
        // Queued work is abandoned: after finish() there is none, and on a failure the
        // restore fails anyway.
        std::lock_guard lock(m_mutex);
        for (auto& worker : m_workers)
            worker->queue.clear();
        m_stopping = true;
    }
    m_work.notify_all();
    for (auto& worker : m_workers)
        if (worker->thread.joinable()) worker->thread.join();
    // Pipelines before their connections.
    for (auto& worker : m_workers) {
        worker->applier.reset();
        worker->pipeline.reset();
    }
}

void ApplyWorkers::run(Worker& w) {
    std::unique_lock lock(m_mutex);
    for (;;) {
        m_work.wait(lock, [&] { return m_stopping || !w.queue.empty(); });
        if (w.queue.empty()) return;  // stopping
        auto t = std::move(w.queue.front());
        w.queue.pop_front();
        w.busy = true;
        const bool failed = w.error.has_value();
        lock.unlock();
        Status status;
        if (!failed) status = w.applier->apply(*t, w.counts);
        if (status && !failed) ++w.counts.transactions;
        lock.lock();
        // Idle means answered: a worker reads its answers before it waits for more work.
        if (status && !failed && w.queue.empty()) {
            lock.unlock();
            status = w.applier->sync();
            lock.lock();
        }
        if (!status && !w.error) w.error = status.error();
        w.busy = false;
        m_idle.notify_all();
    }
}

std::optional<Error> ApplyWorkers::first_error() const {
    for (const auto& w : m_workers)
        if (w->error) return w->error;
    return std::nullopt;
}

Status ApplyWorkers::drain(std::unique_lock<std::mutex>& lock) {
    m_idle.wait(lock, [&] {
        return std::all_of(m_workers.begin(), m_workers.end(),
                           [](const auto& w) { return w->queue.empty() && !w->busy; });
    });
    if (auto error = first_error()) return std::unexpected(*error);
    return {};
}

Status ApplyWorkers::submit(std::shared_ptr<const Transaction> t) {
    std::unique_lock lock(m_mutex);
    if (auto error = first_error()) return std::unexpected(*error);
    const std::size_t n = m_workers.size();
    std::optional<std::size_t> target;
    bool barrier = false;
    if (n == 1) {
        target = 0;
    } else {
        for (const Change& change : t->changes) {
            if (change.action == ChangeAction::ddl || change.action == ChangeAction::truncate) {
                barrier = true;
                break;
            }
            const std::size_t mine = change.relation->oid % n;
            if (target && *target != mine) {
                barrier = true;
                break;
            }
            target = mine;
        }
        if (!target) target = 0;
    }
    if (barrier) {
        LB_CHECK(drain(lock));
        m_workers[0]->queue.push_back(std::move(t));
        m_work.notify_all();
        return drain(lock);
    }
    Worker& w = *m_workers[*target];
    m_idle.wait(lock, [&] { return w.queue.size() < k_queue_limit || w.error; });
    w.queue.push_back(std::move(t));
    m_work.notify_all();
    return {};
}

Status ApplyWorkers::finish() {
    std::unique_lock lock(m_mutex);
    return drain(lock);
}

ApplyOutcome ApplyWorkers::counts() const {
    std::lock_guard lock(m_mutex);
    ApplyOutcome total;
    for (const auto& w : m_workers) {
        total.rows += w->counts.rows;
        total.transactions += w->counts.transactions;
    }
    return total;
}

}  // namespace lifeboat::postgres_logical
