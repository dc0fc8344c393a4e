// A Config written back as YAML that parse_config reads to an equal Config: `show config`, and
// the way console edits are checked (by the same validator as files, through a round trip).
#pragma once

#include <string>

#include "control/config/config.hpp"

namespace fulcrum::control {

std::string config_to_yaml(const Config& config);

// Every problem with `config`, as the validator words them for a file called `what`; empty
// when it is valid.
std::vector<ConfigError> check_config(const Config& config, const std::string& what);

}  // namespace fulcrum::control
