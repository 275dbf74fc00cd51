#include "storage/posix/posix_storage.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "io/file.hpp"

namespace lifeboat {

namespace {
constexpr std::string_view k_tmp_dir = "tmp";
constexpr unsigned k_directory_mode = 0750;
constexpr unsigned k_file_mode = 0640;

Timestamp to_timestamp(const struct stat& st) {
    return Timestamp{static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000 +
                     st.st_mtim.tv_nsec / 1000};
}
// A repository file that cannot be read or written is a repository failure (exit 5,
// docs/cli.md), not a failure of the local file system outside it (exit 11), which is what the
// file layer reports.
Error as_repository_error(Error error) {
    if (error.code == ErrorCode::io) error.code = ErrorCode::repository;
    return error;
}
Status as_repository_status(Status status) {
    if (status) return status;
    return std::unexpected(as_repository_error(std::move(status).error()));
}

// "Permission denied" alone leaves the operator guessing whose account to change: name the
// owner of what is in the way and the account lifeboat runs as.
Error explained(Error error, const fs::path& path, AccessNeeded needed) {
    error = as_repository_error(std::move(error));
    const std::string problem = permission_problem(path, needed);
    if (problem.empty()) return error;
    error.message += "; " + problem;
    return error;
}

template <typename T>
Result<T> explained(Result<T> result, const fs::path& path, AccessNeeded needed) {
    if (!result) return std::unexpected(explained(std::move(result).error(), path, needed));
    return result;
}

}  // namespace

class PosixUpload final : public Upload {
  public:
    PosixUpload(PosixStorage& storage, File file, std::string key, Overwrite overwrite)
        : m_storage(storage),
          m_file(std::move(file)),
          m_key(std::move(key)),
          m_overwrite(overwrite) {}
    ~PosixUpload() override {
        if (!m_committed) ::unlink(m_file.path().c_str());
    }
    Status append(std::string_view data) override {
        return as_repository_status(m_file.append(data));
    }
    std::uint64_t size() const override { return m_file.appended(); }
    Status commit() override {
        LB_CHECK(as_repository_status(m_file.sync()));
        const fs::path temporary = m_file.path();
        LB_CHECK(as_repository_status(m_file.close()));
        LB_CHECK(m_storage.publish(temporary, m_key, m_overwrite));
        m_committed = true;
        return {};
    }

  private:
    PosixStorage& m_storage;
    File m_file;
    std::string m_key;
    Overwrite m_overwrite;
    bool m_committed = false;
};

PosixStorage::PosixStorage(fs::path root) : m_root(std::move(root)) {}

StorageFeatures PosixStorage::features() const {
    return {.conditional_create = ConditionalCreate::atomic,
            .ranged_reads = RangedReads::native,
            .listing_cost = ListingCost::cheap,
            .local_path = m_root};
}

Result<fs::path> PosixStorage::path_of(const std::string& key) const {
    if (key.empty() || key.front() == '/' || key.find("..") != std::string::npos) {
        return fail(ErrorCode::internal, "invalid storage key '{}'", key);
    }
    return m_root / key;
}

fs::path PosixStorage::new_temporary_path() {
    return m_root / k_tmp_dir /
           fmt::format("{}-{}-{}", ::getpid(), m_counter.fetch_add(1),
                       std::chrono::steady_clock::now().time_since_epoch().count());
}

// The path of a published object: a regular file. Anything else at that name (nothing, a
// folder, a path through a file) is "not found", as the Storage contract says.
Result<fs::path> PosixStorage::object_path(const std::string& key, struct stat& st) const {
    const fs::path path = LB_TRY(path_of(key));
    if (::stat(path.c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR)
            return fail(ErrorCode::not_found, "{} does not exist", key);
        return std::unexpected(
            explained(Error{ErrorCode::repository,
                            fmt::format("cannot stat {}: {}", path.string(), errno_text(err))},
                      path, AccessNeeded::read));
    }
    if (!S_ISREG(st.st_mode)) return fail(ErrorCode::not_found, "{} is not an object", key);
    return path;
}

Result<std::string> PosixStorage::read(const std::string& key) const {
    struct stat st {};
    const fs::path path = LB_TRY(object_path(key, st));
    auto data = read_file(path);
    if (!data) return std::unexpected(explained(data.error(), path, AccessNeeded::read));
    return std::move(*data);
}

Result<std::string> PosixStorage::read_range(const std::string& key, std::uint64_t offset,
                                             std::size_t length) const {
    struct stat st {};
    const fs::path path = LB_TRY(object_path(key, st));
    File file = LB_TRY(explained(File::open(path, OpenMode::read), path, AccessNeeded::read));
    std::string data = LB_TRY(file.read_range(offset, length));
    if (data.size() != length) {
        return fail(ErrorCode::corrupt, "{}: object ends before byte {}", key, offset + length);
    }
    return data;
}

Result<ObjectInfo> PosixStorage::stat(const std::string& key) const {
    struct stat st {};
    LB_CHECK(object_path(key, st));
    return ObjectInfo{key, static_cast<std::uint64_t>(st.st_size), to_timestamp(st)};
}

Result<std::vector<ObjectInfo>> PosixStorage::list(const std::string& prefix) const {
    std::vector<ObjectInfo> out;
    if (!prefix.empty() && (prefix.front() == '/' || prefix.find("..") != std::string::npos)) {
        return fail(ErrorCode::internal, "invalid storage prefix '{}'", prefix);
    }
    const fs::path base = m_root / prefix;
    const fs::path temporaries = m_root / k_tmp_dir;
    std::error_code ec;
    if (!fs::exists(base, ec)) return out;
    for (auto it = fs::recursive_directory_iterator(base, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        if (it->path() == temporaries) {
            it.disable_recursion_pending();  // uploads in progress are not objects
            continue;
        }
        struct stat st {};
        if (::stat(it->path().c_str(), &st) != 0) continue;  // removed meanwhile
        if (!S_ISREG(st.st_mode)) continue;
        std::error_code relative_error;
        const fs::path relative = fs::relative(it->path(), m_root, relative_error);
        if (relative_error) continue;  // removed meanwhile
        out.push_back(ObjectInfo{relative.generic_string(), static_cast<std::uint64_t>(st.st_size),
                                 to_timestamp(st)});
    }
    if (ec) {
        return std::unexpected(
            explained(Error{ErrorCode::repository,
                            fmt::format("cannot list {}: {}", base.string(), ec.message())},
                      base, AccessNeeded::read));
    }
    return out;
}

Status PosixStorage::publish(const fs::path& temporary, const std::string& key,
                             Overwrite overwrite) {
    const fs::path target = LB_TRY(path_of(key));
    LB_CHECK(explained(ensure_directory(target.parent_path(), k_directory_mode),
                       target.parent_path(), AccessNeeded::write));
    if (overwrite == Overwrite::allow) {
        if (::rename(temporary.c_str(), target.c_str()) != 0) {
            const int err = errno;
            ::unlink(temporary.c_str());
            return std::unexpected(explained(
                Error{ErrorCode::repository,
                      fmt::format("cannot publish {}: {}", target.string(), errno_text(err))},
                target, AccessNeeded::write));
        }
    } else {
        // link() fails with EEXIST instead of replacing: an atomic "create if absent".
        const int rc = ::link(temporary.c_str(), target.c_str());
        const int err = errno;
        ::unlink(temporary.c_str());
        if (rc != 0) {
            if (err == EEXIST) return fail(ErrorCode::conflict, "{} already exists", key);
            return std::unexpected(explained(
                Error{ErrorCode::repository,
                      fmt::format("cannot publish {}: {}", target.string(), errno_text(err))},
                target, AccessNeeded::write));
        }
    }
    return as_repository_status(fsync_directory(target.parent_path()));
}

Status PosixStorage::write(const std::string& key, std::string_view data, Overwrite overwrite) {
    auto upload = LB_TRY(start_upload(key, overwrite));
    LB_CHECK(upload->append(data));
    return upload->commit();
}

Result<std::unique_ptr<Upload>> PosixStorage::start_upload(const std::string& key,
                                                           Overwrite overwrite) {
    LB_CHECK(path_of(key));
    LB_CHECK(explained(ensure_directory(m_root / k_tmp_dir, k_directory_mode), m_root / k_tmp_dir,
                       AccessNeeded::write));
    const fs::path temporary = new_temporary_path();
    File file = LB_TRY(explained(File::open(temporary, OpenMode::create_new, k_file_mode),
                                 temporary, AccessNeeded::write));
    // The umask may have taken bits away or (umask 0) left others' read in; set it exactly.
    if (::chmod(temporary.c_str(), k_file_mode) != 0) {
        return fail(ErrorCode::repository, "cannot set the mode of {}: {}", temporary.string(),
                    errno_text(errno));
    }
    return std::unique_ptr<Upload>(new PosixUpload(*this, std::move(file), key, overwrite));
}

Status PosixStorage::remove_if_exists(const std::string& key) {
    const fs::path path = LB_TRY(path_of(key));
    if (::unlink(path.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR && errno != EISDIR) {
        return std::unexpected(
            explained(Error{ErrorCode::repository,
                            fmt::format("cannot remove {}: {}", path.string(), errno_text(errno))},
                      path, AccessNeeded::write));
    }
    return {};
}

Result<std::vector<std::string>> PosixStorage::loose_permissions() const {
    std::vector<std::string> out;
    std::error_code ec;
    auto check = [&](const fs::path& path) {
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) return;
        const unsigned mode = st.st_mode & 07777;
        const unsigned allowed = S_ISDIR(st.st_mode) ? k_directory_mode : k_file_mode;
        if ((mode & ~allowed) == 0) return;
        std::error_code relative_error;
        const fs::path relative =
            path == m_root ? fs::path(".") : fs::relative(path, m_root, relative_error);
        out.push_back(fmt::format("{} is {:04o} (expected at most {:04o})",
                                  relative.generic_string(), mode, allowed));
    };
    check(m_root);
    for (auto it = fs::recursive_directory_iterator(m_root, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        check(it->path());
    }
    if (ec) {
        return fail(ErrorCode::repository, "cannot list {}: {}", m_root.string(), ec.message());
    }
    return out;
}

Status PosixStorage::clean_stale_temporaries() {
    const fs::path dir = m_root / k_tmp_dir;
    std::error_code ec;
    if (!fs::exists(dir, ec)) return {};
    const auto now = std::chrono::system_clock::now();
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        const auto dash = name.find('-');
        bool stale = false;
        if (dash != std::string::npos) {
            const long pid = std::strtol(name.substr(0, dash).c_str(), nullptr, 10);
            stale = pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
        }
        struct stat st {};
        if (!stale && ::stat(it->path().c_str(), &st) == 0) {
            const auto age = now - std::chrono::system_clock::from_time_t(st.st_mtim.tv_sec);
            stale = age > std::chrono::hours(24);
        }
        if (stale) ::unlink(it->path().c_str());
    }
    return {};
}

}  // namespace lifeboat
