#include "control/kernel/kernel_interface.hpp"

#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

namespace fulcrum::control {

namespace {

// One request and its acknowledgement; the messages here are small and fixed.
class NetlinkRequest {
public:
    NetlinkRequest(uint16_t type, uint16_t flags)
    {
        header()->nlmsg_len = NLMSG_LENGTH(0);
        header()->nlmsg_type = type;
        header()->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
        header()->nlmsg_seq = 1;
    }

    template <typename T>
    T* body()
    {
        header()->nlmsg_len = NLMSG_LENGTH(sizeof(T));
        return reinterpret_cast<T*>(NLMSG_DATA(header()));
    }

    void attribute(uint16_t type, const void* data, size_t length)
    {
        auto* attr = reinterpret_cast<rtattr*>(buffer_ + NLMSG_ALIGN(header()->nlmsg_len));
        attr->rta_type = type;
        attr->rta_len = static_cast<uint16_t>(RTA_LENGTH(length));
        std::memcpy(RTA_DATA(attr), data, length);
        header()->nlmsg_len = static_cast<uint32_t>(NLMSG_ALIGN(header()->nlmsg_len) + RTA_ALIGN(attr->rta_len));
    }

    std::vector<uint8_t> bytes() const
    {
        const auto* begin = reinterpret_cast<const uint8_t*>(buffer_);
        return {begin, begin + header()->nlmsg_len};
    }

    // Sends the request and waits for the kernel's answer: "" or its error.
    std::string send() const
    {
        const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0) return fmt::format("netlink socket: {}", std::strerror(errno));
        // The kernel answers at once; a second is ample and keeps the control core from hanging.
        const timeval wait{1, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
        sockaddr_nl kernel{};
        kernel.nl_family = AF_NETLINK;
        std::string problem;
        if (sendto(fd, buffer_, header()->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
            problem = fmt::format("netlink send: {}", std::strerror(errno));
        } else {
            alignas(nlmsghdr) char answer[1024];
            const ssize_t n = recv(fd, answer, sizeof answer, 0);
            if (n < 0)
                problem = fmt::format("netlink receive: {}", std::strerror(errno));
            else
                problem = netlink_ack_problem(answer, static_cast<size_t>(n), header()->nlmsg_seq);
        }
        close(fd);
        return problem;
    }

private:
    nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(buffer_); }
    const nlmsghdr* header() const { return reinterpret_cast<const nlmsghdr*>(buffer_); }

    alignas(nlmsghdr) char buffer_[512] = {};
};

}  // namespace

std::string netlink_ack_problem(const void* reply, size_t length, uint32_t seq)
{
    // Only an acknowledgement says the request was done: an NLMSG_ERROR of our sequence number
    // carrying error 0. Anything else (a short read, another message, another request's
    // answer) is not a success.
    nlmsghdr header;
    if (length < NLMSG_LENGTH(sizeof(nlmsgerr))) return fmt::format("netlink: a reply of {} bytes, too short for an acknowledgement", length);
    std::memcpy(&header, reply, sizeof header);
    if (header.nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr)) || header.nlmsg_len > length)
        return fmt::format("netlink: a reply whose length says {} bytes of {}", header.nlmsg_len, length);
    if (header.nlmsg_type != NLMSG_ERROR) return fmt::format("netlink: a reply of type {}, not an acknowledgement", header.nlmsg_type);
    if (header.nlmsg_seq != seq) return fmt::format("netlink: an acknowledgement of request {}, not {}", header.nlmsg_seq, seq);
    nlmsgerr error;
    std::memcpy(&error, static_cast<const char*>(reply) + NLMSG_HDRLEN, sizeof error);
    if (error.error > 0 || error.error < -4095) return fmt::format("netlink: an error code {} out of range", error.error);
    return error.error == 0 ? "" : std::strerror(-error.error);
}

namespace {

NetlinkRequest route_message(const KernelRoute& route, unsigned interface_index, bool add)
{
    NetlinkRequest request(add ? RTM_NEWROUTE : RTM_DELROUTE, add ? static_cast<uint16_t>(NLM_F_CREATE | NLM_F_EXCL) : uint16_t{0});
    auto* rt = request.body<rtmsg>();
    rt->rtm_family = route.dst.address.is_ipv4() ? AF_INET : AF_INET6;
    rt->rtm_dst_len = route.dst.length;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_STATIC;
    rt->rtm_scope = RT_SCOPE_UNIVERSE;
    rt->rtm_type = RTN_UNICAST;
    const IpAddress dst = route.dst.network();
    // Always the interface too: an IPv6 link-local gateway means nothing without it.
    const uint32_t oif = interface_index;
    request.attribute(RTA_DST, dst.bytes().data(), dst.size());
    request.attribute(RTA_GATEWAY, route.via.bytes().data(), route.via.size());
    request.attribute(RTA_OIF, &oif, sizeof oif);
    return request;
}

std::string route_request(const KernelRoute& route, bool add)
{
    const unsigned index = if_nametoindex(route.interface.c_str());
    if (index == 0) return fmt::format("no kernel interface {}", route.interface);
    return route_message(route, index, add).send();
}

std::string describe_route(const KernelRoute& r)
{
    return fmt::format("{}/{} via {} dev {}", format_ip(r.dst.network()), r.dst.length, format_ip(r.via), r.interface);
}

}  // namespace

std::vector<uint8_t> kernel_route_request(const KernelRoute& route, unsigned interface_index, bool add)
{
    return route_message(route, interface_index, add).bytes();
}

bool kernel_interface_wants_ipv6(const InterfaceConfig& iface)
{
    return std::any_of(iface.addresses.begin(), iface.addresses.end(), [](const IpPrefix& p) { return p.address.is_ipv6(); });
}

std::vector<KernelRoute> kernel_routes_wanted(const Config& config)
{
    std::vector<KernelRoute> wanted;
    for (const RouteConfig& route : config.routes) {
        const InterfaceConfig* out = interface_holding(config, route.via, route.interface);
        if (out == nullptr || out->kernel_interface.empty()) continue;
        if (route.dst.address.is_ipv6() && !kernel_interface_wants_ipv6(*out)) continue;
        wanted.push_back({route.dst, route.via, out->kernel_interface});
    }
    return wanted;
}

void kernel_interface_set_ipv6(const std::string& interface, bool wanted)
{
    // addr_gen_mode 0: the link-local address is the EUI-64 one of the MAC, which the dataplane
    // answers for (a stable-privacy one would be neither answered nor known as ours).
    if (wanted)
        for (const char* setting : {"addr_gen_mode", "accept_ra", "accept_dad", "autoconf", "router_solicitations"})
            std::ofstream(fmt::format("/proc/sys/net/ipv6/conf/{}/{}", interface, setting)) << "0\n";
    std::ofstream(fmt::format("/proc/sys/net/ipv6/conf/{}/disable_ipv6", interface)) << (wanted ? "0\n" : "1\n");
}

namespace {

std::string add_ipv6_address(const std::string& interface, unsigned index, const IpPrefix& prefix)
{
    NetlinkRequest request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
    auto* ifa = request.body<ifaddrmsg>();
    ifa->ifa_family = AF_INET6;
    ifa->ifa_prefixlen = prefix.length;
    // The dataplane answers neighbour solicitations for it: the kernel's duplicate-address
    // detection would hear nothing of its own probe and is not asked.
    ifa->ifa_flags = IFA_F_NODAD;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = index;
    request.attribute(IFA_LOCAL, prefix.address.bytes().data(), 16);
    request.attribute(IFA_ADDRESS, prefix.address.bytes().data(), 16);
    if (auto e = request.send(); !e.empty()) return fmt::format("adding {} to {}: {}", format_prefix(prefix), interface, e);
    return {};
}

}  // namespace

std::string kernel_interface_setup(const std::string& interface, const std::vector<IpPrefix>& all_addresses)
{
    const unsigned index = if_nametoindex(interface.c_str());
    if (index == 0) return fmt::format("no kernel interface {}", interface);
    for (const IpPrefix& address : all_addresses) {
        if (address.address.is_ipv4()) continue;
        if (auto e = add_ipv6_address(interface, index, address); !e.empty()) return e;
    }
    std::vector<Ipv4Prefix> addresses;
    for (const IpPrefix& address : all_addresses)
        if (address.address.is_ipv4()) addresses.push_back({address.address.ipv4(), address.length});
    for (const Ipv4Prefix& prefix : addresses) {
        NetlinkRequest request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
        auto* ifa = request.body<ifaddrmsg>();
        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = prefix.length;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        ifa->ifa_index = index;
        const uint32_t address = htonl(prefix.address);
        request.attribute(IFA_LOCAL, &address, sizeof address);
        request.attribute(IFA_ADDRESS, &address, sizeof address);
        if (prefix.length <= 30) {
            const uint32_t broadcast = htonl(prefix.address | (~uint32_t{0} >> prefix.length));
            request.attribute(IFA_BROADCAST, &broadcast, sizeof broadcast);
        }
        if (auto e = request.send(); !e.empty())
            return fmt::format("adding {}/{} to {}: {}", format_ipv4(prefix.address), prefix.length, interface, e);
    }
    NetlinkRequest up(RTM_NEWLINK, 0);
    auto* link = up.body<ifinfomsg>();
    link->ifi_family = AF_UNSPEC;
    link->ifi_index = static_cast<int>(index);
    link->ifi_flags = IFF_UP;
    link->ifi_change = IFF_UP;
    if (auto e = up.send(); !e.empty()) return fmt::format("bringing {} up: {}", interface, e);
    return {};
}

std::string kernel_interface_silence(const std::string& interface, std::vector<SavedSetting>& saved)
{
    for (const auto& [setting, value] : {std::pair{"ipv4/conf/{}/rp_filter", "1"}, std::pair{"ipv4/conf/{}/arp_ignore", "8"},
                                         std::pair{"ipv6/conf/{}/disable_ipv6", "1"}}) {
        const std::string path = "/proc/sys/net/" + fmt::format(fmt::runtime(setting), interface);
        std::string old;
        std::getline(std::ifstream(path), old);
        if (!old.empty()) saved.push_back({path, old});
        std::ofstream file(path);
        file << value << "\n";
        file.close();
        if (!file) return fmt::format("cannot write {}", path);
    }
    return {};
}

void kernel_settings_restore(const std::vector<SavedSetting>& saved)
{
    for (const SavedSetting& s : saved) std::ofstream(s.path) << s.value << "\n";
}

std::string kernel_route_add(const KernelRoute& route, bool& added)
{
    added = false;
    const std::string e = route_request(route, true);
    if (e == std::strerror(EEXIST)) return {};
    if (!e.empty()) return fmt::format("adding route {}: {}", describe_route(route), e);
    added = true;
    return {};
}

namespace {

NetlinkRequest host_route_message(const IpAddress& address, uint32_t table, unsigned interface_index, bool present)
{
    NetlinkRequest request(present ? RTM_NEWROUTE : RTM_DELROUTE,
                           present ? static_cast<uint16_t>(NLM_F_CREATE | NLM_F_REPLACE) : uint16_t{0});
    auto* rt = request.body<rtmsg>();
    rt->rtm_family = address.is_ipv4() ? AF_INET : AF_INET6;
    rt->rtm_dst_len = full_length(address.family());
    // Tables above 255 only fit the attribute; the header says RT_TABLE_UNSPEC then.
    rt->rtm_table = table < 256 ? static_cast<unsigned char>(table) : static_cast<unsigned char>(RT_TABLE_UNSPEC);
    rt->rtm_protocol = RTPROT_STATIC;
    // IPv6 routes have no scope: the kernel ignores the field and reports every one as universe.
    rt->rtm_scope = address.is_ipv4() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
    rt->rtm_type = RTN_UNICAST;
    const uint32_t oif = interface_index;
    request.attribute(RTA_DST, address.bytes().data(), address.size());
    request.attribute(RTA_OIF, &oif, sizeof oif);
    request.attribute(RTA_TABLE, &table, sizeof table);
    return request;
}

}  // namespace

std::vector<uint8_t> host_route_request(const IpAddress& address, uint32_t table, unsigned interface_index, bool present)
{
    return host_route_message(address, table, interface_index, present).bytes();
}

std::string kernel_host_route(const IpAddress& address, uint32_t table, const std::string& interface, bool present)
{
    const unsigned index = if_nametoindex(interface.c_str());
    // An interface that is gone took its routes with it: nothing left to delete.
    if (index == 0) return present ? fmt::format("no kernel interface {}", interface) : std::string();
    std::string e = host_route_message(address, table, index, present).send();
    if (!present && e == std::strerror(ESRCH)) e.clear();
    if (!e.empty())
        return fmt::format("{} route {}/{} dev {} table {}: {}", present ? "adding" : "deleting", format_ip(address),
                           full_length(address.family()), interface, table, e);
    return {};
}

std::string kernel_route_delete(const KernelRoute& route)
{
    if (auto e = route_request(route, false); !e.empty())
        return fmt::format("deleting route {}: {}", describe_route(route), e);
    return {};
}

}  // namespace fulcrum::control
