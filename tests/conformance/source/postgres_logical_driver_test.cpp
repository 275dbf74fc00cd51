// The logical PostgreSQL driver against its frozen format-2 samples: one base backup without a
// change log (as the first increment wrote it: no log), and one with a captured change log
// (inserts, an update and a delete, a DDL message, a streamed transaction, sequence samples).
#include "conformance/source/source_driver_conformance.hpp"
#include "drivers/postgres_logical/driver.hpp"

namespace lifeboat::conformance {

INSTANTIATE_TEST_SUITE_P(
    PostgresLogical, SourceDriverConformance,
    ::testing::Values(
        DriverSample{"postgres-logical",
                     std::filesystem::path(LIFEBOAT_TEST_DATA) / "repo-v2-logical", std::nullopt,
                     &postgres_logical::register_driver, SampleLog::none_yet},
        DriverSample{"postgres-logical",
                     std::filesystem::path(LIFEBOAT_TEST_DATA) / "repo-v2-logical-capture",
                     std::nullopt, &postgres_logical::register_driver, SampleLog::archived}),
    [](const ::testing::TestParamInfo<DriverSample>& info) {
        return std::string(info.index == 0 ? "Plain" : "Captured");
    });

}  // namespace lifeboat::conformance
