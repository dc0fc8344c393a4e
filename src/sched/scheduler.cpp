// Names, flags, per-service preparation and the one dispatching pick.
#include "sched/scheduler.hpp"

#include "sched/internal.hpp"

namespace fulcrum::sched {

namespace {

constexpr std::array<std::string_view, 14> names{"rr", "wrr", "lc",   "wlc",   "sed",  "nq", "fo",
                                                 "ovf", "sh", "dh", "lblc", "lblcr", "twos", "mh"};
static_assert(names.size() == all_kinds.size());

uint64_t splitmix_step(uint64_t& state)
{
    state += 0x9e3779b97f4a7c15ULL;
    return mix64(state);
}

}  // namespace

std::optional<Kind> kind_from_name(std::string_view name)
{
    for (size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) return all_kinds[i];
    return std::nullopt;
}

std::string_view kind_name(Kind kind)
{
    const auto i = static_cast<size_t>(kind);
    return i < names.size() ? names[i] : "?";
}

bool set_flag(Flags& flags, std::string_view name)
{
    if (name == "sh-fallback") flags.sh_fallback = true;
    else if (name == "sh-port") flags.sh_port = true;
    else if (name == "mh-fallback") flags.mh_fallback = true;
    else if (name == "mh-port") flags.mh_port = true;
    else return false;
    return true;
}

std::string flags_text(const Flags& flags)
{
    std::string s;
    auto add = [&](bool set, std::string_view name) {
        if (!set) return;
        if (!s.empty()) s += ',';
        s += name;
    };
    add(flags.sh_fallback, "sh-fallback");
    add(flags.sh_port, "sh-port");
    add(flags.mh_fallback, "mh-fallback");
    add(flags.mh_port, "mh-port");
    return s;
}

void seed_cursor(SchedCursor& cursor, uint64_t seed)
{
    // Run the seed through the generator once so that seeds 0, 1, 2 ... (worker ids) start far
    // apart.
    uint64_t state = seed;
    cursor.rng = splitmix_step(state);
}

uint64_t next_random(uint64_t& state) { return splitmix_step(state); }

Prepared prepare(Kind kind, std::span<const Destination> dests, Flags flags, uint32_t mh_table_size,
                 MhCompat mh_compat)
{
    Prepared p;
    p.kind = kind;
    p.flags = flags;
    p.destination_count = static_cast<uint32_t>(dests.size());
    switch (kind) {
    case Kind::wrr: p.wrr = prepare_wrr(dests); break;
    case Kind::sh: p.buckets = build_sh_buckets(dests); break;
    case Kind::dh: p.buckets = build_dh_buckets(dests); break;
    case Kind::mh:
        if (mh_compat == MhCompat::kernel) {
            if (!mh_table_size_problem(mh_table_size, dests.size(), mh_compat).empty())
                mh_table_size = default_kernel_mh_table_size;
            build_kernel_mh_table(dests, mh_table_size, p);
            break;
        }
        if (!mh_table_size_problem(mh_table_size, dests.size()).empty())
            mh_table_size = default_mh_table_size;
        build_mh_table(dests, mh_table_size, p);
        break;
    default: break;
    }
    return p;
}

int32_t pick(const Prepared& prepared, std::span<const Destination> dests, SchedCursor& cursor,
             const FlowInput& flow)
{
    switch (prepared.kind) {
    case Kind::rr: return pick_rr(dests, cursor);
    case Kind::wrr: return pick_wrr(dests, prepared.wrr, cursor);
    case Kind::lc: return pick_lc(dests);
    case Kind::wlc: return pick_wlc(dests);
    case Kind::sed: return pick_sed(dests);
    case Kind::nq: return pick_nq(dests);
    case Kind::fo: return pick_fo(dests);
    case Kind::ovf: return pick_ovf(dests);
    case Kind::sh: return pick_sh(prepared, dests, flow);
    case Kind::dh: return pick_dh(prepared, dests, flow);
    case Kind::lblc: return pick_lblc(dests, cursor.locality, flow);
    case Kind::lblcr: return pick_lblcr(dests, cursor.locality, flow);
    case Kind::twos: return pick_twos(dests, cursor.rng);
    case Kind::mh: return pick_mh(prepared, dests, flow);
    }
    return no_destination;
}

}  // namespace fulcrum::sched
