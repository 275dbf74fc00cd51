// The mongodb driver against its frozen format-2 samples: one base backup of 200 documents in four
// collections, made against CongoDB without change streams
// (tests/data/make_repo_v2_mongodb_sample.sh: no log), and one made through the scripted
// replica-set primary in front of CongoDB with six captured change events in three change-log
// objects (tests/data/make_repo_v2_mongodb_capture_sample.sh).
#include "conformance/source/source_driver_conformance.hpp"
#include "drivers/mongodb/driver.hpp"

namespace lifeboat::conformance {

INSTANTIATE_TEST_SUITE_P(
    MongoDb, SourceDriverConformance,
    ::testing::Values(
        DriverSample{"mongodb", std::filesystem::path(LIFEBOAT_TEST_DATA) / "repo-v2-mongodb",
                     std::nullopt, &mongodb_driver::register_driver, SampleLog::none_yet},
        DriverSample{"mongodb",
                     std::filesystem::path(LIFEBOAT_TEST_DATA) / "repo-v2-mongodb-capture",
                     std::nullopt, &mongodb_driver::register_driver, SampleLog::archived}),
    [](const ::testing::TestParamInfo<DriverSample>& info) {
        return std::string(info.index == 0 ? "Plain" : "Captured");
    });

}  // namespace lifeboat::conformance
