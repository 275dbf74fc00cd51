// Local file-system helpers with typed errors. All paths are std::filesystem::path.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace lifeboat {

namespace fs = std::filesystem;

Result<std::string> read_file(const fs::path& path);

// none: left to the kernel. content: the file's data on stable storage before it gets its name
// (fdatasync), the directory entry not synced (for a file whose name a later step makes durable).
// fsync: the file and its name (fsync of the file, then of its directory).
enum class Durability { none, content, fsync };

// Writes `data` to `path` atomically: a temporary file beside it, fsync, rename, fsync of the
// directory. A reader sees either the old file, nothing, or the complete new one. The file is
// created 0600 (less if the umask says so): its owner's alone.
Status write_file_atomic(const fs::path& path, std::string_view data,
                         Durability durability = Durability::fsync);

// The same, written in pieces: the content goes to a temporary file beside `path`, and only
// commit() puts it in place (fsync, rename, fsync of the directory with Durability::fsync).
// Destroyed without a successful commit, it removes the temporary file: a reader of `path` never
// sees a part of the content, whatever failed on the way.
class AtomicFileWriter {
  public:
    static Result<AtomicFileWriter> create(const fs::path& path);
    // The same, with the temporary file in `temporary_dir` (on the same file system) rather than
    // beside `path`: for a directory another program scans, which must never see a temporary.
    static Result<AtomicFileWriter> create(const fs::path& path, const fs::path& temporary_dir);
    AtomicFileWriter(AtomicFileWriter&& other) noexcept;
    AtomicFileWriter& operator=(AtomicFileWriter&&) = delete;
    ~AtomicFileWriter();
    Status write(std::string_view data);
    // Gives the file to another account (fchown of the temporary file), so that it appears under
    // its name already owned by it: nothing can find it there still owned by the writer.
    Status give_to(std::uint32_t uid, std::uint32_t gid);
    // Asks the kernel to start writing out what was written so far, without waiting: a commit
    // with Durability::content or fsync then finds little left to flush. Advisory.
    void start_writeback();
    Status commit(Durability durability);

  private:
    AtomicFileWriter(fs::path path, fs::path tmp, int fd);
    void discard();
    fs::path m_path;
    fs::path m_tmp;
    int m_fd = -1;
};

Status ensure_directory(const fs::path& path);
// Like ensure_directory, but every directory it creates gets exactly `mode`, whatever the umask
// (directories that already exist keep theirs).
Status ensure_directory(const fs::path& path, unsigned mode);
Result<bool> directory_is_empty_or_missing(const fs::path& path);
Status fsync_directory(const fs::path& path);

// An errno value as text, for messages.
std::string errno_text(int err);

enum class AccessNeeded { read, write };

// Why the running account cannot read (or write) `path`, when a permission is the reason:
// "<dir> belongs to <owner>:<group> (mode 0750) and lifeboat runs as <account>: ..." (with what
// to do), naming the
// first directory on the way it cannot enter, else the path (read) or the directory that would
// hold it (write). Empty when permissions allow the access.
std::string permission_problem(const fs::path& path, AccessNeeded needed);

// Owns a temporary directory and removes it (recursively) on destruction unless kept.
class TempDirectory {
  public:
    static Result<TempDirectory> create(const fs::path& parent, std::string_view prefix);
    TempDirectory(TempDirectory&& other) noexcept;
    TempDirectory& operator=(TempDirectory&&) = delete;
    ~TempDirectory();
    const fs::path& path() const { return m_path; }
    void keep() { m_keep = true; }

  private:
    explicit TempDirectory(fs::path path) : m_path(std::move(path)) {}
    fs::path m_path;
    bool m_keep = false;
};

}  // namespace lifeboat
