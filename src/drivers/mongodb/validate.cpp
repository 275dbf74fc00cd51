#include "drivers/mongodb/validate.hpp"

#include <algorithm>
#include <map>

#include "drivers/mongodb/catalog.hpp"
#include "drivers/mongodb/restore_record.hpp"
#include "repository/manifest.hpp"
#include "sources/mongodb/client.hpp"

namespace lifeboat::mongodb_driver {

namespace {

// name -> specification without "v" and "ns" (canonical extended JSON), from a list of specs.
std::map<std::string, std::string> normalized(const std::vector<mongodb::Bson>& specs) {
    std::map<std::string, std::string> out;
    for (const auto& spec : specs) {
        bson_iter_t name;
        if (!bson_iter_init_find(&name, spec.get(), "name") || !BSON_ITER_HOLDS_UTF8(&name))
            continue;
        bson_t copy = BSON_INITIALIZER;
        bson_copy_to_excluding_noinit(spec.get(), &copy, "v", "ns", nullptr);
        out[bson_iter_utf8(&name, nullptr)] = mongodb::Bson::copy_of(copy).canonical_json();
        bson_destroy(&copy);
    }
    return out;
}

Result<std::vector<mongodb::Bson>> recorded_indexes(const repo::MongoCollection& c) {
    const auto recorded = LB_TRY(mongodb::Bson::from_json(c.indexes_json));
    std::vector<mongodb::Bson> out;
    bson_iter_t it, list;
    if (!bson_iter_init_find(&it, recorded.get(), "indexes") || !bson_iter_recurse(&it, &list))
        return fail(ErrorCode::corrupt, "{}.{}: the recorded indexes are no list", c.database,
                    c.name);
    while (bson_iter_next(&list)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&list)) continue;
        std::uint32_t length = 0;
        const std::uint8_t* data = nullptr;
        bson_iter_document(&list, &length, &data);
        out.push_back(LB_TRY(mongodb::Bson::from_bytes(
            std::string_view(reinterpret_cast<const char*>(data), length))));
    }
    return out;
}

std::string describe_difference(const std::map<std::string, std::string>& want,
                                const std::map<std::string, std::string>& got) {
    for (const auto& [name, spec] : want) {
        auto found = got.find(name);
        if (found == got.end()) return fmt::format("index {} is missing", name);
        if (found->second != spec)
            return fmt::format("index {} is {} instead of {}", name, found->second, spec);
    }
    for (const auto& [name, spec] : got)
        if (!want.contains(name)) return fmt::format("index {} is not in the backup", name);
    return {};
}

}  // namespace

Result<source::ValidationReport> validate(const source::ValidateOptions& options) {
    if (!options.recorded) {
        return fail(ErrorCode::usage,
                    "validate --source-kind mongodb compares with a backup: give --repo (and "
                    "--backup ID, default the newest)");
    }
    const repo::Manifest& m = *options.recorded;
    source::ValidationReport report;
    auto client = mongodb::Client::connect(options.conninfo, {});
    if (!client) {
        report.checks.push_back({.kind = "connect",
                                 .name = mongodb::redact_uri(options.conninfo),
                                 .passed = false,
                                 .detail = client.error().message});
        return report;
    }
    auto wanted = [&](const repo::MongoCollection& c) {
        return options.databases.empty() ||
               std::find(options.databases.begin(), options.databases.end(), c.database) !=
                   options.databases.end();
    };
    std::optional<RestoreRecord> record;
    if (options.restore_dir) {
        record = LB_TRY(read_restore_record(*options.restore_dir));
        if (record->backup_id != m.id) {
            return fail(ErrorCode::usage,
                        "{} records a restore of backup {}, not of backup {}: give --backup {} "
                        "or leave --backup out",
                        options.restore_dir->string(), record->backup_id, m.id, record->backup_id);
        }
    }
    const std::string up_to = !record          ? std::string()
                              : record->target ? "up to " + format_iso8601(*record->target)
                                               : std::string("up to the end of the log");
    std::vector<std::string> connected;
    for (const auto& c : m.mongodb.collections) {
        if (c.type != "collection" || !wanted(c)) continue;
        const std::string origin = c.database + "." + c.name;
        // Where the events left the backup's documents: renamed, dropped, or where they were.
        const CollectionFate* fate = record ? record->fate_of(origin) : nullptr;
        const bool gone = record && record->is_gone(origin);
        const std::string name = fate ? fate->name : origin;
        const auto dot = name.find('.');
        const std::string database = name.substr(0, dot);
        const std::string collection = name.substr(dot + 1);
        if (std::find(connected.begin(), connected.end(), database) == connected.end()) {
            connected.push_back(database);
            report.checks.push_back(
                {.kind = "connect", .name = database, .passed = true, .database = database});
        }
        auto outcome = [&](std::string kind, bool passed, std::string detail) {
            report.checks.push_back({.kind = std::move(kind),
                                     .name = name,
                                     .passed = passed,
                                     .detail = std::move(detail),
                                     .database = database});
        };
        auto skipped = [&](std::string kind, std::string detail) {
            report.checks.push_back({.kind = std::move(kind),
                                     .name = name,
                                     .passed = true,
                                     .detail = std::move(detail),
                                     .skipped = true,
                                     .database = database});
        };
        auto count = client->count(database, collection);
        if (!count) {
            outcome("document_count", false, count.error().message);
            continue;
        }
        if (gone) {
            // A name the events wrote again after the drop holds documents no backup recorded.
            const bool rewritten =
                std::any_of(record->collections.begin(), record->collections.end(),
                            [&](const CollectionFate& f) { return f.name == origin; });
            if (rewritten) {
                skipped("document_count",
                        fmt::format("dropped and written again by the events {}", up_to));
            } else {
                outcome("document_count", *count == 0,
                        *count == 0 ? fmt::format("dropped by the events {}", up_to)
                                    : fmt::format("{} documents, but the events {} dropped it",
                                                  *count, up_to));
            }
            continue;
        }
        report.tables.push_back(
            {.database = database, .schema = "", .table = collection, .rows = *count});
        if (fate && fate->events > 0) {
            skipped("document_count",
                    fmt::format("{} documents; changed by {} event(s) {}{}", *count, fate->events,
                                up_to, name == origin ? std::string() : " (was " + origin + ")"));
        } else {
            const bool counts_match = static_cast<std::uint64_t>(*count) == c.documents;
            outcome("document_count", counts_match,
                    counts_match
                        ? fmt::format("{} documents", *count)
                        : fmt::format("{} documents, the backup recorded {}", *count, c.documents));
        }

        const auto want = normalized(LB_TRY(recorded_indexes(c)));
        if (auto got = client->list_indexes(database, collection); !got) {
            outcome("indexes", false, got.error().message);
        } else {
            const std::string difference = describe_difference(want, normalized(*got));
            outcome("indexes", difference.empty(),
                    difference.empty() ? fmt::format("{} index(es) as recorded", want.size())
                                       : difference);
        }

        std::size_t differing = 0, unknown = 0, by_events = 0;
        std::string first;
        for (const auto& sample : c.samples) {
            SampleFate expected{.state = SampleState::hash, .sha256 = sample.sha256};
            bool from_events = false;
            if (fate) {
                if (auto found = fate->samples.find(sample.id_json); found != fate->samples.end()) {
                    expected = found->second;
                    from_events = true;
                    ++by_events;
                }
            }
            if (expected.state == SampleState::unknown) {
                ++unknown;
                continue;
            }
            const auto filter = LB_TRY(mongodb::Bson::from_json(sample.id_json));
            std::string hash;
            auto found = client->find(database, collection, filter, mongodb::Bson(),
                                      [&](mongodb::DocumentRef ref) -> Status {
                                          const bson_t* doc = ref.doc;
                                          hash = document_hash(*doc);
                                          return {};
                                      });
            if (!found) return std::unexpected(found.error());
            const std::string want_hash =
                expected.state == SampleState::absent ? std::string() : expected.sha256;
            if (hash == want_hash) continue;
            if (differing++ > 0) continue;
            if (expected.state == SampleState::absent) {
                first = fmt::format("document {} exists, but the events {} deleted it",
                                    sample.id_json, up_to);
            } else if (hash.empty()) {
                first = fmt::format("document {} is missing", sample.id_json);
            } else {
                first = fmt::format("document {} differs from {}", sample.id_json,
                                    from_events ? "the events' last full document" : "the backup");
            }
        }
        const std::size_t checked = c.samples.size() - unknown;
        std::string detail =
            differing == 0
                ? fmt::format("{} sampled document(s) as expected", checked)
                : fmt::format("{} of {} sampled documents differ: {}", differing, checked, first);
        if (by_events > 0)
            detail += fmt::format(" ({} as the events {} left them)", by_events - unknown, up_to);
        if (unknown > 0)
            detail += fmt::format("; {} skipped: updated by the events {}", unknown, up_to);
        outcome("sample_hash", differing == 0, detail);
    }
    return report;
}

}  // namespace lifeboat::mongodb_driver
