// SourceDriver: one source kind (docs/architecture.md, "Source drivers"). The engine reaches a
// kind only through this interface and the LogArchive it hands out, and finds the driver by the
// kind its manifests name (registry.hpp); it never includes a driver. The CLI (and the agent)
// register the drivers they are built with, in one wiring file.
#pragma once

#include <memory>
#include <string_view>

#include "source/base_backup.hpp"
#include "source/log_archive.hpp"
#include "source/restore_target.hpp"
#include "source/validation.hpp"

namespace lifeboat::source {

class SourceDriver {
  public:
    virtual ~SourceDriver() = default;
    // The kind it handles, as manifests name it ("postgres-physical").
    virtual std::string_view kind() const = 0;
    // Its log: window, copy, verify, expire and restore go through it.
    virtual const LogArchive& log_archive() const = 0;

    // Connects to the source for one backup (checks it can be backed up: version, settings).
    virtual Result<std::unique_ptr<BaseBackup>> open_base_backup(
        const BaseBackupRequest& request) const = 0;

    // Checks a running instance of this kind (a restored one, typically): source/validation.hpp
    // says what a report holds; the driver's own header what it checks. Errors only for what
    // stopped the checks (no connection, unreadable checks or baseline files).
    virtual Result<ValidationReport> validate(const ValidateOptions& options) const = 0;

    // The target half of a restore into a new instance (restore_target.hpp).
    virtual std::unique_ptr<RestoreTarget> restore_target(RestoreRequest request) const = 0;

    // The newest commit a running instance holds, when it can tell (a drill's measured RPO).
    virtual std::optional<Timestamp> newest_commit(const std::string& conninfo,
                                                   std::chrono::seconds statement_limit) const = 0;

    // Stops, for certain, an instance a restore started in `directory` (found with `how`'s
    // programs and account): gently first, then by force after a grace period. Returns a note
    // when it had to force it ("" otherwise); an error when it may still run (then its
    // directory must be kept, never removed under a live server).
    virtual Result<std::string> stop_instance(const fs::path& directory,
                                              const RestoreRequest& how) const = 0;
};

}  // namespace lifeboat::source
