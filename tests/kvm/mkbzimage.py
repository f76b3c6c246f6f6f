#!/usr/bin/env python3
# mkbzimage.py FORMAT ELF OUT STATUS: wrap the ELF vmlinux (a payload from
# build/tests/mkpayload) in a bzImage the way Linux's build does: the ELF
# compressed as FORMAT (lz4: lz4 -l legacy frames, xz: with the x86 filter and
# CRC32, zstd, gzip), the decompressed size appended (gzip's trailer has it),
# behind a setup header (boot protocol 2.15) whose payload_offset and
# payload_length point at it. The protected-mode code at the 64-bit entry
# (load address + 0x200) is not a decompressor but a stub that writes STATUS
# to port 0x501, so the exit status tells which kernel ran: the ELF's when
# ember unpacked it, STATUS when the bzImage was booted as it is.
import gzip, lzma, struct, subprocess, sys

fmt, elf_path, out, status = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
elf = open(elf_path, 'rb').read()
if fmt == 'lz4':
    payload = subprocess.run(['lz4', '-l', '-c'], input=elf, stdout=subprocess.PIPE, check=True).stdout
elif fmt == 'xz':
    payload = lzma.compress(elf, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32,
                            filters=[{'id': lzma.FILTER_X86}, {'id': lzma.FILTER_LZMA2, 'preset': 6}])
elif fmt == 'zstd':
    payload = subprocess.run(['zstd', '-c', '-19'], input=elf, stdout=subprocess.PIPE, check=True).stdout
elif fmt == 'gzip':
    payload = gzip.compress(elf, 9, mtime=0)
else:
    sys.exit('mkbzimage.py: unknown format ' + fmt)
if fmt != 'gzip':
    payload += struct.pack('<I', len(elf))

# mov $status,%al; mov $0x501,%dx; out %al,(%dx); 1: hlt; jmp 1b
stub = bytes([0xb0, status & 0xff, 0x66, 0xba, 0x01, 0x05, 0xee, 0xf4, 0xeb, 0xfd])
pm = bytearray(b'\xf4' * 0x400)
pm[0x200:0x200 + len(stub)] = stub
b = bytearray(5 * 512)                               # setup_sects 4
b[0x1f1] = 4
b[0x1fe:0x200] = b'\x55\xaa'
b[0x200:0x202] = b'\xeb\x66'
b[0x202:0x206] = b'HdrS'
struct.pack_into('<H', b, 0x206, 0x020f)
b[0x211] = 1                                         # loadflags: LOADED_HIGH
struct.pack_into('<I', b, 0x22c, 0x7fffffff)         # initrd_addr_max
struct.pack_into('<H', b, 0x236, 1)                  # xloadflags: XLF_KERNEL_64
struct.pack_into('<I', b, 0x238, 2047)               # cmdline_size
struct.pack_into('<II', b, 0x248, len(pm), len(payload))
struct.pack_into('<I', b, 0x260, 0x400000)           # init_size
with open(out, 'wb') as f:
    f.write(bytes(b) + bytes(pm) + payload + b'\xcc' * 64)
