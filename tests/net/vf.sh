#!/usr/bin/env bash
# tests/net/vf.sh: a NIC's SR-IOV virtual function passed to a Linux guest
# (ember --vfio), in the lab booted with --sriov-net: an emulated igb (82576)
# PF with the igb driver, behind the emulated Intel IOMMU; tests/lab/sriov-netvf
# enables VF 0, gives it a MAC from the PF and binds it to vfio-pci. The PF's
# interface is moved into a network namespace this group makes, with a
# link-local address; frames between the PF and the VF go through the igb's
# own switching and reach nothing else.
# The guest is the lab's Debian generic kernel (the cloud kernel has no
# igbvf) with build/guest's initramfs and igbvf.ko from the lab's module tree
# added. Its igbvf interface must come up with the MAC the PF gave it, ping
# the PF and be pinged, carry 64 MiB each way over TCP (sha256), take
# interrupts on the VF's MSI-X vectors, and do it all without a data-path
# access exiting to ember (SIGUSR1's trapped_reads/trapped_writes stay 0).
# Also through ember-jailer; after ember ends (its command done, SIGKILL, the
# guest's reboot) the VF works again for the next VM; and when the PF goes
# down under a running guest, the guest sees its link go down and come back,
# and ember keeps running.
cd "$(dirname "$0")/../.." || exit 1

. tests/net/vf_lib.sh
vf_enter_netns -- "$@" || { echo "FAIL vfnet/setup"; echo "0 passed, 1 failed"; exit 1; }

. tests/lib.sh
. tests/jail/lib.sh
XFER=tests/net/xfer.py
HOST_IP=169.254.10.1
GUEST_IP=169.254.10.2
PCI=/sys/bus/pci/devices
echo "PF $PF ($IFACE), VF $VF in IOMMU group $GROUP, VF MAC $VFMAC"

ip link set lo up
ip addr add $HOST_IP/16 dev "$IFACE" && ip link set "$IFACE" up ||
	{ echo "FAIL vfnet/setup (cannot configure $IFACE)"; echo "0 passed, 1 failed"; exit 1; }

read -r KERNEL INITRD <<<"$(vf_guest "$T_TMP" "$G/initramfs.cpio.gz")" && [ -n "$INITRD" ] ||
	{ echo "FAIL vfnet/setup"; echo "0 passed, 1 failed"; exit 1; }
VM=(--kernel "$KERNEL" --initrd "$INITRD" --mem 512 --vfio "$VF" --cmdline "ember.ip=$GUEST_IP/16")
# What the guest says first: its interface's driver and MAC, and a ping.
HELLO="echo driver=\$(basename \$(readlink /sys/class/net/eth0/device/driver)) mac=\$(cat /sys/class/net/eth0/address); ping -c 2 -W 10 $HOST_IP >/dev/null && echo pinged"
# The VF's MSI-X vectors in the guest's /proc/interrupts ("eth0-rx-0",
# "eth0-tx-0", and "eth0" for the mailbox).
IRQS="grep -E 'eth0(-|\$)' /proc/interrupts"

# check_hello OUT: the guest's igbvf interface has the PF's MAC and pinged.
check_hello() {
	expect_grep "^driver=igbvf mac=$VFMAC\$" "$1" || return 1
	expect_grep '^pinged' "$1"
}

# vf_works: the VF is bound to vfio-pci and its group free again.
vf_works() {
	[ "$(basename "$(readlink "$PCI/$VF/driver")")" = vfio-pci ] || { echo "$VF is no longer bound to vfio-pci"; return 1; }
}

# irq_count OUT NAME: the sum of the counts on the guest's line for vector NAME.
irq_count() {
	tr -d '\r' <"$1" | awk -v q="$2" '$NF == q { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }'
}

# start_vm CMD: ember with the VF in the background, its stdin a FIFO (on
# the jail base's tmpfs: the lab's /tmp, 9p, has none) held open on fd 8,
# output in $T_TMP/out and $T_TMP/err, PID in $pid.
start_vm() {
	local in=$BASE/stdin-$BASHPID
	mkfifo "$in" || return 1
	"$EMBER" "${VM[@]}" -- sh -c "$1" <"$in" >"$T_TMP/out" 2>"$T_TMP/err" &
	pid=$!
	exec 8>"$in"
}

# finish_vm: let the guest read its line, wait for ember, want status 0.
finish_vm() {
	echo >&8
	exec 8>&-
	timeout 120 tail --pid=$pid -f /dev/null || { echo "ember still running"; kill -9 $pid; }
	wait $pid || { echo "ember exit status $?"; tail "$T_TMP/out" "$T_TMP/err"; return 1; }
}

# The guest's interface has the PF's MAC, pings the PF and is pinged by it;
# its rx and tx vectors took interrupts; the VF's BARs are mapped into the
# guest, so no register access of the data path exited to ember.
t_ping_mac_interrupts() {
	start_vm "$HELLO; echo net-ready; read x; ping -c 5 -W 10 $HOST_IP >/dev/null && echo pinged-again; $IRQS; echo bye" || return 1
	wait_for '^net-ready' "$T_TMP/out" $pid || { kill -9 $pid; return 1; }
	ping -c 5 -W 10 $GUEST_IP >"$T_TMP/ping" || { echo "the PF side could not ping the guest:"; cat "$T_TMP/ping"; kill -9 $pid; return 1; }
	tail -n 2 "$T_TMP/ping"
	finish_vm || return 1
	check_hello "$T_TMP/out" || return 1
	expect_grep '^pinged-again' "$T_TMP/out" || return 1
	local rx tx
	rx=$(irq_count "$T_TMP/out" eth0-rx-0)
	tx=$(irq_count "$T_TMP/out" eth0-tx-0)
	echo "guest interrupts: eth0-rx-0 $rx, eth0-tx-0 $tx"
	[ "$rx" -gt 0 ] && [ "$tx" -gt 0 ] || { echo "no MSI-X interrupts on the VF's queues:"; tr -d '\r' <"$T_TMP/out" | tail -n 20; return 1; }
	vf_works
}

# The same guest moving data: 64 MiB each way, sha256 equal; then SIGUSR1:
# BAR 0 mapped by memory slots, MSI-X enabled, nothing trapped but the MSI-X
# table.
t_tcp_64m_each_way() {
	local bytes=$((${NET_XFER_MB:-64} << 20)) sum
	head -c $bytes /dev/urandom >"$T_TMP/data"
	sum=$(sha256sum <"$T_TMP/data" | cut -d' ' -f1)
	timeout 600 python3 $XFER recv $HOST_IP 5001 $bytes >"$T_TMP/recv" &
	local rpid=$!
	wait_for '^listening' "$T_TMP/recv" $rpid || return 1
	start_vm "$HELLO; nc -l -p 5000 | sha256sum; head -c $bytes /dev/urandom >/tmp/d && sha256sum /tmp/d && nc $HOST_IP 5001 -e cat /tmp/d && while grep -q ':1389 0[14B] ' /proc/net/tcp; do sleep 0.2; done; echo sent; read x; echo bye" || { kill $rpid; return 1; }
	timeout 600 python3 $XFER send $GUEST_IP 5000 "$T_TMP/data" || { kill -9 $pid; kill $rpid; return 1; }
	wait_for '^sent' "$T_TMP/out" $pid || { kill -9 $pid; kill $rpid; return 1; }
	wait $rpid || { echo "receiver failed"; cat "$T_TMP/recv"; kill -9 $pid; return 1; }
	kill -USR1 $pid
	wait_for '^\{"device":"vfio0"' "$T_TMP/err" $pid || { kill -9 $pid; return 1; }
	finish_vm || return 1
	check_hello "$T_TMP/out" || return 1
	expect_grep "^$sum +-" "$T_TMP/out" || return 1
	local gsum
	gsum=$(tr -d '\r' <"$T_TMP/out" | awk '$2 == "/tmp/d" {print $1}')
	[ -n "$gsum" ] || { echo "no guest checksum"; tail "$T_TMP/out"; return 1; }
	expect_grep "^received $bytes sha256 $gsum\$" "$T_TMP/recv" || return 1
	grep -h '^received in\|^sent' "$T_TMP/recv"
	grep '^{"device":"vfio0"' "$T_TMP/err"
	expect_grep "^\\{\"device\":\"vfio0\",\"bdf\":\"$VF\",\"group\":$GROUP,\"bars\":\\[\\{\"bar\":0,\"size\":[0-9]+,\"addr\":\"0x[0-9a-f]+\",\"slots\":[1-3]\\}.*\"msix\":\\{\"vectors\":[1-9][0-9]*,\"enabled\":true\\},\"msix_accesses\":[1-9][0-9]*,\"trapped_reads\":0,\"trapped_writes\":0\\}$" "$T_TMP/err" || return 1
	vf_works
}

# Through ember-jailer (ember's own --vfio: the jailer gives the jail the
# VF's group node): the same interface, MAC and ping.
t_jailed() {
	T_TIMEOUT=300 expect_status 0 "$JAILER" --id vfnet-$S --exec-file "$EMBER" --uid $JUID --gid $JGID \
		--chroot-base "$BASE" -- "${VM[@]}" -- sh -c "$HELLO; $IRQS" || return 1
	check_hello "$T_OUT" || return 1
	[ "$(irq_count "$T_OUT" eth0-rx-0)" -gt 0 ] || { echo "no rx interrupts in the jailed guest"; tail -n 20 "$T_OUT"; return 1; }
	jail_cleanup vfnet
	vf_works
}

# The VF works again for the next VM after ember ended each way: its command
# done, a SIGKILL while the guest sends, and the guest's reboot.
t_reused_after_exit() {
	T_TIMEOUT=240 expect_status 0 "$EMBER" "${VM[@]}" -- sh -c "$HELLO" || return 1
	check_hello "$T_OUT" || return 1
	vf_works || return 1
	# SIGKILL while the guest floods the PF with pings.
	start_vm "$HELLO; echo flooding; ping -i 0.01 -s 1400 $HOST_IP >/dev/null" || return 1
	wait_for '^flooding' "$T_TMP/out" $pid || { kill -9 $pid; return 1; }
	check_hello "$T_TMP/out" || { kill -9 $pid; return 1; }
	sleep 1 # the flood runs (not a wait for an event: the kill must come mid-flood)
	kill -9 $pid
	wait $pid
	exec 8>&-
	vf_works || return 1
	# The guest reboots: ember exits 0.
	T_TIMEOUT=240 expect_status 0 "$EMBER" "${VM[@]}" -- sh -c "$HELLO && reboot -f" || return 1
	check_hello "$T_OUT" || return 1
	vf_works || return 1
	# And once more, after the reboot.
	T_TIMEOUT=240 expect_status 0 "$EMBER" "${VM[@]}" -- sh -c "$HELLO" || return 1
	check_hello "$T_OUT"
}

# The PF goes down under a running guest: its VF's link goes down, ember
# keeps running; the PF comes back and so do the link and the pings.
t_pf_down_under_guest() {
	start_vm "$HELLO; echo net-ready; i=0; while [ \$i -lt 300 ] && [ \$(cat /sys/class/net/eth0/carrier) = 1 ]; do i=\$((i+1)); sleep 0.1; done; echo carrier=\$(cat /sys/class/net/eth0/carrier); read x; i=0; while [ \$i -lt 300 ] && [ \$(cat /sys/class/net/eth0/carrier) != 1 ]; do i=\$((i+1)); sleep 0.1; done; echo carrier=\$(cat /sys/class/net/eth0/carrier); ping -c 3 -W 10 $HOST_IP >/dev/null && echo pinged-again; echo bye" || return 1
	wait_for '^net-ready' "$T_TMP/out" $pid || { kill -9 $pid; return 1; }
	ip link set "$IFACE" down
	wait_for '^carrier=' "$T_TMP/out" $pid || { ip link set "$IFACE" up; kill -9 $pid; return 1; }
	kill -0 $pid || { echo "ember ended when the PF went down"; ip link set "$IFACE" up; return 1; }
	ip link set "$IFACE" up
	finish_vm || return 1
	check_hello "$T_TMP/out" || return 1
	[ "$(tr -d '\r' <"$T_TMP/out" | grep '^carrier=' | tr '\n' ' ')" = "carrier=0 carrier=1 " ] ||
		{ echo "the guest's link did not go down and up:"; tr -d '\r' <"$T_TMP/out" | tail -n 20; return 1; }
	expect_grep '^pinged-again' "$T_TMP/out"
}

# VFNET_TESTS=REGEX runs only the matching tests.
t_run_all vfnet "${VFNET_TESTS:-}"
