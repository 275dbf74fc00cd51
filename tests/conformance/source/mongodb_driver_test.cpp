// The mongodb driver against its frozen format-2 sample: one base backup of 200 documents in four
// collections, made against CongoDB (tests/data/make_repo_v2_mongodb_sample.sh). Change capture
// does not exist yet: the sample has no log.
#include "conformance/source/source_driver_conformance.hpp"
#include "drivers/mongodb/driver.hpp"

namespace lifeboat::conformance {

INSTANTIATE_TEST_SUITE_P(MongoDb, SourceDriverConformance,
                         ::testing::Values(DriverSample{
                             "mongodb",
                             std::filesystem::path(LIFEBOAT_TEST_DATA) / "repo-v2-mongodb",
                             std::nullopt, &mongodb_driver::register_driver, SampleLog::none_yet}));

}  // namespace lifeboat::conformance
