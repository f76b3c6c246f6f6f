/* x86_vm.c: the x86 set-up of a VM and its vCPUs (see x86_vm.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/arch/x86/cpuid.h"
#include "vmm/arch/x86/layout.h"
#include "vmm/arch/x86/x86_boot.h"
#include "vmm/arch/x86/x86_vm.h"

int x86_vm_setup(struct vm *vm, struct errbuf *err)
{
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_TSS) < 0) {
		err_set(err, "KVM_SET_TSS_ADDR failed: %s", strerror(errno));
		return -1;
	}
	uint64_t idmap = LAYOUT_IDENTITY_MAP;
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
	    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0) {
		err_set(err, "KVM_SET_IDENTITY_MAP_ADDR failed: %s", strerror(errno));
		return -1;
	}
	vm->dump_regs = x86_dump_regs;
	return 0;
}

static int vcpu_setup(struct vm *vm, unsigned index, const struct kernel_image *k,
		      bool tsc_deadline, struct errbuf *err)
{
	struct vcpu *v = &vm->vcpus[index];
	const struct kvm_cpuid2 *sup = vm->supported_cpuid;
	size_t csz = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *c = malloc(csz);
	if (!c) {
		err_set(err, "out of memory");
		return -1;
	}
	memcpy(c, sup, csz);
	cpuid_for_vcpu(c, index, vm->ncpus, tsc_deadline);
	int r = ioctl(v->fd, KVM_SET_CPUID2, c);
	free(c);
	if (r < 0) {
		err_set(err, "KVM_SET_CPUID2 on vCPU %u: %s", index, strerror(errno));
		return -1;
	}
	if (x86_vcpu_init(v->fd, err))
		return -1;
	/* Application processors wait for INIT/SIPI from the guest. */
	if (index == 0 && x86_boot_regs(v->fd, k, err))
		return -1;
	return 0;
}

int x86_vcpus_setup(struct vm *vm, const struct kernel_image *k, struct errbuf *err)
{
	bool tsc_deadline = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vcpu_setup(vm, i, k, tsc_deadline, err))
			return -1;
	return 0;
}

void x86_pci_windows(const struct vm *vm, struct pci_windows *w)
{
	pci_default_windows(&vm->mem.layout, w);
	unsigned phys_bits = 36;
	for (unsigned i = 0; i < vm->supported_cpuid->nent; i++)
		if (vm->supported_cpuid->entries[i].function == 0x80000008 &&
		    (vm->supported_cpuid->entries[i].eax & 0xff))
			phys_bits = vm->supported_cpuid->entries[i].eax & 0xff;
	if (phys_bits < 64 && w->mem64_end > (1ull << phys_bits))
		w->mem64_base = w->mem64_end = 0;
}
