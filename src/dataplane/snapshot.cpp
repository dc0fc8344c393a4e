#include "dataplane/snapshot.hpp"

#include <rte_fib.h>
#include <rte_fib6.h>
#include <rte_hash.h>

#include <algorithm>
#include <cstring>

namespace fulcrum::dataplane {

ServiceSnapshot::~ServiceSnapshot()
{
    rte_hash_free(service_index);
    rte_fib_free(fib);
    rte_hash_free(service_index6);
    rte_fib6_free(fib6);
}

const ServiceEntry* ServiceSnapshot::find_service(rte_be32_t vip, rte_be16_t port,
                                                  uint8_t protocol) const
{
    const ServiceIndexKey key{vip, port, protocol, 0};
    void* data = nullptr;
    if (rte_hash_lookup_data(service_index, &key, &data) < 0) return nullptr;
    return &services[reinterpret_cast<uintptr_t>(data)];
}

bool ServiceSnapshot::is_vip(rte_be32_t address) const
{
    return std::binary_search(vips.begin(), vips.end(), address);
}

const NextHop* ServiceSnapshot::route(rte_be32_t dst) const
{
    uint32_t ip = rte_be_to_cpu_32(dst);
    uint64_t hop = 0;
    rte_fib_lookup_bulk(fib, &ip, &hop, 1);
    if (hop == 0 || hop >= next_hops.size()) return nullptr;
    return &next_hops[hop];
}

const ServiceEntry* ServiceSnapshot::find_service(const Ipv6Address& vip, rte_be16_t port, uint8_t protocol) const
{
    if (service_index6 == nullptr) return nullptr;
    const ServiceIndexKey6 key{vip, port, protocol, 0};
    void* data = nullptr;
    if (rte_hash_lookup_data(service_index6, &key, &data) < 0) return nullptr;
    return &services[reinterpret_cast<uintptr_t>(data)];
}

bool ServiceSnapshot::is_vip(const Ipv6Address& address) const
{
    return std::binary_search(vips6.begin(), vips6.end(), address);
}

const NextHop6* ServiceSnapshot::route(const Ipv6Address& dst) const
{
    if (fib6 == nullptr) return nullptr;
    uint8_t ip[1][RTE_FIB6_IPV6_ADDR_SIZE];
    std::memcpy(ip[0], dst.bytes.data(), sizeof ip[0]);
    uint64_t hop = 0;
    rte_fib6_lookup_bulk(fib6, ip, &hop, 1);
    if (hop == 0 || hop >= next_hops6.size()) return nullptr;
    return &next_hops6[hop];
}

}  // namespace fulcrum::dataplane
