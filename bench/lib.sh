# shellcheck shell=bash
# bench/lib.sh: what the benchmark scripts share (sourced): the median and
# the spread of a column of rounds, one round per line of a file, QEMU's
# version for the rows' labels, and kvmtool's rows' check, version and
# kernel command line.

# median FILE [COLUMN [DIVISOR [FORMAT]]]: the median of COLUMN (default 1)
# over FILE's lines, each value divided by DIVISOR (default 1), printed with
# the printf FORMAT (default: as awk prints a number); the mean of the middle
# two for an even count. "failed" when any line's column says so, "-" for an
# empty file.
median() {
	awk -v c="${2:-1}" '$c == "failed" { bad = 1 } END { exit !bad }' "$1" && { echo failed; return; }
	awk -v c="${2:-1}" -v s="${3:-1}" '{ print $c / s }' "$1" | sort -g | awk -v f="${4:-}" '
		{ v[NR] = $1 }
		END {
			if (!NR) { printf "-"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			if (f == "") print m; else printf f, m
		}'
}

# spread FILE [COLUMN [DIVISOR [FORMAT]]]: " (lowest-highest)" of the same
# values (the failed rounds left out), nothing for fewer than two rounds.
spread() {
	awk -v c="${2:-1}" -v s="${3:-1}" '$c != "failed" { print $c / s }' "$1" | sort -g |
		awk -v f="${4:-%s}" 'NR == 1 {lo = $1} {hi = $1}
			END {if (NR > 1) printf " (" f "-" f ")", lo, hi}'
}

# qemu_version: the version of qemu-system-x86_64 (e.g. 7.2.22), for labels.
qemu_version() { qemu-system-x86_64 --version | awk 'NR == 1 { print $4 }'; }

# lkvm_check: ends the script unless $LKVM is an executable; sets
# LKVM_VERSION (e.g. 3.18.0), for the rows' labels.
lkvm_check() {
	[ -x "$LKVM" ] || { echo "bench: LKVM=$LKVM is not an executable" >&2; exit 1; }
	LKVM_VERSION=$("$LKVM" version 2>/dev/null | awk '{print $NF}')
}

# kvmtool's x86 kernel command line (for `lkvm run --nodefaults -p`) without
# its `noacpi` (not a kernel parameter, so the kernel hands it to init as its
# command), `root=/dev/vda rw` (there is no disk; init would try to mount
# it) and `earlyprintk=serial` (it prints the early log before `quiet` takes
# effect: the same console output as the other rows). kvmtool has no ACPI
# and no exit port: its guests end with a reset (`reboot -f`, reboot=k).
LKVM_APPEND="noapic pci=conf1 reboot=k panic=1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 console=ttyS0 quiet"
