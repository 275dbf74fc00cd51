#include "drivers/postgres_logical/object_cutter.hpp"

#include <algorithm>

#include "drivers/postgres_logical/pgoutput.hpp"

namespace lifeboat::postgres_logical {

void ChangeLogCutter::start_session(std::uint64_t lsn) {
    m_session = lsn;
    // The server starts every session without relation state: whatever a transaction it sends
    // again uses, it describes again.
    m_in_transaction = false;
    m_in_stream = false;
}

Status ChangeLogCutter::add_message(std::uint64_t lsn, std::string_view message) {
    const InStream in_stream = m_in_stream ? InStream::yes : InStream::no;
    const MessageFacts facts = LB_TRY(read_message_facts(message, in_stream));
    switch (facts.role) {
        case MessageRole::begin:
            m_in_transaction = true;
            break;
        case MessageRole::commit:
        case MessageRole::stream_commit:
            m_in_transaction = false;
            ++m_commits;
            m_last_commit_end = std::max(m_last_commit_end.value_or(0), facts.end_lsn);
            if (!m_first_commit) m_first_commit = facts.commit_time;
            m_last_commit = facts.commit_time;
            m_commit_times.push_back(facts.commit_time);
            break;
        case MessageRole::stream_start:
            m_in_stream = true;
            break;
        case MessageRole::stream_stop:
            m_in_stream = false;
            break;
        case MessageRole::relation:
            for (std::uint32_t id : facts.relations) {
                m_defined_here.insert(id);
                m_relations[id] = {lsn, relation_without_xid(message, in_stream)};
            }
            break;
        case MessageRole::change:
            for (std::uint32_t id : facts.relations)
                if (!m_defined_here.contains(id)) m_need_head.insert(id);
            break;
        case MessageRole::stream_abort:
        case MessageRole::other:
            break;
    }
    m_held.push_back({ChangeRecordKind::message, lsn, std::string(message)});
    m_held_bytes += message.size();
    ++m_messages;
    return {};
}

void ChangeLogCutter::add_sequence(std::uint64_t lsn, std::string payload) {
    m_held_bytes += payload.size();
    m_held.push_back({ChangeRecordKind::sequence, lsn, std::move(payload)});
}

std::optional<CutObject> ChangeLogCutter::cut(std::optional<std::uint64_t> idle_end) {
    if (!at_boundary() || m_held.empty()) return std::nullopt;
    std::uint64_t end = 0;
    if (m_last_commit_end && *m_last_commit_end > m_start) {
        end = *m_last_commit_end;
    } else if (idle_end && *idle_end > m_start) {
        end = *idle_end;
    } else if (m_messages > 0) {
        end = m_start + 1;
    } else {
        return std::nullopt;  // only samples, and no position to end them at yet
    }
    CutObject out;
    out.start = m_start;
    out.end = end;
    out.name = change_log_object_name(m_start, end);
    out.first_commit = m_first_commit;
    out.last_commit = m_last_commit;
    out.commits = m_commits;
    out.messages = m_messages;
    out.commit_times = std::move(m_commit_times);
    m_commit_times.clear();
    ChangeLogWriter writer;
    if (m_session) writer.add(ChangeRecordKind::session_start, *m_session, {});
    for (std::uint32_t id : m_need_head) {
        if (auto known = m_relations_at_start.find(id); known != m_relations_at_start.end())
            writer.add(ChangeRecordKind::relation, known->second.lsn, known->second.message);
    }
    for (const auto& record : m_held)
        writer.add(record.kind, record.lsn, record.payload);
    out.content = writer.take();

    m_start = end;
    m_session.reset();
    m_held.clear();
    m_held_bytes = 0;
    m_messages = 0;
    m_commits = 0;
    m_last_commit_end.reset();
    m_first_commit.reset();
    m_last_commit.reset();
    m_relations_at_start = m_relations;
    m_defined_here.clear();
    m_need_head.clear();
    return out;
}

}  // namespace lifeboat::postgres_logical
