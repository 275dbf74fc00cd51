// The change-event applier's property (issue 17's acceptance): a random sequence of operations is
// applied directly to one CongoDB server (A) and encoded as the change events MongoDB documents;
// for more than 100 random target times, a second server (B) is reset to a base state, the events
// up to the target are replayed onto it with ChangeApplier, and B must equal A's state at that
// target, every database, collection and document (canonical extended JSON, every BSON type).
//
// The base is A's state some events into the sequence. A third of the replays start at the
// base; the others start at a random event before it, so events the base already reflects are
// applied again, as after a dump that raced them (idempotency; compared without the documents'
// field order, see without_field_order). The applier is told where the base ends
// (ApplyOptions::replay_through): field "v" changes type (document, string, array), and a
// re-applied update through it that the base's later state refuses is skipped there. Those
// re-applied events are document events only: a dump racing a rename or a drop is not made
// consistent by replaying it (mongodump --oplog refuses DDL during a dump for the same reason).
//
// A is written with whole documents (insert, replace, delete, drop, rename, dropDatabase as
// commands), B only through the applier (update operators from updateDescription), so the two
// meet only in the result. The model that picks valid paths is nlohmann::ordered_json holding
// canonical extended JSON.
//
// The seed is random unless LIFEBOAT_APPLY_SEED is set; every failure message carries it.
// Skipped when node or CongoDB is missing. CongoDB is not MongoDB: see docs/operations.md.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "congodb_test_server.hpp"
#include "drivers/mongodb/change_apply.hpp"

namespace lifeboat {
namespace {

using Json = nlohmann::ordered_json;
using mongodb::Bson;
using mongodb_driver::ChangeApplier;

constexpr int k_base_events = 150;  // document events before the base
constexpr int k_events = 600;       // events in all
constexpr int k_min_targets = 150;  // distinct target times replayed
constexpr int k_events_per_second = 3;
// Event k happens at cluster time (k_first_second + k / 3, k % 3 + 1).
constexpr std::uint32_t k_first_second = 1'767'225'600;

struct Ns {
    std::string db;
    std::string coll;
    auto operator<=>(const Ns&) const = default;
};

Bson to_bson(const Json& json) {
    auto doc = Bson::from_json(json.dump());
    if (!doc) ADD_FAILURE() << doc.error().message << ": " << json.dump();
    return doc ? std::move(*doc) : Bson();
}

// Every database (but the server's own), collection and document of `client`, in name and _id
// order: what "the same state" means.
std::string state_of(const mongodb::Client& client) {
    std::string out;
    auto databases = client.database_names().value();
    std::sort(databases.begin(), databases.end());
    for (const auto& db : databases) {
        if (db == "admin" || db == "local" || db == "config") continue;
        std::vector<std::string> names;
        for (const auto& info : client.list_collections(db).value_or(std::vector<Bson>{})) {
            bson_iter_t it;
            if (bson_iter_init_find(&it, info.get(), "name"))
                names.emplace_back(bson_iter_utf8(&it, nullptr));
        }
        std::sort(names.begin(), names.end());
        const Bson by_id = Bson::from_json(R"({"sort": {"_id": 1}})").value();
        for (const auto& coll : names) {
            out += "== " + db + "." + coll + "\n";
            auto found = client.find(db, coll, Bson(), by_id, [&](mongodb::DocumentRef doc) {
                out += Bson::copy_of(*doc.doc).canonical_json() + "\n";
                return Status{};
            });
            if (!found) ADD_FAILURE() << found.error().message;
        }
    }
    return out;
}

// The state with every document's fields in name order. A replay of events the base already
// reflects leaves the same fields and values but not always their order: a field removed and
// added again by those events moves behind the fields the base added after it (no change event
// says where a field stood). MongoDB's own oplog replays have the same property.
std::string without_field_order(const std::string& state) {
    std::string out;
    std::size_t start = 0;
    while (start < state.size()) {
        const auto end = state.find('\n', start);
        const std::string line = state.substr(start, end - start);
        out += line.starts_with("{") ? nlohmann::json::parse(line).dump() : line;
        out += '\n';
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return out;
}

void reset(const mongodb::Client& client) {
    for (const auto& db : client.database_names().value_or(std::vector<std::string>{})) {
        if (db != "admin" && db != "local" && db != "config") {
            ASSERT_TRUE(client.drop_database(db));
        }
    }
}

// One collection of the base: its documents' wire forms.
struct BaseCollection {
    Ns ns;
    std::vector<std::string> documents;
};

std::vector<BaseCollection> snapshot(const mongodb::Client& client) {
    std::vector<BaseCollection> out;
    for (const auto& db : client.database_names().value_or(std::vector<std::string>{})) {
        if (db == "admin" || db == "local" || db == "config") continue;
        for (const auto& info : client.list_collections(db).value_or(std::vector<Bson>{})) {
            bson_iter_t it;
            if (!bson_iter_init_find(&it, info.get(), "name")) continue;
            BaseCollection collection{{db, bson_iter_utf8(&it, nullptr)}, {}};
            EXPECT_TRUE(
                client.find(db, collection.ns.coll, Bson(), Bson(), [&](mongodb::DocumentRef doc) {
                    collection.documents.emplace_back(Bson::copy_of(*doc.doc).bytes());
                    return Status{};
                }));
            out.push_back(std::move(collection));
        }
    }
    return out;
}

void load(const mongodb::Client& client, const std::vector<BaseCollection>& base) {
    for (const auto& collection : base) {
        ASSERT_TRUE(client.create_collection(collection.ns.db, collection.ns.coll, Bson()));
        std::vector<std::string_view> documents(collection.documents.begin(),
                                                collection.documents.end());
        ASSERT_TRUE(client.insert_many(collection.ns.db, collection.ns.coll, documents));
    }
}

enum class Ddl { not_allowed, allowed };

// The random sequence: the model, the events, and A kept in step with both.
class Sequence {
  public:
    Sequence(std::uint64_t seed, const mongodb::Client& direct) : m_random(seed), m_a(direct) {}

    // The documents every run starts from, written to A directly (no events).
    void seed_documents() {
        for (const Ns& ns : {Ns{"shop", "c0"}, Ns{"shop", "c1"}, Ns{"web", "c0"}}) {
            auto& docs = m_model[ns];
            std::vector<Bson> written;
            for (int i = 0; i < 8; ++i) {
                Json doc = random_document(next_id());
                written.push_back(to_bson(doc));
                docs.emplace(doc["_id"]["$oid"].get<std::string>(), std::move(doc));
            }
            std::vector<std::string_view> bytes;
            for (const auto& doc : written)
                bytes.push_back(doc.bytes());
            ASSERT_TRUE(m_a.insert_many(ns.db, ns.coll, bytes));
        }
    }

    // One more operation (one event or, for dropDatabase, several), applied to A.
    void step(Ddl ddl_allowed) {
        const int roll = pick(0, 99);
        if (m_model.empty() || roll < 20) return insert();
        if (ddl_allowed == Ddl::allowed && roll >= 95) {
            const int ddl = pick(0, 3);
            if (ddl == 0) return drop();
            if (ddl == 3) return drop_database();
            return rename();
        }
        const Ns ns = any_collection_with_documents();
        if (ns.db.empty()) return insert();
        if (roll < 32) return replace(ns);
        if (roll < 85) return update(ns);
        return remove(ns);
    }

    std::vector<Json>& events() { return m_events; }

  private:
    int pick(int low, int high) { return std::uniform_int_distribution<int>(low, high)(m_random); }
    bool chance(int percent) { return pick(0, 99) < percent; }

    std::string next_id() { return fmt::format("65a0000000000000{:08x}", ++m_ids); }

    Json int_value() { return Json{{"$numberInt", std::to_string(pick(-50, 1000))}}; }
    Json scalar() {
        switch (pick(0, 4)) {
            case 0:
                return int_value();
            case 1:
                return fmt::format("s{}", pick(0, 99));
            case 2:
                return Json{{"$numberDecimal", fmt::format("{}.{:02}", pick(0, 999), pick(0, 99))}};
            case 3:
                return Json{
                    {"$date", {{"$numberLong", std::to_string(1767225600000 + pick(0, 1 << 30))}}}};
            default:
                // Other bytes for each subtype: CongoDB 2.2 compares documents as JSON, where a
                // Binary is its base64 text, so a change of subtype alone would not be written.
                if (chance(50)) return Json{{"$binary", {{"base64", "AQID"}, {"subType", "00"}}}};
                return Json{{"$binary", {{"base64", "BAUGBw=="}, {"subType", "80"}}}};
        }
    }
    Json array_element() {
        if (chance(70)) return int_value();
        return Json{{"k", int_value()}, {"t", fmt::format("e{}", pick(0, 9))}};
    }
    // A field whose type changes (a document, a string, an array): replays of updates recorded
    // before the change are refused by the base's later state.
    Json changing_value() {
        switch (pick(0, 2)) {
            case 0:
                return Json{{"w", int_value()}};
            case 1:
                return fmt::format("t{}", pick(0, 9));
            default:
                return random_array();
        }
    }
    Json random_array() {
        Json arr = Json::array();
        for (int i = pick(0, 5); i > 0; --i)
            arr.push_back(array_element());
        return arr;
    }
    Json random_document(const std::string& id) {
        Json doc;
        doc["_id"] = {{"$oid", id}};
        doc["n"] = int_value();
        doc["price"] = Json{{"$numberDecimal", fmt::format("{}.25", pick(0, 99))}};
        doc["at"] =
            Json{{"$date", {{"$numberLong", std::to_string(1767225600000 + pick(0, 999))}}}};
        doc["bin"] = Json{{"$binary", {{"base64", "AQID"}, {"subType", "00"}}}};
        doc["obj"] = {{"x", {{"y", int_value()}, {"z", "z"}}}};
        for (int k = 0; k < 4; ++k)
            if (chance(40)) doc["obj"][fmt::format("k{}", k)] = scalar();
        doc["arr"] = random_array();
        doc["v"] = changing_value();
        return doc;
    }

    Ns any_collection_with_documents() {
        std::vector<Ns> candidates;
        for (const auto& [ns, docs] : m_model)
            if (!docs.empty()) candidates.push_back(ns);
        if (candidates.empty()) return {};
        // Runs of events on one collection, as applications write: the applier batches those.
        if (std::find(candidates.begin(), candidates.end(), m_last) != candidates.end() &&
            chance(75))
            return m_last;
        m_last = candidates[pick(0, static_cast<int>(candidates.size()) - 1)];
        return m_last;
    }
    Ns any_collection() {
        if (!m_model.empty() && chance(80)) {
            auto it = m_model.begin();
            std::advance(it, pick(0, static_cast<int>(m_model.size()) - 1));
            return it->first;
        }
        return Ns{chance(60) ? "shop" : "web", fmt::format("c{}", pick(0, 4))};
    }
    std::map<std::string, Json>::iterator any_document(const Ns& ns) {
        auto& docs = m_model[ns];
        auto it = docs.begin();
        std::advance(it, pick(0, static_cast<int>(docs.size()) - 1));
        return it;
    }

    Json event(const std::string& type, const Ns& ns) {
        const int index = static_cast<int>(m_events.size());
        Json e;
        e["_id"] = {{"_data", fmt::format("82{:016X}", index)}};
        e["operationType"] = type;
        e["clusterTime"] = {{"$timestamp",
                             {{"t", k_first_second + index / k_events_per_second},
                              {"i", index % k_events_per_second + 1}}}};
        e["ns"] = {{"db", ns.db}};
        if (!ns.coll.empty()) e["ns"]["coll"] = ns.coll;
        return e;
    }
    Json document_key(const Json& doc) { return {{"_id", doc["_id"]}}; }

    void insert() {
        const Ns ns = chance(85) && !m_last.db.empty() ? m_last : any_collection();
        m_last = ns;
        Json doc = random_document(next_id());
        ASSERT_TRUE(m_a.insert_many(ns.db, ns.coll, {to_bson(doc).bytes()}));
        Json e = event("insert", ns);
        e["documentKey"] = document_key(doc);
        e["fullDocument"] = doc;
        m_events.push_back(std::move(e));
        m_model[ns].emplace(doc["_id"]["$oid"].get<std::string>(), std::move(doc));
    }

    void write_whole(const Ns& ns, const Json& doc) {
        auto writes = m_a.bulk_write(ns.db, ns.coll);
        const Bson filter = to_bson(document_key(doc));
        ASSERT_TRUE(writes.replace_one(filter, to_bson(doc), mongodb::Upsert::no));
        ASSERT_TRUE(writes.execute());
    }

    void replace(const Ns& ns) {
        auto it = any_document(ns);
        it->second = random_document(it->first);
        write_whole(ns, it->second);
        Json e = event("replace", ns);
        e["documentKey"] = document_key(it->second);
        e["fullDocument"] = it->second;
        m_events.push_back(std::move(e));
    }

    // An update event as MongoDB reports one: each path changed once; applied to the model as
    // the server applies it (truncations, removals, then sets in lexicographic path order, the
    // order in which MongoDB 5.0+ adds new fields and CongoDB follows the event's order).
    void update(const Ns& ns) {
        auto it = any_document(ns);
        Json& doc = it->second;
        std::map<std::string, Json> sets;
        Json removed = Json::array();
        Json truncated = Json::array();
        std::set<std::string> fields;
        for (int i = pick(1, 3); i > 0; --i)
            fields.insert(std::vector<std::string>{"n", "price", "at", "bin", "obj", "arr", "dot",
                                                   "v"}[pick(0, 7)]);
        bool dotted = false;
        for (const auto& field : fields) {
            if (field == "v") {
                const Json& v = doc["v"];
                if (v.is_object() && chance(60)) {
                    sets["v.w"] = int_value();
                } else if (v.is_array() && !v.empty() && chance(40)) {
                    truncated.push_back(
                        {{"field", "v"}, {"newSize", pick(0, static_cast<int>(v.size()) - 1)}});
                } else if (v.is_array() && chance(50)) {
                    sets[fmt::format("v.{}", v.size())] = int_value();
                } else {
                    sets["v"] = changing_value();
                }
            } else if (field == "dot") {
                // A field name with a dot (MongoDB 5.0+): named by disambiguatedPaths, applied
                // by the applier to the whole document.
                sets["dot.p.q"] = scalar();
                dotted = true;
            } else if (field == "obj") {
                const bool present = doc.contains("obj");
                if (present && chance(8)) {
                    removed.push_back("obj");
                    continue;
                }
                if (chance(50)) sets["obj.x.y"] = int_value();
                for (int k = 0; k < 4; ++k) {
                    const std::string key = fmt::format("k{}", k);
                    if (!chance(35)) continue;
                    if (present && doc["obj"].contains(key) && chance(40))
                        removed.push_back("obj." + key);
                    else
                        sets["obj." + key] = scalar();
                }
            } else if (field == "arr") {
                const int size = static_cast<int>(doc["arr"].size());
                const int action = pick(0, 3);
                if (action == 0 && size > 0) {  // truncate, then maybe write into it
                    const int new_size = pick(0, size - 1);
                    truncated.push_back({{"field", "arr"}, {"newSize", new_size}});
                    if (new_size > 0 && chance(50))
                        sets[fmt::format("arr.{}", new_size - 1)] = array_element();
                    if (chance(50)) sets[fmt::format("arr.{}", new_size)] = array_element();
                } else if (action == 1 && size > 0) {  // one element
                    sets[fmt::format("arr.{}", pick(0, size - 1))] = array_element();
                } else if (action == 2) {  // append
                    sets[fmt::format("arr.{}", size)] = array_element();
                } else {  // the whole array
                    sets["arr"] = random_array();
                }
            } else {
                sets[field] = field == "n" ? int_value() : scalar();
            }
        }
        if (sets.empty() && removed.empty() && truncated.empty()) return update(ns);
        for (const auto& truncation : truncated) {
            Json& arr = doc[truncation["field"].get<std::string>()];
            Json kept = Json::array();
            for (int i = 0; i < truncation["newSize"].get<int>(); ++i)
                kept.push_back(arr[i]);
            arr = std::move(kept);
        }
        for (const auto& path : removed) {
            const std::string text = path.get<std::string>();
            if (text == "obj")
                doc.erase("obj");
            else
                doc["obj"].erase(text.substr(4));
        }
        Json updated = Json::object();
        for (const auto& [path, value] : sets) {
            if (path == "dot.p.q") {
                if (!doc.contains("dot")) doc["dot"] = Json::object();
                doc["dot"]["p.q"] = value;
            } else {
                model_set(doc, path, value);
            }
            updated[path] = value;
        }
        write_whole(ns, doc);
        Json e = event("update", ns);
        e["documentKey"] = document_key(doc);
        e["updateDescription"] = {
            {"updatedFields", updated}, {"removedFields", removed}, {"truncatedArrays", truncated}};
        if (dotted) e["updateDescription"]["disambiguatedPaths"] = {{"dot.p.q", {"dot", "p.q"}}};
        m_events.push_back(std::move(e));
    }

    // $set of a dotted path on the model: missing documents on the way created, an array
    // position equal to the size appends.
    static void model_set(Json& doc, const std::string& dotted, const Json& value) {
        Json* current = &doc;
        std::size_t start = 0;
        while (true) {
            const auto dot = dotted.find('.', start);
            const std::string key =
                dotted.substr(start, dot == std::string::npos ? dot : dot - start);
            const bool last = dot == std::string::npos;
            if (current->is_array()) {
                const auto index = static_cast<std::size_t>(std::stoul(key));
                if (index == current->size()) current->push_back(last ? value : Json::object());
                if (last) {
                    (*current)[index] = value;
                    return;
                }
                current = &(*current)[index];
            } else {
                if (last) {
                    (*current)[key] = value;
                    return;
                }
                if (!current->contains(key)) (*current)[key] = Json::object();
                current = &(*current)[key];
            }
            start = dot + 1;
        }
    }

    void remove(const Ns& ns) {
        auto it = any_document(ns);
        auto writes = m_a.bulk_write(ns.db, ns.coll);
        ASSERT_TRUE(writes.delete_one(to_bson(document_key(it->second))));
        ASSERT_TRUE(writes.execute());
        Json e = event("delete", ns);
        e["documentKey"] = document_key(it->second);
        m_events.push_back(std::move(e));
        m_model[ns].erase(it);
    }

    void drop() {
        if (m_model.empty()) return insert();
        const Ns ns = any_collection();
        if (!m_model.contains(ns)) return insert();
        ASSERT_TRUE(m_a.drop_collection(ns.db, ns.coll));
        m_model.erase(ns);
        m_events.push_back(event("drop", ns));
    }

    void rename() {
        if (m_model.empty()) return insert();
        auto source = m_model.begin();
        std::advance(source, pick(0, static_cast<int>(m_model.size()) - 1));
        const Ns from = source->first;
        Ns to = any_collection();
        if (chance(40)) to.coll = fmt::format("r{}", pick(0, 3));
        if (to == from) return insert();
        ASSERT_TRUE(
            m_a.rename_collection(from.db, from.coll, to.db, to.coll, mongodb::DropTarget::yes));
        m_model[to] = std::move(m_model[from]);
        m_model.erase(from);
        Json e = event("rename", from);
        e["to"] = {{"db", to.db}, {"coll", to.coll}};
        m_events.push_back(std::move(e));
        m_last = to;
    }

    // MongoDB reports a drop per collection, then the dropDatabase. (Applied one by one to A,
    // so that A has a state after every event.)
    void drop_database() {
        const std::string db = any_collection().db;
        std::vector<Ns> dropped;
        for (const auto& [ns, docs] : m_model)
            if (ns.db == db) dropped.push_back(ns);
        if (dropped.empty()) return insert();
        for (const auto& ns : dropped) {
            ASSERT_TRUE(m_a.drop_collection(ns.db, ns.coll));
            m_model.erase(ns);
            m_events.push_back(event("drop", ns));
            m_pending_states.push_back(state_of(m_a));
        }
        ASSERT_TRUE(m_a.drop_database(db));
        m_events.push_back(event("dropDatabase", Ns{db, ""}));
    }

  public:
    // States of A recorded inside a multi-event operation, taken by the caller in order.
    std::vector<std::string> take_pending_states() { return std::exchange(m_pending_states, {}); }

  private:
    std::mt19937_64 m_random;
    const mongodb::Client& m_a;
    std::map<Ns, std::map<std::string, Json>> m_model;
    std::vector<Json> m_events;
    std::vector<std::string> m_pending_states;
    Ns m_last;
    std::uint32_t m_ids = 0;
};

TEST(MongoApplyProperty, ReplayToRandomTargetTimesEqualsDirectApplication) {
    if (!congodb_test::available())
        GTEST_SKIP() << "node or CongoDB (tests/mongo, scripts/install-deps.sh) is missing";
    const char* fixed = std::getenv("LIFEBOAT_APPLY_SEED");
    const std::uint64_t seed = fixed ? std::strtoull(fixed, nullptr, 10) : std::random_device{}();
    SCOPED_TRACE(fmt::format("seed {} (replay it with LIFEBOAT_APPLY_SEED={})", seed, seed));
    std::mt19937_64 random(seed ^ 0x9e3779b97f4a7c15ull);

    congodb_test::Server server_a;
    congodb_test::Server server_b;
    ASSERT_FALSE(server_a.uri().empty()) << "CongoDB did not start: " << server_a.log();
    ASSERT_FALSE(server_b.uri().empty()) << "CongoDB did not start: " << server_b.log();
    const mongodb::Client a = mongodb::Client::connect(server_a.uri(), {}).value();
    const mongodb::Client b = mongodb::Client::connect(server_b.uri(), {}).value();

    // A's state after each event (states[i]: after events[0..i)).
    Sequence sequence(seed, a);
    sequence.seed_documents();
    std::vector<std::string> states{state_of(a)};
    std::vector<BaseCollection> base;
    while (static_cast<int>(sequence.events().size()) < k_events) {
        const bool before_base = static_cast<int>(sequence.events().size()) < k_base_events;
        sequence.step(before_base ? Ddl::not_allowed : Ddl::allowed);
        if (::testing::Test::HasFatalFailure()) return;
        for (auto& state : sequence.take_pending_states())
            states.push_back(std::move(state));
        states.push_back(state_of(a));
        if (before_base && static_cast<int>(sequence.events().size()) >= k_base_events)
            base = snapshot(a);
    }
    const int base_at = k_base_events;  // one event per operation before the base
    ASSERT_EQ(states.size(), sequence.events().size() + 1);
    std::vector<Bson> events;
    for (const auto& e : sequence.events())
        events.push_back(to_bson(e));
    const int total = static_cast<int>(events.size());

    // Random target times from the base's time on: a time selects the events at or before it.
    std::set<int> targets;
    const std::uint32_t first =
        k_first_second + static_cast<std::uint32_t>(base_at) / k_events_per_second;
    const std::uint32_t last =
        k_first_second + static_cast<std::uint32_t>(total) / k_events_per_second + 1;
    while (static_cast<int>(targets.size()) < k_min_targets) {
        const std::uint32_t seconds =
            std::uniform_int_distribution<std::uint32_t>(first, last)(random);
        const std::uint32_t increment =
            std::uniform_int_distribution<std::uint32_t>(0, k_events_per_second)(random);
        // Events at or before (seconds, increment), with event k at (base + k / 3, k % 3 + 1).
        const int count = std::min<int>(
            total, static_cast<int>((seconds - k_first_second) * k_events_per_second + increment));
        if (count >= base_at) targets.insert(count);
    }

    std::uint64_t replayed = 0;
    std::uint64_t refusals = 0;
    for (const int target : targets) {
        // Each replay starts before the base: the base already reflects events [start, base_at).
        // A third of the replays start at the base (nothing re-applied: the field order must
        // match too), the others before it.
        const int start = std::uniform_int_distribution<int>(0, 2)(random) == 0
                              ? base_at
                              : std::uniform_int_distribution<int>(0, base_at)(random);
        SCOPED_TRACE(
            fmt::format("target: after event {} of {}, replay from event {}, base after {}", target,
                        total, start, base_at));
        reset(b);
        load(b, base);
        if (::testing::Test::HasFatalFailure()) return;
        // The base reflects the events before base_at: their refusals are the base's later state.
        mongodb_driver::ApplyOptions options;
        if (base_at > 0) {
            const int last = base_at - 1;
            options.replay_through = mongodb_driver::ClusterTime{
                static_cast<std::uint32_t>(k_first_second + last / k_events_per_second),
                static_cast<std::uint32_t>(last % k_events_per_second + 1)};
        }
        ChangeApplier applier(b, std::nullopt, options);
        for (int i = start; i < target; ++i) {
            auto applied = applier.apply(events[i]);
            ASSERT_TRUE(applied) << applied.error().message;
        }
        auto finished = applier.finish();
        ASSERT_TRUE(finished) << finished.error().message;
        if (start == base_at)
            ASSERT_EQ(state_of(b), states[target]);
        else
            ASSERT_EQ(without_field_order(state_of(b)), without_field_order(states[target]));
        replayed += applier.counts().events;
        refusals += applier.counts().replay_refusals;
    }
    std::map<std::string, int> kinds;
    for (const auto& e : sequence.events()) {
        ++kinds[e["operationType"].get<std::string>()];
        if (e.contains("updateDescription") && !e["updateDescription"]["truncatedArrays"].empty())
            ++kinds["truncations"];
        if (e.contains("updateDescription") &&
            e["updateDescription"].contains("disambiguatedPaths"))
            ++kinds["disambiguated"];
    }
    for (const auto& [kind, count] : kinds)
        RecordProperty(kind, count);
    RecordProperty("targets", static_cast<int>(targets.size()));
    RecordProperty("events_replayed", static_cast<int>(replayed));
    RecordProperty("replay_refusals", static_cast<int>(refusals));
}

}  // namespace
}  // namespace lifeboat
