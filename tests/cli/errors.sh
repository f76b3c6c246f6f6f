#!/usr/bin/env bash
# tests/cli/errors.sh: ember's answers to bad user input, run natively: each
# mistake gets exactly one "ember: ..." line on stderr and exit status 2,
# before any VM is made (so this group needs no KVM).
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
EMBER=${EMBER:-build/ember}
PAYLOAD=$T_TMP/payload.elf
build/tests/mkpayload 0 "$PAYLOAD" || exit 1

# one_error PATTERN ARGS...: exit 2, one stderr line matching PATTERN, no stdout.
one_error() {
	local pat=$1
	shift
	expect_status 2 "$EMBER" "$@" || return 1
	expect_lines 1 "$T_ERR" || return 1
	expect_grep "^ember: .*$pat" "$T_ERR" || return 1
	[ ! -s "$T_OUT" ] || { echo "unexpected stdout:"; cat "$T_OUT"; return 1; }
}

t_missing_kernel_file() { one_error "cannot read kernel '/nonexistent/vmlinux': No such file" --kernel /nonexistent/vmlinux; }
t_kernel_is_directory() { one_error "cannot read kernel '/tmp'" --kernel /tmp; }
t_unreadable_initrd() { one_error "cannot read initrd '/nonexistent/initrd'" --kernel "$PAYLOAD" --initrd /nonexistent/initrd; }
t_not_a_kernel() { one_error "not a kernel ember can boot" --kernel /etc/hostname; }
t_truncated_elf() {
	head -c 100 "$PAYLOAD" >"$T_TMP/trunc.elf"
	one_error "kernel '.*': .*(truncated|outside)" --kernel "$T_TMP/trunc.elf"
}
t_elf32_kernel() {
	cp "$PAYLOAD" "$T_TMP/e32.elf"
	printf '\001' | dd of="$T_TMP/e32.elf" bs=1 seek=4 conv=notrunc status=none
	one_error "not a 64-bit" --kernel "$T_TMP/e32.elf"
}
t_unknown_flag() { one_error "unknown option '--frobnicate'" --frobnicate --kernel "$PAYLOAD"; }
t_missing_value() { one_error "--mem needs a value" --kernel "$PAYLOAD" --mem; }
t_bad_number() { one_error "--cpus: 'two' is not a number" --kernel "$PAYLOAD" --cpus two; }
t_too_many_cpus() { one_error "--cpus: '999'" --kernel "$PAYLOAD" --cpus 999; }
t_too_little_memory() { one_error "--mem: '8'" --kernel "$PAYLOAD" --mem 8; }
t_too_much_memory() { one_error "more than this host's .* MiB of RAM" --kernel "$PAYLOAD" --mem 100000000; }
t_bad_console() { one_error "--console: 'tty'" --kernel "$PAYLOAD" --console tty; }
t_console_file_dir() { one_error "--console file:/nonexistent/dir/log" --kernel "$PAYLOAD" --console file:/nonexistent/dir/log; }
t_no_kernel() { one_error "no kernel given" --mem 64; }
t_stray_argument() { one_error "unexpected argument 'vmlinux'" vmlinux; }
t_quote_in_guest_word() { one_error "double quote" --kernel "$PAYLOAD" -- echo 'a"b'; }
t_missing_disk() { one_error "--disk /nonexistent/disk.img: No such file" --kernel "$PAYLOAD" --disk /nonexistent/disk.img; }
t_bad_disk_option() { one_error "--disk .*unknown option 'bogus'" --kernel "$PAYLOAD" --disk /etc/hostname,bogus; }
t_empty_disk_path() { one_error "--disk: empty path" --kernel "$PAYLOAD" --disk ''; }
t_disk_not_sector_multiple() {
	printf 'abc' >"$T_TMP/odd.img"
	one_error "not a multiple of 512" --kernel "$PAYLOAD" --disk "$T_TMP/odd.img"
}
t_disk_is_directory() { one_error "--disk /tmp: (Is a directory|not a regular file)" --kernel "$PAYLOAD" --disk /tmp; }
t_bad_net_option() { one_error "--net: unknown key 'bogus'" --kernel "$PAYLOAD" --net tap=tap0,bogus=1; }
t_net_without_tap() { one_error "--net: no tap=NAME" --kernel "$PAYLOAD" --net queues=2; }
t_net_tap_twice() { one_error "--net: tap=tap0 given twice" --kernel "$PAYLOAD" --net tap=tap0 --net tap=tap0; }
t_net_bad_mac() { one_error "--net: mac '01:00:5e:00:00:01' is not a unicast MAC" --kernel "$PAYLOAD" --net tap=t,mac=01:00:5e:00:00:01; }
t_help() {
	expect_status 0 "$EMBER" --help || return 1
	for opt in kernel initrd cmdline cpus mem console disk net boot-time help version; do
		expect_grep "^  --$opt" "$T_OUT" || return 1
	done
}
t_version() { expect_status 0 "$EMBER" --version && expect_grep '^ember ' "$T_OUT"; }

for t in $(declare -F | awk '$3 ~ /^t_/ && $3 != "t_run" && $3 != "t_summary" {print $3}'); do
	t_run "cli/${t#t_}" "$t"
done
t_summary
