#!/usr/bin/env python3
# bench/loadmem.py: ember's memory outside guest RAM while loading and after,
# natively with tiny payloads (no Linux needed): a PVH ELF whose entry
# reports on the boot-time port (0x3f0) and halts, optionally padded with a
# PT_LOAD of BIG MiB of file bytes (like a vmlinux's), an initrd of INITRD
# MiB, and a disk and the API socket. For each ember binary given, each case runs ROUNDS times:
# when the guest has reported, waits 0.3 s, then takes from /proc/PID:
# VmHWM (the peak RSS of the whole life, loading included), VmRSS, the RSS
# outside the guest-RAM mapping (smaps: every mapping but the one of the
# guest RAM's size), and per thread (found by its stack pointer in
# /proc/PID/task/TID/syscall) its stack mapping's size and RSS; io_uring
# ring mappings. Then SIGTERM. Prints Markdown tables. Needs root (smaps of
# a child is fine; /proc/PID/task/TID/syscall needs ptrace rights).
#   bench/loadmem.py [--big MiB] [--initrd MiB] [--rounds N] EMBER...
import argparse, os, re, signal, struct, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smaps import smaps, join_ram, threads  # bench/smaps.py

ap = argparse.ArgumentParser()
ap.add_argument("--big", type=int, default=50)
ap.add_argument("--initrd", type=int, default=30)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--mem", type=int, default=256)
ap.add_argument("embers", nargs="+")
a = ap.parse_args()

def elf(path, big_mib):
    """A PVH ELF: code at 1 MiB (out 123 to 0x3f0, then hlt forever), the
    PVH entry note, and with big_mib a second PT_LOAD at 16 MiB of big_mib
    MiB of non-zero file bytes plus 1 MiB of bss."""
    code = bytes([0xb0, 123, 0x66, 0xba, 0xf0, 0x03, 0xee, 0xf4, 0xeb, 0xfd])
    note = struct.pack("<III", 4, 4, 18) + b"Xen\0" + struct.pack("<I", 0x100000)
    nph = 3 if big_mib else 2
    code_off, note_off, big_off = 0x1000, 0x2000, 0x3000
    eh = (b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) +
          struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x100000, 64, 0, 0, 64, 56, nph, 0, 0, 0))
    ph = struct.pack("<IIQQQQQQ", 1, 5, code_off, 0x100000, 0x100000, len(code), 0x1000, 0x1000)
    ph += struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0, len(note), len(note), 4)
    if big_mib:
        n = big_mib << 20
        ph += struct.pack("<IIQQQQQQ", 1, 6, big_off, 0x1000000, 0x1000000, n, n + (1 << 20), 0x1000)
    with open(path, "wb") as f:
        f.write(eh + ph)
        f.seek(code_off); f.write(code)
        f.seek(note_off); f.write(note)
        if big_mib:
            f.seek(big_off)
            chunk = bytes(range(1, 256)) * 4112  # ~1 MiB, no zero bytes
            left = big_mib << 20
            while left:
                w = chunk[:min(left, len(chunk))]
                f.write(w)
                left -= len(w)

def status(pid, key):
    for line in open("/proc/%d/status" % pid):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0

def measure(ember, args, ram_kib):
    p = subprocess.Popen([ember] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    line = p.stderr.readline()  # the boot-time line: the guest ran
    if b"boot" not in line and b"userspace" not in line:
        p.kill(); p.wait()
        raise SystemExit("ember %s: %r" % (" ".join(args), line + p.stderr.read()))
    time.sleep(0.3)
    maps = join_ram(smaps(p.pid) or [], ram_kib)
    ram = [m for m in maps if m[3] == ram_kib]
    ram = max(ram, key=lambda m: m[4]) if ram else None
    r = {"hwm": status(p.pid, "VmHWM"), "rss": status(p.pid, "VmRSS"),
         "ram": ram[4] if ram else 0}
    r["ovh"] = sum(m[4] for m in maps if m is not ram)
    th = threads(p.pid)
    stacks = {}
    for comm, sp in th.values():
        kind = re.sub(r"[0-9]+$", "", comm)
        for m in maps:
            if sp is not None and m[0] <= sp < m[1]:
                stacks.setdefault(kind, []).append((m[3], m[4]))
    r["stacks"] = stacks
    r["uring"] = [(m[3], m[4]) for m in maps if "io_uring" in m[2]]
    p.send_signal(signal.SIGTERM)
    p.wait()
    return r

tmp = tempfile.mkdtemp()
tiny, bigk = os.path.join(tmp, "tiny.elf"), os.path.join(tmp, "big.elf")
elf(tiny, 0)
elf(bigk, a.big)
rd = os.path.join(tmp, "initrd")
with open(rd, "wb") as f:
    chunk = bytes(range(1, 256)) * 4112
    left = a.initrd << 20
    while left:
        w = chunk[:min(left, len(chunk))]
        f.write(w)
        left -= len(w)
disk = os.path.join(tmp, "disk.img")
with open(disk, "wb") as f:
    f.truncate(1 << 20)
base = ["--mem", str(a.mem), "--boot-time", "--console", "none"]
cases = [("tiny ELF", ["--kernel", tiny]),
         ("tiny ELF + disk + API socket", ["--kernel", tiny, "--disk", disk,
                                           "--api-sock", os.path.join(tmp, "api.sock")]),
         ("%d MiB ELF" % a.big, ["--kernel", bigk]),
         ("%d MiB ELF + %d MiB initrd" % (a.big, a.initrd), ["--kernel", bigk, "--initrd", rd])]
ram_kib = a.mem << 10
print("| ember | case | VmHWM (MiB) | RSS (MiB) | guest RAM touched (MiB) | RSS outside guest RAM (MiB) | VmHWM - guest RAM touched (MiB) |")
print("|---|---|---:|---:|---:|---:|---:|")
last = None
for e in a.embers:
    for name, args in cases:
        rs = [measure(e, base + args, ram_kib) for _ in range(a.rounds)]
        med = lambda k: sorted(x[k] for x in rs)[len(rs) // 2] / 1024
        print("| %s | %s | %.1f | %.1f | %.1f | %.2f | %.1f |" % (
            e, name, med("hwm"), med("rss"), med("ram"), med("ovh"),
            sorted((x["hwm"] - x["ram"]) for x in rs)[len(rs) // 2] / 1024))
        if disk in args:
            last = (e, rs[-1])
if last:
    e, r = last
    print("\nthreads of %s, tiny ELF + disk + API socket (stack mapping per thread):\n" % e)
    print("| thread kind | threads | stack reserved (KiB each) | stack touched (KiB each) |")
    print("|---|---:|---:|---:|")
    for kind, st in sorted(r["stacks"].items()):
        print("| %s | %d | %s | %s |" % (kind, len(st), "/".join(str(s) for s, _ in st),
                                         "/".join(str(x) for _, x in st)))
    print("\nio_uring mappings: " + ", ".join("%d KiB (%d resident)" % u for u in r["uring"]))
subprocess.run(["rm", "-rf", tmp])
