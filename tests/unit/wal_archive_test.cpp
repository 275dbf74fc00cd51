// The WAL archive (docs/repository-format.md, "WALF").
#include <gtest/gtest.h>

#include <functional>
#include <latch>
#include <thread>

#include <nlohmann/json.hpp>

#include "codec/compress.hpp"
#include "repository/wal_archive.hpp"
#include "repository_test_support.hpp"
#include "storage/forwarding_storage.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;
using namespace lifeboat::repo::test_support;
using nlohmann::json;

namespace {

constexpr const char* k_segment = "000000010000000000000003";
constexpr const char* k_segment_key = "wal/0000000100000000/000000010000000000000003";

Timestamp at(const char* text) {
    auto t = parse_iso8601(text);
    EXPECT_TRUE(t) << text;
    return t.value_or(Timestamp{});
}

// Looks like a WAL segment as far as sizes and compressibility go: some records, then zeros.
std::string segment_content(std::uint64_t seed, std::size_t size = 1 << 20) {
    std::string out = compressible_text(size / 4, seed);
    out.resize(size, '\0');
    return out;
}

WalMeta meta_for(const std::string& name) {
    WalMeta meta;
    meta.name = name;
    meta.first_commit = at("2026-11-26T08:00:01.000001Z");
    meta.last_commit = at("2026-11-26T08:04:59.5Z");
    meta.commits = 42;
    meta.pushed = at("2026-11-26T08:05:00Z");
    return meta;
}

class WalArchiveTest : public ScratchTest {
  protected:
    PushOutcome push(const std::string& name, const std::string& content, WalMeta meta) {
        EXPECT_EQ(meta.name, name);
        auto outcome = push_wal(storage(), std::move(meta), content, 3);
        EXPECT_TRUE(outcome) << outcome.error().message;
        return outcome.value_or(PushOutcome::stored);
    }
    PushOutcome push(const std::string& name, const std::string& content) {
        return push(name, content, meta_for(name));
    }
};

// fetch_wal_to's pieces, joined (the streamed path must agree with fetch_wal everywhere).
Result<std::string> fetch_streamed(const Storage& storage, const std::string& name) {
    std::string out;
    LB_TRY(fetch_wal_to(storage, name, [&](std::string_view piece) -> Status {
        if (piece.size() > (std::size_t{1} << 20)) return fail(ErrorCode::internal, "big piece");
        out += piece;
        return {};
    }));
    return out;
}

}  // namespace

TEST_F(WalArchiveTest, KeysFollowTheDocumentedLayout) {
    EXPECT_EQ(wal_key(k_segment), k_segment_key);
    EXPECT_EQ(wal_key("000000010000000000000003.partial"),
              "wal/0000000100000000/000000010000000000000003.partial");
    EXPECT_EQ(wal_key("000000010000000000000003.00000028.backup"),
              "wal/0000000100000000/000000010000000000000003.00000028.backup");
    EXPECT_EQ(wal_key("00000002.history"), "wal/history/00000002.history");
}

TEST_F(WalArchiveTest, PushThenFetchRoundTrips) {
    const std::string content = segment_content(1);
    EXPECT_EQ(push(k_segment, content), PushOutcome::stored);
    ASSERT_TRUE(storage().stat(k_segment_key));
    auto fetched = fetch_wal(storage(), k_segment);
    ASSERT_TRUE(fetched) << fetched.error().message;
    EXPECT_TRUE(*fetched == content);
    EXPECT_TRUE(fetch_streamed(storage(), k_segment).value_or("") == content);
    auto names = list_wal_names(storage());
    ASSERT_TRUE(names);
    EXPECT_EQ(*names, std::vector<std::string>{k_segment});
}

TEST_F(WalArchiveTest, HistoryAndEmptyFilesRoundTrip) {
    const std::string history = "1\t0/3000000\tno recovery target specified\n";
    EXPECT_EQ(push("00000002.history", history), PushOutcome::stored);
    EXPECT_EQ(fetch_wal(storage(), "00000002.history").value_or("?"), history);
    EXPECT_EQ(push("000000010000000000000009.partial", ""), PushOutcome::stored);
    EXPECT_EQ(fetch_wal(storage(), "000000010000000000000009.partial").value_or("?"), "");
    EXPECT_EQ(fetch_streamed(storage(), "00000002.history").value_or("?"), history);
    EXPECT_EQ(fetch_streamed(storage(), "000000010000000000000009.partial").value_or("?"), "");
}

TEST_F(WalArchiveTest, StoredObjectHasTheDocumentedLayout) {
    const std::string content = segment_content(2);
    push(k_segment, content);
    const std::string bytes = storage().read(k_segment_key).value_or("");
    EXPECT_EQ(bytes.substr(0, k_header_size), encode_header(ObjectKind::wal, 0));  // payload raw
    auto payload = decode_object(bytes, ObjectKind::wal, k_segment_key);
    ASSERT_TRUE(payload) << payload.error().message;
    const std::uint32_t meta_length = get_u32le(*payload, 0);
    ASSERT_LE(4 + meta_length, payload->size());
    const json meta = json::parse(payload->substr(4, meta_length));
    EXPECT_EQ(meta.at("name"), k_segment);
    EXPECT_EQ(meta.at("raw_size"), content.size());
    EXPECT_EQ(meta.at("raw_sha256"), digest_hex(sha256(content)));
    EXPECT_EQ(meta.at("codec"), 1);
    EXPECT_EQ(meta.at("first_commit"), "2026-11-26T08:00:01.000001Z");
    EXPECT_EQ(meta.at("last_commit"), "2026-11-26T08:04:59.500000Z");
    EXPECT_EQ(meta.at("commits"), 42);
    EXPECT_EQ(meta.at("pushed"), "2026-11-26T08:05:00Z");
    // The data is one plain zstd frame.
    EXPECT_EQ(zstd_decompress(payload->substr(4 + meta_length)).value_or(""), content);
    EXPECT_LT(bytes.size(), content.size() / 4);
}

TEST_F(WalArchiveTest, ReadWalMetaReturnsTheCommitSpan) {
    const std::string content = segment_content(3);
    push(k_segment, content);
    auto meta = read_wal_meta(storage(), k_segment);
    ASSERT_TRUE(meta) << meta.error().message;
    EXPECT_EQ(meta->name, k_segment);
    EXPECT_EQ(meta->raw_size, content.size());
    EXPECT_EQ(meta->raw_sha256, digest_hex(sha256(content)));
    EXPECT_EQ(meta->codec, BlockCodec::zstd);
    EXPECT_EQ(meta->first_commit, at("2026-11-26T08:00:01.000001Z"));
    EXPECT_EQ(meta->last_commit, at("2026-11-26T08:04:59.5Z"));
    EXPECT_EQ(meta->commits, 42u);
    EXPECT_EQ(meta->pushed, at("2026-11-26T08:05:00Z"));
}

TEST_F(WalArchiveTest, SegmentWithoutCommitsHasNoCommitSpan) {
    WalMeta meta = meta_for(k_segment);
    meta.first_commit.reset();
    meta.last_commit.reset();
    meta.commits = 0;
    push(k_segment, segment_content(4), meta);
    auto read = read_wal_meta(storage(), k_segment);
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_FALSE(read->first_commit);
    EXPECT_FALSE(read->last_commit);
    EXPECT_EQ(read->commits, 0u);
    const std::string bytes = storage().read(k_segment_key).value_or("");
    EXPECT_EQ(bytes.find("first_commit"), std::string::npos);
}

TEST_F(WalArchiveTest, IdenticalRePushIsAlreadyPresentAndWritesNothing) {
    const std::string content = segment_content(5);
    EXPECT_EQ(push(k_segment, content), PushOutcome::stored);
    const std::string before = storage().read(k_segment_key).value_or("");
    WalMeta later = meta_for(k_segment);
    later.pushed = at("2026-11-27T00:00:00Z");  // would change the object if it were rewritten
    later.commits = 7;
    EXPECT_EQ(push(k_segment, content, later), PushOutcome::already_present);
    EXPECT_EQ(storage().read(k_segment_key).value_or(""), before);
}

TEST_F(WalArchiveTest, DifferentContentIsConflictAndKeepsTheStoredBytes) {
    const std::string content = segment_content(6);
    push(k_segment, content);
    const std::string before = storage().read(k_segment_key).value_or("");
    std::string other = content;
    other[12345] ^= 1;
    auto outcome = push_wal(storage(), meta_for(k_segment), other, 3);
    EXPECT_TRUE(fails_with(outcome, ErrorCode::conflict, k_segment));
    EXPECT_TRUE(fails_with(push_wal(storage(), meta_for(k_segment), content + "x", 3),
                           ErrorCode::conflict));
    EXPECT_EQ(storage().read(k_segment_key).value_or(""), before);
    EXPECT_EQ(fetch_wal(storage(), k_segment).value_or(""), content);
}

TEST_F(WalArchiveTest, ConcurrentPushesOfOneNameStoreItOnce) {
    constexpr unsigned k_threads = 6;
    const std::string content = segment_content(7, 256 * 1024);
    std::latch start(k_threads);
    std::vector<Result<PushOutcome>> outcomes(k_threads, PushOutcome::stored);
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < k_threads; ++t) {
        threads.emplace_back([&, t] {
            start.arrive_and_wait();
            outcomes[t] = push_wal(storage(), meta_for(k_segment), content, 3);
        });
    }
    for (auto& thread : threads)
        thread.join();
    unsigned stored = 0;
    for (const auto& o : outcomes) {
        ASSERT_TRUE(o) << o.error().message;
        if (*o == PushOutcome::stored) ++stored;
    }
    EXPECT_EQ(stored, 1u);
    EXPECT_EQ(fetch_wal(storage(), k_segment).value_or(""), content);
}

TEST_F(WalArchiveTest, FetchOfAMissingFileIsNotFound) {
    EXPECT_TRUE(fails_with(fetch_wal(storage(), k_segment), ErrorCode::not_found, k_segment));
    EXPECT_TRUE(fails_with(read_wal_meta(storage(), k_segment), ErrorCode::not_found));
    EXPECT_TRUE(fails_with(fetch_wal(storage(), "00000009.history"), ErrorCode::not_found));
}

TEST_F(WalArchiveTest, DamagedObjectIsCorruptNamingTheKey) {
    const std::string content = segment_content(8);
    push(k_segment, content);
    const std::string original = storage().read(k_segment_key).value_or("");
    ASSERT_GT(original.size(), 200u);
    // A flipped byte anywhere: in the header, the metadata, the compressed data, the trailer.
    for (const std::size_t at : {std::size_t{3}, std::size_t{30}, original.size() / 2,
                                 original.size() - 40, original.size() - 1}) {
        ASSERT_TRUE(storage().write(k_segment_key, flip_byte(original, at), Overwrite::allow));
        EXPECT_TRUE(fails_with(fetch_wal(storage(), k_segment), ErrorCode::corrupt, k_segment_key))
            << "byte " << at;
        EXPECT_TRUE(
            fails_with(fetch_streamed(storage(), k_segment), ErrorCode::corrupt, k_segment_key))
            << "byte " << at;
    }
    // Truncated.
    ASSERT_TRUE(storage().write(k_segment_key, original.substr(0, original.size() - 100),
                                Overwrite::allow));
    EXPECT_TRUE(fails_with(fetch_wal(storage(), k_segment), ErrorCode::corrupt, k_segment_key));
    // A valid envelope whose content does not match raw_sha256.
    {
        auto payload = decode_object(original, ObjectKind::wal, k_segment_key).value();
        const std::uint32_t meta_length = get_u32le(payload, 0);
        json meta = json::parse(payload.substr(4, meta_length));
        meta["raw_sha256"] = std::string(64, '0');
        const std::string text = meta.dump();
        std::string edited(4, '\0');
        put_u32le(edited, 0, static_cast<std::uint32_t>(text.size()));
        edited += text + payload.substr(4 + meta_length);
        ASSERT_TRUE(storage().write(
            k_segment_key, encode_object(ObjectKind::wal, edited, PayloadCompression::none).value(),
            Overwrite::allow));
        EXPECT_TRUE(fails_with(fetch_wal(storage(), k_segment), ErrorCode::corrupt, k_segment_key));
        EXPECT_TRUE(
            fails_with(fetch_streamed(storage(), k_segment), ErrorCode::corrupt, k_segment_key));
    }
    // Header damage is caught by the metadata reader too.
    ASSERT_TRUE(storage().write(k_segment_key, flip_byte(original, 2), Overwrite::allow));
    EXPECT_TRUE(fails_with(read_wal_meta(storage(), k_segment), ErrorCode::corrupt, k_segment_key));
    // A metadata length pointing past the object.
    std::string long_meta = original;
    put_u32le(long_meta, k_header_size, 0x7fffffff);
    ASSERT_TRUE(storage().write(k_segment_key, long_meta, Overwrite::allow));
    EXPECT_TRUE(fails_with(read_wal_meta(storage(), k_segment), ErrorCode::corrupt, k_segment_key));
}

TEST_F(WalArchiveTest, AbsurdRawSizeIsCorruptNotACrash) {
    // Regression test (was a bug): fetch_wal trusts meta.raw_size: Decompressor::decompress does
    // out.resize(raw_size) before decoding, so a WALF object (valid trailer) whose metadata claims
    // raw_size 2^62 throws std::bad_alloc out of fetch_wal instead of returning ErrorCode::corrupt.
    // zstd_decompress bounds the size at 2^32; the WAL path (and decode_block, bounded by u32
    // raw_length) do not.
    push(k_segment, segment_content(10, 8192));
    const std::string original = storage().read(k_segment_key).value_or("");
    auto payload = decode_object(original, ObjectKind::wal, k_segment_key).value();
    const std::uint32_t meta_length = get_u32le(payload, 0);
    json meta = json::parse(payload.substr(4, meta_length));
    meta["raw_size"] = std::uint64_t{1} << 62;
    const std::string text = meta.dump();
    std::string edited(4, '\0');
    put_u32le(edited, 0, static_cast<std::uint32_t>(text.size()));
    edited += text + payload.substr(4 + meta_length);
    ASSERT_TRUE(storage().write(
        k_segment_key, encode_object(ObjectKind::wal, edited, PayloadCompression::none).value(),
        Overwrite::allow));
    EXPECT_TRUE(fails_with(fetch_wal(storage(), k_segment), ErrorCode::corrupt, k_segment_key));
    EXPECT_TRUE(
        fails_with(fetch_streamed(storage(), k_segment), ErrorCode::corrupt, k_segment_key));
}

TEST_F(WalArchiveTest, ListsNamesFromEveryFolderSortedByName) {
    for (const char* name : {"000000020000000100000001", "00000002.history",
                             "000000010000000000000004", "000000010000000000000003"}) {
        push(name, segment_content(9, 8192));
    }
    auto names = list_wal_names(storage());
    ASSERT_TRUE(names) << names.error().message;
    EXPECT_EQ(*names,
              (std::vector<std::string>{"000000010000000000000003", "000000010000000000000004",
                                        "00000002.history", "000000020000000100000001"}));
}

namespace {

// Forwards to a posix storage, but runs `before_write` once just before the first write: the
// moment a concurrent wal-push to the same repository would land.
class RacedStorage final : public ForwardingStorage {
  public:
    RacedStorage(PosixStorage& inner, std::function<void()> before_write)
        : ForwardingStorage(inner), m_before_write(std::move(before_write)) {}
    Status write(const std::string& key, std::string_view data, Overwrite overwrite) override {
        if (auto hook = std::exchange(m_before_write, nullptr)) hook();
        return ForwardingStorage::write(key, data, overwrite);
    }

  private:
    std::function<void()> m_before_write;
};

}  // namespace

TEST_F(WalArchiveTest, CopyThatLosesARaceToAnIdenticalPushIsAlreadyPresent) {
    const std::string content = segment_content(10);
    push(k_segment, content);
    PosixStorage destination(scratch() / "west");
    RacedStorage raced(destination, [&] {
        WalMeta other = meta_for(k_segment);
        other.pushed = at("2026-11-26T09:00:00Z");  // a different object, the same segment
        ASSERT_TRUE(push_wal(destination, other, content, 3));
    });
    auto outcome = copy_wal_object(storage(), raced, k_segment);
    ASSERT_TRUE(outcome) << outcome.error().message;
    EXPECT_EQ(*outcome, PushOutcome::already_present);
    EXPECT_EQ(fetch_wal(destination, k_segment).value_or(""), content);
}

TEST_F(WalArchiveTest, CopyThatLosesARaceToDifferentContentIsConflict) {
    const std::string content = segment_content(11);
    push(k_segment, content);
    PosixStorage destination(scratch() / "west");
    std::string other = content;
    other[4321] ^= 1;
    RacedStorage raced(destination,
                       [&] { ASSERT_TRUE(push_wal(destination, meta_for(k_segment), other, 3)); });
    EXPECT_TRUE(fails_with(copy_wal_object(storage(), raced, k_segment), ErrorCode::conflict));
    EXPECT_EQ(fetch_wal(destination, k_segment).value_or(""), other);
}

TEST_F(WalArchiveTest, StreamGapsAreRecordedAndFoundAfterABackupStart) {
    const StreamGap gap{2, 0x103009B58ULL, 0x108000000ULL};
    EXPECT_EQ(stream_gap_key(gap), "wal-stream-gaps/00000002-0000000103009B58-0000000108000000");
    ASSERT_TRUE(record_stream_gap(storage(), gap, at("2026-11-30T00:00:00Z")));
    ASSERT_TRUE(storage().write("wal-stream-gaps/not-a-gap", "x", Overwrite::allow));
    const auto gaps = list_stream_gaps(storage());
    ASSERT_TRUE(gaps) << gaps.error().message;
    ASSERT_EQ(gaps->size(), 1u);
    EXPECT_EQ((*gaps)[0].timeline, 2u);
    EXPECT_EQ((*gaps)[0].from, gap.from);
    EXPECT_EQ((*gaps)[0].to, gap.to);
    // A backup that starts before the gap has it in its window; one that starts after does not.
    const auto before = first_stream_gap_segment(storage(), "1/2000000", 16 * 1024 * 1024);
    ASSERT_TRUE(before);
    EXPECT_EQ(before->value_or(""), "000000020000000100000003");
    const auto after = first_stream_gap_segment(storage(), "1/9000000", 16 * 1024 * 1024);
    ASSERT_TRUE(after);
    EXPECT_FALSE(after->has_value());
}
