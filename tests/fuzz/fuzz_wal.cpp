// Fuzz target: WAL files as wal-push and verify check them (sources/postgres/wal.hpp,
// engine/wal_checks.hpp). The first byte picks the file name kind; the rest is the file. The raw
// input goes to the header and page checks; a copy whose long header declares 1 MiB segments,
// padded with zeros to that size, goes to the commit-time scanner and the complete-segment checks
// (a real 16 MiB segment per input would make each run thousands of times slower).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "drivers/postgres_physical/wal_checks.hpp"
#include "memory_storage.hpp"
#include "repository/object.hpp"
#include "sources/postgres/wal.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres;

namespace {

constexpr std::uint32_t k_fuzz_segment_size = 1u << 20;

const char* name_for(std::uint8_t selector) {
    switch (selector % 5) {
        case 0:
            return "000000010000000000000002";
        case 1:
            return "000000010000000000000002.partial";
        case 2:
            return "000000020000000000000002";  // a timeline whose history is archived
        case 3:
            return "00000002.history";
        default:
            return "000000010000000000000002.00000028.backup";
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::string name = name_for(data[0]);
    const std::string_view content(reinterpret_cast<const char*>(data + 1), size - 1);

    fuzz::MemoryStorage storage;
    (void)postgres_physical::check_wal_file(storage, name, content);
    (void)read_segment_header(content);
    (void)check_backup_history(content, "000000010000000000000002.00000028.backup");
    (void)classify_wal_file(content);
    (void)parse_lsn(content);

    std::string segment(content.substr(0, k_fuzz_segment_size));
    if (segment.size() < 40) return 0;
    std::memcpy(segment.data() + 32, &k_fuzz_segment_size, sizeof k_fuzz_segment_size);
    segment.resize(k_fuzz_segment_size, '\0');
    const auto span = scan_commit_times(segment);
    if (span && span->commits > 0 &&
        (!span->first_commit || !span->last_commit || *span->first_commit > *span->last_commit)) {
        __builtin_trap();
    }
    std::uint64_t before = 0;
    std::memcpy(&before, segment.data() + 8, sizeof before);  // the first page's address
    (void)scan_commit_times_before(segment, Lsn{before + (data[0] * 977u)});
    if (const auto header = read_segment_header(segment)) {
        const WalSegment which = segment_of(Lsn{header->page_address}, 2, k_fuzz_segment_size);
        (void)check_segment_pages(segment, which, SegmentCompleteness::complete);
        (void)postgres_physical::check_wal_file(storage, wal_file_name(which, k_fuzz_segment_size),
                                                segment);
    }
    return 0;
}
