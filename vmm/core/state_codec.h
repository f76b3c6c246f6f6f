/* state_codec.h: the byte encoding of saved VM state (vCPUs, the VM, later
 * devices), which a snapshot file carries and which comes back from a file
 * ember must not trust.
 *
 * A blob is a header, sections, and a CRC:
 *
 *	magic    u32   which state this is (each kind has its own)
 *	version  u16   of that kind's layout; a reader takes only its own
 *	flags    u16   0
 *	length   u32   of the whole blob, CRC included
 *	then sections, in the kind's order, each
 *	  tag    u16   the section's number (1, 2, ...)
 *	  zero   u16   0
 *	  length u32   of its payload, which follows
 *	crc      u32   CRC-32C of every byte before it (the snapshot file's,
 *	               snap_crc32c: vmm/core/snapshot_file.h)
 *
 * Every integer is little-endian, written field by field from a table of the
 * struct's fields (struct codec_layout), so the encoding depends neither on
 * the host's byte order nor on a struct's padding. The reader checks every
 * length against what is left before reading, stops at the first problem and
 * says what it was in one line (err), naming the blob and the section.
 *
 * A blob is one section's payload in the snapshot file (vmm/core/
 * snapshot_file.h), which has its own checksum; the blob's own header and
 * CRC let it be checked, tested and fuzzed on its own, and name it in
 * messages. */
#ifndef EMBER_STATE_CODEC_H
#define EMBER_STATE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/lib/util.h"

#define CODEC_HEADER_BYTES 12
#define CODEC_SECTION_BYTES 8
#define CODEC_TRAILER_BYTES 4

/* One field of a struct: count integers of size bytes (1, 2, 4 or 8) at off. */
struct codec_field {
	uint32_t off;
	uint16_t size;
	uint16_t count;
};
/* A struct as its fields, in the order they are encoded. */
struct codec_layout {
	const struct codec_field *fields;
	unsigned n;
};
#define CODEC_FIELD(T, m) {offsetof(T, m), sizeof(((T *)0)->m), 1}
#define CODEC_ARRAY(T, m) \
	{offsetof(T, m), sizeof(((T *)0)->m[0]), sizeof(((T *)0)->m) / sizeof(((T *)0)->m[0])}
#define CODEC_LAYOUT(fields) {fields, ARRAY_SIZE(fields)}

/* Bytes a struct of layout l takes encoded. */
size_t codec_layout_bytes(const struct codec_layout *l);

/* Writing: the calls never write past cap; a blob that does not fit makes
 * cw_finish() return 0. */
struct codec_writer {
	uint8_t *buf;
	size_t cap, len;
	size_t section; /* where the open section's header is */
	bool overflow;
};
void cw_begin(struct codec_writer *w, uint8_t *buf, size_t cap, uint32_t magic, uint16_t version);
void cw_section(struct codec_writer *w, uint16_t tag); /* closes the previous one */
void cw_u32(struct codec_writer *w, uint32_t v);
void cw_u64(struct codec_writer *w, uint64_t v);
void cw_bytes(struct codec_writer *w, const void *p, size_t n);
void cw_struct(struct codec_writer *w, const void *s, const struct codec_layout *l);
/* Close the last section, fill in the length and the CRC: the blob's length,
 * or 0 when it did not fit in cap. */
size_t cw_finish(struct codec_writer *w);

/* Reading. Each call fails (-1, err set, and so does every later call) when
 * what it reads is not there. */
struct codec_reader {
	const uint8_t *buf;
	size_t len, at;
	size_t end;           /* of the open section's payload */
	const char *what;     /* the blob's name, for messages: "vCPU state" */
	const char *section;  /* the open section's name */
	struct errbuf *err;
	bool failed;
};
/* Check the header (magic, version, flags, length == len) and the CRC. */
int cr_begin(struct codec_reader *r, const uint8_t *buf, size_t len, uint32_t magic,
	     uint16_t version, const char *what, struct errbuf *err);
/* Open the next section, which must be tag; the previous one must have been
 * read to its end. *payload gets its length. */
int cr_section(struct codec_reader *r, uint16_t tag, const char *name, size_t *payload);
int cr_u32(struct codec_reader *r, uint32_t *v);
int cr_u64(struct codec_reader *r, uint64_t *v);
int cr_bytes(struct codec_reader *r, void *p, size_t n);
int cr_struct(struct codec_reader *r, void *s, const struct codec_layout *l);
/* The section's payload must be exactly n bytes. */
int cr_expect(struct codec_reader *r, size_t payload, size_t n);
/* The last section read to its end, and nothing but the CRC after it. */
int cr_end(struct codec_reader *r);
/* Fail with a message of the caller's (prefixed with the blob and section). */
int cr_fail(struct codec_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
