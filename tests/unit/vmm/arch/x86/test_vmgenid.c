/* test_vmgenid.c: the VM generation ID (vmgenid.c) in a gm_wrap'd guest:
 * 16 bytes at LAYOUT_VMGENID, 8-byte aligned, inside an e820 reserved range
 * (never RAM the guest could use), a new random value at each write (copied
 * out when asked), the ACPI tables around it left alone, and a guest too small
 * to hold it refused with one message. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/arch/x86/acpi.h"
#include "vmm/arch/x86/layout.h"
#include "vmm/arch/x86/vmgenid.h"
#include "vmm/core/guest_mem.h"

#define RAM MiB(32)

static uint8_t *ram;

static void placed_in_reserved_memory(void)
{
	CHECK_EQ(LAYOUT_VMGENID % 8, 0);
	struct mem_layout l;
	layout_init(&l, RAM);
	struct e820_range r[16];
	unsigned n = layout_e820(&l, r, ARRAY_SIZE(r)), reserved = 0;
	for (unsigned i = 0; i < n; i++) {
		bool inside = r[i].addr <= LAYOUT_VMGENID &&
			      LAYOUT_VMGENID + VMGENID_SIZE <= r[i].addr + r[i].size;
		bool overlaps = r[i].addr < LAYOUT_VMGENID + VMGENID_SIZE &&
				LAYOUT_VMGENID < r[i].addr + r[i].size;
		if (inside && r[i].type == E820_TYPE_RESERVED)
			reserved++;
		else
			CHECK(!overlaps);
	}
	CHECK_EQ(reserved, 1);
}

static void new_random_id_each_write(void)
{
	struct guest_mem gm;
	memset(ram, 0, RAM);
	gm_wrap(&gm, ram, RAM);
	CHECK(acpi_build(&gm, 2, NULL, true, false) != 0);
	uint8_t *before = malloc(RAM);
	CHECK(before != NULL);
	memcpy(before, ram, RAM);

	struct errbuf err = {{0}};
	uint8_t id1[VMGENID_SIZE], id2[VMGENID_SIZE], zero[VMGENID_SIZE] = {0};
	CHECK_EQ(vmgenid_write(&gm, id1, &err), 0);
	CHECK_MEM_EQ(ram + LAYOUT_VMGENID, id1, VMGENID_SIZE);
	CHECK(memcmp(id1, zero, VMGENID_SIZE) != 0);
	CHECK_EQ(vmgenid_write(&gm, id2, &err), 0);
	CHECK_MEM_EQ(ram + LAYOUT_VMGENID, id2, VMGENID_SIZE);
	CHECK(memcmp(id1, id2, VMGENID_SIZE) != 0);
	CHECK_EQ(vmgenid_write(&gm, NULL, &err), 0);
	CHECK(memcmp(ram + LAYOUT_VMGENID, id2, VMGENID_SIZE) != 0);
	/* Nothing else changed: the tables, the rest of the page, RAM. */
	CHECK_MEM_EQ(ram, before, LAYOUT_VMGENID);
	CHECK_MEM_EQ(ram + LAYOUT_VMGENID + VMGENID_SIZE, before + LAYOUT_VMGENID + VMGENID_SIZE,
		     RAM - LAYOUT_VMGENID - VMGENID_SIZE);
	free(before);
}

static void guest_too_small(void)
{
	struct guest_mem gm;
	gm_wrap(&gm, ram, LAYOUT_VMGENID + 8);
	struct errbuf err = {{0}};
	CHECK_EQ(vmgenid_write(&gm, NULL, &err), -1);
	CHECK(strstr(err.msg, "VM generation ID") != NULL);
}

int main(void)
{
	ram = malloc(RAM);
	if (!ram)
		return 1;
	RUN(placed_in_reserved_memory);
	RUN(new_random_id_each_write);
	RUN(guest_too_small);
	free(ram);
	return check_summary();
}
