#include "engine/restore_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "engine/restore_blocks.hpp"
#include "io/direct_write.hpp"
#include "io/file.hpp"
#include "util/parallel.hpp"

namespace lifeboat::engine {

std::uint32_t restored_directory_mode(std::uint32_t recorded) {
    return (recorded & 0750) | 0700;
}

std::uint32_t restored_file_mode(std::uint32_t recorded) {
    return (recorded & 0640) | 0600;
}

namespace {

// Flushes in flight at once (io/durable_file.hpp, BackgroundFlusher: measured), and files written
// but not flushed yet before a writer waits.
constexpr unsigned k_flush_threads = 16;
constexpr std::size_t k_flush_pending = 256;
// Parent directories kept open for the files' opens (a data directory has a few dozen; beyond
// this many, each open walks from the top again).
constexpr std::size_t k_cached_directories = 512;

using Clock = std::chrono::steady_clock;

// An owned directory descriptor.
class DirFd {
  public:
    explicit DirFd(int fd = -1) : m_fd(fd) {}
    DirFd(DirFd&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
    DirFd& operator=(DirFd&& other) noexcept {
        std::swap(m_fd, other.m_fd);
        return *this;
    }
    DirFd(const DirFd&) = delete;
    ~DirFd() {
        if (m_fd >= 0) ::close(m_fd);
    }
    int get() const { return m_fd; }

  private:
    int m_fd;
};

Result<DirFd> open_root(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail(ErrorCode::io, "cannot open directory {}: {}", dir.string(), errno_text(errno));
    return DirFd(fd);
}

// Where an entry lives: the directory it is resolved from, its path below it, and that
// directory's name for messages.
struct Place {
    int base = -1;
    std::string relative;
    const fs::path* base_path = nullptr;
};

class Writer {
  public:
    Writer(const MaterializeOptions& options, DirFd root, std::map<std::uint32_t, DirFd> spaces)
        : m_options(options), m_root(std::move(root)), m_spaces(std::move(spaces)) {}

    // Files below pg_tblspc/<oid>/ go to the tablespace's new directory.
    Place place_of(const std::string& path) const {
        const auto slash = path.find('/', std::string_view("pg_tblspc/").size());
        if (slash != std::string::npos) {
            if (const auto oid =
                    repo::tablespace_link_oid(std::string_view(path).substr(0, slash))) {
                if (auto it = m_spaces.find(*oid); it != m_spaces.end()) {
                    return {it->second.get(), path.substr(slash + 1),
                            &m_options.tablespace_dirs.at(*oid)};
                }
            }
        }
        return {m_root.get(), path, &m_options.target_dir};
    }

    // Opens the parent directory of `place`, creating missing directories (0700), never
    // following a link. Returns it and the last component.
    Result<std::pair<DirFd, std::string>> open_parent(const Place& place) const {
        DirFd dir(::fcntl(place.base, F_DUPFD_CLOEXEC, 0));
        if (dir.get() < 0) return fail(ErrorCode::io, "cannot duplicate a descriptor");
        std::size_t start = 0;
        for (std::size_t slash = place.relative.find('/'); slash != std::string::npos;
             start = slash + 1, slash = place.relative.find('/', start)) {
            const std::string part = place.relative.substr(start, slash - start);
            int fd =
                ::openat(dir.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0 && errno == ENOENT) {
                if (::mkdirat(dir.get(), part.c_str(), 0700) != 0 && errno != EEXIST)
                    return io_error(place, "cannot create directory");
                fd = ::openat(dir.get(), part.c_str(),
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            }
            if (fd < 0) return io_error(place, "cannot open its directory (a link or a file?)");
            dir = DirFd(fd);
        }
        return std::pair{std::move(dir), place.relative.substr(start)};
    }

    // The parent directory of a file: `fd` is open as long as the writer (kept in a cache filled
    // by open_parent, so each directory is walked once), or held by `owned` past the cache's size.
    struct Parent {
        DirFd owned;
        int fd = -1;
        std::string name;
    };
    Result<Parent> parent_of(const Place& place) const {
        const auto slash = place.relative.rfind('/');
        const std::string dir =
            slash == std::string::npos ? std::string() : place.relative.substr(0, slash);
        const auto key = std::pair{place.base, dir};
        {
            std::lock_guard guard(m_directories_lock);
            if (auto it = m_directories.find(key); it != m_directories.end()) {
                return Parent{DirFd(), it->second.get(), place.relative.substr(slash + 1)};
            }
        }
        auto [opened, name] = LB_TRY(open_parent(place));
        std::lock_guard guard(m_directories_lock);
        if (m_directories.size() >= k_cached_directories) {
            const int fd = opened.get();
            return Parent{std::move(opened), fd, std::move(name)};
        }
        auto it = m_directories.try_emplace(key, std::move(opened)).first;
        return Parent{DirFd(), it->second.get(), std::move(name)};
    }

    Status make_directory(const repo::ManifestEntry& entry) const {
        const Place place = place_of(entry.path);
        auto [parent, name] = LB_TRY(open_parent(place));
        if (::mkdirat(parent.get(), name.c_str(), 0700) != 0 && errno != EEXIST)
            return io_error(place, "cannot create directory");
        DirFd dir(
            ::openat(parent.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (dir.get() < 0) return io_error(place, "cannot open directory (a link or a file?)");
        if (::fchmod(dir.get(), restored_directory_mode(entry.mode)) != 0)
            return io_error(place, "cannot set the mode of");
        return {};
    }

    Status make_link(const repo::ManifestEntry& entry) const {
        const Place place = place_of(entry.path);
        auto [parent, name] = LB_TRY(open_parent(place));
        std::string target = entry.link_target;
        if (const auto oid = repo::tablespace_link_oid(entry.path)) {
            // A tablespace: its contents go to the new location the caller chose.
            auto it = m_options.tablespace_dirs.find(*oid);
            if (it == m_options.tablespace_dirs.end())
                return fail(ErrorCode::corrupt, "backup {}: no location for tablespace {}",
                            m_options.manifest->id, *oid);
            target = it->second.string();
        }
        if (::symlinkat(target.c_str(), parent.get(), name.c_str()) != 0)
            return io_error(place, fmt::format("cannot link to {}", target));
        return {};
    }

    const FileSync& file_sync() const {
        return m_options.file_sync ? *m_options.file_sync : posix_file_sync();
    }

    // Flushes the directory holding `entry_path` (after all its entries were created).
    Status sync_parent_of(const std::string& entry_path) const {
        const Place place = place_of(entry_path);
        const Parent parent = LB_TRY(parent_of(place));
        return file_sync().sync_directory(parent.fd,
                                          (*place.base_path / place.relative).parent_path());
    }

    // Creates the file, empty, never over anything already there (O_EXCL, no link followed), and
    // returns it open for writing (as open_file opens it). restore_blocks fills it, finish_file
    // seals it.
    Result<File> create_file(const repo::ManifestEntry& entry) const {
        const Place place = place_of(entry.path);
        const Parent parent = LB_TRY(parent_of(place));
        const int fd = ::openat(parent.fd, parent.name.c_str(),
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) return io_error(place, "cannot create");
        File file = File::adopt(fd, *place.base_path / place.relative);
        if (!m_options.direct_writes) return file;
        // Direct writes: its blocks reserved at once, so a disk too small fails before they are
        // written, and the writers fill space already allocated (no file grows under concurrent
        // direct writes, which would serialise them on the file's lock). A file system without
        // fallocate allocates as the blocks land.
        if (entry.size > 0 && ::fallocate(fd, 0, 0, static_cast<off_t>(entry.size)) != 0 &&
            errno == ENOSPC)
            return io_error(place, "no space left to restore");
        LB_CHECK(file.close());
        return open_file(entry);  // again, for direct writes
    }

    // Opens a file create_file made, never following a link.
    Result<File> open_file(const repo::ManifestEntry& entry) const {
        const Place place = place_of(entry.path);
        const Parent parent = LB_TRY(parent_of(place));
        const int flags = O_WRONLY | O_NOFOLLOW | O_CLOEXEC;
        const int fd = m_options.direct_writes
                           ? open_for_direct_write(parent.fd, parent.name.c_str(), flags)
                           : ::openat(parent.fd, parent.name.c_str(), flags);
        if (fd < 0) return io_error(place, "cannot open");
        return File::adopt(fd, *place.base_path / place.relative);
    }

    // Every block is in `file` (open for writing): the recorded mode and times; then `flusher`
    // flushes and closes it.
    Status finish_file(const repo::ManifestEntry& entry, File file,
                       BackgroundFlusher& flusher) const {
        const Place place = place_of(entry.path);
        const int fd = file.descriptor();
        if (::fchmod(fd, restored_file_mode(entry.mode)) != 0)
            return io_error(place, "cannot set the mode of");
        const struct timespec times[2] = {{entry.mtime, entry.mtime_nsec},
                                          {entry.mtime, entry.mtime_nsec}};
        ::futimens(fd, times);
        flusher.submit(std::move(file));
        return {};
    }

  private:
    Error io_error_value(const Place& place, std::string_view what) const {
        const int err = errno;
        return Error{ErrorCode::io,
                     fmt::format("{} {}: {}", what, (*place.base_path / place.relative).string(),
                                 errno_text(err))};
    }
    std::unexpected<Error> io_error(const Place& place, std::string_view what) const {
        return std::unexpected(io_error_value(place, what));
    }

    const MaterializeOptions& m_options;
    DirFd m_root;
    std::map<std::uint32_t, DirFd> m_spaces;
    mutable std::mutex m_directories_lock;
    mutable std::map<std::pair<int, std::string>, DirFd> m_directories;
};

// Each file is created once, by the first worker that needs it (the first to write one of its
// blocks, or the one that seals it): creation overlaps the writing of other files instead of
// being a phase of its own, where the workers queued on the directories' locks.
class FileCreation {
  public:
    FileCreation(const Writer& writer, const std::vector<const repo::ManifestEntry*>& files)
        : m_writer(writer), m_files(files), m_created(files.size()) {}

    // File `i` open for writing: created now if no worker created it before.
    Result<File> open(std::size_t i) {
        std::optional<Result<File>> made;
        std::call_once(m_created[i], [&] { made = m_writer.create_file(*m_files[i]); });
        if (made) return std::move(*made);
        return m_writer.open_file(*m_files[i]);
    }

  private:
    const Writer& m_writer;
    const std::vector<const repo::ManifestEntry*>& m_files;
    std::vector<std::once_flag> m_created;
};

// Flushes the directory that holds `dir` (its entry for `dir`, which restore may have created).
Status sync_parent_directory(const FileSync& sync, const fs::path& dir) {
    std::error_code ec;
    fs::path parent = fs::absolute(dir, ec).parent_path();
    if (ec || parent.empty()) parent = ".";
    DirFd fd = LB_TRY(open_root(parent));
    return sync.sync_directory(fd.get(), parent);
}

// Creates `dir` (and missing parents) 0700 whatever the umask, and makes `dir` itself 0700:
// PostgreSQL refuses a data directory open to others.
Status prepare_directory(const fs::path& dir) {
    LB_CHECK(ensure_directory(dir, 0700));
    if (::chmod(dir.c_str(), 0700) != 0)
        return fail(ErrorCode::io, "cannot set the mode of {}: {}", dir.string(),
                    errno_text(errno));
    return {};
}

}  // namespace

Result<MaterializeStats> materialize_backup(const MaterializeOptions& options) {
    const repo::Manifest& manifest = *options.manifest;
    LB_CHECK(repo::check_entries_safe(manifest));
    LB_CHECK(prepare_directory(options.target_dir));
    DirFd root = LB_TRY(open_root(options.target_dir));
    std::map<std::uint32_t, DirFd> spaces;
    for (const auto& entry : manifest.entries) {
        const auto oid = repo::tablespace_link_oid(entry.path);
        if (entry.type != repo::EntryType::symlink || !oid) continue;
        auto it = options.tablespace_dirs.find(*oid);
        if (it == options.tablespace_dirs.end()) {
            return fail(ErrorCode::corrupt, "backup {}: no location for tablespace {}", manifest.id,
                        *oid);
        }
        LB_CHECK(prepare_directory(it->second));
        spaces.emplace(*oid, LB_TRY(open_root(it->second)));
    }
    const Writer writer(options, std::move(root), std::move(spaces));
    std::vector<const repo::ManifestEntry*> files;
    MaterializeStats stats;
    for (const auto& entry : manifest.entries) {
        switch (entry.type) {
            case repo::EntryType::directory:
                LB_CHECK(writer.make_directory(entry));
                break;
            case repo::EntryType::symlink:
                LB_CHECK(writer.make_link(entry));
                break;
            case repo::EntryType::file:
                files.push_back(&entry);
                stats.bytes += entry.size;
                break;
        }
    }
    stats.files = files.size();
    std::stable_sort(files.begin(), files.end(),
                     [](const auto* a, const auto* b) { return a->size > b->size; });
    const unsigned jobs = std::max(1u, options.jobs);
    FileCreation creation(writer, files);
    const BlockWriteStats written =
        LB_TRY(write_file_blocks(options, files, [&](std::size_t i) { return creation.open(i); }));
    stats.requests = written.requests;
    stats.bytes_fetched = written.bytes_fetched;
    stats.direct_bytes = written.direct_bytes;
    stats.checked = written.checked;
    stats.io_depth = written.io_depth;
    // Files are sealed and handed to the flushing threads as the workers get to them.
    BackgroundFlusher flusher(writer.file_sync(), k_flush_threads, k_flush_pending);
    const auto flush_started = Clock::now();
    const Status sealed = parallel_for(files.size(), jobs, [&](std::size_t i, unsigned) -> Status {
        File file = LB_TRY(creation.open(i));
        return writer.finish_file(*files[i], std::move(file), flusher);
    });
    const Status flushed = flusher.finish();
    LB_CHECK(sealed);
    LB_CHECK(flushed);
    // Directories last, once every entry in them exists: one entry per distinct parent
    // directory stands for it. Tablespace contents resolve to their own directories.
    std::set<std::string> parents_seen;
    std::vector<const std::string*> representatives;
    for (const auto& entry : manifest.entries) {
        const auto slash = entry.path.rfind('/');
        const std::string parent = slash == std::string::npos ? "" : entry.path.substr(0, slash);
        if (parents_seen.insert(parent).second) representatives.push_back(&entry.path);
    }
    LB_CHECK(parallel_for(representatives.size(), jobs, [&](std::size_t i, unsigned) -> Status {
        return writer.sync_parent_of(*representatives[i]);
    }));
    const FileSync& sync = writer.file_sync();
    LB_CHECK(sync_parent_directory(sync, options.target_dir));
    for (const auto& [oid, dir] : options.tablespace_dirs) {
        if (std::error_code ec; fs::exists(dir, ec)) LB_CHECK(sync_parent_directory(sync, dir));
    }
    stats.synced_directories = representatives.size();
    stats.sync_seconds = std::chrono::duration<double>(Clock::now() - flush_started).count();
    return stats;
}

}  // namespace lifeboat::engine
