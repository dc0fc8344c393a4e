// What an rtnetlink answer says: only an acknowledgement of our request is a success.
#include <gtest/gtest.h>

#include <linux/netlink.h>

#include <cstring>
#include <vector>

#include "control/kernel/kernel_interface.hpp"

using fulcrum::control::netlink_ack_problem;

namespace {

std::vector<char> message(uint16_t type, uint32_t seq, int error, size_t declared_extra = 0)
{
    std::vector<char> bytes(NLMSG_LENGTH(sizeof(nlmsgerr)), 0);
    nlmsghdr header{};
    header.nlmsg_len = static_cast<uint32_t>(bytes.size() + declared_extra);
    header.nlmsg_type = type;
    header.nlmsg_seq = seq;
    std::memcpy(bytes.data(), &header, sizeof header);
    nlmsgerr body{};
    body.error = error;
    std::memcpy(bytes.data() + NLMSG_HDRLEN, &body, sizeof body);
    return bytes;
}

}  // namespace

TEST(NetlinkAck, OnlyAnAcknowledgementOfOurRequestIsSuccess)
{
    auto ack = message(NLMSG_ERROR, 7, 0);
    EXPECT_EQ(netlink_ack_problem(ack.data(), ack.size(), 7), "");
    auto refused = message(NLMSG_ERROR, 7, -EEXIST);
    EXPECT_EQ(netlink_ack_problem(refused.data(), refused.size(), 7), "File exists");
    auto other_request = message(NLMSG_ERROR, 6, 0);
    EXPECT_EQ(netlink_ack_problem(other_request.data(), other_request.size(), 7),
              "netlink: an acknowledgement of request 6, not 7");
    auto done = message(NLMSG_DONE, 7, 0);
    EXPECT_EQ(netlink_ack_problem(done.data(), done.size(), 7), "netlink: a reply of type 3, not an acknowledgement");
    EXPECT_EQ(netlink_ack_problem(ack.data(), 10, 7), "netlink: a reply of 10 bytes, too short for an acknowledgement");
    auto overlong = message(NLMSG_ERROR, 7, 0, 100);
    EXPECT_EQ(netlink_ack_problem(overlong.data(), overlong.size(), 7), "netlink: a reply whose length says 136 bytes of 36");
    auto positive = message(NLMSG_ERROR, 7, 5);
    EXPECT_EQ(netlink_ack_problem(positive.data(), positive.size(), 7), "netlink: an error code 5 out of range");
}
