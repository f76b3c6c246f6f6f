/* cpuid.c: adjust KVM's supported CPUID leaves for one vCPU of an ncpus VM. */
#include "vmm/arch/x86/cpuid.h"

#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_EDX_HTT (1u << 28)

static unsigned order_base_2(unsigned n)
{
	unsigned b = 0;
	while ((1u << b) < n)
		b++;
	return b;
}

void cpuid_for_vcpu(struct kvm_cpuid2 *c, unsigned index, unsigned ncpus, bool tsc_deadline)
{
	unsigned shift = order_base_2(ncpus);
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0xffff) | (index << 24) | ((ncpus & 0xff) << 16);
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			/* KVM's local APIC has the TSC-deadline timer but its supported
			 * CPUID does not say so (KVM_CAP_TSC_DEADLINE_TIMER does): Linux
			 * then programs its timer with one MSR write, not the APIC
			 * timer's registers (and calibrates nothing). */
			if (tsc_deadline)
				e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
			if (ncpus > 1)
				e->edx |= CPUID_1_EDX_HTT;
			else
				e->edx &= ~CPUID_1_EDX_HTT;
			break;
		case 4: /* Intel cache topology: cores per package - 1 in 31:26 (6 bits) */
			if (e->eax & 0x1f)
				e->eax = (e->eax & 0x03ffffff) | ((ncpus > 64 ? 63 : ncpus - 1) << 26);
			break;
		case 0xb:
		case 0x1f: /* extended topology: level 0 = SMT (1 thread), 1 = core */
			e->edx = index;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = 1u << 8;
			} else if (e->index == 1) {
				e->eax = shift;
				e->ebx = ncpus;
				e->ecx = 1 | 2u << 8;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000008: /* AMD: cores - 1 and APIC id size */
			e->ecx = (e->ecx & ~0xf0ffu) | ((ncpus - 1) & 0xff) | (shift << 12);
			break;
		case 0x8000001e: /* AMD: extended APIC id, core id, node */
			e->eax = index;
			e->ebx = index & 0xff;
			e->ecx = 0;
			break;
		}
	}
}
