// ForwardingStorage: a Storage that passes every call to an inner storage unchanged. Wrappers
// (retry, fault injection, encryption, test doubles) derive from it and override only the calls
// whose behaviour they change; features(), local_files(), pending_uploads() and object_locking()
// pass through unless a wrapper says otherwise, so a wrapper over a local directory is still known
// to be one.
//
// The inner storage is either owned (the unique_ptr constructor) or borrowed (the reference
// constructor: the caller keeps it alive for as long as the wrapper lives). Thread safety is the
// inner storage's.
#pragma once

#include <memory>

#include "storage/storage.hpp"

namespace lifeboat {

class ForwardingStorage : public Storage {
  public:
    explicit ForwardingStorage(std::unique_ptr<Storage> inner)
        : m_owned(std::move(inner)), m_inner(m_owned.get()) {}
    explicit ForwardingStorage(Storage& inner) : m_inner(&inner) {}

    std::string location() const override { return m_inner->location(); }
    StorageFeatures features() const override { return m_inner->features(); }
    LocalFiles* local_files() override { return m_inner->local_files(); }
    const LocalFiles* local_files() const override {
        return static_cast<const Storage*>(m_inner)->local_files();
    }
    PendingUploads* pending_uploads() override { return m_inner->pending_uploads(); }
    ObjectLocking* object_locking() override { return m_inner->object_locking(); }

    Result<std::string> read(const std::string& key) const override { return m_inner->read(key); }
    Result<std::string> read_range(const std::string& key, std::uint64_t offset,
                                   std::size_t length) const override {
        return m_inner->read_range(key, offset, length);
    }
    Result<ObjectInfo> stat(const std::string& key) const override { return m_inner->stat(key); }
    Result<std::vector<ObjectInfo>> list(const std::string& prefix) const override {
        return m_inner->list(prefix);
    }
    Status write(const std::string& key, std::string_view data, Overwrite overwrite) override {
        return m_inner->write(key, data, overwrite);
    }
    Result<std::unique_ptr<Upload>> start_upload(const std::string& key,
                                                 Overwrite overwrite) override {
        return m_inner->start_upload(key, overwrite);
    }
    Status remove_if_exists(const std::string& key) override {
        return m_inner->remove_if_exists(key);
    }

    Storage& inner() { return *m_inner; }
    const Storage& inner() const { return *m_inner; }

  private:
    std::unique_ptr<Storage> m_owned;  // null when the inner storage is borrowed
    Storage* m_inner;
};

// An Upload that passes every call to an inner upload; wrappers' uploads override what they
// change.
class ForwardingUpload : public Upload {
  public:
    explicit ForwardingUpload(std::unique_ptr<Upload> inner) : m_inner(std::move(inner)) {}

    Status append(std::string_view data) override { return m_inner->append(data); }
    std::uint64_t size() const override { return m_inner->size(); }
    Status commit() override { return m_inner->commit(); }

  protected:
    Upload& inner() { return *m_inner; }

  private:
    std::unique_ptr<Upload> m_inner;
};

}  // namespace lifeboat
