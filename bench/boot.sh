#!/usr/bin/env bash
# bench/boot.sh: boot time and memory overhead of a Linux guest, side by side:
# the same Debian cloud kernel and ember's busybox initramfs, 1 vCPU and
# 256 MiB, booted by ember (bzImage, whose vmlinux ember unpacks and boots
# through PVH: read from its kernel cache (a directory of the run's own, which
# the unmeasured round fills, as a user's first boot does) and unpacked again
# with --kernel-cache off; as it is with --kernel-unpack off; the vmlinux
# through PVH, and again with --initrd-unpack off; every row but the
# --kernel-cache off one reads the initramfs as the archive ember decompressed
# into the same cache, that one decompresses it on every boot), by QEMU
# -M microvm (the same two files) and, when LKVM=PATH
# names a kvmtool binary, by kvmtool (bzImage: it does not load ELF kernels),
# all from copies of the files in a directory of the run's own (/run).
# ROUNDS rounds, each running every row once (after one unmeasured round that
# warms the page cache), so all rows see the same machine state.
#
# The guest command prints a marker line when it starts (the first line
# userspace writes on the console), sleeps 1 s, prints a second marker and
# ends; init then ends the VM (ember: exit port 0x501; QEMU: ACPI power-off;
# kvmtool, which has neither, gets `reboot -f` and reboot=k, the keyboard
# controller's reset). The markers are built by the shell (bench-$((40+2))up)
# so they never appear on the console as part of the kernel command line.
# A poller (Python) starts the VMM, reads its console every 10 ms and takes:
#   - to userspace: from just before starting the VMM to the first marker;
#   - to exit: to the VMM's exit (includes the guest's 1 s sleep);
#   - shutdown: from the second marker to the VMM's exit;
#   - RSS and RSS outside the guest-RAM mapping (the mapping of
#     /proc/PID/smaps whose size is the guest RAM) when the first marker
#     appears, and their maximum over samples every 50 ms from then on
#     until the VMM exits; and the kernel's peak RSS (VmHWM) of the whole
#     life, which catches what the VMM held only while loading (before
#     userspace, when nothing is sampled).
# For ember it also breaks its memory outside guest RAM down by what holds
# it (thread stacks per thread kind, found from each thread's stack pointer
# in /proc/PID/task/TID/syscall; heap; io_uring rings; files mapped; other
# anonymous memory), at userspace and at the last sample before exit, and
# where its own start-up time goes before the guest runs: the phases its log
# file gives at level Debug ("start-up: WHAT at MS ms", since ember started).
# Prints Markdown tables. Needs root and a Linux-capable KVM: bench/run runs
# it inside the lab. EMBER_GUEST=DIR: the guest files (default build/guest).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. bench/lib.sh
ROUNDS=${BENCH_BOOT_ROUNDS:-5}
G=${EMBER_GUEST:-build/guest}
LKVM=${LKVM:-}
MEM=256
for f in "$G/vmlinuz" "$G/vmlinux" "$G/initramfs.cpio.gz"; do
	[ -s "$f" ] || { echo "bench: no $f (make guest, or EMBER_GUEST=DIR)" >&2; exit 1; }
done
[ -x build/ember ] || { echo "bench: no build/ember (make)" >&2; exit 1; }
tmp=$(mktemp -d /run/ember-bench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The guest files on a local file system (the run's own directory), where a
# host keeps them, not on the lab's 9p share (which shows no holes): the
# same copies for every VMM, the vmlinux kept sparse as rootfs/build.sh
# makes it.
mkdir "$tmp/guest" && cp --sparse=always "$G/vmlinuz" "$G/vmlinux" "$G/initramfs.cpio.gz" "$tmp/guest/" ||
	{ echo "bench: cannot copy the guest files to $tmp" >&2; exit 1; }
G=$tmp/guest
INITRD=$G/initramfs.cpio.gz
# shellcheck disable=SC2016  # the guest's shell expands it
GCMD='echo bench-$((40+2))up; sleep 1; echo bench-$((40+2))end'
APPEND="console=ttyS0 reboot=k panic=-1 quiet -- sh -c \"$GCMD\""

cat >"$tmp/poll.py" <<'EOF'
# poll.py NAME RAM_KIB BREAKDOWN(0/1) OUTDIR -- CMD...: one measured boot.
# Appends "to_up to_exit shutdown rss_up ovh_up rss_max ovh_max vmhwm" (ms, KiB)
# to OUTDIR/row.NAME; with BREAKDOWN, writes OUTDIR/brk.NAME.{up,end}.
import os, re, subprocess, sys, time
sys.path.insert(0, os.environ["BENCH_DIR"])
from smaps import smaps, join_ram, threads  # bench/smaps.py
name, ram_kib, brk, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
cmd = sys.argv[6:]
UP, END = b"bench-42up", b"bench-42end"
def guest_ram(maps):
    """The guest-RAM mapping: the one whose size is the guest RAM (the
    smallest at least that large when none is exactly)."""
    exact = [m for m in maps if m[3] == ram_kib]
    if exact:
        return max(exact, key=lambda m: m[4])
    big = [m for m in maps if m[3] >= ram_kib]
    return min(big, key=lambda m: m[3]) if big else None

def breakdown(pid, maps, ram):
    exe = os.path.realpath("/proc/%d/exe" % pid)
    th = threads(pid)
    rows = []
    for m in maps:
        if m is ram or m[4] == 0:
            continue
        owners = sorted(c for c, sp in th.values() if sp is not None and m[0] <= sp < m[1])
        if m[2] == "[stack]":
            what = "[stack]"
            cat = "thread stacks: main ([stack])"
        elif owners:
            kinds = sorted(set(re.sub(r"[0-9]+$", "", c) for c in owners))
            what = "stack of " + ", ".join(owners)
            cat = "thread stacks: " + "/".join(kinds)
        elif m[2] == "[heap]":
            what = cat = "heap ([heap], brk)"
        elif "io_uring" in m[2]:
            what = m[2]
            cat = "io_uring rings (SQ/CQ/SQEs)"
        elif m[2].startswith("anon_inode:"):
            what = m[2]
            cat = m[2]
        elif m[2] == exe or m[2].endswith(" (deleted)") and m[2][:-10] == exe:
            what = os.path.basename(exe)
            cat = "the VMM's executable"
        elif m[2].startswith("/"):
            what = m[2]
            cat = "file: " + m[2]
        elif m[2].startswith("["):
            what = cat = m[2]
        else:
            what = "anonymous"
            cat = "other anonymous memory"
        rows.append((m[4], m[3], what, cat))
    counts = {}
    for c, _ in th.values():
        k = re.sub(r"[0-9]+$", "", c)
        counts[k] = counts.get(k, 0) + 1
    return rows, counts

def write_brk(tag, pid, maps, ram):
    try:
        rows, counts = breakdown(pid, maps, ram)
    except OSError:  # the VMM exited since maps was read: keep the last one
        return
    with open(os.path.join(outdir, "brk.%s.%s" % (name, tag)), "w") as f:
        f.write("threads " + " ".join("%s=%d" % kv for kv in sorted(counts.items())) + "\n")
        for rss, size, what, cat in rows:
            f.write("%d\t%d\t%s\t%s\n" % (rss, size, cat, what))

t0 = time.monotonic()
out = open(os.path.join(outdir, "vm.out"), "wb")
p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
con = open(os.path.join(outdir, "vm.out"), "rb")
buf = b""
t_up = t_end = None
rss_up = ovh_up = rss_max = ovh_max = hwm = None
next_sample = 0
warned = False
deadline = t0 + 600
last_read = t0
while p.poll() is None and time.monotonic() < deadline:
    buf += con.read()
    now = last_read = time.monotonic()
    if t_up is None and UP in buf:
        t_up = now
    if t_end is None and END in buf:
        t_end = now
        next_sample = now  # a sample as the guest's work ends, just before its exit
    if t_up is not None and now >= next_sample:
        maps = smaps(p.pid)
        maps = join_ram(maps, ram_kib) if maps else maps
        ram = guest_ram(maps) if maps else None
        # After the last line the VMM is on its way out: a sample that finds
        # its memory half torn down (no guest-RAM mapping) is skipped quietly.
        if ram is None and maps and not warned and t_end is None:
            sys.stderr.write("bench: %s: no %d KiB mapping in smaps, sample skipped\n" % (name, ram_kib))
            warned = True
        if ram is not None:
            if ram[3] != ram_kib and not warned:
                sys.stderr.write("bench: %s: guest RAM taken as the %d KiB mapping\n" % (name, ram[3]))
                warned = True
            rss = sum(m[4] for m in maps)
            ovh = rss - ram[4]
            if rss_up is None:
                rss_up, ovh_up = rss, ovh
                if brk:
                    write_brk("up", p.pid, maps, ram)
            rss_max, ovh_max = max(rss_max or 0, rss), max(ovh_max or 0, ovh)
            try:
                for line in open("/proc/%d/status" % p.pid):
                    if line.startswith("VmHWM:"):
                        hwm = max(hwm or 0, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            if brk:
                write_brk("end", p.pid, maps, ram)
        next_sample = now + 0.05
    time.sleep(0.01)
if p.poll() is None:
    p.kill()
    sys.stderr.write("bench: %s: still running after 600 s, killed\n" % name)
p.wait()
t_exit = time.monotonic()
buf += con.read()
# A VMM that prints the last line and exits within one poll (ember can): the
# line came after the last read, so that read's time stands for it (the
# shutdown time is then at most one poll too long).
if t_end is None and END in buf:
    t_end = last_read
if t_up is None and UP in buf:
    sys.stderr.write("bench: %s: userspace line seen only after exit\n" % name)
ms = lambda t: "%.0f" % ((t - t0) * 1000) if t is not None else "failed"
vals = [ms(t_up), ms(t_exit) if t_end is not None else "failed",
        "%.0f" % ((t_exit - t_end) * 1000) if t_end is not None else "failed"]
vals += [str(v) if v is not None else "failed" for v in (rss_up, ovh_up, rss_max, ovh_max, hwm)]
with open(os.path.join(outdir, "row." + name), "a") as f:
    f.write(" ".join(vals) + "\n")
if "failed" in vals:
    sys.stderr.write("bench: %s exited %d: %s\n" % (name, p.returncode, " ".join(vals)))
    sys.stderr.write(buf[-600:].decode(errors="replace") + "\n")
EOF

qemu_ver=$(qemu_version)
names=() labels=()
add() { names+=("$1"); labels+=("$2"); }
add ember_bz "ember, bzImage (its vmlinux from ember's kernel cache, PVH)"
add ember_bznc "ember, bzImage (unpacked by ember, PVH; \`--kernel-cache off\`)"
add ember_bzoff "ember, bzImage as it is (\`--kernel-unpack off\`)"
add ember_pvh "ember, vmlinux (PVH)"
add ember_pvhgz "ember, vmlinux (PVH; \`--initrd-unpack off\`: the guest decompresses the initramfs)"
add qemu_bz "QEMU $qemu_ver \`-M microvm,rtc=on\`, bzImage"
add qemu_pvh "QEMU \`-M microvm,rtc=on\`, vmlinux (PVH)"
if [ -n "$LKVM" ]; then
	lkvm_check
	add lkvm "kvmtool $LKVM_VERSION, bzImage"
fi

# run NAME BREAKDOWN: one measured boot of row NAME.
run() {
	local -a cmd
	case $1 in
	ember_bz) cmd=(build/ember --kernel "$G/vmlinuz" --kernel-cache "$tmp/kernels") ;;
	ember_bznc) cmd=(build/ember --kernel "$G/vmlinuz" --kernel-cache off) ;;
	ember_bzoff) cmd=(build/ember --kernel "$G/vmlinuz" --kernel-unpack off --kernel-cache "$tmp/kernels") ;;
	ember_pvh) cmd=(build/ember --kernel "$G/vmlinux" --kernel-cache "$tmp/kernels") ;;
	ember_pvhgz) cmd=(build/ember --kernel "$G/vmlinux" --initrd-unpack off) ;;
	qemu_bz | qemu_pvh)
		local k=$G/vmlinuz
		[ "$1" = qemu_pvh ] && k=$G/vmlinux
		# shellcheck disable=SC2054  # commas are QEMU option syntax
		cmd=(qemu-system-x86_64 -M microvm,rtc=on -enable-kvm -cpu host -m "$MEM" -smp 1
			-nodefaults -no-user-config -nographic -no-reboot -serial stdio
			-kernel "$k" -initrd "$INITRD" -append "$APPEND") ;;
	lkvm)
		# No network (its default is a user-mode NIC), the serial console;
		# kvmtool keeps its sockets under $HOME/.lkvm. --nodefaults: our own
		# command line (LKVM_APPEND, bench/lib.sh).
		cmd=(env HOME="$tmp" "$LKVM" run --nodefaults -k "$G/vmlinuz" -i "$INITRD" -c 1 -m "$MEM"
			-n mode=none --console serial
			-p "$LKVM_APPEND -- sh -c \"$GCMD; reboot -f\"") ;;
	esac
	case $1 in
	ember_*)
		rm -f "$tmp/log"
		cmd+=(--log-path "$tmp/log" --level Debug
			--initrd "$INITRD" --cpus 1 --mem "$MEM" --console stdio -- sh -c "$GCMD") ;;
	esac
	echo "bench: $(date +%T) $1" >&2
	BENCH_DIR=$PWD/bench python3 "$tmp/poll.py" "$1" $((MEM * 1024)) "$2" "$tmp" -- "${cmd[@]}"
	[[ $1 == ember_* ]] && phases "$tmp/log" >>"$tmp/phase.$1"
}

# ember's start-up phases, in the order it logs them.
PHASES=("files opened, seccomp set up" "VM created" "kernel and initrd loaded" "vCPUs created"
	"devices started" "vCPUs running")
# phases LOG: one line, each phase's end (ms since ember started; "failed"
# for one the log does not have).
phases() {
	local p line out=()
	for p in "${PHASES[@]}"; do
		line=$(grep -F "start-up: $p at " "$1" 2>/dev/null | tail -n1)
		[[ $line =~ \ at\ ([0-9.]+)\ ms ]] && out+=("${BASH_REMATCH[1]}") || out+=(failed)
	done
	echo "${out[*]}"
}

cat "$G/vmlinuz" "$G/vmlinux" "$INITRD" >/dev/null
for n in "${names[@]}"; do
	run "$n" 0
done
rm -f "$tmp"/row.* "$tmp"/brk.* "$tmp"/phase.*
for _ in $(seq 1 "$ROUNDS"); do
	for n in "${names[@]}"; do
		brk=0
		[[ $n == ember_* ]] && brk=1
		run "$n" $brk
	done
done

# cell FILE COLUMN [DIVISOR [FORMAT]]: "median (lowest-highest)" (bench/lib.sh),
# whole numbers by default (KiB columns in MiB with DIVISOR 1024).
cell() { echo "$(median "$1" "$2" "${3:-1}" "${4:-%.0f}")$(spread "$1" "$2" "${3:-1}" "${4:-%.0f}")"; }

echo "| VMM (Debian cloud kernel + busybox initramfs, 1 vCPU, $MEM MiB, in the lab; median of $ROUNDS rounds (lowest-highest)) | to userspace (ms) | to exit (ms, incl. the guest's 1 s sleep) | shutdown: last line to exit (ms) | RSS at userspace (MiB) | outside guest RAM at userspace (MiB) | RSS, max to exit (MiB) | outside guest RAM, max to exit (MiB) | peak RSS over its life, VmHWM (MiB) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for i in "${!names[@]}"; do
	f=$tmp/row.${names[$i]}
	echo "| ${labels[$i]} | $(cell "$f" 1) | $(cell "$f" 2) | $(cell "$f" 3) | $(cell "$f" 4 1024 %.1f) | $(cell "$f" 5 1024 %.1f) | $(cell "$f" 6 1024 %.1f) | $(cell "$f" 7 1024 %.1f) | $(cell "$f" 8 1024 %.1f) |"
done
[ -n "$LKVM" ] || echo "(no kvmtool row: set LKVM=PATH to a kvmtool binary, README says how to build one)"

# ratio A B: row A's time to userspace over row B's, round by round (rounds
# go through every row in turn, so each pair ran seconds apart and a slow
# spell of the lab tends to slow both), as "median (lowest-highest)".
ratio() {
	awk '{ print $1 }' "$tmp/row.$1" >"$tmp/ratio.a"
	awk '{ print $1 }' "$tmp/row.$2" >"$tmp/ratio.b"
	paste -d' ' "$tmp/ratio.a" "$tmp/ratio.b" |
		awk '$1 != "failed" && $2 != "failed" && $2 > 0 { printf "%.4f\n", $1 / $2 }' >"$tmp/ratio"
	[ -s "$tmp/ratio" ] || { echo failed; return; }
	echo "$(median "$tmp/ratio" 1 1 %.2f)$(spread "$tmp/ratio" 1 1 %.2f)"
}
echo
echo "| ember's time to userspace over QEMU's, round by round (median of $ROUNDS rounds (lowest-highest)) | over QEMU's bzImage | over QEMU's vmlinux |"
echo "|---|---:|---:|"
for i in "${!names[@]}"; do
	[[ ${names[$i]} == ember_* ]] || continue
	echo "| ${labels[$i]} | $(ratio "${names[$i]}" qemu_bz) | $(ratio "${names[$i]}" qemu_pvh) |"
done

# ember's own start-up: each phase's end, from its log.
echo
hdr="| ember's start-up: phase ended at (ms since ember started; median of $ROUNDS rounds (lowest-highest))"
sep="|---"
for i in "${!names[@]}"; do
	[[ ${names[$i]} == ember_* ]] || continue
	hdr+=" | ${labels[$i]}"
	sep+="|---:"
done
echo "$hdr |"
echo "$sep|"
for j in "${!PHASES[@]}"; do
	line="| ${PHASES[$j]}"
	for n in "${names[@]}"; do
		[[ $n == ember_* ]] || continue
		line+=" | $(cell "$tmp/phase.$n" $((j + 1)) 1 %.1f)"
	done
	echo "$line |"
done
line="| guest userspace (the first marker; from before the start, as above)"
for n in "${names[@]}"; do
	[[ $n == ember_* ]] && line+=" | $(cell "$tmp/row.$n" 1)"
done
echo "$line |"

# ember's memory outside guest RAM by what holds it, from the last round.
for n in ember_bz ember_pvh; do
	for tag in up end; do
		f=$tmp/brk.$n.$tag
		[ -s "$f" ] || continue
		when="at userspace"
		[ $tag = end ] && when="at the last sample before exit"
		label=$n
		for i in "${!names[@]}"; do
			[ "${names[$i]}" = "$n" ] && label=${labels[$i]}
		done
		echo
		echo "$label, outside guest RAM $when (round $ROUNDS; $(head -n1 "$f" | cut -d' ' -f2-) threads):"
		echo
		echo "| held by | mappings | RSS (KiB) |"
		echo "|---|---:|---:|"
		tail -n +2 "$f" | awk -F'\t' '{ r[$3] += $1; c[$3]++; t += $1 }
			END { for (k in r) printf "%d\t%s\t%d\n", r[k], k, c[k]; printf "%d\t%s\t\n", t, "total" }' |
			sort -t$'\t' -k1,1nr | awk -F'\t' '$2 == "total" { tot = $1; next }
				++n <= 10 || $2 ~ /^thread stacks/ { printf "| %s | %s | %d |\n", $2, $3, $1; next }
				{ rest += $1; rc += $3; rn++ }
				END { if (rn) printf "| everything else (%d kinds) | %d | %d |\n", rn, rc, rest
				      printf "| **total** | | %d |\n", tot }'
		if [ $tag = end ]; then
			echo
			echo "The biggest mappings (RSS, mapping size, what):"
			echo
			echo "| RSS (KiB) | size (KiB) | mapping |"
			echo "|---:|---:|---|"
			tail -n +2 "$f" | sort -t$'\t' -k1,1nr | head -n 12 |
				awk -F'\t' '{ printf "| %d | %d | %s |\n", $1, $2, $4 }'
		fi
	done
done
