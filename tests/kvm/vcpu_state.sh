#!/usr/bin/env bash
# tests/kvm/vcpu_state.sh: x86 vCPU and VM state saved from a running VM and
# restored into a second one, which goes on from there (build/tests/vcpu_state
# says what it checks): with either IRQ chip, saved at a timer signal and at a
# port read's exit, natively and under ASan+UBSan. Needs a /dev/kvm that can
# run a few instructions: natively where it exists, otherwise inside the lab.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
TOOL=build/tests/vcpu_state
ASAN_TOOL=build/asan/tests/vcpu_state

# saved_and_restored BINARY IRQCHIP AT
saved_and_restored() {
	[ -x "$1" ] || { echo "$1 is missing (make builds it, make asan the ASan one)"; return 1; }
	expect_status 0 "$1" --irqchip "$2" --at "$3" || return 1
	expect_lines 1 "$T_OUT" && expect_lines 0 "$T_ERR" || return 1
	expect_grep "^vcpu_state: --irqchip $2, saved at .*; VM 2 restored and VM 1 resumed both reported 0x[0-9a-f]+ to 0x[0-9a-f]+ and exited 0$" "$T_OUT"
}
t_split_at_signal() { saved_and_restored $TOOL split signal; }
t_split_at_exit() { saved_and_restored $TOOL split exit; }
t_kernel_irqchip_at_signal() { saved_and_restored $TOOL kernel signal; }
t_kernel_irqchip_at_exit() { saved_and_restored $TOOL kernel exit; }
t_asan_split_at_exit() { saved_and_restored $ASAN_TOOL split exit; }
t_asan_kernel_irqchip_at_signal() { saved_and_restored $ASAN_TOOL kernel signal; }
# Without /dev/kvm the test fails, saying why.
t_no_dev_kvm_fails() {
	expect_status 1 unshare -m sh -c "mount -t tmpfs none /dev && exec $TOOL" || return 1
	expect_grep "^vcpu_state: FAIL: /dev/kvm does not exist" "$T_ERR"
}

t_run_all vcpu_state
