#include "engine/backup.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "engine/context.hpp"
#include "repository/block_writer.hpp"
#include "repository/cluster_identity.hpp"
#include "repository/index.hpp"
#include "repository/lock.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "repository/wal_summary_store.hpp"
#include "source/registry.hpp"
#include "util/parallel.hpp"

namespace lifeboat::engine {

namespace {

Result<std::string> unique_backup_id(const Storage& storage, Timestamp start) {
    const std::string base = format_compact(start);
    const auto existing = LB_TRY(repo::list_backup_ids(storage));
    std::string id = base;
    for (int n = 2; std::find(existing.begin(), existing.end(), id) != existing.end(); ++n) {
        id = fmt::format("{}_{}", base, n);
    }
    return id;
}

// The id chosen at the start is only a proposal: another backup that started in the same second
// may have published it since. The manifest's conditional create (Overwrite::never, which every
// storage backend implements) decides atomically; the loser takes the next free suffix. Returns
// the id the manifest was published under.
Result<std::string> publish_manifest(Storage& storage, const repo::Manifest& manifest) {
    constexpr int k_attempts = 100;
    auto written = repo::write_manifest(storage, manifest);
    if (written || written.error().code != ErrorCode::conflict) {
        if (!written) return std::unexpected(written.error());
        return manifest.id;
    }
    repo::Manifest renamed = manifest;
    for (int attempt = 1;; ++attempt) {
        renamed.id = LB_TRY(unique_backup_id(storage, manifest.start_time));
        written = repo::write_manifest(storage, renamed);
        if (written) return renamed.id;
        if (written.error().code != ErrorCode::conflict || attempt == k_attempts)
            return std::unexpected(written.error());
    }
}

// The driver's content goes into the repository's block writer; the repository lock is checked
// before each chunk.
class BlockSink final : public source::ContentSink {
  public:
    BlockSink(repo::BlockWriter& writer, const repo::BlockIndex& index, const Storage& storage,
              repo::RepositoryLock& lock, std::uint32_t block_size, unsigned workers)
        : m_writer(writer),
          m_index(index),
          m_storage(storage),
          m_lock(lock),
          m_block_size(block_size),
          m_workers(workers) {}

    std::uint32_t block_size() const override { return m_block_size; }
    unsigned workers() const override { return m_workers; }
    Result<repo::BlockId> store(std::string_view bytes, unsigned worker) override {
        return m_writer.store(bytes, worker);
    }
    bool holds(const repo::BlockId& id) const override { return m_index.contains(id); }
    Status keep_going() override { return m_lock.check(); }
    Result<std::string> log_object_summary(const std::string& name) const override {
        return repo::read_wal_summary(m_storage, name);
    }
    Result<std::string> log_object(const std::string& name) const override {
        return repo::fetch_wal(m_storage, name);
    }
    Result<std::string> log_object_head(const std::string& name, std::size_t size) const override {
        std::string head;
        LB_TRY(repo::fetch_wal_to(m_storage, name, [&](std::string_view piece) -> Status {
            if (head.size() < size) head.append(piece.substr(0, size - head.size()));
            return {};
        }));
        return head;
    }
    Result<bool> log_object_archived(const std::string& name) const override {
        auto found = m_storage.stat(repo::wal_key(name));
        if (found) return true;
        if (found.error().code != ErrorCode::not_found) return std::unexpected(found.error());
        return false;
    }

  private:
    repo::BlockWriter& m_writer;
    const repo::BlockIndex& m_index;
    const Storage& m_storage;
    repo::RepositoryLock& m_lock;
    std::uint32_t m_block_size;
    unsigned m_workers;
};

}  // namespace

Result<BackupOutcome> run_backup(repo::Repository& repository, const BackupOptions& options,
                                 const OperationContext& ctx) {
    const auto started = std::chrono::steady_clock::now();
    const source::SourceDriver* driver = LB_TRY(source::driver_for(options.source_kind));
    const std::unique_ptr<source::BaseBackup> session = LB_TRY(
        driver->open_base_backup({.conninfo = options.conninfo,
                                  .data_directory = options.pgdata,
                                  .type = options.type,
                                  .archive_timeout = options.archive_timeout,
                                  .statement_timeout = options.pg_timeout,
                                  .repository_location = repository.location(),
                                  .repository_id = repository.config().repository_id,
                                  .split_table_bytes = options.split_table_bytes,
                                  .verify_unchanged_share = options.verify_unchanged_share}));
    const repo::SourceInfo& source = session->source();
    // Held until the manifest is published: expire must not collect blocks this backup reuses.
    repo::RepositoryLock lock =
        LB_TRY(repo::RepositoryLock::shared(repository.storage(), "backup", options.lock_wait,
                                            report_waiting(ctx.progress), lock_timing(ctx)));
    // One source per repository: refuse to mix clusters.
    // The newest readable manifest: a damaged one is named by list and verify, and must not
    // stop every later backup.
    auto previous_ids = LB_TRY(repo::list_backup_ids(repository.storage()));
    std::optional<repo::Manifest> previous;
    while (!previous_ids.empty() && !previous) {
        auto read = repo::read_manifest(repository.storage(), previous_ids.back());
        previous_ids.pop_back();
        if (read) {
            previous = std::move(*read);
        } else if (read.error().code != ErrorCode::corrupt) {
            return std::unexpected(read.error());
        }
    }
    if (previous && previous->source.kind != source.kind) {
        return fail(ErrorCode::conflict,
                    "repository {} holds backups of a {} source; this one is {}",
                    repository.location(), previous->source.kind, source.kind);
    }
    const std::string holds = LB_TRY(repo::record_cluster_identity(
        repository.storage(),
        previous ? previous->source.system_identifier : source.system_identifier));
    if (holds != source.system_identifier) {
        return fail(ErrorCode::conflict,
                    "repository {} holds backups of another cluster (system identifier {}, "
                    "this server is {})",
                    repository.location(), holds, source.system_identifier);
    }

    LB_CHECK(repository.clean_stale_temporaries());
    // Only whether a block is stored matters here (not where): ids alone, a third of the memory.
    repo::BlockIndex index = LB_TRY(repo::load_block_index(
        repository.storage(), repo::OnDamagedIndex::skip, nullptr, {}, repo::IndexContent::ids));
    BackupOutcome outcome;
    for (const auto& damage : index.skipped) {
        outcome.warnings.push_back(
            fmt::format("{} (the packs it named are read and indexed again; run `lifeboat verify`)",
                        damage.reason));
    }
    std::vector<repo::PackSummary> packs;
    auto adopted = LB_TRY(repo::adopt_unindexed_packs(repository.storage(), index));
    for (auto& w : adopted.warnings)
        outcome.warnings.push_back(std::move(w));
    outcome.adopted_packs = adopted.packs.size();
    packs = std::move(adopted.packs);

    const unsigned jobs = options.jobs ? options.jobs : default_jobs();
    repo::BlockWriter writer(repository, index, jobs);
    BlockSink sink(writer, index, repository.storage(), lock, repository.config().block_size, jobs);
    source::BaseBackupResult copied =
        LB_TRY(session->copy(previous ? &*previous : nullptr, sink, ctx));
    auto written = LB_TRY(writer.finish());
    for (auto& p : written)
        packs.push_back(std::move(p));
    LB_CHECK(ctx.stage("backup:packs"));

    repo::Manifest& manifest = outcome.manifest;
    manifest = std::move(copied.manifest);
    manifest.tags = options.tags;
    manifest.stats.new_blocks = writer.new_blocks();
    manifest.stats.stored_bytes = writer.stored_bytes();
    manifest.id = LB_TRY(unique_backup_id(repository.storage(), manifest.start_time));

    LB_CHECK(lock.check());
    if (!packs.empty())
        manifest.indexes.push_back(LB_TRY(repo::write_index(repository.storage(), packs)));
    LB_CHECK(ctx.stage("backup:index"));
    manifest.stats.duration_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    // The manifest makes the reused blocks referenced: only while no expire could have judged
    // this lock stale and collected them.
    LB_CHECK(lock.check());
    LB_CHECK(ctx.stage("backup:publish"));
    LB_CHECK(lock.confirm());
    LB_CHECK(ctx.stage("backup:publish"));
    manifest.id = LB_TRY(publish_manifest(repository.storage(), manifest));
    for (auto& w : copied.warnings)
        outcome.warnings.push_back(std::move(w));
    outcome.read = std::move(copied.read);
    return outcome;
}

}  // namespace lifeboat::engine
