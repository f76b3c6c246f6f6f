/* acpi.h: the ACPI tables ember gives the guest (RSDP, XSDT, FADT, MADT, DSDT).
 * The DSDT also names the VM generation ID at LAYOUT_VMGENID and the Generic
 * Event Device whose interrupt tells the guest it changed.
 * Hardware-reduced ACPI: no PM timer or SCI; power-off goes through the FADT
 * sleep control register and reboot through the FADT reset register, both
 * I/O ports that ember handles (see power.c). */
#ifndef EMBER_ACPI_H
#define EMBER_ACPI_H

#include <stdbool.h>
#include <stdint.h>
#include "vmm/core/guest_mem.h"
#include "vmm/pci/pci.h"

/* I/O ports named in the FADT. */
#define ACPI_SLEEP_CONTROL_PORT 0x600
#define ACPI_SLEEP_STATUS_PORT 0x601
#define ACPI_RESET_PORT 0x602
#define ACPI_RESET_VALUE 0x01
/* The sleep type ember's DSDT gives S5 (soft off), and the SLP_EN bit. */
#define ACPI_S5_SLEEP_TYPE 5
#define ACPI_SLEEP_TYPE(v) (((v) >> 2) & 7)
#define ACPI_SLEEP_ENABLE 0x20

/* The ISA IRQs the MADT routes (identity) to the IOAPIC: the serial
 * console's, and the keyboard controller's (whose ports the DSDT names). */
#define ACPI_SERIAL_IRQ 4
#define ACPI_I8042_IRQ 1
#define ACPI_I8042_DATA_PORT 0x60
#define ACPI_I8042_CMD_PORT 0x64
/* The Generic Event Device's interrupt (edge, active high): a pin beyond the
 * ISA IRQs that nothing else uses (the PCI devices interrupt through MSI-X).
 * Its _EVT notifies the VM generation ID device VGEN (vmgenid.h). */
#define ACPI_GED_GSI 16

/* Write the tables for ncpus vCPUs, with PCI0's windows from pci (NULL:
 * pci_default_windows for gm's layout); pci_root: the DSDT has PCI0 at all
 * (false for a VM with no PCI device: its guest then scans no PCI bus, which
 * costs a booting Linux ~30 ms of config-space exits in the lab, and finds
 * only the host bridge); legacy_pic: the MADT says there are 8259 PICs
 * (KVM's whole IRQ chip). Returns the RSDP address, 0 on failure. */
uint64_t acpi_build(const struct guest_mem *gm, unsigned ncpus, const struct pci_windows *pci,
		    bool pci_root, bool legacy_pic);

/* ACPI table checksum: the byte that makes the sum of len bytes zero. */
uint8_t acpi_checksum(const void *p, size_t len);

#endif
