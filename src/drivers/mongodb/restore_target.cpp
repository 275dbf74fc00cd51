#include "drivers/mongodb/restore_target.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>

#include "drivers/mongodb/catalog.hpp"
#include "drivers/mongodb/change_apply.hpp"
#include "drivers/mongodb/change_log.hpp"
#include "drivers/mongodb/log_archive.hpp"
#include "drivers/mongodb/restore_record.hpp"
#include "repository/wal_archive.hpp"

namespace lifeboat::mongodb_driver {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

bool selected(const repo::MongoCollection& c, const source::RestoreRequest& request) {
    return matches_only(c, request.only_table.value_or(""));
}

// Inserts the documents of the staged file `path` into `c`, in ordered batches.
Status load_documents(const mongodb::Client& client, const repo::MongoCollection& c,
                      const fs::path& path, const OperationContext& ctx) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(ErrorCode::io, "cannot read the staged documents {}", path.string());
    DocumentSplitter splitter;
    std::vector<std::string> batch;
    std::size_t batch_bytes = 0;
    std::uint64_t inserted = 0;
    auto flush = [&]() -> Status {
        if (batch.empty()) return {};
        LB_CHECK(ctx.check());
        std::vector<std::string_view> views(batch.begin(), batch.end());
        LB_CHECK(client.insert_many(c.database, c.name, views));
        inserted += batch.size();
        batch.clear();
        batch_bytes = 0;
        return {};
    };
    std::string buffer(1 << 20, '\0');
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        const auto got = static_cast<std::size_t>(in.gcount());
        if (got == 0) break;
        LB_CHECK(
            splitter.add(std::string_view(buffer.data(), got), [&](std::string_view doc) -> Status {
                if (batch_bytes + doc.size() > k_insert_batch_bytes ||
                    batch.size() >= k_insert_batch_documents)
                    LB_CHECK(flush());
                batch.emplace_back(doc);
                batch_bytes += doc.size();
                return {};
            }));
    }
    if (in.bad())
        return fail(ErrorCode::io, "reading the staged documents {} failed", path.string());
    LB_CHECK(splitter.finish());
    LB_CHECK(flush());
    if (inserted != c.documents) {
        return fail(ErrorCode::corrupt,
                    "{}.{}: the backup records {} documents, its entry holds {}", c.database,
                    c.name, c.documents, inserted);
    }
    return {};
}

// createIndexes with every recorded specification but the _id index (which create made).
Status create_indexes(const mongodb::Client& client, const repo::MongoCollection& c) {
    const auto recorded = LB_TRY(mongodb::Bson::from_json(c.indexes_json));
    bson_iter_t it, list;
    if (!bson_iter_init_find(&it, recorded.get(), "indexes") || !bson_iter_recurse(&it, &list))
        return fail(ErrorCode::corrupt, "{}.{}: the recorded indexes are no list", c.database,
                    c.name);
    mongodb::Bson command;
    BSON_APPEND_UTF8(command.get(), "createIndexes", c.name.c_str());
    bson_t specs;
    BSON_APPEND_ARRAY_BEGIN(command.get(), "indexes", &specs);
    std::size_t count = 0;
    while (bson_iter_next(&list)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&list)) continue;
        std::uint32_t length = 0;
        const std::uint8_t* data = nullptr;
        bson_iter_document(&list, &length, &data);
        bson_t spec;
        if (!bson_init_static(&spec, data, length)) continue;
        bson_iter_t name;
        if (bson_iter_init_find(&name, &spec, "name") && BSON_ITER_HOLDS_UTF8(&name) &&
            std::string_view(bson_iter_utf8(&name, nullptr)) == "_id_")
            continue;
        // "v" and "ns" describe the source's storage, not the index: the target picks its own.
        bson_t copy = BSON_INITIALIZER;
        bson_copy_to_excluding_noinit(&spec, &copy, "v", "ns", nullptr);
        const std::string key = std::to_string(count++);
        BSON_APPEND_DOCUMENT(&specs, key.c_str(), &copy);
        bson_destroy(&copy);
    }
    bson_append_array_end(command.get(), &specs);
    if (count == 0) return {};
    auto done = client.command(c.database, command);
    if (!done) return std::unexpected(done.error().context("indexes of {}.{}", c.database, c.name));
    return {};
}

}  // namespace

Result<std::map<std::uint32_t, fs::path>> MongoRestoreTarget::check_and_place(
    const repo::Manifest& manifest) {
    if (!m_request.target_conninfo) {
        return fail(ErrorCode::usage,
                    "a mongodb backup restores into a running server: give --target-mongo URI");
    }
    m_manifest = &manifest;
    const auto& all = manifest.mongodb.collections;
    if (m_request.only_table && std::none_of(all.begin(), all.end(), [&](const auto& c) {
            return selected(c, m_request);
        })) {
        return fail(ErrorCode::not_found,
                    "backup {} holds no database or collection {} (--only takes DB or DB.COLL)",
                    manifest.id, *m_request.only_table);
    }
    // Loading into a server that already holds data would mix two sources' documents.
    const auto client = LB_TRY(mongodb::Client::connect(*m_request.target_conninfo, {}));
    std::set<std::string> databases;
    for (const auto& c : all)
        if (selected(c, m_request)) databases.insert(c.database);
    for (const auto& db : databases) {
        for (const auto& info : LB_TRY(client.list_collections(db))) {
            bson_iter_t it;
            if (!bson_iter_init_find(&it, info.get(), "name") || !BSON_ITER_HOLDS_UTF8(&it))
                continue;
            const std::string name = bson_iter_utf8(&it, nullptr);
            if (is_system_collection(name)) continue;
            return fail(ErrorCode::conflict,
                        "refusing to restore into --target-mongo {}: its database {} is not "
                        "empty (collection {}); give a server without the backup's databases "
                        "(nothing was written)",
                        mongodb::redact_uri(*m_request.target_conninfo), db, name);
        }
    }
    return std::map<std::uint32_t, fs::path>{};
}

Result<std::vector<std::string>> MongoRestoreTarget::configure(const source::RecoveryPlan& plan) {
    m_plan = plan;
    return std::vector<std::string>();
}

Result<RestoreRecord> MongoRestoreTarget::apply_events(const mongodb::Client& client,
                                                       const OperationContext& ctx) {
    RestoreRecordBuilder applied_record(*m_manifest);
    if (m_plan.consistent || !m_plan.log_storage) return applied_record.finish(m_plan.target);
    const auto start = backup_start_position(*m_manifest);
    if (!start) return applied_record.finish(m_plan.target);
    const Storage& storage = *m_plan.log_storage;
    const ChainRun run = follow_chain(LB_TRY(repo::list_wal_names(storage)), *start);
    std::optional<NamespaceFilter> only;
    if (m_request.only_table) {
        const std::string& part = *m_request.only_table;
        const auto dot = part.find('.');
        only = NamespaceFilter{part.substr(0, dot),
                               dot == std::string::npos ? std::string() : part.substr(dot + 1)};
    }
    // The dump ended where the stream stood at its stop token: events up to there may already
    // be in the documents loaded (a token of another form: the backup's stop time).
    const std::uint64_t dump_end =
        resume_token_position(m_manifest->mongodb.resume_token_stop)
            .value_or(static_cast<std::uint64_t>(m_manifest->stop_time.micros / 1000000) << 32 |
                      0xffffffffu);
    ChangeApplier applier(client, std::move(only),
                          {.replay_through = ClusterTime{static_cast<std::uint32_t>(dump_end >> 32),
                                                         static_cast<std::uint32_t>(dump_end)}});
    bool past_target = false;
    for (const auto& name : run.objects) {
        if (past_target) break;
        if (parse_change_log_object_name(name)->kind == SpanKind::gap) break;
        LB_CHECK(ctx.check());
        ctx.report({"applying change events: " + name, applier.counts().events, 0});
        const std::string content = LB_TRY(repo::fetch_wal(storage, name));
        for (const auto& record : LB_TRY(read_change_log(content, name))) {
            if (record.kind != ChangeRecordKind::event) continue;
            // An object covering the start point holds events the dump began after.
            if (record.cluster_time < *start) continue;
            if (m_plan.target && event_time(record.cluster_time, record.wall_ms) > *m_plan.target) {
                past_target = true;
                break;
            }
            const auto event = LB_TRY(mongodb::Bson::from_bytes(record.payload));
            if (auto applied = applier.apply(event); !applied)
                return std::unexpected(applied.error().context("{}", name));
            // What validate expects afterwards follows every event applied, replays included:
            // the dump may or may not reflect them, the events' end state is what counts.
            auto change = summarize_change(event);
            if (!change) return std::unexpected(change.error().context("{}", name));
            applied_record.observe(*change);
        }
    }
    LB_CHECK(applier.finish());
    return applied_record.finish(m_plan.target);
}

Result<source::StartedInstance> MongoRestoreTarget::start_and_await(int,
                                                                    const OperationContext& ctx) {
    const auto started = Clock::now();
    const auto client = LB_TRY(mongodb::Client::connect(*m_request.target_conninfo, {}));
    m_started = true;
    std::vector<const repo::MongoCollection*> chosen;
    for (const auto& c : m_manifest->mongodb.collections)
        if (selected(c, m_request)) chosen.push_back(&c);
    std::uint64_t done = 0;
    for (const auto* c : chosen) {
        if (c->type != "collection") continue;
        ctx.report({"loading collections", done, chosen.size(), ProgressUnit::items});
        const auto options = LB_TRY(mongodb::Bson::from_json(c->options_json));
        if (auto created = client.create_collection(c->database, c->name, options); !created)
            return std::unexpected(created.error().context("creating {}.{}", c->database, c->name));
        LB_CHECK(load_documents(client, *c, m_request.target_dir / c->path, ctx));
        ++done;
    }
    const double loaded = seconds_since(started);
    // Indexes after the events: each document is indexed once, in its final state.
    const RestoreRecord record = LB_TRY(apply_events(client, ctx));
    const std::uint64_t applied = record.events;
    const double replayed = seconds_since(started);
    // validate (drill, validate --target-dir) checks the server against what the events left.
    LB_CHECK(ensure_directory(m_request.target_dir));
    LB_CHECK(write_file_atomic(m_request.target_dir / k_restore_record_file,
                               restore_record_json(record)));
    for (const auto* c : chosen)
        if (c->type == "collection") LB_CHECK(create_indexes(client, *c));
    for (const auto* c : chosen) {
        if (c->type != "view") continue;
        const auto options = LB_TRY(mongodb::Bson::from_json(c->options_json));
        if (auto created = client.create_collection(c->database, c->name, options); !created)
            return std::unexpected(
                created.error().context("creating view {}.{}", c->database, c->name));
    }
    source::StartedInstance out;
    out.replay_seconds = replayed;
    out.ready_seconds = seconds_since(started) - replayed;
    // Loading the documents is this kind's start-up; applying the events its redo.
    out.phases.startup_seconds = loaded;
    out.phases.redo_seconds = replayed - loaded;
    out.phases.end_of_recovery =
        m_plan.consistent
            ? "documents loaded, indexes built"
            : fmt::format("documents loaded, {} change event(s) applied, indexes built", applied);
    out.phases.events_applied = applied;
    out.conninfo = mongodb::redact_uri(*m_request.target_conninfo);
    return out;
}

}  // namespace lifeboat::mongodb_driver
