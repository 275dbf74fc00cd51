// change_log_dump REPO: prints every logical change-log object of an unencrypted repository, one
// line per record, for the end-to-end tests to check with grep (tests/e2e/test_logical_capture.sh).
//   object <name> commits=<n>
//   X <lsn> | R <relation id> | S <payload with tabs as spaces>
//   M <type> ...: I/U/D <relation id> [<first column as text>], C/c <end lsn>, M <prefix> <content>
// Exit 1 with a message on stderr for anything it cannot read.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "drivers/postgres_logical/change_log.hpp"
#include "drivers/postgres_logical/pgoutput.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres_logical;

namespace {

std::uint64_t be(std::string_view s, std::size_t at, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n && at + i < s.size(); ++i)
        v = (v << 8) | static_cast<unsigned char>(s[at + i]);
    return v;
}

std::string printable(std::string_view s) {
    std::string out;
    for (char c : s)
        out += (c == '\n' || c == '\t' || c == '\r') ? ' ' : c;
    return out;
}

// The first column of a tuple ('N' or 'K' then TupleData) at `at`, as text.
std::string first_column(std::string_view m, std::size_t at) {
    if (at + 3 > m.size()) return "?";
    at += 1 + 2;  // 'N', column count
    if (at >= m.size()) return "?";
    const char kind = m[at];
    if (kind == 'n') return "NULL";
    if (kind == 'u') return "UNCHANGED";
    if (kind != 't' && kind != 'b') return "?";
    const auto length = be(m, at + 1, 4);
    return printable(m.substr(at + 5, length));
}

void print_message(std::string_view m, bool in_stream) {
    const std::size_t xid = in_stream ? 4 : 0;
    switch (m[0]) {
        case 'I':
            std::printf("M I %llu %s\n", static_cast<unsigned long long>(be(m, 1 + xid, 4)),
                        first_column(m, 1 + xid + 4).c_str());
            break;
        case 'U':
        case 'D':
            std::printf("M %c %llu\n", m[0], static_cast<unsigned long long>(be(m, 1 + xid, 4)));
            break;
        case 'C':
            std::printf("M C %s\n", format_lsn_text(be(m, 10, 8)).c_str());
            break;
        case 'c':
            std::printf("M c %s\n", format_lsn_text(be(m, 14, 8)).c_str());
            break;
        case 'M': {
            // [xid when transactional inside a stream], flags, lsn, prefix NUL, length, content
            std::size_t at = 1;
            if (in_stream && m.size() > 5 && m[5] == 1) at += 4;
            at += 1 + 8;
            const auto nul = m.find('\0', at);
            const std::string_view prefix = m.substr(at, nul - at);
            const auto length = be(m, nul + 1, 4);
            std::printf("M M %s %s\n", std::string(prefix).c_str(),
                        printable(m.substr(nul + 5, length)).c_str());
            break;
        }
        default:
            std::printf("M %c\n", m[0]);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: change_log_dump REPO\n");
        return 2;
    }
    auto repository = repo::Repository::open(argv[1]);
    if (!repository) {
        std::fprintf(stderr, "%s\n", repository.error().message.c_str());
        return 1;
    }
    auto names = repo::list_wal_names(repository->storage());
    if (!names) {
        std::fprintf(stderr, "%s\n", names.error().message.c_str());
        return 1;
    }
    for (const auto& name : *names) {
        if (!parse_change_log_object_name(name)) continue;
        auto meta = repo::read_wal_meta(repository->storage(), name);
        auto content = repo::fetch_wal(repository->storage(), name);
        if (!meta || !content) {
            std::fprintf(stderr, "%s: cannot read\n", name.c_str());
            return 1;
        }
        auto records = read_change_log(*content, name);
        if (!records) {
            std::fprintf(stderr, "%s\n", records.error().message.c_str());
            return 1;
        }
        std::printf("object %s commits=%llu\n", name.c_str(),
                    static_cast<unsigned long long>(meta->commits));
        bool in_stream = false;
        for (const auto& r : *records) {
            switch (r.kind) {
                case ChangeRecordKind::session_start:
                    std::printf("X %s\n", format_lsn_text(r.lsn).c_str());
                    break;
                case ChangeRecordKind::relation:
                    std::printf("R %llu\n", static_cast<unsigned long long>(be(r.payload, 1, 4)));
                    break;
                case ChangeRecordKind::sequence:
                    std::printf("S %s\n", printable(r.payload).c_str());
                    break;
                case ChangeRecordKind::message:
                    if (r.payload.empty()) break;
                    if (r.payload[0] == 'S') in_stream = true;
                    print_message(r.payload, in_stream);
                    if (r.payload[0] == 'E') in_stream = false;
                    break;
            }
        }
    }
    return 0;
}
