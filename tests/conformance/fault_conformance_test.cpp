// Injected faults: with every third storage call failing transiently, RetryStorage makes the
// whole conformance suite pass; permanent faults fail cleanly and leave nothing partial visible.
// Also the plain ForwardingStorage every wrapper derives from, and what wrappers pass through.
#include "conformance/storage_conformance.hpp"
#include "storage/fault_storage.hpp"
#include "storage/forwarding_storage.hpp"
#include "storage/posix/posix_storage.hpp"
#include "storage/retry_storage.hpp"

namespace lifeboat::conformance {
namespace {

RetryPolicy instant_retries() {
    return RetryPolicy{.attempts = 5, .sleep = [](std::chrono::milliseconds) {}};
}

std::unique_ptr<Storage> make_flaky_storage(const fs::path& scratch) {
    auto posix = std::make_unique<PosixStorage>(scratch / "repo");
    auto faulty = std::make_unique<FaultStorage>(
        std::move(posix), FaultPlan{.code = ErrorCode::unavailable, .every = 3});
    return std::make_unique<RetryStorage>(std::move(faulty), instant_retries());
}

INSTANTIATE_TEST_SUITE_P(TransientFaults, StorageConformance,
                         ::testing::Values(StorageBackend{"retry_over_faults", make_flaky_storage}),
                         backend_name);

std::unique_ptr<Storage> make_forwarding_storage(const fs::path& scratch) {
    return std::make_unique<ForwardingStorage>(std::make_unique<PosixStorage>(scratch / "repo"));
}

INSTANTIATE_TEST_SUITE_P(Forwarding, StorageConformance,
                         ::testing::Values(StorageBackend{"forwarding_posix",
                                                          make_forwarding_storage}),
                         backend_name);

class PermanentFaults : public ::testing::Test {
  protected:
    void SetUp() override { m_dir.emplace(*TempDirectory::create("/tmp", "lb-faults-")); }
    fs::path root() const { return m_dir->path() / "repo"; }
    std::optional<TempDirectory> m_dir;
};

TEST_F(PermanentFaults, FailAtOnceWithoutRetrying) {
    auto faulty = std::make_unique<FaultStorage>(std::make_unique<PosixStorage>(root()),
                                                 FaultPlan{.code = ErrorCode::io, .first = 1});
    FaultStorage* faults = faulty.get();
    unsigned sleeps = 0;
    RetryStorage storage(std::move(faulty),
                         RetryPolicy{.sleep = [&](std::chrono::milliseconds) { ++sleeps; }});
    auto written = storage.write("a/b", "data", Overwrite::never);
    ASSERT_FALSE(written);
    EXPECT_EQ(written.error().code, ErrorCode::io);
    EXPECT_EQ(sleeps, 0u) << "a permanent error is not retried";
    EXPECT_EQ(faults->injected(), 1u);
    EXPECT_EQ(storage.read("a/b").error().code, ErrorCode::not_found) << "nothing was written";
}

TEST_F(PermanentFaults, AFailedCommitLeavesNothingVisible) {
    // Calls: start_upload (1), append (2), commit (3) fails.
    auto storage = std::make_unique<FaultStorage>(std::make_unique<PosixStorage>(root()),
                                                  FaultPlan{.code = ErrorCode::io, .every = 3});
    {
        auto upload = storage->start_upload("pack", Overwrite::never);
        ASSERT_TRUE(upload);
        ASSERT_TRUE((*upload)->append(std::string(100000, 'x')));
        EXPECT_FALSE((*upload)->commit());
    }
    PosixStorage direct(root());
    EXPECT_EQ(direct.read("pack").error().code, ErrorCode::not_found);
    auto listed = direct.list("");
    ASSERT_TRUE(listed);
    EXPECT_TRUE(listed->empty()) << "no partial object, no leftover temporary in a listing";
}

TEST_F(PermanentFaults, TransientFaultsBeyondTheAttemptsSurfaceAsUnavailable) {
    auto faulty =
        std::make_unique<FaultStorage>(std::make_unique<PosixStorage>(root()),
                                       FaultPlan{.code = ErrorCode::unavailable, .first = 10});
    RetryStorage storage(std::move(faulty), instant_retries());
    auto result = storage.stat("x");
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::unavailable);
}

TEST_F(PermanentFaults, FailingExactlyTheNthCallOfARunReachesEveryCall) {
    // What in-process fault tests do: count the calls of a clean run, then fail each in turn.
    auto run = [](Storage& storage) -> Status {
        LB_CHECK(storage.write("a", "1", Overwrite::never));
        auto upload = LB_TRY(storage.start_upload("b", Overwrite::never));
        LB_CHECK(upload->append("2"));
        LB_CHECK(upload->commit());
        LB_CHECK(storage.read("a"));
        return storage.remove_if_exists("a");
    };
    std::uint64_t total = 0;
    {
        FaultStorage clean(std::make_unique<PosixStorage>(root() / "clean"), FaultPlan{});
        ASSERT_TRUE(run(clean));
        total = clean.calls();
        EXPECT_EQ(clean.injected(), 0u);
    }
    ASSERT_EQ(total, 6u);
    for (std::uint64_t n = 1; n <= total; ++n) {
        FaultStorage faulty(std::make_unique<PosixStorage>(root() / std::to_string(n)),
                            FaultPlan{.code = ErrorCode::io, .nth = n});
        auto status = run(faulty);
        ASSERT_FALSE(status) << "call " << n;
        EXPECT_EQ(status.error().code, ErrorCode::io);
        EXPECT_EQ(faulty.injected(), 1u);
        EXPECT_EQ(faulty.calls(), n) << "the run stops at the failed call";
    }
}

TEST_F(PermanentFaults, WrappersPassFeaturesAndLocalFilesThrough) {
    auto posix = std::make_unique<PosixStorage>(root());
    const PosixStorage* inner = posix.get();
    auto faulty = std::make_unique<FaultStorage>(std::move(posix),
                                                 FaultPlan{.code = ErrorCode::io, .every = 1});
    const FaultStorage* faults = faulty.get();
    RetryStorage storage(std::move(faulty), instant_retries());
    const StorageFeatures features = storage.features();
    EXPECT_EQ(features.local_path, std::optional<fs::path>(root()));
    EXPECT_EQ(features.conditional_create, ConditionalCreate::atomic);
    EXPECT_EQ(features.ranged_reads, RangedReads::native);
    EXPECT_EQ(features.listing_cost, ListingCost::cheap);
    EXPECT_EQ(storage.local_files(), static_cast<const LocalFiles*>(inner));
    EXPECT_EQ(storage.location(), inner->location());
    EXPECT_EQ(faults->injected(), 0u) << "asking for features is not a storage call";

    // A borrowed inner storage stays its owner's.
    PosixStorage direct(root());
    {
        ForwardingStorage borrowed(direct);
        ASSERT_TRUE(borrowed.write("kept", "k", Overwrite::never));
    }
    EXPECT_EQ(direct.read("kept").value_or("?"), "k");
}

}  // namespace
}  // namespace lifeboat::conformance
