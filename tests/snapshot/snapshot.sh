#!/usr/bin/env bash
# tests/snapshot/snapshot.sh: snapshots of a tiny payload that counts (tests/
# kvm/mkpayload.c "countN": a '.' on COM1 every 2^16, status 41 when its
# register and memory counts agree at N and it started once):
#  - paused and saved through the API mid-way, ember killed, restored with
#    --restore in a new process: it goes on where it was (the dots of both
#    processes add up to N/2^16, one 'S') and ends with status 41; the same
#    with --irqchip kernel and two vCPUs (KVM's IOAPIC, PICs and PIT);
#  - a VM configured through the API (a read-only drive and a NIC, with rate
#    limiters), restored through PUT /snapshot/load:
#    it comes up paused (no KVM_RUN), GET /vm/config is the saved one, and
#    resumed it ends with 41; snapshot again while restored (not onto the
#    memory file it runs on), that one restored ends with 41 too; restored
#    three more times at once from the same files (clones, each NIC moved to
#    a TAP of its own by network_overrides), each ends with 41;
#  - bad snapshots (truncated, a flipped byte, another format version, a
#    memory file of the wrong size, a missing file, a disk gone) and bad requests are
#    refused with one line (exit 2, or a 400), nothing started;
#  - the memory file is sparse: the untouched RAM is holes;
#  - no PUT /snapshot/load after PUT /machine-config; a drive and a NIC
#    sharing an id each get their own PATCH.
# Runs wherever tiny payloads run (natively on a KVM that can run them; in
# CI inside the lab), in a network namespace of its own. SNAP_COUNT sets N (default 2^28; a slow nested KVM
# wants less).
cd "$(dirname "$0")/../.." || exit 1
. tests/net/netns.sh # its TAPs in a network namespace of its own
. tests/api/lib.sh
N=${SNAP_COUNT:-$((1 << 28))}
DOTS=$((N >> 16))
COUNT=$T_TMP/count.elf
build/tests/mkpayload "count$N" "$COUNT" || exit 1

# dots FILE: the '.'s in FILE.
dots() { tr -cd . <"$1" | wc -c; }

# snap_running SOCK PREFIX: pause the VM on SOCK after a few dots in
# $T_TMP/out, take a snapshot into PREFIX.state and PREFIX.mem.
snap_running() {
	local s=$1 p=$2
	wait_for '\.\.\.' "$T_TMP/out" $pid || return 1
	expect_api 204 '^$' "$s" PATCH /vm '{"state":"Paused"}' || return 1
	expect_api 204 '^$' "$s" PUT /snapshot/create \
		"{\"snapshot_type\":\"Full\",\"snapshot_path\":\"$p.state\",\"mem_file_path\":\"$p.mem\"}" || return 1
	local d
	d=$(dots "$T_TMP/out")
	[ "$d" -lt "$DOTS" ] || { echo "the count ended ($d dots) before the pause"; return 1; }
}

# count_restored NAME [ember options]: the counting payload snapshot mid-way
# through the API, killed, restored with --restore: it goes on and ends
# with 41, its dots adding up; the memory file has holes.
count_restored() {
	local s=$T_SOCK/$1.sock p=$T_TMP/$1 rc before after
	shift
	"$EMBER" --kernel "$COUNT" --mem 128 --api-sock "$s" "$@" >"$T_TMP/out" 2>"$T_TMP/err" </dev/null &
	pid=$!
	wait_for_socket "$s" $pid || return 1
	snap_running "$s" "$p" || { kill -9 $pid; return 1; }
	kill -9 $pid
	wait $pid 2>/dev/null
	before=$(dots "$T_TMP/out")
	cp "$T_TMP/out" "$T_TMP/out1"
	"$EMBER" --restore "$p.state" --mem-file "$p.mem" >"$T_TMP/out2" 2>"$T_TMP/err2" </dev/null
	rc=$?
	after=$(dots "$T_TMP/out2")
	[ $rc = 41 ] || { echo "restored: exit status $rc, want 41"; tail -n 5 "$T_TMP/err2"; return 1; }
	[ $((before + after)) = $DOTS ] || { echo "dots: $before before, $after after, want $DOTS in all"; return 1; }
	[ "$(tr -cd S <"$T_TMP/out2" | wc -c)" = 0 ] || { echo "the restored guest started again"; return 1; }
	# sparse: 128 MiB of RAM, of which the payload touched a few pages
	local used
	used=$(du -k "$p.mem" | cut -f1)
	[ "$(stat -c %s "$p.mem")" = $((128 << 20)) ] || { echo "memory file: $(stat -c %s "$p.mem") bytes"; return 1; }
	[ "$used" -lt 1024 ] || { echo "memory file: $used KiB on disk, want holes"; return 1; }
}

t_restore_continues_count() { count_restored count; }
# KVM's IOAPIC, PICs and PIT saved and restored too, with two vCPUs.
t_restore_kernel_irqchip() { count_restored kirq --irqchip kernel --cpus 2; }

t_api_load_paused_config_and_clones() {
	local s=$T_SOCK/snap_api.sock s2=$T_SOCK/snap_api2.sock p=$T_TMP/api a b rc i
	start_api "$s" || return 1
	expect_api 204 '^$' "$s" PUT /boot-source "{\"kernel_image_path\":\"$COUNT\",\"boot_args\":\"console=ttyS0\"}" || { kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /machine-config '{"vcpu_count":2,"mem_size_mib":64}' || { kill -9 $pid; return 1; }
	# a read-only drive (the clones share it) and a NIC, with rate limiters
	truncate -s 1M "$p.img"
	expect_api 204 '^$' "$s" PUT /drives/data "{\"drive_id\":\"data\",\"path_on_host\":\"$p.img\",\"is_root_device\":false,\"is_read_only\":true,\"rate_limiter\":{\"ops\":{\"size\":100,\"refill_time\":1000}}}" || { kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /network-interfaces/eth0 '{"iface_id":"eth0","host_dev_name":"snaptap0","guest_mac":"06:00:ac:10:00:02","tx_rate_limiter":{"bandwidth":{"size":1000000,"refill_time":100}}}' || { kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /actions '{"action_type":"InstanceStart"}' || { kill -9 $pid; return 1; }
	# refused while it runs: the VM must be paused
	expect_api 400 'paused' "$s" PUT /snapshot/create \
		"{\"snapshot_path\":\"$p.x\",\"mem_file_path\":\"$p.y\"}" || { kill -9 $pid; return 1; }
	[ ! -e "$p.x" ] && [ ! -e "$p.y" ] || { echo "a refused snapshot left files"; kill -9 $pid; return 1; }
	expect_api 400 'after the microVM started' "$s" PUT /snapshot/load \
		"{\"snapshot_path\":\"$p.x\",\"mem_backend\":{\"backend_type\":\"File\",\"backend_path\":\"$p.y\"}}" || { kill -9 $pid; return 1; }
	snap_running "$s" "$p" || { kill -9 $pid; return 1; }
	api "$s" GET /vm/config | tail -n +2 | jq -S . >"$T_TMP/config1" || { kill -9 $pid; return 1; }
	kill -9 $pid
	wait $pid 2>/dev/null
	# The TAP ember made goes when the kernel has closed the dead process's
	# io_uring (a moment after it is reaped); until then it is busy.
	local _
	for _ in $(seq 1 100); do ip link show snaptap0 >/dev/null 2>&1 || break; sleep 0.05; done
	# restored paused: no KVM_RUN until resumed; the same configuration
	"$EMBER" --api-sock "$s2" >"$T_TMP/out2" 2>"$T_TMP/err2" </dev/null &
	pid=$!
	wait_for_socket "$s2" $pid || return 1
	expect_api 204 '^$' "$s2" PUT /snapshot/load \
		"{\"snapshot_path\":\"$p.state\",\"mem_backend\":{\"backend_type\":\"File\",\"backend_path\":\"$p.mem\"},\"resume_vm\":false}" || { kill -9 $pid; return 1; }
	expect_api 200 '"state":"Paused"' "$s2" GET / || { kill -9 $pid; return 1; }
	api "$s2" GET /vm/config | tail -n +2 | jq -S . >"$T_TMP/config2" || { kill -9 $pid; return 1; }
	diff "$T_TMP/config1" "$T_TMP/config2" || { echo "GET /vm/config differs after the restore"; kill -9 $pid; return 1; }
	usr1_line $pid "$T_TMP/err2" || { kill -9 $pid; return 1; }
	a=$(kvm_runs "$T_TMP/err2")
	sleep 0.3
	usr1_line $pid "$T_TMP/err2" || { kill -9 $pid; return 1; }
	b=$(kvm_runs "$T_TMP/err2")
	[ "$a" = "$b" ] || { echo "KVM_RUN while restored paused: $a -> $b"; kill -9 $pid; return 1; }
	expect_api 400 'not allowed after' "$s2" PUT /snapshot/load \
		"{\"snapshot_path\":\"$p.state\",\"mem_file_path\":\"$p.mem\"}" || { kill -9 $pid; return 1; }
	# a restored VM snapshot again: not onto the memory file it runs on
	expect_api 400 'restored from and runs on' "$s2" PUT /snapshot/create \
		"{\"snapshot_path\":\"$p.x\",\"mem_file_path\":\"$p.mem\"}" || { kill -9 $pid; return 1; }
	[ ! -e "$p.x" ] || { echo "a refused snapshot left a state file"; kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s2" PUT /snapshot/create \
		"{\"snapshot_path\":\"$p.2.state\",\"mem_file_path\":\"$p.2.mem\"}" || { kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s2" PATCH /vm '{"state":"Resumed"}' || { kill -9 $pid; return 1; }
	wait $pid
	rc=$?
	[ $rc = 41 ] || { echo "restored through the API: exit status $rc, want 41"; tail -n 5 "$T_TMP/err2"; return 1; }
	"$EMBER" --restore "$p.2.state" --mem-file "$p.2.mem" >/dev/null 2>"$T_TMP/err3" </dev/null
	rc=$?
	[ $rc = 41 ] || { echo "the snapshot of the restored VM: exit status $rc, want 41"; tail -n 5 "$T_TMP/err3"; return 1; }
	# clones: the same files, three at once (the deprecated mem_file_path
	# form), each loaded paused so that its configuration is read before
	# it runs to its end (a resumed count can end before the GET), then
	# resumed
	local pids=()
	for i in 1 2 3; do
		"$EMBER" --api-sock "$T_SOCK/clone$i.sock" >"$T_TMP/cout$i" 2>"$T_TMP/cerr$i" </dev/null &
		pids+=($!)
	done
	for i in 1 2 3; do
		wait_for_socket "$T_SOCK/clone$i.sock" ${pids[i - 1]} || { kill -9 "${pids[@]}"; return 1; }
		expect_api 204 '^$' "$T_SOCK/clone$i.sock" PUT /snapshot/load \
			"{\"snapshot_path\":\"$p.state\",\"mem_file_path\":\"$p.mem\",\"resume_vm\":false,\"network_overrides\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"snapc$i\"}]}" || { kill -9 "${pids[@]}"; return 1; }
		expect_api 200 "\"host_dev_name\":\"snapc$i\"" "$T_SOCK/clone$i.sock" GET /vm/config || { kill -9 "${pids[@]}"; return 1; }
	done
	for i in 1 2 3; do
		expect_api 204 '^$' "$T_SOCK/clone$i.sock" PATCH /vm '{"state":"Resumed"}' || { kill -9 "${pids[@]}"; return 1; }
	done
	for i in 1 2 3; do
		wait ${pids[i - 1]}
		rc=$?
		[ $rc = 41 ] || { echo "clone $i: exit status $rc"; tail -n 5 "$T_TMP/cerr$i"; kill -9 "${pids[@]}" 2>/dev/null; return 1; }
	done
}

# refused LABEL ARGS...: ember --restore ARGS exits 2 with one error line
# matching LABEL, having printed nothing of the guest's.
refused() {
	local pat=$1 rc
	shift
	"$EMBER" "$@" >"$T_TMP/rout" 2>"$T_TMP/rerr" </dev/null
	rc=$?
	[ $rc = 2 ] || { echo "$* -> exit status $rc, want 2"; cat "$T_TMP/rerr"; return 1; }
	[ "$(grep -c . "$T_TMP/rerr")" = 1 ] && grep -Eq -- "$pat" "$T_TMP/rerr" ||
		{ echo "$* -> want one line /$pat/:"; cat "$T_TMP/rerr"; return 1; }
	[ ! -s "$T_TMP/rout" ] || { echo "$* -> the guest ran"; return 1; }
}

# A load after PUT /machine-config is refused (as Firecracker does) and the
# refusal changes nothing; a drive and a network interface may share an id,
# and each PATCH reaches its own device.
t_api_load_after_machine_config_and_shared_ids() {
	local s=$T_SOCK/snap_ids.sock p=$T_TMP/ids
	build/tests/mkpayload spin "$p.elf" || return 1
	truncate -s 1M "$p.img"
	start_api "$s" || return 1
	expect_api 204 '^$' "$s" PUT /machine-config '{"vcpu_count":2,"mem_size_mib":64}' || { kill -9 $pid; return 1; }
	expect_api 400 'not allowed after configuring' "$s" PUT /snapshot/load \
		"{\"snapshot_path\":\"$p.none\",\"mem_backend\":{\"backend_type\":\"File\",\"backend_path\":\"$p.none\"}}" || { kill -9 $pid; return 1; }
	expect_api 200 '"vcpu_count":2' "$s" GET /machine-config || { kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /boot-source "{\"kernel_image_path\":\"$p.elf\"}" || { kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /drives/x "{\"drive_id\":\"x\",\"path_on_host\":\"$p.img\",\"is_root_device\":false,\"is_read_only\":false}" || { kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /network-interfaces/x '{"iface_id":"x","host_dev_name":"idtap0"}' || { kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /actions '{"action_type":"InstanceStart"}' || { kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s" PATCH /network-interfaces/x '{"iface_id":"x","tx_rate_limiter":{"bandwidth":{"size":1000,"refill_time":100}}}' || { kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s" PATCH /drives/x '{"drive_id":"x","rate_limiter":{"ops":{"size":10,"refill_time":100}}}' || { kill -9 $pid; return 1; }
	api "$s" GET /vm/config | tail -n +2 >"$T_TMP/ids.json" || { kill -9 $pid; return 1; }
	[ "$(jq '.["network-interfaces"][0].tx_rate_limiter.bandwidth.size, .drives[0].rate_limiter.ops.size' "$T_TMP/ids.json" | paste -sd,)" = 1000,10 ] ||
		{ echo "limits not where they were sent:"; cat "$T_TMP/ids.json"; kill -9 $pid; return 1; }
	kill -TERM $pid
	wait $pid
	[ $? = 143 ] || { echo "exit status after SIGTERM: not 143"; cat "$T_TMP/err"; return 1; }
}

t_bad_snapshots_refused() {
	local s=$T_SOCK/snap_bad.sock p=$T_TMP/bad len
	truncate -s 1M "$p.img"
	"$EMBER" --kernel "$COUNT" --mem 64 --disk "$p.img" --api-sock "$s" >"$T_TMP/out" 2>"$T_TMP/err" </dev/null &
	pid=$!
	wait_for_socket "$s" $pid || return 1
	expect_api 400 'Full snapshots only' "$s" PUT /snapshot/create \
		"{\"snapshot_type\":\"Diff\",\"snapshot_path\":\"$p.x\",\"mem_file_path\":\"$p.y\"}" || { kill -9 $pid; return 1; }
	snap_running "$s" "$p" || { kill -9 $pid; return 1; }
	kill -9 $pid
	wait $pid 2>/dev/null
	len=$(stat -c %s "$p.state")
	head -c $((len - 100)) "$p.state" >"$p.trunc"
	refused 'snapshot.*(truncated|length|short|bytes)' --restore "$p.trunc" --mem-file "$p.mem" || return 1
	cp "$p.state" "$p.flip"
	printf '\xff' | dd of="$p.flip" bs=1 seek=$((len / 2)) conv=notrunc status=none
	refused 'snapshot.*(CRC|checksum)' --restore "$p.flip" --mem-file "$p.mem" || return 1
	# format version 2, with a right CRC: refused for its version
	python3 - "$p.state" "$p.v2" <<'EOF' || return 1
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
b[8:12] = struct.pack('<I', 2)
def crc32c(data):
    crc = 0xffffffff
    for x in data:
        crc ^= x
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff
b[-4:] = struct.pack('<I', crc32c(bytes(b[:-4])))
open(sys.argv[2], 'wb').write(b)
EOF
	refused 'snapshot.*version' --restore "$p.v2" --mem-file "$p.mem" || return 1
	head -c $((32 << 20)) "$p.mem" >"$p.small"
	refused 'memory file has 33554432 bytes' --restore "$p.state" --mem-file "$p.small" || return 1
	refused "memory file '$p.none'" --restore "$p.state" --mem-file "$p.none" || return 1
	refused "$p.none" --restore "$p.none" --mem-file "$p.mem" || return 1
	mv "$p.img" "$p.img.away"
	refused "--disk $p.img: No such file" --restore "$p.state" --mem-file "$p.mem" || return 1
	mv "$p.img.away" "$p.img"
	refused 'go together' --restore "$p.state" || return 1
	refused 'the snapshot holds' --restore "$p.state" --mem-file "$p.mem" --kernel "$COUNT" || return 1
	refused 'no network interface' --restore "$p.state" --mem-file "$p.mem" --net-override eth9=tap9 || return 1
	# and through the API: a 400, and the fresh ember still takes a good one
	"$EMBER" --api-sock "$s" >"$T_TMP/out2" 2>"$T_TMP/err2" </dev/null &
	pid=$!
	wait_for_socket "$s" $pid || return 1
	expect_api 400 'CRC|checksum' "$s" PUT /snapshot/load \
		"{\"snapshot_path\":\"$p.flip\",\"mem_file_path\":\"$p.mem\"}" || { kill -9 $pid; return 1; }
	expect_api 400 'Uffd' "$s" PUT /snapshot/load \
		"{\"snapshot_path\":\"$p.state\",\"mem_backend\":{\"backend_type\":\"Uffd\",\"backend_path\":\"/x\"}}" || { kill -9 $pid; return 1; }
	expect_api 400 'one of mem_backend' "$s" PUT /snapshot/load "{\"snapshot_path\":\"$p.state\"}" || { kill -9 $pid; return 1; }
	expect_api 200 '"state":"Not started"' "$s" GET / || { kill -9 $pid; return 1; }
	expect_api 204 '^$' "$s" PUT /snapshot/load \
		"{\"snapshot_path\":\"$p.state\",\"mem_file_path\":\"$p.mem\",\"resume_vm\":true}" || { kill -9 $pid; return 1; }
	wait $pid
	local rc=$?
	[ $rc = 41 ] || { echo "after the refusals: exit status $rc"; tail -n 5 "$T_TMP/err2"; return 1; }
}

# SNAP_TESTS=REGEX runs only the matching tests.
t_run_all snapshot "${SNAP_TESTS:-}"
