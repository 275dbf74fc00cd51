// Every parser of repository bytes, one entry point per object kind, each taking the bytes as a
// reader finds them (the payload once the envelope is checked; a lock's whole body). The hostile
// input tests run each over crafted inputs; a libFuzzer target can run the same table:
//   for (const auto& p : object_parsers()) (void)p.parse(std::string_view(data, size));
// A parser must return a value or an ErrorCode::corrupt error, never crash, throw or hang.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/drill.hpp"
#include "repository/cluster_identity.hpp"
#include "repository/index.hpp"
#include "repository/lock.hpp"
#include "repository/manifest.hpp"
#include "repository/object.hpp"
#include "repository/pack.hpp"
#include "repository/pins.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"

namespace lifeboat::repo::test_support {

struct ObjectParser {
    std::string kind;  // what the input is
    std::string key;   // the key errors must name
    std::function<Status(std::string_view)> parse;
};

inline const std::vector<ObjectParser>& object_parsers() {
    static const std::vector<ObjectParser> parsers = [] {
        const std::string pack_id(64, 'a');
        std::vector<ObjectParser> out;
        auto add = [&](std::string kind, std::string key, auto parse) {
            out.push_back({std::move(kind), key, [key, parse](std::string_view bytes) -> Status {
                               LB_CHECK(parse(bytes, key));
                               return {};
                           }});
        };
        add("envelope", "backups/20261126T080000Z", [](std::string_view b, const std::string& k) {
            return decode_object(b, ObjectKind::manifest, k);
        });
        add("pack payload", pack_key(pack_id), [pack_id](std::string_view b, const std::string& k) {
            return parse_pack_payload(b, pack_id, k, b.size() + k_header_size + k_trailer_size);
        });
        add("index", "index/" + std::string(64, 'b'),
            [](std::string_view b, const std::string& k) { return parse_index(b, k); });
        add("manifest", "backups/20261126T080000Z",
            [](std::string_view b, const std::string& k) { return parse_manifest(b, k, 1); });
        add("manifest v2", "backups/20261126T080000Z",
            [](std::string_view b, const std::string& k) { return parse_manifest(b, k, 2); });
        add("manifest postgres-logical", "backups/20261126T080000Z",
            [](std::string_view b, const std::string& k) { return parse_manifest(b, k, 2); });
        add("WAL payload", "wal/0000000100000000/000000010000000000000002",
            [](std::string_view b, const std::string& k) { return parse_wal_payload(b, k); });
        add("WAL metadata", "wal/0000000100000000/000000010000000000000002",
            [](std::string_view b, const std::string& k) { return parse_wal_meta(b, k); });
        add("config", "repo/config",
            [](std::string_view b, const std::string& k) { return parse_config(b, k); });
        add("pin", "pins/20261126T080000Z",
            [](std::string_view b, const std::string& k) { return parse_pin(b, k); });
        add("lock", "locks/exclusive",
            [](std::string_view b, const std::string& k) { return parse_lock(b, k); });
        add("cluster identity", "cluster",
            [](std::string_view b, const std::string& k) { return parse_cluster_identity(b, k); });
        add("drill record", "drills/20261126T080000Z-abcd",
            [](std::string_view b, const std::string& k) {
                return repo::parse_drill_record(b, k);
            });
        return out;
    }();
    return parsers;
}

}  // namespace lifeboat::repo::test_support
