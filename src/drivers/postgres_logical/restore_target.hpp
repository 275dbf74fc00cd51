// The logical PostgreSQL restore target (source/restore_target.hpp): a new local instance
// loaded from a logical backup. The engine writes the backup's entries (the dump files) into the
// target directory; starting then creates the instance in <target>/pgdata (initdb as the server
// account, data checksums on), starts it on the plan's port, creates the backup's database,
// loads pre-data, COPYs each table from its file (binary), sets the sequences, loads post-data
// (indexes and constraints: foreign keys are checked here), runs ANALYZE and removes the dump
// files. Then, unless the plan says `consistent`, it applies the change log objects that
// continue the backup up to the plan's target (change_apply.hpp), sets the sequences from their
// samples, runs ANALYZE and a CHECKPOINT. Only with --start: without a server there is nothing
// to load into.
#pragma once

#include <optional>

#include "drivers/postgres_logical/change_apply.hpp"
#include "source/restore_target.hpp"
#include "util/process.hpp"

namespace lifeboat::postgres_logical {

class LogicalRestoreTarget final : public source::RestoreTarget {
  public:
    explicit LogicalRestoreTarget(source::RestoreRequest request) : m_request(std::move(request)) {}

    Result<std::map<std::uint32_t, fs::path>> check_and_place(
        const repo::Manifest& manifest) override;
    Result<double> prepare_start(const std::string& repository_location) override;
    Result<std::vector<std::string>> configure(const source::RecoveryPlan& plan) override;
    Result<source::StartedInstance> start_and_await(int port, const OperationContext& ctx) override;
    bool has_started() const override { return m_started; }

  private:
    struct Prepared {
        fs::path bindir;
        std::optional<UserAccount> account;
    };
    Status load(const Prepared& prepared, const std::string& conninfo, const OperationContext& ctx);
    // --target-pg: the load and the apply into the given database; nothing is started.
    Result<source::StartedInstance> load_into_existing(const Prepared& prepared,
                                                       const OperationContext& ctx);
    void remove_staged_files();
    // The change log after the base, up to the plan's target (change_apply.hpp).
    Status apply_log(const std::string& conninfo, const OperationContext& ctx);

    source::RestoreRequest m_request;
    std::optional<Prepared> m_prepared;
    const repo::Manifest* m_manifest = nullptr;
    source::RecoveryPlan m_plan;
    std::optional<TableName> m_only;  // --only, resolved against the manifest
    bool m_started = false;
};

// Where the instance's data directory goes inside a restore's target directory.
inline constexpr std::string_view k_pgdata_subdirectory = "pgdata";

}  // namespace lifeboat::postgres_logical
