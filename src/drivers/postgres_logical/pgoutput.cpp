#include "drivers/postgres_logical/pgoutput.hpp"
#include "util/endian.hpp"

#include <fmt/format.h>

namespace lifeboat::postgres_logical {

namespace {

Status need(std::string_view message, std::size_t bytes) {
    if (message.size() < bytes) {
        return fail(ErrorCode::database,
                    "pgoutput message '{}' of {} bytes is too short (protocol mismatch?)",
                    message.empty() ? '?' : message[0], message.size());
    }
    return {};
}

}  // namespace

Result<MessageFacts> read_message_facts(std::string_view message, InStream in_stream) {
    LB_CHECK(need(message, 1));
    MessageFacts facts;
    // Changes and relations inside a stream carry the transaction id first.
    const std::size_t xid = in_stream == InStream::yes ? 4 : 0;
    switch (message[0]) {
        case 'B':
            facts.role = MessageRole::begin;
            break;
        case 'C':
            // flags(1), commit lsn(8), end lsn(8), commit time(8)
            LB_CHECK(need(message, 26));
            facts.role = MessageRole::commit;
            facts.end_lsn = get_be(message, 10, 8);
            facts.commit_time =
                from_postgres_time(static_cast<std::int64_t>(get_be(message, 18, 8)));
            break;
        case 'c':
            // xid(4), flags(1), commit lsn(8), end lsn(8), commit time(8)
            LB_CHECK(need(message, 30));
            facts.role = MessageRole::stream_commit;
            facts.end_lsn = get_be(message, 14, 8);
            facts.commit_time =
                from_postgres_time(static_cast<std::int64_t>(get_be(message, 22, 8)));
            break;
        case 'S':
            facts.role = MessageRole::stream_start;
            break;
        case 'E':
            facts.role = MessageRole::stream_stop;
            break;
        case 'A':
            facts.role = MessageRole::stream_abort;
            break;
        case 'R':
            LB_CHECK(need(message, 1 + xid + 4));
            facts.role = MessageRole::relation;
            facts.relations.push_back(static_cast<std::uint32_t>(get_be(message, 1 + xid, 4)));
            break;
        case 'I':
        case 'U':
        case 'D':
            LB_CHECK(need(message, 1 + xid + 4));
            facts.role = MessageRole::change;
            facts.relations.push_back(static_cast<std::uint32_t>(get_be(message, 1 + xid, 4)));
            break;
        case 'T': {
            // [xid(4)], relation count(4), options(1), relation ids(4 each)
            LB_CHECK(need(message, 1 + xid + 5));
            facts.role = MessageRole::change;
            const std::uint64_t count = get_be(message, 1 + xid, 4);
            LB_CHECK(need(message, 1 + xid + 5 + 4 * count));
            for (std::uint64_t i = 0; i < count; ++i) {
                facts.relations.push_back(
                    static_cast<std::uint32_t>(get_be(message, 1 + xid + 5 + 4 * i, 4)));
            }
            break;
        }
        default:
            facts.role = MessageRole::other;
            break;
    }
    return facts;
}

std::string relation_without_xid(std::string_view relation_message, InStream in_stream) {
    if (in_stream == InStream::no || relation_message.size() < 5)
        return std::string(relation_message);
    std::string out = "R";
    out.append(relation_message.substr(5));
    return out;
}

std::string format_lsn_text(std::uint64_t lsn) {
    return fmt::format("{:X}/{:X}", lsn >> 32, lsn & 0xffffffffu);
}

std::optional<std::uint64_t> parse_lsn_text(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash > 8 ||
        text.size() - slash - 1 == 0 || text.size() - slash - 1 > 8)
        return std::nullopt;
    auto hex = [](std::string_view part) -> std::optional<std::uint64_t> {
        std::uint64_t value = 0;
        for (char c : part) {
            int digit = 0;
            if (c >= '0' && c <= '9') {
                digit = c - '0';
            } else if (c >= 'A' && c <= 'F') {
                digit = c - 'A' + 10;
            } else if (c >= 'a' && c <= 'f') {
                digit = c - 'a' + 10;
            } else {
                return std::nullopt;
            }
            value = (value << 4) | static_cast<std::uint64_t>(digit);
        }
        return value;
    };
    const auto high = hex(text.substr(0, slash));
    const auto low = hex(text.substr(slash + 1));
    if (!high || !low) return std::nullopt;
    return (*high << 32) | *low;
}

}  // namespace lifeboat::postgres_logical
