// The Storage contract (src/storage/storage.hpp), checked the same way for every backend.
#include "conformance/storage_conformance.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <latch>
#include <map>
#include <set>
#include <thread>
#include <vector>

namespace lifeboat::conformance {

std::string backend_name(const ::testing::TestParamInfo<StorageBackend>& info) {
    return info.param.name;
}

void StorageConformance::SetUp() {
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    test = test.substr(0, test.find('/'));
    if (auto gap = GetParam().known_gaps.find(test); gap != GetParam().known_gaps.end()) {
        GTEST_SKIP() << GetParam().name << " cannot pass this test: " << gap->second;
    }
    auto scratch = TempDirectory::create(fs::temp_directory_path(), "lb-conformance-");
    ASSERT_TRUE(scratch) << scratch.error().message;
    m_scratch.emplace(std::move(*scratch));
    m_storage = GetParam().make(m_scratch->path());
    if (IsSkipped()) return;
    ASSERT_NE(m_storage, nullptr);
}

void StorageConformance::TearDown() {
    m_storage.reset();
    m_scratch.reset();
}

namespace {

std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

}  // namespace

std::string pattern_bytes(std::uint64_t seed, std::uint64_t offset, std::size_t length) {
    std::string out(length, '\0');
    const std::uint64_t salt = splitmix64(seed ^ 0x5eed5eed5eed5eedull);
    std::uint64_t position = offset;
    std::size_t done = 0;
    while (done < length) {
        const std::uint64_t word = splitmix64(salt + position / 8);
        const std::size_t first = position % 8;
        const std::size_t n = std::min<std::size_t>(8 - first, length - done);
        for (std::size_t k = 0; k < n; ++k) {
            out[done + k] = static_cast<char>((word >> (8 * (first + k))) & 0xff);
        }
        done += n;
        position += n;
    }
    return out;
}

namespace {

constexpr std::size_t k_mib = 1024 * 1024;

// Compares without printing megabytes when they differ.
::testing::AssertionResult same_bytes(std::string_view actual, std::string_view expected) {
    if (actual.size() != expected.size()) {
        return ::testing::AssertionFailure()
               << "size " << actual.size() << ", expected " << expected.size();
    }
    const auto mismatch = std::mismatch(actual.begin(), actual.end(), expected.begin());
    if (mismatch.first != actual.end()) {
        return ::testing::AssertionFailure()
               << "first difference at byte " << (mismatch.first - actual.begin()) << " of "
               << actual.size();
    }
    return ::testing::AssertionSuccess();
}

std::map<std::string, std::uint64_t> sizes_by_key(const std::vector<ObjectInfo>& objects) {
    std::map<std::string, std::uint64_t> out;
    for (const auto& o : objects) {
        EXPECT_TRUE(out.emplace(o.key, o.size).second) << "listed twice: " << o.key;
    }
    return out;
}

std::map<std::string, std::uint64_t> list_sizes(const Storage& storage, const std::string& prefix) {
    auto listed = storage.list(prefix);
    EXPECT_TRUE(listed) << "list '" << prefix << "': " << listed.error().message;
    if (!listed) return {};
    return sizes_by_key(*listed);
}

void expect_not_found(const Storage& storage, const std::string& key) {
    auto read = storage.read(key);
    ASSERT_FALSE(read) << "read " << key << " returned " << read->size() << " bytes";
    EXPECT_EQ(read.error().code, ErrorCode::not_found) << key << ": " << read.error().message;
    auto range = storage.read_range(key, 0, 1);
    ASSERT_FALSE(range) << "read_range " << key;
    EXPECT_EQ(range.error().code, ErrorCode::not_found) << key << ": " << range.error().message;
    auto info = storage.stat(key);
    ASSERT_FALSE(info) << "stat " << key << " returned size " << info->size;
    EXPECT_EQ(info.error().code, ErrorCode::not_found) << key << ": " << info.error().message;
}

Status write_with_upload(Storage& storage, const std::string& key, std::string_view data,
                         Overwrite overwrite, std::size_t piece) {
    auto upload = LB_TRY(storage.start_upload(key, overwrite));
    for (std::size_t at = 0; at < data.size(); at += piece) {
        LB_CHECK(upload->append(data.substr(at, piece)));
    }
    return upload->commit();
}

// Races `threads` writers (half with write, half with uploads) to create `key` with
// Overwrite::never; checks that every loser got conflict and that exactly one writer's content
// is stored.
void expect_one_winner(Storage& storage, const std::string& key, unsigned threads,
                       std::uint64_t seed) {
    constexpr std::size_t k_size = 64 * 1024;
    std::vector<std::string> contents;
    for (unsigned t = 0; t < threads; ++t)
        contents.push_back(pattern_bytes(seed + t, 0, k_size + t));
    std::vector<Status> results(threads);
    std::latch start(threads);
    std::vector<std::thread> writers;
    for (unsigned t = 0; t < threads; ++t) {
        writers.emplace_back([&, t] {
            start.arrive_and_wait();
            results[t] = t % 2
                             ? write_with_upload(storage, key, contents[t], Overwrite::never, 8'192)
                             : storage.write(key, contents[t], Overwrite::never);
        });
    }
    for (auto& writer : writers)
        writer.join();

    std::vector<unsigned> winners;
    for (unsigned t = 0; t < threads; ++t) {
        if (results[t]) {
            winners.push_back(t);
        } else {
            EXPECT_EQ(results[t].error().code, ErrorCode::conflict)
                << key << " thread " << t << ": " << results[t].error().message;
        }
    }
    ASSERT_EQ(winners.size(), 1u) << key;
    auto read = storage.read(key);
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_TRUE(same_bytes(*read, contents[winners.front()])) << key;
}

}  // namespace

// --- Round trips --------------------------------------------------------------------------------

TEST_P(StorageConformance, WriteThenReadReturnsTheSameBytes) {
    std::string data = pattern_bytes(1, 0, 100'000);
    data.append("\0\xff\n\r", 4);  // binary-safe, including NUL
    ASSERT_TRUE(storage().write("objects/one", data, Overwrite::never));

    auto read = storage().read("objects/one");
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_TRUE(same_bytes(*read, data));
    auto info = storage().stat("objects/one");
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->key, "objects/one");
    EXPECT_EQ(info->size, data.size());
}

TEST_P(StorageConformance, DeeplyNestedAndTopLevelKeysRoundTrip) {
    const std::string deep = "data/ab/" + std::string(64, 'a') + "/x/y/z";
    ASSERT_TRUE(storage().write(deep, "deep", Overwrite::never));
    ASSERT_TRUE(storage().write("config", "top", Overwrite::never));
    EXPECT_EQ(storage().read(deep).value_or("?"), "deep");
    EXPECT_EQ(storage().read("config").value_or("?"), "top");
}

TEST_P(StorageConformance, EmptyObjectRoundTrips) {
    ASSERT_TRUE(storage().write("empty/object", "", Overwrite::never));
    auto read = storage().read("empty/object");
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_TRUE(read->empty());
    auto info = storage().stat("empty/object");
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->size, 0u);
    EXPECT_EQ(list_sizes(storage(), "empty"),
              (std::map<std::string, std::uint64_t>{{"empty/object", 0}}));
}

TEST_P(StorageConformance, UploadInPiecesRoundTripsAndCountsItsBytes) {
    const std::string data = pattern_bytes(2, 0, 300'001);
    auto upload = storage().start_upload("uploads/pieces", Overwrite::never);
    ASSERT_TRUE(upload) << upload.error().message;
    EXPECT_EQ((*upload)->size(), 0u);
    std::uint64_t appended = 0;
    for (std::size_t at = 0; at < data.size(); at += 65'537) {
        const auto piece = std::string_view(data).substr(at, 65'537);
        ASSERT_TRUE((*upload)->append(piece));
        appended += piece.size();
        EXPECT_EQ((*upload)->size(), appended);
    }
    ASSERT_TRUE((*upload)->append(""));
    EXPECT_EQ((*upload)->size(), data.size());
    auto committed = (*upload)->commit();
    ASSERT_TRUE(committed) << committed.error().message;

    auto read = storage().read("uploads/pieces");
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_TRUE(same_bytes(*read, data));
}

// --- Missing keys -------------------------------------------------------------------------------

TEST_P(StorageConformance, MissingKeyIsNotFoundForReadReadRangeAndStat) {
    expect_not_found(storage(), "nothing/here");
    expect_not_found(storage(), "config");
    ASSERT_TRUE(storage().write("present/a", "a", Overwrite::never));
    expect_not_found(storage(), "present/b");
    expect_not_found(storage(), "present/a2");
}

TEST_P(StorageConformance, KeyBelowAnExistingObjectIsNotFound) {
    // Regression test (was a bug): PosixStorage maps ENOTDIR to the wrong code. With "present/a"
    // published, read("present/a/deeper") and read_range(...) fail with ErrorCode::io and stat(...)
    // with ErrorCode::repository ("Not a directory") instead of not_found, and
    // remove_if_exists("present/a/deeper") fails instead of being a no-op.
    ASSERT_TRUE(storage().write("present/a", "a", Overwrite::never));
    expect_not_found(storage(), "present/a/deeper");
    auto removed = storage().remove_if_exists("present/a/deeper");
    EXPECT_TRUE(removed) << removed.error().message;
    EXPECT_EQ(storage().read("present/a").value_or("?"), "a");
}

TEST_P(StorageConformance, FolderThatOnlyHoldsObjectsIsNotAnObject) {
    // Regression test (was a bug): PosixStorage treats a directory as an object: stat("folder")
    // succeeds (with the directory's size) and read("folder") fails with ErrorCode::io (EISDIR)
    // instead of not_found; read_range("folder", ...) fails with ErrorCode::io as well. An object
    // store has no such thing as a folder object, so the contract says all three are
    // ErrorCode::not_found.
    ASSERT_TRUE(storage().write("folder/object", "x", Overwrite::never));
    expect_not_found(storage(), "folder");
}

// --- Ranged reads -------------------------------------------------------------------------------

TEST_P(StorageConformance, ReadRangeReturnsExactlyTheRequestedBytes) {
    const std::string data = pattern_bytes(3, 0, 10'000);
    ASSERT_TRUE(storage().write("ranges/object", data, Overwrite::never));
    const std::vector<std::pair<std::uint64_t, std::size_t>> ranges = {
        {0, 1}, {0, 100}, {4'000, 1'234}, {9'900, 100}, {9'999, 1}, {0, 10'000}, {1, 9'999}};
    for (const auto& [offset, length] : ranges) {
        auto part = storage().read_range("ranges/object", offset, length);
        ASSERT_TRUE(part) << offset << "+" << length << ": " << part.error().message;
        EXPECT_TRUE(same_bytes(*part, std::string_view(data).substr(offset, length)))
            << offset << "+" << length;
    }
}

TEST_P(StorageConformance, ReadRangeBeyondTheEndFails) {
    const std::string data = pattern_bytes(4, 0, 10'000);
    ASSERT_TRUE(storage().write("ranges/object", data, Overwrite::never));
    const std::vector<std::pair<std::uint64_t, std::size_t>> ranges = {
        {9'950, 100}, {9'999, 2}, {0, 10'001}, {10'000, 1}, {20'000, 10}};
    for (const auto& [offset, length] : ranges) {
        auto part = storage().read_range("ranges/object", offset, length);
        EXPECT_FALSE(part) << offset << "+" << length << " returned " << part->size() << " bytes";
        if (!part) {
            EXPECT_NE(part.error().code, ErrorCode::not_found)
                << "the object exists; only the range is bad: " << part.error().message;
        }
    }
}

// --- Listing ------------------------------------------------------------------------------------

TEST_P(StorageConformance, ListReturnsEveryKeyUnderAPrefixRecursivelyWithSizes) {
    const std::map<std::string, std::uint64_t> objects = {
        {"a/1", 10}, {"a/b/2", 20}, {"a/b/c/3", 30}, {"ab/4", 40}, {"z/5", 50}};
    for (const auto& [key, size] : objects) {
        ASSERT_TRUE(storage().write(key, std::string(size, 'x'), Overwrite::never)) << key;
    }
    using Sizes = std::map<std::string, std::uint64_t>;
    // A prefix names a folder: "a" does not match "ab/4".
    EXPECT_EQ(list_sizes(storage(), "a"), (Sizes{{"a/1", 10}, {"a/b/2", 20}, {"a/b/c/3", 30}}));
    EXPECT_EQ(list_sizes(storage(), "a/b"), (Sizes{{"a/b/2", 20}, {"a/b/c/3", 30}}));
    EXPECT_EQ(list_sizes(storage(), "a/b/c"), (Sizes{{"a/b/c/3", 30}}));
    EXPECT_EQ(list_sizes(storage(), "ab"), (Sizes{{"ab/4", 40}}));
    EXPECT_EQ(list_sizes(storage(), "z"), (Sizes{{"z/5", 50}}));
}

TEST_P(StorageConformance, ListOfAPrefixWithNothingUnderItIsEmpty) {
    EXPECT_TRUE(list_sizes(storage(), "nothing").empty());
    ASSERT_TRUE(storage().write("a/1", "1", Overwrite::never));
    EXPECT_TRUE(list_sizes(storage(), "a/nothing").empty());
    EXPECT_TRUE(list_sizes(storage(), "b").empty());
}

TEST_P(StorageConformance, ListOfAnEmptyStorageIsEmpty) {
    EXPECT_TRUE(list_sizes(storage(), "").empty());
}

TEST_P(StorageConformance, ListExcludesObjectsStillBeingWritten) {
    ASSERT_TRUE(storage().write("a/done", "done", Overwrite::never));
    auto upload = storage().start_upload("a/pending", Overwrite::never);
    ASSERT_TRUE(upload) << upload.error().message;
    ASSERT_TRUE((*upload)->append(pattern_bytes(5, 0, 100'000)));
    using Sizes = std::map<std::string, std::uint64_t>;
    EXPECT_EQ(list_sizes(storage(), "a"), (Sizes{{"a/done", 4}}));
    expect_not_found(storage(), "a/pending");

    ASSERT_TRUE((*upload)->commit());
    EXPECT_EQ(list_sizes(storage(), "a"), (Sizes{{"a/done", 4}, {"a/pending", 100'000}}));
}

TEST_P(StorageConformance, ListOfTheWholeStorageReturnsOnlyPublishedKeys) {
    // Regression test (was a bug): PosixStorage::list("") walks the whole root, including
    // <root>/tmp, so an upload in progress is listed as "tmp/<pid>-<counter>-<clock>" (as are stale
    // temporaries of crashed writers). The contract says objects still being written are never
    // listed.
    ASSERT_TRUE(storage().write("a/1", "1", Overwrite::never));
    ASSERT_TRUE(storage().write("b/2", "22", Overwrite::never));
    auto upload = storage().start_upload("c/3", Overwrite::never);
    ASSERT_TRUE(upload) << upload.error().message;
    ASSERT_TRUE((*upload)->append("333"));
    using Sizes = std::map<std::string, std::uint64_t>;
    EXPECT_EQ(list_sizes(storage(), ""), (Sizes{{"a/1", 1}, {"b/2", 2}}));
}

// --- Overwrite semantics ------------------------------------------------------------------------

TEST_P(StorageConformance, OverwriteNeverOnAnExistingKeyIsConflictAndKeepsTheOldContent) {
    const std::string original = pattern_bytes(6, 0, 5'000);
    ASSERT_TRUE(storage().write("keys/fixed", original, Overwrite::never));

    auto again = storage().write("keys/fixed", pattern_bytes(7, 0, 7'000), Overwrite::never);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::conflict) << again.error().message;

    // The streaming path may refuse at start or at commit, but must refuse with conflict.
    auto upload = storage().start_upload("keys/fixed", Overwrite::never);
    if (upload) {
        ASSERT_TRUE((*upload)->append(pattern_bytes(8, 0, 9'000)));
        auto committed = (*upload)->commit();
        ASSERT_FALSE(committed);
        EXPECT_EQ(committed.error().code, ErrorCode::conflict) << committed.error().message;
    } else {
        EXPECT_EQ(upload.error().code, ErrorCode::conflict) << upload.error().message;
    }

    auto read = storage().read("keys/fixed");
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_TRUE(same_bytes(*read, original));
    EXPECT_EQ(list_sizes(storage(), "keys"),
              (std::map<std::string, std::uint64_t>{{"keys/fixed", original.size()}}));
}

TEST_P(StorageConformance, OverwriteAllowReplacesTheObject) {
    ASSERT_TRUE(storage().write("keys/mutable", pattern_bytes(9, 0, 8'000), Overwrite::allow));
    const std::string second = pattern_bytes(10, 0, 3'000);
    ASSERT_TRUE(storage().write("keys/mutable", second, Overwrite::allow));
    EXPECT_TRUE(same_bytes(storage().read("keys/mutable").value_or(""), second));
    EXPECT_EQ(storage().stat("keys/mutable").value_or(ObjectInfo{}).size, second.size());

    const std::string third = pattern_bytes(11, 0, 20'000);
    ASSERT_TRUE(write_with_upload(storage(), "keys/mutable", third, Overwrite::allow, 4'096));
    EXPECT_TRUE(same_bytes(storage().read("keys/mutable").value_or(""), third));
    EXPECT_EQ(list_sizes(storage(), "keys"),
              (std::map<std::string, std::uint64_t>{{"keys/mutable", third.size()}}));
}

// --- Abandoned uploads --------------------------------------------------------------------------

TEST_P(StorageConformance, UploadDestroyedWithoutCommitLeavesNothingVisible) {
    for (const Overwrite overwrite : {Overwrite::never, Overwrite::allow}) {
        auto upload = storage().start_upload("abandoned/object", overwrite);
        ASSERT_TRUE(upload) << upload.error().message;
        ASSERT_TRUE((*upload)->append(pattern_bytes(12, 0, k_mib)));
        upload->reset();
    }
    expect_not_found(storage(), "abandoned/object");
    EXPECT_TRUE(list_sizes(storage(), "abandoned").empty());
    EXPECT_TRUE(list_sizes(storage(), "").empty());
    // The key is still free.
    ASSERT_TRUE(storage().write("abandoned/object", "later", Overwrite::never));
    EXPECT_EQ(storage().read("abandoned/object").value_or("?"), "later");
}

TEST_P(StorageConformance, UploadDestroyedWithoutCommitKeepsTheExistingObject) {
    ASSERT_TRUE(storage().write("abandoned/replace", "old", Overwrite::never));
    {
        auto upload = storage().start_upload("abandoned/replace", Overwrite::allow);
        ASSERT_TRUE(upload) << upload.error().message;
        ASSERT_TRUE((*upload)->append("new content that is never committed"));
    }
    EXPECT_EQ(storage().read("abandoned/replace").value_or("?"), "old");
}

// --- Large objects ------------------------------------------------------------------------------

TEST_P(StorageConformance, LargeObjectStreamedInAppendsRoundTripsWithRangedReads) {
    constexpr std::size_t k_size = 64 * k_mib;
    constexpr std::uint64_t k_seed = 13;
    {
        auto upload = storage().start_upload("large/object", Overwrite::never);
        ASSERT_TRUE(upload) << upload.error().message;
        for (std::size_t at = 0; at < k_size; at += k_mib) {
            ASSERT_TRUE((*upload)->append(pattern_bytes(k_seed, at, k_mib)));
        }
        EXPECT_EQ((*upload)->size(), k_size);
        auto committed = (*upload)->commit();
        ASSERT_TRUE(committed) << committed.error().message;
    }
    auto info = storage().stat("large/object");
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->size, k_size);

    const std::vector<std::pair<std::uint64_t, std::size_t>> ranges = {
        {0, 4'096},                    // the start
        {k_mib - 100, 200},            // across an append boundary
        {32 * k_mib + 12'345, k_mib},  // the middle, unaligned
        {k_size - k_mib, k_mib},       // the end
        {k_size - 1, 1}};              // the last byte
    for (const auto& [offset, length] : ranges) {
        auto part = storage().read_range("large/object", offset, length);
        ASSERT_TRUE(part) << offset << "+" << length << ": " << part.error().message;
        EXPECT_TRUE(same_bytes(*part, pattern_bytes(k_seed, offset, length)))
            << offset << "+" << length;
    }
    EXPECT_FALSE(storage().read_range("large/object", k_size - 10, 11));

    auto whole = storage().read("large/object");
    ASSERT_TRUE(whole) << whole.error().message;
    ASSERT_EQ(whole->size(), k_size);
    for (std::size_t at = 0; at < k_size; at += k_mib) {
        ASSERT_TRUE(same_bytes(std::string_view(*whole).substr(at, k_mib),
                               pattern_bytes(k_seed, at, k_mib)))
            << "MiB " << at / k_mib;
    }
}

// --- Removal ------------------------------------------------------------------------------------

TEST_P(StorageConformance, RemoveIfExistsOfAMissingKeyIsANoOp) {
    ASSERT_TRUE(storage().write("keep/me", "kept", Overwrite::never));
    for (const char* key : {"never/was", "keep/other"}) {
        auto removed = storage().remove_if_exists(key);
        EXPECT_TRUE(removed) << key << ": " << removed.error().message;
    }
    EXPECT_EQ(storage().read("keep/me").value_or("?"), "kept");
}

TEST_P(StorageConformance, RemoveIfExistsDeletesTheObjectAndFreesTheKey) {
    ASSERT_TRUE(storage().write("gone/soon", "x", Overwrite::never));
    ASSERT_TRUE(storage().write("gone/stays", "y", Overwrite::never));
    ASSERT_TRUE(storage().remove_if_exists("gone/soon"));
    expect_not_found(storage(), "gone/soon");
    EXPECT_EQ(list_sizes(storage(), "gone"),
              (std::map<std::string, std::uint64_t>{{"gone/stays", 1}}));
    ASSERT_TRUE(storage().remove_if_exists("gone/soon"));  // twice is fine
    ASSERT_TRUE(storage().write("gone/soon", "again", Overwrite::never));
    EXPECT_EQ(storage().read("gone/soon").value_or("?"), "again");
}

// --- Declared features --------------------------------------------------------------------------
// What features() and local_files() declare must hold: callers branch on them instead of on the
// backend's type (src/storage/storage.hpp). Costs (native or emulated ranged reads, listing
// cost) are not observable through the interface, so what is checked is what a caller relying on
// a claim depends on.

TEST_P(StorageConformance, DeclaredConditionalCreateRefusesASecondCreate) {
    const StorageFeatures features = storage().features();
    ASSERT_TRUE(storage().write("create/once", "first", Overwrite::never));
    for (int attempt = 0; attempt < 3; ++attempt) {
        auto again = storage().write("create/once", "second", Overwrite::never);
        ASSERT_FALSE(again) << "attempt " << attempt;
        EXPECT_EQ(again.error().code, ErrorCode::conflict) << again.error().message;
    }
    auto upload = write_with_upload(storage(), "create/once", "third", Overwrite::never, 2);
    ASSERT_FALSE(upload);
    EXPECT_EQ(upload.error().code, ErrorCode::conflict) << upload.error().message;
    EXPECT_EQ(storage().read("create/once").value_or("?"), "first");
    if (features.conditional_create == ConditionalCreate::atomic) {
        // The claim covers racing writers too, as the locks and backup ids rely on it.
        for (unsigned round = 0; round < 8; ++round)
            ASSERT_NO_FATAL_FAILURE(
                expect_one_winner(storage(), fmt::format("create/race{}", round), 4, round * 10));
    }
}

TEST_P(StorageConformance, DeclaredRangedReadsReturnExactRanges) {
    const StorageFeatures features = storage().features();
    EXPECT_TRUE(features.ranged_reads == RangedReads::native ||
                features.ranged_reads == RangedReads::emulated);
    // Ranges across the 64 KiB chunks of the encrypting wrapper and around S3's part boundaries.
    constexpr std::size_t k_size = 300'000;
    const std::string data = pattern_bytes(31, 0, k_size);
    ASSERT_TRUE(write_with_upload(storage(), "ranges/exact", data, Overwrite::never, 50'000));
    for (const std::uint64_t offset : {0ull, 1ull, 65'535ull, 65'536ull, 131'071ull, 299'999ull}) {
        for (const std::size_t length : {1ul, 2ul, 4'096ul, 65'536ul, 100'001ul}) {
            if (offset + length > k_size) continue;
            auto part = storage().read_range("ranges/exact", offset, length);
            ASSERT_TRUE(part) << offset << "+" << length << ": " << part.error().message;
            EXPECT_TRUE(same_bytes(*part, std::string_view(data).substr(offset, length)))
                << offset << "+" << length;
        }
    }
}

TEST_P(StorageConformance, DeclaredLocalPathHoldsTheObjectsAsFiles) {
    const StorageFeatures features = storage().features();
    const Storage& read_only = storage();
    EXPECT_EQ(features.local_path.has_value(), storage().local_files() != nullptr)
        << "local_files() is offered exactly when there is a local path";
    EXPECT_EQ(features.local_path.has_value(), read_only.local_files() != nullptr);
    if (!features.local_path) return;
    const fs::path root = *features.local_path;
    EXPECT_TRUE(root.is_absolute()) << root;
    ASSERT_TRUE(storage().write("local/nested/object", "local bytes", Overwrite::never));
    std::error_code ec;
    EXPECT_TRUE(fs::is_regular_file(root / "local/nested/object", ec))
        << "the object is the file <local_path>/<key>";
    auto loose = read_only.local_files()->loose_permissions();
    ASSERT_TRUE(loose) << loose.error().message;
    EXPECT_TRUE(loose->empty()) << "a storage's own files and directories are 0640 / 0750: "
                                << (loose->empty() ? "" : loose->front());
    ASSERT_TRUE(storage().local_files()->clean_stale_temporaries());
    EXPECT_EQ(storage().read("local/nested/object").value_or("?"), "local bytes");
    ASSERT_TRUE(storage().remove_if_exists("local/nested/object"));
    EXPECT_FALSE(fs::exists(root / "local/nested/object", ec)) << "removing removes the file";
}

// --- Concurrency --------------------------------------------------------------------------------

TEST_P(StorageConformance, ConcurrentWritersOfDistinctKeysAllSucceed) {
    constexpr unsigned k_threads = 8;
    constexpr unsigned k_keys = 16;
    auto content = [](unsigned t, unsigned i) {
        return pattern_bytes(t * 1000 + i, 0, 1'000 + 97 * i);
    };
    auto key = [](unsigned t, unsigned i) {
        // Half the keys share folders that all threads create at the same time.
        return i % 2 ? fmt::format("distinct/shared/{}/t{}-k{}", i, t, i)
                     : fmt::format("distinct/own{}/k{}", t, i);
    };
    std::latch start(k_threads);
    std::vector<std::string> errors(k_threads);
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < k_threads; ++t) {
        threads.emplace_back([&, t] {
            start.arrive_and_wait();
            for (unsigned i = 0; i < k_keys; ++i) {
                const std::string data = content(t, i);
                auto status = i % 4 == 1 ? write_with_upload(storage(), key(t, i), data,
                                                             Overwrite::never, 333)
                                         : storage().write(key(t, i), data, Overwrite::never);
                if (!status) errors[t] += key(t, i) + ": " + status.error().message + "\n";
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    for (unsigned t = 0; t < k_threads; ++t)
        EXPECT_EQ(errors[t], "") << "thread " << t;

    const auto listed = list_sizes(storage(), "distinct");
    EXPECT_EQ(listed.size(), k_threads * k_keys);
    for (unsigned t = 0; t < k_threads; ++t) {
        for (unsigned i = 0; i < k_keys; ++i) {
            auto read = storage().read(key(t, i));
            ASSERT_TRUE(read) << key(t, i) << ": " << read.error().message;
            EXPECT_TRUE(same_bytes(*read, content(t, i))) << key(t, i);
        }
    }
}

TEST_P(StorageConformance, ConcurrentWritersOfTheSameKeyWithOverwriteNeverExactlyOneWins) {
    constexpr unsigned k_threads = 8;
    constexpr unsigned k_rounds = 24;
    for (unsigned round = 0; round < k_rounds; ++round) {
        ASSERT_NO_FATAL_FAILURE(expect_one_winner(storage(), fmt::format("race/r{}/object", round),
                                                  k_threads, round * 100));
        EXPECT_EQ(list_sizes(storage(), fmt::format("race/r{}", round)).size(), 1u);
    }
}

TEST_P(StorageConformance, ConcurrentReadersWhileAKeyIsReplacedSeeOneWholeVersion) {
    constexpr unsigned k_versions = 100;
    constexpr unsigned k_readers = 4;
    constexpr std::size_t k_min_size = 64 * 1024;
    const std::string key = "hot/object";
    // Version v: its number (8 bytes, little endian), then bytes only it has; sizes differ too.
    auto size_of = [](std::uint64_t v) { return k_min_size + (v % 7) * 4'096 + v; };
    auto version = [&](std::uint64_t v) {
        std::string out(8, '\0');
        for (int i = 0; i < 8; ++i)
            out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
        return out + pattern_bytes(1'000'000 + v, 8, size_of(v) - 8);
    };
    auto version_of = [](std::string_view bytes) {
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i)
            v |= std::uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
        return v;
    };
    ASSERT_TRUE(storage().write(key, version(0), Overwrite::allow));

    std::atomic<bool> writing{true};
    std::vector<std::string> problems(k_readers);
    std::vector<std::set<std::uint64_t>> seen(k_readers);
    std::vector<std::thread> readers;
    for (unsigned r = 0; r < k_readers; ++r) {
        readers.emplace_back([&, r] {
            auto note = [&](const std::string& what) {
                if (problems[r].size() < 2'000) problems[r] += what + "\n";
            };
            do {
                if (r % 2 == 0) {
                    auto read = storage().read(key);
                    if (!read) {
                        note("read: " + read.error().message);
                        continue;
                    }
                    if (read->size() < 8) {
                        note(fmt::format("read {} bytes", read->size()));
                        continue;
                    }
                    const std::uint64_t v = version_of(*read);
                    seen[r].insert(v);
                    if (v > k_versions || *read != version(v))
                        note(fmt::format("torn read of version {}", v));
                } else {
                    auto part = storage().read_range(key, 0, k_min_size);
                    if (!part) {
                        note("read_range: " + part.error().message);
                        continue;
                    }
                    const std::uint64_t v = version_of(*part);
                    seen[r].insert(v);
                    if (v > k_versions || *part != version(v).substr(0, k_min_size)) {
                        note(fmt::format("torn ranged read of version {}", v));
                    }
                }
            } while (writing.load());
        });
    }
    std::string write_errors;
    for (std::uint64_t v = 1; v <= k_versions; ++v) {
        auto status = (v % 3 == 0)
                          ? write_with_upload(storage(), key, version(v), Overwrite::allow, 10'000)
                          : storage().write(key, version(v), Overwrite::allow);
        if (!status) write_errors += status.error().message + "\n";
    }
    writing = false;
    for (auto& reader : readers)
        reader.join();

    EXPECT_EQ(write_errors, "");
    for (unsigned r = 0; r < k_readers; ++r) {
        EXPECT_EQ(problems[r], "") << "reader " << r;
        EXPECT_FALSE(seen[r].empty()) << "reader " << r;
    }
    auto last = storage().read(key);
    ASSERT_TRUE(last) << last.error().message;
    EXPECT_TRUE(same_bytes(*last, version(k_versions)));
}

}  // namespace lifeboat::conformance
