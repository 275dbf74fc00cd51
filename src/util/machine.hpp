// What the machine this process runs on can give: memory not in use.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace lifeboat {

// Bytes of memory that can still be used without swapping: MemAvailable of /proc/meminfo,
// lowered to what the process's control group (cgroup v2 memory.max) leaves above its
// memory.current. nullopt when /proc/meminfo cannot be read.
std::optional<std::uint64_t> available_memory();

// MemAvailable, in bytes, of /proc/meminfo's text.
std::optional<std::uint64_t> meminfo_available(std::string_view meminfo);

// What a cgroup v2 limit leaves: memory.max minus memory.current ("max": no limit, nullopt).
std::optional<std::uint64_t> cgroup_room(std::string_view max, std::string_view current);

}  // namespace lifeboat
