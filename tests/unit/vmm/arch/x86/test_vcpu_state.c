/* test_vcpu_state.c: the encoding of an x86 vCPU's state (vcpu_state.c),
 * without /dev/kvm (tests/kvm/vcpu_state.sh saves and restores real vCPUs):
 * states of every size survive encoding and decoding byte for byte;
 * integers are little-endian; the encoder refuses states save cannot make
 * and buffers too small; the decoder refuses every truncation, every
 * corrupted byte, and well-formed blobs (their CRC recomputed) whose counts
 * or sizes are out of range or whose sections are out of place, each with
 * one line, leaving the state zeroed; random corruption never reads out of
 * bounds, and what it accepts encodes back to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/arch/x86/vcpu_state.h"
#include "vmm/core/snapshot_file.h"
#include "vmm/core/state_codec.h"

static struct x86_vcpu_state a, b, zero;
static uint8_t blob[X86_VCPU_STATE_MAX_BYTES], blob2[X86_VCPU_STATE_MAX_BYTES];

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}
static void fill(void *p, size_t n)
{
	uint8_t *q = p;
	for (size_t i = 0; i < n; i++)
		q[i] = (uint8_t)next();
}

/* Every member random (padding between members stays zero, as decoding
 * leaves it), with these counts and sizes. */
static void make(struct x86_vcpu_state *s, unsigned nmsrs, unsigned ncpuid, unsigned xsave,
		 unsigned nxcrs)
{
	memset(s, 0, sizeof(*s));
	fill(&s->tsc_khz, sizeof(s->tsc_khz));
	fill(&s->mp_state, sizeof(s->mp_state));
	fill(&s->regs, sizeof(s->regs));
	fill(&s->sregs, sizeof(s->sregs));
	s->xsave_size = xsave;
	fill(s->xsave, xsave);
	fill(&s->xcrs, sizeof(s->xcrs));
	s->xcrs.nr_xcrs = nxcrs;
	fill(&s->debugregs, sizeof(s->debugregs));
	fill(&s->lapic, sizeof(s->lapic));
	s->nmsrs = nmsrs;
	fill(s->msrs, nmsrs * sizeof(s->msrs[0]));
	fill(&s->events, sizeof(s->events));
	s->ncpuid = ncpuid;
	fill(s->cpuid, ncpuid * sizeof(s->cpuid[0]));
}

static bool one_line(const char *m)
{
	return m[0] && !strchr(m, '\n') && strncmp(m, "vCPU state: ", 12) == 0;
}

static void round_trips(void)
{
	static const unsigned shapes[][4] = {
		{0, 0, 4096, 0}, {3, 2, 4096, 1}, {40, 75, 4096, 1}, {1024, 256, 16384, 16},
		{17, 1, 11008, 2}, {X86_VCPU_MAX_MSRS, X86_VCPU_MAX_CPUID, X86_VCPU_XSAVE_MAX, KVM_MAX_XCRS},
	};
	for (size_t i = 0; i < ARRAY_SIZE(shapes); i++) {
		make(&a, shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3]);
		size_t n = x86_vcpu_state_encode(&a, blob, sizeof(blob));
		CHECK(n > 0 && n <= X86_VCPU_STATE_MAX_BYTES);
		struct errbuf err = {{0}};
		memset(&b, 0xaa, sizeof(b));
		CHECK_EQ(x86_vcpu_state_decode(blob, n, &b, &err), 0);
		CHECK_MEM_EQ(&a, &b, sizeof(a));
		/* and encodes to the same bytes */
		CHECK_EQ(x86_vcpu_state_encode(&b, blob2, sizeof(blob2)), n);
		CHECK_MEM_EQ(blob, blob2, n);
	}
}

/* The offset of section tag's payload in blob (n bytes), or 0. */
static size_t section(const uint8_t *p, size_t n, unsigned tag, size_t *len)
{
	for (size_t at = CODEC_HEADER_BYTES; at + CODEC_SECTION_BYTES <= n - 4;) {
		size_t l = get_le32(p + at + 4);
		if (get_le16(p + at) == tag) {
			*len = l;
			return at + CODEC_SECTION_BYTES;
		}
		at += CODEC_SECTION_BYTES + l;
	}
	return 0;
}

static void little_endian(void)
{
	make(&a, 1, 1, 4096, 1);
	a.regs.rax = 0x0102030405060708ull;
	a.tsc_khz = 2596120;
	a.msrs[0].index = 0x6e0;
	size_t n = x86_vcpu_state_encode(&a, blob, sizeof(blob)), len;
	CHECK(n > 0);
	CHECK_EQ(get_le32(blob), X86_VCPU_STATE_MAGIC);
	CHECK_MEM_EQ(blob, "EVCP", 4);
	CHECK_EQ(get_le16(blob + 4), X86_VCPU_STATE_VERSION);
	CHECK_EQ(get_le32(blob + 8), n);
	size_t at = section(blob, n, 1, &len);
	CHECK(at && len == 4);
	CHECK_EQ(get_le32(blob + at), 2596120);
	at = section(blob, n, 3, &len); /* regs: rax first */
	CHECK(at && len == 18 * 8);
	static const uint8_t rax[] = {8, 7, 6, 5, 4, 3, 2, 1};
	CHECK_MEM_EQ(blob + at, rax, 8);
	at = section(blob, n, 9, &len); /* msrs: the count, then index, reserved, data */
	CHECK(at && len == 4 + 16);
	CHECK_EQ(get_le32(blob + at), 1);
	CHECK_EQ(get_le32(blob + at + 4), 0x6e0);
	CHECK_EQ(get_le64(blob + at + 12), a.msrs[0].data);
}

static void encoder_refuses(void)
{
	make(&a, 3, 2, 4096, 1);
	size_t n = x86_vcpu_state_encode(&a, blob, sizeof(blob));
	CHECK(n > 0);
	for (size_t cap = 0; cap < n; cap += 7)
		CHECK_EQ(x86_vcpu_state_encode(&a, blob2, cap), 0);
	CHECK_EQ(x86_vcpu_state_encode(&a, blob2, n - 1), 0);
	CHECK_EQ(x86_vcpu_state_encode(&a, blob2, n), n);
	a.nmsrs = X86_VCPU_MAX_MSRS + 1;
	CHECK_EQ(x86_vcpu_state_encode(&a, blob, sizeof(blob)), 0);
	make(&a, 3, 2, 4096, 1);
	a.ncpuid = X86_VCPU_MAX_CPUID + 1;
	CHECK_EQ(x86_vcpu_state_encode(&a, blob, sizeof(blob)), 0);
	static const unsigned bad_xsave[] = {0, 4095, 4098, X86_VCPU_XSAVE_MAX + 4};
	for (size_t i = 0; i < ARRAY_SIZE(bad_xsave); i++) {
		make(&a, 3, 2, 4096, 1);
		a.xsave_size = bad_xsave[i];
		CHECK_EQ(x86_vcpu_state_encode(&a, blob, sizeof(blob)), 0);
	}
	make(&a, 3, 2, 4096, KVM_MAX_XCRS + 1);
	CHECK_EQ(x86_vcpu_state_encode(&a, blob, sizeof(blob)), 0);
}

static void reseal(uint8_t *p, size_t n)
{
	uint32_t crc = snap_crc32c(0, p, n - 4);
	for (unsigned i = 0; i < 4; i++)
		p[n - 4 + i] = (uint8_t)(crc >> (8 * i));
}

/* Decoding p must fail with a line containing want (NULL: any), and leave
 * the state zeroed. */
static void refused(const uint8_t *p, size_t n, const char *want)
{
	struct errbuf err = {{0}};
	memset(&b, 0x55, sizeof(b));
	if (x86_vcpu_state_decode(p, n, &b, &err) == 0) {
		check_fail(__FILE__, __LINE__, "%zu bytes decoded (want \"%s\")", n, want ? want : "");
		return;
	}
	if (!one_line(err.msg))
		check_fail(__FILE__, __LINE__, "not one line: \"%s\"", err.msg);
	else if (want && !strstr(err.msg, want))
		check_fail(__FILE__, __LINE__, "\"%s\" does not say \"%s\"", err.msg, want);
	if (memcmp(&b, &zero, sizeof(b)))
		check_fail(__FILE__, __LINE__, "a refused decode left state behind");
}

static void truncated_and_corrupted(void)
{
	make(&a, 3, 2, 4096, 1);
	size_t n = x86_vcpu_state_encode(&a, blob, sizeof(blob));
	CHECK(n > 0);
	for (size_t k = 0; k < n && !check_state.case_failed; k++)
		refused(blob, k, NULL);
	for (size_t i = 0; i < n && !check_state.case_failed; i++) {
		memcpy(blob2, blob, n);
		blob2[i] ^= (uint8_t)(1u << (i % 8));
		refused(blob2, n, NULL);
	}
	refused(blob, 11, "too short");
	memcpy(blob2, blob, n);
	blob2[n / 2] ^= 0x10;
	refused(blob2, n, "CRC");
	/* one more byte, the length adjusted: the CRC no longer matches */
	memcpy(blob2, blob, n);
	blob2[n] = 0;
	blob2[8] = (uint8_t)(n + 1);
	blob2[9] = (uint8_t)((n + 1) >> 8);
	refused(blob2, n + 1, "CRC");
}

/* Change a u32 at off in a copy of blob, reseal it, and expect want. */
static void hostile_u32(size_t n, size_t off, uint32_t v, const char *want)
{
	memcpy(blob2, blob, n);
	for (unsigned i = 0; i < 4; i++)
		blob2[off + i] = (uint8_t)(v >> (8 * i));
	reseal(blob2, n);
	refused(blob2, n, want);
}

static void hostile_counts_and_sections(void)
{
	make(&a, 3, 2, 4096, 1);
	size_t n = x86_vcpu_state_encode(&a, blob, sizeof(blob)), len;
	CHECK(n > 0);
	size_t msrs = section(blob, n, 9, &len), cpuid = section(blob, n, 11, &len);
	size_t xsave = section(blob, n, 5, &len), xcrs = section(blob, n, 6, &len);
	size_t regs = section(blob, n, 3, &len);
	CHECK(msrs && cpuid && xsave && xcrs && regs);
	hostile_u32(n, msrs, 0xffffffff, "section msrs: 4294967295 MSRs, at most 1024");
	hostile_u32(n, msrs, 1025, "1025 MSRs, at most 1024");
	hostile_u32(n, msrs, 4, "section msrs: 52 bytes long, should be 68");
	hostile_u32(n, msrs, 2, "section msrs: 52 bytes long, should be 36");
	hostile_u32(n, cpuid, 257, "section cpuid: 257 CPUID entries, at most 256");
	hostile_u32(n, cpuid, 1, "section cpuid: 84 bytes long, should be 44");
	hostile_u32(n, xsave, 100, "section xsave: an XSAVE area of 100 bytes");
	hostile_u32(n, xsave, 4098, "an XSAVE area of 4098 bytes");
	hostile_u32(n, xsave, 0x80000000, "an XSAVE area of 2147483648 bytes");
	hostile_u32(n, xsave, 4100, "section xsave: 4100 bytes long, should be 4104");
	hostile_u32(n, xcrs, 17, "section xcrs: 17 XCRs, at most 16");
	hostile_u32(n, regs - 4, 18 * 8 - 1, "section regs: 143 bytes long, should be 144");
	hostile_u32(n, regs - 4, 0xfffffff0, "section regs: truncated: 4294967280 bytes long");
	hostile_u32(n, regs - 8, 4, "section 4 where section regs (3) should be");
	hostile_u32(n, 4, 2, "version 2, ember reads version 1");
	hostile_u32(n, 0, 0x534d5645, "bad magic"); /* the VM state's */
	hostile_u32(n, 8, (uint32_t)n - 1, "the header says");
	/* a blob made of the first sections only */
	struct codec_writer w;
	cw_begin(&w, blob2, sizeof(blob2), X86_VCPU_STATE_MAGIC, X86_VCPU_STATE_VERSION);
	cw_section(&w, 1);
	cw_u32(&w, 1000);
	size_t m = cw_finish(&w);
	refused(blob2, m, "truncated: section mp_state (2) is missing");
	/* an empty one */
	cw_begin(&w, blob2, sizeof(blob2), X86_VCPU_STATE_MAGIC, X86_VCPU_STATE_VERSION);
	m = cw_finish(&w);
	refused(blob2, m, "section tsc_khz (1) is missing");
}

/* Random corruption with a valid CRC: no crash (ASan), and what decodes
 * encodes back to the same bytes. */
static void random_corruption(void)
{
	make(&a, 5, 4, 4096, 1);
	size_t n = x86_vcpu_state_encode(&a, blob, sizeof(blob));
	CHECK(n > 0);
	struct errbuf err;
	unsigned accepted = 0;
	for (unsigned round = 0; round < 3000; round++) {
		memcpy(blob2, blob, n);
		unsigned k = 1 + (unsigned)(next() % 4);
		for (unsigned j = 0; j < k; j++) {
			/* mostly the headers and counts, where the structure is */
			size_t at = next() % 2 ? next() % 64 : next() % (n - 4);
			if (next() % 3 == 0)
				at = (size_t)(n - 4 - 1 - next() % 200);
			blob2[at] = (uint8_t)next();
		}
		size_t len = n;
		if (next() % 8 == 0)
			len = (size_t)(next() % n) + 4;
		reseal(blob2, len);
		if (x86_vcpu_state_decode(blob2, len, &b, &err) == 0) {
			accepted++;
			CHECK_EQ(x86_vcpu_state_encode(&b, blob, sizeof(blob)), len);
			CHECK_MEM_EQ(blob, blob2, len);
			CHECK_EQ(x86_vcpu_state_encode(&a, blob, sizeof(blob)), n);
		} else {
			CHECK(one_line(err.msg));
		}
	}
	CHECK(accepted > 0); /* changes inside values are taken: KVM judges those */
}

int main(void)
{
	RUN(round_trips);
	RUN(little_endian);
	RUN(encoder_refuses);
	RUN(truncated_and_corrupted);
	RUN(hostile_counts_and_sections);
	RUN(random_corruption);
	return check_summary();
}
