/* aml.h: a small ACPI Machine Language builder for the DSDT: names, integers,
 * strings, EISA ids, packages, buffers, scopes, devices, methods returning a
 * value, If/LEqual/Notify/ArgN, resource templates, the PCI root bridge
 * (PCI0), the VM generation ID device and the Generic Event Device.
 *
 * Output goes to a growable buffer. Nested objects (Scope, Device, Method,
 * Package) are opened with aml_*_begin(), which returns a mark, and closed with
 * aml_end(mark), which inserts their PkgLength once the body's size is known.
 * Allocation failure is sticky: a->oom is set and later calls do nothing, so
 * callers check once at the end. */
#ifndef EMBER_AML_H
#define EMBER_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len, cap;
	bool oom;
};

void aml_init(struct aml *a);
void aml_free(struct aml *a);
void aml_bytes(struct aml *a, const void *data, size_t len);
void aml_byte(struct aml *a, uint8_t b);

/* PkgLength for a body of body_len bytes (the PkgLength counts itself): writes
 * 1-4 bytes to out and returns how many, or 0 when too large (>= 2^28). */
unsigned aml_pkglength_encode(size_t body_len, uint8_t out[4]);

/* NameString: "_SB_", "COM1", "\\_SB.PCI0", "^FOO"; segments shorter than four
 * characters are padded with '_'. */
void aml_name_string(struct aml *a, const char *name);

/* Integers: Zero, One, or the smallest of Byte/Word/DWord/QWord prefixes. */
void aml_integer(struct aml *a, uint64_t v);
/* Forced widths (BytePrefix 0x0A, WordPrefix 0x0B, DWordPrefix 0x0C, QWordPrefix 0x0E). */
void aml_byte_const(struct aml *a, uint8_t v);
void aml_word_const(struct aml *a, uint16_t v);
void aml_dword_const(struct aml *a, uint32_t v);
void aml_qword_const(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* EisaId ("PNP0A08"): the compressed 32-bit id, always as a DWord. */
void aml_eisaid(struct aml *a, const char *id);
/* Buffer: BufferOp PkgLength BufferSize bytes. */
void aml_buffer(struct aml *a, const void *data, size_t len);

/* Name (name, ...): the value follows (aml_integer, aml_package_begin, ...). */
void aml_name(struct aml *a, const char *name);
/* Shorthands: Name (name, integer / EisaId / string). */
void aml_name_integer(struct aml *a, const char *name, uint64_t v);
void aml_name_eisaid(struct aml *a, const char *name, const char *id);

size_t aml_scope_begin(struct aml *a, const char *name);
size_t aml_device_begin(struct aml *a, const char *name);
size_t aml_package_begin(struct aml *a, uint8_t num_elements);
/* Method (name, nargs, Serialized/NotSerialized); the body follows, e.g. aml_return(). */
size_t aml_method_begin(struct aml *a, const char *name, unsigned nargs, bool serialized);
/* Close what the mark opened: insert its PkgLength. */
void aml_end(struct aml *a, size_t mark);
/* Return: the value follows. */
void aml_return(struct aml *a);
/* If (predicate) { ... }: the predicate, then the body, follow; aml_end(mark)
 * closes it. */
size_t aml_if_begin(struct aml *a);
/* LEqual (x, y): the two operands follow. */
void aml_lequal(struct aml *a);
/* Notify (target, value): the value follows (aml_integer). */
void aml_notify(struct aml *a, const char *target);
/* Arg0 ... Arg6: a method's arguments. */
void aml_arg(struct aml *a, unsigned n);

/* Resource descriptors, appended raw to a (build a template in its own struct
 * aml and wrap it with aml_resource_template). */
void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
void aml_res_irq_noflags(struct aml *a, unsigned irq); /* IRQNoFlags () {irq}, irq < 16 */
/* Interrupt (ResourceConsumer, Level/Edge, ActiveHigh/Low, Exclusive) {gsi} */
void aml_res_interrupt(struct aml *a, bool edge, bool active_low, uint32_t gsi);
/* WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, first, last, 0, n) */
void aml_res_word_bus(struct aml *a, uint16_t first, uint16_t last);
/* WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, base, base+len-1, 0, len) */
void aml_res_word_io(struct aml *a, uint16_t base, uint32_t len);
/* DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable|Prefetchable, ReadWrite, ...) */
void aml_res_dword_mem(struct aml *a, uint32_t base, uint64_t len, bool prefetchable);
/* QWordMemory (same flags, 64-bit) */
void aml_res_qword_mem(struct aml *a, uint64_t base, uint64_t len, bool prefetchable);
/* EndTag with checksum 0 (means "no checksum"). */
void aml_res_end(struct aml *a);
/* Buffer holding the descriptors in res followed by an EndTag. */
void aml_resource_template(struct aml *a, const struct aml *res);

/* Name (_S5_, Package (4) { type, 0, 0, 0 }) */
void aml_s5(struct aml *a, uint8_t sleep_type);
/* Device (name) { _HID PNP0501, _UID uid, _CRS { IO (Decode16, port, port, 0, 8) IRQNoFlags {irq} } } */
void aml_serial_device(struct aml *a, const char *name, unsigned uid, uint16_t port, unsigned irq);
/* Device (name) { _HID PNP0303, _CRS { IO data_port len 1, IO cmd_port len 1,
 * IRQNoFlags {irq} } }: a PS/2 keyboard controller, the way Linux's i8042
 * driver finds one (through PNP). */
void aml_ps2_keyboard(struct aml *a, const char *name, uint16_t data_port, uint16_t cmd_port,
		      unsigned irq);

/* Device (name) { _HID "VMGENCTR", _CID "VM_Gen_Counter", _DDN "VM_Gen_Counter",
 *   Method (ADDR) { Return (Package (2) { DWord low, DWord high }) } }:
 * Microsoft's VM generation ID at gpa, the way Linux's vmgenid driver finds
 * it (it matches "VMGENCTR" and "VM_GEN_COUNTER"; ACPICA upper-cases _CID
 * strings, and Windows looks for the _CID "VM_Gen_Counter"). */
void aml_vmgenid_device(struct aml *a, const char *name, uint64_t gpa);
/* Device (name) { _HID "ACPI0013", _UID 0,
 *   _CRS { Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) {gsi} },
 *   Method (_EVT, 1, Serialized) { If (LEqual (Arg0, gsi)) { Notify (target, value) } } }:
 * an ACPI Generic Event Device whose interrupt notifies target. */
void aml_ged_device(struct aml *a, const char *name, uint32_t gsi, const char *target,
		    uint8_t value);

/* The PCI root bridge, for Scope (\_SB):
 *   Device (PCI0) { _HID PNP0A08, _CID PNP0A03, _SEG 0, _BBN 0, _UID 0,
 *     _CRS { WordBusNumber 0..0, IO 0xCF8 len 8, [WordIO window],
 *            DWordMemory mem32 window, [QWordMemory mem64 window] } }
 * No _PRT: ember's PCI devices interrupt through MSI-X only (interrupt pin 0).
 * No _OSC either: Linux then logs that the platform keeps control of PCIe
 * native features, which it would not use here anyway. */
struct aml_pci_root {
	const char *name; /* "PCI0" when NULL */
	uint8_t bus_first, bus_last;
	uint16_t io_base;   /* I/O window for BARs; io_len 0: none */
	uint32_t io_len;
	uint64_t mem32_base, mem32_len;
	uint64_t mem64_base, mem64_len; /* len 0: none */
};
void aml_pci_root(struct aml *a, const struct aml_pci_root *cfg);

#endif
