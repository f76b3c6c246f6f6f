/* guest_sample.h: test builds only: vCPU 0 samples where its guest runs, for
 * bench/boot_sample.sh (see guest_sample.c). Empty in ember itself. */
#ifndef EMBER_GUEST_SAMPLE_H
#define EMBER_GUEST_SAMPLE_H

#include "vmm/core/vm.h"

#ifdef EMBER_TEST_HOOKS
/* On the vCPU's thread, before its seccomp filter: with
 * EMBER_TEST_GUEST_SAMPLE=FILE and v is vCPU 0, open FILE and start a timer
 * that kicks the thread out of KVM_RUN every millisecond. */
void guest_sample_start(struct vcpu *v);
/* After KVM_RUN returned EINTR: record the guest's RIP, RSP and the kernel
 * text addresses on its stack (when sampling). */
void guest_sample_take(struct vcpu *v);
/* When the thread ends: write the samples to FILE. */
void guest_sample_end(struct vcpu *v);
#else
static inline void guest_sample_start(struct vcpu *v) { (void)v; }
static inline void guest_sample_take(struct vcpu *v) { (void)v; }
static inline void guest_sample_end(struct vcpu *v) { (void)v; }
#endif

#endif
