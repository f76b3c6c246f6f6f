#!/usr/bin/env bash
# tests/disk/disk.sh: virtio-blk disks (--disk) on the PCI bus: the guest reads
# a random disk bit for bit, its flushed writes survive ember being SIGKILLed,
# read-only disks refuse writes, two disks appear as vda and vdb with their
# sizes, the ext4 root boots from a disk, and a disk file truncated under the
# running guest gives guest I/O errors, not a dead ember. Needs a KVM that can
# boot Linux: run it inside the lab (tests/lab/run).
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
EMBER=${EMBER:-build/ember}
G=${EMBER_GUEST:-build/guest}
BZ=$G/vmlinuz
INITRD=$G/initramfs.cpio.gz
ROOTFS=$G/rootfs.ext4

t_read_random_disk() {
	head -c 64M /dev/urandom >"$T_TMP/data.img"
	local sum
	sum=$(sha256sum <"$T_TMP/data.img" | cut -d' ' -f1)
	expect_status 0 "$EMBER" --kernel "$BZ" --initrd "$INITRD" --cpus 2 --disk "$T_TMP/data.img" \
		-- sh -c 'sha256sum /dev/vda' || return 1
	expect_grep "^$sum +/dev/vda" "$T_OUT"
}

t_flushed_writes_survive_sigkill() {
	head -c 1M /dev/zero >"$T_TMP/a.img"
	head -c 8M /dev/zero >"$T_TMP/b.img"
	yes EMBER-PATTERN | head -c 4M >"$T_TMP/want"
	"$EMBER" --kernel "$BZ" --initrd "$INITRD" --disk "$T_TMP/a.img" --disk "$T_TMP/b.img" \
		-- sh -c 'yes EMBER-PATTERN | head -c 4194304 >/dev/vdb && sync && echo write-done-marker; sleep 600' \
		>"$T_TMP/kill.out" 2>&1 </dev/null &
	local pid=$!
	wait_for '^write-done-marker' "$T_TMP/kill.out" "$pid" || { kill -KILL "$pid"; return 1; }
	kill -KILL "$pid"
	wait "$pid"
	cmp -n 4194304 "$T_TMP/want" "$T_TMP/b.img" || return 1
	# the rest of the disk is untouched
	cmp -i 4194304 -n 4194304 "$T_TMP/b.img" /dev/zero
}

t_read_only_disk() {
	head -c 4M /dev/urandom >"$T_TMP/ro.img"
	local before
	before=$(sha256sum <"$T_TMP/ro.img")
	expect_status 0 "$EMBER" --kernel "$BZ" --initrd "$INITRD" --disk "$T_TMP/ro.img,ro" \
		-- sh -c 'dd if=/dev/zero of=/dev/vda bs=4096 count=1 conv=fsync; echo dd-status=$?; cat /sys/block/vda/ro' || return 1
	expect_grep '^dd-status=[1-9]' "$T_OUT" || return 1
	[ "$(sha256sum <"$T_TMP/ro.img")" = "$before" ] || { echo "read-only disk changed"; return 1; }
}

t_two_disks() {
	head -c 8M /dev/zero >"$T_TMP/d1.img"
	head -c 16M /dev/zero >"$T_TMP/d2.img"
	expect_status 0 "$EMBER" --kernel "$BZ" --initrd "$INITRD" \
		--disk "$T_TMP/d1.img" --disk "$T_TMP/d2.img,id=SECOND" \
		-- sh -c 'echo vda=$(cat /sys/block/vda/size) vdb=$(cat /sys/block/vdb/size) serial=$(cat /sys/block/vdb/serial)' || return 1
	expect_grep '^vda=16384 vdb=32768 serial=SECOND' "$T_OUT"
}

t_ext4_root_on_disk() {
	cp "$ROOTFS" "$T_TMP/root.ext4"
	expect_status 0 "$EMBER" --kernel "$BZ" --initrd "$INITRD" --disk "$T_TMP/root.ext4" \
		--cmdline ember.root=/dev/vda -- sh -c 'cat /proc/mounts' || return 1
	expect_grep '^/dev/vda / ext4 ' "$T_OUT"
}

# The handshake goes through the guest console's input (a pipe: the lab's
# shared /tmp has no fifos): the feeder waits for the guest's first read,
# truncates the disk file and then tells the guest to read again.
# trunc.done ends the feeder early when ember ended first.
trunc_feeder() {
	local _
	for _ in $(seq 1 1200); do
		tr -d '\r' <"$T_TMP/trunc.out" 2>/dev/null | grep -q '^first-read-ok' && break
		[ -e "$T_TMP/trunc.done" ] && return
		sleep 0.1
	done
	truncate -s 0 "$T_TMP/t.img"
	echo go	# then end: ember still delivers it, the guest sees no more input
}

t_truncated_disk_gives_io_errors() {
	head -c 16M /dev/urandom >"$T_TMP/t.img"
	: >"$T_TMP/trunc.out"
	trunc_feeder | timeout -k 10 240 "$EMBER" --kernel "$BZ" --initrd "$INITRD" --disk "$T_TMP/t.img" \
		-- sh -c 'dd if=/dev/vda of=/dev/null bs=4096 count=1 && echo first-read-ok; read x; echo 3 >/proc/sys/vm/drop_caches; dd if=/dev/vda of=/dev/null bs=4096 skip=2000 count=1 && exit 5; exit 42' \
		>"$T_TMP/trunc.out" 2>&1
	local rc=${PIPESTATUS[1]}
	touch "$T_TMP/trunc.done"
	[ "$rc" = 42 ] || { echo "exit status $rc, want 42"; tail -n 30 "$T_TMP/trunc.out"; return 1; }
	expect_grep '^first-read-ok' "$T_TMP/trunc.out"
}

# DISK_TESTS=REGEX runs only the matching tests.
t_run_all disk "${DISK_TESTS:-}"
