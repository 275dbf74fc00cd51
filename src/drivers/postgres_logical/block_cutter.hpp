// BlockCutter: cuts a stream that arrives in pieces of any size (a COPY's output) into blocks of
// exactly `block_size` bytes (the last one shorter), handing each to a store function. Memory
// stays at one block whatever the stream's length.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "repository/block.hpp"
#include "util/error.hpp"

namespace lifeboat::postgres_logical {

class BlockCutter {
  public:
    using StoreFn = std::function<Result<repo::BlockId>(std::string_view block)>;
    BlockCutter(std::uint32_t block_size, StoreFn store)
        : m_block_size(block_size), m_store(std::move(store)) {
        m_buffer.reserve(block_size);
    }

    // Adds `piece`, storing every block it completes.
    Status add(std::string_view piece);
    // Stores what is left (nothing when the stream ended on a block boundary or was empty).
    Status finish();

    std::uint64_t size() const { return m_size; }
    const std::vector<repo::BlockId>& blocks() const { return m_blocks; }

  private:
    std::uint32_t m_block_size;
    StoreFn m_store;
    std::string m_buffer;
    std::uint64_t m_size = 0;
    std::vector<repo::BlockId> m_blocks;
};

}  // namespace lifeboat::postgres_logical
