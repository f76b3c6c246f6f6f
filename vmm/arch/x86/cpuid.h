/* cpuid.h: per-vCPU CPUID, derived from what KVM supports: APIC ids, topology
 * (one package, one thread per core, ncpus cores), the hypervisor bit and,
 * when KVM has it, the TSC-deadline timer. */
#ifndef EMBER_CPUID_H
#define EMBER_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>

void cpuid_for_vcpu(struct kvm_cpuid2 *c, unsigned index, unsigned ncpus, bool tsc_deadline);

#endif
