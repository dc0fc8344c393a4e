// ip_vs_mh.c: Maglev hashing (Eisenbud et al., NSDI 2016, section 3.4). Each server has a
// permutation of the table's slots, offset + j * skip (mod a prime size); servers take turns
// claiming their next free preferred slot until the table is full; a flow's slot is a hash of its
// source address (and port with mh-port). docs/scheduling.md states the guarantees.
#include <algorithm>
#include <numeric>

#include "sched/internal.hpp"

namespace fulcrum::sched {

namespace {

bool is_prime(uint64_t n)
{
    if (n < 2) return false;
    for (uint64_t d = 2; d * d <= n; ++d)
        if (n % d == 0) return false;
    return true;
}

struct Member {
    uint32_t index;      // into the destination list
    uint32_t weight;
    uint32_t quota = 0;  // slots it will hold
    uint32_t claimed = 0;
    uint32_t next;       // its permutation's next candidate slot
    uint32_t skip;
};

}  // namespace

std::string mh_table_size_problem(uint64_t size, size_t destinations, MhCompat compat)
{
    if (compat == MhCompat::kernel) {
        if (std::find(kernel_mh_table_sizes.begin(), kernel_mh_table_sizes.end(), size) == kernel_mh_table_sizes.end())
            return "with mh_compat kernel the Maglev table size must be one of the kernel's: 251, 509, 1021, 2039, "
                   "4093 (its default), 8191, 16381, 32749, 65521 or 131071; found " + std::to_string(size);
        if (size < destinations)
            return "the Maglev table size " + std::to_string(size) + " is smaller than the " +
                   std::to_string(destinations) + " real servers (the kernel refuses such a service)";
        return {};
    }
    if (size > max_mh_table_size)
        return "the Maglev table size " + std::to_string(size) + " is larger than " +
               std::to_string(max_mh_table_size);
    if (!is_prime(size)) {
        uint64_t next = size < 2 ? 2 : size + 1;
        while (!is_prime(next)) ++next;
        return "the Maglev table size must be a prime number, and " + std::to_string(size) +
               " is not (the next prime is " + std::to_string(next) + ")";
    }
    if (size < destinations)
        return "the Maglev table size " + std::to_string(size) + " is smaller than the " +
               std::to_string(destinations) + " real servers";
    return {};
}

void build_mh_table(std::span<const Destination> dests, uint32_t size, Prepared& out)
{
    out.mh_table_size = size;
    out.mh_table.clear();
    out.mh_index_of_rank.clear();

    // Ranks follow (address, port), never the list order, so that the table is the same for the
    // same set of servers however the configuration lists them.
    std::vector<Member> members;
    for (size_t i = 0; i < dests.size(); ++i)
        if (table_weight(dests[i]) > 0)
            members.push_back({static_cast<uint32_t>(i), table_weight(dests[i]), 0, 0, 0, 0});
    if (members.empty()) return;
    std::sort(members.begin(), members.end(), [&](const Member& a, const Member& b) {
        const Destination& da = dests[a.index];
        const Destination& db = dests[b.index];
        if (da.address != db.address) return da.address < db.address;
        if (da.port != db.port) return da.port < db.port;
        return a.index < b.index;  // duplicates: the checker does not let them through
    });

    // Each server's share of the slots, size * weight / total, rounded by largest remainder:
    // within one slot of exact. (The kernel instead gives weight/gcd consecutive turns per round,
    // scaled down to 6 bits, which can be off by half for small weights; see the docs.)
    uint64_t total = 0;
    for (const Member& m : members) total += m.weight;
    std::vector<uint64_t> remainder(members.size());
    uint64_t assigned = 0;
    for (size_t r = 0; r < members.size(); ++r) {
        const uint64_t scaled = uint64_t{size} * members[r].weight;  // < 2^25 * 2^32
        members[r].quota = static_cast<uint32_t>(scaled / total);
        remainder[r] = scaled % total;
        assigned += members[r].quota;
    }
    std::vector<uint32_t> by_remainder(members.size());
    std::iota(by_remainder.begin(), by_remainder.end(), 0u);
    std::stable_sort(by_remainder.begin(), by_remainder.end(),
                     [&](uint32_t a, uint32_t b) { return remainder[a] > remainder[b]; });
    for (uint64_t k = 0; k < size - assigned; ++k) ++members[by_remainder[k]].quota;

    for (Member& m : members) {
        const Destination& d = dests[m.index];
        m.next = mh_offset(d.address, d.port, size);
        m.skip = mh_skip(d.address, d.port, size);
    }

    // Turns: a server's k-th claim comes at time (2k + 1) / (2 * quota), so claims interleave
    // evenly whatever the weights; equal times go in rank order. With equal weights this is the
    // paper's round robin over the servers.
    auto later = [&](uint32_t a, uint32_t b) {
        const Member& ma = members[a];
        const Member& mb = members[b];
        const uint64_t ta = (2 * uint64_t{ma.claimed} + 1) * mb.quota;
        const uint64_t tb = (2 * uint64_t{mb.claimed} + 1) * ma.quota;
        if (ta != tb) return ta > tb;
        return a > b;
    };
    std::vector<uint32_t> heap;
    for (uint32_t r = 0; r < members.size(); ++r)
        if (members[r].quota > 0) heap.push_back(r);
    std::make_heap(heap.begin(), heap.end(), later);

    constexpr uint32_t empty = UINT32_MAX;
    out.mh_table.assign(size, empty);
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), later);
        const uint32_t r = heap.back();
        Member& m = members[r];
        // The permutation visits every slot (size is prime, 0 < skip < size), and the quotas
        // add up to the size, so a free slot is always found.
        while (out.mh_table[m.next] != empty) {
            m.next += m.skip;
            if (m.next >= size) m.next -= size;
        }
        out.mh_table[m.next] = r;
        if (++m.claimed < m.quota) std::push_heap(heap.begin(), heap.end(), later);
        else heap.pop_back();
    }

    out.mh_index_of_rank.resize(members.size());
    for (size_t r = 0; r < members.size(); ++r) out.mh_index_of_rank[r] = members[r].index;
}

int32_t pick_mh(const Prepared& prepared, std::span<const Destination> dests, const FlowInput& flow)
{
    if (prepared.mh_kernel) return pick_kernel_mh(prepared, dests, flow);
    if (prepared.mh_table.empty()) return no_destination;
    const uint32_t size = prepared.mh_table_size;
    const uint64_t key = endpoint_key(flow.src_ip, prepared.flags.mh_port ? flow.src_port : 0);
    auto server_at = [&](uint32_t slot) -> int32_t {
        const uint32_t index = prepared.mh_index_of_rank[prepared.mh_table[slot]];
        return index < dests.size() && available(dests[index]) ? static_cast<int32_t>(index)
                                                               : no_destination;
    };
    const uint32_t first = mh_flow_slot(key, 0, size);
    if (const int32_t d = server_at(first); d != no_destination) return d;
    if (!prepared.flags.mh_fallback) return no_destination;

    // ip_vs_mh_get_fallback rehashes the flow with offsets first, first + 1, ... up to `size`
    // times. When no server of the table is available that loop cannot succeed: skip it, so a
    // service whose servers are all down costs one pass over them, not `size` hashes.
    bool any = false;
    for (uint32_t index : prepared.mh_index_of_rank)
        if (index < dests.size() && available(dests[index])) any = true;
    if (!any) return no_destination;
    for (uint32_t offset = 0; offset < size; ++offset) {
        const uint32_t round = static_cast<uint32_t>((uint64_t{offset} + first) % size);
        if (const int32_t d = server_at(mh_flow_slot(key, round, size)); d != no_destination)
            return d;
    }
    return no_destination;
}

}  // namespace fulcrum::sched
