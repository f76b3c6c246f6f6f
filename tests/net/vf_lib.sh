# shellcheck shell=bash
# tests/net/vf_lib.sh: what the scripts that give a Linux guest the lab's igb
# VF share (sourced from the repository root; tests/net/vf.sh and
# bench/net.sh), in a lab booted with --sriov-net.
#
# vf_enter_netns [optional] -- ARGS...: (first, before anything else) make VF 0
# ready (tests/lab/sriov-netvf), move the PF's interface into a new network
# namespace and run this script again inside it with ARGS, exporting PF, VF,
# GROUP, IFACE (the PF's interface) and VFMAC (the MAC the PF gave the VF);
# exits with its status. The namespace, held by a sleeper, goes when the
# script ends, and the interface goes back. With "optional", a lab without
# the PF is not an error: the script runs in a plain new namespace with VF
# empty. Inside the namespace (EMBER_NET_NETNS set) it returns at once.
vf_enter_netns() {
	local optional=0 setup holder rc _
	[ "$1" = optional ] && optional=1 && shift
	[ "$1" = -- ] && shift
	[ -z "${EMBER_NET_NETNS:-}" ] || return 0
	if ! setup=$(tests/lab/sriov-netvf 2>&1); then
		if [ $optional = 1 ]; then
			echo "$setup: no VF rows" >&2
			EMBER_NET_NETNS=1 VF='' exec unshare -n bash "$0" "$@"
		fi
		echo "$setup" >&2
		return 1
	fi
	read -r PF VF GROUP IFACE VFMAC <<<"$setup"
	[ -n "$VFMAC" ] && [ "$IFACE" != - ] || { echo "vf: the PF has no interface" >&2; return 1; }
	unshare -n sleep 100000 &
	holder=$!
	for _ in $(seq 1 100); do
		[ "$(readlink /proc/$holder/ns/net 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ] && break
		sleep 0.05
	done
	ip link set "$IFACE" netns $holder || { kill $holder; echo "vf: cannot move $IFACE into a namespace" >&2; return 1; }
	EMBER_NET_NETNS=1 PF=$PF VF=$VF GROUP=$GROUP IFACE=$IFACE VFMAC=$VFMAC \
		nsenter -t $holder -n bash "$0" "$@"
	rc=$?
	kill $holder
	exit $rc
}

# vf_guest DIR BASE_INITRD [MORE.cpio.gz...]: the guest for the VF: prints
# "KERNEL INITRD", the lab's Debian generic kernel (the cloud kernel has no
# igbvf) and DIR/initrd-igbvf.gz: BASE_INITRD, the MORE archives, and
# igbvf.ko from the lab's module tree, which init loads (/etc/ember-modules)
# before it configures eth0. EMBER_VF_KERNEL overrides the kernel.
vf_guest() {
	local dir=$1 base=$2 labdir kver ko
	shift 2
	labdir=${EMBER_LAB_MODULES%/modroot}
	kver=$(cat "$labdir/kver" 2>/dev/null)
	ko=$EMBER_LAB_MODULES/lib/modules/$kver/kernel/drivers/net/ethernet/intel/igbvf/igbvf.ko
	local kernel=${EMBER_VF_KERNEL:-$labdir/vmlinuz}
	[ -f "$kernel" ] && [ -f "$ko" ] && [ -f "$base" ] || {
		echo "vf: kernel '$kernel', igbvf '$ko', initramfs '$base': run in the lab after make guest" >&2
		return 1
	}
	mkdir -p "$dir/igbvf-addon/etc"
	cp "$ko" "$dir/igbvf-addon/igbvf.ko"
	echo /igbvf.ko >"$dir/igbvf-addon/etc/ember-modules"
	(cd "$dir/igbvf-addon" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -n) >"$dir/igbvf.cpio.gz"
	cat "$base" "$@" "$dir/igbvf.cpio.gz" >"$dir/initrd-igbvf.gz" || return 1
	echo "$kernel $dir/initrd-igbvf.gz"
}
