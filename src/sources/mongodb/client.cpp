#include "sources/mongodb/client.hpp"

#include <mongoc/mongoc.h>

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
