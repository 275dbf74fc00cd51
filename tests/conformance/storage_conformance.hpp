// The Storage conformance suite: every backend must pass the same tests, which check the contract
// written in src/storage/storage.hpp. A backend joins with one line in its own *_test.cpp:
//
//   INSTANTIATE_TEST_SUITE_P(Posix, StorageConformance,
//       ::testing::Values(StorageBackend{"posix", make_posix_storage}), backend_name);
//
// The factory receives a fresh, empty scratch directory per test (removed afterwards); a local
// backend keeps its objects there, a remote one may use it for its own bookkeeping and pick a
// unique prefix. A factory may GTEST_SKIP() (and return nullptr) when its server is unavailable.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "storage/storage.hpp"
#include "util/fs.hpp"

namespace lifeboat {
// Prints error codes by name in assertion messages.
inline void PrintTo(ErrorCode code, std::ostream* os) {
    *os << error_code_name(code);
}
}  // namespace lifeboat

namespace lifeboat::conformance {

using StorageFactory = std::function<std::unique_ptr<Storage>(const fs::path& scratch)>;

struct StorageBackend {
    std::string name;  // used in test names: letters, digits and '_' only
    StorageFactory make;
    // Tests this backend's test setup cannot pass, by test name, with the reason (printed when
    // they are skipped). For limits of a test server, never of the backend itself.
    std::map<std::string, std::string> known_gaps;
    friend void PrintTo(const StorageBackend& backend, std::ostream* os) { *os << backend.name; }
};

// Names instantiations after the backend ("StorageConformance/WriteThenRead/posix").
std::string backend_name(const ::testing::TestParamInfo<StorageBackend>& info);

class StorageConformance : public ::testing::TestWithParam<StorageBackend> {
  protected:
    void SetUp() override;
    void TearDown() override;

    Storage& storage() { return *m_storage; }
    const fs::path& scratch() const { return m_scratch->path(); }

  private:
    std::optional<TempDirectory> m_scratch;
    std::unique_ptr<Storage> m_storage;
};

// Deterministic, position-dependent bytes: any two different (seed, offset) pairs are very likely
// to differ, so a torn or shifted read is caught.
std::string pattern_bytes(std::uint64_t seed, std::uint64_t offset, std::size_t length);

}  // namespace lifeboat::conformance
