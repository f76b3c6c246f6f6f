#!/usr/bin/env python3
# mk_kernel_unpack_seeds.py: writes the seed inputs in
# tests/fuzz/corpus/kernel_unpack/ for fuzz_kernel_unpack: the payload of a
# bzImage (a small ELF64 vmlinux with the Xen PVH entry note, segments at
# 1 MiB) as Linux's build writes it in each format ember decompresses (lz4 -l,
# xz --check=crc32 with the x86 filter, zstd, gzip; the size appended but for
# gzip), one without the PVH note, and one whole bzImage. Needs the lz4 and
# zstd commands. Run from anywhere.
import gzip, lzma, os, struct, subprocess
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'kernel_unpack')
os.makedirs(out, exist_ok=True)

def elf(pvh=True):
    segs = [(0x1000, 0x100000, 0x800, 0x800), (0x2000, 0x104000, 0x400, 0x1000)]
    phdrs = [struct.pack('<IIQQQQQQ', 1, 5, off, 0xffffffff81000000 + pa, pa, fs, ms, 0x1000)
             for off, pa, fs, ms in segs]
    note = struct.pack('<III', 4, 4, 18) + b'Xen\0' + struct.pack('<I', 0x100040)
    if pvh:
        phdrs.append(struct.pack('<IIQQQQQQ', 4, 4, 0x200, 0, 0, len(note), len(note), 4))
    eh = (b'\x7fELF\x02\x01\x01' + bytes(9) +
          struct.pack('<HHIQQQIHHHHHH', 2, 62, 1, 0x100000, 64, 0, 0, 64, 56, len(phdrs), 64, 0, 0))
    b = bytearray(0x2400)
    b[0:64] = eh
    b[64:64 + 56 * len(phdrs)] = b''.join(phdrs)
    if pvh:
        b[0x200:0x200 + len(note)] = note
    for i in range(0x800):
        b[0x1000 + i] = (i * 7 + 1) & 0xff if i % 64 < 48 else 0x90
    for i in range(0x400):
        b[0x2000 + i] = b'ember'[i % 5]
    return bytes(b)

def lz4_legacy(d):
    return subprocess.run(['lz4', '-l', '-c', '-9'], input=d, stdout=subprocess.PIPE, check=True).stdout

def zstd(d):
    return subprocess.run(['zstd', '-c', '-19', '--check'], input=d, stdout=subprocess.PIPE, check=True).stdout

def xz(d):
    return lzma.compress(d, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32,
                         filters=[{'id': lzma.FILTER_X86},
                                  {'id': lzma.FILTER_LZMA2, 'preset': 6, 'dict_size': 1 << 16}])

def sized(c, d):
    return c + struct.pack('<I', len(d))

v = elf()
seeds = {
    'lz4': sized(lz4_legacy(v), v),
    'xz': sized(xz(v), v),
    'zstd': sized(zstd(v), v),
    'gzip': gzip.compress(v, 9, mtime=0),
    'gzip_nopvh': gzip.compress(elf(False), 9, mtime=0),
}

def bzimage(payload):
    b = bytearray(5 * 512)
    b[0x1f1] = 4
    b[0x1fe:0x200] = b'\x55\xaa'
    b[0x200:0x202] = b'\xeb\x66'
    b[0x202:0x206] = b'HdrS'
    struct.pack_into('<H', b, 0x206, 0x020f)
    b[0x211] = 1                                   # LOADED_HIGH
    struct.pack_into('<H', b, 0x236, 1)            # XLF_KERNEL_64
    struct.pack_into('<II', b, 0x248, 0x10, len(payload))
    return bytes(b) + b'\x90' * 0x10 + payload + b'\xcc' * 0x10

seeds['bzimage_lz4'] = bzimage(seeds['lz4'])
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
