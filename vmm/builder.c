/* builder.c: build a running VM from its configuration (see builder.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "virtio/blk/blk_pci.h"
#include "virtio/net/net_pci.h"
#include "vmm/arch/x86/acpi.h"
#include "vmm/arch/x86/boot_info.h"
#include "vmm/arch/x86/kernel_image.h"
#include "vmm/arch/x86/layout.h"
#include "vmm/arch/x86/vmgenid.h"
#include "vmm/arch/x86/x86_boot.h"
#include "vmm/arch/x86/x86_vm.h"
#include "vmm/builder.h"
#include "vmm/cmdline.h"
#include "vmm/core/seccomp.h"
#include "vmm/core/vcpu.h"
#include "vmm/devices/legacy.h"
#include "vmm/guest_load.h"
#include "vmm/pci/vfio_pci.h"
#include "vmm/snapshot.h"

_Static_assert(VM_MAX_VFIO <= SECCOMP_MAX_VFIO_FDS, "the vCPU filter has room for every --vfio");

/* Log the reason the VM cannot be built (one line) and keep it in why. */
static void fail(struct errbuf *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct errbuf *why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why->msg, sizeof(why->msg), fmt, ap);
	va_end(ap);
	log_error("%s", why->msg);
}

static int check_host_memory(uint64_t bytes, struct errbuf *why)
{
	struct sysinfo si;
	if (sysinfo(&si) == 0) {
		uint64_t total = (uint64_t)si.totalram * si.mem_unit;
		if (bytes > total) {
			fail(why, "--mem %llu MiB is more than this host's %llu MiB of RAM",
				  (unsigned long long)(bytes >> 20), (unsigned long long)(total >> 20));
			return -1;
		}
	}
	return 0;
}

/* The devices whose host resources are opened before there is a VM: disks,
 * then NICs, then passed-through devices. */
struct opened {
	struct device *dev[VM_MAX_DISKS + VM_MAX_NETS + VM_MAX_VFIO];
	unsigned n;
};

/* Destroy what is still ours (not yet handed to the VM). */
static void opened_destroy(struct opened *o)
{
	for (unsigned i = 0; i < o->n; i++)
		if (o->dev[i])
			device_destroy(o->dev[i]);
	o->n = 0;
}

static int opened_add(struct opened *o, struct device *d)
{
	if (!d)
		return -1;
	o->dev[o->n++] = d;
	return 0;
}

/* Disks, TAPs and passed-through devices: a missing, busy or unbound one is
 * bad input, even on a host without KVM. */
static int open_host_devices(const struct vm_config *c, struct opened *o, struct errbuf *err)
{
	for (unsigned i = 0; i < c->ndisks; i++) {
		struct blk_pci *d = blk_pci_open(&c->disks[i], i, err);
		if (d) /* the metrics name it by the API's drive_id */
			snprintf(d->dev.api_id, sizeof(d->dev.api_id), "%s", c->disk_ids[i]);
		if (opened_add(o, d ? &d->dev : NULL))
			return -1;
	}
	for (unsigned i = 0; i < c->nnets; i++) {
		struct net_pci *d = net_pci_open(&c->nets[i], i, err);
		if (d)
			snprintf(d->dev.api_id, sizeof(d->dev.api_id), "%s", c->net_ids[i]);
		if (opened_add(o, d ? &d->dev : NULL))
			return -1;
	}
	for (unsigned i = 0; i < c->nvfio; i++) {
		struct vfio_pci *d = vfio_pci_open(c->vfio[i], i, err);
		if (opened_add(o, d ? &d->device : NULL))
			return -1;
	}
	return 0;
}

/* Create the opened devices in the VM, put them on the PCI bus, and hand
 * them to the VM. */
static int add_pci_devices(struct machine *m, struct opened *o, struct errbuf *err)
{
	for (unsigned i = 0; i < o->n; i++) {
		struct device *d = o->dev[i];
		struct pci_device *fn = d->ops->attach(d, &m->vm, err);
		if (!fn)
			return -1;
		if (pci_bus_add_device(&m->pci, fn) < 0) {
			err_set(err, "%s: no room on the PCI bus (%d slots)", d->id, PCI_MAX_SLOTS - 1);
			return -1;
		}
		if (vm_add_device(&m->vm, d)) {
			err_set(err, "%s: too many devices", d->id);
			return -1;
		}
		o->dev[i] = NULL;
	}
	return 0;
}

/* The platform: the PCI bus's configuration ports, the IOAPIC (split IRQ
 * chip), COM1 on the console, the exit and boot-time ports, the keyboard
 * controller's reset and ACPI's power-off and reset. */
static int add_platform(struct machine *m, const struct vm_config *c)
{
	struct vm *vm = &m->vm;
	x86_pci_windows(vm, &m->pci_win);
	pci_bus_init(&m->pci, &vm->mmio, &m->pci_win);
	m->pci_ok = true;
	if (pio_register(&vm->pio, PCI_CONF1_ADDR_PORT, PCI_CONF1_PORTS, pci_conf1_io, &m->pci))
		return -1;
	if (!c->kernel_irqchip && ioapic_create(vm))
		return -1;
	m->room_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	m->com1 = com1_create(vm, m->con.out_fd, m->room_efd);
	if (!m->com1 || exit_ports_create(vm) || !(m->i8042 = i8042_create(vm)) ||
	    acpi_pm_create(vm))
		return -1;
	return 0;
}

/* Kernel, initrd, command line, ACPI tables and boot structures into guest
 * memory; pci_root: the VM will have PCI devices (else its ACPI tables
 * describe no PCI bus, and the guest scans none). 0, or the exit status. */
static int load_guest(struct machine *m, const struct vm_config *c, struct kernel_image *k,
		      const struct reader *kr, const char *cmdline, const struct reader *ir,
		      bool pci_root, struct errbuf *err, struct errbuf *why)
{
	if (guest_load_kernel(&m->vm.mem, c, k, kr, err)) {
		fail(why, "kernel '%s': %s", c->kernel, err->msg);
		return EXIT_USAGE;
	}
	uint64_t rsdp = acpi_build(&m->vm.mem, c->cpus, &m->pci_win, pci_root, c->kernel_irqchip);
	struct boot_request req = {.cmdline = cmdline, .initrd = ir, .rsdp = rsdp};
	guest_load_initrd(&m->vm.mem, c, k, ir, &req);
	if (!rsdp || boot_info_write(k, &m->vm.mem, &req, err) ||
	    x86_boot_tables(&m->vm.mem, k->kind)) {
		fail(why, "%s", rsdp ? err->msg : "no room for ACPI tables");
		return EXIT_USAGE;
	}
	if (vmgenid_write(&m->vm.mem, NULL, err)) {
		fail(why, "%s", err->msg);
		return EXIT_VM_ERROR;
	}
	return 0;
}

/* Start-up's phases in the log file at level Debug: how long after ember
 * started (or the API's InstanceStart) each one ended. */
static void phase_done(uint64_t start_ns, const char *what)
{
	uint64_t us = (now_ns() - start_ns) / 1000;
	log_debug("start-up: %s at %llu.%03llu ms", what, (unsigned long long)(us / 1000),
		  (unsigned long long)(us % 1000));
}

int machine_build(struct machine *m, const struct vm_config *c, uint64_t start_ns,
		  const char *start_what, const struct snapshot_in *snap, struct errbuf *why)
{
	memset(m, 0, sizeof(*m));
	m->room_efd = -1;
	struct errbuf err = {{0}};
	struct opened o = {.n = 0};
	/* The kernel and initrd files, open until they are in guest RAM. */
	struct reader kr = {.fd = -1}, ir = {.fd = -1};
	struct kernel_image k;
	int status = EXIT_USAGE;

	/* A snapshot's guest has its kernel, initrd and command line in the
	 * memory file already. */
	if (!snap && !c->kernel) {
		fail(why, "no kernel to boot (the boot source is not set)");
		goto out;
	}
	/* Only their sizes are taken now; the bytes go straight from the files
	 * into guest RAM when the VM exists, with no copy on ember's heap. */
	if (!snap && guest_load_open(c, &kr, &k, &ir, &err)) {
		fail(why, "%s", err.msg);
		goto out;
	}
	uint64_t mem = MiB(c->mem_mib);
	if (check_host_memory(mem, why))
		goto out;
	static char cmdline[LAYOUT_CMDLINE_MAX];
	if (!snap && cmdline_for_config(c, cmdline, sizeof(cmdline), &err)) {
		fail(why, "%s", err.msg);
		goto out;
	}
	if (open_host_devices(c, &o, &err)) {
		fail(why, "%s", err.msg);
		goto out;
	}
	if (console_open(&m->con, c->console, c->console_path, &err)) {
		fail(why, "%s", err.msg);
		goto out;
	}
	m->con_ok = true;
	if (!c->seccomp)
		log_warn("--seccomp off: ember's threads run without seccomp filters (debugging only)");
	if (seccomp_setup(c->seccomp, &err)) {
		fail(why, "%s", err.msg);
		status = EXIT_VM_ERROR;
		goto out;
	}

	phase_done(start_ns, "files opened, seccomp set up");
	m->vm_ok = true; /* even a failed vm_create leaves what vm_destroy takes */
	if (vm_create(&m->vm, mem, c->cpus, c->kernel_irqchip, snap ? snap->mem_fd : -1, &err)) {
		fail(why, "%s", err.msg);
		goto out;
	}
	m->vm.start_ns = start_ns;
	m->vm.start_what = start_what;
	m->vm.report_boot_time = c->boot_time;
	status = EXIT_VM_ERROR;
	if (x86_vm_setup(&m->vm, &err)) {
		fail(why, "%s", err.msg);
		goto out;
	}
	if (add_platform(m, c)) {
		fail(why, "cannot register legacy devices");
		goto out;
	}
	phase_done(start_ns, "VM created");
	int r = snap ? 0 : load_guest(m, c, &k, &kr, cmdline, c->initrd ? &ir : NULL, o.n > 0,
				   &err, why);
	if (r) {
		status = r;
		goto out;
	}
	phase_done(start_ns, snap ? "nothing to load" : "kernel and initrd loaded");
	reader_close(&kr);
	reader_close(&ir);
	if (add_pci_devices(m, &o, &err)) {
		fail(why, "%s", err.msg);
		goto out;
	}
	if (snap && snapshot_restore_devices(snap, &m->vm, &err)) {
		fail(why, "%s", err.msg);
		status = EXIT_USAGE;
		goto out;
	}
	/* A VM whose every device can be saved may be snapshot: the main
	 * thread's filter lets it read KVM's state and write the files. */
	if (snapshot_possible(&m->vm) && seccomp_main_allow(&snapshot_main_seccomp)) {
		fail(why, "too many seccomp allow lists");
		goto out;
	}
	m->vcpus_created = true;
	if (vcpus_create(&m->vm, &err) || (!snap && x86_vcpus_setup(&m->vm, &k, &err))) {
		fail(why, "%s", err.msg);
		goto out;
	}
	/* A snapshot's vCPUs get their state before any device runs: an
	 * interrupt a device raises as it starts (each queue is kicked once)
	 * then lands in the restored local APIC, not in one KVM_SET_LAPIC
	 * would overwrite. */
	if (snap && snapshot_restore_vcpus(snap, &m->vm, &err)) {
		fail(why, "%s", err.msg);
		status = EXIT_USAGE;
		goto out;
	}
	/* A clone is told it is one: a new VM generation ID, and its
	 * interrupt waiting in the restored IOAPIC and local APICs. */
	if (snap && vmgenid_renew(&m->vm, &err)) {
		fail(why, "%s", err.msg);
		goto out;
	}
	phase_done(start_ns, "vCPUs created");
	err.msg[0] = '\0';
	if (device_list_seccomp(&m->vm.devices, &err) || device_list_start(&m->vm.devices, &err)) {
		fail(why, "%s", err.msg[0] ? err.msg : "a device did not start");
		goto out;
	}
	phase_done(start_ns, "devices started");
	if ((console_raw(&m->con), vcpus_start(&m->vm, &err))) {
		fail(why, "%s", err.msg);
		vm_request_stop(&m->vm, EXIT_VM_ERROR);
	} else if (vcpus_wait_ready(&m->vm) || seccomp_thread_install(SECCOMP_MAIN)) {
		/* Every other thread exists and has its filter: the main thread,
		 * whose filter they must not inherit, installs its own last. */
		vm_request_stop(&m->vm, EXIT_VM_ERROR);
	} else {
		phase_done(start_ns, "vCPUs running");
	}
	status = 0;
out:
	opened_destroy(&o);
	reader_close(&kr);
	reader_close(&ir);
	return status;
}

void machine_destroy(struct machine *m)
{
	if (m->vcpus_created)
		vcpus_stop(&m->vm);
	if (m->vm_ok)
		vm_destroy(&m->vm); /* its devices first */
	if (m->pci_ok)
		pci_bus_destroy(&m->pci);
	if (m->con_ok)
		console_close(&m->con);
	if (m->room_efd >= 0)
		close(m->room_efd);
}
