#include "drivers/postgres_logical/change_log.hpp"
#include "util/endian.hpp"

#include <fmt/format.h>

namespace lifeboat::postgres_logical {

namespace {

constexpr std::size_t k_record_header = 1 + 8 + 4;

bool is_known_kind(std::uint8_t kind) {
    return kind == static_cast<std::uint8_t>(ChangeRecordKind::relation) ||
           kind == static_cast<std::uint8_t>(ChangeRecordKind::message) ||
           kind == static_cast<std::uint8_t>(ChangeRecordKind::sequence) ||
           kind == static_cast<std::uint8_t>(ChangeRecordKind::session_start);
}

std::optional<std::uint64_t> parse_hex16(std::string_view text) {
    if (text.size() != 16) return std::nullopt;
    std::uint64_t value = 0;
    for (char c : text) {
        int digit = 0;
        if (c >= '0' && c <= '9') {
            digit = c - '0';
        } else if (c >= 'A' && c <= 'F') {
            digit = c - 'A' + 10;
        } else {
            return std::nullopt;  // upper case only: one spelling per position
        }
        value = (value << 4) | static_cast<std::uint64_t>(digit);
    }
    return value;
}

}  // namespace

ChangeLogWriter::ChangeLogWriter() {
    m_content.append(k_change_log_magic);
    m_content.push_back(static_cast<char>(k_change_log_version));
}

void ChangeLogWriter::add(ChangeRecordKind kind, std::uint64_t lsn, std::string_view payload) {
    m_content.push_back(static_cast<char>(kind));
    put_be(m_content, lsn, 8);
    put_be(m_content, payload.size(), 4);
    m_content.append(payload);
    ++m_records;
}

std::string ChangeLogWriter::take() {
    std::string content = std::move(m_content);
    *this = ChangeLogWriter();
    return content;
}

Result<std::vector<ChangeRecordView>> read_change_log(std::string_view content,
                                                      std::string_view name) {
    const std::size_t header = k_change_log_magic.size() + 1;
    if (content.size() < header ||
        content.substr(0, k_change_log_magic.size()) != k_change_log_magic)
        return fail(ErrorCode::corrupt, "{}: not a logical change log (bad magic)", name);
    const auto version = static_cast<std::uint8_t>(content[k_change_log_magic.size()]);
    if (version != k_change_log_version) {
        return fail(ErrorCode::corrupt,
                    "{}: change log version {} is unknown to this Lifeboat (it reads {})", name,
                    version, k_change_log_version);
    }
    std::vector<ChangeRecordView> records;
    std::size_t at = header;
    while (at < content.size()) {
        if (content.size() - at < k_record_header)
            return fail(ErrorCode::corrupt, "{}: truncated record header at byte {}", name, at);
        const auto kind = static_cast<std::uint8_t>(content[at]);
        if (!is_known_kind(kind))
            return fail(ErrorCode::corrupt, "{}: unknown record kind {} at byte {}", name, kind,
                        at);
        const std::uint64_t lsn = get_be(content, at + 1, 8);
        const std::uint64_t length = get_be(content, at + 9, 4);
        at += k_record_header;
        if (length > content.size() - at) {
            return fail(ErrorCode::corrupt, "{}: record of {} bytes runs past the end at byte {}",
                        name, length, at);
        }
        records.push_back({static_cast<ChangeRecordKind>(kind), lsn, content.substr(at, length)});
        at += length;
    }
    return records;
}

std::string change_log_object_name(std::uint64_t start, std::uint64_t end) {
    return fmt::format("logical/{:016X}-{:016X}", start, end);
}

std::optional<ChangeLogSpan> parse_change_log_object_name(std::string_view name) {
    constexpr std::string_view prefix = "logical/";
    if (!name.starts_with(prefix)) return std::nullopt;
    name.remove_prefix(prefix.size());
    if (name.size() != 33 || name[16] != '-') return std::nullopt;
    const auto start = parse_hex16(name.substr(0, 16));
    const auto end = parse_hex16(name.substr(17));
    if (!start || !end || *end < *start) return std::nullopt;
    return ChangeLogSpan{*start, *end};
}

}  // namespace lifeboat::postgres_logical
