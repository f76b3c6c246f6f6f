/* vcpu_state.c: capture and restore an x86 vCPU's KVM state, and its byte
 * encoding (see vcpu_state.h).
 *
 * The order is Firecracker's (src/vmm/src/arch/x86_64/vcpu.rs, save_state
 * and restore_state, with builder.rs scaling the TSC first), whose comments
 * give KVM's reasons:
 *
 *   save:    MP state (KVM_GET_MP_STATE lets the local APIC accept a pending
 *            INIT or SIPI, which changes the registers: before anything
 *            else), regs, sregs, XSAVE, XCRs, debug registers, LAPIC, TSC
 *            frequency, CPUID, MSRs, and the vCPU events last (the other GETs
 *            may change what is pending).
 *   restore: TSC frequency (before the TSC MSR is written), CPUID (some SETs
 *            depend on it, e.g. CR4.OSXSAVE needs XSAVE in CPUID), MP state,
 *            regs, sregs (after regs; it sets the APIC base MSR), XSAVE,
 *            XCRs, debug registers, LAPIC (after sregs' APIC base; before the
 *            MSRs, since KVM keeps a TSC deadline only while the LAPIC timer
 *            is in TSC-deadline mode), the MSRs with MSR_IA32_TSC_DEADLINE in
 *            a call of its own after all others (KVM arms the deadline
 *            against the TSC, which must be restored first), the vCPU events
 *            (KVM_SET_REGS drops pending exceptions, so after it), then
 *            KVM_KVMCLOCK_CTRL (the guest's watchdogs take the gap for a
 *            pause).
 *
 * QEMU (target/i386/kvm/kvm.c, kvm_arch_get_registers and
 * kvm_arch_put_registers) agrees on the constraints but orders differently:
 * it reads the events first and puts regs, XSAVE, XCRs and sregs, the MSRs,
 * events, MP state, then the TSC deadline and debug registers last, with the
 * LAPIC put by its APIC device. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/arch/x86/vcpu_state.h"
#include "vmm/core/state_codec.h"

#define MSR_IA32_TSC 0x10
#define MSR_IA32_TSC_DEADLINE 0x6e0
/* KVM's MAX_IO_MSRS is 256 and it takes fewer than that per call. */
#define MSR_CHUNK 128
/* Firecracker's and QEMU's tolerance for "the same TSC frequency": 250 ppm. */
#define TSC_KHZ_TOLERANCE_PPM 250

static int kfail(struct errbuf *err, const char *what)
{
	err_set(err, "%s: %s", what, strerror(errno));
	return -1;
}

static int need_caps(int kvm_fd, struct errbuf *err)
{
	static const struct {
		int cap;
		const char *name;
	} caps[] = {
		{KVM_CAP_MP_STATE, "MP_STATE"}, {KVM_CAP_XSAVE, "XSAVE"}, {KVM_CAP_XCRS, "XCRS"},
		{KVM_CAP_DEBUGREGS, "DEBUGREGS"}, {KVM_CAP_VCPU_EVENTS, "VCPU_EVENTS"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0) {
			err_set(err, "KVM lacks KVM_CAP_%s, which saving and restoring a vCPU need",
				caps[i].name);
			return -1;
		}
	return 0;
}

/* KVM_CAP_XSAVE2's size (0 without it), refused when it is more than the
 * state holds: KVM_GET_XSAVE2 writes, and KVM_SET_XSAVE reads, that many. */
static int xsave2_size(int kvm_fd, struct errbuf *err)
{
	int n = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	if (n < 0)
		n = 0;
	if (n > X86_VCPU_XSAVE_MAX) {
		err_set(err, "KVM's XSAVE area is %d bytes, more than ember keeps (%d)", n,
			X86_VCPU_XSAVE_MAX);
		return -1;
	}
	return n;
}

int x86_vcpu_state_settle(int fd, struct kvm_run *run, struct errbuf *err)
{
	run->immediate_exit = 1;
	int r = ioctl(fd, KVM_RUN, 0);
	int e = errno;
	run->immediate_exit = 0;
	if (r == 0)
		return 1;
	if (e == EINTR || e == EAGAIN)
		return 0;
	errno = e;
	return kfail(err, "KVM_RUN to settle the vCPU");
}

/* Append the MSRs of one of KVM's lists to idx (n so far), skipping those
 * already there. */
static int msr_list(int kvm_fd, unsigned long req, const char *name, uint32_t *idx,
		    unsigned *n, struct errbuf *err)
{
	struct {
		struct kvm_msr_list h;
		uint32_t i[X86_VCPU_MAX_MSRS];
	} l;
	l.h.nmsrs = X86_VCPU_MAX_MSRS;
	if (ioctl(kvm_fd, req, &l) < 0) {
		if (errno == E2BIG)
			err_set(err, "%s: KVM lists %u MSRs, more than ember keeps (%d)", name,
				l.h.nmsrs, X86_VCPU_MAX_MSRS);
		else
			kfail(err, name);
		return -1;
	}
	for (unsigned i = 0; i < l.h.nmsrs && i < X86_VCPU_MAX_MSRS; i++) {
		unsigned k = 0;
		while (k < *n && idx[k] != l.i[i])
			k++;
		if (k < *n)
			continue;
		if (*n == X86_VCPU_MAX_MSRS) {
			err_set(err, "KVM lists more than %d MSRs, more than ember keeps",
				X86_VCPU_MAX_MSRS);
			return -1;
		}
		idx[(*n)++] = l.i[i];
	}
	return 0;
}

static int save_msrs(int fd, int kvm_fd, struct x86_vcpu_state *s, struct errbuf *err)
{
	uint32_t *idx = malloc(X86_VCPU_MAX_MSRS * sizeof(*idx));
	if (!idx) {
		err_set(err, "out of memory");
		return -1;
	}
	unsigned n = 0;
	int r = msr_list(kvm_fd, KVM_GET_MSR_INDEX_LIST, "KVM_GET_MSR_INDEX_LIST", idx, &n, err);
	if (r == 0 && ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GET_MSR_FEATURES) > 0)
		r = msr_list(kvm_fd, KVM_GET_MSR_FEATURE_INDEX_LIST,
			     "KVM_GET_MSR_FEATURE_INDEX_LIST", idx, &n, err);
	s->nmsrs = 0;
	for (unsigned at = 0; r == 0 && at < n;) {
		struct {
			struct kvm_msrs h;
			struct kvm_msr_entry e[MSR_CHUNK];
		} m;
		memset(&m, 0, sizeof(m));
		unsigned k = n - at < MSR_CHUNK ? n - at : MSR_CHUNK;
		m.h.nmsrs = k;
		for (unsigned i = 0; i < k; i++)
			m.e[i].index = idx[at + i];
		int got = ioctl(fd, KVM_GET_MSRS, &m);
		if (got < 0) {
			r = kfail(err, "KVM_GET_MSRS");
			break;
		}
		memcpy(&s->msrs[s->nmsrs], m.e, (size_t)got * sizeof(m.e[0]));
		s->nmsrs += (unsigned)got;
		at += (unsigned)got;
		/* KVM stops at the first MSR it will not read: leave that one out. */
		if ((unsigned)got < k) {
			log_warn("vCPU state: KVM lists MSR %#x but does not read it on this vCPU: not saved",
				 idx[at]);
			at++;
		}
	}
	free(idx);
	return r;
}

static int save_cpuid(int fd, struct x86_vcpu_state *s, struct errbuf *err)
{
	struct {
		struct kvm_cpuid2 h;
		struct kvm_cpuid_entry2 e[X86_VCPU_MAX_CPUID];
	} *c = calloc(1, sizeof(*c));
	if (!c) {
		err_set(err, "out of memory");
		return -1;
	}
	/* Older kernels (Linux 6.1) leave nent as it was on success, so the
	 * entries KVM did not fill stay as zeroed here: drop them (a real
	 * entry is never all zero: leaf 0 holds the highest leaf and the
	 * vendor; every other has a function). */
	int r = 0;
	c->h.nent = X86_VCPU_MAX_CPUID;
	if (ioctl(fd, KVM_GET_CPUID2, c) < 0) {
		r = kfail(err, "KVM_GET_CPUID2");
	} else {
		static const struct kvm_cpuid_entry2 none;
		unsigned n = c->h.nent < X86_VCPU_MAX_CPUID ? c->h.nent : X86_VCPU_MAX_CPUID;
		while (n && memcmp(&c->e[n - 1], &none, sizeof(none)) == 0)
			n--;
		s->ncpuid = n;
		memcpy(s->cpuid, c->e, n * sizeof(c->e[0]));
	}
	free(c);
	return r;
}

int x86_vcpu_state_save(int fd, int kvm_fd, struct x86_vcpu_state *s, struct errbuf *err)
{
	memset(s, 0, sizeof(*s));
	if (need_caps(kvm_fd, err))
		return -1;
	int xs = xsave2_size(kvm_fd, err);
	if (xs < 0)
		return -1;
	if (ioctl(fd, KVM_GET_MP_STATE, &s->mp_state) < 0)
		return kfail(err, "KVM_GET_MP_STATE");
	if (ioctl(fd, KVM_GET_REGS, &s->regs) < 0)
		return kfail(err, "KVM_GET_REGS");
	if (ioctl(fd, KVM_GET_SREGS, &s->sregs) < 0)
		return kfail(err, "KVM_GET_SREGS");
	if (xs > 0) {
		if (ioctl(fd, KVM_GET_XSAVE2, s->xsave) < 0)
			return kfail(err, "KVM_GET_XSAVE2");
		s->xsave_size = (uint32_t)xs;
	} else {
		if (ioctl(fd, KVM_GET_XSAVE, s->xsave) < 0)
			return kfail(err, "KVM_GET_XSAVE");
		s->xsave_size = X86_VCPU_XSAVE_MIN;
	}
	if (ioctl(fd, KVM_GET_XCRS, &s->xcrs) < 0)
		return kfail(err, "KVM_GET_XCRS");
	if (ioctl(fd, KVM_GET_DEBUGREGS, &s->debugregs) < 0)
		return kfail(err, "KVM_GET_DEBUGREGS");
	if (ioctl(fd, KVM_GET_LAPIC, &s->lapic) < 0)
		return kfail(err, "KVM_GET_LAPIC");
	int khz = ioctl(fd, KVM_GET_TSC_KHZ, 0);
	s->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
	if (save_cpuid(fd, s, err) || save_msrs(fd, kvm_fd, s, err))
		return -1;
	if (ioctl(fd, KVM_GET_VCPU_EVENTS, &s->events) < 0)
		return kfail(err, "KVM_GET_VCPU_EVENTS");
	return 0;
}

/* KVM_SET_MSRS on n entries, in chunks; every one must be taken. */
static int set_msrs(int fd, const struct kvm_msr_entry *e, unsigned n, struct errbuf *err)
{
	for (unsigned at = 0; at < n;) {
		struct {
			struct kvm_msrs h;
			struct kvm_msr_entry e[MSR_CHUNK];
		} m;
		memset(&m, 0, sizeof(m));
		unsigned k = n - at < MSR_CHUNK ? n - at : MSR_CHUNK;
		m.h.nmsrs = k;
		memcpy(m.e, e + at, k * sizeof(e[0]));
		int r = ioctl(fd, KVM_SET_MSRS, &m);
		if (r < 0)
			return kfail(err, "KVM_SET_MSRS");
		if ((unsigned)r < k) {
			err_set(err, "KVM_SET_MSRS refused MSR %#x (value %#llx)", e[at + r].index,
				(unsigned long long)e[at + r].data);
			return -1;
		}
		at += k;
	}
	return 0;
}

/* Every MSR but the TSC deadline, then the TSC deadline. */
static int restore_msrs(int fd, const struct x86_vcpu_state *s, struct errbuf *err)
{
	struct kvm_msr_entry *e = malloc(X86_VCPU_MAX_MSRS * sizeof(*e));
	if (!e) {
		err_set(err, "out of memory");
		return -1;
	}
	unsigned n = 0, nmsrs = s->nmsrs < X86_VCPU_MAX_MSRS ? s->nmsrs : X86_VCPU_MAX_MSRS;
	for (unsigned i = 0; i < nmsrs; i++)
		if (s->msrs[i].index != MSR_IA32_TSC_DEADLINE)
			e[n++] = s->msrs[i];
	unsigned first = n;
	for (unsigned i = 0; i < nmsrs; i++)
		if (s->msrs[i].index == MSR_IA32_TSC_DEADLINE)
			e[n++] = s->msrs[i];
	int r = set_msrs(fd, e, first, err);
	if (r == 0)
		r = set_msrs(fd, e + first, n - first, err);
	free(e);
	return r;
}

static int restore_tsc_khz(int fd, const struct x86_vcpu_state *s, struct errbuf *err)
{
	if (!s->tsc_khz)
		return 0; /* the saving host did not know: keep this one's */
	int cur = ioctl(fd, KVM_GET_TSC_KHZ, 0);
	if (cur > 0) {
		uint64_t have = (uint64_t)cur, want = s->tsc_khz;
		uint64_t diff = have > want ? have - want : want - have;
		if (diff * 1000000 <= want * TSC_KHZ_TOLERANCE_PPM)
			return 0;
	}
	if (ioctl(fd, KVM_SET_TSC_KHZ, (unsigned long)s->tsc_khz) < 0) {
		err_set(err, "the saved TSC ran at %u kHz, this host's at %d kHz, and KVM_SET_TSC_KHZ failed: %s",
			s->tsc_khz, cur, strerror(errno));
		return -1;
	}
	return 0;
}

static int restore_cpuid(int fd, const struct x86_vcpu_state *s, struct errbuf *err)
{
	if (s->ncpuid > X86_VCPU_MAX_CPUID) {
		err_set(err, "%u CPUID entries, at most %d", s->ncpuid, X86_VCPU_MAX_CPUID);
		return -1;
	}
	struct {
		struct kvm_cpuid2 h;
		struct kvm_cpuid_entry2 e[X86_VCPU_MAX_CPUID];
	} *c = calloc(1, sizeof(*c));
	if (!c) {
		err_set(err, "out of memory");
		return -1;
	}
	c->h.nent = s->ncpuid;
	memcpy(c->e, s->cpuid, s->ncpuid * sizeof(c->e[0]));
	int r = ioctl(fd, KVM_SET_CPUID2, c);
	if (r < 0)
		kfail(err, "KVM_SET_CPUID2");
	free(c);
	return r < 0 ? -1 : 0;
}

int x86_vcpu_state_restore(int fd, int kvm_fd, const struct x86_vcpu_state *s,
			   struct errbuf *err)
{
	if (need_caps(kvm_fd, err) || xsave2_size(kvm_fd, err) < 0)
		return -1;
	if (restore_tsc_khz(fd, s, err) || restore_cpuid(fd, s, err))
		return -1;
	if (ioctl(fd, KVM_SET_MP_STATE, &s->mp_state) < 0)
		return kfail(err, "KVM_SET_MP_STATE");
	if (ioctl(fd, KVM_SET_REGS, &s->regs) < 0)
		return kfail(err, "KVM_SET_REGS");
	if (ioctl(fd, KVM_SET_SREGS, &s->sregs) < 0)
		return kfail(err, "KVM_SET_SREGS");
	/* KVM reads KVM_CAP_XSAVE2's size (checked above to fit) or 4096 bytes;
	 * the state is zero after its own size. */
	if (ioctl(fd, KVM_SET_XSAVE, s->xsave) < 0)
		return kfail(err, "KVM_SET_XSAVE");
	if (ioctl(fd, KVM_SET_XCRS, &s->xcrs) < 0)
		return kfail(err, "KVM_SET_XCRS");
	if (ioctl(fd, KVM_SET_DEBUGREGS, &s->debugregs) < 0)
		return kfail(err, "KVM_SET_DEBUGREGS");
	if (ioctl(fd, KVM_SET_LAPIC, &s->lapic) < 0)
		return kfail(err, "KVM_SET_LAPIC");
	if (restore_msrs(fd, s, err))
		return -1;
	struct kvm_vcpu_events ev = s->events;
	/* KVM_GET_MP_STATE delivers a received SIPI, so a saved state is never
	 * SIPI_RECEIVED; should one be, its vector comes with it (as QEMU does). */
	if (s->mp_state.mp_state == KVM_MP_STATE_SIPI_RECEIVED)
		ev.flags |= KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	if (ioctl(fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return kfail(err, "KVM_SET_VCPU_EVENTS");
	/* EINVAL when the guest has no kvmclock: nothing to tell it. */
	ioctl(fd, KVM_KVMCLOCK_CTRL, 0);
	return 0;
}

static bool find_msr(const struct x86_vcpu_state *s, uint32_t index, uint64_t *value)
{
	for (unsigned i = 0; i < s->nmsrs && i < X86_VCPU_MAX_MSRS; i++)
		if (s->msrs[i].index == index) {
			*value = s->msrs[i].data;
			return true;
		}
	return false;
}

static int tsc_offset(int fd, unsigned long req, uint64_t *offset)
{
	struct kvm_device_attr a = {.group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
				    .addr = (uint64_t)(uintptr_t)offset};
	return ioctl(fd, req, &a);
}

int x86_vcpus_restore_tsc(const int *fds, const struct x86_vcpu_state *states, unsigned n,
			  struct errbuf *err)
{
	uint64_t want = 0, tsc;
	unsigned at = n;
	for (unsigned i = 0; i < n; i++)
		if (find_msr(&states[i], MSR_IA32_TSC, &tsc) && (at == n || tsc > want)) {
			want = tsc;
			at = i;
		}
	struct kvm_device_attr has = {.group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET};
	if (at == n || ioctl(fds[at], KVM_HAS_DEVICE_ATTR, &has) < 0)
		return 0; /* no TSC saved, or a KVM older than 5.16: the MSR writes stand */
	/* The vCPU's TSC is its host's, scaled, plus the offset: move the
	 * offset by what the TSC lacks. */
	uint64_t offset;
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = {.h.nmsrs = 1, .e.index = MSR_IA32_TSC};
	if (tsc_offset(fds[at], KVM_GET_DEVICE_ATTR, &offset) < 0)
		return kfail(err, "KVM_GET_DEVICE_ATTR (the TSC offset)");
	if (ioctl(fds[at], KVM_GET_MSRS, &m) != 1)
		return kfail(err, "KVM_GET_MSRS (the TSC)");
	offset += want - m.e.data;
	for (unsigned i = 0; i < n; i++)
		if (tsc_offset(fds[i], KVM_SET_DEVICE_ATTR, &offset) < 0)
			return kfail(err, "KVM_SET_DEVICE_ATTR (the TSC offset)");
	/* KVM armed each deadline against the TSC of its MSR write. */
	for (unsigned i = 0; i < n; i++) {
		uint64_t deadline;
		if (!find_msr(&states[i], MSR_IA32_TSC_DEADLINE, &deadline) || !deadline)
			continue;
		struct kvm_msr_entry d = {.index = MSR_IA32_TSC_DEADLINE, .data = deadline};
		if (set_msrs(fds[i], &d, 1, err))
			return -1;
	}
	return 0;
}

/* The encoding: one section per part, in the order of the struct. */
enum {
	SEC_TSC_KHZ = 1, SEC_MP_STATE, SEC_REGS, SEC_SREGS, SEC_XSAVE, SEC_XCRS, SEC_DEBUGREGS,
	SEC_LAPIC, SEC_MSRS, SEC_EVENTS, SEC_CPUID,
};

#define REG(m) CODEC_FIELD(struct kvm_regs, m)
static const struct codec_field regs_f[] = {
	REG(rax), REG(rbx), REG(rcx), REG(rdx), REG(rsi), REG(rdi), REG(rsp), REG(rbp),
	REG(r8), REG(r9), REG(r10), REG(r11), REG(r12), REG(r13), REG(r14), REG(r15),
	REG(rip), REG(rflags),
};

#define SR(m) CODEC_FIELD(struct kvm_sregs, m)
#define SEG(sg) SR(sg.base), SR(sg.limit), SR(sg.selector), SR(sg.type), SR(sg.present), \
	SR(sg.dpl), SR(sg.db), SR(sg.s), SR(sg.l), SR(sg.g), SR(sg.avl), SR(sg.unusable), \
	SR(sg.padding)
#define DTABLE(dt) SR(dt.base), SR(dt.limit), CODEC_ARRAY(struct kvm_sregs, dt.padding)
static const struct codec_field sregs_f[] = {
	SEG(cs), SEG(ds), SEG(es), SEG(fs), SEG(gs), SEG(ss), SEG(tr), SEG(ldt),
	DTABLE(gdt), DTABLE(idt),
	SR(cr0), SR(cr2), SR(cr3), SR(cr4), SR(cr8), SR(efer), SR(apic_base),
	CODEC_ARRAY(struct kvm_sregs, interrupt_bitmap),
};

static const struct codec_field xcrs_head_f[] = {
	CODEC_FIELD(struct kvm_xcrs, nr_xcrs), CODEC_FIELD(struct kvm_xcrs, flags),
};
static const struct codec_field xcr_f[] = {
	CODEC_FIELD(struct kvm_xcr, xcr), CODEC_FIELD(struct kvm_xcr, reserved),
	CODEC_FIELD(struct kvm_xcr, value),
};
static const struct codec_field xcrs_tail_f[] = {CODEC_ARRAY(struct kvm_xcrs, padding)};

#define DR(m) CODEC_FIELD(struct kvm_debugregs, m)
static const struct codec_field debugregs_f[] = {
	CODEC_ARRAY(struct kvm_debugregs, db), DR(dr6), DR(dr7), DR(flags),
	CODEC_ARRAY(struct kvm_debugregs, reserved),
};

static const struct codec_field msr_f[] = {
	CODEC_FIELD(struct kvm_msr_entry, index), CODEC_FIELD(struct kvm_msr_entry, reserved),
	CODEC_FIELD(struct kvm_msr_entry, data),
};

#define EV(m) CODEC_FIELD(struct kvm_vcpu_events, m)
static const struct codec_field events_f[] = {
	EV(exception.injected), EV(exception.nr), EV(exception.has_error_code),
	EV(exception.pending), EV(exception.error_code),
	EV(interrupt.injected), EV(interrupt.nr), EV(interrupt.soft), EV(interrupt.shadow),
	EV(nmi.injected), EV(nmi.pending), EV(nmi.masked), EV(nmi.pad),
	EV(sipi_vector), EV(flags),
	EV(smi.smm), EV(smi.pending), EV(smi.smm_inside_nmi), EV(smi.latched_init),
	EV(triple_fault.pending), CODEC_ARRAY(struct kvm_vcpu_events, reserved),
	EV(exception_has_payload), EV(exception_payload),
};

#define CP(m) CODEC_FIELD(struct kvm_cpuid_entry2, m)
static const struct codec_field cpuid_f[] = {
	CP(function), CP(index), CP(flags), CP(eax), CP(ebx), CP(ecx), CP(edx),
	CODEC_ARRAY(struct kvm_cpuid_entry2, padding),
};

static const struct codec_layout regs_l = CODEC_LAYOUT(regs_f), sregs_l = CODEC_LAYOUT(sregs_f),
	xcrs_head_l = CODEC_LAYOUT(xcrs_head_f), xcr_l = CODEC_LAYOUT(xcr_f),
	xcrs_tail_l = CODEC_LAYOUT(xcrs_tail_f), debugregs_l = CODEC_LAYOUT(debugregs_f),
	msr_l = CODEC_LAYOUT(msr_f), events_l = CODEC_LAYOUT(events_f),
	cpuid_l = CODEC_LAYOUT(cpuid_f);

size_t x86_vcpu_state_encode(const struct x86_vcpu_state *s, uint8_t *buf, size_t cap)
{
	if (s->xsave_size < X86_VCPU_XSAVE_MIN || s->xsave_size > X86_VCPU_XSAVE_MAX ||
	    s->xsave_size % 4 || s->xcrs.nr_xcrs > KVM_MAX_XCRS || s->nmsrs > X86_VCPU_MAX_MSRS ||
	    s->ncpuid > X86_VCPU_MAX_CPUID)
		return 0;
	struct codec_writer w;
	cw_begin(&w, buf, cap, X86_VCPU_STATE_MAGIC, X86_VCPU_STATE_VERSION);
	cw_section(&w, SEC_TSC_KHZ);
	cw_u32(&w, s->tsc_khz);
	cw_section(&w, SEC_MP_STATE);
	cw_u32(&w, s->mp_state.mp_state);
	cw_section(&w, SEC_REGS);
	cw_struct(&w, &s->regs, &regs_l);
	cw_section(&w, SEC_SREGS);
	cw_struct(&w, &s->sregs, &sregs_l);
	cw_section(&w, SEC_XSAVE);
	cw_u32(&w, s->xsave_size);
	/* The XSAVE area is the processor's own little-endian layout. */
	cw_bytes(&w, s->xsave, s->xsave_size);
	cw_section(&w, SEC_XCRS);
	cw_struct(&w, &s->xcrs, &xcrs_head_l);
	for (unsigned i = 0; i < KVM_MAX_XCRS; i++)
		cw_struct(&w, &s->xcrs.xcrs[i], &xcr_l);
	cw_struct(&w, &s->xcrs, &xcrs_tail_l);
	cw_section(&w, SEC_DEBUGREGS);
	cw_struct(&w, &s->debugregs, &debugregs_l);
	cw_section(&w, SEC_LAPIC);
	cw_bytes(&w, s->lapic.regs, sizeof(s->lapic.regs)); /* the APIC page's bytes */
	cw_section(&w, SEC_MSRS);
	cw_u32(&w, s->nmsrs);
	for (unsigned i = 0; i < s->nmsrs; i++)
		cw_struct(&w, &s->msrs[i], &msr_l);
	cw_section(&w, SEC_EVENTS);
	cw_struct(&w, &s->events, &events_l);
	cw_section(&w, SEC_CPUID);
	cw_u32(&w, s->ncpuid);
	for (unsigned i = 0; i < s->ncpuid; i++)
		cw_struct(&w, &s->cpuid[i], &cpuid_l);
	return cw_finish(&w);
}

/* A section that is exactly one struct of layout l. */
static int get_fixed(struct codec_reader *r, uint16_t tag, const char *name, void *p,
		     const struct codec_layout *l)
{
	size_t n;
	if (cr_section(r, tag, name, &n) || cr_expect(r, n, codec_layout_bytes(l)))
		return -1;
	return cr_struct(r, p, l);
}

/* A section holding a u32 count of at most max entries of esize bytes. */
static int get_count(struct codec_reader *r, uint16_t tag, const char *name, const char *what,
		     uint32_t max, size_t esize, uint32_t *count)
{
	size_t n;
	if (cr_section(r, tag, name, &n) || cr_u32(r, count))
		return -1;
	if (*count > max)
		return cr_fail(r, "%u %s, at most %u", *count, what, max);
	return cr_expect(r, n, 4 + (size_t)*count * esize);
}

int x86_vcpu_state_decode(const uint8_t *buf, size_t len, struct x86_vcpu_state *s,
			  struct errbuf *err)
{
	memset(s, 0, sizeof(*s));
	struct codec_reader r;
	size_t n;
	if (cr_begin(&r, buf, len, X86_VCPU_STATE_MAGIC, X86_VCPU_STATE_VERSION, "vCPU state", err))
		goto bad;
	if (cr_section(&r, SEC_TSC_KHZ, "tsc_khz", &n) || cr_expect(&r, n, 4) ||
	    cr_u32(&r, &s->tsc_khz))
		goto bad;
	if (cr_section(&r, SEC_MP_STATE, "mp_state", &n) || cr_expect(&r, n, 4) ||
	    cr_u32(&r, &s->mp_state.mp_state))
		goto bad;
	if (get_fixed(&r, SEC_REGS, "regs", &s->regs, &regs_l) ||
	    get_fixed(&r, SEC_SREGS, "sregs", &s->sregs, &sregs_l))
		goto bad;
	if (cr_section(&r, SEC_XSAVE, "xsave", &n) || cr_u32(&r, &s->xsave_size))
		goto bad;
	if (s->xsave_size < X86_VCPU_XSAVE_MIN || s->xsave_size > X86_VCPU_XSAVE_MAX ||
	    s->xsave_size % 4) {
		cr_fail(&r, "an XSAVE area of %u bytes (ember takes %d to %d, a multiple of 4)",
			s->xsave_size, X86_VCPU_XSAVE_MIN, X86_VCPU_XSAVE_MAX);
		goto bad;
	}
	if (cr_expect(&r, n, 4 + (size_t)s->xsave_size) || cr_bytes(&r, s->xsave, s->xsave_size))
		goto bad;
	size_t xcrs_bytes = codec_layout_bytes(&xcrs_head_l) +
			    KVM_MAX_XCRS * codec_layout_bytes(&xcr_l) +
			    codec_layout_bytes(&xcrs_tail_l);
	if (cr_section(&r, SEC_XCRS, "xcrs", &n) || cr_expect(&r, n, xcrs_bytes) ||
	    cr_struct(&r, &s->xcrs, &xcrs_head_l))
		goto bad;
	for (unsigned i = 0; i < KVM_MAX_XCRS; i++)
		if (cr_struct(&r, &s->xcrs.xcrs[i], &xcr_l))
			goto bad;
	if (cr_struct(&r, &s->xcrs, &xcrs_tail_l))
		goto bad;
	if (s->xcrs.nr_xcrs > KVM_MAX_XCRS) {
		cr_fail(&r, "%u XCRs, at most %d", s->xcrs.nr_xcrs, KVM_MAX_XCRS);
		goto bad;
	}
	if (get_fixed(&r, SEC_DEBUGREGS, "debugregs", &s->debugregs, &debugregs_l))
		goto bad;
	if (cr_section(&r, SEC_LAPIC, "lapic", &n) || cr_expect(&r, n, sizeof(s->lapic.regs)) ||
	    cr_bytes(&r, s->lapic.regs, sizeof(s->lapic.regs)))
		goto bad;
	if (get_count(&r, SEC_MSRS, "msrs", "MSRs", X86_VCPU_MAX_MSRS, codec_layout_bytes(&msr_l),
		      &s->nmsrs))
		goto bad;
	for (unsigned i = 0; i < s->nmsrs; i++)
		if (cr_struct(&r, &s->msrs[i], &msr_l))
			goto bad;
	if (get_fixed(&r, SEC_EVENTS, "events", &s->events, &events_l))
		goto bad;
	if (get_count(&r, SEC_CPUID, "cpuid", "CPUID entries", X86_VCPU_MAX_CPUID,
		      codec_layout_bytes(&cpuid_l), &s->ncpuid))
		goto bad;
	for (unsigned i = 0; i < s->ncpuid; i++)
		if (cr_struct(&r, &s->cpuid[i], &cpuid_l))
			goto bad;
	if (cr_end(&r))
		goto bad;
	return 0;
bad:
	memset(s, 0, sizeof(*s));
	return -1;
}
