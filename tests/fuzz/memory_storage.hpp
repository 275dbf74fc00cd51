// A Storage held in memory, for fuzz targets that hand a crafted object to a reader that takes a
// Storage (index, manifest, WAL checks). Single-threaded; uploads are buffered until commit().
#pragma once

#include <map>
#include <memory>
#include <string>

#include "storage/storage.hpp"

namespace lifeboat::fuzz {

class MemoryStorage final : public Storage {
  public:
    std::string location() const override { return "memory"; }
    StorageFeatures features() const override {
        return {.conditional_create = ConditionalCreate::atomic,
                .ranged_reads = RangedReads::emulated,
                .listing_cost = ListingCost::cheap,
                .local_path = std::nullopt};
    }

    Result<std::string> read(const std::string& key) const override {
        const auto it = m_objects.find(key);
        if (it == m_objects.end()) return fail(ErrorCode::not_found, "{}: not found", key);
        return it->second;
    }
    Result<std::string> read_range(const std::string& key, std::uint64_t offset,
                                   std::size_t length) const override {
        const std::string whole = LB_TRY(read(key));
        if (offset > whole.size()) return fail(ErrorCode::corrupt, "{}: range past end", key);
        return whole.substr(offset, length);
    }
    Result<ObjectInfo> stat(const std::string& key) const override {
        const std::string whole = LB_TRY(read(key));
        return ObjectInfo{key, whole.size(), Timestamp{}};
    }
    Result<std::vector<ObjectInfo>> list(const std::string& prefix) const override {
        std::vector<ObjectInfo> out;
        for (const auto& [key, bytes] : m_objects) {
            if (key.starts_with(prefix)) out.push_back(ObjectInfo{key, bytes.size(), Timestamp{}});
        }
        return out;
    }
    Status write(const std::string& key, std::string_view data, Overwrite overwrite) override {
        if (overwrite == Overwrite::never && m_objects.contains(key))
            return fail(ErrorCode::conflict, "{}: exists", key);
        m_objects[key] = std::string(data);
        return {};
    }
    Result<std::unique_ptr<Upload>> start_upload(const std::string& key,
                                                 Overwrite overwrite) override {
        return std::unique_ptr<Upload>(std::make_unique<MemoryUpload>(*this, key, overwrite));
    }
    Status remove_if_exists(const std::string& key) override {
        m_objects.erase(key);
        return {};
    }

  private:
    class MemoryUpload final : public Upload {
      public:
        MemoryUpload(MemoryStorage& storage, std::string key, Overwrite overwrite)
            : m_storage(storage), m_key(std::move(key)), m_overwrite(overwrite) {}
        Status append(std::string_view data) override {
            m_data.append(data);
            return {};
        }
        std::uint64_t size() const override { return m_data.size(); }
        Status commit() override { return m_storage.write(m_key, m_data, m_overwrite); }

      private:
        MemoryStorage& m_storage;
        std::string m_key;
        Overwrite m_overwrite;
        std::string m_data;
    };

    std::map<std::string, std::string> m_objects;
};

}  // namespace lifeboat::fuzz
