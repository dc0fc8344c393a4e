// What the director tells the subsystems that follow it (connection sync, route announcement):
// a snapshot published, a real server's health changed, a VIP became available or unavailable.
// Events are raised on the control thread, after the publication they describe, in order;
// subscribers run inline and must not block. The director does not know its subscribers.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "control/config/config.hpp"
#include "control/health/health.hpp"

namespace fulcrum::control {

// A snapshot went out to the workers (or waits for room in the publisher's queue).
struct SnapshotPublished {
    uint64_t generation = 0;
    bool operator==(const SnapshotPublished&) const = default;
};

// A real server's (or sorry server's) check changed its verdict.
struct HealthChanged {
    HealthTarget target;
    bool up = false;
    std::string reason;
    bool operator==(const HealthChanged&) const = default;
};

// A VIP is available while at least one of its services has `quorum` (announce.quorum, else 1)
// usable real servers: configured (not a sorry server standing in), up, and of weight above 0 in
// what is published.
struct VipAvailability {
    IpAddress vip;
    bool available = false;
    bool operator==(const VipAvailability&) const = default;
};

using DirectorEvent = std::variant<SnapshotPublished, HealthChanged, VipAvailability>;

class EventBus {
public:
    using Subscriber = std::function<void(const DirectorEvent&)>;
    // Subscribers hear every event raised after they subscribe, in the order of subscription.
    void subscribe(Subscriber subscriber) { subscribers_.push_back(std::move(subscriber)); }
    void raise(const DirectorEvent& event) const
    {
        for (const Subscriber& s : subscribers_) s(event);
    }

private:
    std::vector<Subscriber> subscribers_;
};

// Whether each VIP of `running` is available once `effective` (running with health applied:
// failed servers out, quiesced at weight 0, sorry servers in) is published.
std::map<IpAddress, bool> vip_availability(const Config& running, const Config& effective, uint32_t quorum = 1);

// The VIPs whose availability differs between two results of vip_availability, in address
// order (IPv4 before IPv6); a VIP only one of them has counts as unavailable in the other.
std::vector<VipAvailability> availability_changes(const std::map<IpAddress, bool>& before,
                                                  const std::map<IpAddress, bool>& after);

}  // namespace fulcrum::control
