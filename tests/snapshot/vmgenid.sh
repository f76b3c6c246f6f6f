#!/usr/bin/env bash
# tests/snapshot/vmgenid.sh: the VM generation ID of a Linux guest across
# snapshots. A guest (booted with --api-sock) reads the 16-byte ID at 0xff000
# through /dev/mem and shows that its vmgenid driver bound to VGEN, then waits
# for its kernel to log "crng reseeded due to virtual machine fork"; it is
# paused and saved (PUT /snapshot/create) and ember killed; the snapshot is
# restored twice (--restore, one after the other): each restored guest logs
# the reseed (its vmgenid driver took the Generic Event Device's interrupt and
# found a new ID), reads an ID unlike the original's and the other clone's,
# and exits 0. The original never logs the reseed.
#
# Needs a guest kernel with CONFIG_VMGENID, which the Debian cloud kernel
# (build/guest) lacks: the Debian generic kernel, which the lab boots, is used
# (EMBER_VMGENID_KERNEL, default the lab's vmlinuz: next to $EMBER_LAB_MODULES
# inside the lab, from tests/lab/build natively).
# The initramfs is build/guest's (its cloud modules are skipped by init).
# Needs a KVM that can boot Linux: run it inside the lab (tests/lab/run).
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
EMBER=${EMBER:-build/ember}
. tests/api/lib.sh
G=${EMBER_GUEST:-build/guest}
INITRD=$G/initramfs.cpio.gz
KERNEL=${EMBER_VMGENID_KERNEL:-${EMBER_LAB_MODULES:+${EMBER_LAB_MODULES%/modroot}/vmlinuz}}
[ -n "$KERNEL" ] || KERNEL=$(tests/lab/build 2>/dev/null)/vmlinuz # natively

# The guest: waits until its RNG is ready (a read of /dev/random), prints the
# ID (id=32 hex digits; 0xff000 / 16 = 65280), the vmgenid driver's devices
# and the GED's interrupt line, then waits for the reseed and prints the ID
# again. (One line, no quotes: it travels on the kernel command line, which
# the kernel's log also holds: the patterns do not match themselves.)
READ_ID="dd if=/dev/mem bs=16 skip=65280 count=1 2>/dev/null | od -An -tx1 | tr -dc 0-9a-f"
GUEST_CMD="head -c 1 /dev/random >/dev/null; echo id=\$($READ_ID); \
echo bound=\$(ls /sys/bus/acpi/drivers/vmgenid | grep -c :); grep Ged /proc/interrupts; echo ready; \
while ! dmesg | grep -q mach[i]ne.fork; do sleep 0.1; done; \
dmesg | grep mach[i]ne.fork; echo id=\$($READ_ID); grep Ged /proc/interrupts; echo reseeded"

# ids FILE: the id= values the guest printed, one a line.
ids() { tr -d '\r' <"$1" | sed -n 's/^id=\([0-9a-f]*\)$/\1/p'; }

# check_id ID: 32 hex digits, not all zeros.
check_id() {
	[[ $1 =~ ^[0-9a-f]{32}$ ]] && [ "$1" != 00000000000000000000000000000000 ] ||
		{ echo "not an ID: '$1'"; return 1; }
}

t_new_id_per_restore() {
	[ -n "$KERNEL" ] && [ -f "$KERNEL" ] ||
		{ echo "no guest kernel with CONFIG_VMGENID (EMBER_VMGENID_KERNEL='$KERNEL')"; return 1; }
	local s=$T_SOCK/vmgenid.sock p=$T_SOCK/snap pid i rc orig ids_all=()
	"$EMBER" --kernel "$KERNEL" --initrd "$INITRD" --mem 256 --api-sock "$s" \
		-- sh -c "$GUEST_CMD" >"$T_TMP/out0" 2>"$T_TMP/err0" </dev/null &
	pid=$!
	wait_for '^ready' "$T_TMP/out0" $pid || { kill -9 $pid; tail -n 5 "$T_TMP/err0"; return 1; }
	if ! tr -d '\r' <"$T_TMP/out0" | grep -q '^bound=1$'; then
		echo "the guest's vmgenid driver did not bind to VGEN:"
		tr -d '\r' <"$T_TMP/out0" | grep -iE 'bound=|vmgenid|ged|acpi.*(error|warn)' | head -n 20
		kill -9 $pid
		return 1
	fi
	expect_api 204 '^$' "$s" PATCH /vm '{"state":"Paused"}' || { kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /snapshot/create \
		"{\"snapshot_path\":\"$p.state\",\"mem_file_path\":\"$p.mem\"}" || { kill -9 $pid; return 1; }
	kill -9 $pid
	wait $pid 2>/dev/null
	! tr -d '\r' <"$T_TMP/out0" | grep -q 'machine fork' ||
		{ echo "the original guest saw a VM fork"; return 1; }
	orig=$(ids "$T_TMP/out0")
	check_id "$orig" || return 1
	ids_all+=("$orig")

	for i in 1 2; do
		"$EMBER" --restore "$p.state" --mem-file "$p.mem" >"$T_TMP/out$i" 2>"$T_TMP/err$i" </dev/null &
		pid=$!
		if ! wait_for '^reseeded' "$T_TMP/out$i" $pid; then
			kill -9 $pid
			tail -n 5 "$T_TMP/err$i"
			return 1
		fi
		timeout 60 tail --pid=$pid -f /dev/null
		wait $pid
		rc=$?
		[ $rc = 0 ] || { echo "restore $i: exit status $rc"; tail -n 5 "$T_TMP/err$i"; return 1; }
		tr -d '\r' <"$T_TMP/out$i" | grep -q 'crng reseeded due to virtual machine fork' ||
			{ echo "restore $i: no reseed in the kernel's log"; return 1; }
		! tr -d '\r' <"$T_TMP/out$i" | grep -q '^ready' ||
			{ echo "restore $i: the guest started again"; return 1; }
		local id
		id=$(ids "$T_TMP/out$i")
		check_id "$id" || return 1
		ids_all+=("$id")
		echo "restore $i: $(tr -d '\r' <"$T_TMP/out$i" | grep -m1 'ACPI:Ged')"
	done
	echo "IDs: ${ids_all[*]}"
	[ "$(printf '%s\n' "${ids_all[@]}" | sort -u | wc -l)" = 3 ] ||
		{ echo "the IDs are not all different"; return 1; }
}

t_run_all snapshot
