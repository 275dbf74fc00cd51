// The physical PostgreSQL driver against the frozen format-2 samples (plaintext and encrypted).
#include "conformance/source/source_driver_conformance.hpp"
#include "drivers/postgres_physical/driver.hpp"

namespace lifeboat::conformance {

INSTANTIATE_TEST_SUITE_P(
    PostgresPhysical, SourceDriverConformance,
    ::testing::Values(
        DriverSample{"postgres-physical", std::filesystem::path(LIFEBOAT_TEST_DATA) / "repo-v2",
                     std::nullopt, &postgres_physical::register_driver},
        DriverSample{"postgres-physical",
                     std::filesystem::path(LIFEBOAT_TEST_DATA) / "repo-v2-encrypted",
                     std::filesystem::path(LIFEBOAT_TEST_DATA) / "repo-v2-encrypted.key",
                     &postgres_physical::register_driver}),
    [](const ::testing::TestParamInfo<DriverSample>& info) {
        return info.param.key_file ? std::string("Encrypted") : std::string("Plain");
    });

}  // namespace lifeboat::conformance
