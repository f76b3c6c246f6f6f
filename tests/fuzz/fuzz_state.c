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
 * outside the blob.
 *
 * [0] 0x20-0x22 (the virtio block, below; before the % 5): the saved state
 * of a PCI function (0x20), MSI-X (0x21) and the virtio-pci transport
 * (0x22), against a transport built once (3 queues of up to 256, 4 vectors)
 * over 1 MiB of guest RAM: a refusal is one line and leaves the state
 * zeroed; an accepted one encodes back to the same bytes, and the
 * transport's, applied to a fresh transport and saved again, gives them
 * too. */
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/harness.h"
#include "virtio/virtio_pci.h"
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

/* ---- virtio: PCI function, MSI-X, virtio-pci transport ---- */
static int vp_fake_routing(void *c, const struct kvm_irq_routing *t) { (void)c, (void)t; return 0; }
static int vp_fake_irqfd(void *c, const struct kvm_irqfd *f) { (void)c, (void)f; return 0; }
static const struct gsi_ops vp_fake_ops = {vp_fake_routing, vp_fake_irqfd};
static struct guest_mem vp_gm;
static struct gsi_routes vp_routes;
static struct virtio_pci vp_t, vp_t2;
static struct pci_config_state vp_pcs, vp_pcs_zero;
static struct msix_saved vp_ms, vp_ms_zero;
static struct virtio_pci_saved vp_s, vp_s2, vp_s_zero;
static uint8_t vp_again[64 * 1024];
static const uint8_t vp_cfg[8];
#define VP_FEATURES ((1ull << 28) | (1ull << 29) | (1ull << 6))

static int vp_init(struct virtio_pci *t)
{
	struct errbuf e;
	return virtio_pci_init(t, 2, 0x018000, VP_FEATURES, 3, 256, vp_cfg, sizeof(vp_cfg), NULL,
			       NULL, &vp_gm, &vp_routes, -1, &e);
}

static int fuzz_virtio(unsigned kind, const uint8_t *blob, size_t n)
{
	static bool ready;
	if (!ready) {
		uint8_t *ram = calloc(1, MiB(1)); /* fuzz_ram is the vCPU blob's */
		if (!ram)
			abort();
		gm_wrap(&vp_gm, ram, MiB(1));
		if (gsi_routes_init(&vp_routes, &vp_fake_ops, NULL, false) || vp_init(&vp_t) ||
		    vp_init(&vp_t2))
			__builtin_trap();
		ready = true;
	}
	struct errbuf err = {{0}};
	size_t m = 0;
	if (kind == 0x20) {
		if (pci_config_state_decode(blob, n, &vp_t.pci, &vp_pcs, &err)) {
			ASSERT(err.msg[0] && !strchr(err.msg, '\n') && !strncmp(err.msg, "PCI function state: ", 20));
			ASSERT(memcmp(&vp_pcs, &vp_pcs_zero, sizeof(vp_pcs)) == 0);
			return 0;
		}
		m = pci_config_state_encode(&vp_pcs, vp_again, sizeof(vp_again));
	} else if (kind == 0x21) {
		if (msix_state_decode(blob, n, &vp_t.msix, &vp_ms, &err)) {
			ASSERT(err.msg[0] && !strchr(err.msg, '\n') && !strncmp(err.msg, "MSI-X state: ", 13));
			ASSERT(memcmp(&vp_ms, &vp_ms_zero, sizeof(vp_ms)) == 0);
			return 0;
		}
		ASSERT(vp_ms.nvec == vp_t.msix.nvec);
		m = msix_state_encode(&vp_ms, vp_again, sizeof(vp_again));
	} else {
		if (virtio_pci_state_decode(blob, n, &vp_t, &vp_s, &err)) {
			ASSERT(err.msg[0] && !strchr(err.msg, '\n') && !strncmp(err.msg, "virtio-pci state: ", 18));
			ASSERT(memcmp(&vp_s, &vp_s_zero, sizeof(vp_s)) == 0);
			return 0;
		}
		m = virtio_pci_state_encode(&vp_s, vp_again, sizeof(vp_again));
		ASSERT(m == n && memcmp(vp_again, blob, n) == 0);
		/* applied to a second transport (built once: GSIs are not given
		 * back; apply sets every saved field), saved again: the same bytes */
		virtio_pci_state_apply(&vp_t2, &vp_s);
		for (unsigned i = 0; i < vp_t2.nq; i++)
			ASSERT(!vp_t2.q[i].enabled || vp_t2.q[i].vq.ready);
		virtio_pci_state_save(&vp_t2, &vp_s2);
		m = virtio_pci_state_encode(&vp_s2, vp_again, sizeof(vp_again));
	}
	ASSERT(m == n && memcmp(vp_again, blob, n) == 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size - 1 > X86_VCPU_STATE_MAX_BYTES)
		return 0;
	if (data[0] >= 0x20 && data[0] <= 0x22) { /* the virtio block */
		size_t vn = size - 1;
		if (vn > sizeof(vp_again))
			return 0;
		uint8_t *vb = malloc(vn ? vn : 1); /* exactly the blob: ASan sees past it */
		if (!vb)
			abort();
		memcpy(vb, data + 1, vn);
		if (vn >= CODEC_HEADER_BYTES + CODEC_TRAILER_BYTES) {
			put32(vb + 8, (uint32_t)vn);
			put32(vb + vn - 4, snap_crc32c(0, vb, vn - 4));
		}
		fuzz_virtio(data[0], vb, vn);
		free(vb);
		return 0;
	}
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
