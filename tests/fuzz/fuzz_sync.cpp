// Any bytes as a sync datagram from the network. Besides not crashing: the first byte is the
// sync id this backup accepts; a dropped datagram yields no record; a datagram only yields
// records a well-formed message can carry; and every record taken survives encoding and
// decoding again unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "control/sync/wire.hpp"

using namespace fulcrum;
using namespace fulcrum::control::sync;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 1) return 0;
    const uint8_t accepted_syncid = data[0];
    const std::span<const uint8_t> datagram(data + 1, size - 1);
    std::vector<SyncRecord> out;
    const DecodeResult r = decode_message(datagram, accepted_syncid, out);
    if (r.dropped && !out.empty()) std::abort();
    if (r.accepted != out.size()) std::abort();
    if (!out.empty() && (datagram.size() < header_size + ipv4_record_size * out.size() || out.size() > datagram[4]))
        std::abort();
    for (const SyncRecord& record : out) {
        if (record.protocol != 6 && record.protocol != 17) std::abort();
        MessageBuilder b(datagram[1], 1472);
        if (!b.add(record)) std::abort();
        std::vector<SyncRecord> again;
        const DecodeResult r2 = decode_message(b.bytes(), 0, again);
        if (r2.dropped || again.size() != 1 || !(again[0] == record)) std::abort();
    }
    return 0;
}
