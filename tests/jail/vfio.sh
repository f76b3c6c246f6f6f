#!/usr/bin/env bash
# tests/jail/vfio.sh: VFIO passthrough (ember --vfio) and ember-jailer --vfio,
# in the lab booted with --sriov (an emulated IOMMU and an SR-IOV NVMe
# controller). One VF of the NVMe PF gets queues and interrupts and is bound
# to vfio-pci. A guest given it does I/O through its nvme driver (data read
# back, on the NVMe image, MSI-X interrupts), plainly and jailed. A jail given
# it holds /dev/vfio/vfio and the VF's group node (owned by the VM's uid:gid,
# mode 0600) and nothing else of /dev/vfio; inside it, the unprivileged user
# can attach the group to a container, get the device and pin guest-sized
# memory for DMA, but not more than the memlock default (guest memory + 64
# MiB); a jailed ember runs confined with the VF; a device bound to another
# driver, or a group in use, is refused; a VM with the VF cannot be snapshot.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/jail/lib.sh
. tests/api/lib.sh
PROBE=build/tests/vfio_probe
PCI=/sys/bus/pci/devices

# The NVMe PF, its VF 0 bound to vfio-pci, and the VF's IOMMU group.
read -r PF VF GROUP <<<"$(tests/lab/sriov-vf)" && [ -n "$GROUP" ] ||
	{ echo "FAIL vfio/setup"; echo "0 passed, 1 failed"; exit 1; }
echo "PF $PF, VF $VF in IOMMU group $GROUP"

# /dev/vfio of the jail at ROOT: the container and the VF's group, for JUID:JGID.
check_vfio_nodes() {
	local root=$1 n
	[ "$(ls -A "$root/dev/vfio" | sort | tr '\n' ' ')" = "$(printf '%s\n' "$GROUP" vfio | sort | tr '\n' ' ')" ] ||
		{ echo "dev/vfio: $(ls -A "$root/dev/vfio")"; return 1; }
	for n in vfio "$GROUP"; do
		[ "$(stat -c %F:%u:%g:%a "$root/dev/vfio/$n")" = "character special file:$JUID:$JGID:600" ] ||
			{ echo "dev/vfio/$n: $(stat -c %F:%u:%g:%a "$root/dev/vfio/$n")"; return 1; }
		[ "$(stat -c %t:%T "$root/dev/vfio/$n")" = "$(stat -c %t:%T "/dev/vfio/$n")" ] ||
			{ echo "dev/vfio/$n is not the host's device"; return 1; }
	done
}

# The probe in ember's place: everything passthrough needs works as JUID:JGID.
t_probe_uses_vf_in_jail() {
	expect_status 0 "$JAILER" --id probe-$S --exec-file "$PROBE" --uid $JUID --gid $JGID --chroot-base "$BASE" \
		--vfio "$VF" -- "$VF" "$GROUP" 256 || return 1
	cat "$T_OUT"
	local id
	id=$(printf '%04x:%04x' "$(cat "$PCI/$VF/vendor")" "$(cat "$PCI/$VF/device")")
	expect_grep "^probe: uid $JUID gid $JGID memlock $(((256 + 64) << 20))$" "$T_OUT" || return 1
	expect_grep "^probe: group $GROUP attached to a type1v2 container$" "$T_OUT" || return 1
	expect_grep "^probe: device $VF id $id regions [0-9]+ irqs [0-9]+ msix [1-9]" "$T_OUT" || return 1
	expect_grep "^probe: pinned 256 MiB for DMA$" "$T_OUT" || return 1
	expect_grep "^probe: 128 MiB more refused: Cannot allocate memory$" "$T_OUT" || return 1
	check_vfio_nodes "$BASE/ember/probe-$S/root" || return 1
	[ "$(ls -A "$BASE/ember/probe-$S/root/dev" | tr '\n' ' ')" = "kvm vfio " ] ||
		{ echo "dev: $(ls -A "$BASE/ember/probe-$S/root/dev")"; return 1; }
	jail_cleanup probe
}

# Without --vfio the same probe finds no /dev/vfio.
t_no_vfio_without_the_option() {
	expect_status 1 "$JAILER" --id novfio-$S --exec-file "$PROBE" --uid $JUID --gid $JGID --chroot-base "$BASE" \
		-- "$VF" "$GROUP" 256 || return 1
	expect_grep "^probe: FAILED open /dev/vfio/vfio: No such file or directory$" "$T_OUT" || return 1
	jail_cleanup novfio
}

# A memlock limit given on the command line wins over the default.
t_memlock_option_wins() {
	expect_status 1 "$JAILER" --id memlock-$S --exec-file "$PROBE" --uid $JUID --gid $JGID --chroot-base "$BASE" \
		--vfio "$VF" --resource-limit memlock=$((128 << 20)) -- "$VF" "$GROUP" 256 || return 1
	expect_grep "^probe: uid $JUID gid $JGID memlock $((128 << 20))$" "$T_OUT" || return 1
	expect_grep "^probe: FAILED VFIO_IOMMU_MAP_DMA of MAP_MIB: Cannot allocate memory$" "$T_OUT" || return 1
	jail_cleanup memlock
}

# The guest's I/O through the VF: 1 MiB written and read back through the
# guest's nvme driver, whose queues take MSI-X interrupts; the bytes land in
# the lab's NVMe image. Run as ember ARGS... (plain or jailed).
GUEST_IO='dd if=/dev/urandom of=/tmp/x bs=64k count=16 2>/dev/null; echo wrote $(md5sum </tmp/x); dd if=/tmp/x of=/dev/nvme0n1 bs=64k conv=fsync 2>/dev/null; echo 3 >/proc/sys/vm/drop_caches; echo read $(dd if=/dev/nvme0n1 bs=64k count=16 2>/dev/null | md5sum); grep nvme /proc/interrupts'
check_guest_io() {
	local out=$1 w r n q
	w=$(tr -d '\r' <"$out" | sed -n 's/^wrote \([0-9a-f]\{32\}\).*/\1/p')
	r=$(tr -d '\r' <"$out" | sed -n 's/^read \([0-9a-f]\{32\}\).*/\1/p')
	[ -n "$w" ] && [ "$w" = "$r" ] || { echo "wrote '$w', read back '$r':"; tail -n 20 "$out"; return 1; }
	# The image is on the host, shared into the lab over 9p with cache=loose:
	# read it with O_DIRECT, past the lab's cached copy. (Dropping the lab's
	# caches instead made files the lab had just written over 9p, this
	# test's own output among them, read back cut short.)
	[ "$(dd if="$EMBER_LAB_NVME_IMG" bs=1M count=1 iflag=direct 2>/dev/null | md5sum | cut -c1-32)" = "$w" ] ||
		{ echo "the NVMe image does not hold what the guest wrote"; return 1; }
	# Interrupts on the admin queue and an I/O queue, through MSI-X. A line
	# names every queue on its vector ("nvme0q0, nvme0q1" when they share
	# one); its counts are the numeric fields after the IRQ number.
	for q in nvme0q0 nvme0q1; do
		n=$(tr -d '\r' <"$out" | awk -v q="$q" '/MSI/ && ($0 ~ (" " q ",") || $NF == q) {
			for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END {print s + 0}')
		[ "$n" -gt 0 ] || { echo "no MSI-X interrupts on $q; the guest printed:"; cat -A "$out" | tail -n 40; return 1; }
	done
	echo "guest I/O through $VF: md5 $w; $(tr -d '\r' <"$out" | grep -c 'nvme0q') nvme queues with interrupts"
}

# Plain ember: while the guest waits after its I/O, SIGUSR1 shows the VF's
# BAR 0 placed and mapped by memory slots, and no BAR access outside the
# MSI-X table and PBA having exited to ember: the nvme driver's register and
# doorbell accesses went straight to the device.
t_guest_io_through_vf() {
	[ -e "$G/vmlinuz" ] || { echo "no guest images in $G (make guest)"; return 1; }
	# The guest's stdin: a FIFO on the jail base's tmpfs (9p, where T_TMP is
	# in the lab, has no FIFOs).
	local in=$BASE/stdin-$BASHPID
	mkfifo "$in" || return 1
	"$EMBER" --kernel "$G/vmlinuz" --initrd "$G/initramfs.cpio.gz" --vfio "$VF" \
		-- sh -c "$GUEST_IO; echo io-done; read x; echo bye" <"$in" >"$T_TMP/out" 2>"$T_TMP/err" &
	local pid=$!
	exec 8>"$in"
	wait_for '^io-done' "$T_TMP/out" $pid || { kill -9 $pid; return 1; }
	kill -USR1 $pid
	wait_for '^\{"device":"vfio0"' "$T_TMP/err" $pid || { kill -9 $pid; return 1; }
	echo >&8
	exec 8>&-
	timeout 60 tail --pid=$pid -f /dev/null || { echo "ember still running"; kill -9 $pid; }
	wait $pid || { echo "ember exit status $?"; tail "$T_TMP/out" "$T_TMP/err"; return 1; }
	grep '^{"device":"vfio0"' "$T_TMP/err"
	expect_grep '^bye' "$T_TMP/out" || return 1
	expect_grep "^\\{\"device\":\"vfio0\",\"bdf\":\"$VF\",\"group\":$GROUP,\"bars\":\\[\\{\"bar\":0,\"size\":[0-9]+,\"addr\":\"0x[0-9a-f]+\",\"slots\":[1-3]\\}.*\"msix\":\\{\"vectors\":[1-9][0-9]*,\"enabled\":true\\},\"msix_accesses\":[1-9][0-9]*,\"trapped_reads\":0,\"trapped_writes\":0\\}$" "$T_TMP/err" || return 1
	check_guest_io "$T_TMP/out"
}

t_guest_io_through_vf_jailed() {
	[ -e "$G/vmlinuz" ] || { echo "no guest images in $G (make guest)"; return 1; }
	# ember's own --vfio is enough: the jailer gives the jail the VF's nodes.
	T_TIMEOUT=240 expect_status 0 "$JAILER" --id vfioio-$S --exec-file "$EMBER" --uid $JUID --gid $JGID \
		--chroot-base "$BASE" -- --kernel "$G/vmlinuz" --initrd "$G/initramfs.cpio.gz" \
		--vfio "$VF" -- sh -c "$GUEST_IO" || return 1
	check_guest_io "$T_OUT" || return 1
	check_vfio_nodes "$BASE/ember/vfioio-$S/root" || return 1
	jail_cleanup vfioio
}

# ember refuses a device that is not bound to vfio-pci, before any VM exists.
t_ember_refuses_unbound_device() {
	expect_status 2 "$EMBER" --kernel "$SPIN" --vfio "$PF" || return 1
	expect_lines 1 "$T_ERR" || return 1
	expect_grep "^ember: --vfio $PF: bound to nvme, not to vfio-pci$" "$T_ERR"
}

# A jailed ember passing the VF through (its own --vfio: the jailer adds the
# nodes): every thread confined as ever, memlock from its --mem.
t_ember_jailed_with_vfio() {
	start_jailed vfio -- --kernel "$SPIN" --mem 128 --vfio "$VF" --boot-time --console "file:$T_TMP/vfio.log" || return 1
	local e=$EMBER_PID
	check_confined $e "ember vcpu0" || { kill -9 $PID; return 1; }
	check_vfio_nodes /proc/$e/root || { kill -9 $PID; return 1; }
	grep -Eq "^Max locked memory +$(((128 + 64) << 20)) +$(((128 + 64) << 20)) " /proc/$e/limits ||
		{ grep locked /proc/$e/limits; kill -9 $PID; return 1; }
	stop $PID 143 || return 1
	jail_cleanup vfio
}

t_refused_devices() {
	local ok="--id bad-$S --exec-file $EMBER --uid $JUID --gid $JGID --chroot-base $BASE"
	jail_refused "--vfio $PF: bound to nvme, not to vfio-pci" $ok --vfio "$PF" -- --kernel "$SPIN" || return 1
	# The group held open elsewhere (another VM): refused, nothing built.
	exec 9<>"/dev/vfio/$GROUP" || return 1
	jail_refused "--vfio $VF: IOMMU group $GROUP is in use" $ok --vfio "$VF" -- --kernel "$SPIN" || { exec 9>&-; return 1; }
	exec 9>&-
	# A failure after the check (a missing kernel) removes the nodes too.
	jail_refused "--kernel /nonexistent: No such file" $ok --vfio "$VF" -- --kernel /nonexistent || return 1
}

# A VM with a passed-through device cannot be snapshot (its state is in the
# hardware): one line, a 400, no file made; the VM goes on.
t_snapshot_refused_with_vf() {
	local s=$T_SOCK/vfio_snap.sock
	start_api "$s" --kernel "$SPIN" --vfio "$VF" || return 1
	wait_running "$s" $pid || { kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s" PATCH /vm '{"state":"Paused"}' || { kill -9 $pid; return 1; }
	expect_api 400 'vfio0 \(vfio-pci\) cannot be saved' "$s" PUT /snapshot/create \
		"{\"snapshot_path\":\"$T_SOCK/v.state\",\"mem_file_path\":\"$T_SOCK/v.mem\"}" || { kill -9 $pid; return 1; }
	[ ! -e "$T_SOCK/v.state" ] && [ ! -e "$T_SOCK/v.mem" ] || { echo "a refused snapshot left files"; kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s" PATCH /vm '{"state":"Resumed"}' || { kill -9 $pid; return 1; }
	expect_api 200 '"state":"Running"' "$s" GET / || { kill -9 $pid; return 1; }
	kill -TERM $pid
	wait $pid
	[ $? = 143 ] || { echo "ember's exit status after SIGTERM: not 143"; return 1; }
}

# VFIO_TESTS=REGEX runs only the matching tests.
t_run_all vfio "${VFIO_TESTS:-}"
