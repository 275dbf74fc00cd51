#include "drivers/postgres_physical/backup_plan.hpp"

#include <algorithm>
#include <unordered_map>

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

}  // namespace

BackupPlan plan_backup(const postgres::DataDirectoryScan& scan, const repo::Manifest* previous,
                       const std::function<bool(const repo::BlockId&)>& stored, BackupType type,
                       std::uint32_t block_size) {
    BackupPlan plan;
    plan.reused.assign(scan.entries.size(), nullptr);
    std::unordered_map<std::string_view, const repo::ManifestEntry*> before;
    if (previous && type == BackupType::incremental) {
        for (const auto& e : previous->entries) {
            if (e.type == repo::EntryType::file) before.emplace(e.path, &e);
        }
    }
    std::vector<std::size_t> to_read;
    for (std::size_t i = 0; i < scan.entries.size(); ++i) {
        const auto& entry = scan.entries[i];
        if (entry.type != postgres::DataEntryType::file) continue;
        auto it = before.find(entry.path);
        const repo::ManifestEntry* old = it == before.end() ? nullptr : it->second;
        const bool unchanged = old && old->size == entry.size && old->mtime == entry.mtime &&
                               old->mtime_nsec == entry.mtime_nsec &&
                               changed_before(*old, previous->start_time) &&
                               std::all_of(old->blocks.begin(), old->blocks.end(),
                                           [&](const repo::BlockId& b) { return stored(b); });
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
    // Chunks are whole multiples of the block size so block boundaries never move.
    const std::uint64_t chunk = std::max<std::uint64_t>(k_chunk_size / block_size, 1) * block_size;
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
