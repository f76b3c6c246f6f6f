#!/usr/bin/env bash
# bench/snapshot_linux.sh: a 256 MiB Linux guest with a disk and a NIC,
# from process start to the guest answering a ping, cold-booted and restored
# from a snapshot, by ember and by QEMU (-M microvm,pcie=on with
# virtio-blk-pci and virtio-net-pci, restored with -incoming "exec:cat
# FILE", the same kernel, initramfs, disk and TAP), ROUNDS rounds one after
# another; then the memory of 10 such VMs at once: cold-booted, and clones
# of one ember snapshot (the sum of their PSS: the memory file's page cache,
# shared by the clones, counts once in all). A raw ICMP socket pings every
# 2 ms from just before the VMM is started. Runs as root inside the lab, in
# a network namespace of its own with link-local addresses (bench/run).
# Prints Markdown tables.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. bench/lib.sh
if [ -z "${EMBER_NET_NETNS:-}" ]; then
	EMBER_NET_NETNS=1 exec unshare -n bash "$0" "$@"
fi
ROUNDS=${BENCH_SNAP_ROUNDS:-5}
G=build/guest
HOST_IP=169.254.1.1
GUEST_IP=169.254.1.2
tmp=$(mktemp -d /run/ember-bench.XXXXXX 2>/dev/null || mktemp -d)
trap 'pkill -KILL -f "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
ip link set lo up
truncate -s 64M "$tmp/disk.img"
GCMD="echo bench-ready; nc -l -p 7000 >/dev/null"
APPEND="console=ttyS0 reboot=k panic=-1 quiet ember.ip=$GUEST_IP/16 -- sh -c \"$GCMD\""

# The same TAP MAC every time: a restored guest's ARP cache holds it.
tap_up() {
	ip link del tap0 2>/dev/null
	ip tuntap add dev tap0 mode tap vnet_hdr && ip link set tap0 address 02:00:00:00:00:01 &&
		ip addr add $HOST_IP/16 dev tap0 && ip link set tap0 up
}

# until_ping.py OUT -- CMD...: start CMD (its output into OUT), ping the
# guest every 2 ms, print the ms from just before the start to the first
# answer (or "failed" after 120 s); CMD keeps running (its pid in OUT.pid).
cat >"$tmp/until_ping.py" <<'EOF'
import os, select, socket, struct, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[3:]
dst = os.environ["GUEST_IP"]
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xffff
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=open(out, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
open(out + ".pid", "w").write(str(p.pid))
seq = 0
while time.monotonic() - t0 < 120 and p.poll() is None:
    seq = (seq + 1) & 0xffff
    h = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"ember-bench-pad!"
    h = h[:2] + struct.pack("!H", csum(h)) + h[4:]
    try:
        sock.sendto(h, (dst, 0))
    except OSError:
        pass
    end = time.monotonic() + 0.002
    while True:
        left = end - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            break
        data, addr = sock.recvfrom(2048)
        icmp = data[(data[0] & 15) * 4:]
        if addr[0] == dst and icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident:
            print("%.1f" % ((time.monotonic() - t0) * 1000))
            sys.exit(0)
print("failed")
EOF
export GUEST_IP

ember_args=(--kernel "$G/vmlinuz" --initrd "$G/initramfs.cpio.gz" --mem 256 --disk "$tmp/disk.img,ro"
	    --net tap=tap0,mac=02:00:00:00:00:02 --cmdline "ember.ip=$GUEST_IP/16" -- sh -c "$GCMD")
qemu_args=(qemu-system-x86_64 -M microvm,pcie=on,rtc=on -enable-kvm -cpu host -m 256 -smp 1
	   -nodefaults -no-user-config -nographic -no-reboot -serial stdio
	   -kernel "$G/vmlinuz" -initrd "$G/initramfs.cpio.gz" -append "$APPEND"
	   -drive "file=$tmp/disk.img,if=none,id=d0,format=raw,readonly=on" -device virtio-blk-pci,drive=d0
	   -netdev "tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off"
	   -device virtio-net-pci,netdev=n0,mac=02:00:00:00:00:02)

# stop PIDFILE: kill the VMM and wait for it.
stop() {
	local p
	p=$(cat "$1")
	kill -KILL "$p" 2>/dev/null
	while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
}

# row NAME CMD...: one measurement into NAME's file.
row() {
	local name=$1 ms
	shift
	tap_up || return 1
	ms=$(python3 "$tmp/until_ping.py" "$tmp/vm.out" -- "$@")
	stop "$tmp/vm.out.pid"
	[ "$ms" = failed ] && { echo "bench: $name: no answer:" >&2; tail -n 5 "$tmp/vm.out" >&2; }
	grep -qxF -- "$name" "$tmp/rows" 2>/dev/null || echo "$name" >>"$tmp/rows"
	echo "$ms" >>"$tmp/row.$(echo "$name" | md5sum | cut -c1-8)"
}

# The snapshots: ember's through its API, QEMU's through QMP (migrated to a
# file while it runs; the restored one starts at once).
tap_up || exit 1
S=$tmp/api.sock
build/ember --api-sock "$S" "${ember_args[@]}" >"$tmp/snap.out" 2>&1 </dev/null &
epid=$!
for _ in $(seq 1 1200); do grep -q bench-ready "$tmp/snap.out" && break; sleep 0.1; done
ping -c 1 -W 10 $GUEST_IP >/dev/null || { echo "bench: ember's guest does not answer" >&2; exit 1; }
curl -sS --unix-socket "$S" -X PATCH -d '{"state":"Paused"}' http://localhost/vm &&
	curl -sS --unix-socket "$S" -X PUT -d "{\"snapshot_path\":\"$tmp/e.state\",\"mem_file_path\":\"$tmp/e.mem\"}" \
		http://localhost/snapshot/create || exit 1
kill -KILL $epid
wait $epid 2>/dev/null
tap_up || exit 1
"${qemu_args[@]}" -qmp "unix:$tmp/qmp.sock,server=on,wait=off" >"$tmp/qsnap.out" 2>&1 </dev/null &
qpid=$!
for _ in $(seq 1 1200); do grep -q bench-ready "$tmp/qsnap.out" && break; sleep 0.1; done
ping -c 1 -W 10 $GUEST_IP >/dev/null || { echo "bench: QEMU's guest does not answer" >&2; exit 1; }
python3 - "$tmp/qmp.sock" "$tmp/q.snap" <<'EOF' || exit 1
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
def cmd(c, **a):
    f.write(json.dumps({"execute": c, "arguments": a} if a else {"execute": c}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
json.loads(f.readline())
cmd("qmp_capabilities")
cmd("migrate", uri="exec:cat > " + sys.argv[2])
for _ in range(6000):
    st = cmd("query-migrate")["return"].get("status")
    if st in ("completed", "failed"):
        break
    time.sleep(0.05)
sys.exit(0 if st == "completed" else 1)
EOF
kill -KILL $qpid
wait $qpid 2>/dev/null
sync
cat "$tmp/e.state" "$tmp/e.mem" "$tmp/q.snap" >/dev/null # in the page cache, as for a platform restoring often

for _ in $(seq 1 "$ROUNDS"); do
	row "ember, cold boot" build/ember "${ember_args[@]}"
	row "ember, restore (--restore)" build/ember --restore "$tmp/e.state" --mem-file "$tmp/e.mem"
	row "QEMU $(qemu_version), cold boot" "${qemu_args[@]}"
	row "QEMU, restore (-incoming exec:cat)" "${qemu_args[@]}" -incoming "exec:cat $tmp/q.snap"
done

echo "| 256 MiB Linux guest, disk and NIC, in the lab; median of $ROUNDS (lowest-highest) | process start to ping answered (ms) |"
echo "|---|---:|"
while read -r name; do
	f=$tmp/row.$(echo "$name" | md5sum | cut -c1-8)
	echo "| $name | $(median "$f")$(spread "$f") |"
done <"$tmp/rows"
echo
echo "ember's state file $(stat -c %s "$tmp/e.state") bytes, memory file $(du -k "$tmp/e.mem" | cut -f1) KiB on disk (of 256 MiB); QEMU's migration file $(( $(stat -c %s "$tmp/q.snap") / 1024 )) KiB."
echo

# density NAME N-ARGS...: 10 VMs (each its own TAP, tapdN), their PSS summed
# once each has run 3 s past its start (cold boots: once each is ready).
pss_sum() {
	local p sum=0 v
	for p in "$@"; do
		v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
		sum=$((sum + ${v:-0}))
	done
	echo $sum
}
pids=()
for i in $(seq 1 10); do
	build/ember --kernel "$G/vmlinuz" --initrd "$G/initramfs.cpio.gz" --mem 256 --disk "$tmp/disk.img,ro" \
		--net tap=tapd$i --cmdline "ember.ip=169.254.2.$i/16" -- sh -c "$GCMD" >"$tmp/d$i.out" 2>&1 </dev/null &
	pids+=($!)
done
for i in $(seq 1 10); do
	for _ in $(seq 1 3000); do grep -q bench-ready "$tmp/d$i.out" && break; sleep 0.1; done
done
sleep 3
cold=$(pss_sum "${pids[@]}")
{ kill -KILL "${pids[@]}"; wait "${pids[@]}"; } 2>/dev/null
pids=()
for i in $(seq 1 10); do
	build/ember --restore "$tmp/e.state" --mem-file "$tmp/e.mem" --net-override "net0=tapr$i" \
		>"$tmp/r$i.out" 2>&1 </dev/null &
	pids+=($!)
done
sleep 3
clones=$(pss_sum "${pids[@]}")
# The memory file's pages in the page cache: mapped ones are in the PSS
# (shared by the clones), the others are memory too, once for all clones.
cache=$(fincore --bytes --noheadings --output RES "$tmp/e.mem" 2>/dev/null | awk '{print int($1 / 1048576)}')
{ kill -KILL "${pids[@]}"; wait "${pids[@]}"; } 2>/dev/null
echo "| 10 VMs at once, 256 MiB Linux guests, in the lab | PSS sum (MiB) | per VM (MiB) |"
echo "|---|---:|---:|"
echo "| ember, cold-booted | $((cold / 1024)) | $((cold / 10240)) |"
echo "| ember, clones of one snapshot | $((clones / 1024)) | $((clones / 10240)) |"
echo
echo "The clones' memory file is also in the host's page cache: ${cache:-?} MiB, once for all of them (the part of it the clones mapped is in their PSS too)."
