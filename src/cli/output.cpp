#include "cli/output.hpp"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace lifeboat::cli {

std::string human_bytes(std::uint64_t bytes) {
    static const char* k_units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= 1024 && unit < 4) {
        value /= 1024;
        ++unit;
    }
    return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, k_units[unit]);
}

std::string stored_summary(std::uint64_t stored_bytes, std::uint64_t logical_bytes) {
    const std::string sizes = fmt::format("{} for {} of backed-up data", human_bytes(stored_bytes),
                                          human_bytes(logical_bytes));
    // An empty repository still holds its configuration: "0.0x less" would read as a failure.
    if (logical_bytes == 0) return sizes + " (no backup yet)";
    if (stored_bytes >= logical_bytes) return sizes + " (no savings yet)";
    return fmt::format("{} ({:.1f}x less)", sizes,
                       static_cast<double>(logical_bytes) / static_cast<double>(stored_bytes));
}

ProgressLine::ProgressLine() : m_enabled(::isatty(STDERR_FILENO) == 1) {}
ProgressLine::~ProgressLine() {
    clear();
}

engine::ProgressFn ProgressLine::callback() {
    if (!m_enabled) return {};
    return [this](const engine::Progress& p) { show(p); };
}

void ProgressLine::show(const engine::Progress& p) {
    std::lock_guard lock(m_mutex);
    const auto now = std::chrono::steady_clock::now();
    if (now - m_last < std::chrono::milliseconds(200)) return;
    m_last = now;
    std::string line = p.phase;
    if (p.total > 0) {
        const double percent = 100.0 * static_cast<double>(p.done) / static_cast<double>(p.total);
        line += p.unit == engine::ProgressUnit::bytes
                    ? fmt::format(" {:3.0f}% ({} / {})", percent, human_bytes(p.done),
                                  human_bytes(p.total))
                    : fmt::format(" {:3.0f}% ({} / {})", percent, p.done, p.total);
    }
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
    m_dirty = true;
}

void ProgressLine::clear() {
    std::lock_guard lock(m_mutex);
    if (m_dirty) {
        std::fprintf(stderr, "\r\033[K");
        std::fflush(stderr);
        m_dirty = false;
    }
}

std::function<void(const std::string&)> tell_once_when_waiting() {
    return [told = false](const std::string& holder) mutable {
        if (told) return;
        told = true;
        std::fprintf(stderr, "lifeboat: waiting for %s to finish\n", holder.c_str());
    };
}

}  // namespace lifeboat::cli
