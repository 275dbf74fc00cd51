#include "repository/index.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "repository/byte_reader.hpp"
#include "repository/index_text.hpp"
#include "repository/json_reader.hpp"
#include "repository/object.hpp"
#include "util/parallel.hpp"

namespace lifeboat::repo {

using nlohmann::json;

void BlockIndex::add_pack(const PackSummary& pack,
                          const std::function<bool(const BlockId&)>& keep) {
    const std::string* id = &*m_pack_ids.insert(pack.id).first;
    for (const auto& e : pack.entries) {
        if (!keep || keep(e.id)) m_blocks.try_emplace(e.id, BlockLocation{id, e.placement});
    }
}

std::optional<BlockLocation> BlockIndex::find(const BlockId& id) const {
    auto it = m_blocks.find(id);
    if (it == m_blocks.end()) return std::nullopt;
    return it->second;
}

Result<std::vector<PackSummary>> parse_index(std::string_view text, std::string_view key) {
    if (auto packs = parse_index_as_written(text)) return std::move(*packs);
    return parse_index_json(text, key);
}

Result<std::vector<PackSummary>> parse_index_json(std::string_view text, std::string_view key) {
    std::vector<PackSummary> packs;
    // Streamed: an index object of a large backup holds hundreds of thousands of blocks, whose
    // whole parsed tree took several times the text's size.
    const auto add_pack = [&](const JsonValue& p) -> Status {
        const JsonValue id = LB_TRY(p.field("id"));
        // One LB_TRY per statement: g++ does not destroy the members an aggregate initializer
        // already built when a statement expression inside it returns early (they leak).
        PackSummary pack;
        pack.id = LB_TRY(id.as<std::string>());
        pack.size = LB_TRY(p.required<std::uint64_t>("size"));
        // The id becomes an object name (data/<xx>/<id>): nothing but what new_pack_id draws.
        if (!is_pack_id(pack.id))
            return std::unexpected(id.problem("not 64 lower-case hex digits"));
        if (pack.size < k_header_size + k_trailer_size) {
            return std::unexpected(
                LB_TRY(p.field("size"))
                    .problem(fmt::format("{} is smaller than an empty pack", pack.size)));
        }
        LB_CHECK(p.for_each_in("blobs", [&](const JsonValue& b) -> Status {
            const JsonValue hex = LB_TRY(b.element(0, "block id"));
            auto block = BlockId::from_hex(LB_TRY(hex.as<std::string>()));
            if (!block) return std::unexpected(hex.problem("malformed block id"));
            const JsonValue offset = LB_TRY(b.element(1, "offset"));
            BlockPlacement placement{
                LB_TRY(offset.as<std::uint64_t>()),
                LB_TRY(b.element_as<std::uint32_t>(2, "stored_length")),
                LB_TRY(b.element_as<std::uint32_t>(3, "raw_length")),
                static_cast<BlockCodec>(LB_TRY(b.element_as<std::uint8_t>(4, "codec")))};
            // Checked here, once, so that no reader computes offset + length past the pack (or
            // wraps it round): a block lies between the header and the footer's trailer.
            if (!lies_within_pack(placement, pack.size)) {
                return std::unexpected(offset.problem(
                    fmt::format("block of {} bytes at offset {} lies outside the {}-byte pack",
                                placement.stored_length, placement.offset, pack.size)));
            }
            pack.entries.push_back(PackEntry{*block, placement});
            return {};
        }));
        packs.push_back(std::move(pack));
        return {};
    };
    const JsonDocument doc =
        LB_TRY(JsonDocument::parse_streaming(text, key, "index", "packs", add_pack));
    // The array itself must be there (its elements went to add_pack).
    LB_CHECK(doc.root().for_each_in("packs", [](const JsonValue&) -> Status { return {}; }));
    return packs;
}

Result<BlockIndex> load_block_index(const Storage& storage, OnDamagedIndex on_damage,
                                    std::vector<PackSummary>* packs_out,
                                    const std::function<bool(const BlockId&)>& keep,
                                    IndexContent content) {
    BlockIndex index;
    const auto objects = LB_TRY(storage.list("index"));
    // Read several at once (each is a round trip to an object store), a batch of at most
    // k_index_batch_bytes stored at a time; then decoded, parsed and added one by one in listing
    // order, so that one decoded object is held besides the index (a large backup's index
    // object is several MiB of text: four decoded at once were most of a restore's memory).
    const auto threads = static_cast<unsigned>(
        std::min<std::size_t>(objects.size(), std::max(1u, storage.features().io_depth)));
    constexpr std::uint64_t k_index_batch_bytes = 8ull << 20;
    for (std::size_t first = 0; first < objects.size();) {
        std::size_t count = 0;
        for (std::uint64_t bytes = 0; first + count < objects.size() && count < threads &&
                                      (count == 0 || bytes < k_index_batch_bytes);
             ++count)
            bytes += objects[first + count].size;
        std::vector<Result<std::string>> stored(count);
        (void)parallel_for(count, std::max(1u, threads), [&](std::size_t i, unsigned) -> Status {
            stored[i] = storage.read(objects[first + i].key);
            return {};
        });
        for (std::size_t i = 0; i < count; ++i) {
            const auto& object = objects[first + i];
            auto packs = [&]() -> Result<std::vector<PackSummary>> {
                const std::string bytes = LB_TRY(std::move(stored[i]));
                stored[i] = std::string();
                const std::string text =
                    LB_TRY(decode_object(bytes, ObjectKind::index, object.key));
                return parse_index(text, object.key);
            }();
            if (!packs) {
                if (on_damage == OnDamagedIndex::fail || !is_damage(packs.error()))
                    return std::unexpected(packs.error());
                index.skipped.push_back({object.key.substr(object.key.rfind('/') + 1), object.key,
                                         damaged_object(object.key, packs.error()).reason});
                continue;
            }
            for (const auto& pack : *packs) {
                if (content == IndexContent::locations) {
                    index.add_pack(pack, keep);
                    continue;
                }
                index.m_pack_ids.insert(pack.id);
                for (const auto& e : pack.entries)
                    if (!keep || keep(e.id)) index.m_id_only.push_back(e.id);
            }
            if (packs_out) packs_out->insert(packs_out->end(), packs->begin(), packs->end());
            index.loaded_from.push_back(object.key.substr(object.key.rfind('/') + 1));
        }
        first += count;
    }
    std::sort(index.m_id_only.begin(), index.m_id_only.end());
    index.m_id_only.erase(std::unique(index.m_id_only.begin(), index.m_id_only.end()),
                          index.m_id_only.end());
    index.m_id_only.shrink_to_fit();
    if (on_damage == OnDamagedIndex::rebuild_from_packs && !index.skipped.empty()) {
        for (const auto& pack_id : LB_TRY(find_unindexed_packs(storage, index))) {
            auto summary = read_pack_summary(storage, pack_id);
            if (!summary && !is_damage(summary.error())) return std::unexpected(summary.error());
            if (!summary) {
                index.unreadable_packs.push_back(
                    damaged_object(pack_key(pack_id), summary.error()));
                continue;
            }
            index.add_pack(*summary, keep);
            ++index.packs_read_from_footers;
        }
    }
    return index;
}

Result<std::string> write_index(Storage& storage, const std::vector<PackSummary>& packs) {
    // Written as text directly (what a json tree's dump() gives: keys in order, no blanks): the
    // tree of a large backup's index took several times the text's size.
    std::string text = "{\"packs\":[";
    auto out = std::back_inserter(text);
    for (std::size_t p = 0; p < packs.size(); ++p) {
        const PackSummary& pack = packs[p];
        text += p == 0 ? "{\"blobs\":[" : ",{\"blobs\":[";
        for (std::size_t b = 0; b < pack.entries.size(); ++b) {
            const PackEntry& e = pack.entries[b];
            fmt::format_to(out, "{}[\"{}\",{},{},{},{}]", b == 0 ? "" : ",", e.id.hex(),
                           e.placement.offset, e.placement.stored_length, e.placement.raw_length,
                           static_cast<int>(e.placement.codec));
        }
        // Pack ids are 64 hex digits (new_pack_id): nothing to escape.
        fmt::format_to(out, "],\"id\":\"{}\",\"size\":{}}}", pack.id, pack.size);
    }
    text += "]}";
    const std::string object =
        LB_TRY(encode_object(ObjectKind::index, text, PayloadCompression::zstd));
    const std::string id = digest_hex(sha256(object));
    auto status = storage.write("index/" + id, object, Overwrite::never);
    // The same content under the same name is already there: nothing to do.
    if (!status && status.error().code != ErrorCode::conflict)
        return std::unexpected(status.error());
    return id;
}

Result<std::vector<std::string>> find_unindexed_packs(const Storage& storage,
                                                      const BlockIndex& index) {
    std::vector<std::string> out;
    const auto objects = LB_TRY(storage.list("data"));
    for (const auto& object : objects) {
        const std::string id = object.key.substr(object.key.rfind('/') + 1);
        if (!index.has_pack(id)) out.push_back(id);
    }
    return out;
}

Result<AdoptedPacks> adopt_unindexed_packs(const Storage& storage, BlockIndex& index) {
    AdoptedPacks adopted;
    for (const auto& pack_id : LB_TRY(find_unindexed_packs(storage, index))) {
        auto summary = read_pack_summary(storage, pack_id);
        if (!summary) {
            adopted.warnings.push_back(fmt::format("ignoring unreadable unindexed pack {}: {}",
                                                   pack_id, summary.error().message));
            continue;
        }
        index.add_pack(*summary);
        adopted.packs.push_back(std::move(*summary));
    }
    return adopted;
}

}  // namespace lifeboat::repo
