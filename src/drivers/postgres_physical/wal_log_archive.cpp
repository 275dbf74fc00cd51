#include "drivers/postgres_physical/wal_log_archive.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "drivers/postgres_physical/wal_checks.hpp"
#include "drivers/postgres_physical/wal_stream_chunks.hpp"
#include "repository/wal_archive.hpp"
#include "sources/postgres/timeline_history.hpp"
#include "sources/postgres/wal.hpp"
#include "util/parallel.hpp"

namespace lifeboat::postgres_physical {

namespace {

// From this segment on, WAL is read from this timeline (PostgreSQL reads each segment from the
// newest timeline of the history that had begun by then).
struct ChainStep {
    std::uint32_t timeline;
    std::uint64_t begin_segno;
};

class ReachFinder {
  public:
    ReachFinder(const Storage& storage, const std::set<std::string>& archived)
        : m_storage(storage), m_archived(archived) {}

    Result<BackupReach> follow(const repo::Manifest& m, std::size_t index,
                               const std::vector<ChainStep>& chain) {
        BackupReach reach;
        reach.backup_id = m.id;
        reach.backup_index = index;
        reach.timeline = chain.back().timeline;
        reach.from = m.stop_time;
        const std::uint64_t seg_size = m.postgres.wal_segment_size;
        const auto start = postgres::parse_wal_file_name(m.start_wal, seg_size);
        const auto stop = postgres::parse_wal_file_name(m.stop_wal, seg_size);
        if (!start || !stop) {
            return fail(ErrorCode::corrupt, "backup {}: malformed WAL names {} / {}", m.id,
                        m.start_wal, m.stop_wal);
        }
        std::uint64_t segno = start->segno;
        for (;; ++segno) {
            std::size_t step = 0;
            for (std::size_t s = 0; s < chain.size(); ++s)
                if (chain[s].begin_segno <= segno) step = s;
            const std::string name =
                postgres::wal_file_name({chain[step].timeline, segno}, seg_size);
            if (!m_archived.count(name)) {
                // A segment wal-stream is receiving: replay reaches its streamed prefix, and
                // the archive ends there (the next segment is missing by definition).
                auto streamed = LB_TRY(streamed_last_commit(name));
                if (streamed) {
                    reach.last_commit_segment = name;
                    if (!reach.to || *reach.to < *streamed) reach.to = streamed;
                    ++segno;
                    reach.first_missing_segment =
                        postgres::wal_file_name({chain[step].timeline, segno}, seg_size);
                    break;
                }
                reach.first_missing_segment = name;
                reach.gap = wal_exists_after(name, chain, step, segno, seg_size);
                break;
            }
            reach.last_segment = name;
            auto commit = LB_TRY(last_commit_of(name));
            if (commit) reach.last_commit_segment = name;
            if (commit && (!reach.to || *reach.to < *commit)) reach.to = commit;
        }
        reach.consistent = segno > stop->segno;
        reach.wal_after_stop = segno > stop->segno + 1;
        if (!reach.consistent || (reach.to && *reach.to <= reach.from)) reach.to.reset();
        return reach;
    }

    // Reads the metadata of `names` (segments follow() will walk) several at a time, so that
    // follow() finds them remembered instead of reading one after another: one round trip each
    // on an object store, a random read each on a cold disk. A name whose metadata cannot be
    // read is left out here; follow() reads it again and reports that failure.
    void prefetch(const std::vector<std::string>& names, unsigned in_flight) {
        std::vector<std::optional<std::optional<Timestamp>>> found(names.size());
        (void)parallel_for(names.size(), in_flight, [&](std::size_t i, unsigned) -> Status {
            if (auto meta = repo::read_wal_meta(m_storage, names[i])) found[i] = meta->last_commit;
            return {};
        });
        for (std::size_t i = 0; i < names.size(); ++i)
            if (found[i]) m_last_commit.emplace(names[i], *found[i]);
    }

  private:
    // Whether WAL the replay would read later exists beyond the missing `name`: then the missing
    // segment is a hole, not the end of the archive.
    bool wal_exists_after(const std::string& name, const std::vector<ChainStep>& chain,
                          std::size_t step, std::uint64_t segno, std::uint64_t seg_size) const {
        // Same timeline (first 8 hex digits), later name.
        auto later = m_archived.upper_bound(name);
        if (later != m_archived.end() && later->compare(0, 8, name, 0, 8) == 0) return true;
        for (std::size_t s = step + 1; s < chain.size(); ++s) {
            const std::string first =
                postgres::wal_file_name({chain[s].timeline, segno + 1}, seg_size);
            auto it = m_archived.lower_bound(first);
            if (it != m_archived.end() && it->compare(0, 8, first, 0, 8) == 0) return true;
        }
        return false;
    }

    // The newest commit in the streamed chunks of `segment` that replay reaches (the run from
    // offset 0); nullopt when it has none or no chunk starts at 0.
    Result<std::optional<Timestamp>> streamed_last_commit(const std::string& segment) {
        const std::string folder = std::string(k_stream_chunk_prefix) + segment + "/";
        auto first = m_archived.lower_bound(folder);
        if (first == m_archived.end() || !first->starts_with(folder))
            return std::optional<Timestamp>();
        std::vector<StreamChunk> chunks;
        for (auto it = first; it != m_archived.end() && it->starts_with(folder); ++it) {
            if (auto chunk = parse_stream_chunk_name(*it)) chunks.push_back(*chunk);
        }
        std::optional<Timestamp> last;
        for (const auto& chunk : contiguous_run(std::move(chunks))) {
            // Each chunk's span runs from the segment's start to the chunk's end.
            auto commit = LB_TRY(last_commit_of(stream_chunk_name(chunk)));
            if (commit && (!last || *last < *commit)) last = commit;
        }
        return last;
    }

    Result<std::optional<Timestamp>> last_commit_of(const std::string& name) {
        auto it = m_last_commit.find(name);
        if (it != m_last_commit.end()) return it->second;
        const repo::WalMeta meta = LB_TRY(repo::read_wal_meta(m_storage, name));
        m_last_commit[name] = meta.last_commit;
        return meta.last_commit;
    }

    const Storage& m_storage;
    const std::set<std::string>& m_archived;
    std::map<std::string, std::optional<Timestamp>> m_last_commit;
};

// The continuous span ending at the newest reach, walking back while reaches touch it.
// The steps that take backup `m` along timeline `history.timeline`, or nullopt when it cannot
// be followed there: its own timeline is not in that history, or branched off before the
// backup was consistent.
std::optional<std::vector<ChainStep>> chain_for(const repo::Manifest& m,
                                                const postgres::TimelineHistory& history) {
    const std::uint64_t seg_size = m.postgres.wal_segment_size;
    if (m.timeline == history.timeline) return std::vector<ChainStep>{{m.timeline, 0}};
    const auto stop = postgres::parse_lsn(m.stop_lsn);
    const auto& a = history.ancestors;
    std::size_t k = 0;
    while (k < a.size() && a[k].timeline != m.timeline)
        ++k;
    if (k == a.size() || !stop || a[k].switch_lsn < *stop) return std::nullopt;
    std::vector<ChainStep> chain{{m.timeline, 0}};
    for (std::size_t j = k + 1; j < a.size(); ++j)
        chain.push_back({a[j].timeline, a[j - 1].switch_lsn.value / seg_size});
    chain.push_back({history.timeline, a.back().switch_lsn.value / seg_size});
    return chain;
}

// The segment number of a WAL file name (a segment, .partial or .backup file: its first 24
// characters), nullopt for names that are none of these.
std::optional<std::uint64_t> segno_of(std::string_view name, std::uint64_t segment_size) {
    // A streamed chunk counts as part of its segment.
    if (name.starts_with(k_stream_chunk_prefix)) name.remove_prefix(k_stream_chunk_prefix.size());
    if (name.size() < 24) return std::nullopt;
    auto seg = postgres::parse_wal_file_name(name.substr(0, 24), segment_size);
    if (!seg) return std::nullopt;
    return seg->segno;
}

// Metadata reads in flight while the window is computed: each reads a few KiB, so even a local
// disk serves more at once than the storage's default for large ranges.
constexpr unsigned k_min_meta_reads_in_flight = 8;

// The archived segments (not history, backup-label or partial files, nor streamed chunks) from
// the oldest backup's first WAL segment on: those follow() reads the last commit of.
std::vector<std::string> segments_to_follow(const std::vector<std::string>& names,
                                            const std::vector<repo::Manifest>& manifests) {
    std::vector<std::string> out;
    if (manifests.empty()) return out;
    const std::uint64_t seg_size = manifests.front().postgres.wal_segment_size;
    if (!postgres::is_valid_wal_segment_size(seg_size)) return out;
    std::optional<std::uint64_t> first;
    for (const auto& m : manifests) {
        const auto start = postgres::parse_wal_file_name(m.start_wal, seg_size);
        if (!start) return out;  // follow() reports the malformed name
        first = first ? std::min(*first, start->segno) : start->segno;
    }
    for (const auto& name : names) {
        if (name.size() != 24) continue;
        const auto seg = postgres::parse_wal_file_name(name, seg_size);
        if (seg && seg->segno >= *first) out.push_back(name);
    }
    return out;
}

}  // namespace

Result<RestorableWindow> WalLogArchive::follow(const Storage& storage,
                                               const std::vector<repo::Manifest>& manifests) const {
    RestorableWindow window;
    const auto names = LB_TRY(repo::list_wal_names(storage));
    const std::set<std::string> archived(names.begin(), names.end());
    window.wal_files = names.size();

    // Every timeline: those of the backups, and every one with a history file.
    std::map<std::uint32_t, postgres::TimelineHistory> histories;
    std::map<std::uint32_t, std::string> problems;
    for (const auto& m : manifests)
        histories[m.timeline].timeline = m.timeline;
    for (const auto& name : names) {
        const auto id = postgres::timeline_of_history_file(name);
        if (!id) continue;
        // A damaged history stays local to its timeline: the others are still followed.
        auto parsed = [&]() -> Result<postgres::TimelineHistory> {
            const std::string text = LB_TRY(repo::fetch_wal(storage, name));
            return postgres::parse_timeline_history(*id, text);
        }();
        if (parsed) {
            histories[*id] = std::move(*parsed);
        } else if (parsed.error().code != ErrorCode::corrupt) {
            // Not damage but a failure to read (I/O, a storage outage): a window computed
            // without this timeline could change which history a restore follows.
            return std::unexpected(parsed.error().context("timeline history {}", name));
        } else {
            histories[*id].timeline = *id;
            problems[*id] = parsed.error().message;
        }
    }

    ReachFinder finder(storage, archived);
    finder.prefetch(segments_to_follow(names, manifests),
                    std::max(k_min_meta_reads_in_flight, storage.features().io_depth));
    window.backups.resize(manifests.size());
    for (const auto& [id, history] : histories) {
        TimelineWindow t;
        t.timeline = id;
        t.parent = history.parent();
        if (!history.ancestors.empty())
            t.branch_lsn = postgres::format_lsn(history.ancestors.back().switch_lsn);
        for (const auto& a : history.ancestors)
            t.ancestors.push_back(a.timeline);
        if (auto p = problems.find(id); p != problems.end()) t.problem = p->second;
        for (std::size_t i = 0; i < manifests.size(); ++i) {
            const auto chain = chain_for(manifests[i], history);
            if (!chain) continue;
            BackupReach reach = LB_TRY(finder.follow(manifests[i], i, *chain));
            if (manifests[i].timeline == id) window.backups[i] = reach;
            t.reaches.push_back(std::move(reach));
        }
        window.timelines.push_back(std::move(t));
    }

    return window;
}

void WalLogArchive::add_branch_times(const Storage& storage, RestorableWindow& window,
                                     const std::vector<repo::Manifest>& manifests) const {
    const std::uint64_t seg_size = manifests.empty() ? postgres::k_default_wal_segment_size
                                                     : manifests.front().postgres.wal_segment_size;
    if (!postgres::is_valid_wal_segment_size(seg_size)) return;
    for (auto& t : window.timelines) {
        if (!t.parent || !t.branch_lsn) continue;
        const auto switch_lsn = postgres::parse_lsn(*t.branch_lsn);
        if (!switch_lsn) continue;
        const std::uint64_t segno = switch_lsn->value / seg_size;
        // The segment holding the switch: the child's copy starts with the parent's WAL up to
        // the switch; the parent's own, if archived, holds the same prefix.
        for (const std::uint32_t tli : {t.timeline, *t.parent}) {
            auto content =
                repo::fetch_wal(storage, postgres::wal_file_name({tli, segno}, seg_size));
            if (!content) continue;
            auto span = postgres::scan_commit_times_before(*content, *switch_lsn);
            if (span && span->last_commit) t.branch_time = span->last_commit;
            if (span) break;
        }
        if (t.branch_time) continue;
        // No commit in that segment before the switch: the newest commit of the ancestry's
        // earlier segments (each from the timeline that wrote it).
        const TimelineWindow* walk = window.timeline(*t.parent);
        // Bounded: an idle cluster may have long runs of segments without a commit.
        const std::uint64_t stop = segno > 256 ? segno - 256 : 0;
        for (std::uint64_t s = segno; s-- > stop && walk && !t.branch_time;) {
            while (walk && walk->parent && walk->branch_lsn &&
                   postgres::parse_lsn(*walk->branch_lsn).value_or(postgres::Lsn{}).value /
                           seg_size >
                       s) {
                walk = window.timeline(*walk->parent);
            }
            if (!walk) break;
            auto meta = repo::read_wal_meta(storage,
                                            postgres::wal_file_name({walk->timeline, s}, seg_size));
            if (!meta) break;
            t.branch_time = meta->last_commit;
        }
    }
}

std::vector<std::string> WalLogArchive::objects_for(
    const repo::Manifest& m, const BackupReach& reach,
    const std::vector<std::string>& archived) const {
    std::vector<std::string> names;
    const std::uint64_t segment_size = m.postgres.wal_segment_size;
    const auto first = postgres::parse_wal_file_name(m.start_wal, segment_size);
    const auto last = postgres::parse_wal_file_name(reach.last_segment, segment_size);
    if (first && last) {
        for (auto segno = first->segno; segno <= last->segno; ++segno)
            names.push_back(postgres::wal_file_name({m.timeline, segno}, segment_size));
    }
    // The streamed chunks of the segment after the reach's last one: replay reads them too.
    if (first) {
        const std::uint64_t next = last ? last->segno + 1 : first->segno;
        const std::string folder = std::string(k_stream_chunk_prefix) +
                                   postgres::wal_file_name({m.timeline, next}, segment_size) + "/";
        for (auto it = std::lower_bound(archived.begin(), archived.end(), folder);
             it != archived.end() && it->starts_with(folder); ++it)
            names.push_back(*it);
    }
    for (const auto& name : archived) {  // the .backup history file of this backup
        if (name.rfind(m.start_wal, 0) == 0 && name.ends_with(".backup")) names.push_back(name);
    }
    return names;
}

bool WalLogArchive::is_shared(std::string_view name) const {
    return postgres::classify_wal_file(std::string(name)) == postgres::WalFileKind::history;
}

// Segment numbers count across timelines (a new timeline continues the old one's positions), so
// comparing them without the timeline keeps, if anything, a little more than needed.
Result<std::vector<std::string>> WalLogArchive::removable(
    const std::vector<std::string>& archived, const std::vector<const repo::Manifest*>& kept,
    const repo::Manifest& continuous_from) const {
    const std::uint64_t segment_size = continuous_from.postgres.wal_segment_size;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
    for (const auto* m : kept) {
        const auto first = segno_of(m->start_wal, segment_size);
        const auto last = segno_of(m->stop_wal, segment_size);
        if (!first || !last)
            return fail(ErrorCode::corrupt, "backup {}: malformed WAL names", m->id);
        ranges.emplace_back(*first, *last);
    }
    const auto keep_from = segno_of(continuous_from.start_wal, segment_size);
    if (!keep_from)
        return fail(ErrorCode::corrupt, "backup {}: malformed WAL names", continuous_from.id);
    std::vector<std::string> out;
    for (const auto& name : archived) {
        if (is_shared(name)) continue;
        const auto segno = segno_of(name, segment_size);
        if (!segno) continue;  // not ours to judge
        if (*segno >= *keep_from) continue;
        const bool needed = std::any_of(ranges.begin(), ranges.end(), [&](const auto& r) {
            return *segno >= r.first && *segno <= r.second;
        });
        if (!needed) out.push_back(name);
    }
    return out;
}

Result<source::LogObjectFacts> WalLogArchive::check_object(const Storage& storage,
                                                           const std::string& name,
                                                           std::string_view content) const {
    const WalFileFacts facts = LB_TRY(check_wal_file(storage, name, content));
    return source::LogObjectFacts{facts.system_identifier};
}

bool WalLogArchive::is_descriptive(std::string_view name) const {
    const auto kind = postgres::classify_wal_file(std::string(name));
    return kind == postgres::WalFileKind::history || kind == postgres::WalFileKind::backup_label;
}

Result<std::optional<std::string>> WalLogArchive::stop_position_at_end(
    const Storage& storage, const BackupReach& reach) const {
    const std::string content = LB_TRY(fetch_segment_or_stream(storage, reach.last_commit_segment));
    const auto span = LB_TRY(postgres::scan_commit_times(content));
    if (!span.last_end) {
        return fail(ErrorCode::corrupt,
                    "WAL segment {} holds no transaction end although its metadata names one",
                    reach.last_commit_segment);
    }
    return std::optional<std::string>(postgres::format_lsn(*span.last_end));
}

std::string WalLogArchive::describe_branch(std::uint32_t id) const {
    return fmt::format("timeline {} ({})", id, postgres::history_file_name(id));
}

}  // namespace lifeboat::postgres_physical
