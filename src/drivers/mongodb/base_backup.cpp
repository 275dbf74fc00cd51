#include "drivers/mongodb/base_backup.hpp"

#include <atomic>
#include <charconv>
#include <mutex>

#include "codec/hash.hpp"
#include "drivers/mongodb/catalog.hpp"
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
    Status dump(repo::MongoCollection& collection, repo::ManifestEntry& entry,
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

Status MongoBaseBackup::dump(repo::MongoCollection& collection, repo::ManifestEntry& entry,
                             const mongodb::Client& client, source::ContentSink& sink,
                             unsigned worker) const {
    const std::uint64_t expected =
        static_cast<std::uint64_t>(LB_TRY(client.count(collection.database, collection.name)));
    const auto options = LB_TRY(mongodb::Bson::from_json(R"({"sort": {"_id": 1}})"));
    std::string block;
    const std::size_t block_size = sink.block_size();
    auto flush = [&]() -> Status {
        if (block.empty()) return {};
        LB_CHECK(sink.keep_going());
        entry.blocks.push_back(LB_TRY(sink.store(block, worker)));
        block.clear();
        return {};
    };
    std::uint64_t position = 0;
    LB_CHECK(
        client.find(collection.database, collection.name, mongodb::Bson(), options,
                    [&](mongodb::DocumentRef ref) -> Status {
                        const bson_t* doc = ref.doc;
                        if (!block.empty() && block.size() + doc->len > block_size)
                            LB_CHECK(flush());
                        block.append(reinterpret_cast<const char*>(bson_get_data(doc)), doc->len);
                        entry.size += doc->len;
                        if (is_sampled(position, expected)) {
                            collection.samples.push_back({.id_json = LB_TRY(id_filter_json(*doc)),
                                                          .sha256 = document_hash(*doc)});
                        }
                        ++position;
                        return {};
                    }));
    LB_CHECK(flush());
    collection.documents = position;
    return {};
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
    std::vector<repo::ManifestEntry> entries(collections.size());
    const unsigned workers = std::max(1u, sink.workers());
    std::vector<std::optional<mongodb::Client>> clients(workers);
    std::mutex connect_mutex;
    LB_CHECK(parallel_for(
        collections.size(), workers,
        [&](std::size_t i, unsigned worker) -> Status {
            auto& c = collections[i];
            if (c.type != "collection") return {};
            if (!clients[worker]) {
                std::lock_guard lock(connect_mutex);
                clients[worker] = LB_TRY(mongodb::Client::connect(m_request.conninfo, {}));
            }
            auto& entry = entries[i];
            entry.path = c.path;
            entry.type = repo::EntryType::file;
            entry.mode = 0600;
            entry.mtime = result.manifest.start_time.micros / 1000000;
            auto dumped = dump(c, entry, *clients[worker], sink, worker);
            if (!dumped)
                return std::unexpected(dumped.error().context("{}.{}", c.database, c.name));
            return {};
        },
        ctx.cancellation.get()));
    for (std::size_t i = 0; i < collections.size(); ++i) {
        if (collections[i].type != "collection") continue;
        result.manifest.stats.files += 1;
        result.manifest.stats.data_bytes += entries[i].size;
        result.manifest.stats.read_bytes += entries[i].size;
        result.manifest.entries.push_back(std::move(entries[i]));
    }
    result.manifest.mongodb.collections = std::move(collections);
    result.manifest.mongodb.resume_token_stop = position("end");
    result.manifest.stop_time = ctx.now();
    result.read.read_blocks = 0;
    for (const auto& e : result.manifest.entries)
        result.read.read_blocks += e.blocks.size();
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
