// Pack objects: many compressed blocks in one object, with a footer that makes the pack
// self-describing (docs/repository-format.md, "PACK").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "repository/block.hpp"
#include "storage/storage.hpp"

namespace lifeboat::repo {

struct PackEntry {
    BlockId id;
    BlockPlacement placement;
    bool operator==(const PackEntry&) const = default;
};

struct PackSummary {
    std::string id;
    std::uint64_t size = 0;
    std::vector<PackEntry> entries;
    bool operator==(const PackSummary&) const = default;
};

// Streams blocks into a new pack. Not thread-safe: one writer per worker thread.
class PackWriter {
  public:
    static Result<PackWriter> start(Storage& storage);
    PackWriter(PackWriter&&) noexcept = default;

    Status add(const BlockId& id, std::string_view stored, std::uint32_t raw_length,
               BlockCodec codec);
    std::uint64_t size() const { return m_size; }
    std::size_t block_count() const { return m_entries.size(); }
    // Writes footer and trailer and publishes the pack. The writer is spent afterwards.
    Result<PackSummary> finish();

  private:
    PackWriter(std::string id, std::unique_ptr<Upload> upload);
    Status write(std::string_view data);

    std::string m_id;
    std::unique_ptr<Upload> m_upload;
    std::unique_ptr<Sha256> m_hash;
    std::uint64_t m_size = 0;
    std::vector<PackEntry> m_entries;
};

// Reads a whole pack, checks its envelope and trailer, and parses its footer.
Result<PackSummary> read_pack_summary(const Storage& storage, const std::string& pack_id);

// The random id of a new pack: 64 lower-case hex digits.
std::string new_pack_id();
// Whether `id` has that form (an id read from the repository becomes part of an object name).
bool is_pack_id(std::string_view id);

// Parses the payload of pack `key` (envelope already checked): its footer, each entry checked to
// lie between the header and the footer. `object_size` is the whole object's size.
// ErrorCode::corrupt naming the key and the field otherwise. An entry point for fuzzing.
Result<PackSummary> parse_pack_payload(std::string_view payload, std::string_view pack_id,
                                       std::string_view key, std::uint64_t object_size);

}  // namespace lifeboat::repo
