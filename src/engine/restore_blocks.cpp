#include "engine/restore_blocks.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>

#include "io/durable_file.hpp"

namespace lifeboat::engine {

namespace {

// Threads writing decoded blocks (io/direct_write.hpp): a direct write waits for the device, and
// a few in flight keep it busy (on the machine of docs/performance.md, 1.5 GiB took 1.25-1.44 s
// from 2 threads, 0.95-1.18 s from 4).
constexpr unsigned k_writer_threads = 4;

// Buffered writes: contiguous blocks of one file are handed to the kernel's write-out together,
// up to this much at once, instead of one request per block.
constexpr std::uint64_t k_writeback_run = 8ull * 1024 * 1024;

// Threads for the flushes made while files are still being written (flush_every): a large
// file's flush waits for the storage, and the workers must not. Each pending flush holds a
// descriptor (beside restore_files' kept directories and sealed files waiting for their flush),
// and a worker waits once this many are pending: the storage's pace then.
constexpr unsigned k_early_flush_threads = 2;
constexpr std::size_t k_early_flush_pending = 32;

// Where one wanted block goes.
struct Destination {
    std::size_t file = 0;
    std::uint64_t offset = 0;
};

}  // namespace

Result<BlockWriteStats> write_file_blocks(const MaterializeOptions& options,
                                          const std::vector<const repo::ManifestEntry*>& files,
                                          const FileOpener& open_file, const ReadLimits& limits) {
    const FileSync& file_sync = options.file_sync ? *options.file_sync : posix_file_sync();
    const repo::Manifest& manifest = *options.manifest;
    std::vector<Destination> destinations;
    std::vector<WantedBlock> wanted;
    std::uint64_t total = 0;
    std::size_t block_count = 0;
    for (const auto* entry : files)
        block_count += entry->blocks.size();
    destinations.reserve(block_count);
    wanted.reserve(block_count);
    for (std::size_t f = 0; f < files.size(); ++f) {
        const repo::ManifestEntry& entry = *files[f];
        std::uint64_t offset = 0;
        for (const auto& id : entry.blocks) {
            const auto location = options.index->find(id);
            if (!location) {
                return fail(ErrorCode::corrupt,
                            "backup {}: file {}: block {} is missing from the repository",
                            manifest.id, entry.path, id.hex());
            }
            wanted.push_back({.pack_id = location->pack_id,
                              .id = id,
                              .placement = location->placement,
                              .tag = destinations.size()});
            destinations.push_back({f, offset});
            offset += location->placement.raw_length;
        }
        // Checked before anything is read: a file whose blocks cannot fill it is never written.
        if (offset != entry.size) {
            return fail(ErrorCode::corrupt,
                        "backup {}: file {}: its blocks hold {} bytes, manifest says {}",
                        manifest.id, entry.path, offset, entry.size);
        }
        total += offset;
    }
    const ReadPlan plan = plan_reads(std::move(wanted), limits);

    BlockWriteStats stats;
    stats.io_depth = io_depth_for(*options.storage, options.io_depth);
    const unsigned workers = std::max(1u, options.jobs);
    std::vector<repo::BlockReader> readers(workers);
    std::vector<std::string> buffers(workers);
    // Direct writes: the decoding workers hand each block to writer threads and go on decoding
    // (io/direct_write.hpp); a few more buffers than writers keep the device busy. Buffered
    // writes: the worker copies the block into the page cache and starts its write-out.
    std::optional<BackgroundWriter> writer;
    if (options.direct_writes)
        writer.emplace(file_sync, k_writer_threads, k_writer_threads + 2 * workers);
    std::atomic<std::uint64_t> bytes_done{0};
    // The bytes written into each file so far (handed to the writers, with direct writes), for
    // its flushes along the way.
    std::vector<std::atomic<std::uint64_t>> file_written;
    std::optional<BackgroundFlusher> early_flushes;
    if (options.flush_every > 0) {
        file_written = std::vector<std::atomic<std::uint64_t>>(files.size());
        early_flushes.emplace(file_sync, k_early_flush_threads, k_early_flush_pending);
    }
    // Flushes `file` on a thread of early_flushes through a descriptor of its own (the
    // worker's may be closed first). Without a descriptor to spare, the flush is left to the
    // one every file gets once complete.
    const auto flush_while_writing = [&](const File& file) {
        const int fd = ::fcntl(file.descriptor(), F_DUPFD_CLOEXEC, 0);
        if (fd >= 0) early_flushes->submit(File::adopt(fd, file.path()));
    };
    auto handle = [&](const RangeRead& range, std::string_view bytes, unsigned worker) -> Status {
        std::string& block = buffers[worker];
        const repo::BlockId* decoded = nullptr;  // what `block` holds now
        std::shared_ptr<File> file;  // with direct writes, open until the writers are done
        std::size_t file_index = 0;
        WritebackRun run(file_sync, k_writeback_run);
        for (std::size_t k = range.first; k < range.first + range.count; ++k) {
            const WantedBlock& b = plan.blocks[k];
            const Destination& to = destinations[b.tag];
            const repo::ManifestEntry& entry = *files[to.file];
            // A block wanted twice (two files, or twice in one) sits twice in a row: decoded once.
            if (!decoded || !(*decoded == b.id)) {
                const std::string_view stored =
                    bytes.substr(b.placement.offset - range.offset, b.placement.stored_length);
                auto status = repo::decode_block(stored, b.id, b.placement, readers[worker], block,
                                                 *options.hasher, options.block_check);
                if (!status) {
                    return std::unexpected(
                        status.error().context("backup {}: file {}", manifest.id, entry.path));
                }
                if (block.size() != b.placement.raw_length) {
                    return fail(ErrorCode::corrupt,
                                "backup {}: file {}: block {} decodes to {} bytes, the index "
                                "says {}",
                                manifest.id, entry.path, b.id.hex(), block.size(),
                                b.placement.raw_length);
                }
                decoded = &b.id;
            }
            if (!file || file_index != to.file) {
                if (file && !writer) {
                    run.start();
                    LB_CHECK(file->close());
                }
                file = std::make_shared<File>(LB_TRY(open_file(to.file)));
                file_index = to.file;
            }
            // Buffered: write-out starts once the file's contiguous run reaches 8 MiB or ends
            // (a file restored from many packs gets one request per run). Direct: the writers send
            // it to the device (or start its write-out where O_DIRECT is refused). Either way the
            // file's flush once it is sealed finds little left (restore_files.hpp: durable when it
            // returns).
            if (writer) {
                LB_CHECK(writer->submit(file, to.offset, block));
            } else {
                LB_CHECK(file->write_at(to.offset, block));
                run.wrote(file->descriptor(), to.offset, block.size());
            }
            if (early_flushes) {
                const std::uint64_t every = options.flush_every;
                const std::uint64_t before = file_written[to.file].fetch_add(block.size());
                if (before / every != (before + block.size()) / every) {
                    run.start();
                    flush_while_writing(*file);
                }
            }
            bytes_done += block.size();
        }
        if (file && !writer) {
            run.start();
            LB_CHECK(file->close());
        }
        return {};
    };
    const FetchOptions fetch{
        .io_depth = stats.io_depth, .workers = workers, .keep_going = options.keep_going};
    auto fetched = [&] {
        PeriodicProgress progress(options.progress, "writing files", bytes_done, total);
        return fetch_ranges(*options.storage, plan, fetch, handle);
    }();
    const Status written = writer ? writer->finish() : Status{};
    const Status flushed = early_flushes ? early_flushes->finish() : Status{};
    if (!fetched) return std::unexpected(fetched.error());
    LB_CHECK(written);
    LB_CHECK(flushed);
    stats.bytes = bytes_done.load();
    stats.direct_bytes = writer ? writer->direct_bytes() : 0;
    stats.requests = fetched->requests;
    stats.bytes_fetched = fetched->bytes;
    for (const repo::BlockReader& reader : readers)
        stats.checked += reader.checked;
    return stats;
}

}  // namespace lifeboat::engine
