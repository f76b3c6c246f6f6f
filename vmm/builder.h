/* builder.h: turn a VM configuration (config.h) into a running VM: load the
 * kernel and initrd, open every device's host resources (bad ones are bad
 * input, found before there is a VM), create the VM and its x86 set-up,
 * place the boot structures and ACPI tables, create the devices and hand
 * them to the VM, then the vCPUs, and start it all with every thread under
 * its seccomp filter.
 *
 *	struct machine m;
 *	int status = machine_build(&m, &cfg, start_ns, "ember started", &why);
 *	if (status == 0) status = <wait for the VM to stop>;
 *	machine_destroy(&m);
 */
#ifndef EMBER_BUILDER_H
#define EMBER_BUILDER_H

#include "vmm/config.h"
#include "vmm/console.h"
#include "vmm/core/vm.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/serial.h"
#include "vmm/pci/pci.h"

struct snapshot_in;

struct machine {
	struct vm vm;
	bool vm_ok;
	struct pci_windows pci_win;  /* what PCI0's _CRS says */
	struct pci_bus pci;          /* bus 0, conf1 ports 0xCF8-0xCFF */
	bool pci_ok;
	struct console con;
	bool con_ok;
	struct serial *com1;         /* the console's UART */
	int room_efd;                /* com1's receive FIFO has room again */
	struct i8042 *i8042;         /* the keyboard controller (Ctrl+Alt+Del) */
	bool vcpus_created;
};

/* Build and start the VM described by c (with snap, restore it from that
 * snapshot, whose configuration c is, instead of booting: no kernel is
 * loaded, guest RAM is the memory file, and the devices' and vCPUs' state
 * is the snapshot's; a snapshot unlike the VM is EXIT_USAGE); --boot-time reports the guest's
 * userspace start relative to start_ns, which is start_what ("ember started",
 * "InstanceStart"). 0 when
 * the guest runs; otherwise the exit status (EXIT_USAGE for bad input,
 * EXIT_VM_ERROR for a failure), with one error line logged and kept in why.
 * Either way machine_destroy() cleans up. */
int machine_build(struct machine *m, const struct vm_config *c, uint64_t start_ns,
		  const char *start_what, const struct snapshot_in *snap, struct errbuf *why);
/* Stop the vCPUs, destroy the devices, the VM and the console. */
void machine_destroy(struct machine *m);

#endif
