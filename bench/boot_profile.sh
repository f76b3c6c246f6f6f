#!/usr/bin/env bash
# bench/boot_profile.sh: where a Linux guest's boot time goes, ember against
# QEMU -M microvm, with the same Debian cloud kernel (the vmlinux, PVH) and
# initramfs, 1 vCPU, 256 MiB. Each VMM boots the guest ROUNDS times with
# `initcall_debug` (the kernel times every initcall; `quiet` keeps them off
# the console, so the serial port costs the same as a normal boot) and the
# guest command `dmesg`; the kernel's own timestamps then give:
#   - the phases: the kernel's clock start to the first initcall (early
#     set-up: memory, ACPI tables, APICs, clocks), initcalls (drivers, buses,
#     probing), the last initcall to /init (the initramfs unpacked, freeing
#     memory), in ms of guest time (the median over ROUNDS);
#   - the TOP slowest initcalls of each VMM, with their median ms;
#   - the longest gaps between kernel lines before the first initcall;
#   - the kernel lines that differ (devices probed under one VMM only);
#   - ember's vCPU exits to ember by kind (its metrics).
# Guest time only: what happens before the kernel's first line (the VMM's
# own start, loading the kernel, firmware for QEMU) is bench/boot.sh's.
# Prints Markdown. Needs a Linux-capable KVM: bench/run runs it in the lab.
# EMBER_CMDLINE adds words to ember's command line (to try a change).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${BENCH_PROFILE_ROUNDS:-3}
TOP=${BENCH_PROFILE_TOP:-15}
G=${EMBER_GUEST:-build/guest}
for f in "$G/vmlinux" "$G/initramfs.cpio.gz"; do
	[ -s "$f" ] || { echo "bench: no $f (make guest)" >&2; exit 1; }
done
tmp=$(mktemp -d /run/ember-bench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PROF="initcall_debug log_buf_len=4M"
APPEND="console=ttyS0 reboot=k panic=-1 quiet $PROF -- dmesg"

for r in $(seq 1 "$ROUNDS"); do
	timeout 300 build/ember --kernel "$G/vmlinux" --initrd "$G/initramfs.cpio.gz" --mem 256 \
		--metrics-path "$tmp/ember.$r.metrics" \
		--cmdline "$PROF ${EMBER_CMDLINE:-}" -- dmesg >"$tmp/ember.$r" 2>&1 </dev/null ||
		echo "bench: ember round $r failed" >&2
	timeout 300 qemu-system-x86_64 -M microvm,rtc=on -enable-kvm -cpu host -m 256 -smp 1 \
		-nodefaults -no-user-config -nographic -no-reboot -serial stdio \
		-kernel "$G/vmlinux" -initrd "$G/initramfs.cpio.gz" -append "$APPEND" \
		>"$tmp/qemu.$r" 2>&1 </dev/null || echo "bench: QEMU round $r failed" >&2
done

python3 - "$tmp" "$ROUNDS" "$TOP" <<'EOF'
import re, statistics, sys
tmp, rounds, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
LINE = re.compile(r"^\[\s*(\d+\.\d+)\] (.*)$")
CALL = re.compile(r"initcall (\S+) returned -?\d+ after (\d+) usecs")

def parse(path):
    lines = []
    for raw in open(path, errors="replace"):
        m = LINE.match(raw.rstrip("\r\n"))
        if m:
            lines.append((float(m.group(1)) * 1000, m.group(2)))
    if not lines:
        return None
    calls = {}
    first_call = last_call = init = None
    for t, text in lines:
        m = CALL.search(text)
        if m:
            calls[m.group(1)] = calls.get(m.group(1), 0) + int(m.group(2)) / 1000
            if first_call is None:
                first_call = t
            last_call = t
        if init is None and re.search(r"Run /init as init process", text):
            init = t
    if first_call is None or init is None:
        return None
    # Times count from the kernel's clock start (0), as its timestamps do.
    early = [(b[0] - a[0], a[1], b[1]) for a, b in zip(lines, lines[1:]) if b[0] <= first_call]
    return {"phases": [first_call, last_call - first_call, init - last_call, init],
            "calls": calls, "gaps": sorted(early, reverse=True)[:8],
            "texts": {re.sub(r"\d+", "N", t) for _, t in lines if not CALL.search(t) and "calling" not in t}}

vmms = {"ember": [], "QEMU microvm": []}
for name, key in (("ember", "ember"), ("QEMU microvm", "qemu")):
    for r in range(1, rounds + 1):
        p = parse(f"{tmp}/{key}.{r}")
        if p:
            vmms[name].append(p)
        else:
            print(f"bench: {name} round {r}: no initcall timings", file=sys.stderr)
med = lambda xs: statistics.median(xs) if xs else float("nan")
print(f"| guest time (ms, median of {rounds}; initcall_debug) | " + " | ".join(vmms) + " |")
print("|---|" + "---:|" * len(vmms))
for i, label in enumerate(["kernel start to first initcall", "initcalls", "last initcall to /init",
                           "kernel start to /init"]):
    print(f"| {label} | " + " | ".join(f"{med([p['phases'][i] for p in v]):.0f}" for v in vmms.values()) + " |")
print()
for name, v in vmms.items():
    if not v:
        continue
    names = set().union(*(p["calls"] for p in v))
    rows = sorted(((med([p["calls"].get(n, 0) for p in v]), n) for n in names), reverse=True)[:top]
    total = med([sum(p["calls"].values()) for p in v])
    print(f"| {name}: slowest initcalls (of {total:.0f} ms in all) | ms |")
    print("|---|---:|")
    for ms, n in rows:
        print(f"| `{n}` | {ms:.1f} |")
    print()
for name, v in vmms.items():
    if v:
        print(f"Longest gaps before the first initcall under {name} (first round): ms, the line before, the line after")
        for ms, a, b in v[0]["gaps"]:
            print(f"    {ms:7.1f}  {a[:70]}  ->  {b[:70]}")
        print()
# ember's exits to userspace by kind over the whole boot (its metrics file:
# the vcpu group's deltas, summed over the lines).
import json
exits = []
for r in range(1, rounds + 1):
    tot = {}
    try:
        for raw in open(f"{tmp}/ember.{r}.metrics"):
            for k, n in json.loads(raw).get("vcpu", {}).items():
                tot[k] = tot.get(k, 0) + n
        exits.append(tot)
    except (OSError, ValueError):
        pass
if exits:
    print("ember's vCPU exits to ember over the whole boot (median): " +
          ", ".join(f"{k} {med([e.get(k, 0) for e in exits]):.0f}" for k in sorted(exits[0])))
    print()
if all(vmms.values()):
    e, q = vmms["ember"][0]["texts"], vmms["QEMU microvm"][0]["texts"]
    for name, only in (("ember", e - q), ("QEMU microvm", q - e)):
        print(f"Kernel lines only under {name} (first round, digits as N): {len(only)}")
        for t in sorted(only)[:40]:
            print(f"    {t}")
EOF
