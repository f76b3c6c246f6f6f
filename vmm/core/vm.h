/* vm.h: one virtual machine: the KVM handles, guest memory, the port and MMIO
 * buses, interrupt routes, vCPUs, the devices it owns (device.h), and how it
 * stops (who asked, and with which exit status). What is x86 (TSS, CPUID,
 * boot registers), the PCI bus and the IOAPIC are set up above it
 * (vmm/arch/x86, vmm/pci, vmm/devices) and reach it through the hooks here. */
#ifndef EMBER_VM_H
#define EMBER_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/kvm.h>

#include "vmm/core/device.h"
#include "vmm/core/guest_mem.h"
#include "vmm/core/irq_routes.h"
#include "vmm/core/mmio.h"
#include "vmm/core/pio.h"

struct vm;

/* KVM memory slots: 0 low RAM, 1 high RAM; devices' from here up. */
#define VM_FIRST_DEVICE_SLOT 8

/* vCPU exits counted for the metrics (Firecracker's "vcpu" group). */
enum vcpu_exit_kind {
	VCPU_EXIT_IO_IN, VCPU_EXIT_IO_OUT, VCPU_EXIT_MMIO_READ, VCPU_EXIT_MMIO_WRITE, VCPU_FAILURES,
	VCPU_EXIT_KINDS
};

struct vcpu {
	struct vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool started;
	atomic_ullong kvm_runs;    /* KVM_RUN calls: a paused vCPU makes none */
	uint64_t exits[VCPU_EXIT_KINDS]; /* for the metrics (relaxed atomic adds) */
};

struct vm {
	int kvm_fd, vm_fd;
	struct guest_mem mem;
	struct pio_bus pio;
	struct mmio_bus mmio;        /* KVM_EXIT_MMIO: PCI BARs */
	struct gsi_routes routes;    /* MSI routes for irqfds */
	bool kernel_irqchip;         /* KVM's IOAPIC, PIC and PIT; else split */
	/* The split IRQ chip's userspace IOAPIC (vmm/devices/ioapic.c) sets
	 * these: vm_irq_line() raises its pins, KVM_EXIT_IOAPIC_EOI goes to eoi. */
	void (*irq_set)(void *ctx, unsigned gsi, bool level);
	void (*irq_eoi)(void *ctx, uint8_t vector);
	void *irq_ctx;
	/* The architecture's register dump for a failing vCPU (may be NULL). */
	void (*dump_regs)(int vcpu_fd, unsigned index);
	struct device_list devices;  /* every device, in the order added */
	/* vCPU run control (vcpu.c), under run_lock: the start gate (each
	 * thread installs its filter, then waits for vcpus_go) and pausing
	 * (a paused vCPU parks outside KVM_RUN until resumed). */
	pthread_mutex_t run_lock;
	pthread_cond_t run_cond;     /* CLOCK_MONOTONIC */
	bool run_ok;
	unsigned gate_started, gate_ready, gate_failed;
	bool gate_open;
	bool pause_req;              /* vCPUs: park */
	unsigned parked;
	bool paused;                 /* vm_pause() done, vm_resume() not yet */
	uint64_t pauses;             /* vm_pause() calls that paused */
	bool buses_ok;
	unsigned ncpus;
	struct vcpu *vcpus;
	struct kvm_cpuid2 *supported_cpuid;
	uint64_t start_ns;     /* ember's own start, for the boot-time port */
	bool report_boot_time;
	const char *start_what; /* what start_ns is: "ember started", "InstanceStart" */
	/* stopping */
	atomic_bool stop_claimed; /* the first vm_request_stop() won */
	atomic_bool stopping;     /* set after exit_status holds its value */
	int exit_status;
	int stop_efd;          /* eventfd the main thread waits on */
};

/* Open /dev/kvm and create the VM with KVM's part of the interrupt
 * controllers (the split IRQ chip: local APICs; with kernel_irqchip, also
 * its IOAPIC, PIC and PIT), guest RAM of mem bytes (new, or with mem_fd >= 0
 * a snapshot's memory file of that size mapped privately), the MMIO bus and
 * GSI routing. Returns 0, or -1 with err set. */
int vm_create(struct vm *vm, uint64_t mem, unsigned ncpus, bool kernel_irqchip, int mem_fd,
	      struct errbuf *err);
/* Destroy the devices (last added first), then the VM. */
void vm_destroy(struct vm *vm);

/* Hand d to the VM (it destroys it). 0, or -1 when the list is full. */
int vm_add_device(struct vm *vm, struct device *d);

/* Pause the VM: every vCPU out of KVM_RUN and parked (KVM_KVMCLOCK_CTRL
 * tells the guest, so its watchdogs do not take the pause for a lock-up),
 * then every device quiesced (device.h). A second call does nothing. -1,
 * with the reason logged, when the vCPUs or a device did not stop within
 * 1 s: the pause is then undone and the VM runs on. Main thread. */
int vm_pause(struct vm *vm);
/* The devices resumed (each queue kicked once), then the vCPUs. */
void vm_resume(struct vm *vm);
/* One JSON line (newline-terminated): running or paused, how often it was
 * paused, and each vCPU's KVM_RUN count. */
void vm_stats(struct vm *vm, FILE *out);
/* The metrics' "vcpu" group: every vCPU's exits summed, in slot. */
void vm_metrics(struct vm *vm, struct metrics_sample *s, unsigned slot);

/* Assert or deassert an IOAPIC interrupt line (GSI 0-23). */
void vm_irq_line(struct vm *vm, unsigned gsi, bool level);

/* Ask the VM to stop with this status; the first request wins. */
void vm_request_stop(struct vm *vm, int status);

#endif
