/* x86_vm.h: what is x86 about a VM and its vCPUs, set up on top of the core
 * (vmm/core/vm.h, vcpu.h): KVM's TSS and identity-map pages, each vCPU's
 * CPUID and initial state (the boot vCPU at the kernel's entry), the register
 * dump for a failing vCPU, and the PCI windows the guest can address.
 *
 *	vm_create(&vm, ...)             core
 *	x86_vm_setup(&vm, &err)         right after
 *	vcpus_create(&vm, &err)         core
 *	x86_vcpus_setup(&vm, &k, &err)  before the vCPUs run
 */
#ifndef EMBER_X86_VM_H
#define EMBER_X86_VM_H

#include "vmm/arch/x86/kernel_image.h"
#include "vmm/core/vm.h"
#include "vmm/pci/pci.h"

/* KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR, and the register-dump hook.
 * 0, or -1 with err set. */
int x86_vm_setup(struct vm *vm, struct errbuf *err);

/* Every vCPU's CPUID and registers; vCPU 0 enters the kernel k, the others
 * wait for INIT/SIPI from the guest. 0, or -1 with err set. */
int x86_vcpus_setup(struct vm *vm, const struct kernel_image *k, struct errbuf *err);

/* The PCI windows for vm's memory: the 64-bit one must stay below what the
 * guest can address (CPUID 0x80000008 EAX[7:0]); when it does not fit there
 * is none (ember's own devices only use 32-bit BARs). */
void x86_pci_windows(const struct vm *vm, struct pci_windows *w);

#endif
