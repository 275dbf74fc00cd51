// SourceDriver: one source kind (docs/architecture.md, "Source drivers"). The engine reaches a
// kind only through this interface and the LogArchive it hands out, and finds the driver by the
// kind its manifests name (registry.hpp); it never includes a driver. The CLI (and the agent)
// register the drivers they are built with, in one wiring file.
#pragma once

#include <string_view>

#include "source/log_archive.hpp"

namespace lifeboat::source {

class SourceDriver {
  public:
    virtual ~SourceDriver() = default;
    // The kind it handles, as manifests name it ("postgres-physical").
    virtual std::string_view kind() const = 0;
    // Its log: window, copy, verify, expire and restore go through it.
    virtual const LogArchive& log_archive() const = 0;
};

}  // namespace lifeboat::source
