// What may enter the WAL archive: checks that an archived file is what its name says (a segment
// whose pages lie where the name places them, on its timeline; a timeline history PostgreSQL can
// parse; a backup history file about its own segment), and that WAL comes from the cluster the
// repository protects. Shared by wal-push (refuse before storing) and verify (flag what older
// versions stored).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "storage/storage.hpp"

namespace lifeboat::postgres_physical {

struct WalFileFacts {
    // From the long page header of a segment or .partial file; nullopt for other kinds.
    std::optional<std::string> system_identifier;  // decimal, as pg_control_system() prints it
};

// Checks `content` against `name` (see the header comment). A segment with pages of a parent
// timeline (the first segment of a timeline, partly copied from its parent at the switch) is
// accepted only when the archive's history file of its timeline places the switch inside it.
// ErrorCode::usage for a name that is no WAL file name; ErrorCode::corrupt for content that does
// not match, with a message naming what is wrong.
Result<WalFileFacts> check_wal_file(const Storage& storage, const std::string& name,
                                    std::string_view content);

}  // namespace lifeboat::postgres_physical
