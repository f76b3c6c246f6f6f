#!/usr/bin/env bash
# tests/api/linux.sh: a Linux guest configured entirely through the API, the
# way a Firecracker client does it: boot source with boot_args (which replace
# ember's kernel command line), machine config, a root drive and a data drive
# (the root one becomes /dev/vda and root=/dev/vda joins the command line), a
# network interface on a TAP, InstanceStart; the guest reads its disks, pings
# the host, is paused and resumed through PATCH /vm while it waits, and its
# exit status is ember's. The same VM from a config file. Runs as root in a
# network namespace of its own with link-local addresses. Needs a KVM that
# can boot Linux: run it inside the lab (tests/lab/run).
cd "$(dirname "$0")/../.." || exit 1
. tests/net/netns.sh
ip tuntap add dev tap0 mode tap && ip addr add $HOST_IP/16 dev tap0 && ip link set tap0 up || exit 1

# put SOCK PATH BODY: a PUT that must answer 204.
put() {
	local code
	code=$(curl -sS --unix-socket "$1" -X "${4:-PUT}" -o "$T_TMP/resp" -w '%{http_code}' --max-time 30 \
		-H 'Content-Type: application/json' -d "$3" "http://localhost$2") || return 1
	[ "$code" = 204 ] || { echo "${4:-PUT} $2 -> $code $(cat "$T_TMP/resp" 2>/dev/null)"; return 1; }
}

# The guest's command: its command line, its disks, a ping, then it waits for
# the host (paused and resumed meanwhile) and exits 5.
GUEST="sh -c \\\"cat /proc/cmdline; sha256sum /dev/vdb; ls -1 /sys/block; ping -c 1 -W 10 $HOST_IP && echo guest-waiting; nc -l -p 7000 >/dev/null; exit 5\\\""
BOOT_ARGS="console=ttyS0 reboot=k panic=-1 quiet ember.ip=$GUEST_IP/16 -- $GUEST"

# The guest ran as configured: root=/dev/vda after the boot args, the data
# drive is vdb with its bytes, the ping went through.
check_guest() {
	expect_grep "console=ttyS0 reboot=k panic=-1 quiet ember.ip=.* root=/dev/vda ro" "$1" || return 1
	expect_grep "^$2 +/dev/vdb" "$1" || return 1
	expect_grep '^vda$' "$1" && expect_grep '^vdb$' "$1" || return 1
	expect_grep '^guest-waiting' "$1"
}

t_linux_guest_through_the_api() {
	local sum pid rc
	local s=$T_SOCK/linux_guest_through_the_api.sock
	head -c 4M /dev/urandom >"$T_TMP/data.img"
	cp "$G/rootfs.ext4" "$T_TMP/root.ext4"
	sum=$(sha256sum <"$T_TMP/data.img" | cut -d' ' -f1)
	"$EMBER" --api-sock "$s" >"$T_TMP/out" 2>"$T_TMP/err" </dev/null &
	pid=$!
	wait_for_socket "$s" $pid || return 1
	put "$s" /boot-source "{\"kernel_image_path\":\"$BZ\",\"initrd_path\":\"$INITRD\",\"boot_args\":\"$BOOT_ARGS\"}" || { kill -9 $pid; return 1; }
	put "$s" /machine-config '{"vcpu_count":2,"mem_size_mib":256}' || { kill -9 $pid; return 1; }
	put "$s" /drives/data "{\"drive_id\":\"data\",\"path_on_host\":\"$T_TMP/data.img\",\"is_root_device\":false,\"is_read_only\":true}" || { kill -9 $pid; return 1; }
	put "$s" /drives/rootfs "{\"drive_id\":\"rootfs\",\"path_on_host\":\"$T_TMP/root.ext4\",\"is_root_device\":true,\"is_read_only\":true}" || { kill -9 $pid; return 1; }
	put "$s" /network-interfaces/eth0 '{"iface_id":"eth0","host_dev_name":"tap0","guest_mac":"06:00:ac:10:00:02"}' || { kill -9 $pid; return 1; }
	put "$s" /actions '{"action_type":"InstanceStart"}' || { kill -9 $pid; return 1; }
	wait_for '^guest-waiting' "$T_TMP/out" $pid || { kill -9 $pid; return 1; }
	put "$s" /vm '{"state":"Paused"}' PATCH || { kill -9 $pid; return 1; }
	sleep 1
	put "$s" /vm '{"state":"Resumed"}' PATCH || { kill -9 $pid; return 1; }
	timeout 130 python3 $XFER poke $GUEST_IP 7000 || { kill -9 $pid; return 1; }
	timeout 120 tail --pid=$pid -f /dev/null
	wait $pid
	rc=$?
	[ $rc = 5 ] || { echo "exit status $rc, want the guest's 5"; tail -n 20 "$T_TMP/out" "$T_TMP/err"; return 1; }
	check_guest "$T_TMP/out" "$sum" || return 1
	[ ! -e "$s" ] || { echo "socket left behind"; return 1; }
}

t_linux_guest_from_a_config_file() {
	local sum rc
	head -c 4M /dev/urandom >"$T_TMP/data.img"
	cp "$G/rootfs.ext4" "$T_TMP/root.ext4"
	sum=$(sha256sum <"$T_TMP/data.img" | cut -d' ' -f1)
	cat >"$T_TMP/vm.json" <<EOF
{
  "boot-source": {"kernel_image_path": "$BZ", "initrd_path": "$INITRD", "boot_args": "$BOOT_ARGS"},
  "drives": [
    {"drive_id": "rootfs", "path_on_host": "$T_TMP/root.ext4", "is_root_device": true, "is_read_only": true},
    {"drive_id": "data", "path_on_host": "$T_TMP/data.img", "is_root_device": false, "is_read_only": true}
  ],
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0"}]
}
EOF
	"$EMBER" --no-api --config-file "$T_TMP/vm.json" >"$T_TMP/out2" 2>&1 </dev/null &
	local pid=$!
	wait_for '^guest-waiting' "$T_TMP/out2" $pid || { kill -9 $pid; return 1; }
	timeout 130 python3 $XFER poke $GUEST_IP 7000 || { kill -9 $pid; return 1; }
	timeout 120 tail --pid=$pid -f /dev/null
	wait $pid
	rc=$?
	[ $rc = 5 ] || { echo "exit status $rc, want the guest's 5"; tail -n 20 "$T_TMP/out2"; return 1; }
	check_guest "$T_TMP/out2" "$sum"
}

# Firecracker's getting-started sequence, as its docs give it: logger,
# metrics, boot source with "console=ttyS0 reboot=k panic=1 pci=off" (ember
# drops pci=off with a warning), a root ext4 drive (read-write), a scratch
# drive, a TAP NIC, InstanceStart. The host pings the guest. PATCH /drives
# puts a 4 MiB image behind the 1 MiB scratch drive: the guest sees the new
# size (configuration-change interrupt) and reads the new bytes. The metrics
# count the guest's disk and network traffic. SendCtrlAltDel: the guest's
# keyboard driver passes Ctrl+Alt+Del to init, which syncs and ends the VM
# with status 0.
t_getting_started_patch_drive_ctrl_alt_del() {
	local s=$T_SOCK/getting_started.sock log=$T_TMP/gs.log met=$T_TMP/gs.metrics pid rc sum
	rm -f "$log" "$met"
	cp "$G/rootfs.ext4" "$T_TMP/root.ext4"
	head -c 1M /dev/zero >"$T_TMP/scratch.img"
	head -c 4M /dev/urandom >"$T_TMP/bigger.img"
	sum=$(sha256sum <"$T_TMP/bigger.img" | cut -d' ' -f1)
	local script="cat /proc/cmdline; grep ' / ' /proc/mounts; echo size-before \$(cat /sys/block/vdb/size); i=0; while [ \$(cat /sys/block/vdb/size) = 2048 ] && [ \$i -lt 600 ]; do sleep 0.2; i=\$((i+1)); done; echo 3 >/proc/sys/vm/drop_caches; echo size-after \$(cat /sys/block/vdb/size); sha256sum /dev/vdb; echo guest-ready; sleep 1000; echo no-ctrl-alt-del"
	local args="console=ttyS0 reboot=k panic=1 pci=off ember.ip=$GUEST_IP/16 -- sh -c \\\"$script\\\""
	"$EMBER" --api-sock "$s" >"$T_TMP/gs.out" 2>"$T_TMP/gs.err" </dev/null &
	pid=$!
	wait_for_socket "$s" $pid || return 1
	put "$s" /logger "{\"log_path\":\"$log\",\"level\":\"Info\"}" || { kill -9 $pid; return 1; }
	put "$s" /metrics "{\"metrics_path\":\"$met\"}" || { kill -9 $pid; return 1; }
	put "$s" /boot-source "{\"kernel_image_path\":\"$BZ\",\"initrd_path\":\"$INITRD\",\"boot_args\":\"$args\"}" || { kill -9 $pid; return 1; }
	put "$s" /drives/rootfs "{\"drive_id\":\"rootfs\",\"path_on_host\":\"$T_TMP/root.ext4\",\"is_root_device\":true,\"is_read_only\":false}" || { kill -9 $pid; return 1; }
	put "$s" /drives/scratch "{\"drive_id\":\"scratch\",\"path_on_host\":\"$T_TMP/scratch.img\",\"is_root_device\":false,\"is_read_only\":false}" || { kill -9 $pid; return 1; }
	put "$s" /network-interfaces/eth0 '{"iface_id":"eth0","guest_mac":"06:00:AC:10:00:02","host_dev_name":"tap0"}' || { kill -9 $pid; return 1; }
	put "$s" /actions '{"action_type":"InstanceStart"}' || { kill -9 $pid; return 1; }
	wait_for '^size-before 2048' "$T_TMP/gs.out" $pid || { kill -9 $pid; tail -n 30 "$T_TMP/gs.out" "$T_TMP/gs.err"; return 1; }
	ping -c 3 -W 10 $GUEST_IP >"$T_TMP/ping" || { echo "the guest does not answer pings"; cat "$T_TMP/ping"; kill -9 $pid; return 1; }
	put "$s" /drives/scratch "{\"drive_id\":\"scratch\",\"path_on_host\":\"$T_TMP/bigger.img\"}" PATCH || { kill -9 $pid; return 1; }
	wait_for '^guest-ready' "$T_TMP/gs.out" $pid || { kill -9 $pid; tail -n 30 "$T_TMP/gs.out"; return 1; }
	expect_grep '^size-after 8192' "$T_TMP/gs.out" || { kill -9 $pid; return 1; }
	expect_grep "^$sum +/dev/vdb" "$T_TMP/gs.out" || { kill -9 $pid; return 1; }
	put "$s" /actions '{"action_type":"FlushMetrics"}' || { kill -9 $pid; return 1; }
	put "$s" /actions '{"action_type":"SendCtrlAltDel"}' || { kill -9 $pid; return 1; }
	timeout 120 tail --pid=$pid -f /dev/null
	wait $pid
	rc=$?
	[ $rc = 0 ] || { echo "exit status $rc after SendCtrlAltDel, want 0"; tail -n 20 "$T_TMP/gs.out" "$T_TMP/gs.err"; return 1; }
	! grep -q '^no-ctrl-alt-del' "$T_TMP/gs.out" || { echo "the guest's sleep ended by itself"; return 1; }
	expect_grep "warning: boot_args: dropping 'pci=off'" "$T_TMP/gs.err" || return 1
	# pci=off never reached the kernel; the root drive is the guest's /, read-write
	expect_grep '^console=ttyS0 reboot=k panic=1 ember.ip=.* root=/dev/vda rw' "$T_TMP/gs.out" || return 1
	expect_grep '^/dev/vda / ext4 rw' "$T_TMP/gs.out" || return 1
	expect_grep 'Ctrl\+Alt\+Del sent' "$log" || return 1
	expect_grep 'drive scratch: now .*bigger.img, 4194304 bytes' "$log" || return 1
	# three lines (InstanceStart, FlushMetrics, exit) whose sums count the
	# guest's reads of the new image, its root disk and the pings
	python3 - "$met" <<'PY' || return 1
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) >= 3, len(lines)
tot = lambda g, k: sum(l.get(g, {}).get(k, 0) for l in lines)
assert tot("block_scratch", "read_bytes") >= 4 << 20, tot("block_scratch", "read_bytes")
assert tot("block_rootfs", "read_count") > 0
assert tot("block", "read_bytes") >= tot("block_scratch", "read_bytes")
assert tot("net_eth0", "rx_packets_count") >= 3 and tot("net_eth0", "tx_packets_count") >= 3, lines
assert tot("net", "tx_packets_count") == tot("net_eth0", "tx_packets_count")
# Firecracker's net fields in its order, then ember's drops; the pings' kicks
# and frames counted, no failure
names = ["no_rx_avail_buffer", "no_tx_avail_buffer", "event_fails", "rx_queue_event_count",
         "rx_event_rate_limiter_count", "rx_rate_limiter_throttled", "rx_tap_event_count",
         "rx_bytes_count", "rx_packets_count", "tap_read_fails", "tap_write_fails",
         "tx_bytes_count", "tx_malformed_frames", "tx_packets_count", "tx_queue_event_count",
         "tx_rate_limiter_event_count", "tx_rate_limiter_throttled", "rx_drops", "tx_drops"]
assert list(lines[-1]["net_eth0"]) == names, list(lines[-1]["net_eth0"])
assert tot("net_eth0", "tx_queue_event_count") >= 1 and tot("net_eth0", "rx_queue_event_count") >= 1, lines
assert 1 <= tot("net_eth0", "rx_tap_event_count") <= tot("net_eth0", "rx_packets_count"), lines
for k in ("event_fails", "tap_read_fails", "tap_write_fails", "tx_malformed_frames"):
    assert tot("net_eth0", k) == 0, (k, lines)
assert tot("i8042", "read_count") > 0 and tot("i8042", "reset_count") == 0
PY
}

t_run_all api
