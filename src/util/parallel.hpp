// Runs independent tasks on a fixed number of threads. The first failure stops the hand-out of
// further tasks (running ones finish) and is returned; memory is O(threads), not O(tasks). A
// cancelled token (when given) stops the hand-out the same way, with ErrorCode::interrupted.
#pragma once

#include <cstddef>
#include <functional>

#include "util/error.hpp"

namespace lifeboat {

class CancellationToken;

// Calls task(i, worker) for every i in [0, count) on `threads` threads (at least 1). `worker` is
// the index of the calling thread in [0, threads), for per-thread state.
Status parallel_for(std::size_t count, unsigned threads,
                    const std::function<Status(std::size_t index, unsigned worker)>& task,
                    const CancellationToken* cancellation = nullptr);

// Default parallelism: one worker per core.
unsigned default_jobs();

}  // namespace lifeboat
