// The addresses (IPv4 and IPv6) the director's kernel interfaces hold, followed through rtnetlink: what
// keepalived's VRRP adds (a VIP, the NAT real servers' floating gateway) on the master and takes
// away on failover decides, under high_availability.vip_ownership: kernel, what the dataplane
// answers for. Plain rtnetlink; no DPDK.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/address.hpp"

namespace fulcrum::control {

// Interface index -> its addresses.
using AddressesByInterface = std::map<int, std::set<IpAddress>>;

// Applies a buffer of rtnetlink messages (RTM_NEWADDR, RTM_DELADDR of AF_INET and AF_INET6;
// anything else, and anything malformed, is skipped) to `held`. Returns whether it changed.
bool apply_address_messages(const void* buffer, size_t length, AddressesByInterface& held);

class AddressWatch {
public:
    AddressWatch() = default;
    AddressWatch(const AddressWatch&) = delete;
    AddressWatch& operator=(const AddressWatch&) = delete;
    ~AddressWatch();

    // Subscribes to the namespace's address changes, then asks for every current address.
    // Returns "" or what failed.
    std::string open();
    bool is_open() const { return fd_ >= 0; }

    // Reads what is waiting, without blocking. True when any interface's addresses changed (also
    // after the kernel dropped messages: then everything is asked for again).
    bool poll();

    // The addresses interface `name` holds, in order; none when it does not exist.
    std::vector<IpAddress> held_by(const std::string& name) const;

private:
    bool dump();
    int fd_ = -1;
    std::vector<char> buffer_;  // what one recv reads, allocated once: poll runs every millisecond
    AddressesByInterface held_;
};

}  // namespace fulcrum::control
