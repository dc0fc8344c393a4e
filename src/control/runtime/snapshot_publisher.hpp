// Publishes service snapshots to the workers without waiting for them. A new snapshot replaces
// the old one with one atomic exchange; the old one goes into an RCU defer queue
// (rte_rcu_qsbr_dq) and is freed once every worker has passed a quiescent state, checked on each
// tick of the control loop, never waited for. If the queue is full (workers that have not passed
// a quiescent state for as many publications as it holds), the newest snapshot waits here, is
// counted, and goes out on a later tick; a newer one replaces it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "dataplane/snapshot.hpp"

struct rte_rcu_qsbr;
struct rte_rcu_qsbr_dq;

namespace fulcrum::control {

class SnapshotPublisher {
public:
    // `slot`: where the workers read the snapshot; `rcu`: the workers' quiescent states;
    // `queue_size`: old snapshots that may wait for their readers at once.
    SnapshotPublisher(std::atomic<const dataplane::ServiceSnapshot*>& slot, rte_rcu_qsbr* rcu, uint32_t queue_size);
    ~SnapshotPublisher();
    SnapshotPublisher(const SnapshotPublisher&) = delete;
    SnapshotPublisher& operator=(const SnapshotPublisher&) = delete;

    // An empty string, or what DPDK refused (creating the queue).
    const std::string& error() const { return error_; }

    // Puts `next` in force now, or as soon as the queue has room (deferred() counts those).
    void publish(std::unique_ptr<dataplane::ServiceSnapshot> next);

    // Frees the old snapshots every worker is done with, and publishes a waiting one if there
    // is room now. Called on every tick of the control loop.
    void tick();

    // No old snapshot is still waiting for its readers and no new one for room: every worker
    // reads the newest published snapshot, and nothing else.
    bool settled() const { return pending_ == 0 && waiting_ == nullptr; }

    uint64_t deferred() const { return deferred_; }    // publications that had to wait for room
    uint64_t reclaimed() const { return reclaimed_; }  // old snapshots freed

    // At stop, once the workers no longer run: frees everything, the published snapshot too.
    void shut_down();

private:
    void reclaim();
    bool put_in_force(std::unique_ptr<dataplane::ServiceSnapshot>& next);
    static void free_snapshots(void* publisher, void* elements, unsigned int count);

    std::atomic<const dataplane::ServiceSnapshot*>& slot_;
    rte_rcu_qsbr* rcu_;
    rte_rcu_qsbr_dq* queue_ = nullptr;
    std::unique_ptr<dataplane::ServiceSnapshot> waiting_;
    uint32_t capacity_ = 0;   // old snapshots that may wait at once (the ring holds at least that)
    uint32_t pending_ = 0;
    uint32_t available_ = 0;
    uint64_t deferred_ = 0;
    uint64_t reclaimed_ = 0;
    std::string error_;
};

}  // namespace fulcrum::control
