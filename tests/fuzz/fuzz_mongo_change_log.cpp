// Fuzz target: the mongodb change log (drivers/mongodb/change_log.hpp) and the change events it
// holds. The first byte picks what the rest is: an object's content for read_change_log (every
// record then written again must read back the same, and each event's BSON is parsed and, when
// it is a document with an updateDescription, that description is parsed and applied to an empty
// document); an object name (a name that parses names the same span again); a resume token's
// extended JSON; or a list of names and a start position for follow_chain (its run is made of
// the names given, in order of position).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "sources/mongodb/c_driver.hpp"

#include "drivers/mongodb/change_log.hpp"
#include "drivers/mongodb/document_edit.hpp"
#include "sources/mongodb/bson.hpp"

using namespace lifeboat;
using namespace lifeboat::mongodb_driver;

namespace {

void check_event(std::string_view payload) {
    auto event = mongodb::Bson::from_bytes(payload);
    if (!event) return;
    (void)event->canonical_json();
    bson_iter_t it;
    if (!bson_iter_init_find(&it, event->get(), "updateDescription") ||
        !BSON_ITER_HOLDS_DOCUMENT(&it)) {
        return;
    }
    std::uint32_t length = 0;
    const std::uint8_t* data = nullptr;
    bson_iter_document(&it, &length, &data);
    auto description = mongodb::Bson::from_bytes({reinterpret_cast<const char*>(data), length});
    if (!description) return;
    auto parsed = parse_update_description(*description);
    if (!parsed) return;
    (void)apply_update_description(mongodb::Bson(), *parsed);
}

void check_content(std::string_view content) {
    auto records = read_change_log(content, "fuzz");
    if (!records) return;
    ChangeLogWriter writer;
    for (const auto& r : *records) {
        writer.add(r.kind, r.cluster_time, r.wall_ms, r.payload);
        if (r.kind == ChangeRecordKind::event) check_event(r.payload);
    }
    auto again = read_change_log(writer.content(), "fuzz");
    if (!again || again->size() != records->size()) __builtin_trap();
    for (std::size_t i = 0; i < records->size(); ++i) {
        const auto& a = (*records)[i];
        const auto& b = (*again)[i];
        if (a.kind != b.kind || a.cluster_time != b.cluster_time || a.wall_ms != b.wall_ms ||
            a.payload != b.payload) {
            __builtin_trap();
        }
    }
}

void check_name(std::string_view name) {
    const auto span = parse_change_log_object_name(name);
    if (!span) return;
    const auto back = parse_change_log_object_name(change_log_object_name(*span));
    if (!back || back->start != span->start || back->end != span->end || back->kind != span->kind)
        __builtin_trap();
}

void check_chain(std::string_view input) {
    if (input.size() < 8) return;
    std::uint64_t from = 0;
    std::memcpy(&from, input.data(), 8);
    std::vector<std::string> names;
    std::string_view rest = input.substr(8);
    while (!rest.empty()) {
        const auto end = rest.find('\n');
        names.emplace_back(rest.substr(0, end));
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end + 1);
    }
    const ChainRun run = follow_chain(names, from);
    for (const auto& object : run.objects) {
        bool given = false;
        for (const auto& n : names)
            given = given || n == object;
        if (!given) __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 4) {
        case 0:
            check_content(rest);
            break;
        case 1:
            check_name(rest);
            break;
        case 2:
            (void)resume_token_position(rest);
            break;
        default:
            check_chain(rest);
            break;
    }
    return 0;
}
