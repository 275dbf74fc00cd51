// The read side of restore: every block of the files being restored, read by pack in few ranged
// requests (engine/read_plan.hpp), decoded and checked against its id, and written at its offset
// in its file. The files exist already (restore_files creates them, and sets modes and times
// once every block is in). Each file is also flushed every `options.flush_every` bytes written
// into it, on threads beside the workers; a failed flush fails the call (restore_files flushes
// every complete file once more).
#pragma once

#include <functional>
#include <vector>

#include "engine/progress.hpp"
#include "engine/read_plan.hpp"
#include "engine/restore_files.hpp"
#include "io/direct_write.hpp"
#include "io/file.hpp"

namespace lifeboat::engine {

struct BlockWriteStats {
    std::uint64_t bytes = 0;         // written into files
    std::uint64_t direct_bytes = 0;  // of them, past the page cache (io/direct_write.hpp)
    std::uint64_t requests = 0;
    std::uint64_t bytes_fetched = 0;
    unsigned io_depth = 0;      // the depth used
    repo::BlockChecks checked;  // blocks decoded and checked, by id or by checksum
};

// Opens files[i] for writing (it was created empty).
using FileOpener = std::function<Result<File>(std::size_t file)>;

// Fails with ErrorCode::corrupt, before anything is read, when a block is missing from the index
// or a file's blocks do not add up to its recorded size; and, naming the backup and file, when
// a block does not decode to its id and length.
// `options` gives the manifest (for messages), index, storage, hasher, jobs (decoding workers),
// io depth, progress and keep_going; its target directories are the opener's business.
Result<BlockWriteStats> write_file_blocks(const MaterializeOptions& options,
                                          const std::vector<const repo::ManifestEntry*>& files,
                                          const FileOpener& open_file,
                                          const ReadLimits& limits = {});

}  // namespace lifeboat::engine
