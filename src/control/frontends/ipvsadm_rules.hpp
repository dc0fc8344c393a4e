// ipvsadm's editing command lines (ipvsadm-save's rules: -A, -E, -D, -C, -a, -e, -d, --set,
// --start-daemon, --stop-daemon) made to a configuration, as the console's `ipvsadm` makes them.
// Pure: no I/O and no director, so `ipvsadm -R` and `fulcrum import ipvsadm` share it.
#pragma once

#include <string>
#include <string_view>

#include "control/config/config.hpp"

namespace fulcrum::control {

struct IpvsadmRuleOutcome {
    std::string problem;  // "" when the rule was made, or the line was blank or a # comment
    int status = 0;       // ipvsadm's: 2 for a command line it would refuse, 255 for an edit refused
    bool edited = false;  // the rule changed `config`
};

// One rule, with or without a leading "ipvsadm"; `config` is changed only when it succeeds.
IpvsadmRuleOutcome apply_ipvsadm_rule(Config& config, std::string_view line);

}  // namespace fulcrum::control
