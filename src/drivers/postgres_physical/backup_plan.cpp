#include "drivers/postgres_physical/backup_plan.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <unordered_map>

#include "sources/postgres/page_checksum.hpp"

namespace lifeboat::postgres_physical {

namespace {

// True when the file's last change happened early enough before the previous backup read it that
// a later change must have moved its timestamp: with sub-second timestamps, 100 ms (far more than
// a kernel timestamp tick); with whole seconds, k_timestamp_margin_seconds.
bool changed_before(const repo::ManifestEntry& old, Timestamp backup_start) {
    const std::int64_t mtime_micros = old.mtime * 1000000 + old.mtime_nsec / 1000;
    const std::int64_t margin =
        old.mtime_nsec != 0 ? k_subsecond_margin_micros : k_timestamp_margin_seconds * 1000000;
    return mtime_micros + margin <= backup_start.micros;
}

// The repository blocks (indices in the file) holding a page the summary lists for this file.
std::vector<bool> changed_blocks(const postgres::WalSummary& changed,
                                 const postgres::RelationFileKey& key, std::uint64_t block_count,
                                 std::uint32_t block_size, std::uint32_t page_size) {
    std::vector<bool> out(block_count, false);
    const auto it = changed.blocks.find(key.fork);
    if (it == changed.blocks.end()) return out;
    const std::uint64_t first = std::uint64_t{key.segment} * postgres::k_blocks_per_segment;
    const std::uint64_t pages_per_block = block_size / page_size;
    for (const std::uint32_t page : it->second) {
        if (page < first || page >= first + postgres::k_blocks_per_segment) continue;
        const std::uint64_t block = (page - first) / pages_per_block;
        if (block < block_count) out[block] = true;
    }
    return out;
}

// Chunks of one relation file planned from the summary: runs of changed blocks to read (at most
// `chunk` bytes each), runs of unchanged ones to take, single sampled blocks to verify, and the
// part past the previous size's last whole block to read to the end.
struct SummaryChunks {
    std::vector<FileChunk> chunks;
    std::uint64_t read_bytes = 0;
    std::uint64_t skipped = 0;
    std::uint64_t verified = 0;
};

// Picks the skipped blocks to verify: `share` of all of them (at least one when the share is
// not 0), at most k_max_sampled_blocks unless the share is 1, chosen uniformly over every
// summarised file (selection sampling: each candidate is taken with probability
// still-wanted / still-to-see, so exactly that many are taken, none favoured by its place).
class Sampler {
  public:
    Sampler(double share, std::uint64_t candidates, std::uint64_t seed)
        : m_left(candidates), m_random(seed) {
        if (share >= 1.0) {
            m_wanted = candidates;
        } else if (share > 0.0) {
            const auto wanted =
                static_cast<std::uint64_t>(std::ceil(share * static_cast<double>(candidates)));
            m_wanted = std::min({wanted, candidates, source::k_max_sampled_blocks});
        }
    }
    bool take() {
        if (m_left == 0) return false;
        const std::uint64_t left = m_left--;
        if (m_wanted == 0) return false;
        if (std::uniform_int_distribution<std::uint64_t>(0, left - 1)(m_random) >= m_wanted) {
            return false;
        }
        --m_wanted;
        return true;
    }

  private:
    std::uint64_t m_wanted = 0;
    std::uint64_t m_left;  // candidates not yet seen
    std::mt19937_64 m_random;
};

// The blocks of the previous backup's entry that may be taken: its whole blocks, and its last
// partial one too when the size has not changed (a file that grew must have that block read).
std::uint64_t takeable_blocks(const postgres::DataEntry& file, const repo::ManifestEntry& old,
                              std::uint32_t block_size) {
    return file.size == old.size ? (old.size + block_size - 1) / block_size : old.size / block_size;
}

SummaryChunks plan_from_summary(std::size_t entry, const postgres::DataEntry& file,
                                const repo::ManifestEntry& old, const std::vector<bool>& changed,
                                std::uint32_t block_size, std::uint64_t chunk, Sampler& sampler) {
    SummaryChunks out;
    const std::uint64_t whole = takeable_blocks(file, old, block_size);
    auto add = [&](ChunkKind kind, std::uint64_t begin, std::optional<std::uint64_t> end) {
        if (!out.chunks.empty() && end) {
            FileChunk& last = out.chunks.back();
            const bool joins = last.kind == kind && kind != ChunkKind::verify && last.end &&
                               *last.end == begin &&
                               (kind == ChunkKind::reuse || *end - last.begin <= chunk);
            if (joins) {
                last.end = end;
                return;
            }
        }
        out.chunks.push_back(
            {entry, begin, end, kind, kind == ChunkKind::read ? nullptr : &old, true});
    };
    for (std::uint64_t b = 0; b < whole; ++b) {
        const std::uint64_t begin = b * block_size;
        const std::uint64_t end = std::min(begin + block_size, old.size);
        if (changed[b]) {
            add(ChunkKind::read, begin, end);
            out.read_bytes += end - begin;
        } else if (sampler.take()) {
            add(ChunkKind::verify, begin, end);
            ++out.skipped;
            ++out.verified;
        } else {
            add(ChunkKind::reuse, begin, end);
            ++out.skipped;
        }
    }
    for (std::size_t i = 0; i + 1 < out.chunks.size(); ++i) {
        out.chunks[i].skip_follows =
            out.chunks[i].kind == ChunkKind::read && out.chunks[i + 1].kind != ChunkKind::read;
    }
    if (file.size > whole * block_size) {
        out.chunks.push_back(
            {entry, whole * block_size, std::nullopt, ChunkKind::read, nullptr, false});
        out.read_bytes += file.size - whole * block_size;
    }
    return out;
}

}  // namespace

BackupPlan plan_backup(const postgres::DataDirectoryScan& scan, const repo::Manifest* previous,
                       const std::function<bool(const repo::BlockId&)>& stored, BackupType type,
                       std::uint32_t block_size, const SummaryPlan& summary) {
    BackupPlan plan;
    plan.reused.assign(scan.entries.size(), nullptr);
    std::unordered_map<std::string_view, const repo::ManifestEntry*> before;
    if (previous && type == BackupType::incremental) {
        for (const auto& e : previous->entries) {
            if (e.type == repo::EntryType::file) before.emplace(e.path, &e);
        }
    }
    // Chunks are whole multiples of the block size so block boundaries never move.
    const std::uint64_t chunk = std::max<std::uint64_t>(k_chunk_size / block_size, 1) * block_size;
    const bool by_summary = summary.changed && !before.empty() && summary.page_size != 0 &&
                            block_size % summary.page_size == 0;
    // Relation files planned from the summary: their changed blocks, sampled in a second pass.
    struct ByBlock {
        std::size_t entry;
        const repo::ManifestEntry* old;
        std::vector<bool> changed;
    };
    std::vector<ByBlock> by_block;
    std::uint64_t candidates = 0;  // blocks that may be skipped, over all those files
    std::vector<std::size_t> to_read;
    // Below a share of 1, a relation file the timestamp rule takes whole is taken so: a change
    // after the previous backup read it would have moved its timestamp, so the blocks the summary
    // lists for it were changed before that read (e.g. a hint bit's full-page image logged during
    // the previous backup's start checkpoint and written by it) and the previous backup holds
    // them as they are. The summary decides only within files whose timestamps moved, and the
    // sampled check is drawn from there, where it alone vouches for a skip. `--verify-unchanged`
    // (share 1) plans every relation file block by block and re-reads all that is skipped.
    const bool timestamps_first = summary.verify_share < 1.0;
    for (std::size_t i = 0; i < scan.entries.size(); ++i) {
        const auto& entry = scan.entries[i];
        if (entry.type != postgres::DataEntryType::file) continue;
        auto it = before.find(entry.path);
        const repo::ManifestEntry* old = it == before.end() ? nullptr : it->second;
        // Looked up only after the cheaper checks pass: a block id lookup per block of the file.
        auto all_stored = [&] {
            return std::all_of(old->blocks.begin(), old->blocks.end(),
                               [&](const repo::BlockId& b) { return stored(b); });
        };
        const bool unchanged =
            old && old->size == entry.size && old->mtime == entry.mtime &&
            old->mtime_nsec == entry.mtime_nsec &&
            changed_before(*old, previous->postgres.files_from.value_or(previous->start_time)) &&
            all_stored();
        const auto key = by_summary && old && entry.is_relation && !(unchanged && timestamps_first)
                             ? postgres::relation_file_key(entry.path)
                             : std::nullopt;
        if (key && key->fork.fork == 0 && entry.size >= old->size &&
            old->blocks.size() == (old->size + block_size - 1) / block_size &&
            !postgres::whole_relation_changed(*summary.changed, key->fork) &&
            (unchanged || all_stored())) {
            auto changed =
                changed_blocks(*summary.changed, *key, (old->size + block_size - 1) / block_size,
                               block_size, summary.page_size);
            const std::uint64_t takeable = takeable_blocks(entry, *old, block_size);
            candidates += static_cast<std::uint64_t>(std::count(
                changed.begin(), changed.begin() + static_cast<std::ptrdiff_t>(takeable), false));
            by_block.push_back({i, old, std::move(changed)});
            continue;
        }
        if (unchanged) {
            plan.reused[i] = old;
            plan.bytes_reused += entry.size;
            ++plan.files_reused;
        } else {
            to_read.push_back(i);
            plan.bytes_to_read += entry.size;
        }
    }
    std::stable_sort(to_read.begin(), to_read.end(), [&](std::size_t a, std::size_t b) {
        return scan.entries[a].size > scan.entries[b].size;
    });
    // Files planned block by block go first: their reads are scattered and they are the largest.
    Sampler sampler(summary.verify_share, candidates, summary.seed);
    for (const ByBlock& file : by_block) {
        SummaryChunks planned = plan_from_summary(file.entry, scan.entries[file.entry], *file.old,
                                                  file.changed, block_size, chunk, sampler);
        plan.bytes_to_read += planned.read_bytes;
        plan.skipped_blocks += planned.skipped;
        plan.verify_blocks += planned.verified;
        ++plan.summarised_files;
        plan.chunks.insert(plan.chunks.end(), planned.chunks.begin(), planned.chunks.end());
    }
    for (std::size_t i : to_read) {
        const std::uint64_t size = scan.entries[i].size;
        std::uint64_t begin = 0;
        while (begin + chunk < size) {
            plan.chunks.push_back({i, begin, begin + chunk});
            begin += chunk;
        }
        plan.chunks.push_back({i, begin, std::nullopt});  // the last one reads to the end
    }
    return plan;
}

}  // namespace lifeboat::postgres_physical
