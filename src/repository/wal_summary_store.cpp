#include "repository/wal_summary_store.hpp"

#include "repository/object.hpp"

namespace lifeboat::repo {

std::string wal_summary_key(const std::string& segment_name) {
    return std::string(k_wal_summary_prefix) + segment_name;
}

Status store_wal_summary(Storage& storage, const std::string& segment_name,
                         std::string_view payload) {
    const std::string object =
        LB_TRY(encode_object(ObjectKind::wal_summary, payload, PayloadCompression::zstd));
    auto written = storage.write(wal_summary_key(segment_name), object, Overwrite::never);
    if (!written && written.error().code == ErrorCode::conflict) return {};
    return written;
}

Result<std::string> read_wal_summary(const Storage& storage, const std::string& segment_name) {
    const std::string key = wal_summary_key(segment_name);
    const std::string bytes = LB_TRY(storage.read(key));
    return decode_object(bytes, ObjectKind::wal_summary, key);
}

}  // namespace lifeboat::repo
