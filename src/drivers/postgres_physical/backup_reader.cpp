#include "drivers/postgres_physical/backup_reader.hpp"

#include <fcntl.h>

#include "io/file.hpp"
#include "sources/postgres/page_checksum.hpp"
#include "util/endian.hpp"

namespace lifeboat::postgres_physical {

namespace {

constexpr std::uint64_t k_readahead = 4 * 1024 * 1024;

// Verifies the pages of one block; re-reads a failing page once, since a page being written
// while we read it can look torn.
Status check_pages(const File& file, const postgres::DataEntry& entry, std::uint64_t offset,
                   std::string& buffer, std::size_t length, std::uint64_t start_lsn,
                   std::vector<repo::PageChecksumFailure>& failures) {
    using postgres::k_page_size;
    for (std::size_t at = 0; at + k_page_size <= length; at += k_page_size) {
        const std::uint64_t page_in_file = (offset + at) / k_page_size;
        const auto block_number = static_cast<std::uint32_t>(
            entry.relation_segment * postgres::k_blocks_per_segment + page_in_file);
        auto* page = reinterpret_cast<unsigned char*>(buffer.data() + at);
        if (postgres::verify_page(page, block_number, start_lsn) !=
            postgres::PageVerdict::bad_checksum) {
            continue;
        }
        const std::size_t n = LB_TRY(file.read_at(offset + at, buffer.data() + at, k_page_size));
        if (n == k_page_size && postgres::verify_page(page, block_number, start_lsn) !=
                                    postgres::PageVerdict::bad_checksum) {
            continue;
        }
        failures.push_back({entry.path, page_in_file});
    }
    return {};
}

}  // namespace

Result<ChunkResult> FileReader::read(const postgres::DataEntry& entry, std::uint64_t begin,
                                     std::optional<std::uint64_t> end, unsigned worker,
                                     std::vector<repo::PageChecksumFailure>& failures,
                                     ReadPattern pattern) {
    ChunkResult result;
    auto file = File::open(entry.absolute, OpenMode::read);
    if (!file) {
        // Dropped between the scan and now: PostgreSQL replays the drop from WAL.
        if (file.error().code == ErrorCode::not_found) {
            result.vanished = true;
            return result;
        }
        return std::unexpected(file.error());
    }
    if (pattern == ReadPattern::bounded && !end) pattern = ReadPattern::sequential;
    if (pattern == ReadPattern::scattered) {
        file->advise_random();
    } else {
        file->advise_sequential();
    }
    std::string buffer(m_block_size, '\0');
    std::uint64_t offset = begin;
    while (!end || offset < *end) {
        const std::size_t want =
            end ? static_cast<std::size_t>(std::min<std::uint64_t>(m_block_size, *end - offset))
                : m_block_size;
        // Near the end of a bounded range the kernel's read-ahead stops and the rest of the
        // range, exactly, is asked for instead.
        if (pattern == ReadPattern::bounded && *end - offset <= k_bounded_tail) {
            file->advise_random();
            file->advise_will_need(offset, *end - offset);
            pattern = ReadPattern::scattered;
        }
        // Start reading the next blocks while this one is hashed and compressed.
        if (pattern != ReadPattern::scattered && offset % k_readahead == 0) {
            const std::uint64_t ahead =
                end ? std::min<std::uint64_t>(k_readahead, *end - offset) : k_readahead;
            file->advise_will_need(offset + m_block_size, ahead);
        }
        const std::size_t n = LB_TRY(file->read_at(offset, buffer.data(), want));
        if (n == 0) break;
        if (entry.is_relation) {
            for (std::size_t at = 0; at + postgres::k_page_size <= n; at += postgres::k_page_size) {
                // pd_lsn: xlogid then xrecoff, each a uint32 in the server's byte order.
                const auto high = get_le<std::uint32_t>(std::string_view(buffer), at);
                const auto low = get_le<std::uint32_t>(std::string_view(buffer), at + 4);
                result.newest_page_lsn =
                    std::max(result.newest_page_lsn, std::uint64_t{high} << 32 | low);
            }
        }
        if (m_verify_pages && entry.is_relation) {
            LB_CHECK(check_pages(*file, entry, offset, buffer, n, m_start_lsn, failures));
        }
        result.blocks.push_back(LB_TRY(m_sink.store(std::string_view(buffer.data(), n), worker)));
        offset += n;
        m_bytes_done += n;
        if (n < want) break;
    }
    result.bytes = offset - begin;
    return result;
}

}  // namespace lifeboat::postgres_physical
