#include "drivers/postgres_physical/replay_memory.hpp"

#include <algorithm>

#include "sources/postgres/server_config.hpp"
#include "util/machine.hpp"

namespace lifeboat::postgres_physical {

namespace {

constexpr std::uint64_t k_mib = 1ull << 20;
constexpr std::uint64_t k_page = 8192;  // shared_buffers without a unit counts pages

}  // namespace

std::optional<std::uint64_t> automatic_replay_buffers(std::optional<std::uint64_t> configured,
                                                      std::optional<std::uint64_t> available,
                                                      std::uint64_t data_bytes) {
    if (!configured || !available) return std::nullopt;
    const std::uint64_t wanted =
        std::min({(data_bytes + k_mib - 1) / k_mib * k_mib, *available / 4 / k_mib * k_mib,
                  k_automatic_replay_buffers_cap});
    if (wanted <= *configured) return std::nullopt;
    return wanted;
}

std::optional<std::uint64_t> configured_size_setting(const fs::path& data_dir,
                                                     std::string_view name,
                                                     std::uint64_t default_bytes,
                                                     std::uint64_t unit_bytes) {
    std::uint64_t value = default_bytes;
    for (const char* file : {"postgresql.conf", "postgresql.auto.conf"}) {
        std::error_code ec;
        if (!fs::exists(data_dir / file, ec)) continue;
        const auto text = read_file(data_dir / file);
        if (!text || postgres::has_include_directive(*text)) return std::nullopt;
        if (const auto set = postgres::last_setting_value(*text, name)) {
            const auto bytes = postgres::parse_memory_size(*set, unit_bytes);
            if (!bytes) return std::nullopt;
            value = *bytes;
        }
    }
    return value;
}

std::optional<std::uint64_t> configured_shared_buffers(const fs::path& data_dir) {
    return configured_size_setting(data_dir, "shared_buffers", k_default_shared_buffers, k_page);
}

std::optional<std::uint64_t> replay_buffers_for(const source::ReplayMemory& request,
                                                const fs::path& data_dir,
                                                std::uint64_t data_bytes) {
    switch (request.mode) {
        case source::ReplayMemory::Mode::configured:
            return std::nullopt;
        case source::ReplayMemory::Mode::fixed:
            return request.bytes;
        case source::ReplayMemory::Mode::automatic:
            break;
    }
    return automatic_replay_buffers(configured_shared_buffers(data_dir), available_memory(),
                                    data_bytes);
}

}  // namespace lifeboat::postgres_physical
