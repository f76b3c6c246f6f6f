/* acpi.c: build the guest's ACPI tables in the BIOS area below 1 MiB.
 * ACPI has no uapi header, so the table layouts (ACPI 6.x) are declared here. */
#include <string.h>

#include "vmm/arch/x86/acpi.h"
#include "vmm/arch/x86/aml.h"
#include "vmm/arch/x86/layout.h"

struct __attribute__((packed)) acpi_gas {
	uint8_t space_id; /* 1: system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size; /* 1: byte */
	uint64_t address;
};

struct __attribute__((packed)) acpi_rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum;
	uint8_t reserved[3];
};

struct __attribute__((packed)) acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
};

struct __attribute__((packed)) acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl, dsdt;
	uint8_t reserved0, preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk, pm2_cnt_blk, pm_tmr_blk;
	uint32_t gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len, gpe0_blk_len, gpe1_blk_len;
	uint8_t gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl, x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control, sleep_status;
	uint64_t hypervisor_vendor_id;
};

struct __attribute__((packed)) madt_lapic {
	uint8_t type, length, processor_id, apic_id;
	uint32_t flags;
};

struct __attribute__((packed)) madt_ioapic {
	uint8_t type, length, id, reserved;
	uint32_t address, gsi_base;
};

struct __attribute__((packed)) madt_iso {
	uint8_t type, length, bus, source;
	uint32_t gsi;
	uint16_t flags;
};

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header layout");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT layout");

#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)
#define FADT_BOOT_VGA_NOT_PRESENT (1u << 2)
#define FADT_BOOT_CMOS_RTC_NOT_PRESENT (1u << 5)
#define MADT_PCAT_COMPAT 1u

/* DSDT body (AML), built with aml.h:
 *   Name (_S5_, Package (4) { 5, 0, 0, 0 })      -- S5 sleep type for power-off
 *   Scope (\_SB) {
 *     Device (COM1) { _HID PNP0501, _UID 0,         -- the console UART, so Linux
 *       _CRS { IO 0x3F8 len 8, IRQNoFlags {4} } }   --   maps its IRQ (no legacy PIC)
 *     Device (PS2K) { _HID PNP0303,                 -- the keyboard controller, so
 *       _CRS { IO 0x60, IO 0x64, IRQNoFlags {1} } } --   Linux's i8042 driver binds
 *     Device (PCI0) { ... }                        -- PCI bus 0 (aml_pci_root) with
 *                                                   --   the windows BARs come from;
 *                                                   --   only when the VM has PCI
 *                                                   --   devices (see acpi.h)
 *     Device (VGEN) { _HID VMGENCTR, ADDR }         -- the VM generation ID
 *     Device (GED0) { _HID ACPI0013, _CRS, _EVT }   -- its interrupt: Notify (VGEN)
 *   }
 * Returns 0, or -1 when out of memory. */
static int dsdt_body(struct aml *a, const struct pci_windows *w, bool pci_root)
{
	aml_init(a);
	aml_s5(a, ACPI_S5_SLEEP_TYPE);
	size_t sb = aml_scope_begin(a, "\\_SB_");
	aml_serial_device(a, "COM1", 0, 0x3f8, ACPI_SERIAL_IRQ);
	aml_ps2_keyboard(a, "PS2K", ACPI_I8042_DATA_PORT, ACPI_I8042_CMD_PORT, ACPI_I8042_IRQ);
	if (pci_root) {
		struct aml_pci_root root = {
			.name = "PCI0", .bus_first = 0, .bus_last = 0,
			.mem32_base = w->mem32_base, .mem32_len = w->mem32_end - w->mem32_base,
			.mem64_base = w->mem64_base,
			.mem64_len = w->mem64_end > w->mem64_base ? w->mem64_end - w->mem64_base : 0,
		};
		aml_pci_root(a, &root);
	}
	aml_vmgenid_device(a, "VGEN", LAYOUT_VMGENID);
	aml_ged_device(a, "GED0", ACPI_GED_GSI, "\\_SB_.VGEN", 0x80);
	aml_end(a, sb);
	return a->oom ? -1 : 0;
}

uint8_t acpi_checksum(const void *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + ((const uint8_t *)p)[i]);
	return (uint8_t)(0 - sum);
}

static void header_init(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, "EMBER ", 6);
	memcpy(h->oem_table_id, "EMBERVM ", 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, "EMBR", 4);
	h->creator_revision = 1;
}

static struct acpi_gas io_gas(uint16_t port)
{
	return (struct acpi_gas){.space_id = 1, .bit_width = 8, .access_size = 1, .address = port};
}

/* Reserve len bytes at *cursor (8-aligned) and return a host pointer to them. */
static void *place(const struct guest_mem *gm, uint64_t *cursor, size_t len, uint64_t *gpa)
{
	*gpa = ALIGN_UP(*cursor, 8);
	if (*gpa + len > LAYOUT_VMGENID)
		return NULL;
	*cursor = *gpa + len;
	void *p = gm_ptr(gm, *gpa, len);
	if (p)
		memset(p, 0, len);
	return p;
}

uint64_t acpi_build(const struct guest_mem *gm, unsigned ncpus, const struct pci_windows *pci,
		    bool pci_root, bool legacy_pic)
{
	struct pci_windows defwin;
	if (!pci) {
		pci_default_windows(&gm->layout, &defwin);
		pci = &defwin;
	}
	struct aml body;
	if (dsdt_body(&body, pci, pci_root)) {
		aml_free(&body);
		return 0;
	}
	uint64_t cur = LAYOUT_ACPI, rsdp_gpa, xsdt_gpa, fadt_gpa, madt_gpa, dsdt_gpa;
	struct acpi_rsdp *rsdp = place(gm, &cur, sizeof(*rsdp), &rsdp_gpa);
	size_t xsdt_len = sizeof(struct acpi_header) + 2 * sizeof(uint64_t);
	struct acpi_header *xsdt = place(gm, &cur, xsdt_len, &xsdt_gpa);
	struct acpi_fadt *fadt = place(gm, &cur, sizeof(*fadt), &fadt_gpa);
	size_t dsdt_len = sizeof(struct acpi_header) + body.len;
	struct acpi_header *dsdt = place(gm, &cur, dsdt_len, &dsdt_gpa);
	size_t madt_len = sizeof(struct acpi_header) + 8 + ncpus * sizeof(struct madt_lapic) +
			  sizeof(struct madt_ioapic) + 2 * sizeof(struct madt_iso);
	struct acpi_header *madt = place(gm, &cur, madt_len, &madt_gpa);
	if (!rsdp || !xsdt || !fadt || !dsdt || !madt) {
		aml_free(&body);
		return 0;
	}

	/* DSDT */
	header_init(dsdt, "DSDT", (uint32_t)dsdt_len, 2);
	memcpy(dsdt + 1, body.buf, body.len);
	aml_free(&body);
	dsdt->checksum = acpi_checksum(dsdt, dsdt_len);

	/* MADT: one local APIC per vCPU (APIC id = index), one IOAPIC, and an
	 * interrupt source override for the serial and the keyboard IRQs:
	 * hardware-reduced ACPI has no legacy PIC, so Linux maps an ISA IRQ
	 * only when the MADT names it. */
	header_init(madt, "APIC", (uint32_t)madt_len, 6);
	uint8_t *m = (uint8_t *)(madt + 1);
	uint32_t lapic_addr = (uint32_t)LAYOUT_LAPIC, flags = legacy_pic ? MADT_PCAT_COMPAT : 0;
	memcpy(m, &lapic_addr, 4);
	memcpy(m + 4, &flags, 4);
	m += 8;
	for (unsigned i = 0; i < ncpus; i++) {
		struct madt_lapic la = {0, sizeof(la), (uint8_t)i, (uint8_t)i, 1};
		memcpy(m, &la, sizeof(la));
		m += sizeof(la);
	}
	struct madt_ioapic io = {1, sizeof(io), (uint8_t)ncpus, 0, (uint32_t)LAYOUT_IOAPIC, 0};
	memcpy(m, &io, sizeof(io));
	m += sizeof(io);
	static const uint8_t isa_irqs[] = {ACPI_SERIAL_IRQ, ACPI_I8042_IRQ};
	for (unsigned i = 0; i < 2; i++) {
		struct madt_iso iso = {2, sizeof(iso), 0, isa_irqs[i], isa_irqs[i], 0};
		memcpy(m, &iso, sizeof(iso));
		m += sizeof(iso);
	}
	madt->checksum = acpi_checksum(madt, madt_len);

	/* FADT */
	header_init(&fadt->h, "FACP", sizeof(*fadt), 6);
	fadt->minor_version = 5;
	fadt->flags = FADT_F_HW_REDUCED_ACPI | FADT_F_RESET_REG_SUP;
	fadt->iapc_boot_arch = FADT_BOOT_VGA_NOT_PRESENT | FADT_BOOT_CMOS_RTC_NOT_PRESENT;
	fadt->reset_reg = io_gas(ACPI_RESET_PORT);
	fadt->reset_value = ACPI_RESET_VALUE;
	fadt->dsdt = (uint32_t)dsdt_gpa;
	fadt->x_dsdt = dsdt_gpa;
	fadt->sleep_control = io_gas(ACPI_SLEEP_CONTROL_PORT);
	fadt->sleep_status = io_gas(ACPI_SLEEP_STATUS_PORT);
	memcpy(&fadt->hypervisor_vendor_id, "EMBERVMM", 8);
	fadt->h.checksum = acpi_checksum(fadt, sizeof(*fadt));

	/* XSDT */
	header_init(xsdt, "XSDT", (uint32_t)xsdt_len, 1);
	uint64_t entries[2] = {fadt_gpa, madt_gpa};
	memcpy(xsdt + 1, entries, sizeof(entries));
	xsdt->checksum = acpi_checksum(xsdt, xsdt_len);

	/* RSDP */
	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, "EMBER ", 6);
	rsdp->revision = 2;
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt_address = xsdt_gpa;
	rsdp->checksum = acpi_checksum(rsdp, 20);
	rsdp->extended_checksum = acpi_checksum(rsdp, sizeof(*rsdp));
	return rsdp_gpa;
}
