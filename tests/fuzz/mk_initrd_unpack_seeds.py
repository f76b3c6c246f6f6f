#!/usr/bin/env python3
# mk_initrd_unpack_seeds.py: writes the seed inputs in
# tests/fuzz/corpus/initrd_unpack/ for fuzz_initrd_unpack: a small cpio
# archive (newc, one file and the trailer) as gzip, as zstd (one frame and
# two, each recording its size; one written to a pipe, recording none), as
# XZ and LZ4 legacy frames, uncompressed, and gzip and pipe-written zstd
# after an early uncompressed archive (CPU microcode's layout, Debian's
# initrd). Needs the zstd, xz and lz4 commands.
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
run = lambda cmd, b: subprocess.run(cmd, input=b, stdout=subprocess.PIPE, check=True).stdout
zst = lambda b: run(['zstd', '-q', '-c', '--content-size'], b)
early = (newc('kernel/x86/microcode/AuthenticAMD.bin', b'ucode', 1) +
         newc('TRAILER!!!', b'', 0) + bytes(12))
seeds = {
    'gzip': gzip.compress(cpio, mtime=0),
    'zstd': zst(cpio),
    'zstd-two-frames': zst(cpio[:256]) + zst(cpio[256:]),
    'plain': cpio,
    'zstd-no-size': run(['zstd', '-q', '-c', '--no-content-size'], cpio),
    'xz': run(['xz', '-q', '-c', '-0', '--check=crc32'], cpio),
    'lz4': run(['lz4', '-q', '-c', '-l'], cpio),
    'early-gzip': early + gzip.compress(cpio, mtime=0),
    'early-zstd-no-size': early + run(['zstd', '-q', '-c', '--no-content-size'], cpio),
}
for name, b in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(b)
