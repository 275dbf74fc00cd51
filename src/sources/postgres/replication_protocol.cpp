#include "sources/postgres/replication_protocol.hpp"
#include "util/endian.hpp"
#include "util/time.hpp"

#include <fmt/format.h>

namespace lifeboat::postgres {

Result<ReplicationFrame> parse_replication_frame(std::string_view frame) {
    ReplicationFrame out;
    if (!frame.empty() && frame[0] == 'w' && frame.size() >= 25) {
        out.data = XLogData{get_be(frame, 1, 8), get_be(frame, 9, 8), frame.substr(25)};
        return out;
    }
    if (!frame.empty() && frame[0] == 'k' && frame.size() >= 18) {
        out.keepalive = Keepalive{get_be(frame, 1, 8), frame[17] != 0};
        return out;
    }
    return fail(ErrorCode::database, "unexpected replication message '{}' of {} bytes",
                frame.empty() ? '?' : frame[0], frame.size());
}

std::string standby_status_update(std::uint64_t flushed, Timestamp now) {
    std::string out = "r";
    put_be(out, flushed, 8);  // written
    put_be(out, flushed, 8);  // flushed
    put_be(out, flushed, 8);  // applied
    put_be(out, static_cast<std::uint64_t>(now.micros - k_postgres_epoch_offset_micros), 8);
    out.push_back(0);  // no reply requested
    return out;
}

Timestamp from_postgres_time(std::int64_t micros_since_2000) {
    return from_postgres_micros(micros_since_2000);
}

}  // namespace lifeboat::postgres
