// The logical PostgreSQL driver against its frozen format-2 sample (one base backup; no change
// stream yet, so no log).
#include "conformance/source/source_driver_conformance.hpp"
#include "drivers/postgres_logical/driver.hpp"

namespace lifeboat::conformance {

INSTANTIATE_TEST_SUITE_P(
    PostgresLogical, SourceDriverConformance,
    ::testing::Values(DriverSample{
        "postgres-logical", std::filesystem::path(LIFEBOAT_TEST_DATA) / "repo-v2-logical",
        std::nullopt, &postgres_logical::register_driver, SampleLog::none_yet}),
    [](const ::testing::TestParamInfo<DriverSample>&) { return std::string("Plain"); });

}  // namespace lifeboat::conformance
