/* vcpu.c: vCPU set-up and run loops. Each vCPU runs KVM_RUN on its own thread
 * and handles its exits (port I/O, MMIO, shutdown, errors) there. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmm/core/guest_sample.h"
#include "vmm/core/seccomp.h"
#include "vmm/lib/util.h"
#include "vmm/core/vcpu.h"
#include "vmm/lib/thread.h"

static __thread struct kvm_run *current_run;
static __thread struct vm *current_vm;

/* How often a pause or a stop kicks a vCPU that has not left yet: the kick
 * may land just before a blocking system call that it was meant to end. */
#define KICK_AGAIN_NS 20000000u

bool vcpu_must_leave(void)
{
	struct vm *vm = current_vm;
	return vm && (atomic_load(&vm->stopping) ||
		      __atomic_load_n(&vm->pause_req, __ATOMIC_ACQUIRE));
}

/* The start gate: each vCPU thread installs its seccomp filter, says so, and
 * waits until the main thread (which installs its own filter last, so that the
 * threads it creates do not inherit it) lets the guest run. */
static bool gate_pass(struct vm *vm, bool filter_ok)
{
	pthread_mutex_lock(&vm->run_lock);
	vm->gate_ready++;
	vm->gate_failed += !filter_ok;
	pthread_cond_broadcast(&vm->run_cond);
	while (!vm->gate_open)
		pthread_cond_wait(&vm->run_cond, &vm->run_lock);
	pthread_mutex_unlock(&vm->run_lock);
	return filter_ok;
}

/* Paused: tell the guest's kvmclock (its soft-lockup and RCU-stall checks
 * then know the time that passed was a pause; EINVAL without kvmclock is
 * fine), then wait outside KVM_RUN until resumed or stopped. */
static void park(struct vcpu *v)
{
	struct vm *vm = v->vm;
	ioctl(v->fd, KVM_KVMCLOCK_CTRL, 0);
	pthread_mutex_lock(&vm->run_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->run_cond);
	while (vm->pause_req && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->run_cond, &vm->run_lock);
	vm->parked--;
	pthread_mutex_unlock(&vm->run_lock);
}

#ifdef EMBER_TEST_HOOKS
/* Test builds only (build/tests/ember-testhooks): EMBER_TEST_FORBIDDEN=vcpu
 * makes vCPU 0 try to open a file once the guest may run, which its seccomp
 * filter forbids. */
static void test_hook_forbidden(const struct vcpu *v, bool armed)
{
	if (armed && v->index == 0) {
		int fd = open("/", O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
	}
}
#endif

static void kick_handler(int sig)
{
	(void)sig;
	if (current_run)
		current_run->immediate_exit = 1;
}

static int vcpu_create(struct vm *vm, unsigned index, struct errbuf *err)
{
	struct vcpu *v = &vm->vcpus[index];
	v->vm = vm;
	v->index = index;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0) {
		err_set(err, "KVM_CREATE_VCPU %u: %s", index, strerror(errno));
		return -1;
	}
	int sz = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz <= 0) {
		err_set(err, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -1;
	}
	v->run_size = (size_t)sz;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		err_set(err, "mmap of vCPU %u run area: %s", index, strerror(errno));
		return -1;
	}
	return 0;
}

int vcpus_create(struct vm *vm, struct errbuf *err)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vcpu_create(vm, i, err))
			return -1;
	return 0;
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool write = run->io.direction == KVM_EXIT_IO_OUT;
	/* data_offset comes from KVM, not the guest; still, stay inside the page. */
	if (run->io.data_offset + (uint64_t)run->io.size * run->io.count > v->run_size)
		return;
	for (uint32_t i = 0; i < run->io.count; i++) {
		pio_dispatch(&v->vm->pio, run->io.port, data, run->io.size, write);
		data += run->io.size;
	}
}

static void vcpu_fail(struct vcpu *v, const char *what)
{
	log_error("vCPU %u: %s; stopping the VM", v->index, what);
	__atomic_fetch_add(&v->exits[VCPU_FAILURES], 1, __ATOMIC_RELAXED);
	if (v->vm->dump_regs)
		v->vm->dump_regs(v->fd, v->index);
	vm_request_stop(v->vm, EXIT_VM_ERROR);
}

/* Handle the exit KVM_RUN returned. */
static void handle_exit(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_run *run = v->run;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		__atomic_fetch_add(&v->exits[run->io.direction == KVM_EXIT_IO_OUT ? VCPU_EXIT_IO_OUT : VCPU_EXIT_IO_IN],
				   1, __ATOMIC_RELAXED);
		handle_io(v);
		break;
	case KVM_EXIT_MMIO:
		__atomic_fetch_add(&v->exits[run->mmio.is_write ? VCPU_EXIT_MMIO_WRITE : VCPU_EXIT_MMIO_READ],
				   1, __ATOMIC_RELAXED);
		/* Unclaimed addresses: reads see all ones, writes vanish.
		 * mmio_dispatch clamps len to the 8 bytes of mmio.data. */
		mmio_dispatch(&vm->mmio, run->mmio.phys_addr, run->mmio.data,
			      run->mmio.len, run->mmio.is_write);
		break;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; treat as power-off. */
		vm_request_stop(vm, 0);
		break;
	case KVM_EXIT_SHUTDOWN:
		vcpu_fail(v, "triple fault (KVM_EXIT_SHUTDOWN)");
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		vm_request_stop(vm, 0);
		break;
	case KVM_EXIT_FAIL_ENTRY: {
		char what[96];
		snprintf(what, sizeof(what), "VM entry failed (reason %#llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_fail(v, what);
		break;
	}
	case KVM_EXIT_INTERNAL_ERROR: {
		char what[96];
		snprintf(what, sizeof(what), "KVM internal error (suberror %u)",
			 run->internal.suberror);
		vcpu_fail(v, what);
		break;
	}
	case KVM_EXIT_IOAPIC_EOI:
		/* Split IRQ chip: a level-triggered IOAPIC vector was EOI'd. */
		if (vm->irq_eoi)
			vm->irq_eoi(vm->irq_ctx, run->eoi.vector);
		break;
	case KVM_EXIT_INTR:
		break;
	default: {
		char what[64];
		snprintf(what, sizeof(what), "unexpected exit reason %u", run->exit_reason);
		vcpu_fail(v, what);
		break;
	}
	}
}

/* Before parking: let KVM finish the instruction behind the last exit
 * without entering the guest (KVM_RUN with immediate_exit). An I/O or MMIO
 * read's data reaches its register, and RIP moves past the access, only on
 * the next KVM_RUN; a parked vCPU is then whole, and its state saved for a
 * snapshot neither replays the access nor loses what it read. An exit KVM
 * returns instead (the next part of a string access) is handled as usual. */
static void settle(struct vcpu *v)
{
	for (unsigned i = 0; i < 4096 && !atomic_load(&v->vm->stopping); i++) {
		v->run->immediate_exit = 1;
		int r = ioctl(v->fd, KVM_RUN, 0);
		v->run->immediate_exit = 0;
		if (r < 0)
			return; /* EINTR: settled (another error shows on the next run) */
		handle_exit(v);
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	char name[16];
	snprintf(name, sizeof(name), "vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);
	current_run = v->run;
	current_vm = vm;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
#ifdef EMBER_TEST_HOOKS
	const char *hook = getenv("EMBER_TEST_FORBIDDEN");
	bool armed = hook && strcmp(hook, "vcpu") == 0;
#endif
	guest_sample_start(v);
	if (!gate_pass(vm, seccomp_thread_install(SECCOMP_VCPU) == 0))
		return NULL;
#ifdef EMBER_TEST_HOOKS
	test_hook_forbidden(v, armed);
#endif

	while (!atomic_load(&vm->stopping)) {
		if (__atomic_load_n(&vm->pause_req, __ATOMIC_ACQUIRE)) {
			settle(v);
			park(v);
			continue;
		}
		atomic_fetch_add(&v->kvm_runs, 1);
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				guest_sample_take(v);
				continue;
			}
			char what[96];
			snprintf(what, sizeof(what), "KVM_RUN failed: %s", strerror(errno));
			vcpu_fail(v, what);
			break;
		}
		handle_exit(v);
	}
	guest_sample_end(v);
	return NULL;
}

int vcpus_start(struct vm *vm, struct errbuf *err)
{
	struct sigaction sa = {.sa_handler = kick_handler};
	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		int r = thread_start(&v->thread, THREAD_STACK_SMALL, vcpu_thread, v);
		if (r) {
			err_set(err, "cannot start vCPU thread %u: %s", i, strerror(r));
			return -1;
		}
		v->started = true;
		pthread_mutex_lock(&vm->run_lock);
		vm->gate_started++;
		pthread_mutex_unlock(&vm->run_lock);
	}
	return 0;
}

int vcpus_wait_ready(struct vm *vm)
{
	pthread_mutex_lock(&vm->run_lock);
	while (vm->gate_ready < vm->gate_started)
		pthread_cond_wait(&vm->run_cond, &vm->run_lock);
	int r = vm->gate_failed ? -1 : 0;
	pthread_mutex_unlock(&vm->run_lock);
	return r;
}

void vcpus_go(struct vm *vm, bool parked)
{
	pthread_mutex_lock(&vm->run_lock);
	if (parked)
		__atomic_store_n(&vm->pause_req, true, __ATOMIC_RELEASE);
	vm->gate_open = true;
	pthread_cond_broadcast(&vm->run_cond);
	pthread_mutex_unlock(&vm->run_lock);
}

/* A time on CLOCK_MONOTONIC (now_ns()'s clock) as a timespec. */
static struct timespec mono_ts(uint64_t ns)
{
	return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u),
				 .tv_nsec = (long)(ns % 1000000000u)};
}

static void kick_all(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].started)
			pthread_kill(vm->vcpus[i].thread, VCPU_KICK_SIGNAL);
}

int vcpus_pause(struct vm *vm, uint64_t timeout_ns)
{
	uint64_t deadline = now_ns() + timeout_ns, now;
	pthread_mutex_lock(&vm->run_lock);
	__atomic_store_n(&vm->pause_req, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vm->run_lock);
	/* A vCPU in KVM_RUN leaves it (immediate_exit); one about to enter it
	 * sees pause_req first or returns at once for the same reason. */
	kick_all(vm);
	pthread_mutex_lock(&vm->run_lock);
	while (vm->parked < vm->gate_started && !atomic_load(&vm->stopping) &&
	       (now = now_ns()) < deadline) {
		struct timespec t = mono_ts(deadline - now > KICK_AGAIN_NS ? now + KICK_AGAIN_NS : deadline);
		if (pthread_cond_timedwait(&vm->run_cond, &vm->run_lock, &t) == ETIMEDOUT)
			kick_all(vm); /* (parked ones ignore it) */
	}
	bool all = vm->parked >= vm->gate_started || atomic_load(&vm->stopping);
	pthread_mutex_unlock(&vm->run_lock);
	return all ? 0 : -1;
}

void vcpus_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->run_lock);
	__atomic_store_n(&vm->pause_req, false, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->run_cond);
	pthread_mutex_unlock(&vm->run_lock);
}

void vcpus_stop(struct vm *vm)
{
	vcpus_go(vm, false); /* threads still at the gate see the stop request */
	vcpus_resume(vm); /* and parked ones */
	kick_all(vm);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		while (v->started) {
			struct timespec t = mono_ts(now_ns() + KICK_AGAIN_NS);
			if (pthread_clockjoin_np(v->thread, NULL, CLOCK_MONOTONIC, &t) != ETIMEDOUT)
				break;
			pthread_kill(v->thread, VCPU_KICK_SIGNAL);
		}
		v->started = false;
		if (v->run)
			munmap(v->run, v->run_size);
		if (v->fd >= 0)
			close(v->fd);
	}
}
