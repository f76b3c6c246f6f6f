#!/usr/bin/env python3
# mk_ioapic_seeds.py: writes the seed inputs in tests/fuzz/corpus/ioapic/ for
# fuzz_ioapic (7-byte records: op, u16 arg, length/level, u32 value; see the
# top of fuzz_ioapic.c). Run from anywhere.
import struct, os
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'ioapic')
os.makedirs(out, exist_ok=True)
def w(off, val, ln=4): return struct.pack('<BHBI', 0, off, ln - 1, val)
def r(off, ln=4): return struct.pack('<BHBI', 1, off, ln - 1, 0)
def line(pin, lvl): return struct.pack('<BHBI', 2, pin, lvl, 0)
def eoi(vec): return struct.pack('<BHBI', 3, vec, 0, 0)
def rte(pin, lo, hi=0): return w(0, 0x10 + 2 * pin + 1) + w(0x10, hi) + w(0, 0x10 + 2 * pin) + w(0x10, lo)
seeds = {
 'edge': rte(4, 0x24, 0x01000000) + line(4, 1) + line(4, 0) + line(4, 1) + r(0x10),
 'level_eoi': rte(9, 0x8039) + line(9, 1) + line(9, 1) + eoi(0x39) + w(0x40, 0x39) + line(9, 0) + eoi(0x39),
 'level_to_edge': rte(10, 0x8040) + line(10, 1) + rte(10, 0x40) + rte(10, 0x8040),
 'mask_unmask': rte(11, 0x18041) + line(11, 1) + rte(11, 0x8041) + eoi(0x41),
 'extint_and_regs': rte(2, 0x700) + line(2, 1) + w(0, 0) + w(0x10, 0x0f000000) + w(0, 1) + r(0x10) + r(0x11, 2) + r(0x3ff, 8),
}
for k, v in seeds.items():
    with open(os.path.join(out, k), 'wb') as f:
        f.write(v)
