#include "repository/wal_archive.hpp"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "codec/compress.hpp"
#include "codec/hash.hpp"
#include "repository/byte_reader.hpp"
#include "repository/json_reader.hpp"
#include "repository/object.hpp"
#include "util/endian.hpp"
#include "util/time.hpp"

namespace lifeboat::repo {

using nlohmann::json;

std::string wal_key(const std::string& name) {
    // A kind's own log objects name their folder ("logical/<start>-<end>").
    if (name.find('/') != std::string::npos) return "wal/" + name;
    // Segments and their .partial/.backup companions start with 24 hex digits; .history files
    // (8 hex digits) go to their own folder.
    if (name.size() >= 24 && name.find(".history") == std::string::npos) {
        return fmt::format("wal/{}/{}", name.substr(0, 16), name);
    }
    return "wal/history/" + name;
}

namespace {

std::string encode_meta(const WalMeta& meta) {
    json j = {{"name", meta.name},
              {"raw_size", meta.raw_size},
              {"raw_sha256", meta.raw_sha256},
              {"codec", static_cast<int>(meta.codec)},
              {"commits", meta.commits},
              {"pushed", format_iso8601(meta.pushed)}};
    if (meta.first_commit) j["first_commit"] = format_iso8601(*meta.first_commit);
    if (meta.last_commit) j["last_commit"] = format_iso8601(*meta.last_commit);
    return j.dump();
}

bool is_sha256_hex(std::string_view text) {
    return text.size() == 64 &&
           text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

Result<WalMeta> parse_wal_meta(std::string_view text, std::string_view key) {
    const JsonDocument doc = LB_TRY(JsonDocument::parse(text, key, "WAL metadata"));
    const JsonValue j = doc.root();
    WalMeta m;
    m.name = LB_TRY(j.required<std::string>("name"));
    m.raw_size = LB_TRY(j.required<std::uint64_t>("raw_size"));
    const JsonValue sha = LB_TRY(j.field("raw_sha256"));
    m.raw_sha256 = LB_TRY(sha.as<std::string>());
    if (!is_sha256_hex(m.raw_sha256))
        return std::unexpected(sha.problem("not 64 lower-case hex digits"));
    m.codec = static_cast<BlockCodec>(
        LB_TRY(j.required_in<std::uint8_t>("codec", static_cast<std::uint8_t>(BlockCodec::raw),
                                           static_cast<std::uint8_t>(BlockCodec::zstd))));
    m.commits = LB_TRY(j.optional<std::uint64_t>("commits", 0));
    m.first_commit = LB_TRY(j.nullable<Timestamp>("first_commit"));
    m.last_commit = LB_TRY(j.nullable<Timestamp>("last_commit"));
    m.pushed = LB_TRY(j.nullable<Timestamp>("pushed")).value_or(Timestamp{});
    return m;
}

Result<WalPayload> parse_wal_payload(std::string_view payload, std::string_view key) {
    ByteReader r(payload, key, "WAL object");
    const std::uint32_t meta_length = LB_TRY(r.read_u32_le("meta_length"));
    const std::string_view meta = LB_TRY(r.read_bytes(meta_length, "meta"));
    return WalPayload{LB_TRY(parse_wal_meta(meta, key)), payload.substr(r.position())};
}

Result<PushOutcome> push_wal(Storage& storage, WalMeta meta, std::string_view content,
                             int compression_level) {
    return push_wal(storage, std::move(meta), content, compression_level, OperationContext{});
}

Result<PushOutcome> push_wal(Storage& storage, WalMeta meta, std::string_view content,
                             int compression_level, const OperationContext& ctx) {
    const std::string key = wal_key(meta.name);
    meta.raw_size = content.size();
    meta.raw_sha256 = digest_hex(sha256(content));
    auto existing = read_wal_meta(storage, meta.name);
    if (existing) {
        if (existing->raw_sha256 == meta.raw_sha256 && existing->raw_size == meta.raw_size) {
            return PushOutcome::already_present;
        }
        return fail(ErrorCode::conflict,
                    "{} is already archived with different content (stored sha256 {}, new {}); "
                    "refusing to overwrite it. Two servers may be archiving into one repository.",
                    meta.name, existing->raw_sha256, meta.raw_sha256);
    }
    if (existing.error().code != ErrorCode::not_found) return std::unexpected(existing.error());

    meta.codec = BlockCodec::zstd;
    const std::string meta_text = encode_meta(meta);
    // Streamed straight into the object (header, payload parts, trailer): no extra copies of a
    // 16 MiB segment, which keeps wal-push's memory low.
    std::string head = encode_header(ObjectKind::wal, 0);
    put_le<std::uint32_t>(head, static_cast<std::uint32_t>(meta_text.size()));
    head += meta_text;
    auto status = [&]() -> Status {
        auto upload = LB_TRY(storage.start_upload(key, Overwrite::never));
        Sha256 hash;
        hash.update(head);
        LB_CHECK(upload->append(head));
        LB_CHECK(ctx.stage("wal-push:upload"));
        LB_CHECK(zstd_compress_to(content, compression_level, [&](std::string_view piece) {
            hash.update(piece);
            return upload->append(piece);
        }));
        LB_CHECK(upload->append(digest_bytes(hash.finish())));
        LB_CHECK(ctx.stage("wal-push:publish"));
        return upload->commit();
    }();
    if (!status) {
        if (status.error().code == ErrorCode::conflict) {
            // Lost a race with another pusher of the same name: compare with what won.
            auto winner = read_wal_meta(storage, meta.name);
            if (winner && winner->raw_sha256 == meta.raw_sha256)
                return PushOutcome::already_present;
        }
        return std::unexpected(status.error());
    }
    return PushOutcome::stored;
}

Result<WalMeta> read_wal_meta(const Storage& storage, const std::string& name) {
    const std::string key = wal_key(name);
    const ObjectInfo info = LB_TRY(storage.stat(key));
    const std::size_t head = static_cast<std::size_t>(std::min<std::uint64_t>(info.size, 4096));
    std::string bytes = LB_TRY(storage.read_range(key, 0, head));
    LB_CHECK(check_header(bytes, ObjectKind::wal, key));
    ByteReader r(bytes, key, "WAL object");
    LB_CHECK(r.skip(k_header_size, "header"));
    const std::uint32_t meta_length = LB_TRY(r.read_u32_le("meta_length"));
    const std::uint64_t meta_end = std::uint64_t{k_header_size} + 4 + meta_length;
    if (!range_within(meta_end, k_trailer_size, info.size)) {
        return std::unexpected(r.corrupt(
            "meta_length", fmt::format("{} exceeds the {}-byte object", meta_length, info.size)));
    }
    if (meta_end > bytes.size()) {
        bytes = LB_TRY(storage.read_range(key, 0, static_cast<std::size_t>(meta_end)));
    }
    return parse_wal_meta(std::string_view(bytes).substr(k_header_size + 4, meta_length), key);
}

Result<std::string> fetch_wal(const Storage& storage, const std::string& name) {
    auto fetched = LB_TRY(fetch_wal_object(storage, name));
    return std::move(fetched.content);
}

namespace {

// A stored WAL object, read whole and checked (envelope, trailer, metadata); its content is still
// as stored (compressed or not), at [data_at, data_at + data_size) of `bytes`.
struct StoredWal {
    std::string bytes;
    WalMeta meta;
    std::size_t data_at = 0;
    std::size_t data_size = 0;
    std::string_view data() const { return std::string_view(bytes).substr(data_at, data_size); }
};

Result<StoredWal> read_stored_wal(const Storage& storage, const std::string& name,
                                  const std::string& key) {
    auto bytes = storage.read(key);
    if (!bytes) {
        if (bytes.error().code == ErrorCode::not_found) {
            return fail(ErrorCode::not_found, "{} is not in the archive", name);
        }
        return std::unexpected(bytes.error());
    }
    StoredWal stored{std::move(*bytes), {}, 0, 0};
    const std::string_view payload =
        LB_TRY(verified_raw_payload(stored.bytes, ObjectKind::wal, key));
    auto [meta, data] = LB_TRY(parse_wal_payload(payload, key));
    // WAL segments are at most 1 GiB (PostgreSQL's limit); anything larger is damage.
    if (meta.raw_size > (std::uint64_t{1} << 30)) {
        return fail(ErrorCode::corrupt, "{}: implausible size {}", key, meta.raw_size);
    }
    stored.meta = std::move(meta);
    stored.data_at = static_cast<std::size_t>(data.data() - stored.bytes.data());
    stored.data_size = data.size();
    return stored;
}

}  // namespace

Result<FetchedWal> fetch_wal_object(const Storage& storage, const std::string& name) {
    const std::string key = wal_key(name);
    // A 16 MiB segment is held once as stored and once decompressed.
    const StoredWal stored = LB_TRY(read_stored_wal(storage, name, key));
    std::string content;
    if (stored.meta.codec == BlockCodec::zstd) {
        Decompressor d;
        auto status = d.decompress(stored.data(), stored.meta.raw_size, content);
        if (!status) return std::unexpected(status.error().context("{}", key));
    } else {
        content.assign(stored.data());
    }
    if (digest_hex(sha256(content)) != stored.meta.raw_sha256) {
        return fail(ErrorCode::corrupt, "{}: content does not match its checksum", key);
    }
    return FetchedWal{std::move(content), stored.meta};
}

Result<WalMeta> fetch_wal_to(const Storage& storage, const std::string& name,
                             const std::function<Status(std::string_view)>& sink) {
    const std::string key = wal_key(name);
    const StoredWal stored = LB_TRY(read_stored_wal(storage, name, key));
    Sha256 hash;
    const auto checked = [&](std::string_view piece) -> Status {
        hash.update(piece);
        return sink(piece);
    };
    if (stored.meta.codec == BlockCodec::zstd) {
        auto status = zstd_decompress_to(stored.data(), stored.meta.raw_size, checked);
        if (!status) {
            if (status.error().code != ErrorCode::corrupt) return std::unexpected(status.error());
            return std::unexpected(status.error().context("{}", key));
        }
    } else {
        constexpr std::size_t k_piece = std::size_t{1} << 20;
        const std::string_view data = stored.data();
        for (std::size_t at = 0; at < data.size(); at += k_piece)
            LB_CHECK(checked(data.substr(at, k_piece)));
    }
    if (digest_hex(hash.finish()) != stored.meta.raw_sha256) {
        return fail(ErrorCode::corrupt, "{}: content does not match its checksum", key);
    }
    return stored.meta;
}

std::string wal_name_of_key(const std::string& key) {
    // The folders wal_key chooses itself ("history", the first 16 digits of a segment name)
    // are not part of the name; any other folder is ("logical/...", "stream/...").
    const std::string rest = key.starts_with("wal/") ? key.substr(4) : key;
    const auto slash = rest.find('/');
    if (slash == std::string::npos) return rest;
    const std::string_view folder(rest.data(), slash);
    const bool chosen = folder == "history" ||
                        (folder.size() == 16 &&
                         folder.find_first_not_of("0123456789ABCDEF") == std::string_view::npos);
    return chosen ? rest.substr(slash + 1) : rest;
}

Result<std::vector<std::string>> list_wal_names(const Storage& storage) {
    const auto objects = LB_TRY(storage.list("wal"));
    std::vector<std::string> names;
    names.reserve(objects.size());
    for (const auto& o : objects)
        names.push_back(wal_name_of_key(o.key));
    std::sort(names.begin(), names.end());
    return names;
}

Result<PushOutcome> copy_wal_object(const Storage& from, Storage& to, const std::string& name) {
    const std::string key = wal_key(name);
    const WalMeta meta = LB_TRY(read_wal_meta(from, name));
    auto existing = read_wal_meta(to, name);
    if (existing) {
        if (existing->raw_sha256 == meta.raw_sha256) return PushOutcome::already_present;
        return fail(ErrorCode::conflict,
                    "{} differs between the two repositories (sha256 {} here, {} there); "
                    "refusing to overwrite it",
                    name, meta.raw_sha256, existing->raw_sha256);
    }
    if (existing.error().code != ErrorCode::not_found) return std::unexpected(existing.error());
    const std::string bytes = LB_TRY(from.read(key));
    LB_CHECK(decode_object(bytes, ObjectKind::wal, key));  // never copy a damaged object
    if (auto written = to.write(key, bytes, Overwrite::never); !written) {
        // A concurrent wal-push to the destination may have stored it since the check above:
        // identical content is success, anything else is the conflict it was before.
        if (written.error().code == ErrorCode::conflict) {
            auto winner = read_wal_meta(to, name);
            if (winner && winner->raw_sha256 == meta.raw_sha256)
                return PushOutcome::already_present;
        }
        return std::unexpected(written.error());
    }
    // Check on arrival: read back what the destination now holds.
    const std::string arrived = LB_TRY(to.read(key));
    if (arrived != bytes) {
        return fail(ErrorCode::corrupt, "{}: the copy in {} differs from what was sent", name,
                    to.location());
    }
    return PushOutcome::stored;
}

namespace {
constexpr std::string_view k_gap_prefix = "wal-stream-gaps/";
}  // namespace

std::string stream_gap_key(const StreamGap& gap) {
    return fmt::format("{}{:08X}-{:016X}-{:016X}", k_gap_prefix, gap.timeline, gap.from, gap.to);
}

Status record_stream_gap(Storage& storage, const StreamGap& gap, Timestamp now) {
    // The key says it all; the content is for a reader of the repository.
    const std::string content =
        fmt::format("WAL gap recorded by wal-stream at {}\n", format_iso8601(now));
    return storage.write(stream_gap_key(gap), content, Overwrite::allow);
}

Result<std::vector<StreamGap>> list_stream_gaps(const Storage& storage) {
    std::vector<StreamGap> gaps;
    for (const auto& info : LB_TRY(storage.list(std::string(k_gap_prefix)))) {
        const std::string_view rest =
            std::string_view(info.key).substr(std::min(info.key.size(), k_gap_prefix.size()));
        StreamGap gap;
        unsigned long long from = 0;
        unsigned long long to = 0;
        unsigned timeline = 0;
        const std::string text(rest);
        if (rest.size() != 8 + 1 + 16 + 1 + 16 ||
            std::sscanf(text.c_str(), "%8X-%16llX-%16llX", &timeline, &from, &to) != 3)
            continue;
        gap.timeline = timeline;
        gap.from = from;
        gap.to = to;
        gaps.push_back(gap);
    }
    return gaps;
}

Result<std::size_t> copy_stream_gaps(const Storage& from, Storage& to) {
    std::size_t copied = 0;
    for (const auto& gap : LB_TRY(list_stream_gaps(from))) {
        const std::string key = stream_gap_key(gap);
        auto present = to.stat(key);
        if (present) continue;
        if (present.error().code != ErrorCode::not_found) return std::unexpected(present.error());
        const std::string content = LB_TRY(from.read(key));
        LB_CHECK(to.write(key, content, Overwrite::allow));
        ++copied;
    }
    return copied;
}

Result<std::optional<std::string>> first_stream_gap_segment(const Storage& storage,
                                                            std::string_view start_lsn,
                                                            std::uint64_t segment_size) {
    unsigned high = 0;
    unsigned low = 0;
    const std::string text(start_lsn);
    if (segment_size == 0 || std::sscanf(text.c_str(), "%X/%X", &high, &low) != 2)
        return std::optional<std::string>();
    const std::uint64_t start = (std::uint64_t{high} << 32) | low;
    std::optional<StreamGap> first;
    for (const auto& gap : LB_TRY(list_stream_gaps(storage))) {
        if (gap.from < start) continue;
        if (!first || gap.from < first->from) first = gap;
    }
    if (!first) return std::optional<std::string>();
    // PostgreSQL's segment file name: timeline, then the segment number in two 32-bit halves
    // of (4 GiB / segment size) segments each.
    const std::uint64_t segno = first->from / segment_size;
    const std::uint64_t per_id = 0x100000000ULL / segment_size;
    return std::optional<std::string>(
        fmt::format("{:08X}{:08X}{:08X}", first->timeline, segno / per_id, segno % per_id));
}

}  // namespace lifeboat::repo
