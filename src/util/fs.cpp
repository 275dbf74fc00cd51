#include "util/fs.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace lifeboat {

std::string errno_text(int err) {
    return std::strerror(err);
}

Result<std::string> read_file(const fs::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        return fail(err == ENOENT ? ErrorCode::not_found : ErrorCode::io, "cannot read {}: {}",
                    path.string(), errno_text(err));
    }
    std::string out;
    // Size the string once: growing by doubling would briefly hold twice the file in memory.
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
    char buffer[1 << 16];
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            ::close(fd);
            return fail(ErrorCode::io, "cannot read {}: {}", path.string(), errno_text(err));
        }
        if (n == 0) break;
        out.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

Status fsync_directory(const fs::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return fail(ErrorCode::io, "cannot open directory {}: {}", path.string(),
                    errno_text(errno));
    }
    while (::fsync(fd) != 0) {
        // EINVAL: the file system cannot fsync a directory (its entries are as durable as they
        // get); anything else means an entry may not be on disk, which callers must hear.
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd);
        if (err == EINVAL) return {};
        return fail(ErrorCode::io, "cannot fsync directory {}: {}", path.string(), errno_text(err));
    }
    ::close(fd);
    return {};
}

Result<AtomicFileWriter> AtomicFileWriter::create(const fs::path& path) {
    return create(path, path.parent_path());
}

Result<AtomicFileWriter> AtomicFileWriter::create(const fs::path& path,
                                                  const fs::path& temporary_dir) {
    fs::path tmp =
        temporary_dir / (path.filename().string() + ".tmp." + std::to_string(::getpid()));
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return fail(ErrorCode::io, "cannot create {}: {}", tmp.string(), errno_text(errno));
    }
    return AtomicFileWriter(path, std::move(tmp), fd);
}

AtomicFileWriter::AtomicFileWriter(fs::path path, fs::path tmp, int fd)
    : m_path(std::move(path)), m_tmp(std::move(tmp)), m_fd(fd) {}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept
    : m_path(std::move(other.m_path)), m_tmp(std::move(other.m_tmp)), m_fd(other.m_fd) {
    other.m_fd = -1;
}

AtomicFileWriter::~AtomicFileWriter() {
    discard();
}

void AtomicFileWriter::discard() {
    if (m_fd < 0) return;
    ::close(m_fd);
    ::unlink(m_tmp.c_str());
    m_fd = -1;
}

Status AtomicFileWriter::write(std::string_view data) {
    if (m_fd < 0) return fail(ErrorCode::internal, "{} is closed", m_tmp.string());
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(m_fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            discard();
            return fail(ErrorCode::io, "cannot write {}: {}", m_tmp.string(), errno_text(err));
        }
        done += static_cast<std::size_t>(n);
    }
    return {};
}

Status AtomicFileWriter::give_to(std::uint32_t uid, std::uint32_t gid) {
    if (m_fd < 0) return fail(ErrorCode::internal, "{} is closed", m_tmp.string());
    if (::fchown(m_fd, uid, gid) != 0) {
        const int err = errno;
        discard();
        return fail(ErrorCode::io, "cannot give {} to uid {}: {}", m_tmp.string(), uid,
                    errno_text(err));
    }
    return {};
}

void AtomicFileWriter::start_writeback() {
    if (m_fd >= 0) (void)::sync_file_range(m_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

Status AtomicFileWriter::commit(Durability durability) {
    if (m_fd < 0) return fail(ErrorCode::internal, "{} is closed", m_tmp.string());
    if ((durability == Durability::fsync && ::fsync(m_fd) != 0) ||
        (durability == Durability::content && ::fdatasync(m_fd) != 0)) {
        const int err = errno;
        discard();
        return fail(ErrorCode::io, "cannot fsync {}: {}", m_tmp.string(), errno_text(err));
    }
    ::close(m_fd);
    m_fd = -1;
    if (::rename(m_tmp.c_str(), m_path.c_str()) != 0) {
        const int err = errno;
        ::unlink(m_tmp.c_str());
        return fail(ErrorCode::io, "cannot rename {} to {}: {}", m_tmp.string(), m_path.string(),
                    errno_text(err));
    }
    if (durability == Durability::fsync) return fsync_directory(m_path.parent_path());
    return {};
}

Status write_file_atomic(const fs::path& path, std::string_view data, Durability durability) {
    auto file = LB_TRY(AtomicFileWriter::create(path));
    LB_CHECK(file.write(data));
    return file.commit(durability);
}

namespace {

std::string account_name(uid_t uid) {
    if (const passwd* pw = ::getpwuid(uid)) return pw->pw_name;
    return "uid " + std::to_string(uid);
}

std::string group_name(gid_t gid) {
    if (const group* gr = ::getgrgid(gid)) return gr->gr_name;
    return "gid " + std::to_string(gid);
}

std::string owned_by(const fs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return {};
    if (st.st_uid == ::geteuid()) {
        return fmt::format(
            "{} belongs to {}:{} (mode {:04o}), the account lifeboat runs as, which lacks the "
            "permission: restore the owner's rights (chmod -R u+rwX)",
            path.string(), account_name(st.st_uid), group_name(st.st_gid), st.st_mode & 07777);
    }
    return fmt::format(
        "{} belongs to {}:{} (mode {:04o}) and lifeboat runs as {}: run lifeboat as {}, or give "
        "{} access (chown -R)",
        path.string(), account_name(st.st_uid), group_name(st.st_gid), st.st_mode & 07777,
        account_name(::geteuid()), account_name(st.st_uid), account_name(::geteuid()));
}

}  // namespace

std::string permission_problem(const fs::path& path, AccessNeeded needed) {
    std::error_code ec;
    const fs::path absolute = fs::absolute(path, ec);
    if (ec) return {};
    // The first directory on the way that cannot be entered is the whole story.
    fs::path walked;
    fs::path deepest_directory;
    for (auto it = absolute.begin(); it != absolute.end(); ++it) {
        walked /= *it;
        struct stat st {};
        if (::stat(walked.c_str(), &st) != 0) {
            if (errno == EACCES) return owned_by(walked.parent_path());
            break;  // missing: what exists above is where it would be created
        }
        if (!S_ISDIR(st.st_mode)) break;
        deepest_directory = walked;
        if (std::next(it) != absolute.end() && ::access(walked.c_str(), X_OK) != 0 &&
            errno == EACCES) {
            return owned_by(walked);
        }
    }
    if (needed == AccessNeeded::read) {
        if (::access(absolute.c_str(), R_OK) != 0 && errno == EACCES) return owned_by(absolute);
        return {};
    }
    // Writing a file needs its directory writable; writing into a directory needs itself.
    const fs::path holder =
        deepest_directory == absolute || absolute.parent_path().empty()
            ? deepest_directory
            : (fs::is_directory(absolute.parent_path(), ec) ? absolute.parent_path()
                                                            : deepest_directory);
    if (!holder.empty() && ::access(holder.c_str(), W_OK | X_OK) != 0 && errno == EACCES)
        return owned_by(holder);
    return {};
}

Status ensure_directory(const fs::path& path) {
    std::error_code ec;
    fs::create_directories(path, ec);
    if (ec)
        return fail(ErrorCode::io, "cannot create directory {}: {}", path.string(), ec.message());
    return {};
}

Status ensure_directory(const fs::path& path, unsigned mode) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return {};
    const fs::path parent = path.parent_path();
    if (!parent.empty() && parent != path) LB_CHECK(ensure_directory(parent, mode));
    if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) != 0) {
        const int err = errno;
        if (err == EEXIST && fs::is_directory(path, ec)) return {};  // made meanwhile
        return fail(ErrorCode::io, "cannot create directory {}: {}", path.string(),
                    errno_text(err));
    }
    // mkdir applied the umask; the caller asked for exactly `mode`.
    if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
        return fail(ErrorCode::io, "cannot set the mode of {}: {}", path.string(),
                    errno_text(errno));
    }
    return {};
}

Result<bool> directory_is_empty_or_missing(const fs::path& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return true;
    if (!fs::is_directory(path, ec)) return false;
    auto it = fs::directory_iterator(path, ec);
    if (ec) return fail(ErrorCode::io, "cannot list {}: {}", path.string(), ec.message());
    return it == fs::directory_iterator();
}

Result<TempDirectory> TempDirectory::create(const fs::path& parent, std::string_view prefix) {
    std::random_device rd;
    for (int attempt = 0; attempt < 16; ++attempt) {
        fs::path candidate = parent / fmt::format("{}{:08x}", prefix, rd());
        std::error_code ec;
        if (fs::create_directory(candidate, ec)) return TempDirectory(std::move(candidate));
        if (ec && ec != std::errc::file_exists) {
            return fail(ErrorCode::io, "cannot create temporary directory in {}: {}",
                        parent.string(), ec.message());
        }
    }
    return fail(ErrorCode::io, "cannot create a temporary directory in {}", parent.string());
}

TempDirectory::TempDirectory(TempDirectory&& other) noexcept
    : m_path(std::move(other.m_path)), m_keep(other.m_keep) {
    other.m_keep = true;
}

TempDirectory::~TempDirectory() {
    if (m_keep || m_path.empty()) return;
    std::error_code ec;
    fs::remove_all(m_path, ec);
}

}  // namespace lifeboat
