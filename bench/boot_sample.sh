#!/usr/bin/env bash
# bench/boot_sample.sh: where a Linux guest's boot goes in real time, by
# sampling. The guest's own clock (bench/boot_profile.sh's initcall times)
# falls behind the lab's during boot, so this asks the host side instead:
# ember's test build (build/tests/ember-testhooks, EMBER_TEST_GUEST_SAMPLE)
# kicks vCPU 0 out of the guest once a millisecond and records its RIP and
# the kernel text addresses on its stack; the guest kernel's symbols (its
# /proc/kallsyms, from a first boot) name them. ROUNDS boots of the Debian
# cloud vmlinux (PVH: no KASLR, so addresses are the map's) and the
# initramfs, 1 vCPU, 256 MiB, ember's default command line, guest command
# `true`, sampled to the VM's end. Prints Markdown: per round, the first
# userspace sample (a process the kernel starts, or /init) and the last;
# the TOP functions by share of all samples (userspace is one row; ms per
# boot, as the mean over rounds); what the guest was doing (the first known
# caller on the stack and the function it called), alike; and, for the
# first round, a timeline of what ran in each 100 ms. A sample is an exit
# (tens of microseconds in the lab), so sampling slows the guest a little;
# compare shares, not absolute times, with bench/boot.sh.
# Needs a Linux-capable KVM: bench/run runs it in the lab.
# EMBER_CMDLINE adds words to ember's command line (to try a change);
# BENCH_SAMPLE_EMBER=PATH samples with another test build of ember;
# BENCH_SAMPLE_KEEP=DIR keeps the samples and the guest's symbols there.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${BENCH_SAMPLE_ROUNDS:-3}
TOP=${BENCH_SAMPLE_TOP:-25}
G=${EMBER_GUEST:-build/guest}
HOOKS=${BENCH_SAMPLE_EMBER:-build/tests/ember-testhooks}
for f in "$G/vmlinux" "$G/initramfs.cpio.gz" "$HOOKS"; do
	[ -s "$f" ] || { echo "bench: no $f (make, make guest)" >&2; exit 1; }
done
tmp=$(mktemp -d /run/ember-bench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The guest kernel's symbols: Debian's System.map is a placeholder (the real
# one is in the -dbg package), so a first boot writes the guest's
# /proc/kallsyms to a disk (the console would take minutes). Without KASLR
# (PVH entry) every boot has the same addresses.
truncate -s 16M "$tmp/kallsyms.img"
timeout 300 build/ember --kernel "$G/vmlinux" --initrd "$G/initramfs.cpio.gz" --mem 256 \
	--disk "$tmp/kallsyms.img" -- sh -c 'cat /proc/kallsyms >/dev/vda && sync' \
	>"$tmp/kallsyms.console" 2>&1 </dev/null
tr -d '\0' <"$tmp/kallsyms.img" >"$tmp/kallsyms"
grep -q '^ffffffff[0-9a-f]* [tT] startup_64$' "$tmp/kallsyms" ||
	{ echo "bench: no guest symbols from /proc/kallsyms" >&2; cat "$tmp/kallsyms.console" >&2; exit 1; }

for r in $(seq 1 "$ROUNDS"); do
	EMBER_TEST_GUEST_SAMPLE="$tmp/samples.$r" timeout 300 "$HOOKS" --kernel "$G/vmlinux" \
		--initrd "$G/initramfs.cpio.gz" --mem 256 ${EMBER_CMDLINE:+--cmdline "$EMBER_CMDLINE"} \
		-- true >"$tmp/console.$r" 2>&1 </dev/null ||
		echo "bench: ember round $r failed" >&2
done

if [ -n "${BENCH_SAMPLE_KEEP:-}" ]; then
	mkdir -p "$BENCH_SAMPLE_KEEP" && cp "$tmp"/samples.* "$tmp/kallsyms" "$BENCH_SAMPLE_KEEP/"
fi

python3 - "$tmp" "$ROUNDS" "$TOP" "$tmp/kallsyms" "$G/vmlinux" <<'PYEOF'
import bisect, collections, struct, sys
tmp, rounds, top, smap, vmlinux = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
KERNEL = 0xffffffff80000000
addrs, names = [], []
for line in open(smap):
    parts = line.split()
    if len(parts) >= 3 and parts[1] in "tTwW":
        addrs.append(int(parts[0], 16))
        names.append(parts[2])
# Only code counts on the stack: the kernel's text and its init text (the
# sampler keeps any word in their range, data between them included).
where = dict(zip(names, addrs))
TEXT = [(where["_stext"], where["_etext"]), (where["_sinittext"], where["_einittext"])]
order = sorted(range(len(addrs)), key=addrs.__getitem__)
addrs = [addrs[i] for i in order]
names = [names[i] for i in order]

def name(rip):
    if rip < KERNEL:
        return "(user)" if rip < 0x800000000000 else "(kernel, not text)"
    i = bisect.bisect_right(addrs, rip) - 1
    return names[i] if i >= 0 else "(kernel, before text)"

# What the kernel was doing: the function a known caller (an anchor) had
# called, from the first anchor among the stack's text words (a rough chain:
# return addresses, and some stale words).
ANCHORS = ("do_one_initcall", "async_run_entry_fn", "process_one_work",
           "__do_sys_finit_module", "call_usermodehelper_exec_async",
           "kernel_init_freeable", "kernel_init", "start_kernel",
           "x86_64_start_reservations", "x86_64_start_kernel", "smpboot_thread_fn",
           "kthread")
IDLE = ("default_idle", "native_safe_halt", "pv_native_safe_halt", "arch_safe_halt")

# The callee of a direct call: the vmlinux's bytes before a return address
# (a `call rel32`). Indirect calls (an initcall, a work function) fall back to
# the next text word inside the anchor's frame.
elf = open(vmlinux, "rb")
hdr = elf.read(64)
phoff, phentsize, phnum = struct.unpack_from("<Q", hdr, 32)[0], *struct.unpack_from("<HH", hdr, 54)
LOADS = []
for k in range(phnum):
    elf.seek(phoff + k * phentsize)
    ptype, _, off, vaddr, _, filesz = struct.unpack("<IIQQQQ", elf.read(40))
    if ptype == 1:
        LOADS.append((vaddr, off, filesz))

def called(ret):
    for vaddr, off, filesz in LOADS:
        if vaddr + 5 <= ret <= vaddr + filesz:
            elf.seek(off + ret - vaddr - 5)
            b = elf.read(5)
            if b[0] == 0xE8:
                target = (ret + struct.unpack("<i", b[1:])[0]) & (1 << 64) - 1
                fn = name(target)
                if not fn.startswith("__x86_indirect") and not fn.startswith("("):
                    return fn
    return None

def step(leaf, words):
    if leaf in IDLE:
        return "(idle: halted)"
    chain = [name(x) for x in words]
    for i, fn in enumerate(chain):
        if fn in ANCHORS:
            inner = called(words[i]) or (chain[i - 1] if i > 0 else leaf)
            return f"{fn} → {inner}"
    return f"(no anchor) {leaf}"

per_round, counts, steps, spans, timeline = [], collections.Counter(), collections.Counter(), [], None
for r in range(1, rounds + 1):
    try:
        rows = [l.split() for l in open(f"{tmp}/samples.{r}")]
    except OSError:
        continue
    samples = [(int(w[0]) / 1000, int(w[1], 16), int(w[2], 16), [int(x, 16) for x in w[3:]])
               for w in rows]
    sampled, round_steps, user_at = [], collections.Counter(), None
    for ms, rip, rsp, words in samples:
        # The PVH entry runs at physical addresses, before and after its
        # first steps in the kernel's mapping; userspace has its stack high
        # in the lower half. The boot is sampled to its end (the guest
        # command is `true`): a process the kernel starts while it boots (a
        # usermode helper) is userspace before /init is.
        if rip < 0x800000000000 and 1 << 40 <= rsp < 0x800000000000:
            user_at = ms if user_at is None else user_at
            sampled.append((ms, "(userspace)"))
            round_steps["(userspace)"] += 1
        elif rip < KERNEL:
            sampled.append((ms, "(entry, physical addresses)"))
            round_steps["(entry, physical addresses)"] += 1
        else:
            sampled.append((ms, name(rip)))
            code = [x for x in words if any(lo <= x < hi for lo, hi in TEXT)]
            round_steps[step(name(rip), code)] += 1
    if user_at is None or not sampled:
        print(f"bench: round {r}: no userspace sample", file=sys.stderr)
        continue
    spans.append((r, sampled[0][0], user_at, sampled[-1][0], len(sampled)))
    counts.update(n for _, n in sampled)
    steps.update(round_steps)
    if timeline is None:
        timeline = collections.defaultdict(collections.Counter)
        for ms, n in sampled:
            timeline[int(ms // 100)][n] += 1
    per_round.append(r)
if not per_round:
    sys.exit("bench: no round sampled")

print("| round | first sample (ms since vCPU 0 started) | first userspace sample (ms) | last sample: the VM's end (ms) | samples |")
print("|---:|---:|---:|---:|---:|")
for r, first, user, last, n in spans:
    print(f"| {r} | {first:.0f} | {user:.0f} | {last:.0f} | {n} |")
total = sum(counts.values())
n = len(per_round)
print()
print(f"| guest function (the whole boot; {total} samples over {n} rounds) | share | ms per boot |")
print("|---|---:|---:|")
for fn, c in counts.most_common(top):
    print(f"| `{fn}` | {100 * c / total:.1f}% | {c / n:.0f} |")
print()
stotal = sum(steps.values())
print(f"| what the guest was doing (caller → the function it called, from the stack; the whole boot) | share | ms per boot |")
print("|---|---:|---:|")
for st, c in steps.most_common(top):
    print(f"| `{st}` | {100 * c / stotal:.1f}% | {c / n:.0f} |")
print()
print("| round 1: 100 ms from vCPU 0's start | samples | what ran most (samples) |")
print("|---:|---:|---|")
for w in sorted(timeline):
    c = timeline[w]
    most = ", ".join(f"`{f}` {k}" for f, k in c.most_common(3))
    print(f"| {w * 100} | {sum(c.values())} | {most} |")
PYEOF
