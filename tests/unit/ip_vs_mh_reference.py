#!/usr/bin/env python3
"""Independent reference model of the Linux IPVS Maglev-hashing scheduler
("mh", net/netfilter/ipvs/ip_vs_mh.c) for an x86-64 kernel.

Nothing here is copied from the kernel or from this project: the code was
written from scratch in Python (standard library only) after reading the
kernel sources listed below.  Facts carry over (constants, formulas, the
order of operations, test vectors); the code text does not.

Where each part comes from (repository torvalds/linux)
------------------------------------------------------

hsiphash_u32 / hsiphash_bytes
    lib/siphash.c, the "BITS_PER_LONG == 64" branch: on 64-bit kernels
    hsiphash is SipHash-1-3 over 64-bit words (HSIPROUND is SIPROUND,
    HPREAMBLE(len) is PREAMBLE(len); HPOSTAMBLE does one round after
    xoring the final block, then v2 ^= 0xff and three rounds) and returns
    (v0 ^ v1 ^ v2 ^ v3) truncated to u32.  The key type hsiphash_key_t is
    "unsigned long key[2]" (include/linux/siphash.h), i.e. two u64 on
    x86-64.  include/linux/siphash.h: hsiphash() of a 4-byte object goes
    to hsiphash_1u32(le32 value of the 4 bytes); on little-endian x86 that
    is just the unsigned int itself.  hsiphash_1u32 = PREAMBLE(4), b |= v,
    POSTAMBLE (no compression round: 4 bytes is shorter than one word).
    Test vectors: lib/test_siphash.c (lib/tests/siphash_kunit.c in newer
    trees), test_key_hsiphash / test_vectors_hsiphash under
    "#if BITS_PER_LONG == 64", and test_vectors_siphash for SipHash-2-4.

KEY1 / KEY2
    ip_vs_mh.c, generate_hash_secret(): hash1 = {2654435761, 2654435761},
    hash2 = {2654446892, 2654446892} (each an unsigned long, so the upper
    32 bits of each 64-bit key word are zero).

hashkey
    ip_vs_mh.c, ip_vs_mh_hashkey(): v = offset + ntohs(port) + ntohl(addr)
    computed in unsigned int (mod 2**32), then hsiphash(&v, 4, key).
    For AF_INET6 the address is first folded: addr_fold = ip6[0] ^ ip6[1]
    ^ ip6[2] ^ ip6[3], the four __be32 words as they lie in the address,
    and ntohl(addr_fold) is what is added (fold() below).  The same fold
    serves the real servers' permutations and the clients' picks.

permutation
    ip_vs_mh.c, ip_vs_mh_permutate(): for every destination, in list order,
    offset = hashkey(dest addr, dest port, hash1, 0) % M,
    skip   = hashkey(dest addr, dest port, hash2, 0) % (M - 1) + 1,
    perm   = offset,
    turns  = ((last_weight / gcd) >> rshift), or (last_weight != 0) when
             that is 0 (the GNU "?:" operator).
    gcd:    ip_vs_mh_gcd_weight(): gcd of all last_weight > 0 (0 if none).
    rshift: ip_vs_mh_shift_weight(): 0 if gcd < 1, else
            max(0, fls(max_last_weight / gcd) - IP_VS_MH_TAB_BITS), where
            IP_VS_MH_TAB_BITS = CONFIG_IP_VS_MH_TAB_INDEX / 2 and
            M = primes[CONFIG_IP_VS_MH_TAB_INDEX - 8].

populate
    ip_vs_mh.c, ip_vs_mh_populate(): if gcd < 1 every slot is emptied
    (ip_vs_mh_reset).  Otherwise repeated passes over the destination
    list: a destination with turns < 1 is skipped; any other one claims
    `turns` slots in a row, each time walking its perm forward by skip
    (mod M) while the slot at perm is already taken, then taking that slot
    (perm itself is left pointing at the slot just taken).  The whole
    thing stops the moment the M-th slot is taken, even in the middle of
    a destination's turns.  ip_vs_mh_reassign() refuses (-EINVAL) when
    there are more destinations than slots.

    ORDER OF THE DESTINATION LIST: the walk is over svc->destinations from
    head->next.  net/netfilter/ipvs/ip_vs_ctl.c, __ip_vs_update_dest(),
    inserts a new destination with list_add_rcu(&dest->n_list,
    &svc->destinations), and include/linux/rculist.h list_add_rcu()
    inserts right after the head ("good for implementing stacks").  So the
    list is walked NEWEST FIRST, the reverse of the order in which the
    real servers were added.  The SERVER arguments are in the order of
    addition (as the command line says), so populate() walks them in
    reverse, unless --list-order says they are already in list order.
    Editing a destination (upd_dest) does not move it; a removed and
    re-added destination goes to the front again.

pick / fallback
    ip_vs_mh.c, ip_vs_mh_schedule(): hash the source address and, only with
    IP_VS_SVC_F_SCHED_MH_PORT (--port), the source port (else port 0) with
    hash1 and offset 0, modulo M, and look the slot up.
    ip_vs_mh_get() (no fallback): an empty slot or an unavailable
    destination gives no destination.  is_unavailable(): weight <= 0 or
    IP_VS_DEST_F_OVERLOAD.  (ip_vs_mh.c does not test
    IP_VS_DEST_F_AVAILABLE: a destination without it has been unlinked
    from the list and the table rebuilt; the ":down" marker here therefore
    models "in the table but unusable", which is what OVERLOAD means.)
    ip_vs_mh_get_fallback() (IP_VS_SVC_F_SCHED_MH_FALLBACK, --fallback):
    ihash = hashkey(src, port, hash1, 0) % M; empty slot -> none; usable ->
    it.  Otherwise for offset = 0 .. M-1: roffset = (offset + ihash) % M,
    slot = hashkey(src, port, hash1, roffset) % M; an empty slot stops the
    search (none), a usable destination is returned; none after M tries.

The per-packet parts not modelled: ip_vs_iph_inverse() (ICMP errors use
the destination address / port) and protocols other than TCP/UDP/SCTP
(port 0).

Command line
------------
    ip_vs_mh_reference.py SIZE [--port] [--fallback] [--table] [--list-order]
                          SERVER... [--flows SRC:SPORT,SRC:SPORT,...]
    ip_vs_mh_reference.py --selftest

SIZE is one of the kernel's primes.  SERVER is
ADDRESS:PORT:WEIGHT[:LAST_WEIGHT][:down], in the order the real servers
were added; ADDRESS is IPv4 or, in brackets, IPv6 ([2001:db8::1]:80:1), as
is SRC in --flows.  Output: "table ..." (with --table), then
"digest 0x%016x" (64-bit FNV-1a over the slots, each slot a little-endian
uint32 server index, 0xFFFFFFFF for an empty slot), then one
"flow SRC:SPORT ADDRESS:PORT" or "flow SRC:SPORT none" per flow, IPv6
addresses in brackets.
"""

import ipaddress
import sys

# ----------------------------------------------------------------------------
# Constants from the kernel
# ----------------------------------------------------------------------------

# ip_vs_mh.c primes[]; position i corresponds to CONFIG_IP_VS_MH_TAB_INDEX = 8+i.
PRIMES = (251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071)

# ip_vs_mh.c generate_hash_secret(): (key[0], key[1]) for hash1 and hash2.
KEY1 = (2654435761, 2654435761)
KEY2 = (2654446892, 2654446892)

MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF

FNV_OFFSET_BASIS = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3

NO_SERVER = 0xFFFFFFFF


def table_bits(size):
    """IP_VS_MH_TAB_BITS for a table of `size` slots (CONFIG index / 2)."""
    config_index = 8 + PRIMES.index(size)
    return config_index // 2


# ----------------------------------------------------------------------------
# SipHash family (lib/siphash.c)
# ----------------------------------------------------------------------------

def _rotl64(x, n):
    return ((x << n) | (x >> (64 - n))) & MASK64


def _sip_round(state):
    a, b, c, d = state
    a = (a + b) & MASK64
    b = _rotl64(b, 13) ^ a
    a = _rotl64(a, 32)
    c = (c + d) & MASK64
    d = _rotl64(d, 16) ^ c
    a = (a + d) & MASK64
    d = _rotl64(d, 21) ^ a
    c = (c + b) & MASK64
    b = _rotl64(b, 17) ^ c
    c = _rotl64(c, 32)
    return [a, b, c, d]


def _sip_init(key):
    k0, k1 = key[0] & MASK64, key[1] & MASK64
    # "somepseudorandomlygeneratedbytes", the SipHash initialisation words.
    return [0x736F6D6570736575 ^ k0,
            0x646F72616E646F6D ^ k1,
            0x6C7967656E657261 ^ k0,
            0x7465646279746573 ^ k1]


def _sip_absorb(state, word, rounds):
    state[3] ^= word
    for _ in range(rounds):
        state = _sip_round(state)
    state[0] ^= word
    return state


def _sip_finish(state, final_rounds):
    state[2] ^= 0xFF
    for _ in range(final_rounds):
        state = _sip_round(state)
    return state[0] ^ state[1] ^ state[2] ^ state[3]


def _sip_bytes(data, key, c_rounds, d_rounds):
    """SipHash-c-d of a byte string, 64-bit result."""
    state = _sip_init(key)
    whole = len(data) - len(data) % 8
    for pos in range(0, whole, 8):
        state = _sip_absorb(state, int.from_bytes(data[pos:pos + 8], "little"),
                            c_rounds)
    last = ((len(data) & 0xFF) << 56) | int.from_bytes(data[whole:], "little")
    state = _sip_absorb(state, last, c_rounds)
    return _sip_finish(state, d_rounds)


def siphash_bytes(data, key):
    """Kernel siphash(): SipHash-2-4, u64."""
    return _sip_bytes(bytes(data), key, 2, 4)


def hsiphash_bytes(data, key):
    """Kernel hsiphash() on 64-bit: SipHash-1-3, truncated to u32."""
    return _sip_bytes(bytes(data), key, 1, 3) & MASK32


def hsiphash_u32(value, key):
    """Kernel hsiphash_1u32() on 64-bit, i.e. hsiphash of a 4-byte unsigned
    int on little-endian x86: the length (4) sits in the top byte of the only
    block and the value in its low 32 bits; SipHash-1-3; low 32 bits."""
    state = _sip_init(key)
    state = _sip_absorb(state, (4 << 56) | (value & MASK32), 1)
    return _sip_finish(state, 3) & MASK32


# ----------------------------------------------------------------------------
# ip_vs_mh.c
# ----------------------------------------------------------------------------

def fold(address):
    """What ip_vs_mh_hashkey() adds for an address, as a host-order integer:
    ntohl(addr) for IPv4; for IPv6, ntohl() of the xor of the four __be32
    words, which is the xor of the four words read big-endian."""
    if address.version == 4:
        return int(address)
    packed = address.packed
    value = 0
    for i in range(0, 16, 4):
        value ^= int.from_bytes(packed[i:i + 4], "big")
    return value


def hashkey(addr, port, key, offset):
    """ip_vs_mh_hashkey(): `addr` is the folded address as a host-order
    integer (fold(), what ntohl() yields), `port` the port number (what
    ntohs() yields)."""
    v = (offset + port + addr) & MASK32
    return hsiphash_u32(v, key)


class Server:
    """One real server as the scheduler sees it."""

    def __init__(self, index, address, port, weight, last_weight, down):
        self.index = index              # position in the SERVER arguments
        self.address = address          # ipaddress.IPv4Address or IPv6Address
        self.addr = fold(address)       # host-order integer
        self.port = port
        self.weight = weight            # dest->weight (current)
        self.last_weight = last_weight  # dest->last_weight (builds the table)
        self.down = down                # overloaded / not available at pick

    def usable(self):
        """Negation of ip_vs_mh.c is_unavailable() (plus the :down marker)."""
        return self.weight > 0 and not self.down

    def name(self):
        return "%s:%d" % (address_text(self.address), self.port)


def gcd_weight(servers):
    """ip_vs_mh_gcd_weight()."""
    g = 0
    for s in servers:
        w = s.last_weight
        if w > 0:
            g = w if g <= 0 else _gcd(w, g)
    return g


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def shift_weight(servers, gcd, size):
    """ip_vs_mh_shift_weight()."""
    if gcd < 1:
        return 0
    largest = 0
    for s in servers:
        if s.last_weight > largest:
            largest = s.last_weight
    mw = largest // gcd
    shift = mw.bit_length() - table_bits(size)   # fls(mw) - IP_VS_MH_TAB_BITS
    return shift if shift >= 0 else 0


def permutation(server, size, gcd, rshift):
    """ip_vs_mh_permutate() for one destination: [offset, skip, turns]."""
    offset = hashkey(server.addr, server.port, KEY1, 0) % size
    skip = hashkey(server.addr, server.port, KEY2, 0) % (size - 1) + 1
    lw = server.last_weight
    turns = (lw // gcd) >> rshift
    if turns == 0:
        turns = 1 if lw != 0 else 0
    return offset, skip, turns


def destination_list(servers, list_order=False):
    """svc->destinations walked from head->next: newest first (see the
    module docstring), unless the caller already gives list order."""
    return list(servers) if list_order else list(reversed(servers))


def populate(servers, size, list_order=False):
    """ip_vs_mh_permutate() + ip_vs_mh_populate(): returns the lookup table as
    a list of Server or None, one entry per slot."""
    if len(servers) > size:
        raise ValueError("more destinations (%d) than table slots (%d): "
                         "ip_vs_mh_reassign() returns -EINVAL"
                         % (len(servers), size))
    table = [None] * size
    gcd = gcd_weight(servers)
    if gcd < 1:
        return table                      # ip_vs_mh_reset(): all slots empty
    rshift = shift_weight(servers, gcd, size)

    walk = destination_list(servers, list_order)
    setup = []
    for s in walk:
        offset, skip, turns = permutation(s, size, gcd, rshift)
        setup.append({"server": s, "perm": offset, "skip": skip,
                      "turns": turns})

    taken = [False] * size
    filled = 0
    while True:                            # one pass over the list per loop
        for ds in setup:
            if ds["turns"] < 1:
                continue                   # zero-weight server: skipped
            for _ in range(ds["turns"]):
                slot = ds["perm"]
                while taken[slot]:
                    slot += ds["skip"]
                    if slot >= size:
                        slot -= size
                ds["perm"] = slot
                taken[slot] = True
                table[slot] = ds["server"]
                filled += 1
                if filled == size:
                    return table


def pick(table, src_addr, src_port, use_port):
    """ip_vs_mh_schedule() + ip_vs_mh_get(): Server or None."""
    port = src_port if use_port else 0
    dest = table[hashkey(src_addr, port, KEY1, 0) % len(table)]
    if dest is None or not dest.usable():
        return None
    return dest


def fallback(table, src_addr, src_port, use_port):
    """ip_vs_mh_schedule() + ip_vs_mh_get_fallback(): Server or None."""
    size = len(table)
    port = src_port if use_port else 0
    ihash = hashkey(src_addr, port, KEY1, 0) % size
    dest = table[ihash]
    if dest is None:
        return None
    if dest.usable():
        return dest
    for offset in range(size):
        roffset = (offset + ihash) % size
        dest = table[hashkey(src_addr, port, KEY1, roffset) % size]
        if dest is None:
            return None
        if dest.usable():
            return dest
    return None


def schedule(table, src_addr, src_port, use_port, use_fallback):
    if use_fallback:
        return fallback(table, src_addr, src_port, use_port)
    return pick(table, src_addr, src_port, use_port)


# ----------------------------------------------------------------------------
# Output helpers
# ----------------------------------------------------------------------------

def slot_indices(table):
    return [NO_SERVER if s is None else s.index for s in table]


def digest(table):
    """64-bit FNV-1a over the slots, each a little-endian uint32."""
    h = FNV_OFFSET_BASIS
    for value in slot_indices(table):
        for byte in value.to_bytes(4, "little"):
            h ^= byte
            h = (h * FNV_PRIME) & MASK64
    return h


# ----------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------

class UsageError(Exception):
    pass


def _parse_int(text, what, low, high):
    try:
        value = int(text, 10)
    except ValueError:
        raise UsageError("bad %s %r" % (what, text))
    if not low <= value <= high:
        raise UsageError("%s %r out of range %d..%d" % (what, text, low, high))
    return value


def _parse_ipv4(text):
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise UsageError("bad IPv4 address %r" % text)


def _split_address(text):
    """(address, the rest after its colon): an IPv6 address is in brackets."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1:end + 2] != ":":
            raise UsageError("bad bracketed IPv6 address in %r" % text)
        try:
            address = ipaddress.IPv6Address(text[1:end])
        except ValueError:
            raise UsageError("bad IPv6 address %r" % text[1:end])
        return address, text[end + 2:]
    if ":" not in text:
        raise UsageError("missing port in %r" % text)
    head, rest = text.split(":", 1)
    return _parse_ipv4(head), rest


def address_text(address):
    return "[%s]" % address if address.version == 6 else str(address)


def parse_server(index, text):
    address, rest = _split_address(text)
    parts = [str(address)] + rest.split(":")
    down = False
    if len(parts) >= 4 and parts[-1] == "down":
        down = True
        parts = parts[:-1]
    if len(parts) not in (3, 4):
        raise UsageError("bad SERVER %r (want ADDRESS:PORT:WEIGHT"
                         "[:LAST_WEIGHT][:down])" % text)
    port = _parse_int(parts[1], "port", 0, 65535)
    # IPVS refuses negative weights (ip_vs_add_dest / ip_vs_edit_dest).
    weight = _parse_int(parts[2], "weight", 0, 0x7FFFFFFF)
    last_weight = weight
    if len(parts) == 4:
        last_weight = _parse_int(parts[3], "last weight", 0, 0x7FFFFFFF)
    return Server(index, address, port, weight, last_weight, down)


def parse_flows(text):
    flows = []
    for item in text.split(","):
        if item == "":
            continue                       # trailing comma allowed
        address, port_text = _split_address(item)
        if ":" in port_text:
            raise UsageError("bad flow %r (want SRC:SPORT)" % item)
        flows.append((address,
                      _parse_int(port_text, "source port", 0, 65535)))
    return flows


def run(argv):
    if not argv:
        raise UsageError("missing SIZE")
    size = _parse_int(argv[0], "SIZE", 0, 1 << 31)
    if size not in PRIMES:
        raise UsageError("SIZE %d is not one of the kernel's primes %s"
                         % (size, ", ".join(str(p) for p in PRIMES)))
    use_port = use_fallback = show_table = list_order = False
    flows = []
    servers = []
    rest = argv[1:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--port":
            use_port = True
        elif arg == "--fallback":
            use_fallback = True
        elif arg == "--table":
            show_table = True
        elif arg == "--list-order":
            list_order = True
        elif arg == "--flows":
            if i + 1 >= len(rest):
                raise UsageError("--flows needs a list")
            flows.extend(parse_flows(rest[i + 1]))
            i += 1
        elif arg.startswith("--flows="):
            flows.extend(parse_flows(arg[len("--flows="):]))
        elif arg.startswith("--"):
            raise UsageError("unknown option %r" % arg)
        else:
            servers.append(parse_server(len(servers), arg))
        i += 1

    try:
        table = populate(servers, size, list_order)
    except ValueError as e:
        raise UsageError(str(e))

    out = []
    if show_table:
        out.append("table " + " ".join(
            "-1" if s is None else str(s.index) for s in table))
    out.append("digest 0x%016x" % digest(table))
    for addr, port in flows:
        dest = schedule(table, fold(addr), port, use_port, use_fallback)
        out.append("flow %s:%d %s" % (address_text(addr), port,
                                      "none" if dest is None else dest.name()))
    sys.stdout.write("\n".join(out) + "\n")
    return 0


# ----------------------------------------------------------------------------
# Self-test
# ----------------------------------------------------------------------------

# lib/test_siphash.c (lib/tests/siphash_kunit.c): SipHash reference vectors,
# key bytes 00..0f, input bytes 00..(n-1) for n = 0..63.
TEST_KEY = (0x0706050403020100, 0x0F0E0D0C0B0A0908)

TEST_VECTORS_HSIPHASH_64BIT = (
    0x050fc4dc, 0x7d57ca93, 0x4dc7d44d, 0xe7ddf7fb, 0x88d38328, 0x49533b67,
    0xc59f22a7, 0x9bb11140, 0x8d299a8e, 0x6c063de4, 0x92ff097f, 0xf94dc352,
    0x57b4d9a2, 0x1229ffa7, 0xc0f95d34, 0x2a519956, 0x7d908b66, 0x63dbd80c,
    0xb473e63e, 0x8d297d1c, 0xa6cce040, 0x2b45f844, 0xa320872e, 0xdae6c123,
    0x67349c8c, 0x705b0979, 0xca9913a5, 0x4ade3b35, 0xef6cd00d, 0x4ab1e1f4,
    0x43c5e663, 0x8c21d1bc, 0x16a7b60d, 0x7a8ff9bf, 0x1f2a753e, 0xbf186b91,
    0xada26206, 0xa3c33057, 0xae3a36a1, 0x7b108392, 0x99e41531, 0x3f1ad944,
    0xc8138825, 0xc28949a6, 0xfaf8876b, 0x9f042196, 0x68b1d623, 0x8b5114fd,
    0xdf074c46, 0x12cc86b3, 0x0a52098f, 0x9d292f9a, 0xa2f41f12, 0x43a71ed0,
    0x73f0bce6, 0x70a7e980, 0x243c6d75, 0xfdb71513, 0xa67d8a08, 0xb7e8f148,
    0xf7a644ee, 0x0f1837f2, 0x4b6694e0, 0xb7bbb3a8,
)

TEST_VECTORS_SIPHASH = (
    0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a,
    0x85676696d7fb7e2d, 0xcf2794e0277187b7, 0x18765564cd99a68d,
    0xcbc9466e58fee3ce, 0xab0200f58b01d137, 0x93f5f5799a932462,
    0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
    0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee,
    0xa129ca6149be45e5, 0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794,
    0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd, 0xbed65cf21aa2ee98,
    0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8,
    0xb8ad50c6f649af94, 0xbce192de8a85b8ea, 0x17d835b85bbb15f3,
    0x2f2e6163076bcfad, 0xde4daaaca71dc9a5, 0xa6a2506687956571,
    0xad87a3535c49ef28, 0x32d892fad841c342, 0x7127512f72f27cce,
    0xa7f32346f95978e3, 0x12e0b01abb051238, 0x15e034d40fa197ae,
    0x314dffbe0815a3b4, 0x027990f029623981, 0xcadcd4e59ef40c4d,
    0x9abfd8766a33735c, 0x0e3ea96b5304a7d0, 0xad0c42d6fc585992,
    0x187306c89bc215a9, 0xd4a60abcf3792b95, 0xf935451de4f21df2,
    0xa9538f0419755787, 0xdb9acddff56ca510, 0xd06c98cd5c0975eb,
    0xe612a3cb9ecba951, 0xc766e62cfcadaf96, 0xee64435a9752fe72,
    0xa192d576b245165a, 0x0a8787bf8ecb74b2, 0x81b3e73d20b49b6f,
    0x7fa8220ba3b2ecea, 0x245731c13ca42499, 0xb78dbfaf3a8d83bd,
    0xea1ad565322a1a0b, 0x60e61c23a3795013, 0x6606d7e446282b93,
    0x6ca4ecb15c5f91e1, 0x9f626da15c9625f3, 0xe51b38608ef25f57,
    0x958a324ceb064572,
)


def _servers(*specs):
    return [parse_server(i, spec) for i, spec in enumerate(specs)]


def _counts(table):
    counts = {}
    for s in table:
        key = None if s is None else s.index
        counts[key] = counts.get(key, 0) + 1
    return counts


def selftest():
    results = []

    def check(name, ok, detail=""):
        results.append(ok)
        print("%s %s%s" % ("ok  " if ok else "FAIL", name,
                           (": " + detail) if detail else ""))

    # --- hsiphash, 64-bit vectors (lib/test_siphash.c) -----------------------
    bad = [n for n in range(64)
           if hsiphash_bytes(bytes(range(n)), TEST_KEY)
           != TEST_VECTORS_HSIPHASH_64BIT[n]]
    check("hsiphash (64-bit, SipHash-1-3) test_vectors_hsiphash, lengths 0..63",
          not bad, "64 vectors" if not bad else "mismatch at lengths %s" % bad)

    ok = hsiphash_u32(0x03020100, TEST_KEY) == TEST_VECTORS_HSIPHASH_64BIT[4]
    check("hsiphash_1u32(0x03020100) == test_vectors_hsiphash[4] "
          "(the path ip_vs_mh_hashkey uses)", ok,
          "0x%08x" % hsiphash_u32(0x03020100, TEST_KEY))

    # hsiphash_2u32 / _3u32 / _4u32 equal hsiphash over the same LE words.
    words = (0x03020100, 0x07060504, 0x0B0A0908, 0x0F0E0D0C)
    bad = []
    for count, expect in ((2, 8), (3, 12), (4, 16)):
        data = b"".join(w.to_bytes(4, "little") for w in words[:count])
        if hsiphash_bytes(data, TEST_KEY) != TEST_VECTORS_HSIPHASH_64BIT[expect]:
            bad.append(count)
    check("hsiphash_{2,3,4}u32 vectors [8], [12], [16]", not bad,
          "" if not bad else "mismatch for %s words" % bad)

    # hsiphash_u32 and the generic byte path agree (little-endian 4 bytes).
    bad = [v for v in (0, 1, 0x0A000001 + 80, 0xC0000201, MASK32, 0x80000000)
           for key in (KEY1, KEY2, TEST_KEY)
           if hsiphash_u32(v, key) != hsiphash_bytes(v.to_bytes(4, "little"),
                                                     key)]
    check("hsiphash_u32(v) == hsiphash(LE bytes of v) for sample values/keys",
          not bad)

    # --- SipHash-2-4 (same round function) -----------------------------------
    bad = [n for n in range(64)
           if siphash_bytes(bytes(range(n)), TEST_KEY) != TEST_VECTORS_SIPHASH[n]]
    check("siphash (SipHash-2-4) test_vectors_siphash, lengths 0..63", not bad,
          "64 vectors" if not bad else "mismatch at lengths %s" % bad)

    # --- table size / bits ----------------------------------------------------
    check("default CONFIG_IP_VS_MH_TAB_INDEX 12 -> size 4093, bits 6",
          PRIMES[12 - 8] == 4093 and table_bits(4093) == 6)
    check("index 8 -> 251 (bits 4), index 17 -> 131071 (bits 8)",
          PRIMES[0] == 251 and table_bits(251) == 4 and
          PRIMES[-1] == 131071 and table_bits(131071) == 8)

    # --- population loop (ip_vs_mh_populate) ---------------------------------
    # One server: it is the only destination with turns >= 1, every
    # iteration takes a fresh slot until n == M, so it owns every slot.
    for size in (251, 4093):
        table = populate(_servers("10.0.0.1:80:1"), size)
        check("one server owns all %d slots" % size,
              all(s is not None and s.index == 0 for s in table))

    # Its first claimed slot is its offset (perm starts at offset and the
    # bitmap is empty), and since skip is in 1..M-1 with M prime, walking
    # offset + k*skip visits every slot exactly once.
    s = _servers("10.0.0.1:80:1")[0]
    offset, skip, turns = permutation(s, 251, 1, 0)
    visited = {(offset + k * skip) % 251 for k in range(251)}
    check("permutation of 10.0.0.1:80 in 251 is a full cycle "
          "(offset %d, skip %d, turns %d)" % (offset, skip, turns),
          len(visited) == 251 and 1 <= skip <= 250 and turns == 1)

    # Two servers, weights 1 and 2 (added in that order).  gcd 1,
    # max/gcd = 2, fls(2) = 2 <= bits, so rshift 0 and turns are 1 and 2.
    # The list is newest first, so each pass is: B takes 2, A takes 1.
    # 251 = 3*83 + 2: after 83 passes 249 slots are taken, B takes the last
    # two.  A = 83, B = 168.  For 4093 = 3*1364 + 1: A = 1364, B = 2729.
    for size, want_a, want_b in ((251, 83, 168), (4093, 1364, 2729)):
        table = populate(_servers("10.0.0.1:80:1", "10.0.0.2:80:2"), size)
        c = _counts(table)
        check("weights 1,2 in %d: counts A=%d B=%d (turns 1 and 2, newest "
              "first, stop at the M-th slot)" % (size, want_a, want_b),
              c.get(0) == want_a and c.get(1) == want_b and None not in c,
              "got %s" % c)
    # Same servers given in list order (--list-order): A is walked first,
    # so A = 84, B = 167 in 251.
    table = populate(_servers("10.0.0.1:80:1", "10.0.0.2:80:2"), 251,
                     list_order=True)
    c = _counts(table)
    check("weights 1,2 in 251 walked A first: A=84 B=167", 
          c.get(0) == 84 and c.get(1) == 167, "got %s" % c)

    # Right shift: weights 1 and 1000 in 4093 (bits 6): gcd 1,
    # fls(1000) = 10, rshift 4; turns 1000>>4 = 62 and (1>>4 = 0 ?: 1) = 1.
    # A pass takes 63 slots; 4093 = 63*64 + 61, and B (newest) goes first
    # in the 65th pass: A = 64, B = 62*64 + 61 = 4029.
    srv = _servers("10.0.0.1:80:1", "10.0.0.2:80:1000")
    g = gcd_weight(srv)
    r = shift_weight(srv, g, 4093)
    t = [permutation(x, 4093, g, r)[2] for x in srv]
    c = _counts(populate(srv, 4093))
    check("weights 1,1000 in 4093: gcd 1, rshift 4, turns [1, 62], "
          "counts A=64 B=4029",
          g == 1 and r == 4 and t == [1, 62] and c.get(0) == 64
          and c.get(1) == 4029, "gcd %d rshift %d turns %s counts %s"
          % (g, r, t, c))

    # gcd: weights 4 and 6 -> gcd 2, turns 2 and 3 (same as weights 2,3).
    a = populate(_servers("10.0.0.1:80:4", "10.0.0.2:80:6"), 509)
    b = populate(_servers("10.0.0.1:80:2", "10.0.0.2:80:3"), 509)
    check("weights 4,6 build the same table as 2,3 (gcd 2)",
          slot_indices(a) == slot_indices(b))

    # A server whose last_weight is 0 has turns 0 and never gets a slot.
    table = populate(_servers("10.0.0.1:80:0:0", "10.0.0.2:80:1"), 251)
    check("last_weight 0 server gets no slot (turns < 1 skipped)",
          _counts(table) == {1: 251})
    # A quiesced server (weight 0) keeps its slots through last_weight.
    table = populate(_servers("10.0.0.1:80:0:1", "10.0.0.2:80:1"), 251)
    c = _counts(table)
    check("quiesced server (weight 0, last_weight 1) keeps slots", 
          c.get(0, 0) > 0 and c.get(1, 0) > 0, "got %s" % c)

    # All last_weights 0: gcd 0, the table is emptied.
    table = populate(_servers("10.0.0.1:80:0", "10.0.0.2:80:0"), 251)
    h = FNV_OFFSET_BASIS
    for _ in range(251 * 4):
        h = ((h ^ 0xFF) * FNV_PRIME) & MASK64
    check("all weights 0: every slot empty, digest of 0xFFFFFFFF slots",
          all(s is None for s in table) and digest(table) == h)

    # --- pick / fallback -----------------------------------------------------
    srv = _servers("10.0.0.1:80:1", "10.0.0.2:80:1", "10.0.0.3:80:1:down")
    table = populate(srv, 251)
    sources = [(int(ipaddress.IPv4Address("192.0.2.%d" % i)), 1000 + i)
               for i in range(1, 201)]
    consistent = True
    moved_only_from_down = True
    found_down = False
    for addr, port in sources:
        slot = table[hashkey(addr, 0, KEY1, 0) % 251]
        plain = pick(table, addr, port, False)
        fb = fallback(table, addr, port, False)
        if slot.down:
            found_down = True
            consistent &= plain is None
            moved_only_from_down &= fb is not None and not fb.down
        else:
            consistent &= plain is slot and fb is slot
    check("pick: a down slot gives none; fallback moves only those flows "
          "to a usable server", consistent and moved_only_from_down
          and found_down)

    ok = all(pick(table, a, p, False) is pick(table, a, p + 1, False)
             for a, p in sources[:50])
    check("without --port the source port does not change the pick", ok)

    # --- IPv6: the fold -----------------------------------------------------
    six = ipaddress.IPv6Address("2001:db8:1:2:3:4:5:6")
    check("fold of 2001:db8:1:2:3:4:5:6 is the xor of its words",
          fold(six) == 0x20010db8 ^ 0x00010002 ^ 0x00030004 ^ 0x00050006,
          "got 0x%08x" % fold(six))
    # An IPv6 server whose words fold to an IPv4 server's address hashes as
    # that server does: the same permutation, hence the same table.
    a = populate(_servers("[::10.0.0.1]:80:1", "[2001:db8::2001:db8:a00:2]:80:2"), 251)
    b = populate(_servers("10.0.0.1:80:1", "10.0.0.2:80:2"), 251)
    check("IPv6 servers folding to 10.0.0.1 and 10.0.0.2 build their table",
          slot_indices(a) == slot_indices(b))
    srv = _servers("[2001:db8::11]:8080:1", "[2001:db8::12]:8080:1")
    table = populate(srv, 251)
    client = ipaddress.IPv6Address("2001:db8:99::7")
    check("an IPv6 client is picked by its fold",
          pick(table, fold(client), 0, False)
          is table[hashkey(0x20010db8 ^ 0x00990000 ^ 0 ^ 7, 0, KEY1, 0) % 251])
    out = []
    try:
        run_lines = _capture(["251", "[2001:db8::11]:8080:1", "10.0.0.2:80:1",
                              "--flows", "[2001:db8:99::7]:4000,192.0.2.1:5,"])
        out = run_lines.splitlines()
    except UsageError as e:
        out = ["error %s" % e]
    check("bracketed IPv6 on the command line, in and out",
          len(out) == 3 and out[1].startswith("flow [2001:db8:99::7]:4000 ")
          and out[2].startswith("flow 192.0.2.1:5 "), "got %s" % out)

    passed = all(results)
    print("selftest %s (%d checks)" % ("passed" if passed else "FAILED",
                                       len(results)))
    return 0 if passed else 1


def _capture(argv):
    """What run(argv) writes, as a string."""
    import io
    saved, sys.stdout = sys.stdout, io.StringIO()
    try:
        run(argv)
        return sys.stdout.getvalue()
    finally:
        sys.stdout = saved


def main(argv):
    if argv == ["--selftest"]:
        return selftest()
    try:
        return run(argv)
    except UsageError as e:
        sys.stderr.write("ip_vs_mh_reference.py: %s\n" % e)
        sys.stderr.write(
            "usage: ip_vs_mh_reference.py SIZE [--port] [--fallback] "
            "[--table] [--list-order] SERVER... [--flows SRC:SPORT,...]\n"
            "       ip_vs_mh_reference.py --selftest\n")
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
