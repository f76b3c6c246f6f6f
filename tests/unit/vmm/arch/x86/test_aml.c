/* test_aml.c: the AML builder (aml.c): PkgLength encoding at its size
 * boundaries (1-4 bytes, counting itself), integers with the smallest prefix,
 * name strings (padding, root/parent prefixes, dual and multi names), EisaId
 * compression, strings, buffers, methods; the builder reproduces ember's
 * hand-assembled DSDT body (\_S5_ package and the COM1 device in acpi.c) byte
 * for byte; the PCI0 root bridge has the expected names and a _CRS with the bus
 * range, the 0xCF8 ports and the 32/64-bit windows, with consistent lengths;
 * If/LEqual/Notify/ArgN; the VM generation ID device (its ids and ADDR's
 * package with the address in two DWords) and the Generic Event Device (its
 * edge interrupt and _EVT notifying the VM generation ID device), byte for
 * byte. */
#include <string.h>

#include "vmm/arch/x86/acpi.h"
#include "vmm/arch/x86/aml.h"
#include "tests/unit/check.h"
#include "vmm/lib/util.h"

#define CHECK_AML(a, ...)                                                     \
	do {                                                                  \
		static const uint8_t want_[] = {__VA_ARGS__};                 \
		CHECK(!(a)->oom);                                             \
		CHECK_EQ((a)->len, sizeof(want_));                            \
		CHECK_MEM_EQ((a)->buf, want_, sizeof(want_));                 \
	} while (0)

static void pkglength_boundaries(void)
{
	uint8_t b[4];
	CHECK_EQ(aml_pkglength_encode(0, b), 1);
	CHECK_EQ(b[0], 1);
	CHECK_EQ(aml_pkglength_encode(62, b), 1); /* total 63: largest one-byte form */
	CHECK_EQ(b[0], 63);
	CHECK_EQ(aml_pkglength_encode(63, b), 2); /* total 65 */
	CHECK_EQ(b[0], 0x41);
	CHECK_EQ(b[1], 0x04);
	CHECK_EQ(aml_pkglength_encode(62 + 1, b), 2);
	CHECK_EQ(aml_pkglength_encode(4093, b), 2); /* total 4095: largest two-byte form */
	CHECK_EQ(b[0], 0x4f);
	CHECK_EQ(b[1], 0xff);
	CHECK_EQ(aml_pkglength_encode(4094, b), 3); /* total 4097 = 0x1001 */
	CHECK_EQ(b[0], 0x81);
	CHECK_EQ(b[1], 0x00);
	CHECK_EQ(b[2], 0x01);
	CHECK_EQ(aml_pkglength_encode(0xffffc, b), 3); /* total 0xfffff: largest three-byte */
	CHECK_EQ(b[0], 0x8f);
	CHECK_EQ(b[1], 0xff);
	CHECK_EQ(b[2], 0xff);
	CHECK_EQ(aml_pkglength_encode(0xffffd, b), 4); /* total 0x100001 */
	CHECK_EQ(b[0], 0xc1);
	CHECK_EQ(b[1], 0x00);
	CHECK_EQ(b[2], 0x00);
	CHECK_EQ(b[3], 0x01);
	CHECK_EQ(aml_pkglength_encode(0xffffffb, b), 4); /* total 0xfffffff */
	CHECK_EQ(b[0], 0xcf);
	CHECK_EQ(aml_pkglength_encode(0xffffffc, b), 0); /* too large */
}

/* A Scope whose body is n bytes: its PkgLength decodes back to the body. */
static void scope_pkglength_roundtrip(void)
{
	static const size_t sizes[] = {0, 58, 59, 60, 4000, 4090, 4091, 4092, 70000, 1048570};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct aml a;
		aml_init(&a);
		size_t m = aml_scope_begin(&a, "_SB_");
		for (size_t i = 0; i < sizes[k]; i++)
			aml_byte(&a, 0xa3); /* Noop */
		aml_end(&a, m);
		CHECK(!a.oom);
		CHECK_EQ(a.buf[0], 0x10);
		unsigned n = (a.buf[1] >> 6) + 1;
		size_t total = n == 1 ? a.buf[1] & 0x3f : a.buf[1] & 0xf;
		for (unsigned i = 1; i < n; i++)
			total |= (size_t)a.buf[1 + i] << (4 + 8 * (i - 1));
		CHECK_EQ(total, a.len - 1); /* everything after the opcode */
		CHECK_EQ(total, n + 4 + sizes[k]);
		CHECK_MEM_EQ(a.buf + 1 + n, "_SB_", 4);
		aml_free(&a);
	}
}

static void integers(void)
{
	struct aml a;
	aml_init(&a);
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 2);
	aml_integer(&a, 0xff);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0xffff);
	aml_integer(&a, 0x10000);
	aml_integer(&a, 0xffffffff);
	aml_integer(&a, 0x100000000ull);
	CHECK_AML(&a, 0x00, 0x01, 0x0a, 0x02, 0x0a, 0xff, 0x0b, 0x00, 0x01, 0x0b, 0xff, 0xff,
		  0x0c, 0x00, 0x00, 0x01, 0x00, 0x0c, 0xff, 0xff, 0xff, 0xff,
		  0x0e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00);
	aml_free(&a);
	aml_init(&a);
	aml_byte_const(&a, 0);
	aml_word_const(&a, 1);
	aml_dword_const(&a, 0x12345678);
	aml_qword_const(&a, 2);
	CHECK_AML(&a, 0x0a, 0x00, 0x0b, 0x01, 0x00, 0x0c, 0x78, 0x56, 0x34, 0x12,
		  0x0e, 0x02, 0, 0, 0, 0, 0, 0, 0);
	aml_free(&a);
}

static void name_strings(void)
{
	struct aml a;
	aml_init(&a);
	aml_name_string(&a, "_SB");
	aml_name_string(&a, "\\_SB.PCI0");
	aml_name_string(&a, "^A.B.C");
	aml_name_string(&a, "");
	CHECK_AML(&a, '_', 'S', 'B', '_',
		  '\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0',
		  '^', 0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_',
		  0x00);
	aml_free(&a);
}

static void eisaid_string_buffer(void)
{
	struct aml a;
	aml_init(&a);
	aml_eisaid(&a, "PNP0501");
	aml_eisaid(&a, "PNP0A08");
	aml_eisaid(&a, "PNP0A03");
	aml_string(&a, "ok");
	aml_buffer(&a, "\x01\x02\x03", 3);
	CHECK_AML(&a, 0x0c, 0x41, 0xd0, 0x05, 0x01, 0x0c, 0x41, 0xd0, 0x0a, 0x08,
		  0x0c, 0x41, 0xd0, 0x0a, 0x03, 0x0d, 'o', 'k', 0x00,
		  0x11, 0x06, 0x0a, 0x03, 0x01, 0x02, 0x03);
	aml_free(&a);
}

static void method_returns_value(void)
{
	struct aml a;
	aml_init(&a);
	size_t m = aml_method_begin(&a, "_STA", 0, false);
	aml_return(&a);
	aml_integer(&a, 0x0f);
	aml_end(&a, m);
	m = aml_method_begin(&a, "FOO", 2, true);
	aml_return(&a);
	aml_integer(&a, 1);
	aml_end(&a, m);
	CHECK_AML(&a, 0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f,
		  0x14, 0x08, 'F', 'O', 'O', '_', 0x0a, 0xa4, 0x01);
	aml_free(&a);
}

static void descriptors(void)
{
	struct aml a;
	aml_init(&a);
	aml_res_interrupt(&a, false, false, 5);
	aml_res_word_bus(&a, 0, 0);
	aml_res_word_io(&a, 0x1000, 0x1000);
	aml_res_dword_mem(&a, 0xc0000000, 0x3ec00000, false);
	aml_res_qword_mem(&a, 0x1000000000ull, 0x1000000000ull, true);
	aml_res_end(&a);
	CHECK_AML(&a,
		  0x89, 0x06, 0x00, 0x01, 0x01, 0x05, 0x00, 0x00, 0x00,
		  0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
		  0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x10, 0xff, 0x1f, 0, 0,
		  0x00, 0x10,
		  0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0xc0,
		  0xff, 0xff, 0xbf, 0xfe, 0, 0, 0, 0, 0x00, 0x00, 0xc0, 0x3e,
		  0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x07, 0, 0, 0, 0, 0, 0, 0, 0,
		  0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
		  0xff, 0xff, 0xff, 0xff, 0x1f, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
		  0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
		  0x79, 0x00);
	aml_free(&a);
}

/* The DSDT body acpi.c hand-assembles (copied here byte for byte). */
static void reproduces_acpi_dsdt(void)
{
	static const uint8_t dsdt_aml[] = {
		0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0a, ACPI_S5_SLEEP_TYPE, 0x00, 0x00, 0x00,
		0x10, 0x32, '_', 'S', 'B', '_',
		0x5b, 0x82, 0x2b, 'C', 'O', 'M', '1',
		0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01,
		0x08, '_', 'U', 'I', 'D', 0x00,
		0x08, '_', 'C', 'R', 'S', 0x11, 0x10, 0x0a, 0x0d,
		0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x00, 0x08,
		0x22, 1 << ACPI_SERIAL_IRQ, 0x00,
		0x79, 0x00,
	};
	struct aml a;
	aml_init(&a);
	aml_s5(&a, ACPI_S5_SLEEP_TYPE);
	size_t sb = aml_scope_begin(&a, "_SB_");
	aml_serial_device(&a, "COM1", 0, 0x3f8, ACPI_SERIAL_IRQ);
	aml_end(&a, sb);
	CHECK(!a.oom);
	CHECK_EQ(a.len, sizeof(dsdt_aml));
	CHECK_MEM_EQ(a.buf, dsdt_aml, sizeof(dsdt_aml));
	aml_free(&a);

	/* The same with the generic calls. */
	aml_init(&a);
	aml_name(&a, "_S5_");
	size_t p = aml_package_begin(&a, 4);
	aml_integer(&a, ACPI_S5_SLEEP_TYPE);
	for (int i = 0; i < 3; i++)
		aml_integer(&a, 0);
	aml_end(&a, p);
	sb = aml_scope_begin(&a, "_SB");
	size_t d = aml_device_begin(&a, "COM1");
	aml_name_eisaid(&a, "_HID", "PNP0501");
	aml_name_integer(&a, "_UID", 0);
	struct aml res;
	aml_init(&res);
	aml_res_io(&res, 0x3f8, 0x3f8, 0, 8);
	aml_res_irq_noflags(&res, ACPI_SERIAL_IRQ);
	aml_name(&a, "_CRS");
	aml_resource_template(&a, &res);
	aml_free(&res);
	aml_end(&a, d);
	aml_end(&a, sb);
	CHECK_EQ(a.len, sizeof(dsdt_aml));
	CHECK_MEM_EQ(a.buf, dsdt_aml, sizeof(dsdt_aml));
	aml_free(&a);
}

static void control_flow(void)
{
	struct aml a;
	aml_init(&a);
	size_t i = aml_if_begin(&a);
	aml_lequal(&a);
	aml_arg(&a, 0);
	aml_integer(&a, 5);
	aml_notify(&a, "\\_SB.DEV");
	aml_integer(&a, 0x80);
	aml_end(&a, i);
	aml_arg(&a, 6);
	aml_arg(&a, 9); /* no Arg9: Arg6 */
	CHECK_AML(&a, 0xa0, 0x12, 0x93, 0x68, 0x0a, 0x05,
		  0x86, '\\', 0x2e, '_', 'S', 'B', '_', 'D', 'E', 'V', '_', 0x0a, 0x80,
		  0x6e, 0x6e);
	aml_free(&a);
}

static void vmgenid_device(void)
{
	struct aml a;
	aml_init(&a);
	aml_vmgenid_device(&a, "VGEN", 0x12345678ff000ull);
	CHECK_AML(&a, 0x5b, 0x82, 0x44, 0x05, 'V', 'G', 'E', 'N',
		  0x08, '_', 'H', 'I', 'D', 0x0d, 'V', 'M', 'G', 'E', 'N', 'C', 'T', 'R', 0,
		  0x08, '_', 'C', 'I', 'D', 0x0d, 'V', 'M', '_', 'G', 'e', 'n', '_',
		  'C', 'o', 'u', 'n', 't', 'e', 'r', 0,
		  0x08, '_', 'D', 'D', 'N', 0x0d, 'V', 'M', '_', 'G', 'e', 'n', '_',
		  'C', 'o', 'u', 'n', 't', 'e', 'r', 0,
		  /* Method (ADDR, 0) { Return (Package (2) { low, high }) } */
		  0x14, 0x14, 'A', 'D', 'D', 'R', 0x00, 0xa4,
		  0x12, 0x0c, 0x02, 0x0c, 0x00, 0xf0, 0x8f, 0x67, 0x0c, 0x45, 0x23, 0x01, 0x00);
	aml_free(&a);
}

static void ged_device(void)
{
	struct aml a;
	aml_init(&a);
	aml_ged_device(&a, "GED0", 16, "\\_SB.VGEN", 0x80);
	CHECK_AML(&a, 0x5b, 0x82, 0x49, 0x04, 'G', 'E', 'D', '0',
		  0x08, '_', 'H', 'I', 'D', 0x0d, 'A', 'C', 'P', 'I', '0', '0', '1', '3', 0,
		  0x08, '_', 'U', 'I', 'D', 0x00,
		  /* Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) {16} */
		  0x08, '_', 'C', 'R', 'S', 0x11, 0x0e, 0x0a, 0x0b,
		  0x89, 0x06, 0x00, 0x03, 0x01, 0x10, 0x00, 0x00, 0x00, 0x79, 0x00,
		  /* Method (_EVT, 1, Serialized) { If (LEqual (Arg0, 16)) {
		   *   Notify (\_SB.VGEN, 0x80) } } */
		  0x14, 0x19, '_', 'E', 'V', 'T', 0x09,
		  0xa0, 0x12, 0x93, 0x68, 0x0a, 0x10,
		  0x86, '\\', 0x2e, '_', 'S', 'B', '_', 'V', 'G', 'E', 'N', 0x0a, 0x80);
	aml_free(&a);
}

/* Find Name (name, ...) in buf; returns the offset of its value or -1. */
static long find_name(const struct aml *a, const char *name)
{
	for (size_t i = 0; i + 5 <= a->len; i++)
		if (a->buf[i] == 0x08 && memcmp(a->buf + i + 1, name, 4) == 0)
			return (long)(i + 5);
	return -1;
}

static void pci_root_structure(void)
{
	struct aml a;
	aml_init(&a);
	struct aml_pci_root cfg = {
		.mem32_base = 0xc0000000, .mem32_len = 0x3ec00000,
		.mem64_base = 0x140000000ull, .mem64_len = 0x1000000000ull,
	};
	aml_pci_root(&a, &cfg);
	CHECK(!a.oom);
	/* Device (PCI0) with a two-byte PkgLength covering the rest. */
	CHECK_EQ(a.buf[0], 0x5b);
	CHECK_EQ(a.buf[1], 0x82);
	CHECK_EQ(a.buf[2] >> 6, 1);
	CHECK_EQ((size_t)((a.buf[2] & 0xf) | a.buf[3] << 4), a.len - 2);
	CHECK_MEM_EQ(a.buf + 4, "PCI0", 4);
	long v = find_name(&a, "_HID");
	CHECK(v > 0);
	CHECK_MEM_EQ(a.buf + v, "\x0c\x41\xd0\x0a\x08", 5);
	v = find_name(&a, "_CID");
	CHECK(v > 0);
	CHECK_MEM_EQ(a.buf + v, "\x0c\x41\xd0\x0a\x03", 5);
	CHECK((v = find_name(&a, "_SEG")) > 0);
	CHECK_EQ(a.buf[v], 0x00);
	CHECK((v = find_name(&a, "_BBN")) > 0);
	CHECK_EQ(a.buf[v], 0x00);
	CHECK((v = find_name(&a, "_UID")) > 0);
	CHECK_EQ(a.buf[v], 0x00);
	CHECK(find_name(&a, "_PRT") < 0);
	/* _CRS: Buffer, PkgLength, size, then the descriptors, last thing in the device. */
	CHECK((v = find_name(&a, "_CRS")) > 0);
	const uint8_t *c = a.buf + v;
	CHECK_EQ(c[0], 0x11);
	CHECK_EQ(c[1] >> 6, 1); /* two-byte PkgLength */
	size_t pkg = (c[1] & 0xf) | (size_t)c[2] << 4;
	CHECK_EQ(v + 1 + pkg, a.len);
	CHECK_EQ(c[3], 0x0a);
	size_t n = c[4];
	const uint8_t *r = c + 5;
	CHECK_EQ(n, 16 + 8 + 26 + 46 + 2);
	CHECK_EQ(pkg, 4 + n);
	CHECK_MEM_EQ(r, "\x88\x0d\x00\x02\x0c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00", 16);
	CHECK_MEM_EQ(r + 16, "\x47\x01\xf8\x0c\xf8\x0c\x01\x08", 8);
	CHECK_EQ(r[24], 0x87);
	CHECK_EQ(get_le32(r + 24 + 10), 0xc0000000);
	CHECK_EQ(get_le32(r + 24 + 14), 0xfebfffff);
	CHECK_EQ(get_le32(r + 24 + 22), 0x3ec00000);
	CHECK_EQ(r[50], 0x8a);
	CHECK_EQ(r[50 + 5], 0x07); /* prefetchable, read-write */
	CHECK_EQ(get_le64(r + 50 + 14), 0x140000000ull);
	CHECK_EQ(get_le64(r + 50 + 22), 0x113fffffffull);
	CHECK_EQ(get_le64(r + 50 + 38), 0x1000000000ull);
	CHECK_EQ(r[96], 0x79);
	aml_free(&a);

	/* With an I/O window and no 64-bit window. */
	aml_init(&a);
	cfg.io_base = 0x1000;
	cfg.io_len = 0x1000;
	cfg.mem64_len = 0;
	cfg.name = "PCI1";
	aml_pci_root(&a, &cfg);
	CHECK(!a.oom);
	CHECK_MEM_EQ(a.buf + 4, "PCI1", 4);
	CHECK_EQ((size_t)((a.buf[2] & 0xf) | a.buf[3] << 4), a.len - 2);
	CHECK((v = find_name(&a, "_CRS")) > 0);
	c = a.buf + v;
	CHECK_EQ(c[3], 0x0a);
	CHECK_EQ(c[4], 16 + 8 + 16 + 26 + 2);
	CHECK_EQ(c[5 + 24], 0x88);
	CHECK_EQ(c[5 + 24 + 3], 0x01); /* I/O */
	aml_free(&a);
}

int main(void)
{
	RUN(pkglength_boundaries);
	RUN(scope_pkglength_roundtrip);
	RUN(integers);
	RUN(name_strings);
	RUN(eisaid_string_buffer);
	RUN(method_returns_value);
	RUN(descriptors);
	RUN(reproduces_acpi_dsdt);
	RUN(pci_root_structure);
	RUN(control_flow);
	RUN(vmgenid_device);
	RUN(ged_device);
	return check_summary();
}
