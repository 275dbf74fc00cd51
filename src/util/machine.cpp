#include "util/machine.hpp"

#include "util/fs.hpp"

#include <algorithm>
#include <charconv>
#include <string>

namespace lifeboat {

namespace {

std::optional<std::string> read_text(const std::string& path) {
    auto text = read_file(path);
    if (!text) return std::nullopt;
    return std::move(*text);
}

std::optional<std::uint64_t> leading_number(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data()) return std::nullopt;
    return value;
}

// The cgroup v2 directory of this process ("0::/path" in /proc/self/cgroup).
std::optional<std::string> own_cgroup() {
    const auto text = read_text("/proc/self/cgroup");
    if (!text) return std::nullopt;
    const auto at = text->find("0::");
    if (at == std::string::npos) return std::nullopt;
    const auto end = text->find('\n', at);
    return "/sys/fs/cgroup" + text->substr(at + 3, end == std::string::npos ? end : end - at - 3);
}

}  // namespace

std::optional<std::uint64_t> meminfo_available(std::string_view meminfo) {
    constexpr std::string_view key = "MemAvailable:";
    const auto at = meminfo.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    const auto kib = leading_number(meminfo.substr(at + key.size()));
    if (!kib || *kib > UINT64_MAX / 1024) return std::nullopt;
    return *kib * 1024;
}

std::optional<std::uint64_t> cgroup_room(std::string_view max, std::string_view current) {
    const auto limit = leading_number(max);
    const auto used = leading_number(current);
    if (!limit || !used) return std::nullopt;
    return *limit > *used ? *limit - *used : 0;
}

std::optional<std::uint64_t> available_memory() {
    const auto meminfo = read_text("/proc/meminfo");
    if (!meminfo) return std::nullopt;
    auto available = meminfo_available(*meminfo);
    if (!available) return std::nullopt;
    if (const auto group = own_cgroup()) {
        const auto max = read_text(*group + "/memory.max");
        const auto current = read_text(*group + "/memory.current");
        if (max && current) {
            if (const auto room = cgroup_room(*max, *current))
                available = std::min(*available, *room);
        }
    }
    return available;
}

}  // namespace lifeboat
