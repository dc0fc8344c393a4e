#include "dataplane/steering.hpp"

#include <rte_ethdev.h>
#include <rte_flow.h>

#include <numeric>

namespace fulcrum::dataplane {

namespace {

// A symmetric Toeplitz key (0x6d5a repeated): the hash of (a, b) equals that of (b, a), so the
// source-only and destination-only rules give one client the same hash in both directions.
constexpr uint8_t symmetric_key[40] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a};

constexpr uint64_t l3_l4 = RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_IPV4;

}  // namespace

std::string PortSteering::install(uint16_t port_id, const std::vector<rte_be32_t>& vips, uint16_t queues)
{
    clear();
    port_id_ = port_id;
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(port_id, &info) != 0) return "no device information";
    const uint64_t wanted = l3_l4 | RTE_ETH_RSS_L3_SRC_ONLY | RTE_ETH_RSS_L4_SRC_ONLY | RTE_ETH_RSS_L3_DST_ONLY |
                            RTE_ETH_RSS_L4_DST_ONLY;
    if ((info.flow_type_rss_offloads & wanted) != wanted) return "the device cannot hash on source or destination only";

    std::vector<uint16_t> queue_list(queues);
    std::iota(queue_list.begin(), queue_list.end(), 0);
    auto create = [&](const rte_flow_item_ipv4* spec, const rte_flow_item_ipv4* mask, uint64_t only, uint32_t priority,
                      std::string& why) -> bool {
        rte_flow_attr attr{};
        attr.ingress = 1;
        attr.priority = priority;
        const rte_flow_item pattern[] = {
            {RTE_FLOW_ITEM_TYPE_ETH, nullptr, nullptr, nullptr},
            {RTE_FLOW_ITEM_TYPE_IPV4, spec, nullptr, mask},
            {RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr},
        };
        rte_flow_action_rss rss{};
        rss.func = RTE_ETH_HASH_FUNCTION_TOEPLITZ;
        rss.types = l3_l4 | only;
        rss.key_len = sizeof symmetric_key;
        rss.key = symmetric_key;
        rss.queue_num = queues;
        rss.queue = queue_list.data();
        const rte_flow_action actions[] = {{RTE_FLOW_ACTION_TYPE_RSS, &rss}, {RTE_FLOW_ACTION_TYPE_END, nullptr}};
        rte_flow_error error{};
        if (rte_flow_validate(port_id, &attr, pattern, actions, &error) != 0) {
            why = error.message != nullptr ? error.message : "rte_flow refused the rule";
            return false;
        }
        rte_flow* flow = rte_flow_create(port_id, &attr, pattern, actions, &error);
        if (flow == nullptr) {
            why = error.message != nullptr ? error.message : "rte_flow could not create the rule";
            return false;
        }
        flows_.push_back(flow);
        return true;
    };

    std::string why;
    for (rte_be32_t vip : vips) {
        rte_flow_item_ipv4 spec{}, mask{};
        spec.hdr.dst_addr = vip;
        mask.hdr.dst_addr = RTE_BE32(0xffffffff);
        if (!create(&spec, &mask, RTE_ETH_RSS_L3_SRC_ONLY | RTE_ETH_RSS_L4_SRC_ONLY, 0, why)) {
            clear();
            return why;
        }
    }
    // Everything else, at a lower priority: replies, hashed on the client they go to.
    if (!create(nullptr, nullptr, RTE_ETH_RSS_L3_DST_ONLY | RTE_ETH_RSS_L4_DST_ONLY, 1, why)) {
        clear();
        return why;
    }
    return {};
}

void PortSteering::clear()
{
    rte_flow_error error{};
    for (rte_flow* flow : flows_) rte_flow_destroy(port_id_, flow, &error);
    flows_.clear();
}

}  // namespace fulcrum::dataplane
