// Any bytes as a configuration file: the checker reports problems with a line and column, or
// gives a configuration that the writer turns into YAML the checker takes back unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "control/config/config.hpp"
#include "control/config/writer.hpp"

using namespace fulcrum::control;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string text(reinterpret_cast<const char*>(data), size);
    const ConfigResult result = parse_config(text, "fuzz.yaml");
    if (result.config.has_value() == !result.errors.empty()) std::abort();  // one or the other
    if (!result.config) return 0;
    const ConfigResult again = parse_config(config_to_yaml(*result.config), "written.yaml");
    if (!again.config) std::abort();
    return 0;
}
