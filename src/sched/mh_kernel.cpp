// ip_vs_mh's own Maglev table, bit for bit (net/netfilter/ipvs/ip_vs_mh.c, lib/siphash.c), for
// `mh_compat: kernel`: a Fulcrum director then sends every flow where a kernel IPVS director with
// the same real servers sends it, so the two can share an ECMP group. Fulcrum's own table
// (mh.cpp) is better balanced; this one is only about agreeing with the kernel.
//
// What the kernel does, and this file with it:
// - Its destination list is in reverse order of addition (__ip_vs_update_dest adds at the head).
//   Destination::added says when each was added (the control plane counts a server as added
//   when it enters what is published); servers added together come in configuration order, so
//   the kernel's list is walked from the newest, and from our last real server to our first.
// - A server's offset and skip hash its address and port with two fixed keys; its turns are its
//   last_weight divided by the gcd of them all and shifted right so that the largest fits in
//   IP_VS_MH_TAB_BITS bits (at least one turn for any server with a weight).
// - Population: servers in list order each claim `turns` slots in a row, by their permutation,
//   round after round, until every slot is taken.
// - A flow hashes its source address (and port with mh-port) with the first key; mh-fallback
//   rehashes with offsets ihash, ihash + 1, ... and gives up at an empty slot.
#include <algorithm>
#include <bit>
#include <numeric>

#include "sched/internal.hpp"

namespace fulcrum::sched {

namespace {

// generate_hash_secret: both words of each hsiphash_key_t are the same constant.
constexpr uint64_t hash1_key = 2654435761u;
constexpr uint64_t hash2_key = 2654446892u;

constexpr void sip_round(uint64_t& v0, uint64_t& v1, uint64_t& v2, uint64_t& v3)
{
    v0 += v1; v1 = std::rotl(v1, 13); v1 ^= v0; v0 = std::rotl(v0, 32);
    v2 += v3; v3 = std::rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = std::rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = std::rotl(v1, 17); v1 ^= v2; v2 = std::rotl(v2, 32);
}

// IP_VS_MH_TAB_BITS of a table size: half its CONFIG_IP_VS_MH_TAB_INDEX (8 + its position).
unsigned table_bits(uint32_t size)
{
    const auto at = std::find(kernel_mh_table_sizes.begin(), kernel_mh_table_sizes.end(), size);
    return static_cast<unsigned>((8 + (at - kernel_mh_table_sizes.begin())) / 2);
}

struct Setup {
    uint32_t index;  // into the destination list
    uint32_t perm;   // the next slot its permutation proposes
    uint32_t skip;
    uint32_t turns;  // slots in a row per round
};

}  // namespace

uint32_t kernel_hsiphash_u32(uint32_t word, uint64_t key0, uint64_t key1)
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ key0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ key1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ key0;
    uint64_t v3 = 0x7465646279746573ULL ^ key1;
    // Four bytes: no whole 64-bit word, so the length byte and the word make the last block.
    const uint64_t b = (uint64_t{4} << 56) | word;
    v3 ^= b;
    sip_round(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    sip_round(v0, v1, v2, v3);
    sip_round(v0, v1, v2, v3);
    sip_round(v0, v1, v2, v3);
    return static_cast<uint32_t>((v0 ^ v1) ^ (v2 ^ v3));
}

uint32_t kernel_mh_hash(uint32_t address, uint16_t port, bool second, uint32_t offset)
{
    // The word hashed is offset + port + address, added as 32-bit unsigned integers.
    const uint64_t key = second ? hash2_key : hash1_key;
    return kernel_hsiphash_u32(offset + port + address, key, key);
}

void build_kernel_mh_table(std::span<const Destination> dests, uint32_t size, Prepared& out)
{
    out.mh_table_size = size;
    out.mh_kernel = true;
    out.mh_table.clear();
    out.mh_index_of_rank.resize(dests.size());
    std::iota(out.mh_index_of_rank.begin(), out.mh_index_of_rank.end(), 0u);

    // ip_vs_mh_gcd_weight and ip_vs_mh_shift_weight, over last_weight.
    uint32_t gcd = 0;
    uint32_t max_weight = 0;
    for (const Destination& d : dests) {
        const uint32_t w = table_weight(d);
        if (w > 0) gcd = std::gcd(gcd, w);
        max_weight = std::max(max_weight, w);
    }
    if (gcd == 0) return;  // no server has a weight: every slot empty
    const int shift = std::bit_width(max_weight / gcd) - static_cast<int>(table_bits(size));
    const unsigned rshift = shift > 0 ? static_cast<unsigned>(shift) : 0;

    // ip_vs_mh_permutate, in the kernel's list order.
    std::vector<uint32_t> newest_first(dests.size());
    std::iota(newest_first.begin(), newest_first.end(), 0u);
    std::sort(newest_first.begin(), newest_first.end(), [&](uint32_t a, uint32_t b) {
        if (dests[a].added != dests[b].added) return dests[a].added > dests[b].added;
        return a > b;
    });
    std::vector<Setup> setups;
    setups.reserve(dests.size());
    for (uint32_t k : newest_first) {
        const Destination& d = dests[k];
        const uint32_t w = table_weight(d);
        const uint32_t turns = (w / gcd) >> rshift;
        setups.push_back({k, kernel_mh_hash(d.address, d.port, false, 0) % size,
                          kernel_mh_hash(d.address, d.port, true, 0) % (size - 1) + 1,
                          turns != 0 ? turns : (w != 0 ? 1u : 0u)});
    }

    // ip_vs_mh_populate.
    constexpr uint32_t empty = UINT32_MAX;
    out.mh_table.assign(size, empty);
    uint32_t filled = 0;
    while (filled < size) {
        for (Setup& s : setups) {
            for (uint32_t turn = 0; turn < s.turns; ++turn) {
                while (out.mh_table[s.perm] != empty) {
                    s.perm += s.skip;
                    if (s.perm >= size) s.perm -= size;
                }
                out.mh_table[s.perm] = s.index;
                if (++filled == size) return;
            }
        }
    }
}

int32_t pick_kernel_mh(const Prepared& prepared, std::span<const Destination> dests, const FlowInput& flow)
{
    if (prepared.mh_table.empty()) return no_destination;
    const uint32_t size = prepared.mh_table_size;
    const uint16_t port = prepared.flags.mh_port ? flow.src_port : 0;
    auto server_at = [&](uint32_t slot) -> int32_t {
        const uint32_t index = prepared.mh_table[slot];
        return index < dests.size() ? static_cast<int32_t>(index) : no_destination;
    };
    const uint32_t first = kernel_mh_hash(flow.src_ip, port, false, 0) % size;
    const int32_t d = server_at(first);
    if (d == no_destination) return no_destination;
    if (available(dests[static_cast<size_t>(d)])) return d;
    if (!prepared.flags.mh_fallback) return no_destination;

    // ip_vs_mh_get_fallback. When no server of the table is available the kernel's loop runs
    // `size` hashes to find nothing: skip it.
    if (std::none_of(dests.begin(), dests.end(), [](const Destination& x) { return available(x); }))
        return no_destination;
    for (uint32_t offset = 0; offset < size; ++offset) {
        const uint32_t round = static_cast<uint32_t>((uint64_t{offset} + first) % size);
        const int32_t e = server_at(kernel_mh_hash(flow.src_ip, port, false, round) % size);
        if (e == no_destination) return no_destination;
        if (available(dests[static_cast<size_t>(e)])) return e;
    }
    return no_destination;
}

}  // namespace fulcrum::sched
