#include "dataplane/steering.hpp"

#include <rte_ethdev.h>
#include <rte_flow.h>

#include <map>
#include <numeric>

namespace fulcrum::dataplane {

namespace {

constexpr uint64_t l3_l4 = RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_IPV4;

// Whether `workers` workers can take the NIC's hash as their owner function: more than one, a
// power of two (an indirection table filled round-robin then maps a hash to queue hash mod
// workers, whatever its size), and every port with exactly one RX queue per worker. "" when
// they can, else why not.
std::string steering_refused(unsigned workers, const std::map<uint16_t, uint16_t>& rx_queue_counts)
{
    if (workers < 2) return "one worker";
    if ((workers & (workers - 1)) != 0)
        return std::to_string(workers) + " workers, not a power of two (the NIC's queue for a hash would not be known)";
    for (const auto& [port_id, queues] : rx_queue_counts)
        if (queues != workers)
            return "a port has " + std::to_string(queues) + " RX queues for " + std::to_string(workers) + " workers";
    return {};
}

}  // namespace

std::string PortSteering::install(const std::vector<rte_be32_t>& vips)
{
    rte_eth_dev_info info{};
    if (calls_.device_info(port_id_, &info) != 0) return "no device information";
    const uint64_t wanted = l3_l4 | RTE_ETH_RSS_L3_SRC_ONLY | RTE_ETH_RSS_L4_SRC_ONLY | RTE_ETH_RSS_L3_DST_ONLY |
                            RTE_ETH_RSS_L4_DST_ONLY;
    if ((info.flow_type_rss_offloads & wanted) != wanted) return "the device cannot hash on source or destination only";

    std::vector<uint16_t> queue_list(queues_);
    std::iota(queue_list.begin(), queue_list.end(), 0);
    // New rules go in beside the old ones, and those of VIPs that left go only once every new one
    // is in: no moment without a rule, and no rule twice (drivers refuse a duplicate pattern).
    std::vector<rte_flow*> added;
    const auto undo = [&] {
        rte_flow_error error{};
        for (rte_flow* flow : added) calls_.destroy(port_id_, flow, &error);
    };
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
        rss.key_len = steering_rss_key.size();
        rss.key = steering_rss_key.data();
        rss.queue_num = queues_;
        rss.queue = queue_list.data();
        const rte_flow_action actions[] = {{RTE_FLOW_ACTION_TYPE_RSS, &rss}, {RTE_FLOW_ACTION_TYPE_END, nullptr}};
        rte_flow_error error{};
        if (calls_.validate(port_id_, &attr, pattern, actions, &error) != 0) {
            why = error.message != nullptr ? error.message : "rte_flow refused the rule";
            return false;
        }
        rte_flow* flow = calls_.create(port_id_, &attr, pattern, actions, &error);
        if (flow == nullptr) {
            why = error.message != nullptr ? error.message : "rte_flow could not create the rule";
            return false;
        }
        added.push_back(flow);
        return true;
    };

    std::string why;
    std::map<rte_be32_t, rte_flow*> vip_rules;
    for (rte_be32_t vip : vips) {
        if (auto it = vip_rules_.find(vip); it != vip_rules_.end()) {
            vip_rules.emplace(vip, it->second);
            continue;
        }
        rte_flow_item_ipv4 spec{}, mask{};
        spec.hdr.dst_addr = vip;
        mask.hdr.dst_addr = RTE_BE32(0xffffffff);
        if (!create(&spec, &mask, RTE_ETH_RSS_L3_SRC_ONLY | RTE_ETH_RSS_L4_SRC_ONLY, 0, why)) {
            undo();
            return why;
        }
        vip_rules.emplace(vip, added.back());
    }
    // Everything else, at a lower priority: replies, hashed on the client they go to. Made once.
    if (catch_all_ == nullptr) {
        if (!create(nullptr, nullptr, RTE_ETH_RSS_L3_DST_ONLY | RTE_ETH_RSS_L4_DST_ONLY, 1, why)) {
            undo();
            return why;
        }
        catch_all_ = added.back();
    }
    // Every new rule is in: the rules of VIPs that left go now.
    rte_flow_error error{};
    for (const auto& [vip, flow] : vip_rules_)
        if (!vip_rules.contains(vip)) calls_.destroy(port_id_, flow, &error);
    vip_rules_ = std::move(vip_rules);
    return {};
}

void PortSteering::clear()
{
    rte_flow_error error{};
    for (const auto& [vip, flow] : vip_rules_) calls_.destroy(port_id_, flow, &error);
    if (catch_all_ != nullptr) calls_.destroy(port_id_, catch_all_, &error);
    vip_rules_.clear();
    catch_all_ = nullptr;
}

OwnerHash Steering::start(unsigned workers, const std::map<uint16_t, uint16_t>& rx_queue_counts,
                          const std::vector<rte_be32_t>& vips, std::string& why)
{
    ports_.clear();
    why = steering_refused(workers, rx_queue_counts);
    for (auto it = rx_queue_counts.begin(); why.empty() && it != rx_queue_counts.end(); ++it) {
        auto port = std::make_unique<PortSteering>(it->first, it->second, calls_);
        why = port->install(vips);
        if (why.empty()) ports_.push_back(std::move(port));
        else why = "port " + std::to_string(it->first) + ": " + why;
    }
    if (why.empty()) return OwnerHash::toeplitz;
    ports_.clear();
    return OwnerHash::crc;
}

std::vector<std::string> Steering::update(const std::vector<rte_be32_t>& vips)
{
    std::vector<std::string> refused;
    for (auto& port : ports_)
        if (auto e = port->install(vips); !e.empty())
            refused.push_back("port " + std::to_string(port->port()) + ": " + e);
    return refused;
}

}  // namespace fulcrum::dataplane
