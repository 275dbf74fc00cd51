// EncryptedStorage over PosixStorage passes the same conformance suite as any backend: encryption
// is invisible to the repository layer, ranged reads included.
#include "conformance/storage_conformance.hpp"
#include "repository/encrypted_storage.hpp"
#include "storage/posix/posix_storage.hpp"

namespace lifeboat::conformance {
namespace {

std::unique_ptr<Storage> make_encrypted_storage(const fs::path& scratch) {
    return std::make_unique<repo::EncryptedStorage>(
        std::make_unique<PosixStorage>(scratch / "repo"), std::string(32, 'k'));
}

INSTANTIATE_TEST_SUITE_P(Encrypted, StorageConformance,
                         ::testing::Values(StorageBackend{"encrypted_posix",
                                                          make_encrypted_storage}),
                         backend_name);

}  // namespace
}  // namespace lifeboat::conformance
