/* vcpu.h: vCPU creation, set-up and the per-vCPU run threads. */
#ifndef EMBER_VCPU_H
#define EMBER_VCPU_H

#include "vmm/core/vm.h"

/* Signal used to kick a vCPU thread out of KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR2 /* SIGUSR1 is the user's: NIC counters */

/* Create every vCPU (its fd and run area); the architecture sets them up
 * (vmm/arch/x86/x86_vm.h: CPUID, registers, the boot vCPU's entry state). */
int vcpus_create(struct vm *vm, struct errbuf *err);
/* Start one thread per vCPU. Each installs its seccomp filter and then waits
 * at a gate: vcpus_wait_ready() waits until every started thread has its
 * filter (-1 if one could not install it), vcpus_go() lets them run the guest. */
int vcpus_start(struct vm *vm, struct errbuf *err);
int vcpus_wait_ready(struct vm *vm);
void vcpus_go(struct vm *vm, bool parked);
/* (parked: they go straight to park without entering the guest, for a VM
 * restored paused; vm_pause() then waits for them and pauses the devices.) */
/* Kick every vCPU out of the guest and wait for its thread to end. */
void vcpus_stop(struct vm *vm);
/* Kick every vCPU out of KVM_RUN and wait (at most timeout_ns) until each
 * has parked. 0, or -1 when one did not. vcpus_resume() lets them go on. */
int vcpus_pause(struct vm *vm, uint64_t timeout_ns);
void vcpus_resume(struct vm *vm);
/* On a vCPU thread: whether its VM wants it out of the guest (a pause or a
 * stop). A device that blocks in a system call on a vCPU thread (the serial
 * console's write) gives up when the kick interrupts it and this is true, so
 * that a stalled console cannot hold a pause or a stop for ever. */
bool vcpu_must_leave(void);

#endif
