#include "drivers/postgres_physical/read_ahead.hpp"

#include <algorithm>

namespace lifeboat::postgres_physical {

ScatteredReadAhead::ScatteredReadAhead(const BackupPlan& plan,
                                       const postgres::DataDirectoryScan& scan, unsigned workers,
                                       std::uint64_t window)
    : m_plan(plan), m_scan(scan), m_window(window), m_files(std::max(workers, 1u)) {
    m_bytes_before.reserve(plan.chunks.size() + 1);
    std::uint64_t total = 0;
    m_bytes_before.push_back(0);
    for (const FileChunk& chunk : plan.chunks) {
        if (reads_scattered(chunk)) total += *chunk.end - chunk.begin;
        m_bytes_before.push_back(total);
    }
}

void ScatteredReadAhead::started(std::size_t index, unsigned worker) {
    if (m_window == 0 || index >= m_plan.chunks.size() || worker >= m_files.size()) return;
    // The chunks after this one whose scattered bytes fit in the window.
    const std::uint64_t limit = m_bytes_before[index + 1] + m_window;
    const auto last =
        std::upper_bound(m_bytes_before.begin() + static_cast<std::ptrdiff_t>(index) + 1,
                         m_bytes_before.end(), limit);
    const std::size_t end = static_cast<std::size_t>(last - m_bytes_before.begin()) - 1;
    // Claim [from, end): the chunks no other worker has asked for yet.
    std::size_t from = m_next.load();
    do {
        if (from >= end) return;
    } while (!m_next.compare_exchange_weak(from, end));
    for (std::size_t i = std::max(from, index + 1); i < end; ++i)
        advise(i, m_files[worker]);
}

void ScatteredReadAhead::advise(std::size_t index, OpenFile& cache) {
    const FileChunk& chunk = m_plan.chunks[index];
    if (!reads_scattered(chunk)) return;
    if (!cache.file || cache.entry != chunk.entry) {
        cache.file.reset();
        auto file = File::open(m_scan.entries[chunk.entry].absolute, OpenMode::read);
        if (!file) return;
        cache.file = std::move(*file);
        cache.entry = chunk.entry;
    }
    cache.file->advise_will_need(chunk.begin, *chunk.end - chunk.begin);
    ++m_advised_count;
}

}  // namespace lifeboat::postgres_physical
