/* test_cpuid.c: per-vCPU CPUID adjustment (cpuid.c) on a fake kvm_cpuid2 with
 * leaves 1, 4, 0xb (subleaves 0-2), 0x80000008 and 0x8000001e: the APIC id in
 * leaf 1 EBX[31:24], the hypervisor bit, the TSC-deadline bit when asked, HTT
 * only with more than one vCPU, the x2APIC id and level shifts/counts/types
 * of leaf 0xb, the AMD core count and APIC id size, and that unrelated leaves
 * and bits are left alone. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/arch/x86/cpuid.h"
#include "vmm/lib/util.h"

#define NENT 9

static struct kvm_cpuid2 *c;

static struct kvm_cpuid_entry2 *leaf(uint32_t fn, uint32_t idx)
{
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	return NULL;
}

/* A fresh table as KVM might report it (with stale host values in place). */
static void fake(void)
{
	memset(c, 0, sizeof(*c) + NENT * sizeof(struct kvm_cpuid_entry2));
	c->nent = NENT;
	struct kvm_cpuid_entry2 *e = c->entries;
	e[0] = (struct kvm_cpuid_entry2){.function = 1, .eax = 0x000906ea,
		.ebx = 0x07100800, /* host APIC id 7, 16 logical, CLFLUSH 8 */
		.ecx = 0x7ffafbff, .edx = 0xbfebfbff};
	e[1] = (struct kvm_cpuid_entry2){.function = 0xb, .index = 0,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 7};
	e[2] = (struct kvm_cpuid_entry2){.function = 0xb, .index = 1,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 4, .ebx = 16, .ecx = 0x201, .edx = 7};
	e[3] = (struct kvm_cpuid_entry2){.function = 0xb, .index = 2,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 9, .ebx = 9, .ecx = 9, .edx = 7};
	e[4] = (struct kvm_cpuid_entry2){.function = 0x80000008, .eax = 0x3030,
		.ebx = 0x1234, .ecx = 0xf00f700f, .edx = 0};
	e[5] = (struct kvm_cpuid_entry2){.function = 0x8000001e, .eax = 0x55, .ebx = 0x0101,
		.ecx = 0x0103, .edx = 0};
	e[6] = (struct kvm_cpuid_entry2){.function = 4, .index = 0,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x1c004121, .ebx = 0x01c0003f};
	e[7] = (struct kvm_cpuid_entry2){.function = 4, .index = 4,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x1c000000}; /* type 0: end */
	e[8] = (struct kvm_cpuid_entry2){.function = 0, .eax = 0xd, .ebx = 0x756e6547,
		.ecx = 0x6c65746e, .edx = 0x49656e69};
}

static void leaf1_apic_id_and_count(void)
{
	for (unsigned n = 1; n <= 8; n++)
		for (unsigned i = 0; i < n; i++) {
			fake();
			cpuid_for_vcpu(c, i, n, false);
			struct kvm_cpuid_entry2 *e = leaf(1, 0);
			CHECK_EQ(e->ebx >> 24, i);
			CHECK_EQ((e->ebx >> 16) & 0xff, n);
			CHECK_EQ(e->ebx & 0xffff, 0x0800); /* brand index / CLFLUSH kept */
			CHECK_EQ(e->eax, 0x000906ea);
		}
	fake();
	cpuid_for_vcpu(c, 253, 254, false);
	CHECK_EQ(leaf(1, 0)->ebx >> 24, 253);
	CHECK_EQ((leaf(1, 0)->ebx >> 16) & 0xff, 254);
}

static void leaf1_hypervisor_bit(void)
{
	fake();
	leaf(1, 0)->ecx &= ~(1u << 31);
	cpuid_for_vcpu(c, 0, 1, false);
	CHECK(leaf(1, 0)->ecx & (1u << 31));
	CHECK_EQ(leaf(1, 0)->ecx & 0x7fffffff, 0x7ffafbff); /* other bits kept */
}

/* The TSC-deadline timer is announced when KVM has it (KVM's supported
 * CPUID never sets the bit); without, the bit is what KVM said. */
static void leaf1_tsc_deadline(void)
{
	fake();
	leaf(1, 0)->ecx &= ~(1u << 24);
	cpuid_for_vcpu(c, 0, 1, true);
	CHECK(leaf(1, 0)->ecx & (1u << 24));
	CHECK_EQ(leaf(1, 0)->ecx, 0x7ffafbff | (1u << 31));
	fake();
	leaf(1, 0)->ecx &= ~(1u << 24);
	cpuid_for_vcpu(c, 0, 1, false);
	CHECK_EQ(leaf(1, 0)->ecx & (1u << 24), 0);
}

static void leaf1_htt(void)
{
	fake(); /* host value has HTT set */
	cpuid_for_vcpu(c, 0, 1, false);
	CHECK_EQ(leaf(1, 0)->edx & (1u << 28), 0);
	CHECK_EQ(leaf(1, 0)->edx | (1u << 28), 0xbfebfbff);
	fake();
	leaf(1, 0)->edx &= ~(1u << 28);
	cpuid_for_vcpu(c, 1, 2, false);
	CHECK(leaf(1, 0)->edx & (1u << 28));
}

static void leaf_b_topology(void)
{
	static const unsigned counts[] = {1, 2, 3, 4, 5, 8, 9, 64, 254};
	static const unsigned shifts[] = {0, 1, 2, 2, 3, 3, 4, 6, 8};
	for (size_t t = 0; t < ARRAY_SIZE(counts); t++) {
		unsigned n = counts[t];
		for (unsigned i = 0; i < n; i += (n > 9 ? 37 : 1)) {
			fake();
			cpuid_for_vcpu(c, i, n, false);
			struct kvm_cpuid_entry2 *l0 = leaf(0xb, 0), *l1 = leaf(0xb, 1), *l2 = leaf(0xb, 2);
			/* x2APIC id in EDX of every subleaf */
			CHECK_EQ(l0->edx, i);
			CHECK_EQ(l1->edx, i);
			CHECK_EQ(l2->edx, i);
			/* level 0: SMT, one thread, shift 0 */
			CHECK_EQ(l0->eax & 0x1f, 0);
			CHECK_EQ(l0->ebx & 0xffff, 1);
			CHECK_EQ(l0->ecx & 0xff, 0);
			CHECK_EQ((l0->ecx >> 8) & 0xff, 1);
			/* level 1: core, n logical processors, shift covers n ids */
			CHECK_EQ(l1->eax & 0x1f, shifts[t]);
			CHECK((1u << (l1->eax & 0x1f)) >= n);
			CHECK_EQ(l1->ebx & 0xffff, n);
			CHECK_EQ(l1->ecx & 0xff, 1);
			CHECK_EQ((l1->ecx >> 8) & 0xff, 2);
			/* level 2: invalid, ends enumeration */
			CHECK_EQ(l2->eax, 0);
			CHECK_EQ(l2->ebx, 0);
			CHECK_EQ(l2->ecx & 0xff, 2);
			CHECK_EQ((l2->ecx >> 8) & 0xff, 0);
		}
	}
}

static void amd_core_count(void)
{
	static const unsigned counts[] = {1, 2, 4, 6, 254};
	static const unsigned shifts[] = {0, 1, 2, 3, 8};
	for (size_t t = 0; t < ARRAY_SIZE(counts); t++) {
		unsigned n = counts[t];
		fake();
		cpuid_for_vcpu(c, n - 1, n, false);
		struct kvm_cpuid_entry2 *e = leaf(0x80000008, 0);
		CHECK_EQ(e->ecx & 0xff, n - 1);            /* NC: cores - 1 */
		CHECK_EQ((e->ecx >> 12) & 0xf, shifts[t]); /* ApicIdSize */
		CHECK_EQ(e->ecx & 0xffff0f00u, 0xf00f0000u | 0x0000); /* other bits kept */
		CHECK_EQ(e->eax, 0x3030);
		CHECK_EQ(e->ebx, 0x1234);
		struct kvm_cpuid_entry2 *x = leaf(0x8000001e, 0);
		CHECK_EQ(x->eax, n - 1);        /* extended APIC id */
		CHECK_EQ(x->ebx & 0xff, n - 1); /* core id */
		CHECK_EQ((x->ebx >> 8) & 0xff, 0); /* one thread per core */
		CHECK_EQ(x->ecx, 0);            /* node 0 of 1 */
	}
}

static void leaf4_cores_per_package(void)
{
	static const unsigned counts[] = {1, 2, 8, 64, 65, 254};
	for (size_t t = 0; t < ARRAY_SIZE(counts); t++) {
		unsigned n = counts[t];
		fake();
		cpuid_for_vcpu(c, 0, n, false);
		uint32_t eax = leaf(4, 0)->eax;
		unsigned want = n > 64 ? 63 : n - 1; /* the field is 6 bits */
		CHECK_EQ(eax >> 26, want);
		CHECK_EQ(eax & 0x03ffffff, 0x1c004121 & 0x03ffffff);
		CHECK_EQ(leaf(4, 4)->eax, 0x1c000000); /* no cache: untouched */
	}
}

static void other_leaves_untouched(void)
{
	fake();
	struct kvm_cpuid_entry2 before = *leaf(0, 0);
	cpuid_for_vcpu(c, 3, 4, false);
	CHECK_MEM_EQ(leaf(0, 0), &before, sizeof(before));
}

static void empty_table(void)
{
	fake();
	c->nent = 0;
	cpuid_for_vcpu(c, 0, 1, false); /* nothing to do, nothing touched */
	CHECK_EQ(c->entries[0].ebx, 0x07100800);
}

int main(void)
{
	c = calloc(1, sizeof(*c) + NENT * sizeof(struct kvm_cpuid_entry2));
	if (!c)
		return 1;
	RUN(leaf1_apic_id_and_count);
	RUN(leaf1_hypervisor_bit);
	RUN(leaf1_tsc_deadline);
	RUN(leaf1_htt);
	RUN(leaf_b_topology);
	RUN(amd_core_count);
	RUN(leaf4_cores_per_package);
	RUN(other_leaves_untouched);
	RUN(empty_table);
	free(c);
	return check_summary();
}
