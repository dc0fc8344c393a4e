// Any bytes as a real server's answer to an HTTP check: the status line parser and the "is it
// whole yet" test must neither crash nor read past what was received.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "control/health/health.hpp"

using namespace fulcrum::control;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    // An exact-size copy, so that AddressSanitizer sees a read one byte past the answer.
    std::unique_ptr<char[]> copy(new char[size]);
    std::memcpy(copy.get(), data, size);
    const std::string_view response(copy.get(), size);
    if (const auto status = parse_http_status(response)) {
        if (*status < 100 || *status > 999) std::abort();  // three digits
        (void)status_accepted(*status, {});
    }
    (void)http_response_complete(response);
    return 0;
}
