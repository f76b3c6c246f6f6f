/* test_vm_state.c: the encoding of an x86 VM's state (vm_state.c) without
 * /dev/kvm: with the split IRQ chip and with KVM's (PICs, IOAPIC, PIT) it
 * survives encoding and decoding byte for byte; the decoder refuses every
 * truncation and corrupted byte, an IRQ chip kind it does not know, chips
 * present or missing against that kind, and memory layouts ember never
 * makes; restoring into a VM with other RAM or the other IRQ chip is refused
 * before anything reaches KVM. */
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/arch/x86/vm_state.h"
#include "vmm/core/snapshot_file.h"
#include "vmm/core/state_codec.h"

static struct x86_vm_state a, b, zero;
static uint8_t blob[X86_VM_STATE_MAX_BYTES + 64], blob2[X86_VM_STATE_MAX_BYTES + 64];

static uint64_t rng = 0x2545f4914f6cdd1dull;
static void fill(void *p, size_t n)
{
	uint8_t *q = p;
	for (size_t i = 0; i < n; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		q[i] = (uint8_t)rng;
	}
}

static void make(struct x86_vm_state *s, bool kernel, uint64_t ram)
{
	memset(s, 0, sizeof(*s));
	fill(&s->clock, sizeof(s->clock));
	layout_init(&s->mem, ram);
	s->irqchip_kernel = kernel;
	if (kernel) {
		fill(s->pic, sizeof(s->pic));
		fill(&s->ioapic, sizeof(s->ioapic));
		fill(&s->pit, sizeof(s->pit));
	}
}

static void reseal(uint8_t *p, size_t n)
{
	uint32_t crc = snap_crc32c(0, p, n - 4);
	for (unsigned i = 0; i < 4; i++)
		p[n - 4 + i] = (uint8_t)(crc >> (8 * i));
}

static void refused(const uint8_t *p, size_t n, const char *want)
{
	struct errbuf err = {{0}};
	memset(&b, 0x55, sizeof(b));
	if (x86_vm_state_decode(p, n, &b, &err) == 0) {
		check_fail(__FILE__, __LINE__, "%zu bytes decoded (want \"%s\")", n, want ? want : "");
		return;
	}
	if (!err.msg[0] || strchr(err.msg, '\n') || strncmp(err.msg, "VM state: ", 10))
		check_fail(__FILE__, __LINE__, "not one line: \"%s\"", err.msg);
	else if (want && !strstr(err.msg, want))
		check_fail(__FILE__, __LINE__, "\"%s\" does not say \"%s\"", err.msg, want);
	if (memcmp(&b, &zero, sizeof(b)))
		check_fail(__FILE__, __LINE__, "a refused decode left state behind");
}

static void round_trips(void)
{
	static const uint64_t rams[] = {MiB(32), MiB(256), GiB(3), GiB(3) + MiB(2), GiB(64)};
	for (unsigned kernel = 0; kernel < 2; kernel++)
		for (size_t i = 0; i < ARRAY_SIZE(rams); i++) {
			make(&a, kernel, rams[i]);
			size_t n = x86_vm_state_encode(&a, blob, sizeof(blob));
			CHECK(n > 0 && n <= X86_VM_STATE_MAX_BYTES);
			CHECK_MEM_EQ(blob, "EVMS", 4);
			struct errbuf err = {{0}};
			memset(&b, 0xaa, sizeof(b));
			CHECK_EQ(x86_vm_state_decode(blob, n, &b, &err), 0);
			CHECK_MEM_EQ(&a, &b, sizeof(a));
			CHECK_EQ(x86_vm_state_encode(&b, blob2, sizeof(blob2)), n);
			CHECK_MEM_EQ(blob, blob2, n);
		}
	a.irqchip_kernel = 2;
	CHECK_EQ(x86_vm_state_encode(&a, blob, sizeof(blob)), 0);
}

static void truncated_and_corrupted(void)
{
	for (unsigned kernel = 0; kernel < 2; kernel++) {
		make(&a, kernel, MiB(512));
		size_t n = x86_vm_state_encode(&a, blob, sizeof(blob));
		CHECK(n > 0);
		for (size_t k = 0; k < n && !check_state.case_failed; k++)
			refused(blob, k, NULL);
		for (size_t i = 0; i < n && !check_state.case_failed; i++) {
			memcpy(blob2, blob, n);
			blob2[i] ^= 0x81;
			refused(blob2, n, NULL);
		}
	}
}

/* Offsets in the encoding: header 12, clock section 8 + 48, memory section
 * 8 + 24, then the irqchip section's header and its kind. */
#define MEM_AT (12 + 8 + 48 + 8)
#define IRQ_LEN_AT (MEM_AT + 24 + 4)
#define IRQ_KIND_AT (MEM_AT + 24 + 8)

static void put64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void hostile(void)
{
	make(&a, false, MiB(256));
	size_t n = x86_vm_state_encode(&a, blob, sizeof(blob));
	CHECK(n == IRQ_KIND_AT + 4 + 4);
	CHECK_EQ(get_le64(blob + MEM_AT), MiB(256));
	/* memory layouts ember does not make */
	static const uint64_t bad[][3] = {
		{MiB(16), MiB(16), 0},                 /* below the minimum */
		{MiB(256), MiB(128), MiB(128)},        /* high RAM below 3 GiB of RAM */
		{GiB(4), GiB(4), 0},                   /* low RAM into the MMIO hole */
		{GiB(4), GiB(3), GiB(2)},              /* parts that do not add up */
		{GiB(3) + MiB(2), GiB(3), 0},          /* high RAM missing */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memcpy(blob2, blob, n);
		for (unsigned k = 0; k < 3; k++)
			put64(blob2 + MEM_AT + 8 * k, bad[i][k]);
		reseal(blob2, n);
		refused(blob2, n, "section memory: RAM of");
	}
	memcpy(blob2, blob, n);
	blob2[IRQ_KIND_AT] = 2;
	reseal(blob2, n);
	refused(blob2, n, "section irqchip: IRQ chip kind 2 (0 split, 1 kernel)");
	/* KVM's IRQ chip said, but no chips in the section */
	memcpy(blob2, blob, n);
	blob2[IRQ_KIND_AT] = 1;
	reseal(blob2, n);
	refused(blob2, n, "section irqchip: 4 bytes long, should be");
	/* chips without KVM's IRQ chip */
	make(&a, true, MiB(256));
	size_t m = x86_vm_state_encode(&a, blob2, sizeof(blob2));
	CHECK(m > n);
	blob2[IRQ_KIND_AT] = 0;
	reseal(blob2, m);
	refused(blob2, m, "section irqchip: ");
	CHECK_EQ(get_le32(blob2 + IRQ_LEN_AT), 4 + 2 * 16 + (8 + 4 * 4 + 24 * 8) + 3 * 24 + 40);
}

static void restore_refuses_another_vm(void)
{
	struct vm vm;
	memset(&vm, 0, sizeof(vm));
	vm.vm_fd = -1; /* nothing may reach KVM */
	layout_init(&vm.mem.layout, MiB(512));
	make(&a, false, MiB(256));
	struct errbuf err = {{0}};
	CHECK_EQ(x86_vm_state_restore(&vm, &a, &err), -1);
	CHECK_STR_EQ(err.msg, "the saved VM had 256 MiB of RAM, this one has 512 MiB");
	layout_init(&vm.mem.layout, MiB(256));
	vm.kernel_irqchip = true;
	CHECK_EQ(x86_vm_state_restore(&vm, &a, &err), -1);
	CHECK_STR_EQ(err.msg, "the saved VM had --irqchip split, this one has --irqchip kernel");
	vm.kernel_irqchip = false;
	CHECK_EQ(x86_vm_state_restore(&vm, &a, &err), -1);
	CHECK(strncmp(err.msg, "KVM_SET_CLOCK: ", 15) == 0); /* the first ioctl, on fd -1 */
}

int main(void)
{
	RUN(round_trips);
	RUN(truncated_and_corrupted);
	RUN(hostile);
	RUN(restore_refuses_another_vm);
	return check_summary();
}
