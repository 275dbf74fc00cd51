#include "drivers/postgres_physical/driver.hpp"

#include <charconv>

#include "drivers/postgres_physical/base_backup.hpp"
#include "drivers/postgres_physical/restore_target.hpp"
#include "drivers/postgres_physical/validate.hpp"
#include "source/registry.hpp"
#include "sources/postgres/connection.hpp"
#include "sources/postgres/local_server.hpp"

namespace lifeboat::postgres_physical {

Result<std::unique_ptr<source::BaseBackup>> PhysicalDriver::open_base_backup(
    const source::BaseBackupRequest& request) const {
    return postgres_physical::open_base_backup(request);
}

Result<source::ValidationReport> PhysicalDriver::validate(
    const source::ValidateOptions& options) const {
    return run_validation(options);
}

std::unique_ptr<source::RestoreTarget> PhysicalDriver::restore_target(
    source::RestoreRequest request) const {
    return std::make_unique<PhysicalRestoreTarget>(std::move(request));
}

std::optional<Timestamp> PhysicalDriver::newest_commit(const std::string& conninfo,
                                                       std::chrono::seconds limit) const {
    auto conn = postgres::Connection::open(conninfo, {.statement = limit});
    if (!conn) return std::nullopt;
    // Known only with track_commit_timestamp = on.
    auto value = conn->query_value(
        "SELECT (extract(epoch FROM timestamp) * 1000000)::bigint FROM pg_last_committed_xact()");
    if (!value || value->empty()) return std::nullopt;
    std::int64_t micros = 0;
    const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), micros);
    if (ec != std::errc() || end != value->data() + value->size()) return std::nullopt;
    return Timestamp{micros};
}

Result<std::string> PhysicalDriver::stop_instance(const fs::path& directory,
                                                  const source::RestoreRequest& how) const {
    // How long a postmaster sent SIGQUIT may take before it is killed.
    constexpr std::chrono::seconds k_stop_grace{10};
    auto bindir = postgres::find_server_bindir(how.pg_bin);
    if (!bindir) return std::string();  // no server programs: nothing could have been started
    auto account = postgres::server_account(directory, how.run_as_user);
    postgres::LocalServer server(*bindir, directory,
                                 account ? *account : std::optional<UserAccount>());
    return server.stop_for_certain(postgres::LocalServer::StopMode::fast, k_stop_grace);
}

void register_driver() {
    source::register_driver(std::make_unique<PhysicalDriver>());
}

}  // namespace lifeboat::postgres_physical
