/* test_acpi.c: the ACPI tables acpi.c builds (RSDP, XSDT, FADT, DSDT, MADT)
 * for 1, 2 and 254 vCPUs in a gm_wrap'd guest: signatures, lengths and
 * checksums, the XSDT's pointers, one enabled local APIC per vCPU plus the
 * IOAPIC in the MADT, the hardware-reduced FADT with its sleep control and
 * reset registers, and the DSDT's _S5_ object, COM1 and PCI0, the VM
 * generation ID device (ADDR returns LAYOUT_VMGENID) and the Generic Event
 * Device (edge interrupt on ACPI_GED_GSI, _EVT notifying \_SB.VGEN); every
 * table ends below the ID's page. */
#include <stdlib.h>
#include <string.h>

#include "vmm/arch/x86/acpi.h"
#include "tests/unit/check.h"
#include "vmm/core/guest_mem.h"
#include "vmm/arch/x86/layout.h"

#define RAM MiB(32)

static uint8_t *ram;
static struct guest_mem gm;

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;
	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

/* Host pointer to a whole table at gpa with signature sig (NULL on failure). */
static const uint8_t *table(uint64_t gpa, const char *sig)
{
	const uint8_t *h = gm_ptr(&gm, gpa, 36);
	if (!h || memcmp(h, sig, 4) != 0)
		return NULL;
	uint32_t len = get_le32(h + 4);
	if (len < 36 || gpa + len > LAYOUT_ACPI_END)
		return NULL;
	return gm_ptr(&gm, gpa, len);
}

static void check_tables(unsigned ncpus, bool pci_root, bool legacy_pic)
{
	memset(ram, 0, RAM);
	gm_wrap(&gm, ram, RAM);
	uint64_t rsdp_gpa = acpi_build(&gm, ncpus, NULL, pci_root, legacy_pic);
	CHECK(rsdp_gpa >= LAYOUT_ACPI && rsdp_gpa < LAYOUT_ACPI_END);
	CHECK_EQ(rsdp_gpa % 16, 0); /* the guest scans 16-byte boundaries */

	/* RSDP */
	const uint8_t *rsdp = gm_ptr(&gm, rsdp_gpa, 36);
	CHECK(rsdp != NULL);
	CHECK_MEM_EQ(rsdp, "RSD PTR ", 8);
	CHECK_EQ(rsdp[15], 2);                 /* revision */
	CHECK_EQ(sum(rsdp, 20), 0);            /* ACPI 1.0 checksum */
	CHECK_EQ(get_le32(rsdp + 20), 36);     /* length */
	CHECK_EQ(sum(rsdp, 36), 0);            /* extended checksum */
	uint64_t xsdt_gpa = get_le64(rsdp + 24);

	/* XSDT: FACP and APIC */
	const uint8_t *xsdt = table(xsdt_gpa, "XSDT");
	CHECK(xsdt != NULL);
	uint32_t xlen = get_le32(xsdt + 4);
	CHECK_EQ(sum(xsdt, xlen), 0);
	CHECK_EQ((xlen - 36) % 8, 0);
	uint64_t fadt_gpa = 0, madt_gpa = 0;
	for (uint32_t off = 36; off < xlen; off += 8) {
		uint64_t p = get_le64(xsdt + off);
		const uint8_t *t = gm_ptr(&gm, p, 4);
		CHECK(t != NULL);
		if (memcmp(t, "FACP", 4) == 0)
			fadt_gpa = p;
		else if (memcmp(t, "APIC", 4) == 0)
			madt_gpa = p;
	}
	CHECK(fadt_gpa != 0);
	CHECK(madt_gpa != 0);

	/* FADT */
	const uint8_t *fadt = table(fadt_gpa, "FACP");
	CHECK(fadt != NULL);
	uint32_t flen = get_le32(fadt + 4);
	CHECK_EQ(flen, 276);
	CHECK_EQ(sum(fadt, flen), 0);
	uint32_t flags = get_le32(fadt + 112);
	CHECK(flags & (1u << 20)); /* HW_REDUCED_ACPI */
	CHECK(flags & (1u << 10)); /* RESET_REG_SUP */
	/* RESET_REG (GAS at 116) and RESET_VALUE (128) */
	CHECK_EQ(fadt[116], 1);
	CHECK_EQ(get_le64(fadt + 120), ACPI_RESET_PORT);
	CHECK_EQ(fadt[128], ACPI_RESET_VALUE);
	/* SLEEP_CONTROL_REG (GAS at 244) and SLEEP_STATUS_REG (256): system I/O, 8 bits */
	CHECK_EQ(fadt[244], 1);
	CHECK_EQ(fadt[245], 8);
	CHECK_EQ(get_le64(fadt + 248), ACPI_SLEEP_CONTROL_PORT);
	CHECK_EQ(fadt[256], 1);
	CHECK_EQ(get_le64(fadt + 260), ACPI_SLEEP_STATUS_PORT);
	/* DSDT (32-bit at 40, X_DSDT at 140) */
	uint32_t dsdt32 = get_le32(fadt + 40);
	uint64_t dsdt_gpa = get_le64(fadt + 140);
	CHECK_EQ(dsdt32, dsdt_gpa);
	const uint8_t *dsdt = table(dsdt_gpa, "DSDT");
	CHECK(dsdt != NULL);
	uint32_t dlen = get_le32(dsdt + 4);
	CHECK_EQ(sum(dsdt, dlen), 0);
	const uint8_t *s5 = memmem(dsdt + 36, dlen - 36, "_S5_", 4);
	CHECK(s5 != NULL);
	/* Name(_S5_, Package(){ 0x0a ACPI_S5_SLEEP_TYPE, ... }) */
	const uint8_t *pkg = s5 + 4;
	CHECK(pkg + 6 <= dsdt + dlen);
	CHECK_EQ(pkg[0], 0x12);
	CHECK_EQ(pkg[3], 0x0a);
	CHECK_EQ(pkg[4], ACPI_S5_SLEEP_TYPE);
	/* Scope (\_SB) holds the console UART and, for a VM with PCI devices,
	 * the PCI root bridge (_HID EisaId("PNP0A08")) */
	CHECK(memmem(dsdt + 36, dlen - 36, "_SB_", 4) != NULL);
	CHECK(memmem(dsdt + 36, dlen - 36, "COM1", 4) != NULL);
	CHECK_EQ(memmem(dsdt + 36, dlen - 36, "PCI0", 4) != NULL, pci_root);
	CHECK_EQ(memmem(dsdt + 36, dlen - 36, "\x0c\x41\xd0\x0a\x08", 5) != NULL, pci_root);
	/* and the keyboard controller: _HID EisaId("PNP0303"), ports 0x60 and
	 * 0x64 (IO descriptors: 0x47, decode16, min, max, align, len 1), IRQ 1 */
	const uint8_t *ps2 = memmem(dsdt + 36, dlen - 36, "PS2K", 4);
	CHECK(ps2 != NULL);
	CHECK(memmem(ps2, (size_t)(dsdt + dlen - ps2), "\x0c\x41\xd0\x03\x03", 5) != NULL);
	CHECK(memmem(ps2, (size_t)(dsdt + dlen - ps2), "\x47\x01\x60\x00\x60\x00\x00\x01", 8) != NULL);
	CHECK(memmem(ps2, (size_t)(dsdt + dlen - ps2), "\x47\x01\x64\x00\x64\x00\x00\x01", 8) != NULL);
	CHECK(memmem(ps2, (size_t)(dsdt + dlen - ps2), "\x22\x02\x00", 3) != NULL);

	/* VGEN: the _CID Linux matches, and Method (ADDR) { Return (Package (2)
	 * { DWord low, DWord high }) } with the ID's address */
	const uint8_t *vgen = memmem(dsdt + 36, dlen - 36, "VGEN", 4);
	CHECK(vgen != NULL);
	CHECK(memmem(vgen, (size_t)(dsdt + dlen - vgen), "\x0dVM_Gen_Counter", 16) != NULL);
	const uint8_t *addr = memmem(vgen, (size_t)(dsdt + dlen - vgen), "ADDR", 4);
	CHECK(addr != NULL && addr + 18 <= dsdt + dlen);
	CHECK_EQ(addr[4], 0x00); /* no arguments */
	CHECK_EQ(addr[5], 0xa4); /* Return */
	CHECK_EQ(addr[6], 0x12); /* Package */
	CHECK_EQ(addr[8], 2);
	CHECK_EQ(addr[9], 0x0c);
	CHECK_EQ(get_le32(addr + 10), (uint32_t)LAYOUT_VMGENID);
	CHECK_EQ(addr[14], 0x0c);
	CHECK_EQ(get_le32(addr + 15), (uint32_t)((uint64_t)LAYOUT_VMGENID >> 32));
	/* GED0: _HID "ACPI0013", an edge, active-high interrupt on the GSI,
	 * and _EVT's If (LEqual (Arg0, GSI)) { Notify (\_SB.VGEN, 0x80) } */
	const uint8_t *ged = memmem(dsdt + 36, dlen - 36, "GED0", 4);
	CHECK(ged != NULL);
	CHECK(memmem(ged, (size_t)(dsdt + dlen - ged), "\x0d" "ACPI0013", 10) != NULL);
	const uint8_t irq[] = {0x89, 0x06, 0x00, 0x03, 0x01, ACPI_GED_GSI, 0, 0, 0};
	CHECK(memmem(ged, (size_t)(dsdt + dlen - ged), irq, sizeof(irq)) != NULL);
	const uint8_t evt[] = {0x93, 0x68, 0x0a, ACPI_GED_GSI, 0x86, '\\', 0x2e,
			       '_', 'S', 'B', '_', 'V', 'G', 'E', 'N', 0x0a, 0x80};
	CHECK(memmem(ged, (size_t)(dsdt + dlen - ged), evt, sizeof(evt)) != NULL);
	CHECK(memmem(ged, (size_t)(dsdt + dlen - ged), "_EVT\x09", 5) != NULL);

	/* MADT */
	const uint8_t *madt = table(madt_gpa, "APIC");
	CHECK(madt != NULL);
	uint32_t mlen = get_le32(madt + 4);
	CHECK_EQ(sum(madt, mlen), 0);
	CHECK_EQ(get_le32(madt + 36), LAYOUT_LAPIC);
	CHECK_EQ(get_le32(madt + 40), legacy_pic ? 1u : 0u); /* PCAT_COMPAT: 8259s present */
	unsigned lapics = 0, ioapics = 0, isos = 0;
	uint8_t seen[256] = {0};
	for (uint32_t off = 44; off < mlen;) {
		const uint8_t *ent = madt + off;
		CHECK(off + 2 <= mlen);
		CHECK(ent[1] >= 2 && off + ent[1] <= mlen);
		if (ent[0] == 0) { /* processor local APIC */
			CHECK_EQ(ent[1], 8);
			CHECK_EQ(get_le32(ent + 4) & 1, 1); /* enabled */
			CHECK(ent[3] < ncpus);
			CHECK_EQ(ent[3], lapics); /* APIC ids 0..n-1 in order */
			CHECK(!seen[ent[3]]);
			seen[ent[3]] = 1;
			lapics++;
		} else if (ent[0] == 1) { /* IOAPIC */
			CHECK_EQ(ent[1], 12);
			CHECK_EQ(get_le32(ent + 4), 0xfec00000u);
			CHECK_EQ(get_le32(ent + 8), 0); /* GSI base */
			ioapics++;
		} else if (ent[0] == 2) { /* interrupt source override: identity */
			CHECK_EQ(ent[1], 10);
			CHECK(ent[3] == 4 || ent[3] == 1); /* the UART's, the keyboard's */
			CHECK_EQ(get_le32(ent + 4), ent[3]);
			isos |= 1u << ent[3];
		}
		off += ent[1];
	}
	CHECK_EQ(lapics, ncpus);
	CHECK_EQ(ioapics, 1);
	CHECK_EQ(isos, (1u << 4) | (1u << 1));

	/* Every table stays inside the reserved BIOS area, below the VM
	 * generation ID's page. */
	CHECK(madt_gpa + mlen <= LAYOUT_VMGENID);
	CHECK(dsdt_gpa + dlen <= LAYOUT_VMGENID);
	CHECK(xsdt_gpa >= LAYOUT_ACPI && fadt_gpa >= LAYOUT_ACPI && dsdt_gpa >= LAYOUT_ACPI);
}

static void acpi_1_cpu(void) { check_tables(1, true, false); }
static void acpi_2_cpus(void) { check_tables(2, true, false); }
static void acpi_254_cpus(void) { check_tables(254, true, false); }
static void acpi_with_legacy_pic(void) { check_tables(2, true, true); }
static void acpi_no_pci_root(void) { check_tables(1, false, false); }

static void acpi_checksum_helper(void)
{
	uint8_t buf[5] = {1, 2, 3, 4, 0};
	buf[4] = acpi_checksum(buf, 4);
	CHECK_EQ(sum(buf, 5), 0);
	CHECK_EQ(acpi_checksum(buf, 0), 0);
}

int main(void)
{
	ram = malloc(RAM);
	if (!ram)
		return 1;
	RUN(acpi_1_cpu);
	RUN(acpi_2_cpus);
	RUN(acpi_254_cpus);
	RUN(acpi_with_legacy_pic);
	RUN(acpi_no_pci_root);
	RUN(acpi_checksum_helper);
	free(ram);
	return check_summary();
}
