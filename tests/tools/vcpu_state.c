/* vcpu_state.c: saves the state of a running VM and restores it into a second
 * one (vmm/arch/x86/vcpu_state.h, vm_state.h), on /dev/kvm, with ember's own
 * VM and vCPU set-up. Used by tests/kvm/vcpu_state.sh.
 *
 *	vcpu_state [--irqchip split|kernel] [--at signal|exit]
 *
 * The guest (64-bit, booted as ember boots a 64-bit ELF kernel, 2 vCPUs of
 * which the second waits for a SIPI that never comes) sets up state of every
 * kind the save covers: SSE and AVX registers and XCR0 (XSAVE; the guest
 * uses SSE, checks XCR0 and uses AVX only where short probe VMs show that
 * this KVM runs them, see runs()), an MSR
 * (LSTAR), a debug register, CR8 (the LAPIC's TPR), the LAPIC's timer in
 * TSC-deadline mode with a deadline (when KVM has it: the test adds the
 * CPUID bit, which only a restored CPUID carries), and with --irqchip kernel
 * the PICs' masks, an IOAPIC entry and the PIT. Then it counts in RBX (and in
 * XMM0, and in memory), reporting the count on port 0x600 every 1024, and
 * before each report checks that all of that still holds, and that the TSC
 * has not gone back; a check that fails is its own exit status on port 0x501.
 * At a report >= the limit the host writes into guest memory it exits with 0.
 *
 * After each report the guest reads port 0x601, where the host answers with
 * the count it was told (^ TOKEN), and checks the answer.
 *
 * VM 1 runs until interrupted: by a timer signal anywhere in the loop
 * (--at signal), or at the exit for its third read of port 0x601, which KVM
 * completes (the answer into RAX, RIP past the IN) only on the next KVM_RUN
 * (--at exit: x86_vcpu_state_settle() must complete it, or the restored
 * guest would read the port again). The host also sets state the guest does
 * not touch: XMM registers, the NMI mask, vCPU 1's MP state (waiting for a
 * SIPI after an INIT). VM 1's state is saved, encoded and decoded; VM 2 gets
 * VM 1's memory and the decoded state.
 * Checked: VM 2's state read back before it runs equals what was saved (but
 * for what time moves: the TSC and other clock MSRs, which must go on from
 * the saved value, and the LAPIC's current count); its kvmclock
 * continues from the saved value; VM 2 and VM 1 (resumed) both report
 * exactly the counts after the last one before the save, pass every check,
 * and exit with 0, reading port 0x601 once per report; a VM with other RAM or
 * another IRQ chip is refused.
 * Prints one line and exits 0, or "vcpu_state: FAIL: ..." and exits 1. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "vmm/arch/x86/kernel_image.h"
#include "vmm/arch/x86/layout.h"
#include "vmm/arch/x86/vcpu_state.h"
#include "vmm/arch/x86/vm_state.h"
#include "vmm/arch/x86/x86_boot.h"
#include "vmm/arch/x86/x86_vm.h"
#include "vmm/core/vcpu.h"
#include "vmm/core/vm.h"

#define MEM MiB(64)
#define NCPUS 2
#define LOAD 0x100000
/* The data page: [0] limit (host), [8] flags (host), [0x10] the count,
 * [0x18] the last TSC seen, [0x20] the TSC deadline, [0x28] the AVX pattern. */
#define DATA 0x200000
#define FLAG_KERNEL_IRQCHIP 1
#define FLAG_TSC_DEADLINE 2
#define FLAG_AVX 4   /* use AVX when CPUID has it */
#define FLAG_PROBE 8 /* set up, report once, check what the flags ask, exit */
#define FLAG_SSE 16  /* use SSE */
#define FLAG_XCR0 32 /* check XCR0 with XGETBV */
#define STEP (1u << 10)
#define PORT_REPORT 0x600
#define PORT_QUERY 0x601 /* IN: the host answers the last report ^ TOKEN */
#define TOKEN 0x5a5a5a5a
#define PORT_EXIT 0x501
#define REPORTS_AFTER 4 /* reports after the save before the guest exits */

#define S_(x) #x
#define S(x) S_(x)

/* The guest. Every check jumps to fail with its number in EDI. */
__asm__(
	".pushsection .rodata\n"
	".globl vs_payload_start, vs_payload_end\n"
	"vs_payload_start:\n"
	"	mov $" S(DATA) ", %ebp\n"
	"	mov 8(%rbp), %r12\n"
	/* SSE and XSAVE: CR0.MP, not CR0.EM; CR4.OSFXSR, OSXMMEXCPT, OSXSAVE */
	"	mov %cr0, %rax\n"
	"	and $-5, %rax\n"
	"	or $2, %rax\n"
	"	mov %rax, %cr0\n"
	"	mov %cr4, %rax\n"
	"	or $0x40600, %rax\n"
	"	mov %rax, %cr4\n"
	/* XCR0: x87 and SSE, and AVX when CPUID has it (R14 keeps it) */
	"	mov $1, %eax\n"
	"	cpuid\n"
	"	mov $3, %r14d\n"
	"	bt $2, %r12\n"
	"	jnc 1f\n"
	"	bt $28, %ecx\n"
	"	jnc 1f\n"
	"	mov $7, %r14d\n"
	"1:	mov %r14d, %eax\n"
	"	xor %edx, %edx\n"
	"	xor %ecx, %ecx\n"
	"	xsetbv\n"
	"	cmp $7, %r14d\n"
	"	jne 2f\n"
	"	movabs $0x0123456789abcdef, %rax\n"
	"	mov %rax, 0x28(%rbp)\n"
	"	vmovq %rax, %xmm2\n"
	"	vinsertf128 $1, %xmm2, %ymm2, %ymm2\n"
	"2:	bt $4, %r12\n"
	"	jnc 13f\n"
	"	pxor %xmm0, %xmm0\n"
	"	mov $1, %eax\n"
	"	movq %rax, %xmm1\n"
	/* a probe: through the host once, then the XCR0 and AVX checks */
	"13:	bt $3, %r12\n"
	"	jnc 16f\n"
	"	xor %eax, %eax\n"
	"	mov $" S(PORT_REPORT) ", %dx\n"
	"	out %eax, (%dx)\n"
	"	bt $5, %r12\n"
	"	jnc 17f\n"
	"	xor %ecx, %ecx\n"
	"	xgetbv\n"
	"	mov $13, %edi\n"
	"	cmp %r14d, %eax\n"
	"	jne 9f\n"
	"17:	cmp $7, %r14d\n"
	"	jne 18f\n"
	"	vextractf128 $1, %ymm2, %xmm3\n"
	"	movq %xmm3, %rax\n"
	"	mov $20, %edi\n"
	"	cmp 0x28(%rbp), %rax\n"
	"	jne 9f\n"
	"18:	xor %edi, %edi\n"
	"	jmp 9f\n"
	"16:	mov $0xc0000082, %ecx\n" /* LSTAR */
	"	mov $0x81234560, %eax\n"
	"	mov $0xffffffff, %edx\n"
	"	wrmsr\n"
	"	mov $0x12345000, %eax\n"
	"	mov %rax, %dr0\n"
	"	mov $2, %eax\n"
	"	mov %rax, %cr8\n"
	/* LAPIC on (spurious vector 0xff); its timer in TSC-deadline mode,
	 * masked, with a deadline far ahead */
	"	mov $0xfee00000, %esi\n"
	"	movl $0x1ff, 0xf0(%rsi)\n"
	"	bt $1, %r12\n"
	"	jnc 3f\n"
	"	movl $0x50040, 0x320(%rsi)\n"
	"	rdtsc\n"
	"	shl $32, %rdx\n"
	"	or %rdx, %rax\n"
	"	mov $1, %edx\n"
	"	shl $50, %rdx\n"
	"	add %rdx, %rax\n"
	"	mov %rax, 0x20(%rbp)\n"
	"	mov %rax, %rdx\n"
	"	shr $32, %rdx\n"
	"	mov $0x6e0, %ecx\n"
	"	wrmsr\n"
	/* KVM's PICs (masks), IOAPIC (pin 5: vector 0x35, masked), PIT
	 * (channel 0, mode 2, count 0x1234) */
	"3:	bt $0, %r12\n"
	"	jnc 4f\n"
	"	mov $0xfa, %al\n"
	"	out %al, $0x21\n"
	"	mov $0xb7, %al\n"
	"	out %al, $0xa1\n"
	"	mov $0xfec00000, %esi\n"
	"	movl $0x1a, (%rsi)\n"
	"	movl $0x10035, 0x10(%rsi)\n"
	"	mov $0x34, %al\n"
	"	out %al, $0x43\n"
	"	mov $0x34, %al\n"
	"	out %al, $0x40\n"
	"	mov $0x12, %al\n"
	"	out %al, $0x40\n"
	"4:	rdtsc\n"
	"	shl $32, %rdx\n"
	"	or %rdx, %rax\n"
	"	mov %rax, 0x18(%rbp)\n"
	"	xor %ebx, %ebx\n"
	"5:	inc %rbx\n"
	"	bt $4, %r12\n"
	"	jnc 14f\n"
	"	paddq %xmm1, %xmm0\n"
	"14:	mov %rbx, 0x10(%rbp)\n"
	"	test $" S(STEP) " - 1, %ebx\n"
	"	jnz 5b\n"
	/* the checks */
	"	bt $4, %r12\n"
	"	jnc 15f\n"
	"	movq %xmm0, %rax\n"
	"	mov $11, %edi\n"
	"	cmp %rax, %rbx\n"
	"	jne 9f\n"
	"15:	bt $5, %r12\n"
	"	jnc 19f\n"
	"	xor %ecx, %ecx\n"
	"	xgetbv\n"
	"	mov $13, %edi\n"
	"	cmp %r14d, %eax\n"
	"	jne 9f\n"
	"19:	mov $12, %edi\n"
	"	cmp 0x10(%rbp), %rbx\n"
	"	jne 9f\n"
	"	mov $0xc0000082, %ecx\n"
	"	rdmsr\n"
	"	shl $32, %rdx\n"
	"	or %rdx, %rax\n"
	"	movabs $0xffffffff81234560, %rcx\n"
	"	mov $14, %edi\n"
	"	cmp %rcx, %rax\n"
	"	jne 9f\n"
	"	mov %dr0, %rax\n"
	"	mov $15, %edi\n"
	"	cmp $0x12345000, %rax\n"
	"	jne 9f\n"
	"	mov %cr8, %rax\n"
	"	mov $16, %edi\n"
	"	cmp $2, %rax\n"
	"	jne 9f\n"
	"	mov %cr4, %rax\n"
	"	mov $17, %edi\n"
	"	bt $18, %eax\n"
	"	jnc 9f\n"
	"	rdtsc\n"
	"	shl $32, %rdx\n"
	"	or %rdx, %rax\n"
	"	mov $18, %edi\n"
	"	cmp 0x18(%rbp), %rax\n"
	"	jb 9f\n"
	"	mov %rax, 0x18(%rbp)\n"
	"	bt $1, %r12\n"
	"	jnc 6f\n"
	"	mov $0x6e0, %ecx\n"
	"	rdmsr\n"
	"	shl $32, %rdx\n"
	"	or %rdx, %rax\n"
	"	mov $19, %edi\n"
	"	cmp 0x20(%rbp), %rax\n"
	"	jne 9f\n"
	"6:	cmp $7, %r14d\n"
	"	jne 7f\n"
	"	vextractf128 $1, %ymm2, %xmm3\n"
	"	movq %xmm3, %rax\n"
	"	mov $20, %edi\n"
	"	cmp 0x28(%rbp), %rax\n"
	"	jne 9f\n"
	"7:	mov %rbx, %r13\n" /* CPUID takes RBX */
	"	xor %eax, %eax\n"
	"	cpuid\n"
	"	mov $21, %edi\n"
	"	test %ebx, %ebx\n"
	"	jz 8f\n"
	"	mov $1, %eax\n"
	"	cpuid\n"
	"	mov %r13, %rbx\n"
	"	bt $1, %r12\n"
	"	jnc 10f\n"
	"	mov $22, %edi\n"
	"	bt $24, %ecx\n"
	"	jnc 9f\n"
	"10:	mov $0xfee00000, %esi\n"
	"	mov 0xf0(%rsi), %eax\n"
	"	and $0x1ff, %eax\n"
	"	mov $23, %edi\n"
	"	cmp $0x1ff, %eax\n"
	"	jne 9f\n"
	"	bt $0, %r12\n"
	"	jnc 11f\n"
	"	in $0x21, %al\n"
	"	mov $24, %edi\n"
	"	cmp $0xfa, %al\n"
	"	jne 9f\n"
	"	in $0xa1, %al\n"
	"	mov $25, %edi\n"
	"	cmp $0xb7, %al\n"
	"	jne 9f\n"
	"	mov $0xfec00000, %esi\n"
	"	movl $0x1a, (%rsi)\n"
	"	mov 0x10(%rsi), %eax\n"
	"	mov $26, %edi\n"
	"	cmp $0x10035, %eax\n"
	"	jne 9f\n"
	/* report, ask the host for its token, then go on below the limit */
	"11:	mov %ebx, %eax\n"
	"	mov $" S(PORT_REPORT) ", %dx\n"
	"	out %eax, (%dx)\n"
	"	mov $" S(PORT_QUERY) ", %dx\n"
	"	in (%dx), %eax\n"
	"	xor $" S(TOKEN) ", %eax\n"
	"	mov $27, %edi\n"
	"	cmp %ebx, %eax\n"
	"	jne 9f\n"
	"	cmp 0(%rbp), %rbx\n"
	"	jb 5b\n"
	"	xor %edi, %edi\n"
	"	jmp 9f\n"
	"8:	mov %r13, %rbx\n"
	"9:	mov %rax, %r15\n" /* what a failed check saw, for the register dump */
	"	mov %edi, %eax\n"
	"	mov $" S(PORT_EXIT) ", %dx\n"
	"	out %al, (%dx)\n"
	"12:	hlt\n"
	"	jmp 12b\n"
	"vs_payload_end:\n"
	".popsection\n");
extern const uint8_t vs_payload_start[], vs_payload_end[];

static const char *const check_names[] = {
	[11] = "XMM0 (SSE, XSAVE) lost the count", [12] = "the count in memory differs",
	[13] = "XCR0 changed", [14] = "MSR LSTAR changed", [15] = "DR0 changed",
	[16] = "CR8 (the LAPIC's TPR) changed", [17] = "CR4.OSXSAVE went off",
	[18] = "the TSC went back", [19] = "the TSC deadline MSR changed",
	[20] = "YMM2's upper half (XSAVE's AVX part) changed", [21] = "CPUID is empty",
	[22] = "CPUID lost the TSC-deadline bit", [23] = "the LAPIC's SVR changed",
	[24] = "the master PIC's mask changed", [25] = "the slave PIC's mask changed",
	[26] = "the IOAPIC's pin 5 changed", [27] = "the host's answer to its IN was lost",
};

static int failed;
static void __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "vcpu_state: FAIL: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	failed = 1;
}

static struct kvm_run *volatile alarm_run;
static volatile sig_atomic_t alarm_fired;
static void on_alarm(int sig)
{
	(void)sig;
	alarm_fired = 1;
	if (alarm_run)
		alarm_run->immediate_exit = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Every VM made, for the end (vm_create leaves what vm_destroy takes even
 * when it fails). */
static struct vm *made[8];
static unsigned nmade;

/* A VM as ember makes one, before its vCPUs are set up. */
static int make_vm(struct vm *vm, uint64_t mem, bool kernel_irqchip)
{
	struct errbuf err = {{0}};
	made[nmade++] = vm;
	if (vm_create(vm, mem, NCPUS, kernel_irqchip, -1, &err) || x86_vm_setup(vm, &err) ||
	    vcpus_create(vm, &err)) {
		fail("%s", err.msg);
		return -1;
	}
	return 0;
}

/* VM 1: the payload, the boot tables, ember's vCPU set-up, the flags; and
 * the TSC-deadline CPUID bit when KVM has the timer. */
static int boot_vm(struct vm *vm, bool kernel_irqchip, uint64_t flags)
{
	if (make_vm(vm, MEM, kernel_irqchip))
		return -1;
	size_t n = (size_t)(vs_payload_end - vs_payload_start);
	uint64_t limit = UINT64_MAX;
	flags |= kernel_irqchip ? FLAG_KERNEL_IRQCHIP : 0;
	if (!gm_write(&vm->mem, LOAD, vs_payload_start, n) ||
	    x86_boot_tables(&vm->mem, KERNEL_ELF64) ||
	    !gm_write(&vm->mem, DATA, &limit, 8)) {
		fail("cannot write the payload into guest memory");
		return -1;
	}
	struct kernel_image k = {.kind = KERNEL_ELF64, .entry = LOAD};
	struct errbuf err = {{0}};
	if (x86_vcpus_setup(vm, &k, &err)) {
		fail("%s", err.msg);
		return -1;
	}
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0) {
		flags |= FLAG_TSC_DEADLINE;
		for (unsigned i = 0; i < vm->ncpus; i++) {
			/* The vCPU's CPUID as a save reads it. */
			static struct x86_vcpu_state now;
			struct {
				struct kvm_cpuid2 h;
				struct kvm_cpuid_entry2 e[X86_VCPU_MAX_CPUID];
			} c;
			if (x86_vcpu_state_save(vm->vcpus[i].fd, vm->kvm_fd, &now, &err)) {
				fail("%s", err.msg);
				return -1;
			}
			memset(&c, 0, sizeof(c));
			c.h.nent = now.ncpuid;
			memcpy(c.e, now.cpuid, now.ncpuid * sizeof(c.e[0]));
			for (unsigned e = 0; e < c.h.nent; e++)
				if (c.e[e].function == 1)
					c.e[e].ecx |= 1u << 24;
			if (ioctl(vm->vcpus[i].fd, KVM_SET_CPUID2, &c) < 0) {
				fail("KVM_SET_CPUID2: %s", strerror(errno));
				return -1;
			}
		}
	}
	gm_write(&vm->mem, DATA + 8, &flags, 8);
	/* State the guest leaves alone: XMM4-15 (in the XSAVE area, with
	 * XSTATE_BV's SSE bit, or KVM would report them as in their initial
	 * state), the NMI mask, vCPU 1 waiting for a SIPI after an INIT. */
	int xs = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		int fd = vm->vcpus[i].fd;
		static uint32_t xsave[X86_VCPU_XSAVE_MAX / 4];
		struct kvm_vcpu_events ev;
		if (xs > X86_VCPU_XSAVE_MAX ||
		    ioctl(fd, xs > 0 ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, xsave) < 0 ||
		    ioctl(fd, KVM_GET_VCPU_EVENTS, &ev) < 0) {
			fail("KVM_GET_XSAVE or KVM_GET_VCPU_EVENTS: %s", strerror(errno));
			return -1;
		}
		uint8_t *area = (uint8_t *)xsave;
		for (unsigned x = 4; x < 16; x++)
			for (unsigned b = 0; b < 16; b++)
				area[160 + 16 * x + b] = (uint8_t)(0x40 + i * 16 + x + b * 3);
		area[512] |= 2; /* XSTATE_BV: SSE */
		ev.nmi.masked = 1;
		if (ioctl(fd, KVM_SET_XSAVE, xsave) < 0 || ioctl(fd, KVM_SET_VCPU_EVENTS, &ev) < 0) {
			fail("KVM_SET_XSAVE or KVM_SET_VCPU_EVENTS: %s", strerror(errno));
			return -1;
		}
	}
	struct kvm_mp_state mp = {KVM_MP_STATE_INIT_RECEIVED};
	if (ioctl(vm->vcpus[1].fd, KVM_SET_MP_STATE, &mp) < 0) {
		fail("KVM_SET_MP_STATE: %s", strerror(errno));
		return -1;
	}
	return 0;
}

enum event { EV_REPORT, EV_QUERY, EV_EXIT, EV_INTR, EV_ERROR };

/* Whether this KVM runs what flags ask of the guest: the nested software
 * KVM of our build machines (kvm_pvm) traps SSE, XGETBV and AVX instructions
 * and fails to emulate them; the lab's KVM (nested in QEMU's TCG) runs them,
 * but its guest's XCR0 reads 1 after an exit to userspace, which leaves AVX
 * off too. The guest sets up, reports once (a round trip through this
 * process), checks XCR0 and YMM2 as asked, and exits. */
static bool runs(struct vm *vm, uint64_t flags)
{
	if (boot_vm(vm, false, flags | FLAG_PROBE))
		return false;
	struct vcpu *v = &vm->vcpus[0];
	for (;;) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0)
			return false;
		const struct kvm_run *r = v->run;
		if (r->exit_reason != KVM_EXIT_IO || r->io.direction != KVM_EXIT_IO_OUT)
			return false;
		if (r->io.port == PORT_EXIT)
			return ((const uint8_t *)r + r->io.data_offset)[0] == 0;
		if (r->io.port != PORT_REPORT)
			return false;
	}
}

/* Run vCPU 0 until the guest reports, asks (answered with answer), exits,
 * or KVM_RUN is interrupted. */
static enum event run_vcpu(struct vcpu *v, uint32_t *val, uint32_t answer)
{
	for (;;) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				return EV_INTR;
			}
			fail("KVM_RUN: %s", strerror(errno));
			return EV_ERROR;
		}
		struct kvm_run *r = v->run;
		if (r->exit_reason == KVM_EXIT_IO && r->io.direction == KVM_EXIT_IO_OUT) {
			const uint8_t *d = (const uint8_t *)r + r->io.data_offset;
			if (r->io.port == PORT_REPORT && r->io.size == 4 && r->io.count == 1) {
				memcpy(val, d, 4);
				return EV_REPORT;
			}
			if (r->io.port == PORT_EXIT) {
				*val = d[0];
				return EV_EXIT;
			}
		}
		if (r->exit_reason == KVM_EXIT_IO && r->io.direction == KVM_EXIT_IO_IN &&
		    r->io.port == PORT_QUERY && r->io.size == 4 && r->io.count == 1) {
			memcpy((uint8_t *)r + r->io.data_offset, &answer, 4);
			return EV_QUERY;
		}
		if (r->exit_reason == KVM_EXIT_INTR)
			continue;
		if (r->exit_reason == KVM_EXIT_INTERNAL_ERROR)
			fail("vCPU 0: KVM internal error, suberror %u (ndata %u: %#llx %#llx %#llx %#llx)",
			     r->internal.suberror, r->internal.ndata,
			     (unsigned long long)r->internal.data[0], (unsigned long long)r->internal.data[1],
			     (unsigned long long)r->internal.data[2], (unsigned long long)r->internal.data[3]);
		else
			fail("vCPU 0: unexpected exit %u (port %#x)", r->exit_reason,
			     r->exit_reason == KVM_EXIT_IO ? r->io.port : 0);
		x86_dump_regs(v->fd, 0);
		return EV_ERROR;
	}
}

/* Run to the end: the reports must be from+STEP, from+2*STEP, ..., each
 * followed by its query, then the exit with 0. */
static void run_to_end(const char *who, struct vcpu *v, uint32_t from, bool queried)
{
	uint32_t want = from + STEP, val;
	for (;;) {
		enum event e = run_vcpu(v, &val, (want - STEP) ^ TOKEN);
		if (e == EV_ERROR)
			return;
		if (e == EV_INTR)
			continue;
		if (e == EV_QUERY) {
			if (queried) {
				fail("%s: the guest read port %#x again for report %#x (its IN before the save replayed)",
				     who, PORT_QUERY, want - STEP);
				return;
			}
			queried = true;
			continue;
		}
		if (e == EV_EXIT) {
			if (val != 0) {
				fail("%s: the guest's check %u failed: %s", who, val,
				     val < ARRAY_SIZE(check_names) && check_names[val] ? check_names[val] : "?");
				x86_dump_regs(v->fd, 0); /* R15: what it saw */
			} else if (want != from + (REPORTS_AFTER + 1) * STEP)
				fail("%s: exited after %u reports, want %u", who, (want - from) / STEP - 1,
				     REPORTS_AFTER);
			return;
		}
		if (val != want || !queried) {
			fail("%s: reported %#x after the save's last report %#x, want %#x%s", who, val,
			     from, want, queried ? "" : " after a query");
			return;
		}
		queried = false;
		want += STEP;
	}
}

/* What the state read back from VM 2 before it runs must share with the
 * saved one: all of it, but for what moves with time. */
static void compare(unsigned i, const struct x86_vcpu_state *a, const struct x86_vcpu_state *b)
{
#define SAME(field) \
	do { \
		if (memcmp(&a->field, &b->field, sizeof(a->field))) \
			fail("vCPU %u: %s read back differs from the saved one", i, #field); \
	} while (0)
	SAME(tsc_khz);
	SAME(mp_state);
	SAME(regs);
	SAME(sregs);
	SAME(xsave_size);
	SAME(xcrs);
	SAME(debugregs);
	SAME(events);
	SAME(ncpuid);
	if (a->ncpuid == b->ncpuid && memcmp(a->cpuid, b->cpuid, a->ncpuid * sizeof(a->cpuid[0])))
		fail("vCPU %u: CPUID read back differs", i);
	if (memcmp(a->xsave, b->xsave, a->xsave_size))
		fail("vCPU %u: the XSAVE area read back differs", i);
	/* The LAPIC's current count (0x390) runs down. */
	struct kvm_lapic_state la = a->lapic, lb = b->lapic;
	memset(la.regs + 0x390, 0, 4);
	memset(lb.regs + 0x390, 0, 4);
	if (memcmp(&la, &lb, sizeof(la)))
		fail("vCPU %u: the LAPIC read back differs", i);
	if (a->nmsrs != b->nmsrs) {
		fail("vCPU %u: %u MSRs saved, %u read back", i, a->nmsrs, b->nmsrs);
		return;
	}
	for (unsigned k = 0; k < a->nmsrs; k++) {
		const struct kvm_msr_entry *x = &a->msrs[k], *y = &b->msrs[k];
		if (x->index != y->index) {
			fail("vCPU %u: MSR %u is %#x saved, %#x read back", i, k, x->index, y->index);
		} else if (x->index == 0x10 || x->index == 0x40000010 || x->index == 0x40000020) {
			/* clocks: the TSC, Hyper-V's VP runtime and reference
			 * count (100 ns): on from the saved value, by less than 5 s */
			uint64_t max = x->index == 0x10 ? (uint64_t)a->tsc_khz * 5000 : 50000000;
			if (y->data < x->data || (max && y->data - x->data > max))
				fail("vCPU %u: clock MSR %#x is %#llx saved, %#llx read back", i, x->index,
				     (unsigned long long)x->data, (unsigned long long)y->data);
		} else if (x->data != y->data) {
			fail("vCPU %u: MSR %#x is %#llx saved, %#llx read back", i, x->index,
			     (unsigned long long)x->data, (unsigned long long)y->data);
		}
	}
#undef SAME
}

int main(int argc, char **argv)
{
	bool kernel_irqchip = false, at_exit = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--irqchip") == 0 && i + 1 < argc)
			kernel_irqchip = strcmp(argv[++i], "kernel") == 0;
		else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc)
			at_exit = strcmp(argv[++i], "exit") == 0;
		else {
			fprintf(stderr, "usage: vcpu_state [--irqchip split|kernel] [--at signal|exit]\n");
			return 2;
		}
	}
	const char *mode = kernel_irqchip ? "kernel" : "split";
	static struct vm vm1, vm2, vm3, probe[4];
	struct vcpu *v0 = NULL;
	uint64_t count = 0;
	bool queried = true; /* the last report before the save was followed by its query */
	static struct x86_vcpu_state saved[NCPUS], decoded[NCPUS], back[NCPUS];
	static struct x86_vm_state vsaved, vdecoded;
	static uint8_t blob[X86_VCPU_STATE_MAX_BYTES];
	struct errbuf err = {{0}};
	uint32_t last = 0, val;

	/* KVM_RUN may be interrupted; the vCPU code's own kick signal is not
	 * used here (no vCPU threads). */
	struct sigaction sa = {.sa_handler = on_alarm};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);

	static const uint64_t fpus[] = {FLAG_SSE | FLAG_XCR0 | FLAG_AVX, FLAG_SSE | FLAG_XCR0, FLAG_SSE, 0};
	uint64_t fpu = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(fpus) && !failed; i++)
		if (fpus[i] == 0 || runs(&probe[i], fpus[i])) {
			fpu = fpus[i];
			break;
		}
	if (failed)
		goto out;
	if (boot_vm(&vm1, kernel_irqchip, fpu))
		goto out;
	/* Let VM 1's kvmclock run ahead of any new VM's. */
	usleep(200 * 1000);
	v0 = &vm1.vcpus[0];
	alarm_run = v0->run;
	if (!at_exit) {
		struct itimerval it = {.it_value = {.tv_usec = 100 * 1000}};
		setitimer(ITIMER_REAL, &it, NULL);
	}
	for (unsigned queries = 0;;) {
		enum event e = run_vcpu(v0, &val, last ^ TOKEN);
		if (e == EV_ERROR)
			goto out;
		if (e == EV_EXIT) {
			fail("VM 1 exited with %u before the save (%s)", val,
			     val < ARRAY_SIZE(check_names) && check_names[val] ? check_names[val] : "?");
			x86_dump_regs(v0->fd, 0);
			goto out;
		}
		if (e == EV_INTR) {
			if (alarm_fired)
				break;
			continue;
		}
		if (e == EV_QUERY) {
			queried = true;
			/* KVM puts the answer into RAX only on the next KVM_RUN. */
			if (at_exit && ++queries == 3)
				break;
			continue;
		}
		if (val != last + STEP || !queried) {
			fail("VM 1 reported %#x after %#x", val, last);
			goto out;
		}
		last = val;
		queried = false;
	}
	alarm_run = NULL;

	/* Stopped: settle every vCPU, save, encode, decode. */
	for (unsigned i = 0; i < NCPUS; i++) {
		int r = x86_vcpu_state_settle(vm1.vcpus[i].fd, vm1.vcpus[i].run, &err);
		if (r) {
			fail("settling vCPU %u: %s", i, r < 0 ? err.msg : "it has another exit");
			goto out;
		}
	}
	for (unsigned i = 0; i < NCPUS; i++)
		if (x86_vcpu_state_save(vm1.vcpus[i].fd, vm1.kvm_fd, &saved[i], &err)) {
			fail("saving vCPU %u: %s", i, err.msg);
			goto out;
		}
	if (x86_vm_state_save(&vm1, &vsaved, &err)) {
		fail("saving VM 1: %s", err.msg);
		goto out;
	}
	/* The count, as the guest keeps it in memory each round (RBX holds
	 * CPUID's answers for a moment in the checks). */
	gm_read(&vm1.mem, DATA + 0x10, &count, 8);
	if (at_exit ? count != last || saved[0].regs.rbx != last : count < last || count > last + STEP) {
		fail("the count saved is %#llx (RBX %#llx), the last report %#x",
		     (unsigned long long)count, (unsigned long long)saved[0].regs.rbx, last);
		goto out;
	}
	for (unsigned i = 0; i < NCPUS; i++) {
		/* every entry ember gave the vCPU, and no more */
		if (saved[i].ncpuid != vm1.supported_cpuid->nent)
			fail("vCPU %u: %u CPUID entries saved, ember set %u", i, saved[i].ncpuid,
			     vm1.supported_cpuid->nent);
		size_t n = x86_vcpu_state_encode(&saved[i], blob, sizeof(blob));
		if (!n || x86_vcpu_state_decode(blob, n, &decoded[i], &err)) {
			fail("vCPU %u state through bytes: %s", i, n ? err.msg : "encode failed");
			goto out;
		}
		if (memcmp(&saved[i], &decoded[i], sizeof(saved[i])))
			fail("vCPU %u state differs after encoding and decoding", i);
		if (x86_vcpu_state_decode(blob, n - 1, &decoded[i], &err) == 0)
			fail("a vCPU state one byte short was taken");
		x86_vcpu_state_decode(blob, n, &decoded[i], &err);
	}
	size_t vn = x86_vm_state_encode(&vsaved, blob, sizeof(blob));
	if (!vn || x86_vm_state_decode(blob, vn, &vdecoded, &err)) {
		fail("VM state through bytes: %s", vn ? err.msg : "encode failed");
		goto out;
	}
	if (memcmp(&vsaved, &vdecoded, sizeof(vsaved)))
		fail("VM state differs after encoding and decoding");
	if (failed)
		goto out;

	/* Both VMs stop below the limit, REPORTS_AFTER reports on. */
	uint64_t limit = (uint64_t)last + REPORTS_AFTER * STEP;
	gm_write(&vm1.mem, DATA, &limit, 8);

	/* VM 2: ember's VM and vCPUs, not set up to boot; VM 1's memory. */
	if (make_vm(&vm2, MEM, kernel_irqchip))
		goto out;
	memcpy(vm2.mem.base, vm1.mem.base, vm1.mem.layout.low_size + vm1.mem.layout.high_size);
	uint64_t t0 = mono_ns();
	if (x86_vm_state_restore(&vm2, &vdecoded, &err)) {
		fail("restoring VM 2: %s", err.msg);
		goto out;
	}
	int fds[NCPUS];
	for (unsigned i = 0; i < NCPUS; i++) {
		fds[i] = vm2.vcpus[i].fd;
		if (x86_vcpu_state_restore(fds[i], vm2.kvm_fd, &decoded[i], &err)) {
			fail("restoring vCPU %u: %s", i, err.msg);
			goto out;
		}
	}
	if (x86_vcpus_restore_tsc(fds, decoded, NCPUS, &err)) {
		fail("restoring the TSC: %s", err.msg);
		goto out;
	}
	struct kvm_clock_data clk = {0};
	if (ioctl(vm2.vm_fd, KVM_GET_CLOCK, &clk) < 0) {
		fail("KVM_GET_CLOCK: %s", strerror(errno));
		goto out;
	}
	uint64_t dt = mono_ns() - t0;
	if (clk.clock < vsaved.clock.clock || clk.clock - vsaved.clock.clock > dt + 20000000)
		fail("VM 2's kvmclock is %llu ns, %llu ns were saved (%llu ns ago)",
		     (unsigned long long)clk.clock, (unsigned long long)vsaved.clock.clock,
		     (unsigned long long)dt);
	for (unsigned i = 0; i < NCPUS; i++) {
		if (x86_vcpu_state_save(vm2.vcpus[i].fd, vm2.kvm_fd, &back[i], &err)) {
			fail("reading vCPU %u back: %s", i, err.msg);
			goto out;
		}
		compare(i, &saved[i], &back[i]);
	}
	if (kernel_irqchip) {
		struct x86_vm_state vback;
		if (x86_vm_state_save(&vm2, &vback, &err)) {
			fail("reading VM 2 back: %s", err.msg);
			goto out;
		}
		/* but for the lines the PIT raises meanwhile */
		for (unsigned k = 0; k < 2; k++) {
			vback.pic[k].irr = vsaved.pic[k].irr;
			vback.pic[k].last_irr = vsaved.pic[k].last_irr;
		}
		vback.ioapic.irr = vsaved.ioapic.irr;
		if (memcmp(vback.pic, vsaved.pic, sizeof(vsaved.pic)) ||
		    memcmp(&vback.ioapic, &vsaved.ioapic, sizeof(vsaved.ioapic)))
			fail("VM 2's PICs or IOAPIC read back differ from the saved ones");
		if (vback.pit.channels[0].mode != 2 || vback.pit.channels[0].count != 0x1234)
			fail("VM 2's PIT channel 0: mode %u count %#x", vback.pit.channels[0].mode,
			     vback.pit.channels[0].count);
	}

	/* VM 2 goes on from the save, and VM 1 too. */
	run_to_end("VM 2 (restored)", &vm2.vcpus[0], last, queried);
	run_to_end("VM 1 (resumed)", v0, last, queried);
	struct kvm_mp_state mp;
	if (ioctl(vm2.vcpus[1].fd, KVM_GET_MP_STATE, &mp) < 0 ||
	    mp.mp_state != saved[1].mp_state.mp_state)
		fail("VM 2's vCPU 1 is in MP state %u, %u was saved", mp.mp_state,
		     saved[1].mp_state.mp_state);

	/* A VM unlike the saved one is refused. */
	if (make_vm(&vm3, MEM + MiB(2), kernel_irqchip))
		goto out;
	if (x86_vm_state_restore(&vm3, &vdecoded, &err) == 0 || !strstr(err.msg, "MiB of RAM"))
		fail("a VM with more RAM was not refused (%s)", err.msg);
	/* The same RAM but the other IRQ chip (only the check reads these). */
	struct mem_layout keep = vm3.mem.layout;
	vm3.kernel_irqchip = !kernel_irqchip;
	vm3.mem.layout = vm1.mem.layout;
	if (x86_vm_state_restore(&vm3, &vdecoded, &err) == 0 || !strstr(err.msg, "--irqchip"))
		fail("a VM with the other IRQ chip was not refused (%s)", err.msg);
	vm3.kernel_irqchip = kernel_irqchip;
	vm3.mem.layout = keep;
out:
	if (!failed)
		printf("vcpu_state: --irqchip %s, saved at %s: count %#llx after report %#x; "
		       "%u MSRs, %u CPUID entries, XSAVE %u bytes%s; VM 2 restored and VM 1 resumed both "
		       "reported %#x to %#x and exited 0\n",
		       mode, at_exit ? "a port read's exit" : "a signal", (unsigned long long)count, last,
		       saved[0].nmsrs, saved[0].ncpuid, saved[0].xsave_size,
		       fpu & FLAG_AVX ? "; the guest checked SSE, XCR0 and AVX"
		       : fpu & FLAG_XCR0 ? "; the guest checked SSE and XCR0 (not AVX: this KVM cannot run it)"
		       : fpu ? "; the guest checked SSE (not XCR0 or AVX: this KVM cannot run them)"
			     : "; the guest checked neither SSE, XCR0 nor AVX (this KVM cannot run them)",
		       last + STEP,
		       last + REPORTS_AFTER * STEP);
	for (unsigned i = 0; i < nmade; i++) {
		if (made[i]->vcpus)
			vcpus_stop(made[i]);
		vm_destroy(made[i]);
	}
	return failed;
}
