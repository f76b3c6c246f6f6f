/* fuzz_state.c: libFuzzer target for the decoders of the saved state a
 * snapshot file brings back (vmm/arch/x86/vcpu_state.c and vm_state.c, and
 * the legacy devices' in vmm/devices/serial.c, ioapic.c and i8042.c, on
 * vmm/core/state_codec.c). The input:
 *   [0] % 5: 0 a vCPU's state, 1 the VM's, 2 the UART's, 3 the IOAPIC's,
 *       4 the i8042's
 *   [1..] the blob; its length field and CRC are filled in from its own
 *         length first, so that inputs get past them to the sections
 * Checked: a refusal has a one-line message naming the blob and leaves the
 * state zeroed; an accepted blob's counts and sizes are in range and it
 * encodes back to the same bytes; a device restored from an accepted blob
 * takes the guest's accesses (ASan and UBSan watch them). ASan sees any read
 * outside the blob. */
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/harness.h"
#include "vmm/arch/x86/vcpu_state.h"
#include "vmm/arch/x86/vm_state.h"
#include "vmm/core/snapshot_file.h"
#include "vmm/core/state_codec.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/ioapic.h"
#include "vmm/devices/serial.h"

static struct x86_vcpu_state vs, vzero;
static struct x86_vm_state ms, mzero;
static uint8_t again[X86_VCPU_STATE_MAX_BYTES];

/* Each error line starts with its blob's name. */
static void check_refusal(const struct errbuf *err, const char *prefix)
{
	ASSERT(err->msg[0] && !strchr(err->msg, '\n') &&
	       !strncmp(err->msg, prefix, strlen(prefix)));
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* The devices a decoded state goes into, their IRQ lines and MSIs. */
static bool line;
static void set_line(void *ctx, bool level)
{
	(void)ctx;
	line = level;
}
static int no_msi(void *ctx, const struct kvm_msi *msi)
{
	(void)ctx, (void)msi;
	return 1;
}
static const struct ioapic_ops msi_ops = {no_msi};
static int no_routing(void *ctx, const struct kvm_irq_routing *t)
{
	(void)ctx, (void)t;
	return 0;
}
static int no_irqfd(void *ctx, const struct kvm_irqfd *f)
{
	(void)ctx, (void)f;
	return 0;
}
static const struct gsi_ops route_ops = {no_routing, no_irqfd};

static void serial_case(const uint8_t *blob, size_t n, struct errbuf *err)
{
	static struct serial u;
	struct serial_state st;
	if (serial_state_decode(blob, n, &st, err)) {
		check_refusal(err, "serial state: ");
		ASSERT(all_zero(&st, sizeof(st)));
		return;
	}
	ASSERT(st.rx_head < SERIAL_RX_FIFO && st.rx_count <= SERIAL_RX_FIFO);
	ASSERT(serial_state_encode(&st, again, sizeof(again)) == n && !memcmp(again, blob, n));
	line = false;
	serial_init(&u, -1, set_line, NULL, -1);
	ASSERT(serial_restore(&u, blob, n, err) == 0 && line == st.irq_level);
	/* Every register read, the FIFO drained (the divisor latch closed
	 * first), as the guest would. */
	uint8_t lcr = 0x03;
	serial_io(&u, 3, &lcr, 1, true);
	for (unsigned i = 0; i < SERIAL_RX_FIFO + 8; i++) {
		uint8_t v;
		serial_io(&u, i % 8, &v, 1, false);
		serial_io(&u, 0, &v, 1, false);
	}
	ASSERT(u.rx_count == 0 && !u.irq_level == !line);
	pthread_mutex_destroy(&u.lock);
}

static void ioapic_case(const uint8_t *blob, size_t n, struct errbuf *err)
{
	static struct ioapic a;
	static struct gsi_routes routes;
	struct ioapic_state st;
	if (ioapic_state_decode(blob, n, &st, err)) {
		check_refusal(err, "IOAPIC state: ");
		ASSERT(all_zero(&st, sizeof(st)));
		return;
	}
	ASSERT(st.regsel <= 0xff && !(st.lines >> IOAPIC_PINS));
	for (unsigned p = 0; p < IOAPIC_PINS; p++)
		ASSERT(!(st.rte[p] & IOAPIC_RTE_REMOTE_IRR) || (st.rte[p] & IOAPIC_RTE_LEVEL));
	ASSERT(ioapic_state_encode(&st, again, sizeof(again)) == n && !memcmp(again, blob, n));
	if (gsi_routes_init(&routes, &route_ops, NULL, false))
		return;
	ioapic_init(&a, &msi_ops, NULL, &routes);
	ASSERT(ioapic_restore(&a, blob, n, err) == 0);
	/* Every register read, every pin's EOI and lines. */
	for (uint32_t r = 0; r < 256; r++) {
		uint32_t v = r;
		ioapic_mmio(&a, IOAPIC_REGSEL, (uint8_t *)&v, 4, true);
		ioapic_mmio(&a, IOAPIC_WINDOW, (uint8_t *)&v, 4, false);
	}
	for (unsigned p = 0; p < IOAPIC_PINS; p++) {
		ioapic_eoi(&a, (uint8_t)st.rte[p]);
		ioapic_set_irq(&a, p, !(st.lines & (1u << p)));
	}
	ioapic_destroy(&a);
	gsi_routes_destroy(&routes);
}

static void i8042_case(const uint8_t *blob, size_t n, struct errbuf *err)
{
	static struct i8042 k;
	struct i8042_state st;
	if (i8042_state_decode(blob, n, &st, err)) {
		check_refusal(err, "i8042 state: ");
		ASSERT(all_zero(&st, sizeof(st)));
		return;
	}
	ASSERT(st.head < I8042_FIFO && st.count <= I8042_FIFO);
	ASSERT(i8042_state_encode(&st, again, sizeof(again)) == n && !memcmp(again, blob, n));
	line = false;
	i8042_init(&k, set_line, NULL, NULL);
	ASSERT(i8042_restore(&k, blob, n, err) == 0 && line == st.irq_level);
	/* The byte a pending command waits for, then the FIFO drained. */
	uint8_t v = 0xf4;
	i8042_io(&k, I8042_DATA_PORT, &v, true);
	for (unsigned i = 0; i <= I8042_FIFO; i++) {
		i8042_io(&k, I8042_CMD_PORT, &v, false);
		i8042_io(&k, I8042_DATA_PORT, &v, false);
	}
	ASSERT(k.count == 0 && !line);
	i8042_ctrl_alt_del(&k);
	pthread_mutex_destroy(&k.lock);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size - 1 > X86_VCPU_STATE_MAX_BYTES)
		return 0;
	unsigned kind = data[0] % 5;
	size_t n = size - 1;
	uint8_t *blob = fuzz_ram(X86_VCPU_STATE_MAX_BYTES);
	memcpy(blob, data + 1, n);
	if (n >= CODEC_HEADER_BYTES + CODEC_TRAILER_BYTES) {
		put32(blob + 8, (uint32_t)n);
		put32(blob + n - 4, snap_crc32c(0, blob, n - 4));
	}
	struct errbuf err = {{0}};
	if (kind == 2) {
		serial_case(blob, n, &err);
		return 0;
	}
	if (kind == 3) {
		ioapic_case(blob, n, &err);
		return 0;
	}
	if (kind == 4) {
		i8042_case(blob, n, &err);
		return 0;
	}
	if (kind == 1) {
		if (x86_vm_state_decode(blob, n, &ms, &err)) {
			ASSERT(err.msg[0] && !strchr(err.msg, '\n') && !strncmp(err.msg, "VM state: ", 10));
			ASSERT(memcmp(&ms, &mzero, sizeof(ms)) == 0);
			return 0;
		}
		ASSERT(ms.irqchip_kernel <= 1 && ms.mem.ram_size >= LAYOUT_MIN_MEM);
		ASSERT(ms.mem.low_size + ms.mem.high_size == ms.mem.ram_size);
		ASSERT(x86_vm_state_encode(&ms, again, sizeof(again)) == n);
	} else {
		if (x86_vcpu_state_decode(blob, n, &vs, &err)) {
			ASSERT(err.msg[0] && !strchr(err.msg, '\n') && !strncmp(err.msg, "vCPU state: ", 12));
			ASSERT(memcmp(&vs, &vzero, sizeof(vs)) == 0);
			return 0;
		}
		ASSERT(vs.nmsrs <= X86_VCPU_MAX_MSRS && vs.ncpuid <= X86_VCPU_MAX_CPUID);
		ASSERT(vs.xsave_size >= X86_VCPU_XSAVE_MIN && vs.xsave_size <= X86_VCPU_XSAVE_MAX);
		ASSERT(vs.xcrs.nr_xcrs <= KVM_MAX_XCRS);
		ASSERT(x86_vcpu_state_encode(&vs, again, sizeof(again)) == n);
	}
	ASSERT(memcmp(again, blob, n) == 0);
	return 0;
}
