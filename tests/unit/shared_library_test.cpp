// util/shared_library.hpp: a library opened at the first use, its failures as one clear message.
#include <gtest/gtest.h>

#include <cstring>

#include "util/shared_library.hpp"

using namespace lifeboat;

TEST(SharedLibrary, FindsAFunctionOfALibraryAtItsFirstUse) {
    // libz is installed wherever the program runs (OpenSSL and libpq depend on it).
    const SharedLibrary zlib("libz.so.1", "zlib", "zlib1g");
    ASSERT_TRUE(zlib.load());
    using Version = const char* (*)();
    auto version = reinterpret_cast<Version>(zlib.symbol("zlibVersion"));
    ASSERT_NE(version, nullptr);
    EXPECT_EQ(std::strncmp(version(), "1.", 2), 0);
}

TEST(SharedLibrary, AMissingLibraryIsAnIoErrorNamingItAndItsPackage) {
    const SharedLibrary missing("liblifeboat-no-such-library.so.7", "the test library",
                                "lifeboat-test-package");
    auto status = missing.load();
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, ErrorCode::io);
    EXPECT_NE(status.error().message.find(
                  "the test library (liblifeboat-no-such-library.so.7) cannot be loaded"),
              std::string::npos)
        << status.error().message;
    EXPECT_NE(status.error().message.find("install the package lifeboat-test-package"),
              std::string::npos);
    EXPECT_THROW(missing.symbol("anything"), LibraryUnavailable);
}

TEST(SharedLibrary, AMissingFunctionThrowsNamingIt) {
    const SharedLibrary zlib("libz.so.1", "zlib", "zlib1g");
    try {
        zlib.symbol("lifeboat_no_such_function");
        FAIL() << "no exception";
    } catch (const LibraryUnavailable& e) {
        EXPECT_NE(std::string(e.what()).find("has no function lifeboat_no_such_function"),
                  std::string::npos)
            << e.what();
    }
}
