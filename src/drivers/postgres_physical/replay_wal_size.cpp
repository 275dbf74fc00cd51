#include "drivers/postgres_physical/replay_wal_size.hpp"

#include <fmt/format.h>

#include "drivers/postgres_physical/replay_memory.hpp"
#include "sources/postgres/server_config.hpp"

namespace lifeboat::postgres_physical {

namespace {

constexpr std::string_view k_auto_conf = "postgresql.auto.conf";
// The end of every line the replay owns; nothing else in the file ends that way.
constexpr std::string_view k_replay_only_mark =
    "  # lifeboat restore: for the WAL replay only, removed once the instance is read-write";

}  // namespace

std::optional<std::uint64_t> automatic_replay_max_wal_size(
    std::optional<std::uint64_t> configured, std::optional<std::uint64_t> free_space) {
    if (!configured || !free_space) return std::nullopt;
    const std::uint64_t wanted = *free_space / 4 / k_max_wal_size_unit * k_max_wal_size_unit;
    if (wanted <= *configured) return std::nullopt;
    return wanted;
}

std::optional<std::uint64_t> replay_max_wal_size_for(const fs::path& data_dir) {
    std::error_code ec;
    const fs::space_info space = fs::space(data_dir / "pg_wal", ec);
    const std::optional<std::uint64_t> free_space =
        ec ? std::nullopt : std::optional<std::uint64_t>(space.available);
    return automatic_replay_max_wal_size(
        configured_size_setting(data_dir, "max_wal_size", k_default_max_wal_size,
                                k_max_wal_size_unit),
        free_space);
}

Status add_replay_only_setting(const fs::path& data_dir, std::string_view name,
                               std::string_view value) {
    const fs::path file = data_dir / k_auto_conf;
    std::error_code ec;
    std::string text;
    if (fs::exists(file, ec)) text = LB_TRY(read_file(file));
    if (!text.empty() && text.back() != '\n') text += '\n';
    const std::string quoted = LB_TRY(postgres::quote_config_value(value, name));
    text += fmt::format("{} = {}{}\n", name, quoted, k_replay_only_mark);
    return write_file_atomic(file, text);
}

Result<bool> remove_replay_only_settings(const fs::path& data_dir) {
    const fs::path file = data_dir / k_auto_conf;
    std::error_code ec;
    if (!fs::exists(file, ec)) return false;
    const std::string text = LB_TRY(read_file(file));
    std::string kept;
    bool removed = false;
    std::size_t begin = 0;
    while (begin < text.size()) {
        std::size_t end = text.find('\n', begin);
        end = end == std::string::npos ? text.size() : end + 1;
        const std::string_view line(text.data() + begin, end - begin);
        std::string_view bare = line;
        if (bare.ends_with('\n')) bare.remove_suffix(1);
        if (bare.ends_with(k_replay_only_mark)) {
            removed = true;
        } else {
            kept += line;
        }
        begin = end;
    }
    if (!removed) return false;
    LB_CHECK(write_file_atomic(file, kept));
    return true;
}

}  // namespace lifeboat::postgres_physical
