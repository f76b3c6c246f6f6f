#!/usr/bin/env python3
# mk_virtqueue_seeds.py: writes the seed inputs in tests/fuzz/corpus/virtqueue/ for
# fuzz_virtqueue (input layout: see the top of fuzz_virtqueue.c). Run from anywhere.
import struct, os
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'virtqueue')
def desc(addr, ln, flags, nxt): return struct.pack('<QIHH', addr, ln, flags, nxt)
NEXT, WRITE, IND = 1, 2, 4
def std(log2, flags, start, descs, heads, extra=b'', extra_at=None, avail_flags=0, used_event=0):
    n = 1 << log2
    img = bytearray(16 * n + 6 + 2 * n)
    for i, d in descs.items(): img[16*i:16*i+16] = d
    a = 16 * n
    struct.pack_into('<HH', img, a, avail_flags, (start + len(heads)) & 0xffff)
    for k, h in enumerate(heads): struct.pack_into('<H', img, a + 4 + 2 * ((start + k) % n), h)
    struct.pack_into('<H', img, a + 4 + 2 * n, used_event)
    if extra_at is not None:
        img += bytearray(max(0, extra_at + len(extra) - len(img)))
        img[extra_at:extra_at + len(extra)] = extra
    hdr = bytes([log2, flags]) + struct.pack('<H', start) + bytes(12)
    return hdr + bytes(img)
seeds = {
 'single': std(4, 0, 0, {0: desc(0x10000, 64, 0, 0)}, [0]),
 'chain_out_in': std(3, 0, 0, {2: desc(0x10000, 16, NEXT, 5), 5: desc(0x11000, 512, NEXT|WRITE, 1), 1: desc(0x12000, 1, WRITE, 0)}, [2, 2]),
 'indirect_mixed': std(3, 3, 0, {0: desc(0x10000, 12, NEXT, 1), 1: desc(0x400, 48, IND, 0)}, [0],
     extra=desc(0x11000, 8, NEXT, 2) + desc(0x12000, 8, WRITE, 0) + desc(0x13000, 8, WRITE|NEXT, 1), extra_at=0x400, used_event=1),
 'wrap': std(2, 1, 65534, {0: desc(0x10000, 8, WRITE, 0), 1: desc(0x10100, 8, NEXT, 2), 2: desc(0x10200, 8, WRITE, 0)}, [0, 1, 0]),
 'split_ram_high': std(4, 8 | 2, 0, {0: desc(0x100000000 + 0x1000, 64, WRITE, 0), 1: desc(0x7fff0, 32, 0, 0)}, [0, 1]),
 'loop': std(4, 0, 0, {0: desc(0x10000, 8, NEXT, 1), 1: desc(0x10000, 8, NEXT, 0)}, [0]),
 'other_vcpu': std(3, 16 | 2, 0, {i: desc(0x10000 + 64 * i, 64, NEXT if i < 3 else 0, i + 1) for i in range(4)}, [0, 0, 0, 0])
     + struct.pack('<IH', 16 * 8 + 2, 3) + struct.pack('<IH', 16 * 8 + 2, 2),
 'no_interrupt': std(4, 0, 100, {0: desc(0x8000, 8, 0, 0)}, [0] * 5, avail_flags=1),
}
# custom layout: desc 0x1000, avail 0x2000, used 0x3000
img = bytearray(0x3100)
img[0x1000:0x1010] = desc(0x10000, 32, WRITE, 0)
struct.pack_into('<HHH', img, 0x2000, 0, 1, 0)
seeds['custom_layout'] = bytes([5, 4, 0, 0]) + struct.pack('<III', 0x1000, 0x2000, 0x3000) + bytes(img)
for k, v in seeds.items():
    open(os.path.join(out, k), 'wb').write(v)
    print(k, len(v))
