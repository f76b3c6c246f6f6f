#!/usr/bin/env python3
# mk_blk_seeds.py: writes the seed inputs in tests/fuzz/corpus/blk/ for fuzz_blk
# (input layout: see the top of fuzz_blk.c, the chain part in chain_decoder.h).
# Run from anywhere.
import struct, os
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'blk')
os.makedirs(out, exist_ok=True)
def seed(flags, sectors, outs, ins, ram):
    b = bytes([flags]) + struct.pack('<Q', sectors) + bytes([len(outs), len(ins)])
    for off, ln in outs + ins: b += struct.pack('<HI', off, ln - 1)  # length = 1 + value
    return b + ram
def hdr(t, sector): return struct.pack('<IIQ', t, 0, sector)
def rng(sector, num, flags): return struct.pack('<QII', sector, num, flags)
def img(*parts):
    r = bytearray(0x3000)
    for off, data in parts: r[off:off + len(data)] = data
    return bytes(r)
IN, OUT, FLUSH, GET_ID, DISCARD, WZ = 0, 1, 4, 8, 11, 13
seeds = {
 'read': seed(6, 2048, [(0, 16)], [(0x1000, 512), (0x2000, 1)], img((0, hdr(IN, 3)))),
 'read_split_hdr_shared_status': seed(6, 2048, [(0, 7), (0x100, 9)], [(0x1000, 1025)],
     img((0, hdr(IN, 1)[:7]), (0x100, hdr(IN, 1)[7:]))),
 'write': seed(6, 2048, [(0, 16 + 1024)], [(0x2000, 1)], img((0, hdr(OUT, 2046)))),
 'write_ro': seed(7, 2048, [(0, 16), (0x1000, 512)], [(0x2000, 1)], img((0, hdr(OUT, 0)))),
 'flush': seed(6, 8, [(0, 16)], [(0x2000, 1)], img((0, hdr(FLUSH, 0)))),
 'get_id': seed(0, 8, [(0, 16)], [(0x1000, 10), (0x1800, 11)], img((0, hdr(GET_ID, 0)))),
 'discard': seed(6, 4096, [(0, 32)], [(0x2000, 1)], img((0, hdr(DISCARD, 0) + rng(8, 64, 0)))),
 'write_zeroes_unmap': seed(6, 4096, [(0, 20), (0x800, 12)], [(0x2000, 1)],
     img((0, hdr(WZ, 0) + rng(0, 8, 1)[:4]), (0x800, rng(0, 8, 1)[4:]))),
 'past_end': seed(6, 16, [(0, 16)], [(0x1000, 513)], img((0, hdr(IN, 16)))),
 'overflow': seed(6, 16, [(0, 16)], [(0x1000, 513)], img((0, hdr(IN, 1 << 55)))),
 'no_status': seed(6, 16, [(0, 16 + 512 + 1)], [], img((0, hdr(OUT, 0)))),
 'unknown': seed(6, 16, [(0, 16)], [(0x1000, 1)], img((0, hdr(99, 0)))),
}
for k, v in seeds.items():
    open(os.path.join(out, k), 'wb').write(v)
    print(k, len(v))
