// Pins (docs/repository-format.md, "PINS"): a pinned backup is never expired, until a date or
// for ever. Pins are small objects of their own, `pins/<backup-id>`, so that backups stay
// immutable; pinning again replaces the pin, unpinning removes it. `copy` carries pins to the
// destination (engine/copy.hpp says how a pin changed later at the source follows).
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
    // The repository_id of the repository this pin was copied from; "" for a pin set in this
    // repository (by `pin` or `backup --pin`), which copies never change or remove.
    std::string origin;
    // In force at `now`?
    bool holds_at(Timestamp now) const { return !until || now < *until; }
    // Same backup, end and creation time (the origin aside).
    bool same_terms(const Pin& other) const {
        return backup_id == other.backup_id && until == other.until && created == other.created;
    }
};

Status write_pin(Storage& storage, const Pin& pin);
Status remove_pin(Storage& storage, const std::string& backup_id);
// Every pin, by backup id.
Result<std::map<std::string, Pin>> read_pins(const Storage& storage);

}  // namespace lifeboat::repo
