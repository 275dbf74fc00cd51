// Pins (docs/repository-format.md, "PINS"): a pinned backup is never expired, until a date or
// for ever. Pins are small objects of their own, `pins/<backup-id>`, so that backups stay
// immutable; pinning again replaces the pin, unpinning removes it.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "storage/storage.hpp"
#include "util/time.hpp"

namespace lifeboat::repo {

struct Pin {
    std::string backup_id;
    std::optional<Timestamp> until;  // nullopt: for ever
    Timestamp created;
    // In force at `now`?
    bool holds_at(Timestamp now) const { return !until || now < *until; }
};

Status write_pin(Storage& storage, const Pin& pin);
Status remove_pin(Storage& storage, const std::string& backup_id);
// Every pin, by backup id.
Result<std::map<std::string, Pin>> read_pins(const Storage& storage);

}  // namespace lifeboat::repo
