#include "sources/postgres/data_directory.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "sources/postgres/relation_file.hpp"

namespace lifeboat::postgres {

namespace {

class Scanner {
  public:
    explicit Scanner(DataDirectoryScan& out) : m_out(out) {}

    Status walk(const fs::path& dir, const std::string& relative) {
        std::vector<std::pair<std::string, fs::path>> children;
        std::error_code ec;
        for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::end(it);
             it.increment(ec)) {
            children.emplace_back(it->path().filename().string(), it->path());
        }
        if (ec) {
            // A database directory dropped while we walk is not an error for a base backup.
            if (ec == std::errc::no_such_file_or_directory) return {};
            return fail(ErrorCode::io, "cannot list {}: {}", dir.string(), ec.message());
        }
        std::sort(children.begin(), children.end());
        // Unlogged relations: their _init fork marks which other forks to skip.
        std::set<std::string> init_prefixes;
        for (const auto& [name, path] : children) {
            const auto init = name.find("_init");
            if (init != std::string::npos && init > 0) {
                init_prefixes.insert(join(relative, name.substr(0, init)));
            }
        }
        for (const auto& [name, path] : children) {
            const std::string rel = join(relative, name);
            struct stat st {};
            if (::lstat(path.c_str(), &st) != 0) {
                if (errno == ENOENT) continue;  // removed meanwhile (dropped table, temp file)
                return fail(ErrorCode::io, "cannot stat {}: {}", path.string(), errno_text(errno));
            }
            const bool in_tblspc_root = relative == "pg_tblspc";
            if (S_ISLNK(st.st_mode) && in_tblspc_root) {
                // PostgreSQL names tablespace links by oid and ignores anything else there.
                if (is_oid(name)) LB_CHECK(add_tablespace(name, path, rel));
                continue;
            }
            if (S_ISLNK(st.st_mode)) {
                if (relative.empty() && std::find(std::begin(k_followed_top_level_links),
                                                  std::end(k_followed_top_level_links),
                                                  name) != std::end(k_followed_top_level_links)) {
                    // pg_wal may be a link (initdb -X), configuration files may be links to
                    // /etc: read through them; a restore puts plain directories and files there.
                    if (::stat(path.c_str(), &st) != 0) continue;
                } else {
                    if (is_excluded_from_backup(rel, false)) continue;
                    LB_CHECK(add_link(rel, path, st));
                    continue;
                }
            }
            const bool is_dir = S_ISDIR(st.st_mode);
            if (is_excluded_from_backup(rel, is_dir)) continue;
            if (!is_dir && is_unlogged_non_init_fork(rel, init_prefixes)) continue;
            DataEntry entry;
            entry.path = rel;
            entry.absolute = path;
            entry.mode = st.st_mode & 07777;
            entry.mtime = st.st_mtim.tv_sec;
            entry.mtime_nsec = st.st_mtim.tv_nsec;
            if (is_dir) {
                // A followed link that leads back to a directory already walked (or above it)
                // would walk for ever.
                if (!m_walked.insert({st.st_dev, st.st_ino}).second) continue;
                entry.type = DataEntryType::directory;
                m_out.entries.push_back(entry);
                LB_CHECK(walk_contents(path, rel));
            } else if (S_ISREG(st.st_mode)) {
                entry.type = DataEntryType::file;
                entry.size = static_cast<std::uint64_t>(st.st_size);
                if (auto relation = parse_relation_file(rel)) {
                    entry.is_relation = true;
                    entry.relation_segment = relation->segment;
                }
                m_out.total_bytes += entry.size;
                m_out.entries.push_back(entry);
            }
            // Sockets, fifos and other special files are never part of a backup.
        }
        return {};
    }

    Status walk_root(const fs::path& pgdata) {
        struct stat st {};
        if (::stat(pgdata.c_str(), &st) == 0) m_walked.insert({st.st_dev, st.st_ino});
        return walk(pgdata, "");
    }

  private:
    static bool is_oid(const std::string& name) {
        return !name.empty() && name.size() <= 10 && name.front() != '0' &&
               std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
               std::strtoull(name.c_str(), nullptr, 10) <= 0xffffffffull;
    }

    static std::string join(const std::string& a, const std::string& b) {
        return a.empty() ? b : a + "/" + b;
    }

    // Excluded contents (pg_wal segments, pg_replslot, …) are filtered file by file inside;
    // the directories themselves are kept so the restored cluster has them.
    Status walk_contents(const fs::path& path, const std::string& rel) { return walk(path, rel); }

    Status add_link(const std::string& rel, const fs::path& path, const struct stat& st) {
        std::error_code ec;
        const fs::path target = fs::read_symlink(path, ec);
        if (ec) return fail(ErrorCode::io, "cannot read link {}: {}", path.string(), ec.message());
        DataEntry link;
        link.path = rel;
        link.absolute = path;
        link.type = DataEntryType::symlink;
        link.mode = 0777;
        link.mtime = st.st_mtim.tv_sec;
        link.mtime_nsec = st.st_mtim.tv_nsec;
        link.link_target = target.string();
        m_out.entries.push_back(link);
        return {};
    }

    Status add_tablespace(const std::string& name, const fs::path& path, const std::string& rel) {
        std::error_code ec;
        const fs::path target = fs::read_symlink(path, ec);
        if (ec) return fail(ErrorCode::io, "cannot read link {}: {}", path.string(), ec.message());
        const auto oid = static_cast<std::uint32_t>(std::strtoul(name.c_str(), nullptr, 10));
        m_out.tablespaces.push_back(TablespaceInfo{oid, target.string()});
        DataEntry link;
        link.path = rel;
        link.absolute = path;
        link.type = DataEntryType::tablespace_link;
        link.link_target = target.string();
        m_out.entries.push_back(link);
        return walk(target, rel);
    }

    DataDirectoryScan& m_out;
    std::set<std::pair<dev_t, ino_t>> m_walked;
};

}  // namespace

Result<DataDirectoryScan> scan_data_directory(const fs::path& pgdata) {
    std::error_code ec;
    if (!fs::is_directory(pgdata, ec)) {
        return fail(ErrorCode::usage, "data directory {} does not exist or is not a directory",
                    pgdata.string());
    }
    if (!fs::exists(pgdata / "PG_VERSION", ec)) {
        return fail(ErrorCode::usage, "{} is not a PostgreSQL data directory (no PG_VERSION)",
                    pgdata.string());
    }
    DataDirectoryScan scan;
    Scanner scanner(scan);
    LB_CHECK(scanner.walk_root(pgdata));
    return scan;
}

}  // namespace lifeboat::postgres
