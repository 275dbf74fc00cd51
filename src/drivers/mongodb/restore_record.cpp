#include "drivers/mongodb/restore_record.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "drivers/mongodb/catalog.hpp"

namespace lifeboat::mongodb_driver {

using nlohmann::json;

namespace {

constexpr const char* k_format = "lifeboat-mongodb-restore-record";
constexpr int k_version = 1;

std::string utf8_field(const bson_t& doc, const char* key) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, &doc, key) || !BSON_ITER_HOLDS_UTF8(&it)) return {};
    return bson_iter_utf8(&it, nullptr);
}

// Calls `use` with the subdocument `key` of `doc` (borrowing its bytes) and returns what it
// returns; `otherwise` when there is none. (A static bson_t points into itself: it cannot be
// returned by value.)
template <typename T, typename Use>
T with_subdocument(const bson_t& doc, const char* key, T otherwise, Use use) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, &doc, key) || !BSON_ITER_HOLDS_DOCUMENT(&it)) return otherwise;
    std::uint32_t length = 0;
    const std::uint8_t* data = nullptr;
    bson_iter_document(&it, &length, &data);
    bson_t sub;
    if (!bson_init_static(&sub, data, length)) return otherwise;
    return use(static_cast<const bson_t&>(sub));
}

std::string namespace_of(const bson_t& event, const char* key) {
    return with_subdocument(event, key, std::string(), [](const bson_t& ns) {
        const std::string db = utf8_field(ns, "db");
        const std::string coll = utf8_field(ns, "coll");
        return coll.empty() ? db : db + "." + coll;
    });
}

const char* state_name(SampleState s) {
    switch (s) {
        case SampleState::hash:
            return "hash";
        case SampleState::absent:
            return "absent";
        case SampleState::unknown:
            break;
    }
    return "unknown";
}

}  // namespace

const CollectionFate* RestoreRecord::fate_of(const std::string& ns) const {
    for (const auto& c : collections)
        if (c.origin == ns) return &c;
    return nullptr;
}

bool RestoreRecord::is_gone(const std::string& ns) const {
    return std::find(gone.begin(), gone.end(), ns) != gone.end();
}

Result<ChangeSummary> summarize_change(const mongodb::Bson& event) {
    ChangeSummary out;
    out.operation = utf8_field(*event.get(), "operationType");
    if (out.operation.empty())
        return fail(ErrorCode::corrupt, "a change event has no operationType");
    out.ns = namespace_of(*event.get(), "ns");
    out.to = namespace_of(*event.get(), "to");
    out.id_json =
        with_subdocument(*event.get(), "documentKey", std::string(), [](const bson_t& key) {
            auto id = id_filter_json(key);
            return id ? std::move(*id) : std::string();
        });
    if (out.operation == "insert" || out.operation == "replace") {
        out.full_hash = with_subdocument(*event.get(), "fullDocument", std::string(),
                                         [](const bson_t& full) { return document_hash(full); });
    }
    return out;
}

RestoreRecordBuilder::RestoreRecordBuilder(const repo::Manifest& backup) : m_backup_id(backup.id) {
    for (const auto& c : backup.mongodb.collections) {
        if (c.type != "collection") continue;
        const std::string ns = c.database + "." + c.name;
        m_backup.push_back(ns);
        m_present[ns] = CollectionFate{.name = ns, .origin = ns};
        auto& ids = m_sampled[ns];
        for (const auto& s : c.samples)
            ids.insert(s.id_json);
    }
}

void RestoreRecordBuilder::observe(const ChangeSummary& change) {
    ++m_events;
    const std::string& op = change.operation;
    if (op == "dropDatabase") {
        const std::string prefix = change.ns + ".";
        std::erase_if(m_present,
                      [&](const auto& entry) { return entry.first.starts_with(prefix); });
        return;
    }
    if (op == "drop") {
        m_present.erase(change.ns);
        return;
    }
    if (op == "rename") {
        auto found = m_present.extract(change.ns);
        // A source no longer there: the applier does nothing, the target keeps its documents.
        if (found.empty()) return;
        CollectionFate moved = std::move(found.mapped());
        moved.name = change.to;
        ++moved.events;
        m_present.erase(change.to);
        m_present.emplace(change.to, std::move(moved));
        return;
    }
    if (op != "insert" && op != "replace" && op != "update" && op != "delete") return;
    auto [it, created] = m_present.try_emplace(change.ns, CollectionFate{.name = change.ns});
    CollectionFate& fate = it->second;
    ++fate.events;
    const auto sampled = m_sampled.find(fate.origin);
    if (change.id_json.empty() || sampled == m_sampled.end() ||
        !sampled->second.contains(change.id_json))
        return;
    SampleFate& sample = fate.samples[change.id_json];
    if (op == "delete") {
        sample = {.state = SampleState::absent};
    } else if (op == "update" || change.full_hash.empty()) {
        sample = {.state = SampleState::unknown};
    } else {
        sample = {.state = SampleState::hash, .sha256 = change.full_hash};
    }
}

RestoreRecord RestoreRecordBuilder::finish(std::optional<Timestamp> target) const {
    RestoreRecord out;
    out.backup_id = m_backup_id;
    out.target = target;
    out.events = m_events;
    for (const auto& [name, fate] : m_present)
        if (fate.events > 0 || fate.origin != name) out.collections.push_back(fate);
    for (const auto& ns : m_backup) {
        const bool somewhere = std::any_of(m_present.begin(), m_present.end(),
                                           [&](const auto& e) { return e.second.origin == ns; });
        if (!somewhere) out.gone.push_back(ns);
    }
    return out;
}

std::string restore_record_json(const RestoreRecord& record) {
    json collections = json::array();
    for (const auto& c : record.collections) {
        json samples = json::array();
        for (const auto& [id, s] : c.samples)
            samples.push_back({{"id", id}, {"state", state_name(s.state)}, {"sha256", s.sha256}});
        collections.push_back({{"name", c.name},
                               {"origin", c.origin},
                               {"events", c.events},
                               {"samples", std::move(samples)}});
    }
    const json out = {{"format", k_format},
                      {"version", k_version},
                      {"backup", record.backup_id},
                      {"target", record.target ? json(format_iso8601(*record.target)) : json()},
                      {"events", record.events},
                      {"collections", std::move(collections)},
                      {"gone", record.gone}};
    return out.dump(2) + "\n";
}

Result<RestoreRecord> parse_restore_record(std::string_view text, std::string_view what) {
    const json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || j.value("format", "") != k_format)
        return fail(ErrorCode::corrupt, "{} is not a mongodb restore record", what);
    if (j.value("version", 0) != k_version) {
        return fail(ErrorCode::unsupported,
                    "{}: restore record version {} (this lifeboat reads {})", what,
                    j.value("version", 0), k_version);
    }
    try {
        RestoreRecord out;
        out.backup_id = j.at("backup").get<std::string>();
        if (j.contains("target") && j.at("target").is_string())
            out.target = LB_TRY(parse_iso8601(j.at("target").get<std::string>()));
        out.events = j.at("events").get<std::uint64_t>();
        for (const auto& c : j.at("collections")) {
            CollectionFate fate{.name = c.at("name").get<std::string>(),
                                .origin = c.at("origin").get<std::string>(),
                                .events = c.at("events").get<std::uint64_t>()};
            for (const auto& s : c.at("samples")) {
                const std::string state = s.at("state").get<std::string>();
                fate.samples[s.at("id").get<std::string>()] = {
                    .state = state == "hash"     ? SampleState::hash
                             : state == "absent" ? SampleState::absent
                                                 : SampleState::unknown,
                    .sha256 = s.value("sha256", "")};
            }
            out.collections.push_back(std::move(fate));
        }
        out.gone = j.at("gone").get<std::vector<std::string>>();
        return out;
    } catch (const json::exception& e) {
        return fail(ErrorCode::corrupt, "{}: damaged restore record: {}", what, e.what());
    }
}

Result<RestoreRecord> read_restore_record(const fs::path& dir) {
    const fs::path path = dir / k_restore_record_file;
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        return fail(ErrorCode::not_found,
                    "{} holds no mongodb restore record ({}): give the --target-dir of a mongodb "
                    "restore",
                    dir.string(), k_restore_record_file);
    }
    const std::string text = LB_TRY(read_file(path));
    return parse_restore_record(text, path.string());
}

}  // namespace lifeboat::mongodb_driver
