#include "repository/block_id_set.hpp"

#include <algorithm>
#include <cstring>

namespace lifeboat::repo {
namespace {

constexpr std::size_t k_id_bytes = sizeof(Digest);
static_assert(sizeof(BlockId) == k_id_bytes);
// Below this many ids a spill costs more than it saves.
constexpr std::size_t k_min_buffer_ids = 16;
constexpr std::size_t k_min_page_ids = 16;

bool id_less(const BlockId& a, const BlockId& b) {
    return a.digest < b.digest;
}

void sort_unique(std::vector<BlockId>& ids) {
    std::sort(ids.begin(), ids.end(), id_less);
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

std::string_view as_bytes(const std::vector<BlockId>& ids, std::size_t count) {
    return {reinterpret_cast<const char*>(ids.data()), count * k_id_bytes};
}

// Reads a sorted run file through a buffer of `buffer_ids` ids.
class RunReader {
  public:
    static Result<RunReader> open(const fs::path& path, std::size_t buffer_ids) {
        File file = LB_TRY(File::open(path, OpenMode::read));
        file.advise_sequential();
        RunReader reader(std::move(file), buffer_ids);
        LB_CHECK(reader.refill());
        return reader;
    }
    bool done() const { return m_next == m_ids.size(); }
    const BlockId& head() const { return m_ids[m_next]; }
    Status pop() {
        ++m_next;
        if (done()) return refill();
        return {};
    }

  private:
    RunReader(File file, std::size_t buffer_ids)
        : m_file(std::move(file)), m_ids(buffer_ids), m_capacity(buffer_ids) {}
    Status refill() {
        m_ids.resize(m_capacity);
        const std::size_t got = LB_TRY(m_file.read_at(
            m_offset, reinterpret_cast<char*>(m_ids.data()), m_capacity * k_id_bytes));
        if (got % k_id_bytes != 0) {
            return fail(ErrorCode::io, "{}: truncated spill file", m_file.path().string());
        }
        m_offset += got;
        m_ids.resize(got / k_id_bytes);
        m_next = 0;
        return {};
    }
    File m_file;
    std::vector<BlockId> m_ids;
    std::size_t m_capacity;
    std::size_t m_next = 0;
    std::uint64_t m_offset = 0;
};

}  // namespace

BlockIdSet::BlockIdSet(std::size_t memory_budget, fs::path spill_parent)
    : m_buffer_ids(std::max(k_min_buffer_ids, memory_budget / k_id_bytes)),
      m_spill_parent(std::move(spill_parent)) {}

Status BlockIdSet::add(const BlockId& id) {
    if (m_sealed) return fail(ErrorCode::internal, "block id set: add after seal");
    m_buffer.push_back(id);
    if (m_buffer.size() >= m_buffer_ids) return spill_buffer();
    return {};
}

Status BlockIdSet::spill_buffer() {
    sort_unique(m_buffer);
    if (!m_dir) {
        auto created = LB_TRY(TempDirectory::create(m_spill_parent, "lifeboat-blockset-"));
        m_dir.emplace(std::move(created));
    }
    const fs::path path = m_dir->path() / fmt::format("run-{:06}", m_runs.size());
    File run = LB_TRY(File::open(path, OpenMode::create_new, 0600));
    LB_CHECK(run.append(as_bytes(m_buffer, m_buffer.size())));
    LB_CHECK(run.close());
    m_runs.push_back(path);
    m_buffer.clear();
    m_buffer.shrink_to_fit();
    return {};
}

Status BlockIdSet::seal() {
    if (m_sealed) return {};
    m_sealed = true;
    if (m_runs.empty()) {
        sort_unique(m_buffer);
        m_size = m_buffer.size();
        return {};
    }
    if (!m_buffer.empty()) LB_CHECK(spill_buffer());
    return merge_runs();
}

// A k-way merge of the runs into one sorted file without duplicates. Each run reads through an
// equal share of half the budget; the output is written through the other half.
Status BlockIdSet::merge_runs() {
    const std::size_t share =
        std::max<std::size_t>(k_min_page_ids, m_buffer_ids / 2 / (m_runs.size() + 1));
    std::vector<RunReader> readers;
    readers.reserve(m_runs.size());
    for (const auto& run : m_runs) {
        auto reader = LB_TRY(RunReader::open(run, share));
        readers.push_back(std::move(reader));
    }
    const fs::path merged_path = m_dir->path() / "merged";
    File merged = LB_TRY(File::open(merged_path, OpenMode::create_new, 0600));
    std::vector<BlockId> out;
    out.reserve(m_buffer_ids / 2);
    std::optional<BlockId> last;
    m_size = 0;
    while (true) {
        RunReader* lowest = nullptr;
        for (auto& r : readers) {
            if (!r.done() && (!lowest || id_less(r.head(), lowest->head()))) lowest = &r;
        }
        if (!lowest) break;
        const BlockId id = lowest->head();
        LB_CHECK(lowest->pop());
        if (last && *last == id) continue;
        last = id;
        out.push_back(id);
        ++m_size;
        if (out.size() == out.capacity()) {
            LB_CHECK(merged.append(as_bytes(out, out.size())));
            out.clear();
        }
    }
    LB_CHECK(merged.append(as_bytes(out, out.size())));
    LB_CHECK(merged.close());
    merged = LB_TRY(File::open(merged_path, OpenMode::read));
    readers.clear();
    for (const auto& run : m_runs) {
        std::error_code ec;
        fs::remove(run, ec);  // space back early; the directory goes with the set anyway
    }
    m_runs.clear();
    // Pages as small as the index allows: at most half the budget for the first ids.
    const std::uint64_t index_entries = std::max<std::uint64_t>(1, m_buffer_ids / 2);
    m_page_ids = k_min_page_ids;
    while (m_size / m_page_ids > index_entries)
        m_page_ids *= 2;
    m_page_first.clear();
    for (std::uint64_t first = 0; first < m_size; first += m_page_ids) {
        BlockId id;
        const std::size_t got = LB_TRY(merged.read_at(
            first * k_id_bytes, reinterpret_cast<char*>(id.digest.data()), k_id_bytes));
        if (got != k_id_bytes) {
            return fail(ErrorCode::io, "{}: truncated spill file", merged_path.string());
        }
        m_page_first.push_back(id);
    }
    merged.advise_random();
    m_merged.emplace(std::move(merged));
    return {};
}

Result<bool> BlockIdSet::contains(const BlockId& id) const {
    if (!m_sealed) return fail(ErrorCode::internal, "block id set: lookup before seal");
    if (!m_merged) return std::binary_search(m_buffer.begin(), m_buffer.end(), id, id_less);
    // The last page whose first id is <= id.
    const auto after = std::upper_bound(m_page_first.begin(), m_page_first.end(), id, id_less);
    if (after == m_page_first.begin()) return false;
    const std::uint64_t page = static_cast<std::uint64_t>(after - m_page_first.begin()) - 1;
    std::vector<BlockId> ids(m_page_ids);
    const std::size_t got =
        LB_TRY(m_merged->read_at(page * m_page_ids * k_id_bytes,
                                 reinterpret_cast<char*>(ids.data()), m_page_ids * k_id_bytes));
    ids.resize(got / k_id_bytes);
    return std::binary_search(ids.begin(), ids.end(), id, id_less);
}

}  // namespace lifeboat::repo
