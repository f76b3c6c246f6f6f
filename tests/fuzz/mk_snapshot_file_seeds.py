#!/usr/bin/env python3
# mk_snapshot_file_seeds.py: writes the seed inputs in
# tests/fuzz/corpus/snapshot_file/ for fuzz_snapshot_file: snapshot state
# files (format: see vmm/core/snapshot_file.h), good ones and a few that
# must be refused. Run from anywhere.
import os, struct
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'snapshot_file')
os.makedirs(out, exist_ok=True)

def crc32c(b):
    c = 0xffffffff
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
    return c ^ 0xffffffff

def snap(sections, version=1, flags=0, count=None, length=None, fix_crc=True):
    body = b''.join(tag.encode().ljust(16, b'\0') + struct.pack('<IQ', ver, len(data)) + data
                    for tag, ver, data in sections)
    n = len(sections) if count is None else count
    total = 28 + len(body) + 4 if length is None else length
    head = b'EMBERSNP' + struct.pack('<IIIQ', version, flags, n, total)
    f = head + body
    return f + struct.pack('<I', crc32c(f) if fix_crc else 0)

vm = ('vm', 1, struct.pack('<QQI', 256 << 20, 0x1000, 2))
cpus = [('cpu%d' % i, 1, bytes(range(i, i + 64))) for i in range(2)]
devs = [('com1', 1, bytes([0x00, 0x01, 0xc1, 0x03, 0x0b, 0x60, 0x00, 0x00])),
        ('ioapic', 2, b''.join(struct.pack('<Q', 0x10000 | (0x20 + p)) for p in range(24))),
        ('vda', 3, struct.pack('<HHIQ', 1, 256, 0x12345678, 2 << 30)),
        ('net0', 1, b'\x52\x54\x00\x12\x34\x56' + bytes(26))]
seeds = {
    'empty': snap([]),
    'one': snap([vm]),
    'vm': snap([vm] + cpus + devs),
    'empty_section': snap([('i8042', 1, b''), ('vda', 1, b'x')]),
    'long_tag': snap([('abcdefghijklmnop', 0xffffffff, b'\xff' * 3)]),
    # refused
    'other_version': snap([vm], version=2),
    'bad_crc': snap([vm] + cpus, fix_crc=False),
    'truncated': snap([vm] + devs)[:-9],
    'duplicate': snap([('vda', 1, b'a'), ('vda', 1, b'b')]),
    'count_short': snap([vm] + cpus, count=2),
    'flags': snap([vm], flags=1),
}
for k, v in seeds.items():
    with open(os.path.join(out, k), 'wb') as f:
        f.write(v)
