#include "drivers/postgres_logical/pgoutput_decoder.hpp"

#include <algorithm>

namespace lifeboat::postgres_logical {

namespace {

// Bounds-checked reading of one message: every read past the end sets `bad` and yields zeros,
// so a decoder checks once per message instead of once per field.
class Reader {
  public:
    explicit Reader(std::string_view bytes) : m_bytes(bytes) {}

    std::uint64_t be(int width) {
        if (m_bytes.size() - m_at < static_cast<std::size_t>(width)) return short_read();
        std::uint64_t v = 0;
        for (int i = 0; i < width; ++i)
            v = (v << 8) | static_cast<unsigned char>(m_bytes[m_at++]);
        return v;
    }
    std::uint8_t u8() { return static_cast<std::uint8_t>(be(1)); }
    std::uint16_t u16() { return static_cast<std::uint16_t>(be(2)); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(be(4)); }
    std::uint64_t u64() { return be(8); }
    std::string cstring() {
        const auto end = m_bytes.find('\0', m_at);
        if (end == std::string_view::npos) {
            short_read();
            return {};
        }
        std::string s(m_bytes.substr(m_at, end - m_at));
        m_at = end + 1;
        return s;
    }
    std::string bytes(std::uint32_t n) {
        if (m_bytes.size() - m_at < n) {
            short_read();
            return {};
        }
        std::string s(m_bytes.substr(m_at, n));
        m_at += n;
        return s;
    }
    void mark_bad() { short_read(); }
    bool bad() const { return m_bad; }
    bool at_end() const { return m_at == m_bytes.size(); }

  private:
    std::uint64_t short_read() {
        m_bad = true;
        m_at = m_bytes.size();
        return 0;
    }
    std::string_view m_bytes;
    std::size_t m_at = 0;
    bool m_bad = false;
};

std::unexpected<Error> bad(std::string_view object, std::uint64_t lsn, std::string_view what) {
    return fail(ErrorCode::corrupt, "{}: record at {:X}/{:X}: {}", object, lsn >> 32,
                lsn & 0xFFFFFFFFu, what);
}

Timestamp from_postgres_time(std::uint64_t raw) {
    return from_postgres_micros(static_cast<std::int64_t>(raw));
}

Tuple read_tuple(Reader& in) {
    const std::uint16_t count = in.u16();
    Tuple tuple;
    for (std::uint16_t i = 0; i < count && !in.bad(); ++i) {
        ColumnValue value;
        switch (in.u8()) {
            case 'n':
                value.kind = ValueKind::null;
                break;
            case 'u':
                value.kind = ValueKind::unchanged_toast;
                break;
            case 't':
                value.kind = ValueKind::text;
                value.text = in.bytes(in.u32());
                break;
            default:  // 'b' (binary) is never asked for; anything else is damage
                in.mark_bad();
                return {};
        }
        tuple.push_back(std::move(value));
    }
    return tuple;
}

Result<std::shared_ptr<const Relation>> relation_for(
    const std::map<std::uint32_t, std::shared_ptr<const Relation>>& relations, std::uint32_t oid,
    std::string_view object, std::uint64_t lsn) {
    const auto it = relations.find(oid);
    if (it == relations.end()) {
        return bad(object, lsn,
                   fmt::format("a change of relation {} before its Relation message", oid));
    }
    return it->second;
}

Result<SequenceSample> parse_sample(std::string_view payload, std::uint64_t lsn,
                                    std::string_view object) {
    std::vector<std::string> fields;
    std::size_t from = 0;
    for (;;) {
        const auto tab = payload.find('\t', from);
        fields.emplace_back(payload.substr(from, tab == std::string_view::npos ? tab : tab - from));
        if (tab == std::string_view::npos) break;
        from = tab + 1;
    }
    if (fields.size() != 4 || (fields[3] != "t" && fields[3] != "f") || fields[2].empty() ||
        !std::all_of(fields[2].begin(), fields[2].end(),
                     [](char c) { return (c >= '0' && c <= '9') || c == '-'; })) {
        return bad(object, lsn, "a malformed sequence sample");
    }
    return SequenceSample{fields[0], fields[1], fields[2], fields[3] == "t", lsn};
}

}  // namespace

Status PgoutputDecoder::add_object(std::string_view content, std::string_view object) {
    const auto records = LB_TRY(read_change_log(content, object));
    for (const auto& record : records)
        LB_CHECK(add(record, object));
    return {};
}

Status PgoutputDecoder::add(const ChangeRecordView& record, std::string_view object) {
    switch (record.kind) {
        case ChangeRecordKind::relation:
            if (record.payload.empty() || record.payload[0] != 'R')
                return bad(object, record.lsn, "a relation record without a Relation message");
            return add_relation(record.payload.substr(1), object, record.lsn, XidPrefix::either);
        case ChangeRecordKind::message:
            return add_message(record.payload, record.lsn, object);
        case ChangeRecordKind::sequence: {
            auto sample = LB_TRY(parse_sample(record.payload, record.lsn, object));
            m_sequences.push_back(std::move(sample));
            return {};
        }
        case ChangeRecordKind::session_start:
            // The server sends every transaction not committed before this point again.
            m_open.reset();
            m_streams.clear();
            m_streaming.reset();
            return {};
    }
    return bad(object, record.lsn, "an unknown record kind");
}

std::vector<Transaction> PgoutputDecoder::take_committed() {
    return std::exchange(m_committed, {});
}

Status PgoutputDecoder::add_relation(std::string_view message, std::string_view object,
                                     std::uint64_t lsn, XidPrefix xid) {
    auto parsed = parse_relation(message, xid == XidPrefix::in_stream && m_streaming.has_value());
    // A head record repeats a Relation message as it was received, inside a stream (with an
    // xid) or not, which the record does not say: the other reading is tried too.
    if (!parsed && xid == XidPrefix::either) parsed = parse_relation(message, true);
    if (!parsed) return bad(object, lsn, "a malformed Relation message");
    m_relations[(*parsed)->oid] = std::move(*parsed);
    return {};
}

std::optional<std::shared_ptr<const Relation>> PgoutputDecoder::parse_relation(
    std::string_view message, bool with_xid) {
    Reader in(message);
    if (with_xid) in.u32();  // the (sub)transaction's xid
    auto relation = std::make_shared<Relation>();
    relation->oid = in.u32();
    relation->schema = in.cstring();
    relation->name = in.cstring();
    relation->replica_identity = static_cast<char>(in.u8());
    const std::uint16_t columns = in.u16();
    for (std::uint16_t i = 0; i < columns && !in.bad(); ++i) {
        RelationColumn column;
        column.is_key = (in.u8() & 1) != 0;
        column.name = in.cstring();
        column.type_oid = in.u32();
        column.type_modifier = static_cast<std::int32_t>(in.u32());
        relation->columns.push_back(std::move(column));
    }
    if (in.bad() || !in.at_end()) return std::nullopt;
    return relation;
}

Transaction* PgoutputDecoder::current() {
    if (m_streaming) return &m_streams[*m_streaming];
    if (m_open) return &*m_open;
    return nullptr;
}

Status PgoutputDecoder::add_message(std::string_view message, std::uint64_t lsn,
                                    std::string_view object) {
    if (message.empty()) return bad(object, lsn, "an empty message");
    const char type = message[0];
    Reader in(message.substr(1));
    auto finish = [&](std::string_view what) -> Status {
        if (in.bad() || !in.at_end()) return bad(object, lsn, fmt::format("a malformed {}", what));
        return {};
    };
    // Changes inside a stream carry their (sub)transaction's xid first.
    auto change_xid = [&]() -> std::uint32_t { return m_streaming ? in.u32() : 0; };
    auto add_change = [&](Change change, std::string_view what) -> Status {
        LB_CHECK(finish(what));
        Transaction* into = current();
        if (!into) return bad(object, lsn, fmt::format("a {} outside a transaction", what));
        into->changes.push_back(std::move(change));
        return {};
    };
    switch (type) {
        case 'B': {
            Transaction t;
            t.commit_lsn = in.u64();
            t.commit_time = from_postgres_time(in.u64());
            t.xid = in.u32();
            LB_CHECK(finish("Begin"));
            if (m_open || m_streaming) return bad(object, lsn, "a Begin inside a transaction");
            m_open = std::move(t);
            return {};
        }
        case 'C': {
            in.u8();  // flags (unused)
            const std::uint64_t commit_lsn = in.u64();
            const std::uint64_t end_lsn = in.u64();
            const Timestamp time = from_postgres_time(in.u64());
            LB_CHECK(finish("Commit"));
            if (!m_open) return bad(object, lsn, "a Commit without a Begin");
            m_open->commit_lsn = commit_lsn;
            m_open->end_lsn = end_lsn;
            m_open->commit_time = time;
            m_committed.push_back(std::move(*m_open));
            m_open.reset();
            return {};
        }
        case 'O':  // Origin: where a replicated transaction came from; nothing to apply
            in.u64();
            in.cstring();
            return finish("Origin");
        case 'R':
            return add_relation(message.substr(1), object, lsn, XidPrefix::in_stream);
        case 'Y':  // Type: values arrive as text, which the target parses by the column's type
            change_xid();
            in.u32();
            in.cstring();
            in.cstring();
            return finish("Type");
        case 'I': {
            Change change;
            change.action = ChangeAction::insert;
            change.xid = change_xid();
            const std::uint32_t oid = in.u32();
            if (in.u8() != 'N') return bad(object, lsn, "an Insert without a new tuple");
            change.new_values = read_tuple(in);
            change.relation = LB_TRY(relation_for(m_relations, oid, object, lsn));
            return add_change(std::move(change), "Insert");
        }
        case 'U':
        case 'D': {
            Change change;
            change.action = type == 'U' ? ChangeAction::update : ChangeAction::remove;
            change.xid = change_xid();
            const std::uint32_t oid = in.u32();
            std::uint8_t part = in.u8();
            if (part == 'K' || part == 'O') {
                change.old_kind = part == 'K' ? OldTuple::key : OldTuple::full;
                change.old_values = read_tuple(in);
                if (type == 'U') part = in.u8();
            } else if (type == 'D') {
                return bad(object, lsn, "a Delete without an old key or tuple");
            }
            if (type == 'U') {
                if (part != 'N') return bad(object, lsn, "an Update without a new tuple");
                change.new_values = read_tuple(in);
            }
            change.relation = LB_TRY(relation_for(m_relations, oid, object, lsn));
            return add_change(std::move(change), type == 'U' ? "Update" : "Delete");
        }
        case 'T': {
            Change change;
            change.action = ChangeAction::truncate;
            change.xid = change_xid();
            const std::uint32_t count = in.u32();
            change.truncate_options = in.u8();
            for (std::uint32_t i = 0; i < count && !in.bad(); ++i) {
                const std::uint32_t oid = in.u32();
                if (in.bad()) break;
                auto relation = LB_TRY(relation_for(m_relations, oid, object, lsn));
                change.truncated.push_back(std::move(relation));
            }
            return add_change(std::move(change), "Truncate");
        }
        case 'M': {
            const std::uint32_t xid = change_xid();
            const std::uint8_t flags = in.u8();
            in.u64();  // the message's own LSN
            const std::string prefix = in.cstring();
            const std::string content = in.bytes(in.u32());
            LB_CHECK(finish("Message"));
            // Only transactional DDL messages change the data; others are not ours.
            if (prefix != k_ddl_message_prefix || (flags & 1) == 0) return {};
            Change change;
            change.action = ChangeAction::ddl;
            change.xid = xid;
            change.ddl = content;
            return add_change(std::move(change), "Message");
        }
        case 'S': {
            const std::uint32_t xid = in.u32();
            in.u8();  // first segment
            LB_CHECK(finish("Stream Start"));
            if (m_open || m_streaming)
                return bad(object, lsn, "a Stream Start inside a transaction");
            m_streaming = xid;
            m_streams[xid].xid = xid;
            return {};
        }
        case 'E':
            LB_CHECK(finish("Stream Stop"));
            if (!m_streaming) return bad(object, lsn, "a Stream Stop outside a stream");
            m_streaming.reset();
            return {};
        case 'c': {
            const std::uint32_t xid = in.u32();
            in.u8();  // flags
            const std::uint64_t commit_lsn = in.u64();
            const std::uint64_t end_lsn = in.u64();
            const Timestamp time = from_postgres_time(in.u64());
            LB_CHECK(finish("Stream Commit"));
            if (m_streaming || m_open) return bad(object, lsn, "a Stream Commit inside a stream");
            // A commit of a stream this decoder did not see begin (an object decoded alone)
            // still counts as a commit: without changes, so that its time is known.
            Transaction t;
            if (const auto it = m_streams.find(xid); it != m_streams.end()) {
                t = std::move(it->second);
                m_streams.erase(it);
            }
            t.xid = xid;
            t.commit_lsn = commit_lsn;
            t.end_lsn = end_lsn;
            t.commit_time = time;
            m_committed.push_back(std::move(t));
            return {};
        }
        case 'A': {
            const std::uint32_t xid = in.u32();
            const std::uint32_t subxid = in.u32();
            LB_CHECK(finish("Stream Abort"));
            if (m_streaming) return bad(object, lsn, "a Stream Abort inside a stream");
            const auto it = m_streams.find(xid);
            if (it == m_streams.end()) return {};
            if (xid == subxid) {
                m_streams.erase(it);
            } else {
                std::erase_if(it->second.changes,
                              [subxid](const Change& c) { return c.xid == subxid; });
            }
            return {};
        }
        default:
            return bad(
                object, lsn,
                fmt::format("an unknown message type 0x{:02x}", static_cast<unsigned char>(type)));
    }
}

}  // namespace lifeboat::postgres_logical
