#include "util/thread_buffer.hpp"

#include <utility>

namespace lifeboat {

namespace {

thread_local std::string t_spare;

}  // namespace

std::string take_thread_buffer() {
    std::string out = std::exchange(t_spare, std::string());
    out.clear();
    return out;
}

void return_thread_buffer(std::string&& buffer) {
    t_spare = std::move(buffer);
}

}  // namespace lifeboat
