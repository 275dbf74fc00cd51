// Text placed in HTML or XML, in element content or in a quoted attribute value.
#pragma once

#include <string>
#include <string_view>

namespace lifeboat {

// Replaces & < > " ' by character references (&amp; &lt; &gt; &quot; &#39;), valid in both
// HTML and XML; everything else is kept as it is.
std::string escape_markup(std::string_view text);

}  // namespace lifeboat
