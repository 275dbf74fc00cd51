#include "drivers/mongodb/base_backup.hpp"

#include <atomic>
#include <charconv>
#include <mutex>

#include "codec/hash.hpp"
#include "drivers/mongodb/catalog.hpp"
#include "drivers/mongodb/id_ranges.hpp"
#include "drivers/mongodb/preflight.hpp"
#include "sources/mongodb/change_stream.hpp"
#include "util/parallel.hpp"

namespace lifeboat::mongodb_driver {

namespace {

std::string string_field(const bson_t& doc, const char* name) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, &doc, name) && BSON_ITER_HOLDS_UTF8(&it))
        return bson_iter_utf8(&it, nullptr);
    return {};
}

// The subdocument `name` of `doc` as canonical extended JSON ("{}" when absent).
std::string subdocument_json(const bson_t& doc, const char* name) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, &doc, name) || !BSON_ITER_HOLDS_DOCUMENT(&it)) return "{ }";
    std::uint32_t length = 0;
    const std::uint8_t* data = nullptr;
    bson_iter_document(&it, &length, &data);
    bson_t sub;
    if (!bson_init_static(&sub, data, length)) return "{ }";
    return mongodb::Bson::copy_of(sub).canonical_json();
}

// 70003 for "7.0.3", as SourceInfo::server_version holds PostgreSQL's.
int version_number(std::string_view text) {
    int parts[3] = {0, 0, 0};
    std::size_t at = 0;
    for (int i = 0; i < 3 && at < text.size(); ++i) {
        auto [end, ec] = std::from_chars(text.data() + at, text.data() + text.size(), parts[i]);
        if (ec != std::errc()) break;
        at = static_cast<std::size_t>(end - text.data()) + 1;
    }
    return parts[0] * 10000 + parts[1] * 100 + parts[2];
}

// The hosts of `uri` ("h1:p1,h2:p2"): a source's identity when it is no replica set.
std::string uri_hosts(std::string_view uri) {
    auto begin = uri.find("://");
    begin = begin == std::string_view::npos ? 0 : begin + 3;
    if (const auto at = uri.find('@', begin); at != std::string_view::npos) begin = at + 1;
    const auto end = uri.find_first_of("/?", begin);
    return std::string(uri.substr(begin, end == std::string_view::npos ? end : end - begin));
}

// A repository records its source's identity as decimal digits (repository/cluster_identity.hpp,
// PostgreSQL's system identifier): a mongodb source's is the first 8 bytes of the SHA-256 of
// "replica-set:NAME" (or "hosts:HOST:PORT,..." for a server that is no replica set), as a
// decimal number.
std::string identity_number(std::string_view identity) {
    const Digest d = sha256(identity);
    std::uint64_t value = 0;
    for (int i = 0; i < 8; ++i)
        value = (value << 8) | d[static_cast<std::size_t>(i)];
    return std::to_string(value);
}

// One range of one collection: what a worker dumps, and what it found there.
struct DumpPart {
    std::size_t collection = 0;        // index in the collections listed
    mongodb::Bson filter;              // the range (id_ranges.hpp); {} for a whole collection
    std::uint64_t first_position = 0;  // planned position of its first document
    std::uint64_t expected = 0;        // the collection's count when planned (for sampling)
    std::vector<repo::BlockId> blocks;
    std::uint64_t bytes = 0;
    std::uint64_t documents = 0;
    std::vector<repo::MongoSample> samples;
};

// collStats' `size` (uncompressed data bytes), 0 when the server does not say: the document
// count alone then decides the split.
std::uint64_t data_bytes(const mongodb::Client& client, const repo::MongoCollection& c) {
    mongodb::Bson command;
    BSON_APPEND_UTF8(command.get(), "collStats", c.name.c_str());
    const auto reply = client.command(c.database, command);
    bson_iter_t it;
    if (!reply || !bson_iter_init_find(&it, reply->get(), "size") || !BSON_ITER_HOLDS_NUMBER(&it))
        return 0;
    return static_cast<std::uint64_t>(std::max<std::int64_t>(0, bson_iter_as_int64(&it)));
}

class MongoBaseBackup final : public source::BaseBackup {
  public:
    MongoBaseBackup(source::BaseBackupRequest request, mongodb::Client client,
                    PreflightReport preflight, repo::SourceInfo source)
        : m_request(std::move(request)),
          m_client(std::move(client)),
          m_preflight(std::move(preflight)),
          m_source(std::move(source)) {}

    const repo::SourceInfo& source() const override { return m_source; }

    Result<source::BaseBackupResult> copy(const repo::Manifest* previous, source::ContentSink& sink,
                                          const OperationContext& ctx) override;

  private:
    Result<std::vector<repo::MongoCollection>> list_everything() const;
    Result<std::vector<DumpPart>> plan(const repo::MongoCollection& collection, std::size_t index,
                                       const mongodb::Client& client) const;
    Status dump(const repo::MongoCollection& collection, DumpPart& part,
                const mongodb::Client& client, source::ContentSink& sink, unsigned worker) const;

    source::BaseBackupRequest m_request;
    mongodb::Client m_client;
    PreflightReport m_preflight;
    repo::SourceInfo m_source;
};

Result<std::vector<repo::MongoCollection>> MongoBaseBackup::list_everything() const {
    std::vector<repo::MongoCollection> out;
    for (const auto& db : LB_TRY(m_client.database_names())) {
        if (is_system_database(db)) continue;
        for (const auto& info : LB_TRY(m_client.list_collections(db))) {
            repo::MongoCollection c;
            c.database = db;
            c.name = string_field(*info.get(), "name");
            if (c.name.empty() || is_system_collection(c.name)) continue;
            const std::string type = string_field(*info.get(), "type");
            c.type = type == "view" ? "view" : "collection";
            c.options_json = subdocument_json(*info.get(), "options");
            if (c.type == "collection") {
                c.path = entry_path(db, c.name);
                mongodb::Bson indexes;
                bson_t list;
                BSON_APPEND_ARRAY_BEGIN(indexes.get(), "indexes", &list);
                std::size_t i = 0;
                for (const auto& spec : LB_TRY(m_client.list_indexes(db, c.name))) {
                    const std::string key = std::to_string(i++);
                    BSON_APPEND_DOCUMENT(&list, key.c_str(), spec.get());
                }
                bson_append_array_end(indexes.get(), &list);
                c.indexes_json = indexes.canonical_json();
            } else {
                c.indexes_json = R"({ "indexes" : [ ] })";
            }
            out.push_back(std::move(c));
        }
    }
    return out;
}

Result<std::vector<DumpPart>> MongoBaseBackup::plan(const repo::MongoCollection& collection,
                                                    std::size_t index,
                                                    const mongodb::Client& client) const {
    const std::uint64_t expected =
        static_cast<std::uint64_t>(LB_TRY(client.count(collection.database, collection.name)));
    const std::uint64_t ranges =
        range_count(expected, data_bytes(client, collection),
                    RangeThresholds{.split_bytes = m_request.split_table_bytes});
    // A split point is one sorted find of _id alone, from the previous point on (so finding all
    // of them walks the _id index once, not once per point).
    auto next = [&](const mongodb::Bson* after,
                    std::uint64_t skip) -> Result<std::optional<mongodb::Bson>> {
        mongodb::Bson filter;
        if (after) {
            bson_iter_t it;
            bson_t id;
            BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "_id", &id);
            if (bson_iter_init_find(&it, after->get(), "_id"))
                bson_append_iter(&id, "$gte", 4, &it);
            bson_append_document_end(filter.get(), &id);
        }
        mongodb::Bson options = LB_TRY(mongodb::Bson::from_json(
            R"({"sort": {"_id": 1}, "projection": {"_id": 1}, "limit": 1})"));
        BSON_APPEND_INT64(options.get(), "skip", static_cast<std::int64_t>(skip));
        std::optional<mongodb::Bson> found;
        LB_CHECK(client.find(collection.database, collection.name, filter, options,
                             [&](mongodb::DocumentRef ref) -> Status {
                                 found = mongodb::Bson::copy_of(*ref.doc);
                                 return {};
                             }));
        return found;
    };
    IdRangePlan planned = LB_TRY(plan_id_ranges(ranges, expected, next));
    std::vector<DumpPart> parts(planned.filters.size());
    for (std::size_t i = 0; i < parts.size(); ++i) {
        parts[i].collection = index;
        parts[i].filter = std::move(planned.filters[i]);
        parts[i].first_position = i * planned.stride;
        parts[i].expected = expected;
    }
    return parts;
}

Status MongoBaseBackup::dump(const repo::MongoCollection& collection, DumpPart& part,
                             const mongodb::Client& client, source::ContentSink& sink,
                             unsigned worker) const {
    const auto options = LB_TRY(mongodb::Bson::from_json(R"({"sort": {"_id": 1}})"));
    std::string block;
    const std::size_t block_size = sink.block_size();
    auto flush = [&]() -> Status {
        if (block.empty()) return {};
        LB_CHECK(sink.keep_going());
        part.blocks.push_back(LB_TRY(sink.store(block, worker)));
        block.clear();
        return {};
    };
    LB_CHECK(client.find(
        collection.database, collection.name, part.filter, options,
        [&](mongodb::DocumentRef ref) -> Status {
            const bson_t* doc = ref.doc;
            if (!block.empty() && block.size() + doc->len > block_size) LB_CHECK(flush());
            block.append(reinterpret_cast<const char*>(bson_get_data(doc)), doc->len);
            part.bytes += doc->len;
            if (is_sampled(part.first_position + part.documents, part.expected)) {
                std::string id = LB_TRY(id_filter_json(*doc));
                part.samples.push_back({.id_json = std::move(id), .sha256 = document_hash(*doc)});
            }
            ++part.documents;
            return {};
        }));
    return flush();
}

Result<source::BaseBackupResult> MongoBaseBackup::copy(const repo::Manifest* previous,
                                                       source::ContentSink& sink,
                                                       const OperationContext& ctx) {
    (void)previous;  // unchanged blocks are found by their ids (ContentSink deduplicates)
    source::BaseBackupResult result;
    result.manifest.source = m_source;
    result.manifest.start_time = ctx.now();
    for (const auto& p : m_preflight.problems)
        result.warnings.push_back(fmt::format("mongodb: {}", p));
    if (!m_preflight.change_streams) {
        result.warnings.push_back(
            "mongodb: no change stream: each collection is copied as it was when read, not all at "
            "one moment, and the backup restores to itself only");
    }
    // Where the change stream stands before the dump: capture replays from here, so events
    // during the dump are applied again (idempotently, by _id) at restore.
    auto position = [&](std::string_view which) -> std::string {
        if (!m_preflight.change_streams) return {};
        auto token = mongodb::current_resume_token(m_client);
        if (token) return *token;
        result.warnings.push_back(fmt::format("mongodb: no change-stream position at the {}: {}",
                                              which, token.error().message));
        return {};
    };
    result.manifest.mongodb.resume_token_start = position("start");
    LB_CHECK(ctx.stage("backup:files"));
    std::vector<repo::MongoCollection> collections = LB_TRY(list_everything());
    const unsigned workers = std::max(1u, sink.workers());
    std::vector<std::optional<mongodb::Client>> clients(workers);
    std::mutex connect_mutex;
    auto worker_client = [&](unsigned worker) -> Result<const mongodb::Client*> {
        if (!clients[worker]) {
            std::lock_guard lock(connect_mutex);
            clients[worker] = LB_TRY(mongodb::Client::connect(m_request.conninfo, {}));
        }
        return &*clients[worker];
    };
    auto in_collection = [&](const Error& error, std::size_t i) {
        const auto& c = collections[i];
        return std::unexpected(error.context("{}.{}", c.database, c.name));
    };
    // First the ranges of every collection (a count, collStats and the split points), then
    // every range on its own worker, so that one large collection keeps all workers busy.
    std::vector<std::vector<DumpPart>> planned(collections.size());
    LB_CHECK(parallel_for(
        collections.size(), workers,
        [&](std::size_t i, unsigned worker) -> Status {
            if (collections[i].type != "collection") return {};
            const mongodb::Client* client = LB_TRY(worker_client(worker));
            auto parts = plan(collections[i], i, *client);
            if (!parts) return in_collection(parts.error(), i);
            planned[i] = std::move(*parts);
            return {};
        },
        ctx.cancellation.get()));
    std::vector<DumpPart*> work;
    for (auto& parts : planned)
        for (auto& part : parts)
            work.push_back(&part);
    LB_CHECK(parallel_for(
        work.size(), workers,
        [&](std::size_t w, unsigned worker) -> Status {
            DumpPart& part = *work[w];
            const mongodb::Client* client = LB_TRY(worker_client(worker));
            auto dumped = dump(collections[part.collection], part, *client, sink, worker);
            if (!dumped) return in_collection(dumped.error(), part.collection);
            return {};
        },
        ctx.cancellation.get()));
    // One entry per collection, its ranges' blocks one after another: the entry is what an
    // unsplit dump would hold, so restore and validate do not know about ranges.
    for (std::size_t i = 0; i < collections.size(); ++i) {
        auto& c = collections[i];
        if (c.type != "collection") continue;
        repo::ManifestEntry entry;
        entry.path = c.path;
        entry.type = repo::EntryType::file;
        entry.mode = 0600;
        entry.mtime = result.manifest.start_time.micros / 1000000;
        c.documents = 0;
        for (auto& part : planned[i]) {
            entry.blocks.insert(entry.blocks.end(), part.blocks.begin(), part.blocks.end());
            entry.size += part.bytes;
            c.documents += part.documents;
            for (auto& s : part.samples)
                if (c.samples.size() < k_samples_per_collection) c.samples.push_back(std::move(s));
        }
        c.ranges = std::max<std::uint64_t>(1, planned[i].size());
        result.manifest.stats.files += 1;
        result.manifest.stats.data_bytes += entry.size;
        result.manifest.stats.read_bytes += entry.size;
        result.read.read_blocks += entry.blocks.size();
        result.manifest.entries.push_back(std::move(entry));
    }
    result.manifest.mongodb.collections = std::move(collections);
    result.manifest.mongodb.resume_token_stop = position("end");
    result.manifest.stop_time = ctx.now();
    return result;
}

}  // namespace

Result<std::unique_ptr<source::BaseBackup>> open_base_backup(
    const source::BaseBackupRequest& request) {
    auto client = LB_TRY(mongodb::Client::connect(request.conninfo, {}));
    auto report = LB_TRY(preflight(client));
    repo::SourceInfo source;
    source.kind = std::string(repo::k_kind_mongodb);
    source.system_identifier =
        identity_number(report.replica_set.empty() ? "hosts:" + uri_hosts(request.conninfo)
                                                   : "replica-set:" + report.replica_set);
    source.server_version = version_number(report.server_version);
    return std::unique_ptr<source::BaseBackup>(std::make_unique<MongoBaseBackup>(
        request, std::move(client), std::move(report), std::move(source)));
}

}  // namespace lifeboat::mongodb_driver
