# shellcheck shell=bash
# bench/lib.sh: what the benchmark scripts share (sourced): the median and
# the spread of a column of rounds, one round per line of a file, and QEMU's
# version for the rows' labels.

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
