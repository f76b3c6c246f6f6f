/* vcpu_state.h: one x86 vCPU's state in KVM, as plain data: captured from a
 * stopped vCPU, put back into a new one (a snapshot's restore), and encoded as
 * bytes (vmm/core/state_codec.h) for a snapshot file.
 *
 * What it holds: the MP state, general and special registers, the XSAVE area
 * (FPU, SSE, AVX, ...; KVM_GET_XSAVE2's size where KVM has it), the XCRs,
 * debug registers, the local APIC's register page, every MSR KVM lists
 * (KVM_GET_MSR_INDEX_LIST, which is KVM's msrs_to_save and emulated MSRs, and
 * KVM_GET_MSR_FEATURE_INDEX_LIST), the pending events (exceptions,
 * interrupts, NMIs, the interrupt shadow), the CPUID table, and the TSC
 * frequency. Only linux/kvm.h's structs, in fixed-size arrays: no pointers.
 *
 * Saving a running VM:
 *
 *	every vCPU out of KVM_RUN and parked (vm_pause())
 *	x86_vcpu_state_settle(fd, run)   on each, handling any exit it returns
 *	x86_vcpu_state_save(fd, kvm_fd, &s, &err)
 *	x86_vcpu_state_encode(&s, buf, cap)
 *	x86_vm_state_save() after every vCPU's (vmm/arch/x86/vm_state.h)
 *
 * Restoring: a new VM with the same memory and vCPU count (vm_create,
 * x86_vm_setup, vcpus_create; not x86_vcpus_setup, whose boot state the
 * restore replaces), guest memory copied in, the VM's state
 * (vmm/arch/x86/vm_state.h), then x86_vcpu_state_decode() and
 * x86_vcpu_state_restore() on each vCPU, and x86_vcpus_restore_tsc() on
 * all of them, before any runs. */
#ifndef EMBER_VCPU_STATE_H
#define EMBER_VCPU_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "vmm/lib/util.h"

#define X86_VCPU_MAX_CPUID 256   /* KVM_MAX_CPUID_ENTRIES: KVM_SET_CPUID2 takes no more */
#define X86_VCPU_MAX_MSRS 1024   /* KVM lists a few dozen to a few hundred */
#define X86_VCPU_XSAVE_MIN 4096  /* sizeof(struct kvm_xsave): KVM_GET_XSAVE's size */
#define X86_VCPU_XSAVE_MAX 16384 /* KVM_CAP_XSAVE2's size: 4096, ~11 KiB with AMX */

struct x86_vcpu_state {
	uint32_t tsc_khz;                /* 0: KVM did not know it */
	struct kvm_mp_state mp_state;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint32_t xsave_size;             /* bytes of xsave KVM filled */
	uint32_t xsave[X86_VCPU_XSAVE_MAX / 4]; /* a struct kvm_xsave, zero after xsave_size */
	struct kvm_xcrs xcrs;
	struct kvm_debugregs debugregs;
	struct kvm_lapic_state lapic;
	uint32_t nmsrs;
	struct kvm_msr_entry msrs[X86_VCPU_MAX_MSRS]; /* in KVM's list order */
	struct kvm_vcpu_events events;
	uint32_t ncpuid;
	struct kvm_cpuid_entry2 cpuid[X86_VCPU_MAX_CPUID];
};

/* Let KVM finish the instruction behind the vCPU's last exit without running
 * the guest any further: KVM_RUN with immediate_exit set. After an I/O or
 * MMIO exit, KVM completes the instruction (a read's data into its register,
 * RIP past it) only on the next KVM_RUN, so state saved before that would
 * replay the access, or lose the data read, on restore (KVM's API
 * documentation, "immediate_exit"). 0 when settled; 1 when KVM returned
 * another exit instead (a string or multi-part access), which the caller
 * handles as usual before calling this again; -1 with err set. On the
 * vCPU's own thread, or while it is parked. */
int x86_vcpu_state_settle(int vcpu_fd, struct kvm_run *run, struct errbuf *err);

/* Capture the state of a vCPU that is out of KVM_RUN and settled; kvm_fd is
 * /dev/kvm (its MSR lists and XSAVE size). MSRs KVM lists but will not read
 * on this vCPU are left out, with a warning. 0, or -1 with err set. */
int x86_vcpu_state_save(int vcpu_fd, int kvm_fd, struct x86_vcpu_state *s, struct errbuf *err);

/* Put s into a vCPU that has not run: the TSC frequency (set only when this
 * host's differs by more than KVM's and QEMU's 250 ppm), then KVM's order
 * (see vcpu_state.c). 0, or -1 with err naming the ioctl that failed. */
int x86_vcpu_state_restore(int vcpu_fd, int kvm_fd, const struct x86_vcpu_state *s,
			   struct errbuf *err);

/* After x86_vcpu_state_restore() on each of a VM's n vCPUs (fds[i] with
 * states[i]): one TSC for all of them, going on from the largest saved
 * value, and each TSC deadline armed again against it. The MSR writes alone
 * do not do it: KVM takes a TSC written within a second of what it expects
 * for a resync and keeps its own value (before Linux 6.7 on every write;
 * since, on writes after the first from userspace), so a guest that had run
 * for less than a second got its TSC from the new VM's start, back in time;
 * and vCPUs restored one after another could get offsets as far apart as
 * their restores. This sets the TSC offset of every vCPU
 * (KVM_VCPU_TSC_OFFSET, Linux 5.16+) to the one that makes the vCPU with the
 * largest saved TSC read it now (no vCPU's TSC goes back; the others jump
 * ahead by the microseconds between their saves). Without the attribute it
 * leaves the MSR writes' result. 0, or -1 with err set. */
int x86_vcpus_restore_tsc(const int *fds, const struct x86_vcpu_state *states, unsigned n,
			  struct errbuf *err);

/* The encoding: X86_VCPU_STATE_MAX_BYTES is enough for any state. */
#define X86_VCPU_STATE_MAGIC 0x50435645u /* "EVCP" */
#define X86_VCPU_STATE_VERSION 1
#define X86_VCPU_STATE_MAX_BYTES (sizeof(struct x86_vcpu_state) + 1024)
/* Encode s into buf: its length, or 0 when cap is too small or s is not a
 * state save could have made (counts or sizes out of range). */
size_t x86_vcpu_state_encode(const struct x86_vcpu_state *s, uint8_t *buf, size_t cap);
/* Decode len bytes (untrusted) into s, checking every length, count and
 * size: 0, or -1 with err saying, in one line, what is wrong. */
int x86_vcpu_state_decode(const uint8_t *buf, size_t len, struct x86_vcpu_state *s,
			  struct errbuf *err);

#endif
