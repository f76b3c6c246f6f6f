/* vm_state.h: an x86 VM's state in KVM outside its vCPUs, as plain data:
 * kvmclock, the guest RAM's layout, and with --irqchip kernel KVM's PICs,
 * IOAPIC and PIT (the split IRQ chip's IOAPIC is ember's, a device with state
 * of its own). Captured while every vCPU is stopped, after their own state
 * (kvmclock last: then no clock a vCPU's state holds, such as Hyper-V's
 * reference count, is ahead of it), put back into a new VM before its vCPUs
 * run, and encoded as bytes (vmm/core/state_codec.h). The guest memory's
 * contents are not here: a snapshot carries them itself. */
#ifndef EMBER_VM_STATE_H
#define EMBER_VM_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "vmm/core/mem_layout.h"
#include "vmm/core/vm.h"
#include "vmm/lib/util.h"

struct x86_vm_state {
	struct kvm_clock_data clock;      /* KVM_GET_CLOCK */
	struct mem_layout mem;            /* where guest RAM is (vm->mem.layout) */
	uint32_t irqchip_kernel;          /* 1: KVM's whole IRQ chip, and these: */
	struct kvm_pic_state pic[2];      /* master, slave */
	struct kvm_ioapic_state ioapic;
	struct kvm_pit_state2 pit;
};

/* 0, or -1 with err set. */
int x86_vm_state_save(const struct vm *vm, struct x86_vm_state *s, struct errbuf *err);
/* Into a VM made like the saved one (the same RAM, the same IRQ chip): the
 * guest's kvmclock continues from the saved value (no time passes for the
 * guest while it was saved), KVM's PICs, IOAPIC and PIT as they were. 0, or
 * -1 with err set (a VM unlike the saved one says how). */
int x86_vm_state_restore(const struct vm *vm, const struct x86_vm_state *s, struct errbuf *err);

#define X86_VM_STATE_MAGIC 0x534d5645u /* "EVMS" */
#define X86_VM_STATE_VERSION 1
#define X86_VM_STATE_MAX_BYTES (sizeof(struct x86_vm_state) + 256)
/* As x86_vcpu_state_encode() and x86_vcpu_state_decode(). */
size_t x86_vm_state_encode(const struct x86_vm_state *s, uint8_t *buf, size_t cap);
int x86_vm_state_decode(const uint8_t *buf, size_t len, struct x86_vm_state *s,
			struct errbuf *err);

#endif
