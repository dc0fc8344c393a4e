#include "common/text.hpp"

#include <fmt/format.h>

namespace fulcrum {

std::string quote(std::string_view text)
{
    constexpr size_t max_shown = 60;
    std::string out = "\"";
    for (size_t i = 0; i < text.size() && i < max_shown; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c >= 0x7f) {
            out += fmt::format("\\x{:02x}", c);
        } else {
            out += static_cast<char>(c);
        }
    }
    if (text.size() > max_shown) out += "...";
    out += '"';
    return out;
}

}  // namespace fulcrum
