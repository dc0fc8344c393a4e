#include "control/runtime/snapshot_publisher.hpp"

#include <rte_errno.h>
#include <rte_rcu_qsbr.h>

#include <atomic>
#include <climits>

namespace fulcrum::control {

namespace {

std::atomic<unsigned> queue_number{0};

}  // namespace

SnapshotPublisher::SnapshotPublisher(std::atomic<const dataplane::ServiceSnapshot*>& slot, rte_rcu_qsbr* rcu,
                                     uint32_t queue_size)
    : slot_(slot), rcu_(rcu), capacity_(queue_size), available_(queue_size)
{
    const std::string name = "snapshots" + std::to_string(queue_number.fetch_add(1));
    rte_rcu_qsbr_dq_parameters params{};
    params.name = name.c_str();
    params.flags = RTE_RCU_QSBR_DQ_MT_UNSAFE;  // the control core alone enqueues and reclaims
    params.size = queue_size;
    params.esize = sizeof(dataplane::ServiceSnapshot*);
    // No reclamation inside enqueue: tick() reclaims, so that publish() never does more than
    // an exchange and an enqueue.
    params.trigger_reclaim_limit = queue_size + 1;
    params.max_reclaim_size = queue_size;
    params.free_fn = &SnapshotPublisher::free_snapshots;
    params.p = this;
    params.v = rcu;
    queue_ = rte_rcu_qsbr_dq_create(&params);
    if (queue_ == nullptr) error_ = std::string("cannot create the snapshot defer queue: ") + rte_strerror(rte_errno);
}

SnapshotPublisher::~SnapshotPublisher() { shut_down(); }

void SnapshotPublisher::free_snapshots(void* publisher, void* elements, unsigned int count)
{
    auto* self = static_cast<SnapshotPublisher*>(publisher);
    auto* snapshots = static_cast<const dataplane::ServiceSnapshot**>(elements);
    for (unsigned int i = 0; i < count; ++i) delete snapshots[i];
    self->reclaimed_ += count;
}

void SnapshotPublisher::reclaim()
{
    if (queue_ == nullptr) return;
    unsigned int freed = 0, pending = 0, available = 0;
    rte_rcu_qsbr_dq_reclaim(queue_, UINT_MAX, &freed, &pending, &available);
    // DPDK's `available` counts ring slots, not the entries that fit (its ring holds more than
    // asked, in slots of its own size): the room is what was asked for less what is pending.
    pending_ = pending;
    available_ = pending < capacity_ ? capacity_ - pending : 0;
}

bool SnapshotPublisher::put_in_force(std::unique_ptr<dataplane::ServiceSnapshot>& next)
{
    if (available_ == 0) return false;
    const dataplane::ServiceSnapshot* old = slot_.exchange(next.release(), std::memory_order_acq_rel);
    if (old == nullptr) return true;
    // Workers may still be reading `old` in the iteration they are in; the queue frees it once
    // each has reported a quiescent state since this enqueue.
    if (rte_rcu_qsbr_dq_enqueue(queue_, &old) != 0) {
        // Cannot happen with room counted above; freeing `old` here could crash a worker, so it
        // is left allocated.
        return true;
    }
    ++pending_;
    --available_;
    return true;
}

void SnapshotPublisher::publish(std::unique_ptr<dataplane::ServiceSnapshot> next)
{
    waiting_.reset();  // a newer snapshot makes a waiting one pointless
    if (queue_ == nullptr) {
        // No queue (its creation failed and start-up reported it): nothing can be freed safely.
        slot_.exchange(next.release(), std::memory_order_acq_rel);
        return;
    }
    if (available_ == 0) reclaim();
    if (!put_in_force(next)) {
        ++deferred_;
        waiting_ = std::move(next);
    }
}

void SnapshotPublisher::tick()
{
    if (queue_ == nullptr) return;
    if (pending_ > 0) reclaim();
    if (waiting_ != nullptr) put_in_force(waiting_);
}

void SnapshotPublisher::shut_down()
{
    waiting_.reset();
    if (queue_ != nullptr) {
        // The workers have stopped (and gone offline): every grace period is over.
        reclaim();
        if (rte_rcu_qsbr_dq_delete(queue_) == 0) queue_ = nullptr;
    }
    delete slot_.exchange(nullptr);
}

}  // namespace fulcrum::control
