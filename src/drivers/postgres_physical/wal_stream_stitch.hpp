// Stitching of streamed segments (wal_stream.hpp) off the receive path: a completed segment is
// checked, compressed and stored as the segment object of its name, then its chunks are deleted.
// That takes tens to hundreds of milliseconds for a 16 MiB segment (longer on S3), during which
// the receive loop would flush no chunk and report no position; SegmentStitcher does it on its
// own thread so that chunks keep their flush cadence.
//
// Contract:
// - submit() queues a segment (its whole content) and returns at once unless `max_pending`
//   segments are already queued; then it waits for one to finish (memory stays bounded: at most
//   max_pending + 1 segments are held). Segments are stitched in submission order.
// - The chunks of a segment are deleted only after its segment object is stored, so a process
//   killed at any point leaves either the chunks or the segment (or both, which the next stitch
//   of the same content accepts): the stored WAL never shrinks.
// - The first failure (a segment archived with other content: ErrorCode::conflict; a storage
//   error) stops the stitching of later segments, whose chunks stay; failure() returns it from
//   then on, and the receive loop ends the stream with it.
// - drain() waits for every queued segment (before a reconnection reads where the stored WAL
//   ends, so that a segment between its chunks and its object is not missed).
// - finish() waits for every queued segment (or the first failure) and stops the thread; the
//   destructor calls it. All public functions are called from one thread (the receive loop's).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "storage/storage.hpp"
#include "util/error.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::postgres_physical {

struct StitchCounts {
    std::uint64_t stitched = 0;
    std::uint64_t already_archived = 0;  // archive_command had stored the same content
};

// Stores `content` (a whole segment) as the segment object `name`, with its commit span, and
// deletes its chunks. Stage "wal-stream:stitch" comes first.
Result<repo::PushOutcome> stitch_segment(repo::Repository& repository, const std::string& name,
                                         std::string_view content, const OperationContext& ctx);

// The segments of `timeline` whose chunks cover them whole from offset 0 but that have no
// segment object yet (a run killed between a segment's last chunk and its stitching), in order.
Result<std::vector<std::string>> unstitched_segments(const Storage& storage, std::uint32_t timeline,
                                                     std::uint64_t segment_size);

class SegmentStitcher {
  public:
    // `ctx` must outlive the stitcher; its cancellation is not looked at (a stitch under way is
    // finished, never abandoned half-way).
    SegmentStitcher(repo::Repository& repository, const OperationContext& ctx,
                    std::size_t max_pending);
    ~SegmentStitcher();
    SegmentStitcher(const SegmentStitcher&) = delete;
    SegmentStitcher& operator=(const SegmentStitcher&) = delete;

    Status submit(std::string name, std::string content);
    Status failure() const;
    // Waits until every queued segment is stitched (or one failed); the thread stays.
    Status drain();
    Status finish();
    StitchCounts counts() const;

  private:
    void work();

    struct Pending {
        std::string name;
        std::string content;
    };
    repo::Repository& m_repository;
    const OperationContext& m_ctx;
    const std::size_t m_max_pending;
    mutable std::mutex m_mutex;
    std::condition_variable m_changed;
    std::deque<Pending> m_queue;
    bool m_busy = false;  // the worker holds a segment taken from the queue
    bool m_stopping = false;
    std::optional<Error> m_failure;
    StitchCounts m_counts;
    std::thread m_thread;
};

}  // namespace lifeboat::postgres_physical
