// How engine operations hand their operation context (util/operation_context.hpp) to the
// repository layer, which knows clocks and cancellation tokens but not contexts.
#pragma once

#include "repository/lock.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::engine {

// The timing of an operation's repository locks: the context's clock, and a lock wait that ends
// (ErrorCode::interrupted) as soon as the context is cancelled.
inline repo::LockTiming lock_timing(const OperationContext& ctx) {
    repo::LockTiming timing;
    timing.clock = ctx.clock;
    timing.cancellation = ctx.cancellation.get();
    return timing;
}

}  // namespace lifeboat::engine
