/* vm.c: create a KVM virtual machine with its memory, KVM's interrupt
 * controllers (split: the in-kernel local APICs; or KVM's whole IRQ chip and
 * PIT) and buses; own its devices. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/core/mem_layout.h"
#include "vmm/lib/util.h"
#include "vmm/core/vcpu.h"
#include "vmm/core/vm.h"

static int kvm_open(struct errbuf *err)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			err_set(err, "/dev/kvm does not exist: this host has no KVM (load kvm_intel or kvm_amd)");
		else if (errno == EACCES || errno == EPERM)
			err_set(err, "cannot open /dev/kvm: permission denied (join the kvm group)");
		else
			err_set(err, "cannot open /dev/kvm: %s", strerror(errno));
		return -1;
	}
	int version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		err_set(err, "/dev/kvm speaks KVM API %d, ember needs %d", version, KVM_API_VERSION);
		close(fd);
		return -1;
	}
	static const struct {
		int cap;
		const char *name;
	} caps[] = {
		{KVM_CAP_IRQCHIP, "IRQCHIP"},     {KVM_CAP_USER_MEMORY, "USER_MEMORY"},
		{KVM_CAP_SET_TSS_ADDR, "SET_TSS_ADDR"},
		{KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT"}, {KVM_CAP_EXT_CPUID, "EXT_CPUID"},
		{KVM_CAP_IRQ_ROUTING, "IRQ_ROUTING"}, {KVM_CAP_IRQFD, "IRQFD"},
		{KVM_CAP_IOEVENTFD, "IOEVENTFD"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0) {
			err_set(err, "KVM lacks KVM_CAP_%s, which ember needs", caps[i].name);
			close(fd);
			return -1;
		}
	}
	return fd;
}

static int set_region(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};
	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r);
}

static struct kvm_cpuid2 *get_supported_cpuid(int kvm_fd)
{
	for (unsigned n = 64; n <= 1024; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return NULL;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG)
			return NULL;
	}
	return NULL;
}

/* The split IRQ chip: local APICs in KVM, the IOAPIC in ember, no PIC or PIT
 * (ACPI tells the guest there is none). KVM builds and tears it down in well
 * under a millisecond; its whole IRQ chip and PIT cost ~20 ms of
 * synchronize_srcu() and kthread teardown on some hosts. */
static int irqchip_split(struct vm *vm, struct errbuf *err)
{
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SPLIT_IRQCHIP) <= 0) {
		err_set(err, "KVM lacks KVM_CAP_SPLIT_IRQCHIP: use --irqchip kernel");
		return -1;
	}
	struct kvm_enable_cap cap = {.cap = KVM_CAP_SPLIT_IRQCHIP, .args = {GSI_IRQCHIP_PINS}};
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
		err_set(err, "enabling KVM's split IRQ chip failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int irqchip_kernel(struct vm *vm, struct errbuf *err)
{
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_PIT2) <= 0) {
		err_set(err, "KVM lacks KVM_CAP_PIT2, which --irqchip kernel needs");
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		err_set(err, "KVM_CREATE_IRQCHIP failed: %s", strerror(errno));
		return -1;
	}
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		err_set(err, "KVM_CREATE_PIT2 failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int vm_create(struct vm *vm, uint64_t mem, unsigned ncpus, bool kernel_irqchip, int mem_fd,
	      struct errbuf *err)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->stop_efd = -1;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&vm->run_lock, NULL);
	pthread_cond_init(&vm->run_cond, &ca);
	pthread_condattr_destroy(&ca);
	vm->run_ok = true;
	vm->ncpus = ncpus;
	vm->kernel_irqchip = kernel_irqchip;
	vm->kvm_fd = kvm_open(err);
	if (vm->kvm_fd < 0)
		return -1;
	int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && ncpus > (unsigned)max) {
		err_set(err, "--cpus %u: this host's KVM allows at most %d vCPUs", ncpus, max);
		return -1;
	}
	vm->supported_cpuid = get_supported_cpuid(vm->kvm_fd);
	if (!vm->supported_cpuid) {
		err_set(err, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(errno));
		return -1;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		err_set(err, "KVM_CREATE_VM failed: %s", strerror(errno));
		return -1;
	}
	if (kernel_irqchip ? irqchip_kernel(vm, err) : irqchip_split(vm, err))
		return -1;
	int r = mem_fd >= 0 ? gm_map_file(&vm->mem, mem, mem_fd) : gm_map(&vm->mem, mem);
	if (r < 0) {
		err_set(err, "cannot map %llu MiB of guest memory: %s",
			(unsigned long long)(mem >> 20), strerror(-r));
		return -1;
	}
	const struct mem_layout *l = &vm->mem.layout;
	if (set_region(vm, 0, 0, l->low_size, vm->mem.base) < 0 ||
	    (l->high_size && set_region(vm, 1, LAYOUT_MMIO_HOLE_END, l->high_size,
					vm->mem.base + l->low_size) < 0)) {
		err_set(err, "KVM_SET_USER_MEMORY_REGION failed: %s", strerror(errno));
		return -1;
	}
	mmio_bus_init(&vm->mmio);
	if (gsi_routes_init(&vm->routes, &gsi_kvm_ops, &vm->vm_fd, kernel_irqchip)) {
		err_set(err, "out of memory");
		mmio_bus_destroy(&vm->mmio);
		return -1;
	}
	vm->buses_ok = true;
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0) {
		err_set(err, "eventfd: %s", strerror(errno));
		return -1;
	}
	vm->vcpus = calloc(ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		err_set(err, "out of memory");
		return -1;
	}
	return 0;
}

int vm_add_device(struct vm *vm, struct device *d)
{
	return device_list_add(&vm->devices, d);
}

void vm_destroy(struct vm *vm)
{
	device_list_destroy(&vm->devices);
	if (vm->run_ok) {
		pthread_cond_destroy(&vm->run_cond);
		pthread_mutex_destroy(&vm->run_lock);
		vm->run_ok = false;
	}
	free(vm->vcpus);
	free(vm->supported_cpuid);
	if (vm->buses_ok) {
		gsi_routes_destroy(&vm->routes);
		mmio_bus_destroy(&vm->mmio);
		vm->buses_ok = false;
	}
	gm_unmap(&vm->mem);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
}

void vm_irq_line(struct vm *vm, unsigned gsi, bool level)
{
	if (!vm->kernel_irqchip) {
		if (vm->irq_set)
			vm->irq_set(vm->irq_ctx, gsi, level);
		return;
	}
	struct kvm_irq_level irq = {.irq = gsi, .level = level};
	ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq);
}

void vm_request_stop(struct vm *vm, int status)
{
	bool expected = false;
	if (!atomic_compare_exchange_strong(&vm->stop_claimed, &expected, true))
		return;
	/* The status is stored before `stopping` is published: a thread that
	 * sees stopping (woken by anything) reads the right exit_status. */
	vm->exit_status = status;
	atomic_store(&vm->stopping, true);
	uint64_t one = 1;
	ssize_t r = write(vm->stop_efd, &one, sizeof(one));
	(void)r;
}

#define PAUSE_TIMEOUT_NS 1000000000ull

int vm_pause(struct vm *vm)
{
	if (vm->paused)
		return 0;
	/* A pause that fails is undone: the VM runs on as before. */
	if (vcpus_pause(vm, PAUSE_TIMEOUT_NS)) {
		log_error("pause: a vCPU did not leave the guest within 1 s");
		vcpus_resume(vm);
		return -1;
	}
	if (device_list_pause(&vm->devices)) {
		device_list_resume(&vm->devices);
		vcpus_resume(vm);
		return -1;
	}
	vm->paused = true;
	vm->pauses++;
	return 0;
}

void vm_resume(struct vm *vm)
{
	if (!vm->paused)
		return;
	device_list_resume(&vm->devices);
	vcpus_resume(vm);
	vm->paused = false;
}

void vm_stats(struct vm *vm, FILE *out)
{
	fprintf(out, "{\"vm\":\"%s\",\"pauses\":%llu,\"vcpus\":[", vm->paused ? "paused" : "running",
		(unsigned long long)vm->pauses);
	for (unsigned i = 0; vm->vcpus && i < vm->ncpus; i++)
		fprintf(out, "%s{\"vcpu\":%u,\"kvm_runs\":%llu}", i ? "," : "", i,
			(unsigned long long)atomic_load(&vm->vcpus[i].kvm_runs));
	fprintf(out, "]}\n");
}

void vm_metrics(struct vm *vm, struct metrics_sample *s, unsigned slot)
{
	static const char *const names[VCPU_EXIT_KINDS] = {
		[VCPU_EXIT_IO_IN] = "exit_io_in", [VCPU_EXIT_IO_OUT] = "exit_io_out",
		[VCPU_EXIT_MMIO_READ] = "exit_mmio_read", [VCPU_EXIT_MMIO_WRITE] = "exit_mmio_write",
		[VCPU_FAILURES] = "failures",
	};
	memset(s, 0, sizeof(*s));
	s->slot = slot;
	s->group = "vcpu";
	s->names = names;
	s->n = VCPU_EXIT_KINDS;
	for (unsigned i = 0; vm && vm->vcpus && i < vm->ncpus; i++)
		for (unsigned k = 0; k < VCPU_EXIT_KINDS; k++)
			s->total[k] += __atomic_load_n(&vm->vcpus[i].exits[k], __ATOMIC_RELAXED);
}
