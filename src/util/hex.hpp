// Lower-case hexadecimal encoding of byte strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lifeboat {

std::string to_hex(std::string_view bytes);
// nullopt when `text` has odd length or a non-hex character.
std::optional<std::string> from_hex(std::string_view text);

}  // namespace lifeboat
