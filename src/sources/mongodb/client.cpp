#include "sources/mongodb/client.hpp"

#include "sources/mongodb/c_driver.hpp"

#include <mutex>

namespace lifeboat::mongodb {

namespace {

// libmongoc's global state, once per process; its log handler would write to stderr, where a
// user sees only lifeboat's own one-line errors.
void init_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        mongoc_init();
        mongoc_log_set_handler(nullptr, nullptr);
    });
}

Error database_error(std::string_view what, const bson_error_t& error) {
    return Error{ErrorCode::database, fmt::format("{}: {}", what, error.message)};
}

}  // namespace

struct Client::State {
    mongoc_uri_t* uri = nullptr;
    mongoc_client_t* client = nullptr;
    ~State() {
        if (client) mongoc_client_destroy(client);
        if (uri) mongoc_uri_destroy(uri);
    }
};

Client::Client(std::unique_ptr<State> state) : m_state(std::move(state)) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Result<Client> Client::connect(const std::string& uri_text, const ConnectLimits& limits) {
    LB_CHECK(
        c_driver::load());  // a driver that cannot be loaded is one clear error, before any work
    init_once();
    auto state = std::make_unique<State>();
    bson_error_t error;
    state->uri = mongoc_uri_new_with_error(uri_text.c_str(), &error);
    if (!state->uri) {
        return fail(ErrorCode::usage, "'{}' is not a MongoDB URI: {}", redact_uri(uri_text),
                    error.message);
    }
    if (!mongoc_uri_has_option(state->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS)) {
        mongoc_uri_set_option_as_int32(state->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                                       static_cast<std::int32_t>(limits.select.count()));
    }
    state->client = mongoc_client_new_from_uri_with_error(state->uri, &error);
    if (!state->client) {
        return fail(ErrorCode::usage, "cannot use MongoDB URI '{}': {}", redact_uri(uri_text),
                    error.message);
    }
    mongoc_client_set_error_api(state->client, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_set_appname(state->client, "lifeboat");
    Client client(std::move(state));
    Bson ping = LB_TRY(Bson::from_json(R"({"ping": 1})"));
    auto pong = client.command("admin", ping);
    if (!pong) {
        return fail(ErrorCode::database, "cannot reach MongoDB at {}: {}", redact_uri(uri_text),
                    pong.error().message);
    }
    return client;
}

mongoc_client_t* Client::native() const {
    return m_state->client;
}

Result<Bson> Client::command(const std::string& db, const Bson& command) const {
    bson_t reply;
    bson_error_t error;
    const bool ok = mongoc_client_command_simple(m_state->client, db.c_str(), command.get(),
                                                 nullptr, &reply, &error);
    Bson out = Bson::copy_of(reply);
    bson_destroy(&reply);
    if (!ok) {
        // The command's name, not its whole text: one line a person can read.
        bson_iter_t it;
        const char* name = bson_iter_init(&it, command.get()) && bson_iter_next(&it)
                               ? bson_iter_key(&it)
                               : "command";
        return std::unexpected(database_error(fmt::format("{} in {}", name, db), error));
    }
    return out;
}

Result<std::vector<std::string>> Client::database_names() const {
    bson_error_t error;
    char** names = mongoc_client_get_database_names_with_opts(m_state->client, nullptr, &error);
    if (!names) return std::unexpected(database_error("listDatabases", error));
    std::vector<std::string> out;
    for (char** n = names; *n; ++n)
        out.emplace_back(*n);
    bson_strfreev(names);
    return out;
}

namespace {

Result<std::vector<Bson>> drain(mongoc_cursor_t* cursor, std::string_view what) {
    std::vector<Bson> out;
    const bson_t* doc = nullptr;
    while (mongoc_cursor_next(cursor, &doc))
        out.push_back(Bson::copy_of(*doc));
    bson_error_t error;
    const bool failed = mongoc_cursor_error(cursor, &error);
    mongoc_cursor_destroy(cursor);
    if (failed) return std::unexpected(database_error(what, error));
    return out;
}

}  // namespace

Result<std::vector<Bson>> Client::list_collections(const std::string& db) const {
    mongoc_database_t* database = mongoc_client_get_database(m_state->client, db.c_str());
    mongoc_cursor_t* cursor = mongoc_database_find_collections_with_opts(database, nullptr);
    auto out = drain(cursor, fmt::format("listCollections in {}", db));
    mongoc_database_destroy(database);
    return out;
}

Result<std::vector<Bson>> Client::list_indexes(const std::string& db,
                                               const std::string& collection) const {
    mongoc_collection_t* coll =
        mongoc_client_get_collection(m_state->client, db.c_str(), collection.c_str());
    mongoc_cursor_t* cursor = mongoc_collection_find_indexes_with_opts(coll, nullptr);
    auto out = drain(cursor, fmt::format("listIndexes of {}.{}", db, collection));
    mongoc_collection_destroy(coll);
    return out;
}

Status Client::find(const std::string& db, const std::string& collection, const Bson& filter,
                    const Bson& options, const DocumentFn& each) const {
    mongoc_collection_t* coll =
        mongoc_client_get_collection(m_state->client, db.c_str(), collection.c_str());
    mongoc_cursor_t* cursor =
        mongoc_collection_find_with_opts(coll, filter.get(), options.get(), nullptr);
    const bson_t* doc = nullptr;
    Status status;
    while (status && mongoc_cursor_next(cursor, &doc))
        status = each(DocumentRef{doc});
    bson_error_t error;
    if (status && mongoc_cursor_error(cursor, &error))
        status =
            std::unexpected(database_error(fmt::format("find in {}.{}", db, collection), error));
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    return status;
}

Status Client::insert_many(const std::string& db, const std::string& collection,
                           const std::vector<std::string_view>& documents) const {
    if (documents.empty()) return {};
    mongoc_collection_t* coll =
        mongoc_client_get_collection(m_state->client, db.c_str(), collection.c_str());
    mongoc_bulk_operation_t* bulk =
        mongoc_collection_create_bulk_operation_with_opts(coll, nullptr);
    Status status;
    bson_error_t error;
    for (const auto bytes : documents) {
        bson_t doc;
        if (!bson_init_static(&doc, reinterpret_cast<const std::uint8_t*>(bytes.data()),
                              bytes.size())) {
            status =
                fail(ErrorCode::corrupt, "a stored document of {}.{} is malformed", db, collection);
            break;
        }
        if (!mongoc_bulk_operation_insert_with_opts(bulk, &doc, nullptr, &error)) {
            status = std::unexpected(
                database_error(fmt::format("insert into {}.{}", db, collection), error));
            break;
        }
    }
    if (status) {
        bson_t reply;
        if (!mongoc_bulk_operation_execute(bulk, &reply, &error))
            status = std::unexpected(
                database_error(fmt::format("insert into {}.{}", db, collection), error));
        bson_destroy(&reply);
    }
    mongoc_bulk_operation_destroy(bulk);
    mongoc_collection_destroy(coll);
    return status;
}

Status Client::create_collection(const std::string& db, const std::string& name,
                                 const Bson& options) const {
    bson_t cmd = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&cmd, "create", name.c_str());
    bson_concat(&cmd, options.get());
    Bson command = Bson::copy_of(cmd);
    bson_destroy(&cmd);
    LB_TRY(this->command(db, command));
    return {};
}

Result<std::int64_t> Client::count(const std::string& db, const std::string& collection) const {
    bson_t cmd = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&cmd, "count", collection.c_str());
    Bson command = Bson::copy_of(cmd);
    bson_destroy(&cmd);
    const Bson reply = LB_TRY(this->command(db, command));
    bson_iter_t it;
    if (!bson_iter_init_find(&it, reply.get(), "n") || !BSON_ITER_HOLDS_NUMBER(&it))
        return fail(ErrorCode::database, "count of {}.{}: no number in the reply", db, collection);
    return bson_iter_as_int64(&it);
}

namespace {

constexpr std::uint32_t k_namespace_not_found = 26;

bool is_namespace_not_found(const bson_error_t& error) {
    return error.domain == MONGOC_ERROR_SERVER && error.code == k_namespace_not_found;
}

}  // namespace

Status Client::drop_collection(const std::string& db, const std::string& collection) const {
    mongoc_collection_t* coll =
        mongoc_client_get_collection(m_state->client, db.c_str(), collection.c_str());
    bson_error_t error;
    const bool ok = mongoc_collection_drop_with_opts(coll, nullptr, &error);
    mongoc_collection_destroy(coll);
    // Servers before 7.0 answer NamespaceNotFound for an absent collection; 7.0 answers ok.
    if (!ok && !is_namespace_not_found(error))
        return std::unexpected(database_error(fmt::format("drop of {}.{}", db, collection), error));
    return {};
}

Status Client::drop_database(const std::string& db) const {
    mongoc_database_t* database = mongoc_client_get_database(m_state->client, db.c_str());
    bson_error_t error;
    const bool ok = mongoc_database_drop_with_opts(database, nullptr, &error);
    mongoc_database_destroy(database);
    if (!ok && !is_namespace_not_found(error))
        return std::unexpected(database_error(fmt::format("dropDatabase of {}", db), error));
    return {};
}

Result<RenameOutcome> Client::rename_collection(const std::string& db,
                                                const std::string& collection,
                                                const std::string& to_db,
                                                const std::string& to_collection,
                                                DropTarget drop_target) const {
    mongoc_collection_t* coll =
        mongoc_client_get_collection(m_state->client, db.c_str(), collection.c_str());
    bson_error_t error;
    const bool ok =
        mongoc_collection_rename_with_opts(coll, to_db.c_str(), to_collection.c_str(),
                                           drop_target == DropTarget::yes, nullptr, &error);
    mongoc_collection_destroy(coll);
    if (ok) return RenameOutcome::renamed;
    if (is_namespace_not_found(error)) return RenameOutcome::source_absent;
    return std::unexpected(database_error(
        fmt::format("rename of {}.{} to {}.{}", db, collection, to_db, to_collection), error));
}

struct BulkWrite::State {
    std::string ns;
    mongoc_collection_t* collection = nullptr;
    mongoc_bulk_operation_t* bulk = nullptr;
    std::size_t size = 0;
    std::optional<std::size_t> failed_index;
    ~State() {
        if (bulk) mongoc_bulk_operation_destroy(bulk);
        if (collection) mongoc_collection_destroy(collection);
    }
};

BulkWrite::BulkWrite(std::unique_ptr<State> state) : m_state(std::move(state)) {}
BulkWrite::~BulkWrite() = default;
BulkWrite::BulkWrite(BulkWrite&&) noexcept = default;
BulkWrite& BulkWrite::operator=(BulkWrite&&) noexcept = default;

BulkWrite Client::bulk_write(const std::string& db, const std::string& collection) const {
    auto state = std::make_unique<BulkWrite::State>();
    state->ns = fmt::format("{}.{}", db, collection);
    state->collection =
        mongoc_client_get_collection(m_state->client, db.c_str(), collection.c_str());
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&opts, "ordered", true);
    state->bulk = mongoc_collection_create_bulk_operation_with_opts(state->collection, &opts);
    bson_destroy(&opts);
    return BulkWrite(std::move(state));
}

namespace {

// The options of a queued write: libmongoc's key checks off (the documents come from a server,
// and MongoDB 5.0+ allows dotted and $-prefixed field names), and the upsert flag when it has one.
Bson write_options(std::optional<Upsert> upsert) {
    Bson opts;
    BSON_APPEND_BOOL(opts.get(), "validate", false);
    if (upsert) BSON_APPEND_BOOL(opts.get(), "upsert", *upsert == Upsert::yes);
    return opts;
}

}  // namespace

Status BulkWrite::replace_one(const Bson& filter, const Bson& replacement, Upsert upsert) {
    bson_error_t error;
    const Bson opts = write_options(upsert);
    if (!mongoc_bulk_operation_replace_one_with_opts(m_state->bulk, filter.get(), replacement.get(),
                                                     opts.get(), &error))
        return std::unexpected(database_error(fmt::format("replace in {}", m_state->ns), error));
    ++m_state->size;
    return {};
}

Status BulkWrite::update_one(const Bson& filter, const Bson& update) {
    bson_error_t error;
    const Bson opts = write_options(Upsert::no);
    if (!mongoc_bulk_operation_update_one_with_opts(m_state->bulk, filter.get(), update.get(),
                                                    opts.get(), &error))
        return std::unexpected(database_error(fmt::format("update in {}", m_state->ns), error));
    ++m_state->size;
    return {};
}

Status BulkWrite::delete_one(const Bson& filter) {
    bson_error_t error;
    if (!mongoc_bulk_operation_remove_one_with_opts(m_state->bulk, filter.get(), nullptr, &error))
        return std::unexpected(database_error(fmt::format("delete in {}", m_state->ns), error));
    ++m_state->size;
    return {};
}

std::size_t BulkWrite::size() const {
    return m_state->size;
}

std::optional<std::size_t> BulkWrite::failed_index() const {
    return m_state->failed_index;
}

Status BulkWrite::execute() {
    if (m_state->size == 0) return {};
    bson_t reply;
    bson_error_t error;
    const bool ok = mongoc_bulk_operation_execute(m_state->bulk, &reply, &error) != 0;
    if (!ok) {
        // libmongoc reports the failing write's position in the whole bulk write.
        bson_iter_t it;
        bson_iter_t errors;
        bson_iter_t first;
        if (bson_iter_init_find(&it, &reply, "writeErrors") && BSON_ITER_HOLDS_ARRAY(&it) &&
            bson_iter_recurse(&it, &errors) && bson_iter_next(&errors) &&
            BSON_ITER_HOLDS_DOCUMENT(&errors) && bson_iter_recurse(&errors, &first) &&
            bson_iter_find(&first, "index") && BSON_ITER_HOLDS_NUMBER(&first))
            m_state->failed_index = static_cast<std::size_t>(bson_iter_as_int64(&first));
    }
    bson_destroy(&reply);
    if (!ok)
        return std::unexpected(database_error(fmt::format("writes to {}", m_state->ns), error));
    return {};
}

std::string redact_uri(std::string_view uri) {
    const auto scheme = uri.find("://");
    const auto at = uri.find('@');
    if (scheme == std::string_view::npos || at == std::string_view::npos || at < scheme)
        return std::string(uri);
    const auto colon = uri.find(':', scheme + 3);
    if (colon == std::string_view::npos || colon > at) return std::string(uri);
    return fmt::format("{}:***{}", uri.substr(0, colon), uri.substr(at));
}

}  // namespace lifeboat::mongodb
