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
t_bad_irqchip() { one_error "--irqchip: 'pic' is not split or kernel" --kernel "$PAYLOAD" --irqchip pic; }
t_bad_seccomp() { one_error "--seccomp: 'maybe' is not on or off" --kernel "$PAYLOAD" --seccomp maybe; }
t_bad_kernel_unpack() { one_error "--kernel-unpack: 'on' is not auto, all or off" --kernel "$PAYLOAD" --kernel-unpack on; }
t_bad_initrd_unpack() { one_error "--initrd-unpack: 'on' is not auto, all or off" --kernel "$PAYLOAD" --initrd-unpack on; }
t_fill_kernel_cache_without_kernel() { one_error "--fill-kernel-cache: no kernel given" --fill-kernel-cache; }
t_fill_kernel_cache_with_api() { one_error "--fill-kernel-cache: not with --api-sock" --fill-kernel-cache --api-sock "$T_TMP/api.sock"; }
t_fill_kernel_cache_with_restore() { one_error "--fill-kernel-cache: not with --restore" --restore "$T_TMP/s" --mem-file "$T_TMP/m" --fill-kernel-cache; }
t_fill_kernel_cache_off() { one_error "--fill-kernel-cache: no kernel cache to fill" --kernel "$PAYLOAD" --kernel-cache off --fill-kernel-cache; }
t_fill_kernel_cache_missing_initrd() { one_error "cannot read initrd '/nonexistent/initrd'" --kernel "$PAYLOAD" --initrd /nonexistent/initrd --fill-kernel-cache; }
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
# ember-jailer: bad arguments are refused before anything is built (the
# jail and cgroup tests are in tests/jail/jail.sh).
JAILER=${JAILER:-build/ember-jailer}
jailer_error() {
	local pat=$1
	shift
	expect_status 2 "$JAILER" "$@" || return 1
	expect_lines 1 "$T_ERR" || return 1
	expect_grep "^ember-jailer: .*$pat" "$T_ERR" || return 1
	[ ! -s "$T_OUT" ] || { echo "unexpected stdout:"; cat "$T_OUT"; return 1; }
	[ ! -e "$T_TMP/jails/ember" ] || { echo "jail directory made"; return 1; }
}
J_OK=(--exec-file "$EMBER" --uid 1000 --gid 1000 --chroot-base "$T_TMP/jails")
t_jailer_bad_id() { jailer_error "--id: 'a.b' is not 1-64 letters" --id a.b "${J_OK[@]}" -- --kernel "$PAYLOAD"; }
t_jailer_missing_gid() { jailer_error "missing --gid" --id a --exec-file "$EMBER" --uid 1 -- --kernel "$PAYLOAD"; }
t_jailer_no_ember_args() { jailer_error "no ember arguments" --id a "${J_OK[@]}"; }
t_jailer_unknown_option() { jailer_error "unknown option '--chroot'" --id a "${J_OK[@]}" --chroot /x -- --kernel "$PAYLOAD"; }
t_jailer_bad_cgroup() { jailer_error "--cgroup: 'memory.max' is not FILE=VALUE" --id a "${J_OK[@]}" --cgroup memory.max -- --kernel "$PAYLOAD"; }
t_jailer_bad_rlimit() { jailer_error "--resource-limit fsize: 'x'" --id a "${J_OK[@]}" --resource-limit fsize=x -- --kernel "$PAYLOAD"; }
# ember's config file is read (as ember would read it) before anything is built.
t_jailer_config_missing() { jailer_error "--config-file /nonexistent/vm.json: No such file" --id a "${J_OK[@]}" -- --config-file /nonexistent/vm.json; }
t_jailer_config_not_json() {
	echo '{"boot-source": nope}' >"$T_TMP/vm.json"
	jailer_error "--config-file $T_TMP/vm.json: invalid JSON at line 1" --id a "${J_OK[@]}" -- --config-file "$T_TMP/vm.json"
}
t_jailer_config_no_kernel() {
	echo '{"boot-source": {}}' >"$T_TMP/vm.json"
	jailer_error "--config-file $T_TMP/vm.json: boot-source.kernel_image_path: missing" --id a "${J_OK[@]}" -- --config-file "$T_TMP/vm.json"
}
t_jailer_bad_uid() { jailer_error "--uid: 'nobody'" --id a --exec-file "$EMBER" --uid nobody --gid 1 -- --kernel "$PAYLOAD"; }
t_jailer_help() {
	expect_status 0 "$JAILER" --help || return 1
	for opt in id exec-file uid gid chroot-base cgroup netns resource-limit vfio daemonize new-pid-ns; do
		expect_grep "^  --$opt" "$T_OUT" || return 1
	done
}

t_bad_net_option() { one_error "--net: unknown key 'bogus'" --kernel "$PAYLOAD" --net tap=tap0,bogus=1; }
t_net_without_tap() { one_error "--net: no tap=NAME" --kernel "$PAYLOAD" --net queues=2; }
t_net_tap_twice() { one_error "--net: tap=tap0 given twice" --kernel "$PAYLOAD" --net tap=tap0 --net tap=tap0; }
t_net_bad_mac() { one_error "--net: mac '01:00:5e:00:00:01' is not a unicast MAC" --kernel "$PAYLOAD" --net tap=t,mac=01:00:5e:00:00:01; }
t_vfio_bad_address() { one_error "--vfio: '1:2:3' is not a PCI address" --kernel "$PAYLOAD" --vfio 1:2:3; }
t_vfio_twice() { one_error "--vfio 0000:01:00.1: given twice" --kernel "$PAYLOAD" --vfio 01:00.1 --vfio 0000:01:00.1; }
# No such device: refused before any VM (sysfs says so; without sysfs, no
# /dev/vfio group hands it out).
t_vfio_no_device() { one_error "--vfio 00ff:7f:1f.7: " --kernel "$PAYLOAD" --vfio 00ff:7f:1f.7; }
t_help() {
	expect_status 0 "$EMBER" --help || return 1
	for opt in kernel initrd cmdline cpus mem console disk net vfio irqchip seccomp kernel-unpack boot-time help version; do
		expect_grep "^  --$opt" "$T_OUT" || return 1
	done
}
t_version() { expect_status 0 "$EMBER" --version && expect_grep '^ember ' "$T_OUT"; }

t_run_all cli
