// Any bytes as the kernel's answer to an rtnetlink request: only an acknowledgement of our
// request may count as success.
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "control/kernel/kernel_interface.hpp"

using fulcrum::control::netlink_ack_problem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 4) return 0;
    uint32_t seq;
    std::memcpy(&seq, data, sizeof seq);
    const size_t length = size - 4;
    std::unique_ptr<char[]> reply(new char[length == 0 ? 1 : length]);
    std::memcpy(reply.get(), data + 4, length);
    if (netlink_ack_problem(reply.get(), length, seq).empty()) {
        // Success: it was a whole NLMSG_ERROR of that sequence number with error 0.
        nlmsghdr header;
        nlmsgerr error;
        if (length < NLMSG_LENGTH(sizeof error)) std::abort();
        std::memcpy(&header, reply.get(), sizeof header);
        std::memcpy(&error, reply.get() + NLMSG_HDRLEN, sizeof error);
        if (header.nlmsg_type != NLMSG_ERROR || header.nlmsg_seq != seq || error.error != 0) std::abort();
    }
    return 0;
}
