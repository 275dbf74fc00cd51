#include "drivers/mongodb/change_apply.hpp"

#include <string_view>
#include <utility>
#include <vector>

#include "drivers/mongodb/document_edit.hpp"

namespace lifeboat::mongodb_driver {

namespace {

using mongodb::Bson;

struct Namespace {
    std::string database;
    std::string collection;  // empty for dropDatabase
    bool operator==(const Namespace&) const = default;
};

std::string name_of(const Namespace& ns) {
    return ns.collection.empty() ? ns.database : fmt::format("{}.{}", ns.database, ns.collection);
}

std::optional<std::string> utf8_at(const bson_t* doc, const char* key) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it)) return std::nullopt;
    std::uint32_t length = 0;
    const char* text = bson_iter_utf8(&it, &length);
    return std::string(text, length);
}

// The sub-document at `key`, when there is one.
std::optional<Bson> document_at(const bson_t* doc, const char* key) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_DOCUMENT(&it)) return std::nullopt;
    std::uint32_t length = 0;
    const std::uint8_t* data = nullptr;
    bson_iter_document(&it, &length, &data);
    bson_t sub;
    if (!bson_init_static(&sub, data, length)) return std::nullopt;
    return Bson::copy_of(sub);
}

// How messages name an event: its operationType, namespace and cluster time.
std::string describe(std::string_view type, const Namespace& ns, const bson_t* event) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, event, "clusterTime") && BSON_ITER_HOLDS_TIMESTAMP(&it)) {
        std::uint32_t seconds = 0;
        std::uint32_t increment = 0;
        bson_iter_timestamp(&it, &seconds, &increment);
        return fmt::format("the {} event on {} at cluster time {}.{}", type, name_of(ns), seconds,
                           increment);
    }
    return fmt::format("the {} event on {} (no cluster time)", type, name_of(ns));
}

// {_id: <the event's documentKey._id>}: the only part of documentKey a filter needs (a sharded
// collection's key adds its shard key fields, which the _id determines).
Result<Bson> id_filter(const bson_t* event, std::string_view what) {
    bson_iter_t it;
    bson_iter_t id;
    if (!bson_iter_init_find(&it, event, "documentKey") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
        !bson_iter_recurse(&it, &id) || !bson_iter_find(&id, "_id"))
        return fail(ErrorCode::corrupt, "{} has no documentKey._id", what);
    Bson filter;
    bson_append_iter(filter.get(), "_id", 3, &id);
    return filter;
}

enum class Kind { insert, replace, update, remove, drop, drop_database, rename, invalidate };

std::optional<Kind> kind_of(std::string_view type) {
    if (type == "insert") return Kind::insert;
    if (type == "replace") return Kind::replace;
    if (type == "update") return Kind::update;
    if (type == "delete") return Kind::remove;
    if (type == "drop") return Kind::drop;
    if (type == "dropDatabase") return Kind::drop_database;
    if (type == "rename") return Kind::rename;
    if (type == "invalidate") return Kind::invalidate;
    return std::nullopt;
}

Result<Namespace> namespace_at(const bson_t* event, const char* key, std::string_view type) {
    const auto ns = document_at(event, key);
    if (!ns) return fail(ErrorCode::corrupt, "a {} change event has no {}", type, key);
    const auto db = utf8_at(ns->get(), "db");
    if (!db || db->empty())
        return fail(ErrorCode::corrupt, "a {} change event has no {}.db", type, key);
    return Namespace{*db, utf8_at(ns->get(), "coll").value_or("")};
}

// The write stages of an update: the truncations first (the sets may write into a truncated
// array: both in one update would conflict on the array's path), then $unset and $set together
// (a change event never names a path in both). An empty stage is left out.
struct UpdateStages {
    std::optional<Bson> truncate;
    std::optional<Bson> set_and_unset;
};

UpdateStages stages_of(const UpdateDescription& update) {
    UpdateStages stages;
    if (!update.truncations.empty()) {
        Bson push;
        bson_t fields;
        BSON_APPEND_DOCUMENT_BEGIN(push.get(), "$push", &fields);
        for (const auto& [path, new_size] : update.truncations) {
            const std::string dotted = dotted_path(path);
            bson_t spec;
            bson_t each;
            bson_append_document_begin(&fields, dotted.c_str(), -1, &spec);
            BSON_APPEND_ARRAY_BEGIN(&spec, "$each", &each);
            bson_append_array_end(&spec, &each);
            // int32 when it fits: servers and drivers read a small $slice as an int.
            if (new_size <= static_cast<std::uint64_t>(INT32_MAX))
                BSON_APPEND_INT32(&spec, "$slice", static_cast<std::int32_t>(new_size));
            else
                BSON_APPEND_INT64(&spec, "$slice", static_cast<std::int64_t>(new_size));
            bson_append_document_end(&fields, &spec);
        }
        bson_append_document_end(push.get(), &fields);
        stages.truncate = std::move(push);
    }
    if (!update.sets.empty() || !update.unsets.empty()) {
        Bson change;
        if (!update.unsets.empty()) {
            bson_t fields;
            BSON_APPEND_DOCUMENT_BEGIN(change.get(), "$unset", &fields);
            for (const auto& path : update.unsets)
                bson_append_int32(&fields, dotted_path(path).c_str(), -1, 1);
            bson_append_document_end(change.get(), &fields);
        }
        if (!update.sets.empty()) {
            bson_t fields;
            BSON_APPEND_DOCUMENT_BEGIN(change.get(), "$set", &fields);
            for (const auto& set : update.sets)
                append_held_value(&fields, dotted_path(set.path), set.value);
            bson_append_document_end(change.get(), &fields);
        }
        stages.set_and_unset = std::move(change);
    }
    return stages;
}

// The update as one description per path (truncations, removals, sets: the server's order).
std::vector<UpdateDescription> one_path_each(const UpdateDescription& update) {
    std::vector<UpdateDescription> out;
    for (const auto& truncation : update.truncations)
        out.push_back(UpdateDescription{.truncations = {truncation}});
    for (const auto& path : update.unsets)
        out.push_back(UpdateDescription{.unsets = {path}});
    for (const auto& set : update.sets) {
        UpdateDescription one;
        one.sets.push_back(PathValue{set.path, set.value.clone()});
        out.push_back(std::move(one));
    }
    return out;
}

// Whether a write the server refuses may be skipped (see "Replays" in the header).
enum class Refusal { fails, skipped };

// One write of the batch, kept until the batch is sent: a refusal that may be skipped resends
// the writes after it.
struct PendingWrite {
    enum class Kind { replace_upsert, update, remove };
    Kind kind;
    Bson filter;
    Bson change;        // the replacement or the update document
    std::string event;  // for the message when the server refuses it
    Refusal refusal = Refusal::fails;
};

}  // namespace

struct ChangeApplier::State {
    const mongodb::Client* target = nullptr;
    std::optional<NamespaceFilter> only;
    ApplyOptions options;
    ApplyCounts counts;
    // The batch being filled: writes to one collection.
    std::optional<Namespace> batch_ns;
    std::vector<PendingWrite> batch;
    // Once a write failed, every later call answers with that failure.
    std::optional<Error> failure;

    bool in_part(const Namespace& ns) const {
        if (!only) return true;
        return ns.database == only->database &&
               (only->collection.empty() || ns.collection == only->collection);
    }

    // Whether `event` may already be reflected in the target.
    Refusal refusal_of(const bson_t* event) const {
        bson_iter_t it;
        if (!options.replay_through || !bson_iter_init_find(&it, event, "clusterTime") ||
            !BSON_ITER_HOLDS_TIMESTAMP(&it))
            return Refusal::fails;
        ClusterTime time;
        bson_iter_timestamp(&it, &time.seconds, &time.increment);
        return time <= *options.replay_through ? Refusal::skipped : Refusal::fails;
    }

    Status failed(const std::string& what, const Error& error) {
        failure = Error{ErrorCode::database, fmt::format("applying {}: {}", what, error.message)};
        return std::unexpected(*failure);
    }

    // Sends the batch; a refused write that may be skipped is counted and the writes after it
    // are sent again (an ordered bulk write stops at its first refusal).
    Status flush() {
        if (batch.empty()) return {};
        const Namespace ns = *batch_ns;
        std::vector<PendingWrite> writes = std::exchange(batch, {});
        batch_ns.reset();
        std::size_t from = 0;
        while (from < writes.size()) {
            mongodb::BulkWrite bulk = target->bulk_write(ns.database, ns.collection);
            for (std::size_t i = from; i < writes.size(); ++i) {
                const PendingWrite& write = writes[i];
                Status queued;
                switch (write.kind) {
                    case PendingWrite::Kind::replace_upsert:
                        queued = bulk.replace_one(write.filter, write.change, mongodb::Upsert::yes);
                        break;
                    case PendingWrite::Kind::update:
                        queued = bulk.update_one(write.filter, write.change);
                        break;
                    case PendingWrite::Kind::remove:
                        queued = bulk.delete_one(write.filter);
                        break;
                }
                if (!queued) return failed(write.event, queued.error());
            }
            auto written = bulk.execute();
            if (written) return {};
            const auto index = bulk.failed_index();
            if (!index || from + *index >= writes.size())
                return failed(fmt::format("one of {} batched events on {}", writes.size() - from,
                                          name_of(ns)),
                              written.error());
            const PendingWrite& refused = writes[from + *index];
            if (refused.refusal == Refusal::fails) return failed(refused.event, written.error());
            ++counts.replay_refusals;
            from += *index + 1;
        }
        return {};
    }

    // Adds a write to the batch of `ns`, after sending one for another collection or a full one.
    Status queue(const Namespace& ns, PendingWrite write) {
        if (!batch.empty() && (batch_ns != ns || batch.size() >= k_apply_batch_writes))
            LB_TRY(flush());
        batch_ns = ns;
        batch.push_back(std::move(write));
        return {};
    }

    Status upsert(const Namespace& ns, const bson_t* event, const std::string& what) {
        const auto document = document_at(event, "fullDocument");
        if (!document) return fail(ErrorCode::corrupt, "{} has no fullDocument", what);
        Bson filter = LB_TRY(id_filter(event, what));
        LB_TRY(queue(ns, PendingWrite{PendingWrite::Kind::replace_upsert, std::move(filter),
                                      document->clone(), what}));
        ++counts.upserted;
        return {};
    }

    Status update(const Namespace& ns, const bson_t* event, const std::string& what) {
        const auto description = document_at(event, "updateDescription");
        if (!description) return fail(ErrorCode::corrupt, "{} has no updateDescription", what);
        UpdateDescription update = LB_TRY(parse_update_description(*description));
        const Bson filter = LB_TRY(id_filter(event, what));
        const Refusal refusal = refusal_of(event);
        ++counts.updated;
        if (update.needs_whole_document) return update_whole(ns, filter, update, what, refusal);
        // An event the base may reflect goes one path per write: a refusal then skips only the
        // path the base's later state refuses, never the event's other changes, which the base
        // holds and no later event may repeat.
        std::vector<UpdateDescription> parts;
        if (refusal == Refusal::skipped)
            parts = one_path_each(update);
        else
            parts.push_back(std::move(update));
        for (const auto& part : parts) {
            UpdateStages stages = stages_of(part);
            for (auto* stage : {&stages.truncate, &stages.set_and_unset}) {
                if (!*stage) continue;
                LB_TRY(queue(ns, PendingWrite{PendingWrite::Kind::update, filter.clone(),
                                              std::move(**stage), what, refusal}));
            }
        }
        return {};
    }

    // A field name with a dot or a leading $ cannot be named by an update operator's path: the
    // document is read, edited here and written back whole. The batch goes first, so the read
    // sees every earlier event.
    Status update_whole(const Namespace& ns, const Bson& filter, const UpdateDescription& update,
                        const std::string& what, Refusal refusal) {
        LB_TRY(flush());
        std::optional<Bson> current;
        auto found = target->find(ns.database, ns.collection, filter, Bson(),
                                  [&](mongodb::DocumentRef doc) -> Status {
                                      current = Bson::copy_of(*doc.doc);
                                      return {};
                                  });
        if (!found) return failed(what, found.error());
        if (!current) return {};  // deleted later: a later event says so
        auto edited = apply_update_description(*current, update);
        if (!edited && edited.error().code == ErrorCode::database && refusal == Refusal::skipped) {
            // As for operators: only the paths the later state refuses are left out.
            edited = std::move(*current);
            for (const auto& part : one_path_each(update)) {
                auto one = apply_update_description(*edited, part);
                if (one)
                    edited = std::move(one);
                else if (one.error().code == ErrorCode::database)
                    ++counts.replay_refusals;
                else
                    return failed(what, one.error());
            }
        }
        if (!edited) return failed(what, edited.error());
        // Replaced, not upserted: the read found it, and nothing else writes to the target.
        mongodb::BulkWrite bulk = target->bulk_write(ns.database, ns.collection);
        auto queued = bulk.replace_one(filter, *edited, mongodb::Upsert::no);
        if (queued) queued = bulk.execute();
        if (!queued) return failed(what, queued.error());
        return {};
    }

    Status remove(const Namespace& ns, const bson_t* event, const std::string& what) {
        Bson filter = LB_TRY(id_filter(event, what));
        LB_TRY(
            queue(ns, PendingWrite{PendingWrite::Kind::remove, std::move(filter), Bson(), what}));
        ++counts.deleted;
        return {};
    }

    Status ddl_failure(Status status, const std::string& what) {
        if (status) return status;
        return failed(what, status.error());
    }

    Status drop(const Namespace& ns, const std::string& what) {
        LB_TRY(flush());
        ++counts.ddl;
        return ddl_failure(target->drop_collection(ns.database, ns.collection), what);
    }

    Status drop_database(const Namespace& ns, const std::string& what) {
        LB_TRY(flush());
        ++counts.ddl;
        // Restoring one collection: only it is in the target to drop.
        if (only && !only->collection.empty())
            return ddl_failure(target->drop_collection(ns.database, only->collection), what);
        return ddl_failure(target->drop_database(ns.database), what);
    }

    Status rename(const Namespace& from, const bson_t* event, const std::string& what) {
        const Namespace to = LB_TRY(namespace_at(event, "to", "rename"));
        const bool from_in = in_part(from);
        const bool to_in = in_part(to);
        if (!from_in && !to_in) return {};
        if (!from_in) {
            return fail(ErrorCode::unsupported,
                        "{} renames {} into the restored part ({}): its documents are not in the "
                        "base backup; restore without --only",
                        what, name_of(from), name_of(to));
        }
        LB_TRY(flush());
        ++counts.ddl;
        if (!to_in)
            return ddl_failure(target->drop_collection(from.database, from.collection), what);
        // An absent source was renamed by the dump's time already: nothing left to move.
        auto renamed = target->rename_collection(from.database, from.collection, to.database,
                                                 to.collection, mongodb::DropTarget::yes);
        if (!renamed) return failed(what, renamed.error());
        if (*renamed == mongodb::RenameOutcome::source_absent) ++counts.replay_refusals;
        return {};
    }

    Status apply(const bson_t* event) {
        if (failure) return std::unexpected(*failure);
        const auto type = utf8_at(event, "operationType");
        if (!type) return fail(ErrorCode::corrupt, "a change event has no operationType");
        const auto kind = kind_of(*type);
        if (kind == Kind::invalidate) return {};
        const Namespace ns = LB_TRY(namespace_at(event, "ns", *type));
        const std::string what = describe(*type, ns, event);
        if (!kind)
            return fail(ErrorCode::unsupported,
                        "{}: a change of type '{}' cannot be applied by a restore", what, *type);
        if (*kind != Kind::drop_database && *kind != Kind::rename && ns.collection.empty())
            return fail(ErrorCode::corrupt, "{} has no ns.coll", what);
        if (*kind == Kind::rename) return count_applied(rename(ns, event, what));
        if (!in_part(ns) &&
            !(*kind == Kind::drop_database && only && ns.database == only->database))
            return {};
        switch (*kind) {
            case Kind::insert:
            case Kind::replace:
                return count_applied(upsert(ns, event, what));
            case Kind::update:
                return count_applied(update(ns, event, what));
            case Kind::remove:
                return count_applied(remove(ns, event, what));
            case Kind::drop:
                return count_applied(drop(ns, what));
            case Kind::drop_database:
                return count_applied(drop_database(ns, what));
            case Kind::rename:
            case Kind::invalidate:
                break;
        }
        return {};
    }

    Status count_applied(Status status) {
        if (status) ++counts.events;
        return status;
    }
};

ChangeApplier::ChangeApplier(const mongodb::Client& target, std::optional<NamespaceFilter> only,
                             ApplyOptions options)
    : m_state(std::make_unique<State>()) {
    m_state->target = &target;
    m_state->only = std::move(only);
    m_state->options = options;
}

ChangeApplier::~ChangeApplier() = default;
ChangeApplier::ChangeApplier(ChangeApplier&&) noexcept = default;
ChangeApplier& ChangeApplier::operator=(ChangeApplier&&) noexcept = default;

Status ChangeApplier::apply(const mongodb::Bson& event) {
    return m_state->apply(event.get());
}

Status ChangeApplier::finish() {
    if (m_state->failure) return std::unexpected(*m_state->failure);
    return m_state->flush();
}

const ApplyCounts& ChangeApplier::counts() const {
    return m_state->counts;
}

}  // namespace lifeboat::mongodb_driver
