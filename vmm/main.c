/* main.c: ember's entry point: read the options, build the VM, run it until
 * the guest or a signal ends it, and exit with the guest's status. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "acpi.h"
#include "../virtio/blk_pci.h"
#include "../virtio/net_pci.h"
#include "boot_info.h"
#include "cli.h"
#include "cmdline.h"
#include "console.h"
#include "devices.h"
#include "kernel_image.h"
#include "seccomp.h"
#include "vfio_pci.h"
#include "serial.h"
#include "vcpu.h"
#include "vm.h"
#include "x86_boot.h"

#ifndef EMBER_VERSION
#define EMBER_VERSION "0.1.0"
#endif

static struct serial com1;
static struct blk_pci disks[CLI_MAX_DISKS];
static unsigned ndisks;
static struct net_pci nets[CLI_MAX_NETS];
static unsigned nnets;
static struct vfio_pci vfios[CLI_MAX_VFIO];
_Static_assert(CLI_MAX_VFIO <= SECCOMP_MAX_VFIO_FDS, "the vCPU filter has room for every --vfio");
static unsigned nvfios;

static void devices_destroy(void)
{
	for (unsigned i = 0; i < ndisks; i++)
		blk_pci_destroy(&disks[i]);
	ndisks = 0;
	for (unsigned i = 0; i < nnets; i++)
		net_pci_destroy(&nets[i]);
	nnets = 0;
	for (unsigned i = 0; i < nvfios; i++)
		vfio_pci_destroy(&vfios[i]);
	nvfios = 0;
}

/* SIGUSR1: per NIC, one JSON line of counters and one of queue state on
 * stderr; per passed-through device, one line of its state and exits. */
static void dump_device_stats(void)
{
	static char line[8192];
	for (unsigned i = 0; i < nnets; i++) {
		net_pci_stats_json(&nets[i], line, sizeof(line));
		fprintf(stderr, "%s\n", line);
		net_pci_queues_json(&nets[i], line, sizeof(line));
		fprintf(stderr, "%s\n", line);
	}
	for (unsigned i = 0; i < nvfios; i++) {
		vfio_pci_stats_json(&vfios[i], i, line, sizeof(line));
		fprintf(stderr, "%s\n", line);
	}
	fflush(stderr);
}

static void com1_io(void *opaque, uint16_t port, uint8_t *data, unsigned size, bool write)
{
	(void)opaque, (void)size;
	serial_io(&com1, port - SERIAL_COM1_PORT, data, write);
}

static void com1_irq(void *ctx, bool level)
{
	vm_irq_line(ctx, SERIAL_COM1_IRQ, level);
}

static int load_file(const char *what, const char *path, uint8_t **buf, size_t *len)
{
	int r = read_file(path, buf, len);
	if (r < 0) {
		log_error("cannot read %s '%s': %s", what, path, strerror(-r));
		return -1;
	}
	return 0;
}

static int check_host_memory(uint64_t bytes)
{
	struct sysinfo si;
	if (sysinfo(&si) == 0) {
		uint64_t total = (uint64_t)si.totalram * si.mem_unit;
		if (bytes > total) {
			log_error("--mem %llu MiB is more than this host's %llu MiB of RAM",
				  (unsigned long long)(bytes >> 20), (unsigned long long)(total >> 20));
			return -1;
		}
	}
	return 0;
}

/* Wait for the VM to stop, feeding console input to the UART meanwhile.
 * Returns the exit status. */
static int run_loop(struct vm *vm, struct console *con, int sig_fd, int room_efd)
{
	bool input_open = con->in_fd >= 0;
	for (;;) {
		struct pollfd p[4] = {
			{vm->stop_efd, POLLIN, 0}, {sig_fd, POLLIN, 0}, {room_efd, POLLIN, 0},
			{-1, POLLIN, 0},
		};
		if (input_open && serial_rx_room(&com1) > 0)
			p[3].fd = con->in_fd;
		if (poll(p, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			vm_request_stop(vm, EXIT_VM_ERROR);
		}
		if (atomic_load(&vm->stopping))
			return vm->exit_status;
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sig_fd, &si, sizeof(si)) != sizeof(si)) {
				/* nothing read: poll again */
			} else if (si.ssi_signo == SIGUSR1) {
				dump_device_stats();
			} else {
				vm_request_stop(vm, 128 + (int)si.ssi_signo);
				return vm->exit_status;
			}
		}
		if (p[2].revents & POLLIN) {
			uint64_t n;
			ssize_t r = read(room_efd, &n, sizeof(n));
			(void)r;
		}
		if (p[3].revents & (POLLIN | POLLHUP | POLLERR)) {
			uint8_t buf[SERIAL_RX_FIFO];
			size_t room = serial_rx_room(&com1);
			ssize_t n = read(con->in_fd, buf, room < sizeof(buf) ? room : sizeof(buf));
			if (n > 0)
				serial_receive(&com1, buf, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				input_open = false; /* end of input: the guest just sees no more */
		}
	}
}

int main(int argc, char **argv)
{
	uint64_t start_ns = now_ns();
	struct ember_opts o;
	struct errbuf err;
	if (cli_parse(argc, argv, &o, &err)) {
		log_error("%s", err.msg);
		return EXIT_USAGE;
	}
	if (o.help) {
		cli_usage(stdout);
		return 0;
	}
	if (o.version) {
		printf("ember %s\n", EMBER_VERSION);
		return 0;
	}

	uint8_t *kbuf, *ibuf = NULL;
	size_t klen, ilen = 0;
	struct kernel_image k;
	if (load_file("kernel", o.kernel, &kbuf, &klen))
		return EXIT_USAGE;
	if (kernel_parse(kbuf, klen, &k, &err)) {
		log_error("kernel '%s': %s", o.kernel, err.msg);
		return EXIT_USAGE;
	}
	if (o.initrd && load_file("initrd", o.initrd, &ibuf, &ilen))
		return EXIT_USAGE;
	uint64_t mem = MiB(o.mem_mib);
	if (check_host_memory(mem))
		return EXIT_USAGE;
	static char cmdline[LAYOUT_CMDLINE_MAX];
	if (cmdline_build(CMDLINE_DEFAULT, o.cmdline, o.guest_argv, o.guest_argc, cmdline,
			  sizeof(cmdline), &err)) {
		log_error("%s", err.msg);
		return EXIT_USAGE;
	}
	/* Disks are opened (and locked) before there is a VM, so a bad one is
	 * bad input even on a host without KVM. */
	for (unsigned i = 0; i < o.ndisks; i++) {
		ndisks = i + 1;
		if (blk_pci_open(&disks[i], &o.disks[i], &err)) {
			log_error("%s", err.msg);
			devices_destroy();
			return EXIT_USAGE;
		}
	}
	/* TAPs too: a missing or busy one is bad input. */
	for (unsigned i = 0; i < o.nnets; i++) {
		nnets = i + 1;
		if (net_pci_open(&nets[i], &o.nets[i], i, &err)) {
			log_error("%s", err.msg);
			devices_destroy();
			return EXIT_USAGE;
		}
	}
	/* Passed-through devices too: a missing or unbound one is bad input. */
	for (unsigned i = 0; i < o.nvfio; i++) {
		nvfios = i + 1;
		if (vfio_pci_open(&vfios[i], o.vfio[i], &err)) {
			log_error("%s", err.msg);
			devices_destroy();
			return EXIT_USAGE;
		}
		seccomp_allow_vfio_fd(vfios[i].dev.fd);
	}
	struct console con;
	if (console_open(&con, o.console, o.console_path, &err)) {
		log_error("%s", err.msg);
		devices_destroy();
		return EXIT_USAGE;
	}
	if (o.seccomp_off)
		log_warn("--seccomp off: ember's threads run without seccomp filters (debugging only)");
	if (seccomp_setup(!o.seccomp_off, &err)) {
		log_error("%s", err.msg);
		devices_destroy();
		console_close(&con);
		return EXIT_VM_ERROR;
	}

	/* Signals: the main thread takes SIGTERM/SIGINT/SIGHUP through a signalfd;
	 * every thread starts with them (and the vCPU kick) blocked. */
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGUSR1);
	int sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	struct vm vm;
	int status = EXIT_USAGE;
	if (vm_create(&vm, mem, o.cpus, o.kernel_irqchip, &err))
		goto fail;
	vm.start_ns = start_ns;
	vm.report_boot_time = o.boot_time;
	status = EXIT_VM_ERROR;
	if (kernel_load(&k, &vm.mem, &err)) {
		log_error("kernel '%s': %s", o.kernel, err.msg);
		status = EXIT_USAGE;
		goto out;
	}
	uint64_t rsdp = acpi_build(&vm.mem, o.cpus, &vm.pci_win, o.kernel_irqchip);
	struct boot_request req = {.cmdline = cmdline, .initrd = ibuf, .initrd_len = ilen,
				   .rsdp = rsdp};
	if (!rsdp || boot_info_write(&k, &vm.mem, &req, &err) ||
	    x86_boot_tables(&vm.mem, k.kind)) {
		log_error("%s", rsdp ? err.msg : "no room for ACPI tables");
		status = EXIT_USAGE;
		goto out;
	}
	free(ibuf);
	ibuf = NULL;

	int room_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	serial_init(&com1, con.out_fd, com1_irq, &vm, room_efd);
	if (pio_register(&vm.pio, SERIAL_COM1_PORT, 8, com1_io, NULL) ||
	    exit_ports_register(&vm) || i8042_register(&vm) || acpi_pm_register(&vm)) {
		log_error("cannot register legacy devices");
		goto out;
	}
	for (unsigned i = 0; i < ndisks; i++) {
		struct blk_pci *d = &disks[i];
		err.msg[0] = '\0';
		if (blk_pci_create(d, o.cpus, &vm.mem, &vm.routes, vm.vm_fd, &err) ||
		    pci_bus_add_device(&vm.pci, &d->vp.pci) < 0 || blk_pci_start(d, &err)) {
			log_error("%s", err.msg[0] ? err.msg : "--disk: no room on the PCI bus");
			goto out;
		}
	}
	for (unsigned i = 0; i < nnets; i++) {
		struct net_pci *d = &nets[i];
		err.msg[0] = '\0';
		if (net_pci_create(d, &vm.mem, &vm.routes, vm.vm_fd, &err) ||
		    pci_bus_add_device(&vm.pci, &d->vp.pci) < 0 || net_pci_start(d, &err)) {
			log_error("%s", err.msg[0] ? err.msg : "--net: no room on the PCI bus");
			goto out;
		}
	}
	for (unsigned i = 0; i < nvfios; i++) {
		struct vfio_pci *d = &vfios[i];
		err.msg[0] = '\0';
		uint32_t slots = VM_FIRST_DEVICE_SLOT + i * VFIO_PCI_SLOTS;
		if (vfio_pci_create(d, &vm.mem, &vm.routes, vm.vm_fd, slots, &err) ||
		    pci_bus_add_device(&vm.pci, &d->pci) < 0) {
			log_error("%s", err.msg[0] ? err.msg : "--vfio: no room on the PCI bus");
			goto out;
		}
	}
	if (vcpus_create(&vm, &k, &err) || (console_raw(&con), vcpus_start(&vm, &err))) {
		log_error("%s", err.msg);
		vm_request_stop(&vm, EXIT_VM_ERROR);
	} else if (vcpus_wait_ready(&vm) || seccomp_thread_install(SECCOMP_MAIN)) {
		/* Every other thread exists and has its filter: the main thread,
		 * whose filter they must not inherit, installs its own last. */
		vm_request_stop(&vm, EXIT_VM_ERROR);
	}
#ifdef EMBER_TEST_HOOKS
	/* Test builds only: EMBER_TEST_FORBIDDEN=main makes the main thread try
	 * to start a process, which its filter forbids. */
	const char *hook = getenv("EMBER_TEST_FORBIDDEN");
	if (hook && strcmp(hook, "main") == 0 && fork() == 0)
		_exit(0);
#endif
	vcpus_go(&vm);
	status = run_loop(&vm, &con, sig_fd, room_efd);
	vcpus_stop(&vm);
	free(kbuf);
out:
	devices_destroy();
	console_close(&con);
	vm_destroy(&vm);
	return status;
fail:
	log_error("%s", err.msg);
	devices_destroy();
	console_close(&con);
	vm_destroy(&vm);
	return status;
}
