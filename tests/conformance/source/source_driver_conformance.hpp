// The source-driver conformance suite: what every SourceDriver and its LogArchive must do
// (source/driver.hpp, source/log_archive.hpp), checked against a frozen sample repository of the
// driver's kind. A driver joins by instantiating the suite with its sample in
// <kind>_driver_test.cpp.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

namespace lifeboat::conformance {

// Whether a kind's sample has a log after its backups. A kind whose change capture is still to
// come (postgres-logical's first increment) declares none: its backups are restorable to their
// own consistent point only, need no log object, and own none of what lies in the log area.
enum class SampleLog { archived, none_yet };

struct DriverSample {
    std::string kind;                               // as manifests name it
    std::filesystem::path repository;               // a frozen sample holding backups of that kind
    std::optional<std::filesystem::path> key_file;  // when the sample is encrypted
    // Called once, before any test: registers the driver (as the program's wiring does).
    void (*register_driver)() = nullptr;
    SampleLog log = SampleLog::archived;
};

inline void PrintTo(const DriverSample& sample, std::ostream* os) {
    *os << sample.kind << " sample " << sample.repository.filename().string();
}

class SourceDriverConformance : public ::testing::TestWithParam<DriverSample> {};

}  // namespace lifeboat::conformance
