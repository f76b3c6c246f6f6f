#!/usr/bin/env python3
# mk_initrd_unpack_seeds.py: writes the seed inputs in
# tests/fuzz/corpus/initrd_unpack/ for fuzz_initrd_unpack: a small cpio
# archive (newc, one file and the trailer) as gzip, as zstd (one frame and
# two, each recording its size), uncompressed, and gzip after an early
# uncompressed archive (CPU microcode's layout). Needs the zstd command.
# Run from anywhere.
import gzip, os, subprocess
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'initrd_unpack')
os.makedirs(out, exist_ok=True)

def newc(name, data, ino):
    n = name.encode() + b'\0'
    h = b'070701' + b''.join(b'%08X' % v for v in
                             (ino, 0o100644, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(n), 0))
    b = h + n
    b += bytes(-len(b) % 4) + data
    return b + bytes(-len(b) % 4)

cpio = newc('init', b'#!/bin/sh\necho ember\n' * 8, 1) + newc('TRAILER!!!', b'', 0)
cpio += bytes(-len(cpio) % 512)
zst = lambda b: subprocess.run(['zstd', '-q', '-c', '--content-size'], input=b,
                               stdout=subprocess.PIPE, check=True).stdout
seeds = {
    'gzip': gzip.compress(cpio, mtime=0),
    'zstd': zst(cpio),
    'zstd-two-frames': zst(cpio[:256]) + zst(cpio[256:]),
    'plain': cpio,
    'early-gzip': newc('kernel/x86/microcode/AuthenticAMD.bin', b'ucode', 1) +
                  newc('TRAILER!!!', b'', 0) + bytes(12) + gzip.compress(cpio, mtime=0),
}
for name, b in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(b)
