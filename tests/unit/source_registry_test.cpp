// The driver registry (source/registry.hpp). The unit tests run engine code that finds drivers
// through it, so this file also registers the drivers the program registers (cli/wiring.cpp)
// before any test runs.
#include <gtest/gtest.h>

#include "drivers/postgres_logical/driver.hpp"
#include "drivers/postgres_physical/driver.hpp"
#include "source/registry.hpp"

using namespace lifeboat;

namespace {
const bool k_registered = [] {
    postgres_physical::register_driver();
    postgres_logical::register_driver();
    return true;
}();

repo::Manifest backup_of_kind(std::string id, std::string kind) {
    repo::Manifest m;
    m.id = std::move(id);
    m.source.kind = std::move(kind);
    return m;
}
}  // namespace

TEST(SourceRegistry, FindsThePhysicalPostgresDriverByKind) {
    ASSERT_TRUE(k_registered);
    auto driver = source::driver_for("postgres-physical");
    ASSERT_TRUE(driver) << driver.error().message;
    EXPECT_EQ((*driver)->kind(), "postgres-physical");
}

TEST(SourceRegistry, AnUnknownKindIsAConfigurationErrorNamingIt) {
    auto driver = source::driver_for("mongodb-someday");
    ASSERT_FALSE(driver);
    EXPECT_EQ(driver.error().code, ErrorCode::config);
    EXPECT_NE(driver.error().message.find("mongodb-someday"), std::string::npos);
}

TEST(SourceRegistry, ARepositoryWithoutBackupsIsPhysicalPostgres) {
    auto driver = source::driver_for(std::vector<repo::Manifest>{});
    ASSERT_TRUE(driver) << driver.error().message;
    EXPECT_EQ((*driver)->kind(), "postgres-physical");
}

TEST(SourceRegistry, BackupsOfTwoKindsInOneRepositoryAreCorrupt) {
    const std::vector<repo::Manifest> mixed = {backup_of_kind("A", "postgres-physical"),
                                               backup_of_kind("B", "postgres-logical")};
    auto driver = source::driver_for(mixed);
    ASSERT_FALSE(driver);
    EXPECT_EQ(driver.error().code, ErrorCode::corrupt);
    EXPECT_NE(driver.error().message.find("B (postgres-logical)"), std::string::npos);
}
