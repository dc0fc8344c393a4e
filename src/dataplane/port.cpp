#include "dataplane/port.hpp"

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <string>

namespace fulcrum::dataplane {

namespace {

std::string failure(const char* what, int error)
{
    return std::string(what) + ": " + rte_strerror(error < 0 ? -error : error);
}

// What the PMD's own mtu_set would do, were ethdev to let it: SIOCSIFMTU on the link.
std::string set_link_mtu(const std::string& link, uint16_t mtu)
{
    ifreq request{};
    if (link.size() >= sizeof(request.ifr_name)) return "kernel link name " + link + " is too long";
    link.copy(request.ifr_name, link.size());
    request.ifr_mtu = mtu;
    const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return std::string("socket: ") + std::strerror(errno);
    const int rc = ioctl(s, SIOCSIFMTU, &request);
    const int error = errno;
    close(s);
    if (rc != 0) return "setting " + link + "'s MTU to " + std::to_string(mtu) + ": " + std::strerror(error);
    return {};
}

}  // namespace

std::string_view device_name(std::string_view device)
{
    return device.substr(0, device.find(','));
}

bool is_pci_address(std::string_view device)
{
    // 0000:03:00.0 or 03:00.0: hex digits, ':' and '.', and no vdev driver prefix.
    const std::string_view name = device_name(device);
    if (name.empty() || name.find(':') == std::string_view::npos) return false;
    for (char c : name)
        if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) return false;
    return true;
}

std::string af_packet_interface(std::string_view device)
{
    if (!device.starts_with("net_af_packet")) return {};
    const size_t at = device.find(",iface=");
    if (at == std::string_view::npos) return {};
    const std::string_view rest = device.substr(at + 7);
    return std::string(rest.substr(0, rest.find(',')));
}

std::optional<uint16_t> find_port(std::string_view device)
{
    const std::string name(device_name(device));
    uint16_t port_id = 0;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) return std::nullopt;
    return port_id;
}

std::string port_capabilities(uint16_t port_id, DeviceCapabilities& out)
{
    rte_eth_dev_info info{};
    if (int rc = rte_eth_dev_info_get(port_id, &info); rc != 0) return failure("device info", rc);
    out = capabilities_of(info);
    return {};
}

std::string port_start(uint16_t port_id, const PortPlan& plan, const PortRequest& request, rte_mempool* pool)
{
    if (!plan.error.empty()) return plan.error;
    if (int rc = rte_eth_dev_configure(port_id, request.rx_queues, request.tx_queues, &plan.conf); rc != 0)
        return failure("configure", rc);
    // The plan has already kept the counts within the device's limits, as this would.
    uint16_t rx_desc = plan.rx_descriptors;
    uint16_t tx_desc = plan.tx_descriptors;
    if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rx_desc, &tx_desc); rc != 0)
        return failure("descriptor counts", rc);
    const int socket = rte_eth_dev_socket_id(port_id);
    const unsigned socket_id = socket < 0 ? 0u : static_cast<unsigned>(socket);
    for (uint16_t q = 0; q < request.rx_queues; ++q)
        if (int rc = rte_eth_rx_queue_setup(port_id, q, rx_desc, socket_id, nullptr, pool); rc != 0)
            return failure("RX queue setup", rc);
    for (uint16_t q = 0; q < request.tx_queues; ++q)
        if (int rc = rte_eth_tx_queue_setup(port_id, q, tx_desc, socket_id, nullptr); rc != 0)
            return failure("TX queue setup", rc);
    // rte_eth_dev_configure took the MTU (rxmode.mtu) for the drivers that program it at start;
    // the others set it now. A device without the operation keeps what it has, which must then
    // be the configured MTU: frames up to it are what the director sends.
    if (int rc = rte_eth_dev_set_mtu(port_id, plan.device_mtu); rc != 0) {
        uint16_t current = 0;
        if (rc != -ENOTSUP) return failure(("setting the MTU to " + std::to_string(plan.device_mtu)).c_str(), rc);
        if (rte_eth_dev_get_mtu(port_id, &current) != 0 || current != plan.device_mtu)
            return "the device cannot set its MTU, which is " + std::to_string(current) + ", not the configured " +
                   std::to_string(plan.device_mtu);
    }
    // After ethdev's: af_packet's own mtu_set writes the link's MTU too.
    if (plan.link_mtu != 0)
        if (auto e = set_link_mtu(request.kernel_link, plan.link_mtu); !e.empty()) return e;
    if (int rc = rte_eth_dev_start(port_id); rc != 0) return failure("start", rc);
    return {};
}

std::string port_start(uint16_t port_id, const PortRequest& request, rte_mempool* pool)
{
    DeviceCapabilities device;
    if (auto e = port_capabilities(port_id, device); !e.empty()) return e;
    return port_start(port_id, plan_port(device, request), request, pool);
}

std::string port_create_tap(const std::string& vdev_name, const std::string& kernel_name, const MacAddress& mac,
                            uint16_t& port_id)
{
    const std::string devargs = vdev_name + ",iface=" + kernel_name + ",mac=" + format_mac(mac);
    if (int rc = rte_dev_probe(devargs.c_str()); rc != 0) return failure(("creating " + devargs).c_str(), rc);
    if (rte_eth_dev_get_port_by_name(vdev_name.c_str(), &port_id) != 0)
        return "EAL made no port of " + vdev_name;
    return {};
}

void port_stop(uint16_t port_id)
{
    rte_eth_dev_stop(port_id);
    rte_eth_dev_close(port_id);
}

}  // namespace fulcrum::dataplane
