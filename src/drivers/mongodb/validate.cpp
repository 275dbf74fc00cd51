#include "drivers/mongodb/validate.hpp"

#include <algorithm>
#include <map>

#include "drivers/mongodb/catalog.hpp"
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
    std::vector<std::string> connected;
    for (const auto& c : m.mongodb.collections) {
        if (c.type != "collection" || !wanted(c)) continue;
        if (std::find(connected.begin(), connected.end(), c.database) == connected.end()) {
            connected.push_back(c.database);
            report.checks.push_back(
                {.kind = "connect", .name = c.database, .passed = true, .database = c.database});
        }
        const std::string name = c.database + "." + c.name;
        auto outcome = [&](std::string kind, bool passed, std::string detail) {
            report.checks.push_back({.kind = std::move(kind),
                                     .name = name,
                                     .passed = passed,
                                     .detail = std::move(detail),
                                     .database = c.database});
        };
        auto count = client->count(c.database, c.name);
        if (!count) {
            outcome("document_count", false, count.error().message);
            continue;
        }
        report.tables.push_back(
            {.database = c.database, .schema = "", .table = c.name, .rows = *count});
        const bool counts_match = static_cast<std::uint64_t>(*count) == c.documents;
        outcome("document_count", counts_match,
                counts_match
                    ? fmt::format("{} documents", *count)
                    : fmt::format("{} documents, the backup recorded {}", *count, c.documents));

        const auto want = normalized(LB_TRY(recorded_indexes(c)));
        if (auto got = client->list_indexes(c.database, c.name); !got) {
            outcome("indexes", false, got.error().message);
        } else {
            const std::string difference = describe_difference(want, normalized(*got));
            outcome("indexes", difference.empty(),
                    difference.empty() ? fmt::format("{} index(es) as recorded", want.size())
                                       : difference);
        }

        std::size_t differing = 0;
        std::string first;
        for (const auto& sample : c.samples) {
            const auto filter = LB_TRY(mongodb::Bson::from_json(sample.id_json));
            std::string hash;
            auto found = client->find(c.database, c.name, filter, mongodb::Bson(),
                                      [&](mongodb::DocumentRef ref) -> Status {
                                          const bson_t* doc = ref.doc;
                                          hash = document_hash(*doc);
                                          return {};
                                      });
            if (!found) return std::unexpected(found.error());
            if (hash != sample.sha256) {
                if (differing++ == 0)
                    first = fmt::format("document {} {}", sample.id_json,
                                        hash.empty() ? "is missing" : "differs from the backup");
            }
        }
        outcome("sample_hash", differing == 0,
                differing == 0 ? fmt::format("{} sampled document(s) as recorded", c.samples.size())
                               : fmt::format("{} of {} sampled documents differ: {}", differing,
                                             c.samples.size(), first));
    }
    return report;
}

}  // namespace lifeboat::mongodb_driver
