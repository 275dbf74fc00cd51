// The sessions that apply decoded transactions to the target (change_apply.hpp): one or more
// connections, each a thread with its own pipelined session and prepared statements.
//
// Contract:
// - submit() hands over transactions in commit order. A transaction whose row changes all fall
//   on tables of one worker (tables are spread over workers by relation oid) goes to that
//   worker's queue, so every table's (and so every row's) transactions run in commit order on
//   one session. Any other transaction (tables of several workers, DDL, TRUNCATE) is a barrier:
//   every worker finishes its queue, the transaction runs alone, then work resumes. With one
//   connection everything runs in commit order on it.
// - Each session runs with synchronous_commit off and session_replication_role = replica (the
//   target's triggers and foreign-key checks stay silent: the source ran them).
// - The first failure of any worker is returned by the next submit() or by finish(); the
//   workers then skip the rest. finish() waits until every queue is applied and answered.
// - The destructor stops the threads (after finish(), or abandoning queued work on failure).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "drivers/postgres_logical/change_apply.hpp"

namespace lifeboat::postgres_logical {

class ApplyWorkers {
  public:
    static Result<std::unique_ptr<ApplyWorkers>> open(const std::string& conninfo,
                                                      unsigned connections,
                                                      const std::optional<TableName>& only);
    ~ApplyWorkers();
    ApplyWorkers(const ApplyWorkers&) = delete;
    ApplyWorkers& operator=(const ApplyWorkers&) = delete;

    Status submit(std::shared_ptr<const Transaction> transaction);
    Status finish();
    // Rows and transactions applied (after finish()).
    ApplyOutcome counts() const;

    struct Worker;  // apply_workers.cpp

  private:
    ApplyWorkers() = default;
    void run(Worker& worker);
    // Waits until every queue is empty and answered; the first worker error if any.
    Status drain(std::unique_lock<std::mutex>& lock);
    std::optional<Error> first_error() const;

    std::vector<std::unique_ptr<Worker>> m_workers;
    mutable std::mutex m_mutex;
    std::condition_variable m_work;  // workers wait for work
    std::condition_variable m_idle;  // submit and drain wait for workers
    bool m_stopping = false;
};

}  // namespace lifeboat::postgres_logical
