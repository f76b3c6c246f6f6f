#!/usr/bin/env bash
# tests/jail/vfio.sh: ember-jailer --vfio, in the lab booted with --sriov (an
# emulated IOMMU and an SR-IOV NVMe controller). One VF of the NVMe PF is
# bound to vfio-pci; a jail given it holds /dev/vfio/vfio and the VF's group
# node (owned by the VM's uid:gid, mode 0600) and nothing else of /dev/vfio;
# inside it, the unprivileged user can attach the group to a container, get
# the device and pin guest-sized memory for DMA, but not more than the
# memlock default (guest memory + 64 MiB); a jailed ember runs confined with
# the nodes; a device bound to another driver, or a group in use, is refused.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/jail/lib.sh
PROBE=build/tests/vfio_probe
PCI=/sys/bus/pci/devices

# The NVMe PF that can make VFs, one VF from it bound to vfio-pci: $PF, $VF,
# $GROUP (its IOMMU group).
setup_vf() {
	local d
	for d in "$PCI"/*; do
		[ "$(cat "$d/class")" = 0x010802 ] && [ -e "$d/sriov_totalvfs" ] && PF=$(basename "$d") && break
	done
	[ -n "${PF:-}" ] || { echo "no SR-IOV NVMe PF (run in tests/lab/run --sriov)"; return 1; }
	[ "$(basename "$(readlink "$PCI/$PF/driver")")" = nvme ] || { echo "PF $PF is not bound to nvme"; return 1; }
	if [ "$(cat "$PCI/$PF/sriov_numvfs")" = 0 ]; then
		echo 0 >"$PCI/$PF/sriov_drivers_autoprobe" &&
			echo 1 >"$PCI/$PF/sriov_numvfs" || return 1
	fi
	VF=$(basename "$(readlink "$PCI/$PF/virtfn0")")
	if [ "$(basename "$(readlink "$PCI/$VF/driver" 2>/dev/null)")" != vfio-pci ]; then
		echo vfio-pci >"$PCI/$VF/driver_override" && echo "$VF" >/sys/bus/pci/drivers_probe || return 1
	fi
	GROUP=$(basename "$(readlink "$PCI/$VF/iommu_group")")
	[ -c "/dev/vfio/$GROUP" ] || { echo "no /dev/vfio/$GROUP for $VF"; return 1; }
	echo "PF $PF, VF $VF in IOMMU group $GROUP"
}
setup_vf || { echo "FAIL vfio/setup"; echo "0 passed, 1 failed"; exit 1; }

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

# A jailed ember with the VF's nodes: confined as ever, memlock from its --mem.
t_ember_jailed_with_vfio() {
	start_jailed vfio --vfio "$VF" -- --kernel "$SPIN" --mem 128 --boot-time --console "file:$T_TMP/vfio.log" || return 1
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

for t in $(declare -F | awk '$3 ~ /^t_/ && $3 != "t_run" && $3 != "t_summary" {print $3}'); do
	t_run "vfio/${t#t_}" "$t"
done
t_summary
