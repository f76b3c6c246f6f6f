/* fuzz_state.c: libFuzzer target for the decoders of the saved state a
 * snapshot file brings back (vmm/arch/x86/vcpu_state.c and vm_state.c, on
 * vmm/core/state_codec.c). The input:
 *   [0] bit 0: 0 a vCPU's state, 1 the VM's
 *   [1..] the blob; its length field and CRC are filled in from its own
 *         length first, so that inputs get past them to the sections
 * Checked: a refusal has a one-line message naming the blob and leaves the
 * state zeroed; an accepted blob's counts and sizes are in range and it
 * encodes back to the same bytes. ASan sees any read outside the blob. */
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/harness.h"
#include "vmm/arch/x86/vcpu_state.h"
#include "vmm/arch/x86/vm_state.h"
#include "vmm/core/snapshot_file.h"
#include "vmm/core/state_codec.h"

static struct x86_vcpu_state vs, vzero;
static struct x86_vm_state ms, mzero;
static uint8_t again[X86_VCPU_STATE_MAX_BYTES];

static void put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size - 1 > X86_VCPU_STATE_MAX_BYTES)
		return 0;
	bool vm = data[0] & 1;
	size_t n = size - 1;
	uint8_t *blob = fuzz_ram(X86_VCPU_STATE_MAX_BYTES);
	memcpy(blob, data + 1, n);
	if (n >= CODEC_HEADER_BYTES + CODEC_TRAILER_BYTES) {
		put32(blob + 8, (uint32_t)n);
		put32(blob + n - 4, snap_crc32c(0, blob, n - 4));
	}
	struct errbuf err = {{0}};
	if (vm) {
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
