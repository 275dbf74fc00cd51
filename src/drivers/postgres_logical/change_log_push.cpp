#include "drivers/postgres_logical/change_log_push.hpp"

#include "drivers/postgres_logical/log_archive.hpp"
#include "drivers/postgres_logical/pgoutput_decoder.hpp"

namespace lifeboat::postgres_logical {

Result<repo::PushOutcome> push_change_log_object(repo::Repository& repository,
                                                 const std::string& name,
                                                 const std::string& content,
                                                 const OperationContext& ctx) {
    LB_CHECK(LogicalLogArchive().check_object(repository.storage(), name, content));
    // Decoded alone, an object yields the transactions it commits completely; one streamed
    // across objects commits in the object holding its Stream Commit, which is what counts.
    PgoutputDecoder decoder;
    LB_CHECK(decoder.add_object(content, name));
    repo::WalMeta meta;
    meta.name = name;
    meta.pushed = ctx.now();
    for (const Transaction& t : decoder.take_committed()) {
        if (!meta.first_commit || t.commit_time < *meta.first_commit)
            meta.first_commit = t.commit_time;
        if (!meta.last_commit || t.commit_time > *meta.last_commit)
            meta.last_commit = t.commit_time;
        ++meta.commits;
    }
    return repo::push_wal(repository.storage(), std::move(meta), content,
                          repository.config().compression_level, ctx);
}

}  // namespace lifeboat::postgres_logical
