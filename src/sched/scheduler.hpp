// Schedulers pick a real server for a new connection: the fourteen of IPVS, by their ipvsadm -s
// names, with the kernel's selection rules (docs/scheduling.md). Pure logic: no DPDK, and a pick
// neither allocates nor throws.
//
// The control plane prepares whatever a scheduler needs from the real-server list (wrr's mark,
// the sh/dh buckets, the Maglev table) when it builds a snapshot: `prepare`, which may allocate.
// A worker keeps its own mutable cursor per service (SchedCursor), as DPVS keeps per-lcore
// scheduler state, so no two cores share a line; lblc/lblcr also need a LocalityTable that the
// worker allocates once and links from the cursor.
//
// Destination lists are in configuration order: the "list order" the kernel's ties are broken
// by. (The kernel's own list is in reverse order of `ipvsadm -a`, as `ipvsadm -Ln` shows it.)
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fulcrum::sched {

enum class Kind : uint8_t { rr, wrr, lc, wlc, sed, nq, fo, ovf, sh, dh, lblc, lblcr, twos, mh };

inline constexpr std::array<Kind, 14> all_kinds{Kind::rr,  Kind::wrr, Kind::lc,   Kind::wlc,
                                                Kind::sed, Kind::nq,  Kind::fo,   Kind::ovf,
                                                Kind::sh,  Kind::dh,  Kind::lblc, Kind::lblcr,
                                                Kind::twos, Kind::mh};

// ipvsadm -s names; nullopt for a name that is not a scheduler (names are lower case).
std::optional<Kind> kind_from_name(std::string_view name);
std::string_view kind_name(Kind kind);

// Whether `pick` reads Destination::active/inactive for this kind: lc, wlc, sed, nq, ovf, lblc,
// lblcr and twos. For the others the dataplane may leave the counts at zero.
constexpr bool uses_connection_counts(Kind kind)
{
    switch (kind) {
    case Kind::lc: case Kind::wlc: case Kind::sed: case Kind::nq: case Kind::ovf:
    case Kind::lblc: case Kind::lblcr: case Kind::twos:
        return true;
    default:
        return false;
    }
}

// Scheduler flags (ipvsadm -b / --sched-flags). sh-port and mh-port add the client's port to
// the hash; sh-fallback and mh-fallback look further when the hashed server is unavailable.
// They only change sh and mh respectively; the kernel accepts them on any service and so do we.
struct Flags {
    bool sh_port = false;
    bool sh_fallback = false;
    bool mh_port = false;
    bool mh_fallback = false;
};

// The YAML / ipvsadm names, in the order error messages list them.
inline constexpr std::array<std::string_view, 4> flag_names{"sh-fallback", "sh-port",
                                                            "mh-fallback", "mh-port"};

// Sets the flag called `name` in `flags`; false (and `flags` unchanged) for an unknown name.
bool set_flag(Flags& flags, std::string_view name);
// The names of the flags set, comma-separated as ipvsadm -Ln prints them ("sh-fallback,sh-port").
std::string flags_text(const Flags& flags);

// What a scheduler sees of one real server. The first two members stay first, so that
// `{weight, overloaded}` keeps working.
struct Destination {
    uint32_t weight = 0;      // 0 = quiescent: never picked for a new connection
    bool overloaded = false;  // IP_VS_DEST_F_OVERLOAD: above its upper threshold (summed counts)
    uint32_t active = 0;      // ActiveConn, as the picking worker counts them
    uint32_t inactive = 0;    // InActConn, likewise
    uint32_t address = 0;     // the real server, host byte order: sh/dh/mh tables, lblc/lblcr
    uint16_t port = 0;        // host byte order
    // mh only: the kernel's last_weight, the latest non-zero weight of a server that has been
    // quiesced. A server with weight 0 and last_weight > 0 keeps its Maglev slots (flows that
    // hash to them find no server, or fall back with mh-fallback); 0 = no history, use `weight`.
    uint32_t last_weight = 0;
    // mh with MhCompat::kernel only: when the server was added (higher is later). The kernel's
    // list is newest first; equal values (never set) keep the list's order, reversed.
    uint64_t added = 0;
};

// What a scheduler sees of the packet that opens a connection, host byte order. `now` is the
// packet's time in the ticks of the LocalityTable (only lblc/lblcr read it).
struct FlowInput {
    uint32_t src_ip = 0;
    uint32_t dst_ip = 0;
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    uint64_t now = 0;
};

constexpr int32_t no_destination = -1;

class LocalityTable;

// A worker's mutable per-service state. `last` is the index of the previous pick, -1 before the
// first (the kernel's "list head"); `current_weight` is wrr's cw; `rng` is twos's random state
// (seed it per worker with seed_cursor); `locality` is the worker's lblc/lblcr table for this
// service, owned by the worker (nullptr: lblc/lblcr schedule without a cache, as the kernel does
// when it cannot allocate an entry).
struct SchedCursor {
    int32_t last = -1;
    int32_t current_weight = 0;
    uint64_t rng = 0x9e3779b97f4a7c15;
    LocalityTable* locality = nullptr;
};

void seed_cursor(SchedCursor& cursor, uint64_t seed);

// ---------------------------------------------------------------------------------------------
// Per-service precomputation.

// What wrr precomputes from the weights (ip_vs_wrr_mark's mw and di).
struct WrrTable {
    int32_t max_weight = 0;
    int32_t gcd = 1;
};
WrrTable prepare_wrr(std::span<const Destination> dests);

inline constexpr uint32_t hash_buckets = 256;             // IP_VS_SH_TAB_SIZE, IP_VS_DH_TAB_SIZE
inline constexpr uint32_t default_mh_table_size = 65537;  // prime; the kernel's is 4093
inline constexpr uint32_t max_mh_table_size = 16777259;   // a prime above 2^24

// Which Maglev table mh builds. `fulcrum`: Fulcrum's own (balanced within one slot, independent
// of the list order; docs/scheduling.md). `kernel`: ip_vs_mh's, bit for bit, so that Fulcrum and
// kernel IPVS directors behind one ECMP group send every flow to the same real server.
enum class MhCompat : uint8_t { fulcrum, kernel };
inline constexpr std::array<std::string_view, 2> mh_compat_names{"fulcrum", "kernel"};

// ip_vs_mh's table sizes: primes[CONFIG_IP_VS_MH_TAB_INDEX - 8] for an index from 8 to 17; the
// kernel's default index 12 gives 4093. An index's IP_VS_MH_TAB_BITS is index / 2.
inline constexpr std::array<uint32_t, 10> kernel_mh_table_sizes{251,  509,   1021,  2039,  4093,
                                                                8191, 16381, 32749, 65521, 131071};
inline constexpr uint32_t default_kernel_mh_table_size = 4093;

// An empty string if `size` can be a Maglev table size for `destinations` real servers (a prime
// no larger than max_mh_table_size and no smaller than the number of servers; with `kernel`, one
// of kernel_mh_table_sizes); otherwise what is wrong, for the configuration checker.
std::string mh_table_size_problem(uint64_t size, size_t destinations, MhCompat compat = MhCompat::fulcrum);

// Everything a service's scheduler reads that depends only on the configuration. Immutable once
// built; one per service in the snapshot.
struct Prepared {
    Kind kind = Kind::rr;
    Flags flags;
    uint32_t destination_count = 0;  // the list it was built from
    WrrTable wrr;
    // sh/dh: hash_buckets destination indexes (no_bucket where the list was empty).
    std::vector<uint32_t> buckets;
    // mh: the lookup table of mh_table_size slots, each a rank among the table's members in
    // (address, port) order, so that the table depends only on the set of servers; and the
    // destination index of each rank. Empty when no server has a weight.
    // With MhCompat::kernel the ranks are the positions in the kernel's own list, and the
    // flows hash as ip_vs_mh hashes them.
    uint32_t mh_table_size = default_mh_table_size;
    bool mh_kernel = false;
    std::vector<uint32_t> mh_table;
    std::vector<uint32_t> mh_index_of_rank;
};
inline constexpr uint32_t no_bucket = UINT32_MAX;

// Builds a service's Prepared. `mh_table_size` and `mh_compat` are only used by mh; a size that
// mh_table_size_problem rejects is replaced by the variant's default (the checker reports it).
Prepared prepare(Kind kind, std::span<const Destination> dests, Flags flags = {},
                 uint32_t mh_table_size = default_mh_table_size, MhCompat mh_compat = MhCompat::fulcrum);

// ---------------------------------------------------------------------------------------------
// Picking. Each returns an index into `dests`, or no_destination when no real server is
// available. `dests` must be the list `prepared` was built from, with current counts.

int32_t pick(const Prepared& prepared, std::span<const Destination> dests, SchedCursor& cursor,
             const FlowInput& flow);

// The schedulers one by one, as `pick` dispatches to them.

// ip_vs_rr: the next destination after the previous pick that has weight > 0 and is not
// overloaded.
int32_t pick_rr(std::span<const Destination> dests, SchedCursor& cursor);
// ip_vs_wrr: steps the current weight down by gcd from max_weight and picks, in list order, the
// destinations whose weight reaches it. Weights 3:2:1 give A A B A B C.
int32_t pick_wrr(std::span<const Destination> dests, const WrrTable& table, SchedCursor& cursor);
// ip_vs_lc: the least active*256 + inactive among weight > 0, not overloaded; first on ties.
int32_t pick_lc(std::span<const Destination> dests);
// ip_vs_wlc: the least (active*256 + inactive) / weight, compared by cross-multiplying.
int32_t pick_wlc(std::span<const Destination> dests);
// ip_vs_sed: the least (active + 1) / weight.
int32_t pick_sed(std::span<const Destination> dests);
// ip_vs_nq: the first server with no active connection, else as sed.
int32_t pick_nq(std::span<const Destination> dests);
// ip_vs_fo: the highest weight that is not overloaded; first on ties.
int32_t pick_fo(std::span<const Destination> dests);
// ip_vs_ovf: the highest weight among those with active <= weight, not overloaded.
int32_t pick_ovf(std::span<const Destination> dests);
// ip_vs_sh: the bucket of the source address (and port with sh-port).
int32_t pick_sh(const Prepared& prepared, std::span<const Destination> dests,
                const FlowInput& flow);
// ip_vs_dh: the bucket of the destination address.
int32_t pick_dh(const Prepared& prepared, std::span<const Destination> dests,
                const FlowInput& flow);
// ip_vs_lblc / ip_vs_lblcr: the server (set) remembered for the destination address, else
// weighted least-connection; `locality` may be nullptr.
int32_t pick_lblc(std::span<const Destination> dests, LocalityTable* locality,
                  const FlowInput& flow);
int32_t pick_lblcr(std::span<const Destination> dests, LocalityTable* locality,
                   const FlowInput& flow);
// ip_vs_twos: two weighted random choices, the less loaded by (active*256 + inactive) / weight.
int32_t pick_twos(std::span<const Destination> dests, uint64_t& rng);
// ip_vs_mh: the Maglev table slot of the source address (and port with mh-port).
int32_t pick_mh(const Prepared& prepared, std::span<const Destination> dests,
                const FlowInput& flow);
int32_t pick_kernel_mh(const Prepared& prepared, std::span<const Destination> dests,
                       const FlowInput& flow);

// ---------------------------------------------------------------------------------------------
// Helpers shared with the control plane and the tests.

// ip_vs_dest_conn_overhead: active connections weigh 256 inactive ones.
constexpr uint64_t conn_overhead(const Destination& d)
{
    return (uint64_t{d.active} << 8) + d.inactive;
}

// IP_VS_DEST_F_OVERLOAD's hysteresis (ip_vs_bind_dest / ip_vs_unbind_dest), evaluated on the
// connections (active + inactive) summed over all workers: set at `upper` or more; once set,
// cleared below `lower`, or below 3/4 of `upper` when `lower` is 0; never set when `upper` is 0.
constexpr bool overloaded_after(bool overloaded, uint64_t total_connections, uint32_t upper,
                                uint32_t lower)
{
    if (upper != 0 && total_connections >= upper) return true;
    if (!overloaded) return false;
    if (lower != 0) return total_connections >= lower;
    if (upper != 0) return total_connections * 4 >= uint64_t{upper} * 3;
    return false;
}

// The kernel's hash_32 (include/linux/hash.h): the top `bits` (1..32) of val * GOLDEN_RATIO_32.
constexpr uint32_t hash_32(uint32_t val, unsigned bits)
{
    return static_cast<uint32_t>(val * 0x61C88647u) >> (32 - bits);
}

// The fixed 64-bit mixer of every Maglev hash (splitmix64's finalizer): the same on every
// director, so directors with the same real servers build the same table and agree on flows.
constexpr uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}
// An address and port as one 48-bit key: address << 16 | port.
constexpr uint64_t endpoint_key(uint32_t address, uint16_t port)
{
    return (uint64_t{address} << 16) | port;
}
inline constexpr uint64_t mh_offset_salt = 0x6f2d76656c67616dULL;  // "maglev-o", little-endian
inline constexpr uint64_t mh_skip_salt = 0x732d76656c67616dULL;    // "maglev-s"
inline constexpr uint64_t mh_flow_salt = 0x662d76656c67616dULL;    // "maglev-f"
inline constexpr uint64_t mh_probe_step = 0x9e3779b97f4a7c15ULL;   // 2^64 / golden ratio
// A real server's place in the Maglev permutation: offset in [0, size), skip in [1, size).
constexpr uint32_t mh_offset(uint32_t address, uint16_t port, uint32_t size)
{
    return static_cast<uint32_t>(mix64(endpoint_key(address, port) ^ mh_offset_salt) % size);
}
constexpr uint32_t mh_skip(uint32_t address, uint16_t port, uint32_t size)
{
    return static_cast<uint32_t>(mix64(endpoint_key(address, port) ^ mh_skip_salt) % (size - 1)) + 1;
}
// The slot a flow key (source address, and port with mh-port) probes on try `round`: round 0 is
// the lookup; mh-fallback tries rounds (slot0 + i) % size for i = 0, 1, ... as ip_vs_mh does.
constexpr uint32_t mh_flow_slot(uint64_t flow_key, uint32_t round, uint32_t size)
{
    return static_cast<uint32_t>(mix64(flow_key ^ mh_flow_salt ^ (round * mh_probe_step)) % size);
}

// The x86-64 kernel's hsiphash of one 32-bit word (lib/siphash.c: on 64-bit machines
// "HalfSipHash" is SipHash-1-3 over 64-bit words, its result cut to 32 bits).
uint32_t kernel_hsiphash_u32(uint32_t word, uint64_t key0, uint64_t key1);
// ip_vs_mh_hashkey for an IPv4 address and port (host byte order) with hash1 (`second` false)
// or hash2 (`second` true), the fixed keys of its generate_hash_secret.
uint32_t kernel_mh_hash(uint32_t address, uint16_t port, bool second, uint32_t offset);

// ---------------------------------------------------------------------------------------------
// lblc / lblcr state: a worker's fixed-capacity map from a destination address to the real
// server (lblc) or the set of real servers (lblcr) that served it last. Allocated when created,
// never in pick; it stays valid across snapshots (entries remember their servers by address and
// port, and find them again when the list changes).
//
// Expiry (docs/scheduling.md): an entry unused for `expiration` ticks is gone (the kernel's
// lblc_expiration / lblcr_expiration, 24 hours by default, which its periodic full check applies
// within 30 minutes; here exactly, when the entry is next looked at). An lblcr set of more than
// one server that has not changed for `expiration` ticks loses its most loaded member on its
// next use. When every slot an address can use is taken, the least recently used entry there is
// replaced (the kernel instead lets its table grow past 16384 entries and collects entries idle
// for 6 minutes once a minute).
class LocalityTable {
public:
    static constexpr uint32_t ways = 8;        // entries an address can occupy (one bucket)
    static constexpr uint32_t max_set = 8;     // lblcr: servers per address

    // `capacity` entries, rounded up to a multiple of `ways` that is a power of two;
    // `expiration` in the ticks FlowInput::now is given in.
    LocalityTable(uint32_t capacity, uint64_t expiration);
    ~LocalityTable();
    LocalityTable(const LocalityTable&) = delete;
    LocalityTable& operator=(const LocalityTable&) = delete;

    uint32_t capacity() const { return bucket_count_ * ways; }
    uint64_t expiration() const { return expiration_; }
    // Live entries (not yet expired at `now`).
    uint32_t size(uint64_t now) const;
    // The servers remembered for `address`, newest first, as destination indexes into `dests`
    // (for tests and the console); empty when there is no live entry.
    std::vector<int32_t> servers_of(uint32_t address, std::span<const Destination> dests,
                                    uint64_t now) const;
    void clear();

    struct Member {
        uint32_t index;    // where the server was in the list last time
        uint32_t address;  // which server it is
        uint16_t port;
    };
    struct Entry {
        uint32_t key = 0;       // the destination address
        uint8_t used = 0;
        uint8_t size = 0;       // members in use; lblc uses one
        uint64_t last_use = 0;
        uint64_t last_modified = 0;  // lblcr: when the set last changed
        std::array<Member, max_set> members{};
    };

    // For the schedulers: the live entry for `key`, or nullptr; and a fresh entry for `key`,
    // replacing an expired or the least recently used one if its bucket is full.
    Entry* find(uint32_t key, uint64_t now);
    Entry* insert(uint32_t key, uint64_t now);

private:
    Entry* bucket(uint32_t key) const;
    bool expired(const Entry& e, uint64_t now) const
    {
        return now >= e.last_use && now - e.last_use >= expiration_;
    }

    std::unique_ptr<Entry[]> entries_;
    uint32_t bucket_count_ = 0;
    uint64_t expiration_ = 0;
};

}  // namespace fulcrum::sched
