// Client: one connection to a MongoDB-compatible server (MongoDB 4.0+, Amazon DocumentDB,
// anything speaking the wire protocol), through libmongoc. Not thread safe: each worker opens
// its own. Every failure is ErrorCode::database with the server's (or libmongoc's) message,
// prefixed with what was being done.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sources/mongodb/bson.hpp"
#include "util/error.hpp"

// libmongoc's client type (mongoc/mongoc.h), declared here so that its header stays out.
struct _mongoc_client_t;

namespace lifeboat::mongodb {

struct ConnectLimits {
    // How long a server is looked for (serverSelectionTimeoutMS, unless the URI sets it).
    std::chrono::milliseconds select{10000};
};

// Called with each document a cursor returns (valid during the call only).
// (A struct, not bson_t* itself: bson_t's alignment attribute is lost in a std::function type.)
struct DocumentRef {
    const bson_t* doc;
};
using DocumentFn = std::function<Status(DocumentRef document)>;

enum class Upsert { no, yes };
enum class DropTarget { no, yes };
enum class RenameOutcome { renamed, source_absent };

class BulkWrite;

class Client {
  public:
    // Parses `uri` (ErrorCode::usage when it is not a MongoDB URI) and checks that a server
    // answers `ping`.
    static Result<Client> connect(const std::string& uri, const ConnectLimits& limits);
    ~Client();
    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;

    // Runs `command` in database `db` on the primary; its reply.
    Result<Bson> command(const std::string& db, const Bson& command) const;
    // The server's databases (listDatabases, names only), in the server's order.
    Result<std::vector<std::string>> database_names() const;
    // listCollections of `db`: one document per collection or view ({name, type, options, ...}).
    Result<std::vector<Bson>> list_collections(const std::string& db) const;
    // listIndexes of `db`.`collection`: one specification per index.
    Result<std::vector<Bson>> list_indexes(const std::string& db,
                                           const std::string& collection) const;
    // Every document of `db`.`collection` matching `filter` with find options `options`
    // (sort, projection, ...), handed to `each` in cursor order; stops at the first error.
    Status find(const std::string& db, const std::string& collection, const Bson& filter,
                const Bson& options, const DocumentFn& each) const;
    // Inserts `documents` (wire forms) in order with one bulk write (ordered: the first failure
    // stops it and is returned).
    Status insert_many(const std::string& db, const std::string& collection,
                       const std::vector<std::string_view>& documents) const;
    // Creates collection `name` in `db` with `options` (a listCollections options document).
    Status create_collection(const std::string& db, const std::string& name,
                             const Bson& options) const;
    // The number of documents (the count command: exact, no filter).
    Result<std::int64_t> count(const std::string& db, const std::string& collection) const;
    // Drops `db`.`collection`; an absent collection is not an error.
    Status drop_collection(const std::string& db, const std::string& collection) const;
    // Drops database `db`; an absent database is not an error.
    Status drop_database(const std::string& db) const;
    // Renames `db`.`collection` to `to_db`.`to_collection` (another database too: the server
    // copies it). An existing target is an error unless `drop_target` is yes; an absent source
    // is RenameOutcome::source_absent, not an error.
    Result<RenameOutcome> rename_collection(const std::string& db, const std::string& collection,
                                            const std::string& to_db,
                                            const std::string& to_collection,
                                            DropTarget drop_target) const;
    // An empty ordered bulk write to `db`.`collection` (see BulkWrite).
    BulkWrite bulk_write(const std::string& db, const std::string& collection) const;

    // libmongoc's client, for the parts of this library that drive it directly (change streams).
    ::_mongoc_client_t* native() const;

  private:
    struct State;
    explicit Client(std::unique_ptr<State> state);
    std::unique_ptr<State> m_state;
};

// BulkWrite: writes to one collection queued in order and sent by execute() in as few round
// trips as the server allows (consecutive writes of one kind share a command), ordered: the
// first failing write stops the rest. Documents are sent as given, without libmongoc's key
// checks (field names with dots or a leading $ are legal since MongoDB 5.0). The client must
// outlive it; execute() once.
class BulkWrite {
  public:
    ~BulkWrite();
    BulkWrite(BulkWrite&&) noexcept;
    BulkWrite& operator=(BulkWrite&&) noexcept;

    // The first document matching `filter` replaced by `replacement` (inserted when none
    // matches and `upsert` is yes).
    Status replace_one(const Bson& filter, const Bson& replacement, Upsert upsert);
    // The first document matching `filter` updated by the operators of `update` (no upsert).
    Status update_one(const Bson& filter, const Bson& update);
    // The first document matching `filter` deleted.
    Status delete_one(const Bson& filter);
    // How many writes are queued.
    std::size_t size() const;
    // Sends the queued writes. On failure, failed_index() is the position of the write that
    // failed (when the server said which).
    Status execute();
    std::optional<std::size_t> failed_index() const;

  private:
    friend class Client;
    struct State;
    explicit BulkWrite(std::unique_ptr<State> state);
    std::unique_ptr<State> m_state;
};

// The URI without its password ("mongodb://user:***@host/..."), for messages.
std::string redact_uri(std::string_view uri);

}  // namespace lifeboat::mongodb
