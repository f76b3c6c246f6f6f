/* aml.c: the AML builder (see aml.h; encodings from the ACPI 6.x spec,
 * chapter 20 "ACPI Machine Language Specification" and 6.4 "Resource Data
 * Types"). */
#include <stdlib.h>
#include <string.h>

#include "vmm/arch/x86/aml.h"

#define AML_ZERO 0x00
#define AML_ONE 0x01
#define AML_NAME 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE 0x10
#define AML_BUFFER 0x11
#define AML_PACKAGE 0x12
#define AML_METHOD 0x14
#define AML_DUAL_NAME 0x2e
#define AML_MULTI_NAME 0x2f
#define AML_EXT_PREFIX 0x5b
#define AML_DEVICE 0x82 /* after AML_EXT_PREFIX */
#define AML_ROOT_CHAR '\\'
#define AML_PARENT_CHAR '^'
#define AML_RETURN 0xa4
#define AML_ARG0 0x68
#define AML_NOTIFY 0x86
#define AML_LEQUAL 0x93
#define AML_IF 0xa0

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

static bool reserve(struct aml *a, size_t more)
{
	if (a->oom)
		return false;
	if (more > SIZE_MAX / 2 - a->len) {
		a->oom = true;
		return false;
	}
	if (a->len + more <= a->cap)
		return true;
	size_t cap = a->cap ? a->cap : 256;
	while (cap < a->len + more)
		cap *= 2;
	uint8_t *b = realloc(a->buf, cap);
	if (!b) {
		a->oom = true;
		return false;
	}
	a->buf = b;
	a->cap = cap;
	return true;
}

void aml_bytes(struct aml *a, const void *data, size_t len)
{
	if (!len || !reserve(a, len))
		return;
	memcpy(a->buf + a->len, data, len);
	a->len += len;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void le(struct aml *a, uint64_t v, unsigned n)
{
	uint8_t b[8];
	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, n);
}

unsigned aml_pkglength_encode(size_t body_len, uint8_t out[4])
{
	if (body_len + 1 <= 0x3f) {
		out[0] = (uint8_t)(body_len + 1);
		return 1;
	}
	/* n bytes hold 4 + 8 * (n - 1) bits of length. */
	for (unsigned n = 2; n <= 4; n++) {
		uint64_t total = (uint64_t)body_len + n;
		if (total < (UINT64_C(1) << (4 + 8 * (n - 1)))) {
			out[0] = (uint8_t)((n - 1) << 6 | (total & 0xf));
			for (unsigned i = 1; i < n; i++)
				out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
			return n;
		}
	}
	return 0;
}

static void name_seg(struct aml *a, const char *s, size_t n)
{
	char seg[4] = {'_', '_', '_', '_'};
	memcpy(seg, s, n > 4 ? 4 : n);
	aml_bytes(a, seg, 4);
}

void aml_name_string(struct aml *a, const char *name)
{
	while (*name == AML_ROOT_CHAR || *name == AML_PARENT_CHAR)
		aml_byte(a, (uint8_t)*name++);
	unsigned segs = 0;
	for (const char *p = name; *p;) {
		segs++;
		const char *dot = strchr(p, '.');
		if (!dot)
			break;
		p = dot + 1;
	}
	if (segs == 0) {
		aml_byte(a, 0x00); /* NullName */
		return;
	}
	if (segs == 2)
		aml_byte(a, AML_DUAL_NAME);
	else if (segs > 2) {
		aml_byte(a, AML_MULTI_NAME);
		aml_byte(a, (uint8_t)segs);
	}
	for (const char *p = name; *p;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		name_seg(a, p, n);
		if (!dot)
			break;
		p = dot + 1;
	}
}

void aml_byte_const(struct aml *a, uint8_t v)
{
	aml_byte(a, AML_BYTE_PREFIX);
	le(a, v, 1);
}

void aml_word_const(struct aml *a, uint16_t v)
{
	aml_byte(a, AML_WORD_PREFIX);
	le(a, v, 2);
}

void aml_dword_const(struct aml *a, uint32_t v)
{
	aml_byte(a, AML_DWORD_PREFIX);
	le(a, v, 4);
}

void aml_qword_const(struct aml *a, uint64_t v)
{
	aml_byte(a, AML_QWORD_PREFIX);
	le(a, v, 8);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0)
		aml_byte(a, AML_ZERO);
	else if (v == 1)
		aml_byte(a, AML_ONE);
	else if (v <= 0xff)
		aml_byte_const(a, (uint8_t)v);
	else if (v <= 0xffff)
		aml_word_const(a, (uint16_t)v);
	else if (v <= 0xffffffff)
		aml_dword_const(a, (uint32_t)v);
	else
		aml_qword_const(a, v);
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static unsigned hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	if (c >= 'A' && c <= 'F')
		return (unsigned)(c - 'A' + 10);
	if (c >= 'a' && c <= 'f')
		return (unsigned)(c - 'a' + 10);
	return 0;
}

void aml_eisaid(struct aml *a, const char *id)
{
	char s[7] = {0};
	size_t n = strlen(id);
	memcpy(s, id, n > 7 ? 7 : n);
	/* Three 5-bit letters and four hex digits, stored big-endian. */
	uint32_t v = (uint32_t)((s[0] - 0x40) & 0x1f) << 26 | (uint32_t)((s[1] - 0x40) & 0x1f) << 21 |
		     (uint32_t)((s[2] - 0x40) & 0x1f) << 16 | hexval(s[3]) << 12 | hexval(s[4]) << 8 |
		     hexval(s[5]) << 4 | hexval(s[6]);
	aml_dword_const(a, __builtin_bswap32(v));
}

static size_t begin(struct aml *a)
{
	return a->len;
}

void aml_end(struct aml *a, size_t mark)
{
	if (a->oom || mark > a->len)
		return;
	uint8_t pkg[4];
	unsigned n = aml_pkglength_encode(a->len - mark, pkg);
	if (n == 0) {
		a->oom = true; /* too large to describe */
		return;
	}
	if (!reserve(a, n))
		return;
	memmove(a->buf + mark + n, a->buf + mark, a->len - mark);
	memcpy(a->buf + mark, pkg, n);
	a->len += n;
}

void aml_buffer(struct aml *a, const void *data, size_t len)
{
	aml_byte(a, AML_BUFFER);
	size_t m = begin(a);
	aml_integer(a, len);
	aml_bytes(a, data, len);
	aml_end(a, m);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME);
	aml_name_string(a, name);
}

void aml_name_integer(struct aml *a, const char *name, uint64_t v)
{
	aml_name(a, name);
	aml_integer(a, v);
}

void aml_name_eisaid(struct aml *a, const char *name, const char *id)
{
	aml_name(a, name);
	aml_eisaid(a, id);
}

size_t aml_scope_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_SCOPE);
	size_t m = begin(a);
	aml_name_string(a, name);
	return m;
}

size_t aml_device_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_EXT_PREFIX);
	aml_byte(a, AML_DEVICE);
	size_t m = begin(a);
	aml_name_string(a, name);
	return m;
}

size_t aml_package_begin(struct aml *a, uint8_t num_elements)
{
	aml_byte(a, AML_PACKAGE);
	size_t m = begin(a);
	aml_byte(a, num_elements);
	return m;
}

size_t aml_method_begin(struct aml *a, const char *name, unsigned nargs, bool serialized)
{
	aml_byte(a, AML_METHOD);
	size_t m = begin(a);
	aml_name_string(a, name);
	aml_byte(a, (uint8_t)((nargs & 7) | (serialized ? 8 : 0)));
	return m;
}

void aml_return(struct aml *a)
{
	aml_byte(a, AML_RETURN);
}

size_t aml_if_begin(struct aml *a)
{
	aml_byte(a, AML_IF);
	return begin(a);
}

void aml_lequal(struct aml *a)
{
	aml_byte(a, AML_LEQUAL);
}

void aml_notify(struct aml *a, const char *target)
{
	aml_byte(a, AML_NOTIFY);
	aml_name_string(a, target);
}

void aml_arg(struct aml *a, unsigned n)
{
	aml_byte(a, (uint8_t)(AML_ARG0 + (n > 6 ? 6 : n)));
}

/* ---- resource descriptors ---- */

void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	aml_byte(a, 0x47); /* small item 0x08, length 7 */
	aml_byte(a, 0x01); /* Decode16 */
	le(a, min, 2);
	le(a, max, 2);
	aml_byte(a, align);
	aml_byte(a, len);
}

void aml_res_irq_noflags(struct aml *a, unsigned irq)
{
	aml_byte(a, 0x22); /* small item 0x04, length 2 */
	le(a, irq < 16 ? 1u << irq : 0, 2);
}

void aml_res_interrupt(struct aml *a, bool edge, bool active_low, uint32_t gsi)
{
	aml_byte(a, 0x89); /* large item 0x09: extended interrupt */
	le(a, 6, 2);
	aml_byte(a, (uint8_t)(0x01 | (edge ? 0x02 : 0) | (active_low ? 0x04 : 0))); /* consumer */
	aml_byte(a, 1);
	le(a, gsi, 4);
}

/* Address space descriptors: producer, positive decode, min and max fixed. */
#define ADDR_GENERAL_FLAGS 0x0c
#define ADDR_TYPE_MEM 0
#define ADDR_TYPE_IO 1
#define ADDR_TYPE_BUS 2

static void word_addr(struct aml *a, uint8_t type, uint8_t tflags, uint16_t min, uint16_t max,
		      uint16_t len)
{
	aml_byte(a, 0x88); /* large item 0x08: word address space */
	le(a, 13, 2);
	aml_byte(a, type);
	aml_byte(a, ADDR_GENERAL_FLAGS);
	aml_byte(a, tflags);
	le(a, 0, 2); /* granularity */
	le(a, min, 2);
	le(a, max, 2);
	le(a, 0, 2); /* translation */
	le(a, len, 2);
}

void aml_res_word_bus(struct aml *a, uint16_t first, uint16_t last)
{
	word_addr(a, ADDR_TYPE_BUS, 0, first, last, (uint16_t)(last - first + 1));
}

void aml_res_word_io(struct aml *a, uint16_t base, uint32_t len)
{
	word_addr(a, ADDR_TYPE_IO, 0x03 /* EntireRange */, base, (uint16_t)(base + len - 1),
		  (uint16_t)len);
}

/* Memory type-specific flags: ReadWrite, NonCacheable or Prefetchable. */
static uint8_t mem_flags(bool prefetchable)
{
	return (uint8_t)(0x01 | (prefetchable ? 3 << 1 : 0));
}

void aml_res_dword_mem(struct aml *a, uint32_t base, uint64_t len, bool prefetchable)
{
	aml_byte(a, 0x87); /* large item 0x07: dword address space */
	le(a, 23, 2);
	aml_byte(a, ADDR_TYPE_MEM);
	aml_byte(a, ADDR_GENERAL_FLAGS);
	aml_byte(a, mem_flags(prefetchable));
	le(a, 0, 4);
	le(a, base, 4);
	le(a, base + len - 1, 4);
	le(a, 0, 4);
	le(a, len, 4);
}

void aml_res_qword_mem(struct aml *a, uint64_t base, uint64_t len, bool prefetchable)
{
	aml_byte(a, 0x8a); /* large item 0x0a: qword address space */
	le(a, 43, 2);
	aml_byte(a, ADDR_TYPE_MEM);
	aml_byte(a, ADDR_GENERAL_FLAGS);
	aml_byte(a, mem_flags(prefetchable));
	le(a, 0, 8);
	le(a, base, 8);
	le(a, base + len - 1, 8);
	le(a, 0, 8);
	le(a, len, 8);
}

void aml_res_end(struct aml *a)
{
	aml_byte(a, 0x79);
	aml_byte(a, 0x00);
}

void aml_resource_template(struct aml *a, const struct aml *res)
{
	if (res->oom) {
		a->oom = true;
		return;
	}
	aml_byte(a, AML_BUFFER);
	size_t m = begin(a);
	aml_integer(a, res->len + 2);
	aml_bytes(a, res->buf, res->len);
	aml_res_end(a);
	aml_end(a, m);
}

/* ---- DSDT pieces ---- */

void aml_s5(struct aml *a, uint8_t sleep_type)
{
	aml_name(a, "_S5_");
	size_t p = aml_package_begin(a, 4);
	aml_integer(a, sleep_type);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a, p);
}

void aml_serial_device(struct aml *a, const char *name, unsigned uid, uint16_t port, unsigned irq)
{
	size_t d = aml_device_begin(a, name);
	aml_name_eisaid(a, "_HID", "PNP0501");
	aml_name_integer(a, "_UID", uid);
	struct aml res;
	aml_init(&res);
	aml_res_io(&res, port, port, 0, 8);
	aml_res_irq_noflags(&res, irq);
	aml_name(a, "_CRS");
	aml_resource_template(a, &res);
	aml_free(&res);
	aml_end(a, d);
}

void aml_ps2_keyboard(struct aml *a, const char *name, uint16_t data_port, uint16_t cmd_port,
		      unsigned irq)
{
	size_t d = aml_device_begin(a, name);
	aml_name_eisaid(a, "_HID", "PNP0303");
	struct aml res;
	aml_init(&res);
	aml_res_io(&res, data_port, data_port, 0, 1);
	aml_res_io(&res, cmd_port, cmd_port, 0, 1);
	aml_res_irq_noflags(&res, irq);
	aml_name(a, "_CRS");
	aml_resource_template(a, &res);
	aml_free(&res);
	aml_end(a, d);
}

void aml_pci_root(struct aml *a, const struct aml_pci_root *cfg)
{
	size_t d = aml_device_begin(a, cfg->name ? cfg->name : "PCI0");
	aml_name_eisaid(a, "_HID", "PNP0A08");
	aml_name_eisaid(a, "_CID", "PNP0A03");
	aml_name_integer(a, "_SEG", 0);
	aml_name_integer(a, "_BBN", cfg->bus_first);
	aml_name_integer(a, "_UID", 0);
	struct aml res;
	aml_init(&res);
	aml_res_word_bus(&res, cfg->bus_first, cfg->bus_last);
	aml_res_io(&res, 0xcf8, 0xcf8, 1, 8);
	if (cfg->io_len)
		aml_res_word_io(&res, cfg->io_base, cfg->io_len);
	aml_res_dword_mem(&res, (uint32_t)cfg->mem32_base, cfg->mem32_len, false);
	if (cfg->mem64_len)
		aml_res_qword_mem(&res, cfg->mem64_base, cfg->mem64_len, true);
	aml_name(a, "_CRS");
	aml_resource_template(a, &res);
	aml_free(&res);
	aml_end(a, d);
}

void aml_vmgenid_device(struct aml *a, const char *name, uint64_t gpa)
{
	size_t d = aml_device_begin(a, name);
	aml_name(a, "_HID");
	aml_string(a, "VMGENCTR");
	aml_name(a, "_CID");
	aml_string(a, "VM_Gen_Counter");
	aml_name(a, "_DDN");
	aml_string(a, "VM_Gen_Counter");
	size_t m = aml_method_begin(a, "ADDR", 0, false);
	aml_return(a);
	size_t p = aml_package_begin(a, 2);
	aml_dword_const(a, (uint32_t)gpa);
	aml_dword_const(a, (uint32_t)(gpa >> 32));
	aml_end(a, p);
	aml_end(a, m);
	aml_end(a, d);
}

void aml_ged_device(struct aml *a, const char *name, uint32_t gsi, const char *target,
		    uint8_t value)
{
	size_t d = aml_device_begin(a, name);
	aml_name(a, "_HID");
	aml_string(a, "ACPI0013");
	aml_name_integer(a, "_UID", 0);
	struct aml res;
	aml_init(&res);
	aml_res_interrupt(&res, true, false, gsi);
	aml_name(a, "_CRS");
	aml_resource_template(a, &res);
	aml_free(&res);
	size_t m = aml_method_begin(a, "_EVT", 1, true);
	size_t i = aml_if_begin(a);
	aml_lequal(a);
	aml_arg(a, 0);
	aml_integer(a, gsi);
	aml_notify(a, target);
	aml_integer(a, value);
	aml_end(a, i);
	aml_end(a, m);
	aml_end(a, d);
}
