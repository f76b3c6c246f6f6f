/* guest_sample.c: test builds only (build/tests/ember-testhooks). With
 * EMBER_TEST_GUEST_SAMPLE=FILE, vCPU 0 samples where its guest is once a
 * millisecond of wall-clock time: a POSIX timer sends the thread
 * VCPU_KICK_SIGNAL, KVM_RUN returns EINTR, the thread reads the guest's
 * registers (KVM_GET_REGS, KVM_GET_SREGS) and, in the guest's kernel, the
 * kernel text addresses on its stack (through the guest's page tables), and
 * enters the guest again. When the thread ends it writes one line per sample
 * to FILE: microseconds since sampling began, RIP, RSP and those stack
 * words, in hex. bench/boot_sample.sh maps them to the guest kernel's
 * functions: where a boot's real time goes, which the guest's own clock does
 * not show in the nested lab. A sample costs an exit (tens of microseconds
 * there). The signal can also land outside KVM_RUN; the next KVM_RUN then
 * returns at once and the sample shows where the guest last exited. */
#ifdef EMBER_TEST_HOOKS
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vmm/core/guest_sample.h"
#include "vmm/core/vcpu.h"
#include "vmm/lib/log.h"
#include "vmm/lib/util.h"

#define SAMPLE_MAX 65536 /* 65 s at one a millisecond; later ones are dropped */
#define STACK_WORDS 24   /* kernel text addresses kept from the stack */
#define KERNEL_TEXT_LO 0xffffffff81000000ull /* the kernel image's text... */
#define KERNEL_TEXT_HI 0xffffffff84000000ull /* ...and its init text, without KASLR */
#define PTE_ADDR 0x000ffffffffff000ull

static struct {
	int fd;
	timer_t timer;
	uint64_t t0_ns;
	uint32_t n;
	struct sample {
		uint64_t us, rip, rsp;
		uint8_t nwords;
		uint64_t words[STACK_WORDS];
	} s[SAMPLE_MAX];
} sampler = {.fd = -1};

void guest_sample_start(struct vcpu *v)
{
	const char *path = getenv("EMBER_TEST_GUEST_SAMPLE");
	if (!path || !*path || v->index != 0)
		return;
	sampler.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (sampler.fd < 0) {
		log_error("EMBER_TEST_GUEST_SAMPLE: %s: %s", path, strerror(errno));
		return;
	}
	struct sigevent sev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = VCPU_KICK_SIGNAL};
	sev._sigev_un._tid = gettid(); /* glibc 2.36 names no sigev_notify_thread_id */
	struct itimerspec its = {.it_interval = {0, 1000000}, .it_value = {0, 1000000}};
	if (timer_create(CLOCK_MONOTONIC, &sev, &sampler.timer) ||
	    timer_settime(sampler.timer, 0, &its, NULL)) {
		log_error("EMBER_TEST_GUEST_SAMPLE: timer: %s", strerror(errno));
		close(sampler.fd);
		sampler.fd = -1;
		return;
	}
	sampler.t0_ns = now_ns();
}

/* The guest's 4-level page tables (bound-checked reads of its RAM): the
 * guest-physical address of gva, or false when it is not mapped. */
static bool gva_to_gpa(const struct guest_mem *gm, uint64_t cr3, uint64_t gva, uint64_t *gpa)
{
	uint64_t table = cr3 & PTE_ADDR;
	for (int level = 3; level >= 0; level--) {
		uint64_t e;
		if (!gm_read(gm, table + ((gva >> (12 + 9 * level)) & 511) * 8, &e, 8) || !(e & 1))
			return false;
		if ((level == 1 || level == 2) && (e & 0x80)) { /* a 2 MiB or 1 GiB page */
			uint64_t size = 1ull << (12 + 9 * level);
			*gpa = (e & PTE_ADDR & ~(size - 1)) | (gva & (size - 1));
			return true;
		}
		table = e & PTE_ADDR;
	}
	*gpa = table | (gva & 0xfff);
	return true;
}

/* Words on the guest kernel's stack, from RSP to the end of its 16 KiB
 * stack, that are addresses in the kernel's text: return addresses, and
 * stale ones (bench/boot_sample.sh reads them as a rough call chain). */
static void scan_stack(struct vcpu *v, uint64_t cr3, uint64_t rsp, struct sample *smp)
{
	uint64_t top = (rsp | 0x3fff) + 1;
	for (uint64_t a = rsp & ~7ull; a < top && smp->nwords < STACK_WORDS;) {
		uint64_t gpa, page_end = (a | 0xfff) + 1;
		if (!gva_to_gpa(&v->vm->mem, cr3, a, &gpa))
			return;
		const uint64_t *w = gm_ptr(&v->vm->mem, gpa, page_end - a);
		if (!w)
			return;
		for (; a < page_end && smp->nwords < STACK_WORDS; a += 8, w++)
			if (*w >= KERNEL_TEXT_LO && *w < KERNEL_TEXT_HI)
				smp->words[smp->nwords++] = *w;
	}
}

void guest_sample_take(struct vcpu *v)
{
	if (sampler.fd < 0 || v->index != 0 || sampler.n >= SAMPLE_MAX)
		return;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (ioctl(v->fd, KVM_GET_REGS, &regs) || ioctl(v->fd, KVM_GET_SREGS, &sregs))
		return;
	struct sample *smp = &sampler.s[sampler.n++];
	*smp = (struct sample){.us = (now_ns() - sampler.t0_ns) / 1000u, .rip = regs.rip, .rsp = regs.rsp};
	bool kernel = regs.rip >= KERNEL_TEXT_LO && (sregs.cs.selector & 3) == 0;
	if (kernel && (sregs.cr0 & 0x80000000u) && (sregs.efer & 0x400)) /* paging, long mode */
		scan_stack(v, sregs.cr3, regs.rsp, smp);
}

void guest_sample_end(struct vcpu *v)
{
	if (sampler.fd < 0 || v->index != 0)
		return;
	char line[64 + 17 * STACK_WORDS];
	for (uint32_t i = 0; i < sampler.n; i++) {
		const struct sample *smp = &sampler.s[i];
		int len = snprintf(line, sizeof(line), "%llu %llx %llx", (unsigned long long)smp->us,
				   (unsigned long long)smp->rip, (unsigned long long)smp->rsp);
		for (unsigned k = 0; k < smp->nwords; k++)
			len += snprintf(line + len, sizeof(line) - (size_t)len, " %llx",
					(unsigned long long)smp->words[k]);
		line[len++] = '\n';
		if (write(sampler.fd, line, (size_t)len) != len)
			break;
	}
	sampler.fd = -1; /* closed at exit: the vCPU's filter has no close */
}
#else
typedef int guest_sample_unused; /* ISO C wants something in a file */
#endif
