// Whether an ipvsadm command line asks for a restore, whose rules follow it on the next lines up
// to a line holding ".". Decided by the words alone, never by parsing them, so that fulcrumadm
// (which sends the rules) and the console (which reads them) agree on every command line, one
// that does not parse included: a body is then read whole and refused, never run as commands.
#pragma once

#include <string_view>

namespace fulcrum::control {

// `words`: the arguments after "ipvsadm". True when one is --restore, or a bundle of short
// options (-R, -nR) holding R.
template <typename Words>
bool ipvsadm_takes_body(const Words& words)
{
    for (const auto& word : words) {
        const std::string_view w = word;
        if (w == "--restore" || w.starts_with("--restore=")) return true;
        if (w.size() > 1 && w[0] == '-' && w[1] != '-' && w.find('R') != std::string_view::npos) return true;
    }
    return false;
}

}  // namespace fulcrum::control
