#!/usr/bin/env bash
# tests/api/api.sh: the Firecracker-compatible API on a Unix socket
# (--api-sock) and the JSON config file (--config-file), driven with curl
# the way Firecracker's own docs drive Firecracker: instance info before and
# after the start, configuration with PUT, InstanceStart, pause and resume
# through PATCH /vm (no KVM_RUN while paused), the full configuration back
# from GET /vm/config, 400 with a fault message for what ember does not have
# or what comes too late, a config file that boots at once (with and without
# a socket), refusals of bad input (one error line, exit 2, nothing started),
# and the socket removed at exit; Firecracker's log file and metrics (every
# group in every line, the API's request counts, pause and resume latencies,
# the UART's counters, SIGPIPE, SIGHUP, a fatal signal and a seccomp fault
# each leaving its line). Tiny PVH payloads, so it runs natively on
# any /dev/kvm that can run a few instructions (otherwise in the lab).
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
EMBER=${EMBER:-build/ember}
SPIN=$T_TMP/spin.elf
EXIT7=$T_TMP/exit7.elf
HELLO=$T_TMP/hello.elf
HOOKS=${EMBER_TESTHOOKS:-build/tests/ember-testhooks}
build/tests/mkpayload spin "$SPIN" || exit 1
build/tests/mkpayload 7 "$EXIT7" || exit 1
build/tests/mkpayload hello "$HELLO" || exit 1

. tests/api/lib.sh

t_instance_info_and_version() {
	local s=$T_SOCK/instance_info_and_version.sock
	start_api "$s" --id vm-01 || return 1
	expect_api 200 '^\{"id":"vm-01","state":"Not started","vmm_version":"[^"]+","app_name":"ember"\}$' "$s" GET / || { kill $pid; return 1; }
	expect_api 200 '^\{"firecracker_version":"[^"]+"\}$' "$s" GET /version || { kill $pid; return 1; }
	# the API thread runs under its own seccomp filter from the start
	local t
	t=$(grep -l '^Name:[[:space:]]*api$' /proc/$pid/task/*/status) || { echo "no api thread"; kill $pid; return 1; }
	grep -Eq $'^Seccomp:\t2$' "$t" || { echo "the api thread: $(grep ^Seccomp: "$t")"; kill $pid; return 1; }
	expect_api 200 '"vcpu_count":1' "$s" GET /machine-config || { kill $pid; return 1; }
	expect_api 200 '"mem_size_mib":256' "$s" GET /machine-config || { kill $pid; return 1; }
	kill -TERM $pid
	wait $pid
	[ ! -e "$s" ] || { echo "socket left behind"; return 1; }
}

t_configure_start_pause_resume() {
	local a b
	local s=$T_SOCK/configure_start_pause_resume.sock
	start_api "$s" --boot-time || return 1
	expect_api 204 '^$' "$s" PUT /boot-source "{\"kernel_image_path\":\"$SPIN\",\"boot_args\":\"console=ttyS0\"}" || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /machine-config '{"vcpu_count":2,"mem_size_mib":64}' || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PATCH /machine-config '{"mem_size_mib":96}' || { kill $pid; return 1; }
	expect_api 200 '"vcpu_count":2.*"mem_size_mib":96|"mem_size_mib":96.*"vcpu_count":2' "$s" GET /machine-config || { kill $pid; return 1; }
	expect_api 200 "\"kernel_image_path\":\"$SPIN\"" "$s" GET /vm/config || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /actions '{"action_type":"InstanceStart"}' || { kill $pid; return 1; }
	expect_api 200 '"state":"Running"' "$s" GET / || { kill $pid; return 1; }
	# --boot-time counts from InstanceStart
	wait_for '^ember: guest userspace started [0-9]+\.[0-9]+ ms after InstanceStart$' "$T_TMP/err" $pid || { kill $pid; return 1; }
	# Too late for configuration, and a second start.
	expect_api 400 '"fault_message":".*(after|started)' "$s" PUT /machine-config '{"vcpu_count":1,"mem_size_mib":64}' || { kill $pid; return 1; }
	expect_api 400 '"fault_message":' "$s" PUT /actions '{"action_type":"InstanceStart"}' || { kill $pid; return 1; }
	# Paused: no vCPU enters KVM_RUN.
	expect_api 204 '^$' "$s" PATCH /vm '{"state":"Paused"}' || { kill $pid; return 1; }
	expect_api 200 '"state":"Paused"' "$s" GET / || { kill $pid; return 1; }
	usr1_line $pid "$T_TMP/err" || { kill $pid; return 1; }
	a=$(kvm_runs "$T_TMP/err")
	sleep 0.5
	usr1_line $pid "$T_TMP/err" || { kill $pid; return 1; }
	b=$(kvm_runs "$T_TMP/err")
	[ -n "$a" ] && [ "$a" = "$b" ] || { echo "KVM_RUN moved while paused: $a -> $b"; kill $pid; return 1; }
	expect_api 204 '^$' "$s" PATCH /vm '{"state":"Paused"}' || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PATCH /vm '{"state":"Resumed"}' || { kill $pid; return 1; }
	expect_api 200 '"state":"Running"' "$s" GET / || { kill $pid; return 1; }
	expect_api 400 '"fault_message":' "$s" PATCH /vm '{"state":"Sleeping"}' || { kill $pid; return 1; }
	kill -TERM $pid
	wait $pid
	[ $? = 143 ] || { echo "exit status after SIGTERM: not 143"; return 1; }
	[ ! -e "$s" ] || { echo "socket left behind"; return 1; }
}

t_exit_status_through_api_start() {
	local rc
	local s=$T_SOCK/exit_status_through_api_start.sock
	start_api "$s" || return 1
	expect_api 204 '^$' "$s" PUT /boot-source "{\"kernel_image_path\":\"$EXIT7\"}" || { kill $pid; return 1; }
	api "$s" PUT /actions '{"action_type":"InstanceStart"}' >/dev/null
	timeout 30 tail --pid=$pid -f /dev/null
	wait $pid
	rc=$?
	[ $rc = 7 ] || { echo "exit status $rc, want the guest's 7"; cat "$T_TMP/err"; return 1; }
	[ ! -e "$s" ] || { echo "socket left behind"; return 1; }
}

# SendCtrlAltDel puts Ctrl+Alt+Del in the keyboard controller's buffer. The
# spin payload never reads it: two presses fit (8 bytes each in 16), the
# third is refused as the buffer is full. (The guest's reboot is in the lab's
# tests/api/linux.sh.)
t_ctrl_alt_del_queues_keys() {
	local s=$T_SOCK/ctrl_alt_del_queues_keys.sock
	start_api "$s" || return 1
	expect_api 400 '"fault_message":"The microVM has not been started' "$s" PUT /actions '{"action_type":"SendCtrlAltDel"}' || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /boot-source "{\"kernel_image_path\":\"$SPIN\"}" || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /actions '{"action_type":"InstanceStart"}' || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /actions '{"action_type":"SendCtrlAltDel"}' || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /actions '{"action_type":"SendCtrlAltDel"}' || { kill $pid; return 1; }
	expect_api 400 '"fault_message":".*keyboard buffer is full' "$s" PUT /actions '{"action_type":"SendCtrlAltDel"}' || { kill $pid; return 1; }
	expect_api 200 '"state":"Running"' "$s" GET / || { kill $pid; return 1; }
	kill -TERM $pid
	wait $pid
	[ $? = 143 ] || { echo "exit status after SIGTERM: not 143"; return 1; }
}

# PATCH /drives/ID with a new path_on_host after the start: the main thread
# opens it under its seccomp filter and puts it behind the running drive
# (the guest's side of it is in the lab's tests/api/linux.sh); refusals
# change nothing.
t_patch_drive_new_image() {
	local s=$T_SOCK/patch_drive_new_image.sock cfg
	head -c 1M /dev/zero >"$T_TMP/small.img"
	head -c 4M /dev/zero >"$T_TMP/big.img"
	head -c 1000 /dev/zero >"$T_TMP/odd.img"
	start_api "$s" || return 1
	expect_api 204 '^$' "$s" PUT /boot-source "{\"kernel_image_path\":\"$SPIN\"}" || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /drives/scratch "{\"drive_id\":\"scratch\",\"path_on_host\":\"$T_TMP/small.img\",\"is_root_device\":false,\"is_read_only\":false}" || { kill $pid; return 1; }
	expect_api 400 '"fault_message":".*before starting' "$s" PATCH /drives/scratch "{\"drive_id\":\"scratch\",\"path_on_host\":\"$T_TMP/big.img\"}" || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /actions '{"action_type":"InstanceStart"}' || { kill $pid; return 1; }
	cfg=$(api "$s" GET /vm/config) || { kill $pid; return 1; }
	expect_api 400 '"fault_message":".*No such file' "$s" PATCH /drives/scratch "{\"drive_id\":\"scratch\",\"path_on_host\":\"$T_TMP/none.img\"}" || { kill $pid; return 1; }
	expect_api 400 '"fault_message":".*multiple of 512' "$s" PATCH /drives/scratch "{\"drive_id\":\"scratch\",\"path_on_host\":\"$T_TMP/odd.img\"}" || { kill $pid; return 1; }
	expect_api 400 '"fault_message":".*no drive' "$s" PATCH /drives/other "{\"drive_id\":\"other\",\"path_on_host\":\"$T_TMP/big.img\"}" || { kill $pid; return 1; }
	expect_api 400 '"fault_message":' "$s" PATCH /drives/scratch "{\"drive_id\":\"other\",\"path_on_host\":\"$T_TMP/big.img\"}" || { kill $pid; return 1; }
	expect_api 400 '"fault_message":".*is_read_only' "$s" PATCH /drives/scratch "{\"drive_id\":\"scratch\",\"is_read_only\":true}" || { kill $pid; return 1; }
	expect_api 400 '"fault_message":".*refill_time' "$s" PATCH /drives/scratch '{"drive_id":"scratch","rate_limiter":{"bandwidth":{"size":1000}}}' || { kill $pid; return 1; }
	expect_api 400 '"fault_message":".*no network interface' "$s" PATCH /network-interfaces/eth0 '{"iface_id":"eth0"}' || { kill $pid; return 1; }
	[ "$(api "$s" GET /vm/config)" = "$cfg" ] || { echo "a refused PATCH changed the configuration"; kill $pid; return 1; }
	expect_api 204 '^$' "$s" PATCH /drives/scratch '{"drive_id":"scratch","rate_limiter":{}}' || { kill $pid; return 1; }
	# new limits while it runs (the main thread wakes the drive's I/O
	# thread): the drive has them (its SIGUSR1 line), not only the configuration
	kill -USR1 $pid
	wait_for '^\{"device":"vda","size":1048576,"rate_limiter":\{"on":false' "$T_TMP/err" $pid || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PATCH /drives/scratch '{"drive_id":"scratch","rate_limiter":{"bandwidth":{"size":1000,"refill_time":100}}}' || { kill $pid; return 1; }
	kill -USR1 $pid
	wait_for '^\{"device":"vda","size":1048576,"rate_limiter":\{"on":true' "$T_TMP/err" $pid || { kill $pid; return 1; }
	expect_api 200 '"rate_limiter":\{"bandwidth":\{"size":1000,"one_time_burst":null,"refill_time":100\},"ops":null\}' "$s" GET /vm/config || { kill $pid; return 1; }
	cfg=$(api "$s" GET /vm/config) || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PATCH /drives/scratch "{\"drive_id\":\"scratch\",\"path_on_host\":\"$T_TMP/big.img\"}" || { kill $pid; return 1; }
	expect_api 200 "\"path_on_host\":\"$T_TMP/big.img\"" "$s" GET /vm/config || { kill $pid; return 1; }
	# the old image is closed (its lock released), the new one is locked.
	# The disk's io_uring drops its reference to the old file with delayed
	# work (up to a second after the update, Linux 6.1): wait for that, 5 s
	# at most.
	for _ in $(seq 1 50); do flock -n -x "$T_TMP/small.img" true && break; sleep 0.1; done
	flock -n -x "$T_TMP/small.img" true || { echo "the old image is still locked 5 s after the PATCH"; kill $pid; return 1; }
	! flock -n -x "$T_TMP/big.img" true || { echo "the new image is not locked"; kill $pid; return 1; }
	expect_api 200 '"state":"Running"' "$s" GET / || { kill $pid; return 1; }
	kill -TERM $pid
	wait $pid
	[ $? = 143 ] || { echo "exit status after SIGTERM: not 143"; cat "$T_TMP/err"; return 1; }
}

# A VM the command line describes, its drive given a new image and limits
# through the API: GET /vm/config (and so a snapshot's configuration) shows
# them, not the command line's.
t_command_line_vm_patched() {
	local s=$T_SOCK/command_line_vm_patched.sock
	head -c 1M /dev/zero >"$T_TMP/small.img"
	head -c 2M /dev/zero >"$T_TMP/big.img"
	start_api "$s" --kernel "$SPIN" --disk "$T_TMP/small.img" || return 1
	wait_running "$s" $pid || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PATCH /drives/vda "{\"drive_id\":\"vda\",\"path_on_host\":\"$T_TMP/big.img\"}" || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PATCH /drives/vda '{"drive_id":"vda","rate_limiter":{"bandwidth":{"size":1000,"refill_time":100}}}' || { kill $pid; return 1; }
	expect_api 200 "\"drive_id\":\"vda\".*\"path_on_host\":\"$T_TMP/big.img\"" "$s" GET /vm/config || { kill $pid; return 1; }
	expect_api 200 '"rate_limiter":\{"bandwidth":\{"size":1000,' "$s" GET /vm/config || { kill $pid; return 1; }
	# (running, with no metrics path: nothing to flush)
	expect_api 400 '"fault_message":"Cannot flush metrics: no metrics path' "$s" PUT /actions '{"action_type":"FlushMetrics"}' || { kill $pid; return 1; }
	kill -TERM $pid
	wait $pid
	[ $? = 143 ] || { echo "exit status after SIGTERM: not 143"; cat "$T_TMP/err"; return 1; }
}

t_refusals_are_400_and_change_nothing() {
	local s=$T_SOCK/refusals_are_400_and_change_nothing.sock
	start_api "$s" || return 1
	expect_api 400 '"fault_message":".*vsock' "$s" PUT /vsock '{"guest_cid":3,"uds_path":"/tmp/v.sock"}' || { kill $pid; return 1; }
	expect_api 400 '"fault_message":".*balloon' "$s" PUT /balloon '{"amount_mib":0,"deflate_on_oom":false}' || { kill $pid; return 1; }
	expect_api 400 '"fault_message":".*entropy' "$s" PUT /entropy '{}' || { kill $pid; return 1; }
	expect_api 400 '"fault_message":".*mmds|"fault_message":".*MMDS' "$s" PUT /mmds '{}' || { kill $pid; return 1; }
	expect_api 400 '"fault_message":"Invalid request method and/or path' "$s" GET /nothing-here || { kill $pid; return 1; }
	expect_api 400 '"fault_message":' "$s" PUT /machine-config '{"vcpu_count":2' || { kill $pid; return 1; }
	expect_api 400 '"fault_message":' "$s" PUT /machine-config '{"vcpu_count":0,"mem_size_mib":64}' || { kill $pid; return 1; }
	expect_api 400 '"fault_message":' "$s" PUT /machine-config '{"vcpu_count":1,"mem_size_mib":64,"smt":true}' || { kill $pid; return 1; }
	expect_api 400 '"fault_message":' "$s" PUT /actions '{"action_type":"InstanceStart"}' || { kill $pid; return 1; }
	# what was refused changed nothing
	expect_api 200 '"vcpu_count":1' "$s" GET /machine-config || { kill $pid; return 1; }
	expect_api 200 '"state":"Not started"' "$s" GET / || { kill $pid; return 1; }
	# a body too large for the API
	head -c 60000 /dev/zero | tr '\0' ' ' >"$T_TMP/big"
	local code
	code=$(curl -sS --unix-socket "$s" -X PUT -o /dev/null -w '%{http_code}' --max-time 30 \
		-H 'Content-Type: application/json' --data-binary @"$T_TMP/big" http://localhost/machine-config)
	[ "$code" = 413 ] || [ "$code" = 400 ] || { echo "a 60000-byte body got $code"; kill $pid; return 1; }
	expect_api 200 '"state":"Not started"' "$s" GET / || { kill $pid; return 1; }
	kill -TERM $pid
	wait $pid
	[ $? = 143 ] || { echo "exit status after SIGTERM: not 143"; return 1; }
}

t_config_file_boots_at_once() {
	local rc
	local s=$T_SOCK/config_file_boots_at_once.sock
	cat >"$T_TMP/vm.json" <<EOF
{"boot-source": {"kernel_image_path": "$SPIN"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}
EOF
	start_api "$s" --config-file "$T_TMP/vm.json" || return 1
	expect_api 200 '"state":"Running"' "$s" GET / || { kill $pid; return 1; }
	expect_api 200 '"mem_size_mib":64' "$s" GET /vm/config || { kill $pid; return 1; }
	kill -TERM $pid
	wait $pid
	[ $? = 143 ] || { echo "exit status after SIGTERM: not 143"; return 1; }
	# without a socket: the guest's exit status is ember's
	cat >"$T_TMP/vm7.json" <<EOF
{"boot-source": {"kernel_image_path": "$EXIT7"}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}
EOF
	expect_status 7 "$EMBER" --no-api --config-file "$T_TMP/vm7.json"
}

# A config file's VM is built while the socket already listens: requests
# that come meanwhile wait for the build (they used to change the
# configuration under it), then get what a running VM answers; a build that
# fails refuses them.
t_requests_wait_for_the_build() {
	local s=$T_SOCK/requests_wait_for_the_build.sock rc
	cat >"$T_TMP/vm.json" <<EOF
{"boot-source": {"kernel_image_path": "$SPIN"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}
EOF
	EMBER=$HOOKS EMBER_TEST_BUILD_DELAY_MS=2000 start_api "$s" --config-file "$T_TMP/vm.json" || return 1
	expect_api 400 '"fault_message":"The requested operation is not supported after starting' "$s" PUT /boot-source "{\"kernel_image_path\":\"$EXIT7\"}" || { kill $pid; return 1; }
	expect_api 200 '"state":"Running"' "$s" GET / || { kill $pid; return 1; }
	expect_api 200 "\"kernel_image_path\":\"$SPIN\"" "$s" GET /vm/config || { kill $pid; return 1; }
	kill -TERM $pid
	wait $pid
	[ $? = 143 ] || { echo "exit status after SIGTERM: not 143"; cat "$T_TMP/err"; return 1; }
	head -c 4096 /dev/zero >"$T_TMP/not-a-kernel"
	cat >"$T_TMP/bad.json" <<EOF
{"boot-source": {"kernel_image_path": "$T_TMP/not-a-kernel"}}
EOF
	EMBER=$HOOKS EMBER_TEST_BUILD_DELAY_MS=2000 start_api "$s" --config-file "$T_TMP/bad.json" || return 1
	expect_api 400 '"fault_message":"ember is exiting: the microVM did not start' "$s" PUT /machine-config '{"vcpu_count":2,"mem_size_mib":64}' || { kill $pid; return 1; }
	wait $pid
	rc=$?
	[ $rc = 2 ] || { echo "exit status $rc for a file that is no kernel, want 2"; cat "$T_TMP/err"; return 1; }
}

t_bad_config_and_flags() {
	echo '{"boot-source": {"kernel_image_path": "/nonexistent"}, "vsock": {"guest_cid": 3}}' >"$T_TMP/bad.json"
	expect_status 2 "$EMBER" --no-api --config-file "$T_TMP/bad.json" || return 1
	expect_lines 1 "$T_ERR" && expect_grep '^ember: .*vsock' "$T_ERR" || return 1
	echo '{"boot-source": ' >"$T_TMP/cut.json"
	expect_status 2 "$EMBER" --no-api --config-file "$T_TMP/cut.json" || return 1
	expect_lines 1 "$T_ERR" || return 1
	expect_status 2 "$EMBER" --no-api --config-file /nonexistent.json || return 1
	expect_lines 1 "$T_ERR" || return 1
	expect_status 2 "$EMBER" --no-api || return 1
	expect_grep '^ember: --no-api needs --config-file' "$T_ERR" || return 1
	# a path that exists and is not a socket is not taken over
	: >"$T_TMP/file"
	expect_status 2 "$EMBER" --api-sock "$T_TMP/file" || return 1
	expect_grep '^ember: --api-sock' "$T_ERR" || return 1
	[ -f "$T_TMP/file" ] || { echo "the file was removed"; return 1; }
}

# 100 clients at once all get their answer, and one that sends half a request
# and stops delays nobody.
t_many_clients_and_a_stalled_one() {
	local s=$T_SOCK/many_clients_and_a_stalled_one.sock i ok
	start_api "$s" || return 1
	python3 - "$s" >"$T_TMP/stall.log" 2>&1 <<'PY' &
import socket, sys, time
c = socket.socket(socket.AF_UNIX)
c.connect(sys.argv[1])
c.sendall(b'PUT /machine-config HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"vcpu')
print('stalled', flush=True)
time.sleep(20)
PY
	local spid=$!
	wait_for '^stalled' "$T_TMP/stall.log" $spid || { kill $pid $spid; return 1; }
	local clients=()
	for i in $(seq 1 100); do
		curl -sS --unix-socket "$s" --max-time 20 -o "$T_TMP/many.$i" http://localhost/ &
		clients+=($!)
	done
	wait "${clients[@]}" # each curl ends within its --max-time
	ok=$(grep -l '"state":"Not started"' "$T_TMP"/many.* 2>/dev/null | wc -l)
	[ "$ok" = 100 ] || { echo "$ok of 100 clients got their answer"; kill $pid $spid; return 1; }
	expect_api 200 '"vcpu_count":1' "$s" GET /machine-config || { kill $pid $spid; return 1; }
	kill $spid 2>/dev/null
	kill -TERM $pid
	wait $pid
	[ $? = 143 ] || { echo "exit status after SIGTERM: not 143"; return 1; }
}

t_stale_socket_replaced() {
	local s=$T_SOCK/stale_socket_replaced.sock
	python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$s" || return 1
	start_api "$s" || return 1
	expect_api 200 '"state":"Not started"' "$s" GET / || { kill $pid; return 1; }
	kill -TERM $pid
	wait $pid
	[ $? = 143 ] || { echo "exit status after SIGTERM: not 143"; return 1; }
}

# A log line in Firecracker's format: local time with nanoseconds, then
# [instance id:thread(:LEVEL)(:file:line)].
LOG_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9} \['

# metrics_ok FILE: every line parses as a JSON object with utc_timestamp_ms
# and the vcpu group; prints the number of lines.
metrics_ok() {
	python3 -c 'import json,sys
n=0
for l in open(sys.argv[1]):
    d=json.loads(l); n+=1
    assert isinstance(d["utc_timestamp_ms"], int) and d["utc_timestamp_ms"] > 1600000000000, d
    assert set(d["vcpu"]) >= {"exit_io_in","exit_io_out","exit_mmio_read","exit_mmio_write"}, d
print(n)' "$1"
}

# The groups every metrics line has (Firecracker's names); a VM's lines also
# have uart. FC_ORDER: Firecracker's order of the groups ember writes (the
# drives' and NICs' aside).
METRIC_GROUPS='["api_server","get_api_requests","latencies_us","logger","patch_api_requests","put_api_requests","seccomp","vcpu","vmm","signals"]'
FC_ORDER='["api_server","get_api_requests","i8042","uart","latencies_us","logger","patch_api_requests","put_api_requests","seccomp","vcpu","vmm","signals"]'

# metrics_groups_ok FILE [EXTRA-GROUPS-JSON]: every line has every group (and
# the extra ones), in Firecracker's order, each group's counters numbers;
# prints the number of lines.
metrics_groups_ok() {
	jq -e --argjson want "$METRIC_GROUPS" --argjson extra "${2:-[]}" --argjson order "$FC_ORDER" '
		(keys_unsorted) as $k
		| (($want + $extra) - $k) == []
		and ([$k[] | select(. as $g | $order | index($g))] == [$order[] | select(. as $g | $k | index($g))])
		and ([.[] | objects | .[]] | all(type == "number"))
		and (.latencies_us | keys_unsorted) == ["full_create_snapshot","diff_create_snapshot","load_snapshot","pause_vm","resume_vm","vmm_full_create_snapshot","vmm_diff_create_snapshot","vmm_load_snapshot","vmm_pause_vm","vmm_resume_vm"]
		and (.signals | keys_unsorted) == ["sigbus","sigsegv","sigxfsz","sigxcpu","sigpipe","sighup","sigill"]
		and (.api_server | keys_unsorted) == ["process_startup_time_us","process_startup_time_cpu_us","sync_response_fails","sync_vmm_send_timeout_count"]
		and (.vmm | keys_unsorted) == ["device_events","panic_count"] and (.seccomp | keys_unsorted) == ["num_faults"]
	' "$1" >/dev/null || { echo "metrics lines without Firecracker's groups in its order:"; cat "$1"; return 1; }
	wc -l <"$1"
}

# metric_sum FILE GROUP FIELD: the field summed over every line.
metric_sum() {
	jq -s --arg g "$2" --arg f "$3" 'map(.[$g][$f] // 0) | add' "$1"
}

t_log_path_and_level() {
	local log=$T_TMP/fc.log
	rm -f "$log"
	# the file is created; Info (default) has the start, stderr is as before
	expect_status 7 "$EMBER" --kernel "$EXIT7" --log-path "$log" --id vm-7 || return 1
	expect_lines 0 "$T_ERR" || return 1
	expect_grep "$LOG_RE"'vm-7:main\] VM started$' "$log" || return 1
	expect_grep "$LOG_RE"'vm-7:main\] ember exiting with status 7$' "$log" || return 1
	# Error: no info lines; a warning on stderr is filtered out of the file
	: >"$log"
	expect_status 7 "$EMBER" --kernel "$EXIT7" --log-path "$log" --level Error --seccomp off || return 1
	expect_grep '^ember: warning: ' "$T_ERR" || return 1
	[ ! -s "$log" ] || { echo "--level Error wrote:"; cat "$log"; return 1; }
	# Warning (any case): the warning, not the info lines
	expect_status 7 "$EMBER" --kernel "$EXIT7" --log-path "$log" --level warning --seccomp off || return 1
	expect_grep "$LOG_RE"'anonymous-instance:main\] ' "$log" || return 1
	! grep -q 'VM started' "$log" || { echo "info line at level warning"; return 1; }
	expect_status 2 "$EMBER" --kernel "$EXIT7" --level Loud || return 1
	expect_grep '^ember: --level' "$T_ERR" || return 1
	expect_status 2 "$EMBER" --kernel "$EXIT7" --log-path "$T_TMP/no/such/dir/log" || return 1
	expect_lines 1 "$T_ERR" && expect_grep '^ember: cannot open the log file' "$T_ERR"
}

t_logger_and_metrics_through_the_api() {
	local s=$T_SOCK/logger_and_metrics_through_the_api.sock log=$T_TMP/api.log met=$T_TMP/api.metrics n
	rm -f "$log" "$met"
	start_api "$s" --id vm-02 || return 1
	expect_api 400 '"fault_message":".*before starting' "$s" PUT /actions '{"action_type":"FlushMetrics"}' || { kill $pid; return 1; }
	expect_api 400 '"fault_message":"cannot open the log file' "$s" PUT /logger "{\"log_path\":\"$T_TMP/no/such/log\"}" || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /logger "{\"log_path\":\"$log\",\"level\":\"Debug\",\"show_level\":true,\"show_log_origin\":true}" || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /metrics "{\"metrics_path\":\"$met\"}" || { kill $pid; return 1; }
	expect_api 400 '"fault_message":".*once' "$s" PUT /metrics "{\"metrics_path\":\"$met\"}" || { kill $pid; return 1; }
	# counted requests: 7 GETs of /, one of them refused (a body), a refused PUT /vsock
	for i in 1 2 3 4 5 6; do
		expect_api 200 '"state":"Not started"' "$s" GET / || { kill $pid; return 1; }
	done
	expect_api 400 'cannot have a body' "$s" GET / '{}' || { kill $pid; return 1; }
	expect_api 400 '"fault_message":".*vsock' "$s" PUT /vsock '{"guest_cid":3}' || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /boot-source "{\"kernel_image_path\":\"$SPIN\"}" || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /actions '{"action_type":"InstanceStart"}' || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /actions '{"action_type":"FlushMetrics"}' || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PATCH /vm '{"state":"Paused"}' || { kill $pid; return 1; }
	expect_api 204 '^$' "$s" PATCH /vm '{"state":"Resumed"}' || { kill $pid; return 1; }
	expect_api 400 '"fault_message":".*after' "$s" PUT /logger '{"level":"Error"}' || { kill $pid; return 1; }
	# a line at InstanceStart, one at FlushMetrics
	n=$(metrics_ok "$met") && [ "$n" = 2 ] || { echo "metrics after FlushMetrics: $n lines"; cat "$met"; kill $pid; return 1; }
	# before the pause: no latency yet
	[ "$(head -n1 "$met" | jq '.latencies_us.vmm_pause_vm')" = 0 ] || { echo "a pause latency before the pause"; head -n1 "$met"; kill $pid; return 1; }
	kill -TERM $pid
	wait $pid
	n=$(metrics_ok "$met") && [ "$n" = 3 ] || { echo "metrics at exit: $n lines"; cat "$met"; return 1; }
	n=$(metrics_groups_ok "$met" '["uart"]') && [ "$n" = 3 ] || return 1
	# the counters are deltas: summed over the lines they are the requests made
	[ "$(metric_sum "$met" get_api_requests instance_info_count)" = 7 ] || { echo "instance_info_count: $(metric_sum "$met" get_api_requests instance_info_count), want 7"; cat "$met"; return 1; }
	[ "$(metric_sum "$met" get_api_requests instance_info_fails)" = 1 ] || { echo "instance_info_fails"; cat "$met"; return 1; }
	[ "$(metric_sum "$met" put_api_requests vsock_count)" = 1 ] && [ "$(metric_sum "$met" put_api_requests vsock_fails)" = 1 ] || { echo "vsock_count/fails"; cat "$met"; return 1; }
	# FlushMetrics before the start (400), InstanceStart, FlushMetrics (a line's
	# own request is in the next line); PUT /logger: a bad path, one that
	# works, one after the start
	[ "$(metric_sum "$met" put_api_requests actions_count)" = 3 ] && [ "$(metric_sum "$met" put_api_requests actions_fails)" = 1 ] || { echo "actions_count/fails"; cat "$met"; return 1; }
	[ "$(metric_sum "$met" put_api_requests logger_count)" = 3 ] && [ "$(metric_sum "$met" put_api_requests logger_fails)" = 2 ] || { echo "logger_count/fails"; cat "$met"; return 1; }
	# stored values: the start-up time in both lines, the pause's latencies in the last
	jq -e -s 'map(.api_server.process_startup_time_us) | (.[0] > 0 and .[0] == .[1])' "$met" >/dev/null || { echo "process_startup_time_us"; cat "$met"; return 1; }
	tail -n1 "$met" | jq -e '.latencies_us | .vmm_pause_vm > 0 and .pause_vm >= .vmm_pause_vm and .resume_vm > 0 and .load_snapshot == 0' >/dev/null || { echo "latencies after a pause and a resume:"; tail -n1 "$met"; return 1; }
	tail -n1 "$met" | jq -e '.signals.sighup == 0 and .seccomp.num_faults == 0 and .vmm.panic_count == 0 and .api_server.sync_response_fails == 0' >/dev/null || { tail -n1 "$met"; return 1; }
	expect_grep "$LOG_RE"'vm-02:main:INFO:vmm/main.c:[0-9]+\] VM started$' "$log" || return 1
	expect_grep "$LOG_RE"'vm-02:api:INFO:vmm/api/api.c:[0-9]+\] API: PUT /actions InstanceStart$' "$log" || return 1
	expect_grep 'INFO:vmm/main.c:[0-9]+\] VM paused$' "$log" || return 1
	expect_grep 'INFO:vmm/main.c:[0-9]+\] VM resumed$' "$log"
}

# The UART's counters: a payload that prints "hello\n" on COM1; then the same
# with stdout a pipe nobody reads: each byte an error (EPIPE), SIGPIPE counted.
t_uart_and_sigpipe_counted() {
	local met=$T_TMP/uart.metrics pm=$T_TMP/pipe.metrics
	rm -f "$met" "$pm"
	expect_status 0 "$EMBER" --kernel "$HELLO" --metrics-path "$met" || return 1
	[ "$(cat "$T_OUT")" = hello ] || { echo "stdout: $(cat "$T_OUT")"; return 1; }
	metrics_groups_ok "$met" '["uart"]' >/dev/null || return 1
	jq -e '.uart == {"error_count":0,"flush_count":6,"missed_read_count":0,"missed_write_count":0,"read_count":0,"write_count":6} and .signals.sigpipe == 0' "$met" >/dev/null || { cat "$met"; return 1; }
	python3 - "$EMBER" "$HELLO" "$pm" <<'PY' || return 1
import os, subprocess, sys
r, w = os.pipe()
os.close(r)  # nobody reads: every write is EPIPE (and SIGPIPE)
rc = subprocess.run([sys.argv[1], "--kernel", sys.argv[2], "--metrics-path", sys.argv[3]],
                    stdin=subprocess.DEVNULL, stdout=w, timeout=60).returncode
sys.exit(0 if rc == 0 else f"exit status {rc}")
PY
	jq -e '.uart.error_count == 6 and .uart.missed_write_count == 6 and .uart.write_count == 0 and .signals.sigpipe == 6' "$pm" >/dev/null || { cat "$pm"; return 1; }
}

# A fatal signal: reported on stderr and in the log file, a metrics line that
# names it, the signal's exit status. SIGHUP: the VM stops (129) and the last
# line counts it.
t_fatal_signal_and_sighup_in_metrics() {
	local met=$T_TMP/sig.metrics log=$T_TMP/sig.log rc
	rm -f "$met" "$log"
	: >"$T_TMP/sig.err"
	"$EMBER" --boot-time --kernel "$SPIN" --metrics-path "$met" --log-path "$log" >/dev/null 2>"$T_TMP/sig.err" </dev/null &
	local pid=$!
	wait_for 'guest userspace started' "$T_TMP/sig.err" $pid || { kill -9 $pid; return 1; }
	kill -SEGV $pid
	wait $pid
	rc=$?
	[ $rc = 139 ] || { echo "exit status $rc after SIGSEGV, want 139"; cat "$T_TMP/sig.err"; return 1; }
	expect_grep '^ember: thread [a-z0-9-]+ got SIGSEGV \(signal 11, code 0\): ember exits$' "$T_TMP/sig.err" || return 1
	expect_grep "$LOG_RE"'anonymous-instance:[a-z0-9-]+\] thread .* got SIGSEGV' "$log" || return 1
	# the line at the start, then the handler's
	[ "$(wc -l <"$met")" = 2 ] && tail -n1 "$met" | jq -e '. == {"utc_timestamp_ms": .utc_timestamp_ms, "signals": {"sigsegv": 1}}' >/dev/null || { echo "metrics:"; cat "$met"; return 1; }
	rm -f "$met"
	: >"$T_TMP/sig.err"
	"$EMBER" --boot-time --kernel "$SPIN" --metrics-path "$met" >/dev/null 2>"$T_TMP/sig.err" </dev/null &
	pid=$!
	wait_for 'guest userspace started' "$T_TMP/sig.err" $pid || { kill -9 $pid; return 1; }
	kill -HUP $pid
	wait $pid
	rc=$?
	[ $rc = 129 ] || { echo "exit status $rc after SIGHUP, want 129"; return 1; }
	metrics_groups_ok "$met" '["uart"]' >/dev/null || return 1
	tail -n1 "$met" | jq -e '.signals.sighup == 1 and .signals.sigsegv == 0' >/dev/null || { cat "$met"; return 1; }
}

# A forbidden system call (the test build's vCPU opens a file): exit 159, the
# line on stderr and in the log file, and a metrics line counting the fault.
t_seccomp_fault_in_metrics() {
	local met=$T_TMP/sc.metrics log=$T_TMP/sc.log
	rm -f "$met" "$log"
	EMBER_TEST_FORBIDDEN=vcpu expect_status 159 "$HOOKS" --kernel "$SPIN" --metrics-path "$met" --log-path "$log" || return 1
	expect_grep '^ember: seccomp: thread vcpu0 made forbidden syscall 257 \(openat\)$' "$T_ERR" || return 1
	expect_grep "$LOG_RE"'anonymous-instance:vcpu0\] seccomp: thread vcpu0 made forbidden syscall 257 \(openat\)$' "$log" || return 1
	# the line at the start, then the handler's
	[ "$(grep -c . "$met")" = 2 ] || { echo "metrics:"; cat "$met"; return 1; }
	tail -n1 "$met" | jq -e '(keys_unsorted == ["utc_timestamp_ms","seccomp"]) and .seccomp.num_faults == 1 and .utc_timestamp_ms > 1600000000000' >/dev/null || { echo "metrics:"; cat "$met"; return 1; }
}

t_metrics_path_flag_and_config_file() {
	local met=$T_TMP/cli.metrics dm=$T_TMP/disk.metrics n
	rm -f "$met" "$dm"
	expect_status 7 "$EMBER" --kernel "$EXIT7" --metrics-path "$met" || return 1
	# at the start (nothing run yet) and at exit
	n=$(metrics_ok "$met") && [ "$n" = 2 ] || { echo "metrics at start and exit: $n lines"; cat "$met"; return 1; }
	python3 -c 'import json,sys; l=[json.loads(x) for x in open(sys.argv[1])]; assert l[0]["vcpu"]["exit_io_out"] == 0 and l[1]["vcpu"]["exit_io_out"] >= 1, l' "$met" || return 1
	# a drive: per drive (its drive_id) and aggregated, as Firecracker
	head -c 1M /dev/zero >"$T_TMP/disk.img"
	cat >"$T_TMP/vmd.json" <<EOF
{"boot-source": {"kernel_image_path": "$EXIT7"}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
 "drives": [{"drive_id": "rootfs", "path_on_host": "$T_TMP/disk.img", "is_root_device": true, "is_read_only": true}],
 "metrics": {"metrics_path": "$dm"}}
EOF
	expect_status 7 "$EMBER" --no-api --config-file "$T_TMP/vmd.json" || return 1
	python3 -c 'import json,sys
d=json.loads(open(sys.argv[1]).readline())
keys=list(d)
assert keys[0]=="utc_timestamp_ms" and "block_rootfs" in d and "block" in d, keys
assert keys.index("block_rootfs") < keys.index("block"), keys
# Firecracker order: the drives between api_server and get_api_requests
assert keys.index("api_server") < keys.index("block_rootfs") and keys.index("block") < keys.index("get_api_requests"), keys
assert {"read_bytes","write_bytes","read_count","write_count","flush_count"} <= set(d["block"]), d' "$dm"
}

# API_TESTS=REGEX runs only the matching tests.
t_run_all api "${API_TESTS:-}"
