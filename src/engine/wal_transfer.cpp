#include "engine/wal_transfer.hpp"

#include "repository/repository.hpp"
#include "sources/postgres/wal.hpp"

namespace lifeboat::engine {

Result<repo::PushOutcome> wal_push(const std::string& repository, const fs::path& path) {
    repo::Repository repo = LB_TRY(repo::Repository::open(repository));
    const std::string name = path.filename().string();
    const auto kind = postgres::classify_wal_file(name);
    if (kind == postgres::WalFileKind::unknown) {
        return fail(ErrorCode::usage,
                    "{} is not a WAL segment, .partial, .history or .backup file name", name);
    }
    const std::string content = LB_TRY(read_file(path));
    repo::WalMeta meta;
    meta.name = name;
    meta.pushed = system_clock().now();
    if (kind == postgres::WalFileKind::segment) {
        auto span = postgres::scan_commit_times(content);
        if (!span) return std::unexpected(span.error().context("{}", path.string()));
        meta.first_commit = span->first_commit;
        meta.last_commit = span->last_commit;
        meta.commits = span->commits;
    }
    return repo::push_wal(repo.storage(), std::move(meta), content,
                          repo.config().compression_level);
}

Status wal_fetch(const std::string& repository, const std::string& name,
                 const fs::path& destination) {
    repo::Repository repo = LB_TRY(repo::Repository::open(repository));
    const std::string content = LB_TRY(repo::fetch_wal(repo.storage(), name));
    return write_file_atomic(destination, content, Durability::none);
}

}  // namespace lifeboat::engine
