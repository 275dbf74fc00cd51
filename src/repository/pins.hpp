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
    // Set when the stored pin could not be read in full: such a pin holds for ever (expiring a
    // backup its owner meant to keep is the one mistake that cannot be undone) and the text says
    // what was wrong, for `list` and `expire` to show.
    std::string problem;
    // Whether `pin --legal-hold` put an object-lock legal hold on every object the backup needs
    // (its manifest, index objects, packs and WAL), which `unpin` releases.
    LegalHold legal_hold = LegalHold::off;
    // In force at `now`?
    bool holds_at(Timestamp now) const { return !until || now < *until; }
    // Same backup, end and creation time (the origin aside).
    bool same_terms(const Pin& other) const {
        return backup_id == other.backup_id && until == other.until && created == other.created;
    }
};

// The key of a backup's pin object ("pins/<backup-id>").
std::string pin_key(const std::string& backup_id);
Status write_pin(Storage& storage, const Pin& pin);
// Parses the payload of pin `key` (JSON, envelope already checked): "backup" a string, "until"
// null or a time, "created" a time; ErrorCode::corrupt naming the key and the field otherwise.
// An entry point for fuzzing.
Result<Pin> parse_pin(std::string_view text, std::string_view key);
Status remove_pin(Storage& storage, const std::string& backup_id);
// Every pin, by backup id. A pin object that is damaged or holds an unreadable time does not fail
// the whole read: it comes back as a pin for ever with `problem` set. Only a failure to list or
// read the objects is an error.
Result<std::map<std::string, Pin>> read_pins(const Storage& storage);

}  // namespace lifeboat::repo
