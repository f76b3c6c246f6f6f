#!/usr/bin/env python3
# mk_net_seeds.py: writes the seed inputs in tests/fuzz/corpus/net/ for fuzz_net
# (input layout: see the top of fuzz_net.c, the chain part in chain_decoder.h).
# Run from anywhere.
import struct, os
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'net')
os.makedirs(out, exist_ok=True)
CSUM, HOST_TSO4, HOST_TSO6, HOST_UFO, V1 = 0, 11, 12, 14, 32
F = lambda *b: sum(1 << x for x in b)
def seed(df, mtu, outs, ins, ram):
    b = struct.pack('<QH', df, mtu) + bytes([len(outs), len(ins)])
    for off, ln in outs + ins: b += struct.pack('<HI', off, ln - 1)  # length = 1 + value
    return b + ram
def hdr(flags, gso, hdr_len, gso_size, start, off): return struct.pack('<BBHHHHH', flags, gso, hdr_len, gso_size, start, off, 0)
def img(*parts):
    r = bytearray(0x3000)
    for off, data in parts: r[off:off + len(data)] = data
    return bytes(r)
ALL = F(V1, CSUM, HOST_TSO4, HOST_TSO6)
seeds = {
 'plain': seed(ALL, 1500, [(0, 12 + 60)], [], img((0, hdr(0, 0, 0, 0, 0, 0)))),
 'csum_split': seed(ALL, 1500, [(0, 5), (0x100, 7), (0x200, 600)], [],
     img((0, hdr(1, 0, 0, 0, 34, 16)[:5]), (0x100, hdr(1, 0, 0, 0, 34, 16)[5:]))),
 'tso4': seed(ALL, 1500, [(0, 12 + 9000)], [], img((0, hdr(1, 1, 66, 1448, 34, 16)))),
 'csum_past_end': seed(ALL, 1500, [(0, 12 + 60)], [], img((0, hdr(1, 0, 0, 0, 59, 0)))),
 'ufo_not_negotiated': seed(ALL, 1500, [(0, 12 + 3000)], [], img((0, hdr(1, 3, 42, 1472, 34, 6)))),
 'writable_in_tx': seed(ALL, 1500, [(0, 40)], [(0x1000, 100)], img((0, hdr(0, 0, 0, 0, 0, 0)))),
 'ctrl_mq': seed(ALL, 1500, [(0, 2), (0x10, 2)], [(0x1000, 1)], img((0, bytes([4, 0])), (0x10, bytes([2, 0])))),
 'ctrl_rx': seed(ALL, 1500, [(0, 3)], [(0x1000, 1)], img((0, bytes([0, 0, 1])))),
}
for k, v in seeds.items():
    open(os.path.join(out, k), 'wb').write(v)
    print(k, len(v))
