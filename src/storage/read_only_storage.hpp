// ReadOnlyStorage: a wrapper that passes reads through and refuses every write, upload and
// removal with ErrorCode::read_only before the inner storage sees it. A repository opened with
// --read-only (or repository.read_only) sits on one, so that no code path, whatever it forgets to
// check, can change the store; a read-only credential is then enough. It offers no LocalFiles
// cleaning and no PendingUploads (both change the store); the features are the inner storage's.
#pragma once

#include "storage/forwarding_storage.hpp"

namespace lifeboat {

class ReadOnlyStorage final : public ForwardingStorage {
  public:
    using ForwardingStorage::ForwardingStorage;

    LocalFiles* local_files() override { return nullptr; }
    PendingUploads* pending_uploads() override { return nullptr; }

    Status write(const std::string& key, std::string_view, Overwrite) override {
        return refuse("write", key);
    }
    Result<std::unique_ptr<Upload>> start_upload(const std::string& key, Overwrite) override {
        return refuse("write", key);
    }
    Status remove_if_exists(const std::string& key) override { return refuse("remove", key); }

  private:
    std::unexpected<Error> refuse(std::string_view what, const std::string& key) const {
        return fail(ErrorCode::read_only,
                    "repository {} is opened read-only: refusing to {} {} (drop --read-only, or "
                    "set repository.read_only = false, to change it)",
                    location(), what, key);
    }
};

}  // namespace lifeboat
