# tests/net/netns.sh: what the test groups that give a Linux guest a TAP share
# (sourced first, from the repository root): the group re-executes itself in
# a network namespace of its own (so its TAPs and link-local addresses touch
# nothing else), then gets tests/lib.sh, the guest's kernel and initramfs,
# the host's and the guest's addresses and a loopback that is up.
if [ -z "${EMBER_NET_NETNS:-}" ]; then
	EMBER_NET_NETNS=1 exec unshare -n bash "$0" "$@"
fi
. tests/lib.sh
EMBER=${EMBER:-build/ember}
G=${EMBER_GUEST:-build/guest}
BZ=$G/vmlinuz
INITRD=$G/initramfs.cpio.gz
XFER=tests/net/xfer.py
HOST_IP=169.254.1.1
GUEST_IP=169.254.1.2

ip link set lo up
