#!/usr/bin/env python3
# mk_state_seeds.py: writes the seed inputs in tests/fuzz/corpus/state/ for
# fuzz_state (a kind byte, then a blob in vmm/core/state_codec.h's encoding;
# see the top of fuzz_state.c): vCPU states with and without MSRs and CPUID
# entries, VM states with either IRQ chip, and the legacy devices' states
# (the UART, the IOAPIC, the i8042) as built and busy. Run from anywhere.
import struct, os
def crc32c(b):
    crc = 0xffffffff
    for x in b:
        crc ^= x
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'state')
os.makedirs(out, exist_ok=True)
def blob(magic, sections):
    body = b''.join(struct.pack('<HHI', tag, 0, len(p)) + p for tag, p in sections)
    head = struct.pack('<IHHI', magic, 1, 0, 12 + len(body) + 4)
    return head + body + struct.pack('<I', crc32c(head + body))
def vcpu(nmsrs, ncpuid, xsave=4096):
    msrs = b''.join(struct.pack('<IIQ', i, 0, i * 3) for i in [0x10, 0x6e0, 0xc0000082][:nmsrs])
    cpuid = b''.join(struct.pack('<10I', f, 0, 0, 1, 2, 3, 4, 0, 0, 0) for f in range(ncpuid))
    return blob(0x50435645, [
        (1, struct.pack('<I', 2596120)), (2, struct.pack('<I', 0)), (3, bytes(18 * 8)),
        (4, bytes(312)), (5, struct.pack('<I', xsave) + bytes(xsave)),
        (6, struct.pack('<II', 1, 0) + struct.pack('<IIQ', 0, 0, 7) + bytes(15 * 16 + 128)),
        (7, bytes(128)), (8, bytes(1024)), (9, struct.pack('<I', nmsrs) + msrs),
        (10, bytes(64)), (11, struct.pack('<I', ncpuid) + cpuid)])
def vm(kernel, ram=256 << 20):
    low = min(ram, 3 << 30)
    chips = bytes(2 * 16 + 216 + 3 * 24 + 40) if kernel else b''
    return blob(0x534d5645, [
        (1, struct.pack('<QIIQQ4I', 123456789, 0, 0, 0, 0, 0, 0, 0, 0)),
        (2, struct.pack('<QQQ', ram, low, ram - low)),
        (3, struct.pack('<I', kernel) + chips)])
def serial(regs, head, count, fifo):
    # regs: IER, THR empty pending, LCR, MCR, LSR errors, MSR, SCR, DLL, DLM,
    # FCR, IRQ level, armed
    rx = bytes(fifo) + bytes(256 - len(fifo))
    return blob(0x52455345, [(1, bytes(regs)), (2, struct.pack('<II', head, count) + rx)])
def ioapic(ident, regsel, lines, rtes):
    table = struct.pack('<I', 24) + b''.join(struct.pack('<Q', r) for r in rtes)
    return blob(0x414f4945, [(1, struct.pack('<III', ident, regsel, lines)), (2, table)])
def i8042(ctl, head, count, fifo):
    # ctl: command byte, output port, last write a command, pending controller
    # command, pending keyboard command, scanning, IRQ level, last byte read
    return blob(0x32344945, [(1, bytes(ctl)),
                             (2, struct.pack('<II', head, count) + bytes(fifo) + bytes(16 - len(fifo)))])
MASKED, LEVEL, RIRR = 1 << 16, 1 << 15, 1 << 14
busy_rtes = [MASKED] * 24
busy_rtes[4] = (1 << 56) | 0x24
busy_rtes[9] = (2 << 56) | LEVEL | RIRR | 0x39
busy_rtes[10] = MASKED | LEVEL | 0x40
seeds = {
    'vcpu_empty': b'\0' + vcpu(0, 0),
    'vcpu_msrs_cpuid': b'\0' + vcpu(3, 2),
    'vcpu_xsave2': b'\0' + vcpu(1, 1, 4096 + 64),
    'vm_split': b'\1' + vm(0),
    'vm_kernel_high_ram': b'\1' + vm(1, 4 << 30),
    'serial_reset': b'\2' + serial([0, 0, 0, 0x08, 0, 0xb0, 0, 0, 0, 0, 0, 0], 0, 0, b''),
    'serial_busy': b'\2' + serial([0x03, 1, 0x03, 0x0b, 0, 0xb0, 0x5a, 0x0c, 0, 0xc1, 1, 1],
                                   250, 10, b'0123456789abcdef'),
    'ioapic_reset': b'\3' + ioapic(0, 0, 0, [MASKED] * 24),
    'ioapic_busy': b'\3' + ioapic(0x0a000000, 0x23, (1 << 4) | (1 << 9) | (1 << 10), busy_rtes),
    'i8042_reset': b'\4' + i8042([0x65, 0x03, 0, 0, 0, 1, 0, 0], 0, 0, b''),
    'i8042_busy': b'\4' + i8042([0x65, 0x03, 1, 0x60, 0xed, 0, 1, 0xfa], 14, 5,
                                 bytes(range(0x10, 0x20))),
}
for k, v in seeds.items():
    with open(os.path.join(out, k), 'wb') as f:
        f.write(v)

# The virtio block of fuzz_state (kinds 0x20-0x22): a PCI function's state,
# MSI-X's and the virtio-pci transport's, for fuzz_state's transport (3
# queues of up to 256 entries, 4 vectors, one 32 KiB BAR 0; offered features
# VERSION_1, EVENT_IDX, INDIRECT_DESC and bit 6).
def pci_cfg(command=6, bar0=0xc0000000, msix_ctrl=0):
    cfg = bytearray(256)
    cfg[4] = command & 0xff; cfg[5] = command >> 8; cfg[0x3c] = 11
    cfg[0x41 + 0x31] = 0  # capabilities are read-only but MSI-X control
    return bytes(cfg), [bar0, 0, 0, 0, 0, 0]
def pci_section(cfg, bars):
    return cfg + b''.join(struct.pack('<Q', b) for b in bars)
def msix_section(enabled, entries, pba=0):
    body = struct.pack('<II', 4, enabled)
    for a, d, m in entries:
        body += struct.pack('<IIII', a, 0, d, m)
    return body + struct.pack('<Q', pba)
def common(status, df, msix_config=0xffff, qsel=0):
    feats = (1 << 32) | (1 << 28) | (1 << 29) | (1 << 6)
    return struct.pack('<QQIIBBBHH', feats, df, 1, 1, status, 2, 1, msix_config, qsel)
def queues(qs):
    body = struct.pack('<I', len(qs))
    for desc, av, used, size, vec, en, pos in qs:
        body += struct.pack('<QQQHHBHHHB', desc, av, used, size, vec, en, pos, pos, pos, 1 if en else 0)
    return body
seeds = {}
cfg, bars = pci_cfg()
seeds['pci_cfg'] = b'\x20' + blob(0x46435045, [(1, pci_section(cfg, bars))])
seeds['msix_on'] = b'\x21' + blob(0x58534d45, [(1, msix_section(1, [(0xfee00000, 0x41, 0)] * 3 + [(0, 0, 1)], 2))])
off = [(0, 0, 0, 256, 0xffff, 0, 0)] * 3
seeds['vpci_reset'] = b'\x22' + blob(0x43505645, [
    (1, pci_section(*pci_cfg(0))), (2, msix_section(0, [(0, 0, 1)] * 4)),
    (3, common(0, 0)), (4, queues(off))])
q = [(0x1000, 0x2000, 0x3000, 64, 1, 1, 7), (0x4000, 0x5000, 0x6000, 256, 2, 1, 65535),
     (0, 0, 0, 32, 0xffff, 0, 0)]
seeds['vpci_running'] = b'\x22' + blob(0x43505645, [
    (1, pci_section(*pci_cfg())), (2, msix_section(0, [(0xfee00000, 0x41 + i, 0) for i in range(4)])),
    (3, common(0x0f, (1 << 32) | (1 << 29), 0)), (4, queues(q))])
for k, v in seeds.items():
    with open(os.path.join(out, k), 'wb') as f:
        f.write(v)
