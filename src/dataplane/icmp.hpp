// ICMP the director answers itself: echo requests to its own addresses and to VIPs.
#pragma once

#include "dataplane/parse.hpp"

namespace fulcrum::dataplane {

// Turns an echo request into its reply in place: addresses swapped, type 0, a fresh TTL, both
// checksums patched. Returns next() (the caller routes the reply back to the sender) or
// drop(icmp_unhandled) for any other ICMP message.
Verdict icmp_answer_echo(uint8_t* frame, const ParsedPacket& p);

}  // namespace fulcrum::dataplane
