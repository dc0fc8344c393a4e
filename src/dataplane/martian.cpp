#include "dataplane/martian.hpp"

namespace fulcrum::dataplane {

bool martian_source(const WorkerContext& w, rte_be32_t source)
{
    const uint32_t address = rte_be_to_cpu_32(source);
    const uint32_t first_octet = address >> 24;
    if (first_octet == 0 || first_octet == 127 || first_octet >= 224) return true;
    if (w.shared->is_local(source) || w.snapshot->is_vip(source)) return true;
    for (unsigned p = 0; p < w.shared->port_count; ++p)
        for (const Ipv4Prefix& prefix : w.shared->ports[p].addresses)
            if (prefix.length > 0 && prefix.length < 31 && address == (prefix.network() | ~(~uint32_t{0} << (32 - prefix.length))))
                return true;
    return false;
}

}  // namespace fulcrum::dataplane
