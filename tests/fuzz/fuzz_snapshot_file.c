/* fuzz_snapshot_file.c: libFuzzer target for the snapshot state file
 * (vmm/core/snapshot_file.c). The input is a would-be snapshot file, parsed
 * twice: as it is, and as a copy whose magic, format version, file length
 * and checksum are made right (random bytes almost never have them, and
 * without them the parser never reaches the sections).
 *
 * Checked on each parse: a refusal is one line starting "snapshot: " and
 * leaves the struct snap_file as it was; an accepted file has at most
 * SNAP_SECTIONS_MAX sections, each inside the buffer with a printable tag
 * that snap_file_find finds (tags are unique); its sections written again
 * with the writer (which must take them all) give the same bytes, which
 * parse to the same sections; and the configuration a restore takes from
 * it (check_config). ASan sees reads past the input. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/harness.h"
#include "vmm/core/snapshot_file.h"
#include "vmm/snapshot.h"

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void tag_ok(const char *t)
{
	size_t n = strlen(t);
	ASSERT(n >= 1 && n <= SNAP_TAG_SIZE);
	for (size_t i = 0; i < n; i++)
		ASSERT(t[i] >= 0x21 && t[i] <= 0x7e);
}

/* The configuration a restore reads from a parsed file (vmm/snapshot.c: the
 * "config" JSON and the "ember" section): refused in one line with the
 * configuration untouched, or accepted within ember's limits. First with a
 * memory file of 0 bytes; when only its size was wrong, again with the size
 * the configuration wants. */
static void check_config(const struct snap_file *f)
{
	struct snapshot_in si = {.buf = NULL, .f = *f, .mem_fd = -1, .mem_bytes = 0};
	struct errbuf e;
	for (int round = 0; round < 2; round++) {
		static struct fc_config fc, before;
		fc_config_init(&fc);
		memcpy(&before, &fc, sizeof(fc));
		e.msg[0] = '\0';
		if (snapshot_config(&si, &fc, &e) == 0) {
			ASSERT(fc.vm.cpus >= 1 && fc.vm.cpus <= VM_MAX_CPUS);
			ASSERT(fc.vm.ndisks <= VM_MAX_DISKS && fc.vm.nnets <= VM_MAX_NETS);
			ASSERT(si.mem_bytes == MiB(fc.vm.mem_mib));
			for (unsigned i = 0; i < fc.vm.nnets; i++)
				ASSERT(fc.vm.nets[i].mac_set && fc.vm.nets[i].queues >= 1 &&
				       fc.vm.nets[i].queues <= NET_MAX_PAIRS);
			fc_config_free(&fc);
			return;
		}
		ASSERT(e.msg[0] && !strchr(e.msg, '\n'));
		ASSERT(memcmp(&fc, &before, sizeof(fc)) == 0);
		fc_config_free(&fc);
		unsigned long long mib;
		if (round || sscanf(e.msg, "snapshot: the memory file has 0 bytes, the VM %llu MiB", &mib) != 1)
			return;
		si.mem_bytes = MiB(mib);
	}
}

static void check(const uint8_t *buf, size_t len)
{
	struct snap_file f, before;
	struct errbuf e;
	memset(&f, 0x5a, sizeof(f));
	before = f;
	e.msg[0] = '\0';
	if (snap_file_parse(buf, len, &f, &e) < 0) {
		ASSERT(memcmp(&f, &before, sizeof(f)) == 0);
		ASSERT(strncmp(e.msg, "snapshot: ", 10) == 0 && e.msg[10] && !strchr(e.msg, '\n'));
		return;
	}
	ASSERT(f.buf == buf && f.len == len && f.version == SNAP_FILE_VERSION);
	ASSERT(f.count <= SNAP_SECTIONS_MAX);
	ASSERT(len >= SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE && len <= SNAP_FILE_MAX);

	struct snap_writer w;
	snap_writer_init(&w);
	struct snap_section s;
	size_t pos = 0;
	uint32_t n = 0;
	while (snap_file_next(&f, &pos, &s)) {
		n++;
		ASSERT(n <= f.count);
		tag_ok(s.tag);
		ASSERT(s.data >= buf + SNAP_HEADER_SIZE + SNAP_SECTION_HEADER_SIZE);
		ASSERT(s.len <= (uint64_t)(buf + len - SNAP_TRAILER_SIZE - s.data));
		const uint8_t *d;
		uint64_t dl;
		uint32_t v;
		ASSERT(snap_file_find(&f, s.tag, &d, &dl, &v));
		ASSERT(d == s.data && dl == s.len && v == s.version);
		ASSERT(snap_writer_add(&w, s.tag, s.version, s.data, (size_t)s.len, &e) == 0);
	}
	ASSERT(n == f.count);

	uint8_t *out;
	size_t olen;
	ASSERT(snap_writer_finish(&w, &out, &olen, &e) == 0);
	ASSERT(olen == len && memcmp(out, buf, len) == 0);
	struct snap_file g;
	ASSERT(snap_file_parse(out, olen, &g, &e) == 0);
	ASSERT(g.count == f.count);
	struct snap_section t;
	size_t pos_f = 0, pos_g = 0;
	while (snap_file_next(&f, &pos_f, &s)) {
		ASSERT(snap_file_next(&g, &pos_g, &t));
		ASSERT(strcmp(s.tag, t.tag) == 0 && s.version == t.version && s.len == t.len);
		ASSERT(memcmp(s.data, t.data, (size_t)s.len) == 0);
	}
	ASSERT(!snap_file_next(&g, &pos_g, &t));
	free(out);
	check_config(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size);
	if (size < SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE || size > SNAP_FILE_MAX)
		return 0;
	uint8_t *b = malloc(size);
	if (!b)
		return 0;
	memcpy(b, data, size);
	memcpy(b, SNAP_MAGIC, SNAP_MAGIC_SIZE);
	put32(b + 8, SNAP_FILE_VERSION);
	put32(b + 20, (uint32_t)size);
	put32(b + 24, 0);
	put32(b + size - SNAP_TRAILER_SIZE, snap_crc32c(0, b, size - SNAP_TRAILER_SIZE));
	check(b, size);
	free(b);
	return 0;
}
