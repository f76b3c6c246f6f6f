/* legacy.h: the legacy platform devices ember emulates, the ports they use,
 * and how each joins a VM: its create function registers its ports (or MMIO
 * range) and hands the device to the VM (vm_add_device). */
#ifndef EMBER_LEGACY_H
#define EMBER_LEGACY_H

#include "vmm/core/vm.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/serial.h"

#define EXIT_PORT 0x501      /* 1-byte write of N: the VM ends, ember exits N */
#define BOOT_TIME_PORT 0x3f0 /* write of 123: guest userspace has started */
#define BOOT_TIME_MAGIC 123

/* Each: 0, or -1 (ports taken, or the device list full). */
int exit_ports_create(struct vm *vm); /* EXIT_PORT and BOOT_TIME_PORT */
int acpi_pm_create(struct vm *vm);    /* ACPI sleep control and reset */
/* The keyboard controller at 0x60/0x64, IRQ 1 (i8042.h), or NULL. */
struct i8042 *i8042_create(struct vm *vm);
/* The split IRQ chip's IOAPIC at LAYOUT_IOAPIC: vm_irq_line() raises its
 * pins and KVM_EXIT_IOAPIC_EOI reaches it. Not with KVM's whole IRQ chip. */
int ioapic_create(struct vm *vm);
/* COM1 (port 0x3f8, IRQ 4), writing to out_fd (-1: dropped); room_efd (or -1)
 * is signalled when its receive FIFO has room again. Returns the UART, which
 * the console feeds (serial_receive), or NULL. */
struct serial *com1_create(struct vm *vm, int out_fd, int room_efd);

#endif
