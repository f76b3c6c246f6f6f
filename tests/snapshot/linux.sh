#!/usr/bin/env bash
# tests/snapshot/linux.sh: snapshots of a Linux guest with a disk and a NIC.
#  - snapshot (PUT /snapshot/create on the paused VM) while the guest writes
#    16 MiB to its disk and answers pings; ember killed; restored with
#    --restore in a new process: the guest goes on, its disk then holds what
#    it wrote (sha256, after its sync), the host pings it and opens a TCP
#    connection to it, and the guest exits 0;
#  - the same snapshot restored 5 times at once, each clone in a network
#    namespace and a mount namespace of its own (the same TAP name and
#    address; its own copy of the disk image bound over the snapshot's
#    path): each finishes its write, answers a ping and a TCP connection,
#    and exits 0.
# Runs as root in a network namespace of its own with link-local addresses.
# Needs a KVM that can boot Linux: run it inside the lab (tests/lab/run).
cd "$(dirname "$0")/../.." || exit 1
. tests/net/netns.sh
. tests/api/lib.sh
IMG=$T_SOCK/img # tmpfs, removed at exit
mkdir -p "$IMG" || exit 1

# The guest: 16 MiB of random data in RAM; once the host connects to port
# 7001, written to /dev/vda in 64 pieces (a dd each, 50 ms apart, so the
# write takes over 3 s; "writing" after the first), a sync, then it waits for
# a TCP connection on port 7000. (One line, no double quotes: it travels on
# the kernel command line.)
GUEST_CMD="head -c 16777216 /dev/urandom >/tmp/d; sha256sum /tmp/d; echo ready; nc -l -p 7001 >/dev/null; i=0; \
while [ \$i -lt 64 ]; do dd if=/tmp/d of=/dev/vda bs=256k count=1 skip=\$i seek=\$i oflag=direct 2>/dev/null; \
[ \$i != 0 ] || echo writing; sleep 0.05; i=\$((i+1)); done; sync; echo disk-done; nc -l -p 7000 >/dev/null; echo poked"

# tap_up: tap0 with the host's address, in the current network namespace,
# and always the same MAC: a restored guest's ARP cache still holds the MAC
# the host side had at the snapshot (every clone's namespace is set up alike).
tap_up() {
	ip link del tap0 2>/dev/null
	ip tuntap add dev tap0 mode tap vnet_hdr && ip link set tap0 address 02:00:00:00:00:01 &&
		ip addr add $HOST_IP/16 dev tap0 && ip link set tap0 up
}

# tap_released: wait (bounded, 10 s) until tap0 can be attached again (the
# kernel closes a killed ember's io_uring, and with it the TAP, a moment
# after the process is reaped; until then TUNSETIFF says it is busy).
tap_released() {
	python3 - <<'EOF' || { echo "tap0 still held"; return 1; }
import errno, fcntl, os, struct, sys, time
TUNSETIFF, IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x400454ca, 0x0002, 0x1000, 0x4000
end = time.monotonic() + 10
while True:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"tap0", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
        sys.exit(0)
    except OSError as e:
        if e.errno != errno.EBUSY or time.monotonic() > end:
            sys.exit(1)
    finally:
        os.close(fd)
    time.sleep(0.05)
EOF
}

# guest_sum OUT: the sha256 the guest printed for /tmp/d.
guest_sum() { tr -d '\r' <"$1" | awk '$2 == "/tmp/d" {print $1}'; }

# check_restored OUT PID DISK SUM: the restored guest (ember PID, console OUT)
# finishes its write (DISK holds SUM), answers a ping and a TCP connection,
# and exits 0.
check_restored() {
	local out=$1 pid=$2 disk=$3 sum=$4 rc
	wait_for '^disk-done' "$out" $pid || return 1
	[ "$(head -c 16777216 "$disk" | sha256sum | cut -d' ' -f1)" = "$sum" ] ||
		{ echo "$disk does not hold what the guest wrote"; return 1; }
	if ! timeout 60 ping -c 2 -W 10 $GUEST_IP >/dev/null; then
		echo "no answer to ping; the NIC's counters:"
		kill -USR1 $pid
		sleep 1
		grep -h '"device":"net0"' "${out%/*}"/*err* | tail -n 1
		ip -s link show tap0
		return 1
	fi
	timeout 130 python3 $XFER poke $GUEST_IP 7000 || { echo "no TCP connection"; return 1; }
	wait_for '^poked' "$out" $pid || return 1
	timeout 60 tail --pid=$pid -f /dev/null
	wait $pid
	rc=$?
	[ $rc = 0 ] || { echo "exit status $rc"; return 1; }
}

# snapshot_guest PREFIX: boot the guest on tap0 and $IMG/disk.img, snapshot
# it mid-write into PREFIX.state and PREFIX.mem, kill it; its sum in $SUM.
snapshot_guest() {
	local p=$1 s=$T_SOCK/snap_linux.sock pid
	truncate -s 32M "$IMG/disk.img"
	"$EMBER" --kernel "$BZ" --initrd "$INITRD" --mem 256 --disk "$IMG/disk.img" \
		--net tap=tap0,mac=02:00:00:00:00:02 --api-sock "$s" --cmdline "ember.ip=$GUEST_IP/16" \
		-- sh -c "$GUEST_CMD" >"$T_TMP/out" 2>"$T_TMP/err" </dev/null &
	pid=$!
	wait_for '^ready' "$T_TMP/out" $pid || { kill -9 $pid; return 1; }
	timeout 60 ping -c 1 -W 10 $GUEST_IP >/dev/null || { echo "no answer to ping before"; kill -9 $pid; return 1; }
	# Start the write and pause as soon as it is under way.
	timeout 130 python3 $XFER poke $GUEST_IP 7001 || { echo "no TCP connection before"; kill -9 $pid; return 1; }
	wait_for '^writing' "$T_TMP/out" $pid || { kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s" PATCH /vm '{"state":"Paused"}' || { kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /snapshot/create \
		"{\"snapshot_path\":\"$p.state\",\"mem_file_path\":\"$p.mem\"}" || { kill -9 $pid; return 1; }
	kill -9 $pid
	wait $pid 2>/dev/null
	tap_released || return 1
	! tr -d '\r' <"$T_TMP/out" | grep -q '^disk-done' || { echo "the write was over before the snapshot"; return 1; }
	SUM=$(guest_sum "$T_TMP/out")
	[ -n "$SUM" ] || { echo "no guest checksum"; return 1; }
}

t_restore_disk_and_net() {
	local p=$IMG/snap pid
	tap_up || return 1
	snapshot_guest "$p" || return 1
	"$EMBER" --restore "$p.state" --mem-file "$p.mem" >"$T_TMP/out2" 2>"$T_TMP/err2" </dev/null &
	pid=$!
	check_restored "$T_TMP/out2" $pid "$IMG/disk.img" "$SUM" || { kill -9 $pid; tail -n 5 "$T_TMP/err2"; return 1; }
	! tr -d '\r' <"$T_TMP/out2" | grep -q '^ready' || { echo "the restored guest started again"; return 1; }
}

t_five_clones() {
	local p=$IMG/clone i pids=() rc=0
	tap_up || return 1
	snapshot_guest "$p" || return 1
	ip link del tap0
	for i in 1 2 3 4 5; do
		cp "$IMG/disk.img" "$IMG/disk$i.img"
		# a clone: its own network and mount namespaces, tap0, its disk
		# bound over the snapshot's path
		unshare -n -m bash -c "mount --bind '$IMG/disk$i.img' '$IMG/disk.img' &&
			HOST_IP=$HOST_IP GUEST_IP=$GUEST_IP XFER=$XFER;
			$(declare -f tap_up check_restored wait_for)
			ip link set lo up && tap_up || exit 1
			'$EMBER' --restore '$p.state' --mem-file '$p.mem' >'$T_TMP/cout$i' 2>'$T_TMP/cerr$i' </dev/null &
			check_restored '$T_TMP/cout$i' \$! '$IMG/disk.img' '$SUM'" >"$T_TMP/clone$i" 2>&1 &
		pids+=($!)
	done
	for i in 1 2 3 4 5; do
		if ! wait ${pids[i - 1]}; then
			echo "clone $i:"
			cat "$T_TMP/clone$i"
			tail -n 3 "$T_TMP/cerr$i"
			rc=1
		fi
	done
	return $rc
}

t_run_all snapshot
