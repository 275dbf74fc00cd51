// Fuzz target: WAL summaries (sources/postgres/wal_summary.hpp). The first byte picks what the
// rest is: a WAL segment (its long header made to declare 1 MiB segments, padded with zeros to
// that size, as in fuzz_wal) summarised whole, up to a position, or with the input's tail as the
// next segment's first pages; or a stored summary's payload for parse_wal_summary. Invariants: a
// summary encodes to bytes that parse back to the same encoding, and a payload that parses is
// canonical (encoding what was parsed gives the same bytes).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "sources/postgres/wal_summary.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres;

namespace {

constexpr std::uint32_t k_fuzz_segment_size = 1u << 20;

void check_round_trip(const WalSummary& summary) {
    const std::string bytes = encode_wal_summary(summary);
    const auto back = parse_wal_summary(bytes, "fuzz");
    if (!back || encode_wal_summary(*back) != bytes) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t selector = data[0];
    const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

    if (selector % 4 == 3) {
        const auto parsed = parse_wal_summary(input, "fuzz");
        if (parsed && encode_wal_summary(*parsed) != input) __builtin_trap();
        return 0;
    }
    std::string segment(input.substr(0, k_fuzz_segment_size));
    if (segment.size() < 40) return 0;
    std::memcpy(segment.data() + 32, &k_fuzz_segment_size, sizeof k_fuzz_segment_size);
    std::string next;
    if (selector % 4 == 2) {
        // The tail of the input (after the first 64 KiB) as the next segment's head.
        next = std::string(input.substr(std::min<std::size_t>(input.size(), 65536)));
        segment.resize(std::min<std::size_t>(segment.size(), 65536));
    }
    segment.resize(k_fuzz_segment_size, '\0');
    std::optional<Lsn> before;
    if (selector % 4 == 1) {
        std::uint64_t address = 0;
        std::memcpy(&address, segment.data() + 8, sizeof address);
        before = Lsn{address + selector * 977u};
    }
    const auto summary = summarize_wal_segment(segment, 1, before, next);
    if (summary) check_round_trip(*summary);
    return 0;
}
