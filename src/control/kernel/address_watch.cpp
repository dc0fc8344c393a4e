#include "control/kernel/address_watch.hpp"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace fulcrum::control {

namespace {

constexpr size_t receive_size = 64 * 1024;

}  // namespace

bool apply_address_messages(const void* buffer, size_t length, AddressesByInterface& held)
{
    bool changed = false;
    const auto* bytes = static_cast<const char*>(buffer);
    size_t offset = 0;
    while (offset < length && length - offset >= sizeof(nlmsghdr)) {
        nlmsghdr h;
        std::memcpy(&h, bytes + offset, sizeof h);
        if (h.nlmsg_len < sizeof h || h.nlmsg_len > length - offset) break;
        const size_t next = offset + NLMSG_ALIGN(h.nlmsg_len);
        if ((h.nlmsg_type == RTM_NEWADDR || h.nlmsg_type == RTM_DELADDR) && h.nlmsg_len >= NLMSG_LENGTH(sizeof(ifaddrmsg))) {
            ifaddrmsg ifa;
            std::memcpy(&ifa, bytes + offset + NLMSG_HDRLEN, sizeof ifa);
            if (ifa.ifa_family == AF_INET || ifa.ifa_family == AF_INET6) {
                // IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer's on a
                // point-to-point link); either will do where the other is missing. IPv6 has
                // IFA_ADDRESS alone.
                const size_t size = ifa.ifa_family == AF_INET ? 4 : 16;
                std::optional<IpAddress> local, address;
                size_t at = offset + NLMSG_LENGTH(sizeof(ifaddrmsg));
                const size_t end = offset + h.nlmsg_len;
                while (at < end && end - at >= sizeof(rtattr)) {
                    rtattr a;
                    std::memcpy(&a, bytes + at, sizeof a);
                    if (a.rta_len < sizeof a || a.rta_len > end - at) break;
                    if ((a.rta_type == IFA_LOCAL || a.rta_type == IFA_ADDRESS) && a.rta_len == RTA_LENGTH(size)) {
                        IpAddress::Bytes raw{};
                        std::memcpy(raw.data(), bytes + at + RTA_LENGTH(0), size);
                        const IpAddress ip = size == 4 ? IpAddress(uint32_t{raw[0]} << 24 | uint32_t{raw[1]} << 16 |
                                                                   uint32_t{raw[2]} << 8 | raw[3])
                                                       : IpAddress::ipv6(raw);
                        (a.rta_type == IFA_LOCAL ? local : address) = ip;
                    }
                    at += RTA_ALIGN(a.rta_len);
                }
                if (const auto ip = local ? local : address) {
                    const int index = static_cast<int>(ifa.ifa_index);
                    if (h.nlmsg_type == RTM_NEWADDR) {
                        changed |= held[index].insert(*ip).second;
                    } else if (auto it = held.find(index); it != held.end()) {
                        changed |= it->second.erase(*ip) > 0;
                        if (it->second.empty()) held.erase(it);
                    }
                }
            }
        }
        if (next <= offset || next > length) break;
        offset = next;
    }
    return changed;
}

AddressWatch::~AddressWatch()
{
    if (fd_ >= 0) close(fd_);
}

std::string AddressWatch::open()
{
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    if (fd_ < 0) return std::string("rtnetlink socket: ") + std::strerror(errno);
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    local.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
    if (bind(fd_, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
        const std::string e = std::string("rtnetlink bind: ") + std::strerror(errno);
        close(fd_);
        fd_ = -1;
        return e;
    }
    buffer_.assign(receive_size, 0);
    if (!dump()) return std::string("rtnetlink address dump: ") + std::strerror(errno);
    poll();
    return {};
}

bool AddressWatch::dump()
{
    struct {
        nlmsghdr h;
        ifaddrmsg ifa;
    } request{};
    request.h.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
    request.h.nlmsg_type = RTM_GETADDR;
    request.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request.ifa.ifa_family = AF_UNSPEC;  // both families
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    return sendto(fd_, &request, request.h.nlmsg_len, 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) >= 0;
}

bool AddressWatch::poll()
{
    if (fd_ < 0) return false;
    bool changed = false;
    for (;;) {
        const ssize_t n = recv(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
        if (n > 0) {
            changed |= apply_address_messages(buffer_.data(), static_cast<size_t>(n), held_);
            continue;
        }
        if (n < 0 && errno == ENOBUFS) {
            // Events were lost: start again from what the kernel has now.
            held_.clear();
            changed = true;
            dump();
            continue;
        }
        return changed;
    }
}

std::vector<IpAddress> AddressWatch::held_by(const std::string& name) const
{
    const unsigned index = if_nametoindex(name.c_str());
    if (index == 0) return {};
    const auto it = held_.find(static_cast<int>(index));
    if (it == held_.end()) return {};
    return {it->second.begin(), it->second.end()};
}

}  // namespace fulcrum::control
