// Restore's buffered writes start the kernel's write-out once per contiguous run of a file
// (io/durable_file.hpp, WritebackRun), not once per block: every written byte is handed over
// exactly once, in runs no longer than the limit (plus the range that crossed it).
#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "io/durable_file.hpp"

namespace lifeboat {
namespace {

using Call = std::tuple<int, std::uint64_t, std::uint64_t>;  // fd, offset, length

class RecordingSync final : public FileSync {
  public:
    void start_writeback(int fd, std::uint64_t offset, std::uint64_t length) const override {
        calls.emplace_back(fd, offset, length);
    }
    Status sync_file(int, const fs::path&) const override { return {}; }
    Status sync_directory(int, const fs::path&) const override { return {}; }
    mutable std::vector<Call> calls;
};

TEST(WritebackRunTest, AdjacentRangesOfOneFileGoOutTogether) {
    RecordingSync sync;
    WritebackRun run(sync, 1000);
    run.wrote(3, 0, 100);
    run.wrote(3, 100, 100);
    run.wrote(3, 200, 50);
    EXPECT_TRUE(sync.calls.empty());
    run.start();
    EXPECT_EQ(sync.calls, (std::vector<Call>{{3, 0, 250}}));
    run.start();  // nothing new gathered: nothing more
    EXPECT_EQ(sync.calls.size(), 1u);
}

TEST(WritebackRunTest, AGapAnotherFileOrTheLimitEndsARun) {
    RecordingSync sync;
    WritebackRun run(sync, 300);
    run.wrote(3, 0, 100);
    run.wrote(3, 500, 100);  // a gap
    run.wrote(4, 600, 100);  // another descriptor
    run.wrote(4, 700, 150);
    run.wrote(4, 850, 100);  // 350 bytes: past the limit, handed over at once
    run.wrote(4, 950, 10);
    run.start();
    EXPECT_EQ(sync.calls,
              (std::vector<Call>{{3, 0, 100}, {3, 500, 100}, {4, 600, 350}, {4, 950, 10}}));
}

TEST(WritebackRunTest, OutOfOrderRangesAreEachHandedOverOnce) {
    RecordingSync sync;
    WritebackRun run(sync, 1 << 20);
    run.wrote(5, 200, 100);
    run.wrote(5, 0, 100);
    run.wrote(5, 100, 100);
    run.start();
    std::uint64_t total = 0;
    for (const auto& [fd, offset, length] : sync.calls) {
        EXPECT_EQ(fd, 5);
        total += length;
    }
    EXPECT_EQ(total, 300u);
    EXPECT_EQ(sync.calls, (std::vector<Call>{{5, 200, 100}, {5, 0, 200}}));
}

}  // namespace
}  // namespace lifeboat
