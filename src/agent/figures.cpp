#include "agent/figures.hpp"

#include <nlohmann/json.hpp>

namespace lifeboat::agent {

using nlohmann::json;

namespace {

constexpr double k_day_seconds = 86400;
constexpr auto k_default_backup_age = std::chrono::hours(26);
constexpr auto k_default_drill_age = std::chrono::days(8);

double seconds_between(Timestamp a, Timestamp b) {
    return (b.micros - a.micros) / 1e6;
}
double epoch_seconds(Timestamp t) {
    return t.micros / 1e6;
}

std::optional<Timestamp> last_backup_stop(const SourceState& s) {
    if (!s.catalog || s.catalog->backups.empty()) return std::nullopt;
    return s.catalog->backups.back().stop;
}

std::string human_duration(double seconds) {
    if (seconds < 120) return fmt::format("{:.0f}s", seconds);
    if (seconds < 7200) return fmt::format("{:.0f}m", seconds / 60);
    if (seconds < 2 * k_day_seconds) return fmt::format("{:.1f}h", seconds / 3600);
    return fmt::format("{:.1f}d", seconds / k_day_seconds);
}

// Prometheus label values escape backslash, quote and newline.
std::string label(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

std::string iso_or_null(std::optional<Timestamp> t) {
    return t ? format_iso8601(*t) : "";
}

// The log stream (capture) figures of the sources whose kind has one.
void render_stream_metrics(std::string& out,
                           const std::vector<std::pair<const SourceState*, std::string>>& sources) {
    auto family = [&](const char* name, const char* type, const char* help) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    };
    auto each = [&](const char* name, const char* type, const char* help, auto value) {
        bool any = false;
        for (const auto& [s, labels] : sources) {
            if (!s->stream) continue;
            if (!any) family(name, type, help);
            any = true;
            out += fmt::format("{}{{{}}} {}\n", name, labels, value(*s));
        }
    };
    auto num = [](double v) { return fmt::format("{}", v); };
    each("lifeboat_capture_up", "gauge", "1 while the capture of a logical source runs",
         [&](const SourceState& s) { return num(s.capture_up ? 1 : 0); });
    each("lifeboat_capture_newest_commit_timestamp_seconds", "gauge",
         "commit time of the newest change the capture stored (0: none)",
         [&](const SourceState& s) {
             return num(s.catalog && s.catalog->window_end ? epoch_seconds(*s.catalog->window_end)
                                                           : 0);
         });
    each("lifeboat_capture_lag_seconds", "gauge",
         "commit-to-stored lag: the last capture run's p50, else the newest stored commit's",
         [&](const SourceState& s) { return num(s.capture_lag_seconds.value_or(0)); });
    each("lifeboat_slot_retained_wal_bytes", "gauge",
         "WAL the source retains for the capture's replication slot (from its restart_lsn)",
         [&](const SourceState& s) {
             return num(s.probe && s.probe->stream
                            ? static_cast<double>(s.probe->slot_retained_bytes)
                            : 0);
         });
    each("lifeboat_slot_safe_wal_bytes", "gauge",
         "WAL the stream's slot may still fall behind before the server invalidates it "
         "(safe_wal_size; -1: no max_slot_wal_keep_size)",
         [&](const SourceState& s) {
             return num(s.probe && s.probe->stream && s.probe->slot_safe_bytes
                            ? static_cast<double>(*s.probe->slot_safe_bytes)
                            : -1);
         });
    each("lifeboat_slot_lost", "gauge",
         "1 when the stream's slot was invalidated (wal_status lost)", [&](const SourceState& s) {
             return num(s.probe && s.probe->stream && s.probe->slot_wal_status == "lost" ? 1 : 0);
         });
    each("lifeboat_change_history_seconds", "gauge",
         "How far back the server's change history reaches (MongoDB oplog, DocumentDB change "
         "stream log; -1: not this kind or unknown)",
         [&](const SourceState& s) {
             return num(s.probe && s.probe->history_seconds ? *s.probe->history_seconds : -1);
         });
    each("lifeboat_resume_point_age_seconds", "gauge",
         "Age of the stored change-stream resume point (-1: not this kind or unknown)",
         [&](const SourceState& s) {
             return num(s.probe && s.probe->resume_age_seconds ? *s.probe->resume_age_seconds : -1);
         });
    each("lifeboat_capture_unconfirmed_wal_bytes", "gauge",
         "WAL past the position the capture confirmed stored", [&](const SourceState& s) {
             return num(s.probe && s.probe->stream ? static_cast<double>(s.probe->lag_bytes) : 0);
         });
}

}  // namespace

double rpo_seconds(const SourceState& s, Timestamp now) {
    if (!s.behind_since || !s.probe || s.probe->lag_bytes == 0) return 0;
    return std::max(0.0, seconds_between(*s.behind_since, now));
}

std::optional<double> growth_percent_per_day(const SourceState& s, Timestamp now) {
    if (s.size_samples.size() < 2) return std::nullopt;
    // The oldest sample no older than 24 h.
    for (const auto& [at, bytes] : s.size_samples) {
        const double age = seconds_between(at, now);
        if (age > k_day_seconds) continue;
        if (age < 3600 || bytes == 0) return std::nullopt;
        const double grown = static_cast<double>(s.size_samples.back().second) - bytes;
        return grown / bytes * 100 * (k_day_seconds / age);
    }
    return std::nullopt;
}

std::optional<double> estimated_rto_seconds(const SourceState& s) {
    if (!s.replay_bytes_per_second || *s.replay_bytes_per_second <= 0 || !s.catalog)
        return std::nullopt;
    return s.rto_fixed_seconds + static_cast<double>(s.catalog->wal_since_newest_backup_bytes) /
                                     *s.replay_bytes_per_second;
}

Readiness readiness(const SourceState& s, const AlertSettings& general, Timestamp now) {
    const AlertSettings& t = thresholds_of(s.spec, general);
    Readiness r{"ready", {}};
    auto not_ready = [&](std::string why) {
        r.verdict = "not_ready";
        r.reasons.push_back(std::move(why));
    };
    auto at_risk = [&](std::string why) {
        if (r.verdict == "ready") r.verdict = "at_risk";
        r.reasons.push_back(std::move(why));
    };
    if (!s.catalog_error.empty()) not_ready("repository unreachable: " + s.catalog_error);
    if (!s.catalog) {
        if (s.catalog_error.empty()) not_ready("the repository has not been read yet");
        return r;
    }
    const auto last = last_backup_stop(s);
    if (!last) {
        not_ready("no backup in the repository");
    } else {
        const double age = seconds_between(*last, now);
        const auto limit = t.backup_older_than.value_or(k_default_backup_age);
        if (age > static_cast<double>(limit.count()))
            at_risk(fmt::format("the newest backup is {} old", human_duration(age)));
    }
    if (!s.catalog->window_end) {
        not_ready("no restorable window: the archive does not cover the newest backup");
    } else if (s.catalog->window_gap) {
        at_risk("a hole in the WAL archive ends the restorable window early");
    }
    if (const double rpo = rpo_seconds(s, now);
        t.rpo_above && rpo > static_cast<double>(t.rpo_above->count())) {
        at_risk(fmt::format("WAL not archived for {} (RPO target {})", human_duration(rpo),
                            human_duration(static_cast<double>(t.rpo_above->count()))));
    }
    if (!s.catalog->last_drill) {
        at_risk("no drill has tested a restore yet");
    } else if (!s.catalog->last_drill->passed) {
        at_risk("the last drill failed");
    } else {
        const double age = seconds_between(s.catalog->last_drill->started, now);
        const auto limit = t.drill_older_than.value_or(k_default_drill_age);
        if (age > static_cast<double>(limit.count()))
            at_risk(fmt::format("the last drill is {} old", human_duration(age)));
    }
    if (!s.probe_error.empty()) at_risk("source unreachable: " + s.probe_error);
    return r;
}

std::vector<AlertStatus> evaluate_alerts(const StateSnapshot& snap, const AlertSettings& general) {
    std::vector<AlertStatus> out;
    const Timestamp now = snap.now;
    for (const auto& s : snap.sources) {
        const AlertSettings& t = thresholds_of(s.spec, general);
        const std::string& src = s.spec.name;
        auto add = [&](std::string name, bool firing, std::string value, std::string threshold,
                       std::string message) {
            out.push_back({std::move(name), src, firing, std::move(value), std::move(threshold),
                           std::move(message), std::nullopt});
        };
        if (const auto b = s.last_job.find(JobKind::backup); b != s.last_job.end()) {
            add("backup_failed", !b->second.ok, b->second.ok ? "0" : "1", "0",
                b->second.ok
                    ? fmt::format("The last backup of {} succeeded.", src)
                    : fmt::format("The last backup of {} failed: {}", src, b->second.message));
        }
        if (t.backup_older_than) {
            const auto last = last_backup_stop(s);
            const double age = last ? seconds_between(*last, now) : -1;
            const bool known = s.catalog.has_value();
            const bool firing =
                known && (!last || age > static_cast<double>(t.backup_older_than->count()));
            add("backup_age", firing, last ? fmt::format("{:.0f}", age) : "none",
                fmt::format("{}", t.backup_older_than->count()),
                !last ? fmt::format("{} has no backup at all.", src)
                      : fmt::format(
                            "The newest successful backup of {} is {} old (limit {}).", src,
                            human_duration(age),
                            human_duration(static_cast<double>(t.backup_older_than->count()))));
        }
        if (t.rpo_above) {
            const double rpo = rpo_seconds(s, now);
            const bool firing = rpo > static_cast<double>(t.rpo_above->count());
            add("rpo", firing, fmt::format("{:.0f}", rpo), fmt::format("{}", t.rpo_above->count()),
                !firing ? fmt::format("WAL archiving of {} is within the RPO target.", src)
                : s.probe && s.probe->stream
                    ? fmt::format("{} has commits ({} bytes of WAL) its capture has not stored for "
                                  "{}: that much recent data would be lost now (target {}).",
                                  src, s.probe->lag_bytes, human_duration(rpo),
                                  human_duration(static_cast<double>(t.rpo_above->count())))
                    : fmt::format("{} has WAL ({} bytes) not archived for {}: that much "
                                  "recent data would be lost now (target {}).",
                                  src, s.probe ? s.probe->lag_bytes : 0, human_duration(rpo),
                                  human_duration(static_cast<double>(t.rpo_above->count()))));
        }
        if (t.slot_retained_above && s.probe && s.probe->stream) {
            const std::uint64_t retained = s.probe->slot_retained_bytes;
            const bool firing = retained > *t.slot_retained_above;
            add("slot_retained", firing, fmt::format("{}", retained),
                fmt::format("{}", *t.slot_retained_above),
                firing ? fmt::format("The source of {} retains {} bytes of WAL for the capture's "
                                     "slot (limit {}): the capture is not confirming what it "
                                     "stores{}.",
                                     src, retained, *t.slot_retained_above,
                                     s.capture_up ? "" : " (the capture is not running)")
                       : fmt::format("The WAL the source of {} retains for its slot is within "
                                     "the limit.",
                                     src));
        }
        if (s.probe && s.probe->stream && s.probe->slot_keep_limit_bytes) {
            // Before max_slot_wal_keep_size invalidates the slot (and the stream loses WAL the
            // repository may not hold): the share of the limit it retains, or a wal_status
            // that says the limit is already passed.
            const auto& p = *s.probe;
            const double limit = static_cast<double>(*p.slot_keep_limit_bytes);
            const double percent =
                limit > 0 ? 100.0 * static_cast<double>(p.slot_retained_bytes) / limit : 0;
            const bool past = p.slot_wal_status == "unreserved" || p.slot_wal_status == "lost";
            const bool firing = past || percent > t.slot_keep_above_percent;
            add("slot_invalidation", firing, fmt::format("{:.0f}%", percent),
                fmt::format("{:.0f}%", t.slot_keep_above_percent),
                p.slot_wal_status == "lost"
                    ? fmt::format("The replication slot of {} was invalidated "
                                  "(max_slot_wal_keep_size {} bytes exceeded): WAL was lost from "
                                  "the stream; take a new backup.",
                                  src, *p.slot_keep_limit_bytes)
                : firing ? fmt::format("The replication slot of {} retains {} bytes of WAL, "
                                       "{:.0f}% of max_slot_wal_keep_size ({} bytes; wal_status "
                                       "{}): the server invalidates it at the limit{}.",
                                       src, p.slot_retained_bytes, percent,
                                       *p.slot_keep_limit_bytes, p.slot_wal_status,
                                       s.capture_up ? "" : " (the stream is not running)")
                         : fmt::format("The replication slot of {} is within "
                                       "max_slot_wal_keep_size.",
                                       src));
        }
        if (s.probe && s.probe->history_seconds && s.probe->resume_age_seconds) {
            // Before the resume point leaves the server's change history (then the stream
            // cannot resume, error 286, and only a new base backup restarts the window).
            const double history = *s.probe->history_seconds;
            const double age = *s.probe->resume_age_seconds;
            const double percent = history > 0 ? 100.0 * age / history : 100.0;
            const bool firing = percent >= t.history_used_above_percent;
            add("change_history", firing, fmt::format("{:.0f}%", percent),
                fmt::format("{:.0f}%", t.history_used_above_percent),
                firing ? fmt::format("The stored resume point of {} is {} old, {:.0f}% of the "
                                     "server's change history ({}): when the history no longer "
                                     "holds it the capture cannot resume and a new base backup "
                                     "is needed{}.",
                                     src, human_duration(age), percent, human_duration(history),
                                     s.capture_up ? "" : " (the capture is not running)")
                       : fmt::format("The resume point of {} is well inside the server's "
                                     "change history.",
                                     src));
        }
        if (s.stream && s.catalog) {
            // A gap the stream recorded (an invalidated slot), or any hole in the archive: a
            // restore cannot cross it until a backup is taken after it.
            add("log_gap", s.catalog->window_gap, s.catalog->window_gap ? "1" : "0", "0",
                s.catalog->window_gap
                    ? fmt::format("The restorable window of {} has a gap (WAL the stream could "
                                  "not store, or missing from the archive): restores cannot "
                                  "cross it; take a new backup.",
                                  src)
                    : fmt::format("The log of {} has no gap after its newest backup.", src));
        }
        if (const auto d = s.last_job.find(JobKind::drill); d != s.last_job.end()) {
            add("drill_failed", !d->second.ok, d->second.ok ? "0" : "1", "0",
                d->second.ok ? fmt::format("The last restore drill of {} passed.", src)
                             : fmt::format("The last restore drill of {} failed: {}", src,
                                           d->second.message));
        }
        if (t.drill_older_than && s.catalog) {
            const auto& drill = s.catalog->last_good_drill;
            const double age = drill ? seconds_between(drill->started, now) : -1;
            const bool firing = !drill || age > static_cast<double>(t.drill_older_than->count());
            add("drill_age", firing, drill ? fmt::format("{:.0f}", age) : "none",
                fmt::format("{}", t.drill_older_than->count()),
                !drill ? fmt::format("No restore drill of {} has passed yet.", src)
                       : fmt::format("The last passing restore drill of {} is {} old.", src,
                                     human_duration(age)));
        }
        if (t.copy_lag_above && !s.spec.copy_to.empty()) {
            const auto copied = s.last_success.find(JobKind::copy);
            const double lag = copied == s.last_success.end()
                                   ? seconds_between(snap.started, now)
                                   : seconds_between(copied->second, now);
            const bool firing = lag > static_cast<double>(t.copy_lag_above->count());
            add("copy_lag", firing, fmt::format("{:.0f}", lag),
                fmt::format("{}", t.copy_lag_above->count()),
                fmt::format("The copy of {} to its second repository is {} behind.", src,
                            human_duration(lag)));
        }
        if (t.growth_above_percent) {
            if (const auto g = growth_percent_per_day(s, now)) {
                const bool firing = *g > *t.growth_above_percent;
                add("growth", firing, fmt::format("{:.1f}", *g),
                    fmt::format("{:.1f}", *t.growth_above_percent),
                    fmt::format("The repository of {} grows {:.1f}% a day.", src, *g));
            }
        }
        add("repository_unreachable", !s.catalog_error.empty(), s.catalog_error.empty() ? "0" : "1",
            "0",
            s.catalog_error.empty() ? fmt::format("The repository of {} can be read.", src)
                                    : fmt::format("The agent cannot read the repository of {}: {}",
                                                  src, s.catalog_error));
    }
    return out;
}

std::string render_metrics(const StateSnapshot& snap, const AlertSettings& t) {
    std::string out;
    auto family = [&](const char* name, const char* type, const char* help) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    };
    struct Labels {
        std::string text;
    };
    std::vector<std::pair<const SourceState*, std::string>> sources;
    for (const auto& s : snap.sources) {
        sources.emplace_back(&s, fmt::format("source=\"{}\",repository=\"{}\"", label(s.spec.name),
                                             label(s.spec.repository_name)));
    }
    auto each = [&](const char* name, const char* type, const char* help, auto value) {
        family(name, type, help);
        for (const auto& [s, labels] : sources)
            out += fmt::format("{}{{{}}} {}\n", name, labels, value(*s));
    };
    auto num = [](double v) { return fmt::format("{}", v); };
    family("lifeboat_up", "gauge", "1 while the agent runs");
    out += "lifeboat_up 1\n";
    for (const auto& [s, labels] : sources)
        out += fmt::format("lifeboat_up{{{}}} 1\n", labels);
    each("lifeboat_backup_last_success_timestamp_seconds", "gauge",
         "stop time of the newest backup in the repository (0: none)", [&](const SourceState& s) {
             const auto t = last_backup_stop(s);
             return num(t ? epoch_seconds(*t) : 0);
         });
    each("lifeboat_backup_last_duration_seconds", "gauge", "duration of the newest backup",
         [&](const SourceState& s) {
             return num(s.catalog && !s.catalog->backups.empty()
                            ? s.catalog->backups.back().duration_seconds
                            : 0);
         });
    each("lifeboat_backup_last_stored_bytes", "gauge", "bytes the newest backup added",
         [&](const SourceState& s) {
             return num(s.catalog && !s.catalog->backups.empty()
                            ? static_cast<double>(s.catalog->backups.back().stored_bytes)
                            : 0);
         });
    each("lifeboat_backups", "gauge", "backups in the repository", [&](const SourceState& s) {
        return num(s.catalog ? static_cast<double>(s.catalog->backups.size()) : 0);
    });
    each("lifeboat_wal_archive_lag_bytes", "gauge",
         "WAL bytes between the end of the last archived segment and the server's position",
         [&](const SourceState& s) {
             return num(s.probe ? static_cast<double>(s.probe->lag_bytes) : 0);
         });
    each("lifeboat_wal_archive_failures_total", "counter",
         "the server's failed archive attempts (pg_stat_archiver)", [&](const SourceState& s) {
             return num(s.probe ? static_cast<double>(s.probe->failed_count) : 0);
         });
    each("lifeboat_rpo_seconds", "gauge",
         "age of the oldest change not yet archived (0: everything is archived)",
         [&](const SourceState& s) { return num(rpo_seconds(s, snap.now)); });
    each("lifeboat_restorable_window_start_timestamp_seconds", "gauge",
         "earliest time a restore can reach (0: none)", [&](const SourceState& s) {
             return num(s.catalog && s.catalog->window_start
                            ? epoch_seconds(*s.catalog->window_start)
                            : 0);
         });
    each("lifeboat_restorable_window_end_timestamp_seconds", "gauge",
         "latest time a restore can reach (0: none)", [&](const SourceState& s) {
             return num(s.catalog && s.catalog->window_end ? epoch_seconds(*s.catalog->window_end)
                                                           : 0);
         });
    each("lifeboat_repository_stored_bytes", "gauge", "bytes of every object in the repository",
         [&](const SourceState& s) {
             return num(s.catalog ? static_cast<double>(s.catalog->stored_bytes) : 0);
         });
    each("lifeboat_repository_growth_24h_ratio", "gauge",
         "growth of the stored bytes over 24 h, as a fraction (0: not known yet)",
         [&](const SourceState& s) {
             return num(growth_percent_per_day(s, snap.now).value_or(0) / 100);
         });
    each("lifeboat_repository_dedup_ratio", "gauge", "data bytes of all backups per stored byte",
         [&](const SourceState& s) {
             return num(s.catalog && s.catalog->stored_bytes
                            ? static_cast<double>(s.catalog->logical_bytes) /
                                  static_cast<double>(s.catalog->stored_bytes)
                            : 0);
         });
    each("lifeboat_repository_wal_files", "gauge", "WAL files in the newest backup's run",
         [&](const SourceState& s) {
             return num(s.catalog ? static_cast<double>(s.catalog->wal_files) : 0);
         });
    each("lifeboat_repository_reachable", "gauge", "1 when the last catalog refresh worked",
         [&](const SourceState& s) { return num(s.catalog_error.empty() && s.catalog ? 1 : 0); });
    each("lifeboat_catalog_age_seconds", "gauge", "seconds since the catalog was last read",
         [&](const SourceState& s) {
             return num(s.catalog ? seconds_between(s.catalog->loaded_at, snap.now) : 0);
         });
    each("lifeboat_catalog_load_seconds", "gauge",
         "how long the last catalog read took (in the background, never during a scrape)",
         [&](const SourceState& s) { return num(s.catalog ? s.catalog->load_seconds : 0); });
    each("lifeboat_drill_last_success_timestamp_seconds", "gauge",
         "start of the newest drill that passed (0: none)", [&](const SourceState& s) {
             return num(s.catalog && s.catalog->last_good_drill
                            ? epoch_seconds(s.catalog->last_good_drill->started)
                            : 0);
         });
    each(
        "lifeboat_drill_last_result", "gauge", "1 when the newest drill passed, 0 otherwise",
        [&](const SourceState& s) {
            return num(s.catalog && s.catalog->last_drill && s.catalog->last_drill->passed ? 1 : 0);
        });
    each("lifeboat_drill_last_rto_seconds", "gauge",
         "measured recovery time of the newest drill that passed (0: none)",
         [&](const SourceState& s) {
             return num(s.catalog && s.catalog->last_good_drill
                            ? s.catalog->last_good_drill->rto_seconds
                            : 0);
         });
    each("lifeboat_rto_estimate_seconds", "gauge",
         "estimated time to restore to the end of the archive now (0: no drill measured yet)",
         [&](const SourceState& s) { return num(estimated_rto_seconds(s).value_or(0)); });
    each("lifeboat_copy_last_success_timestamp_seconds", "gauge",
         "start of the last successful copy job (0: none)", [&](const SourceState& s) {
             const auto c = s.last_success.find(JobKind::copy);
             return num(c == s.last_success.end() ? 0 : epoch_seconds(c->second));
         });
    family("lifeboat_job_failures_total", "counter", "failed jobs since the agent started");
    for (const auto& [s, labels] : sources) {
        for (const JobKind kind : k_job_kinds) {
            const auto f = s->failures.find(kind);
            out += fmt::format("lifeboat_job_failures_total{{{},kind=\"{}\"}} {}\n", labels,
                               job_kind_name(kind), f == s->failures.end() ? 0 : f->second);
        }
        // A capture's failed runs (it is restarted after a backoff), for logical sources.
        if (s->stream) {
            const auto f = s->failures.find(JobKind::capture);
            out += fmt::format("lifeboat_job_failures_total{{{},kind=\"capture\"}} {}\n", labels,
                               f == s->failures.end() ? 0 : f->second);
        }
    }
    render_stream_metrics(out, sources);
    family("lifeboat_job_skipped_total", "counter",
           "scheduled jobs not run since the agent started (a backup outside its backup window)");
    for (const auto& [s, labels] : sources) {
        for (const JobKind kind : k_job_kinds) {
            const auto n = s->skipped.find(kind);
            out += fmt::format("lifeboat_job_skipped_total{{{},kind=\"{}\"}} {}\n", labels,
                               job_kind_name(kind), n == s->skipped.end() ? 0 : n->second);
        }
    }
    family("lifeboat_job_running", "gauge", "1 for the job kind running now");
    for (const auto& [s, labels] : sources) {
        for (const JobKind kind : k_job_kinds) {
            out += fmt::format("lifeboat_job_running{{{},kind=\"{}\"}} {}\n", labels,
                               job_kind_name(kind), s->running == kind ? 1 : 0);
        }
    }
    family("lifeboat_readiness", "gauge", "1 for the source's current readiness verdict");
    for (const auto& [s, labels] : sources) {
        const auto verdict = readiness(*s, t, snap.now).verdict;
        for (const char* v : {"ready", "at_risk", "not_ready"})
            out += fmt::format("lifeboat_readiness{{{},verdict=\"{}\"}} {}\n", labels, v,
                               verdict == v ? 1 : 0);
    }
    family("lifeboat_alert_firing", "gauge", "1 while an alert rule fires");
    for (const auto& a : snap.alerts) {
        out += fmt::format("lifeboat_alert_firing{{source=\"{}\",alert=\"{}\"}} {}\n",
                           label(a.source), label(a.name), a.firing ? 1 : 0);
    }
    return out;
}

std::string status_json(const StateSnapshot& snap, const AlertSettings& t) {
    json sources = json::array();
    for (const auto& s : snap.sources) {
        json backups = json::array();
        json window = nullptr;
        json drill = nullptr;
        if (s.catalog) {
            for (const auto& b : s.catalog->backups) {
                backups.push_back({{"id", b.id},
                                   {"start", format_iso8601(b.start)},
                                   {"stop", format_iso8601(b.stop)},
                                   {"duration_seconds", b.duration_seconds},
                                   {"stored_bytes", b.stored_bytes},
                                   {"data_bytes", b.data_bytes}});
            }
            window = {{"start", iso_or_null(s.catalog->window_start)},
                      {"end", iso_or_null(s.catalog->window_end)},
                      {"gap", s.catalog->window_gap},
                      {"wal_files", s.catalog->wal_files}};
            if (const auto& d = s.catalog->last_drill) {
                drill = {{"id", d->id},
                         {"started", format_iso8601(d->started)},
                         {"passed", d->passed},
                         {"rto_seconds", d->rto_seconds},
                         {"error", d->error}};
            }
        }
        json jobs = json::object();
        for (const auto& [kind, r] : s.last_job) {
            jobs[std::string(job_kind_name(kind))] = {{"started", format_iso8601(r.started)},
                                                      {"finished", format_iso8601(r.finished)},
                                                      {"ok", r.ok},
                                                      {"message", r.message}};
        }
        json failures = json::object();
        for (const JobKind kind : k_job_kinds) {
            const auto f = s.failures.find(kind);
            failures[std::string(job_kind_name(kind))] = f == s.failures.end() ? 0 : f->second;
        }
        json skipped = json::object();
        for (const JobKind kind : k_job_kinds) {
            const auto n = s.skipped.find(kind);
            skipped[std::string(job_kind_name(kind))] = n == s.skipped.end() ? 0 : n->second;
        }
        json schedule = json::object();
        json backup_window = nullptr;
        if (s.spec.policy) {
            for (const auto& [kind, when] : s.spec.policy->schedules)
                schedule[std::string(job_kind_name(kind))] = when.text();
            if (s.spec.policy->expire_after_backup) schedule["expire"] = "after backup";
            if (s.spec.policy->backup_window) backup_window = s.spec.policy->backup_window->text();
        }
        const auto ready = readiness(s, t, snap.now);
        const auto growth = growth_percent_per_day(s, snap.now);
        sources.push_back(
            {{"name", s.spec.name},
             {"repository", s.spec.repository_name},
             {"repository_location", s.spec.repository},
             {"copy_to", s.spec.copy_to},
             {"readiness", {{"verdict", ready.verdict}, {"reasons", ready.reasons}}},
             {"rpo_seconds", rpo_seconds(s, snap.now)},
             {"wal_archive_lag_bytes", s.probe ? s.probe->lag_bytes : 0},
             {"last_archived_wal", s.probe ? s.probe->last_archived_wal : ""},
             {"current_lsn", s.probe ? s.probe->current_lsn : ""},
             {"source_error", s.probe_error},
             {"repository_error", s.catalog_error},
             {"catalog_loaded", s.catalog ? format_iso8601(s.catalog->loaded_at) : ""},
             {"stored_bytes", s.catalog ? s.catalog->stored_bytes : 0},
             {"logical_bytes", s.catalog ? s.catalog->logical_bytes : 0},
             {"growth_percent_per_day", growth ? json(*growth) : json(nullptr)},
             {"window", window},
             {"backups", backups},
             {"last_drill", drill},
             {"estimated_rto_seconds",
              estimated_rto_seconds(s) ? json(*estimated_rto_seconds(s)) : json(nullptr)},
             {"last_measured_rto_seconds", s.catalog && s.catalog->last_good_drill
                                               ? json(s.catalog->last_good_drill->rto_seconds)
                                               : json(nullptr)},
             {"wal_since_newest_backup_bytes",
              s.catalog ? s.catalog->wal_since_newest_backup_bytes : 0},
             {"replay_bytes_per_second",
              s.replay_bytes_per_second ? json(*s.replay_bytes_per_second) : json(nullptr)},
             {"running", s.running ? json(job_kind_name(*s.running)) : json(nullptr)},
             {"next_backup", iso_or_null(s.next_backup)},
             {"schedule", schedule},
             {"backup_window", backup_window},
             {"last_jobs", jobs},
             {"job_failures", failures},
             {"job_skipped", skipped}});
        // A logical source's capture (null for a kind without a log stream).
        json capture = nullptr;
        if (s.stream) {
            const bool slot = s.probe && s.probe->stream;
            capture = {{"up", s.capture_up},
                       {"last_stored", iso_or_null(s.capture_stored_at)},
                       {"newest_commit", s.catalog ? iso_or_null(s.catalog->window_end) : ""},
                       {"lag_seconds",
                        s.capture_lag_seconds ? json(*s.capture_lag_seconds) : json(nullptr)},
                       {"slot_active", slot && s.probe->slot_active},
                       {"slot_retained_bytes", slot ? s.probe->slot_retained_bytes : 0},
                       {"confirmed_lsn", slot ? s.probe->last_archived_wal : ""},
                       {"kind", s.spec.wal_stream ? "wal-stream" : "capture"},
                       {"slot_wal_status", slot ? s.probe->slot_wal_status : ""},
                       {"slot_keep_limit_bytes", slot && s.probe->slot_keep_limit_bytes
                                                     ? json(*s.probe->slot_keep_limit_bytes)
                                                     : json(nullptr)},
                       {"slot_safe_bytes", slot && s.probe->slot_safe_bytes
                                               ? json(*s.probe->slot_safe_bytes)
                                               : json(nullptr)},
                       {"history_seconds", slot && s.probe->history_seconds
                                               ? json(*s.probe->history_seconds)
                                               : json(nullptr)},
                       {"resume_age_seconds", slot && s.probe->resume_age_seconds
                                                  ? json(*s.probe->resume_age_seconds)
                                                  : json(nullptr)}};
        }
        sources.back()["capture"] = std::move(capture);
    }
    json history = json::array();
    for (const auto& r : snap.history) {
        history.push_back({{"source", r.source},
                           {"kind", job_kind_name(r.kind)},
                           {"trigger", r.trigger},
                           {"started", format_iso8601(r.started)},
                           {"finished", format_iso8601(r.finished)},
                           {"duration_seconds", r.duration_seconds()},
                           {"ok", r.ok},
                           {"skipped", r.skipped},
                           {"bytes", r.bytes},
                           {"message", r.message}});
    }
    json alerts = json::array();
    for (const auto& a : snap.alerts) {
        alerts.push_back({{"name", a.name},
                          {"source", a.source},
                          {"state", a.firing ? "firing" : "ok"},
                          {"value", a.value},
                          {"threshold", a.threshold},
                          {"message", a.message},
                          {"since", iso_or_null(a.since)}});
    }
    return json{
        {"now", format_iso8601(snap.now)},
        {"started", format_iso8601(snap.started)},
        {"config_file", snap.config_file},
        {"reloaded_at", iso_or_null(snap.reloaded_at)},
        {"reload_error", snap.reload_error},
        {"rto_target_seconds", snap.rto_target ? json(snap.rto_target->count()) : json(nullptr)},
        {"sources", sources},
        {"alerts", alerts},
        {"history", history}}
        .dump(2);
}

}  // namespace lifeboat::agent
