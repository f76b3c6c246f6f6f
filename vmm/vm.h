/* vm.h: one virtual machine: the KVM handles, guest memory, buses, vCPUs,
 * and how it stops (who asked, and with which exit status). */
#ifndef EMBER_VM_H
#define EMBER_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "guest_mem.h"
#include "ioapic.h"
#include "mmio.h"
#include "msix.h"
#include "pci.h"
#include "pio.h"

struct vm;

/* KVM memory slots: 0 low RAM, 1 high RAM; devices' from here up. */
#define VM_FIRST_DEVICE_SLOT 8

struct vcpu {
	struct vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool started;
};

struct vm {
	int kvm_fd, vm_fd;
	struct guest_mem mem;
	struct pio_bus pio;
	struct mmio_bus mmio;        /* KVM_EXIT_MMIO: PCI BARs */
	struct gsi_routes routes;    /* MSI routes for irqfds */
	bool kernel_irqchip;         /* KVM's IOAPIC, PIC and PIT; else split */
	struct ioapic ioapic;        /* ember's IOAPIC (split IRQ chip only) */
	struct pci_windows pci_win;  /* what PCI0's _CRS says */
	struct pci_bus pci;          /* bus 0, conf1 ports 0xCF8-0xCFF on pio */
	bool buses_ok;
	unsigned ncpus;
	struct vcpu *vcpus;
	struct kvm_cpuid2 *supported_cpuid;
	uint64_t start_ns;     /* ember's own start, for the boot-time port */
	bool report_boot_time;
	/* stopping */
	atomic_bool stop_claimed; /* the first vm_request_stop() won */
	atomic_bool stopping;     /* set after exit_status holds its value */
	int exit_status;
	int stop_efd;          /* eventfd the main thread waits on */
};

/* Open /dev/kvm and create the VM with its interrupt controllers (KVM's split
 * IRQ chip and ember's IOAPIC; with kernel_irqchip, KVM's IOAPIC, PIC and
 * PIT), guest RAM of mem bytes, the MMIO bus, GSI routing and PCI bus 0.
 * Returns 0, or -1 with err set. */
int vm_create(struct vm *vm, uint64_t mem, unsigned ncpus, bool kernel_irqchip,
	      struct errbuf *err);
void vm_destroy(struct vm *vm);

/* Assert or deassert an IOAPIC interrupt line (GSI 0-23). */
void vm_irq_line(struct vm *vm, unsigned gsi, bool level);

/* Ask the VM to stop with this status; the first request wins. */
void vm_request_stop(struct vm *vm, int status);

#endif
