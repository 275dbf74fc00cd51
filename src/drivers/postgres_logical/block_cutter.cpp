#include "drivers/postgres_logical/block_cutter.hpp"

#include <algorithm>

namespace lifeboat::postgres_logical {

Status BlockCutter::add(std::string_view piece) {
    m_size += piece.size();
    while (!piece.empty()) {
        const std::size_t room = m_block_size - m_buffer.size();
        const std::size_t take = std::min(room, piece.size());
        m_buffer.append(piece.substr(0, take));
        piece.remove_prefix(take);
        if (m_buffer.size() == m_block_size) {
            const repo::BlockId id = LB_TRY(m_store(m_buffer));
            m_blocks.push_back(id);
            m_buffer.clear();
        }
    }
    return {};
}

Status BlockCutter::finish() {
    if (m_buffer.empty()) return {};
    const repo::BlockId id = LB_TRY(m_store(m_buffer));
    m_blocks.push_back(id);
    m_buffer.clear();
    return {};
}

}  // namespace lifeboat::postgres_logical
