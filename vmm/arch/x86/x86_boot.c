/* x86_boot.c: the CPU state at a kernel's entry: flat 32-bit protected mode
 * for PVH, long mode with identity paging for the 64-bit entry. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "vmm/arch/x86/layout.h"
#include "vmm/arch/x86/x86_boot.h"

#define CR0_PE (1u << 0)
#define CR0_ET (1u << 4)
#define CR0_PG (1u << 31)
#define CR4_PAE (1u << 5)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)

#define PTE_P 1u
#define PTE_RW 2u
#define PTE_PS 0x80u

/* GDT descriptor from flags (type, S, DPL, P, AVL, L, D/B, G), base and limit. */
static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) | ((uint64_t)(flags & 0xf0ff) << 40) |
	       ((uint64_t)(limit & 0x000f0000) << 32) | ((uint64_t)(base & 0x00ffffff) << 16) |
	       (uint64_t)(limit & 0x0000ffff);
}

/* KVM wants the byte-granular limit: scale it when the G bit is set. */
static struct kvm_segment segment_from_gdt(uint64_t d, uint16_t selector)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	if ((d >> 55) & 1)
		limit = (limit << 12) | 0xfff;
	return (struct kvm_segment){
		.base = (uint32_t)(((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000)),
		.limit = limit,
		.selector = selector,
		.type = (d >> 40) & 0xf,
		.s = (d >> 44) & 1,
		.dpl = (d >> 45) & 3,
		.present = (d >> 47) & 1,
		.avl = (d >> 52) & 1,
		.l = (d >> 53) & 1,
		.db = (d >> 54) & 1,
		.g = (d >> 55) & 1,
	};
}

static void boot_gdt(enum kernel_kind kind, uint64_t gdt[5])
{
	gdt[0] = 0;
	gdt[1] = 0;
	gdt[2] = kind == KERNEL_ELF_PVH ? gdt_entry(0xc09b, 0, 0xfffff)  /* code, 32-bit */
					: gdt_entry(0xa09b, 0, 0xfffff); /* code, 64-bit */
	gdt[3] = gdt_entry(0xc093, 0, 0xfffff);  /* data */
	gdt[4] = gdt_entry(0x808b, 0, 0xfffff);  /* TSS (busy), for VMX entry checks */
}

int x86_boot_tables(const struct guest_mem *gm, enum kernel_kind kind)
{
	uint64_t gdt[5];
	boot_gdt(kind, gdt);
	if (!gm_write(gm, LAYOUT_GDT, gdt, sizeof(gdt)))
		return -1;
	if (kind == KERNEL_ELF_PVH)
		return 0;
	uint64_t *pml4 = gm_ptr(gm, LAYOUT_PML4, 4096);
	uint64_t *pdpt = gm_ptr(gm, LAYOUT_PDPT, 4096);
	uint64_t *pd = gm_ptr(gm, LAYOUT_PD, 4 * 4096);
	if (!pml4 || !pdpt || !pd)
		return -1;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = LAYOUT_PDPT | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PD + i * 4096) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

int x86_boot_regs(int fd, const struct kernel_image *k, struct errbuf *err)
{
	struct kvm_sregs sregs;
	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0) {
		err_set(err, "KVM_GET_SREGS: %s", strerror(errno));
		return -1;
	}
	uint64_t gdt[5];
	boot_gdt(k->kind, gdt);
	sregs.gdt.base = LAYOUT_GDT;
	sregs.gdt.limit = sizeof(gdt) - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cs = segment_from_gdt(gdt[2], BOOT_CS);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = segment_from_gdt(gdt[3], BOOT_DS);
	sregs.tr = segment_from_gdt(gdt[4], BOOT_TSS);
	struct kvm_regs regs = {.rflags = 2, .rip = k->entry};
	if (k->kind == KERNEL_ELF_PVH) {
		sregs.cr0 = CR0_PE | CR0_ET;
		sregs.cr4 = 0;
		sregs.efer = 0;
		regs.rbx = LAYOUT_PVH_INFO;
	} else {
		sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
		sregs.cr3 = LAYOUT_PML4;
		sregs.cr4 = CR4_PAE;
		sregs.efer = EFER_LME | EFER_LMA;
		regs.rsi = LAYOUT_ZERO_PAGE;
		regs.rsp = regs.rbp = LAYOUT_BOOT_STACK;
	}
	if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(fd, KVM_SET_REGS, &regs) < 0) {
		err_set(err, "setting boot registers: %s", strerror(errno));
		return -1;
	}
	return 0;
}

#define MSR_IA32_TSC 0x10
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

int x86_vcpu_init(int fd, struct errbuf *err)
{
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
	if (ioctl(fd, KVM_SET_FPU, &fpu) < 0) {
		err_set(err, "KVM_SET_FPU: %s", strerror(errno));
		return -1;
	}
	static const struct {
		uint32_t index;
		uint64_t value;
	} msrs[] = {
		{MSR_IA32_SYSENTER_CS, 0}, {MSR_IA32_SYSENTER_ESP, 0}, {MSR_IA32_SYSENTER_EIP, 0},
		{MSR_STAR, 0}, {MSR_CSTAR, 0}, {MSR_KERNEL_GS_BASE, 0}, {MSR_SYSCALL_MASK, 0},
		{MSR_LSTAR, 0}, {MSR_IA32_TSC, 0},
		{MSR_IA32_MISC_ENABLE, 1},                 /* fast strings */
		{MSR_MTRR_DEF_TYPE, (1u << 11) | 6},       /* MTRRs on, default write-back */
	};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[ARRAY_SIZE(msrs)];
	} m;
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = ARRAY_SIZE(msrs);
	for (size_t i = 0; i < ARRAY_SIZE(msrs); i++) {
		m.e[i].index = msrs[i].index;
		m.e[i].data = msrs[i].value;
	}
	int n = ioctl(fd, KVM_SET_MSRS, &m);
	if (n != (int)ARRAY_SIZE(msrs)) {
		err_set(err, "KVM_SET_MSRS set %d of %zu boot MSRs (first refused: %#x)", n,
			ARRAY_SIZE(msrs), n >= 0 ? msrs[n].index : 0);
		return -1;
	}
	struct kvm_lapic_state lapic;
	if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0) {
		err_set(err, "KVM_GET_LAPIC: %s", strerror(errno));
		return -1;
	}
	uint32_t lint0 = APIC_MODE_EXTINT << 8, lint1 = APIC_MODE_NMI << 8;
	memcpy(&lapic.regs[APIC_LVT_LINT0], &lint0, 4);
	memcpy(&lapic.regs[APIC_LVT_LINT1], &lint1, 4);
	if (ioctl(fd, KVM_SET_LAPIC, &lapic) < 0) {
		err_set(err, "KVM_SET_LAPIC: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void x86_dump_regs(int fd, unsigned index)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(fd, KVM_GET_REGS, &r) < 0 || ioctl(fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(stderr, "ember: vCPU %u: registers unavailable\n", index);
		return;
	}
	fprintf(stderr,
		"ember: vCPU %u registers:\n"
		"  rip %016llx rsp %016llx rflags %016llx\n"
		"  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
		"  rsi %016llx rdi %016llx rbp %016llx\n"
		"  r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
		"  r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n"
		"  cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %llx\n"
		"  cs %04x (base %llx l %u db %u) ss %04x gdt %llx/%x idt %llx/%x\n",
		index, r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp,
		r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, s.cr0, s.cr2, s.cr3, s.cr4,
		s.efer, s.cs.selector, s.cs.base, s.cs.l, s.cs.db, s.ss.selector, s.gdt.base,
		s.gdt.limit, s.idt.base, s.idt.limit);
}
