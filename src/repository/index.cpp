#include "repository/index.hpp"

#include <nlohmann/json.hpp>

#include "repository/object.hpp"

namespace lifeboat::repo {

using nlohmann::json;

void BlockIndex::add_pack(const PackSummary& pack) {
    const std::string* id = &*m_pack_ids.insert(pack.id).first;
    for (const auto& e : pack.entries)
        m_blocks.try_emplace(e.id, BlockLocation{id, e.placement});
}

std::optional<BlockLocation> BlockIndex::find(const BlockId& id) const {
    auto it = m_blocks.find(id);
    if (it == m_blocks.end()) return std::nullopt;
    return it->second;
}

namespace {

Result<std::vector<PackSummary>> parse_index_packs(const std::string& text,
                                                   const std::string& key) {
    std::vector<PackSummary> packs;
    try {
        const json doc = json::parse(text);
        for (const auto& p : doc.at("packs")) {
            PackSummary pack{p.at("id").get<std::string>(), p.at("size").get<std::uint64_t>(), {}};
            for (const auto& b : p.at("blobs")) {
                auto id = BlockId::from_hex(b.at(0).get<std::string>());
                if (!id) return fail(ErrorCode::corrupt, "{}: malformed block id", key);
                pack.entries.push_back(PackEntry{
                    *id, BlockPlacement{b.at(1).get<std::uint64_t>(), b.at(2).get<std::uint32_t>(),
                                        b.at(3).get<std::uint32_t>(),
                                        static_cast<BlockCodec>(b.at(4).get<int>())}});
            }
            packs.push_back(std::move(pack));
        }
    } catch (const json::exception& e) {
        return fail(ErrorCode::corrupt, "{}: malformed index: {}", key, e.what());
    }
    return packs;
}

}  // namespace

Result<BlockIndex> load_block_index(const Storage& storage, OnDamagedIndex on_damage,
                                    std::vector<PackSummary>* packs_out) {
    BlockIndex index;
    const auto objects = LB_TRY(storage.list("index"));
    for (const auto& object : objects) {
        auto packs = [&]() -> Result<std::vector<PackSummary>> {
            const std::string bytes = LB_TRY(storage.read(object.key));
            const std::string text = LB_TRY(decode_object(bytes, ObjectKind::index, object.key));
            return parse_index_packs(text, object.key);
        }();
        if (!packs) {
            if (on_damage == OnDamagedIndex::fail) return std::unexpected(packs.error());
            index.skipped.push_back({object.key.substr(object.key.rfind('/') + 1), object.key,
                                     damaged_object(object.key, packs.error()).reason});
            continue;
        }
        for (const auto& pack : *packs)
            index.add_pack(pack);
        if (packs_out) packs_out->insert(packs_out->end(), packs->begin(), packs->end());
        index.loaded_from.push_back(object.key.substr(object.key.rfind('/') + 1));
    }
    if (on_damage == OnDamagedIndex::rebuild_from_packs && !index.skipped.empty()) {
        for (const auto& pack_id : LB_TRY(find_unindexed_packs(storage, index))) {
            auto summary = read_pack_summary(storage, pack_id);
            if (!summary) {
                index.unreadable_packs.push_back(
                    damaged_object(pack_key(pack_id), summary.error()));
                continue;
            }
            index.add_pack(*summary);
            ++index.packs_read_from_footers;
        }
    }
    return index;
}

Result<std::string> write_index(Storage& storage, const std::vector<PackSummary>& packs) {
    json doc;
    doc["packs"] = json::array();
    for (const auto& pack : packs) {
        json blobs = json::array();
        for (const auto& e : pack.entries) {
            blobs.push_back({e.id.hex(), e.placement.offset, e.placement.stored_length,
                             e.placement.raw_length, static_cast<int>(e.placement.codec)});
        }
        doc["packs"].push_back({{"id", pack.id}, {"size", pack.size}, {"blobs", std::move(blobs)}});
    }
    const std::string object =
        LB_TRY(encode_object(ObjectKind::index, doc.dump(), PayloadCompression::zstd));
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
