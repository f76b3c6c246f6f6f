/* snapshot_file.h: the snapshot state file, as bytes (pure functions on
 * buffers; the only I/O is snap_file_load, which reads a file of at most
 * SNAP_FILE_MAX bytes and parses it).
 *
 * A snapshot file is hostile input: it may be truncated, corrupted, written
 * by another version of ember or made by hand. snap_file_parse checks all of
 * it before it hands out anything, and a refusal is one line in the errbuf
 * and changes nothing (the struct snap_file is written on success only).
 *
 * Format version 1, every integer little-endian, encoded field by field:
 *
 *   header, 28 bytes
 *     0  magic "EMBERSNP"                 8 bytes
 *     8  format version                   u32 (SNAP_FILE_VERSION)
 *    12  flags                            u32 (none defined: must be 0)
 *    16  section count                    u32 (at most SNAP_SECTIONS_MAX)
 *    20  file length, trailer included    u64 (at most SNAP_FILE_MAX)
 *   sections, one after the other (no padding), each
 *     0  tag: 1-16 printable ASCII characters (0x21-0x7e), NUL-padded
 *                                         16 bytes
 *    16  section version                  u32 (the device's own state format)
 *    20  payload length                   u64
 *    28  payload
 *   trailer, 4 bytes
 *     0  CRC-32C (Castagnoli) of every byte before the trailer   u32
 *
 * Nothing else: no bytes between the last section and the trailer, none
 * after it. So a file has one encoding, and writing the sections of a parsed
 * file again gives the same bytes.
 *
 * A tag names what a section holds: a device's id ("com1", "vda", "net0")
 * or a kind of VM-wide state ("vm", "cpu0"). Tags are unique in a file.
 *
 * Sections are numbered from 1 in the error messages ("section 3 ('vda')"). */
#ifndef EMBER_SNAPSHOT_FILE_H
#define EMBER_SNAPSHOT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/lib/util.h"

#define SNAP_MAGIC "EMBERSNP"
#define SNAP_MAGIC_SIZE 8
#define SNAP_FILE_VERSION 1u
#define SNAP_HEADER_SIZE 28
#define SNAP_SECTION_HEADER_SIZE 28
#define SNAP_TRAILER_SIZE 4
#define SNAP_TAG_SIZE 16
/* The largest file ember writes or reads (device and vCPU state, not RAM). */
#define SNAP_FILE_MAX MiB(64)
/* The most sections in a file: a VM's devices (DEVICE_LIST_MAX), its vCPUs
 * (254) and VM-wide state, with room to spare. */
#define SNAP_SECTIONS_MAX 1024u

/* CRC-32C (Castagnoli, reflected, polynomial 0x82f63b78) of len bytes,
 * continuing from crc (0 to start): crc32c("123456789") is 0xe3069283. */
uint32_t snap_crc32c(uint32_t crc, const void *buf, size_t len);

/* ---- writing ---- */

/* A file being built in a growing buffer. Start with snap_writer_init, add
 * sections, then snap_writer_finish; snap_writer_free at any point. A
 * refused call changes nothing. */
struct snap_writer {
	uint8_t *buf;
	size_t len, cap;   /* bytes written (header included), allocated */
	uint32_t count;    /* sections finished */
	bool open;         /* between snap_writer_begin and _end / _cancel */
	size_t open_cap;   /* the payload room the open section asked for */
};

void snap_writer_init(struct snap_writer *w);
void snap_writer_free(struct snap_writer *w);

/* A section with len bytes of data. 0, or -1 with e set (a bad or duplicate
 * tag, too many sections, the file would pass SNAP_FILE_MAX, no memory). */
int snap_writer_add(struct snap_writer *w, const char *tag, uint32_t version, const void *data,
		    size_t len, struct errbuf *e);

/* A section whose payload is written in place (a device's save op): room
 * for cap bytes, or NULL with e set (as snap_writer_add). Then
 * snap_writer_end with the bytes used (at most cap), or snap_writer_cancel
 * to drop the section. */
void *snap_writer_begin(struct snap_writer *w, const char *tag, uint32_t version, size_t cap,
			struct errbuf *e);
/* 0, or -1 with e set when no section is open or len > its cap (the section
 * stays open). */
int snap_writer_end(struct snap_writer *w, size_t len, struct errbuf *e);
void snap_writer_cancel(struct snap_writer *w);

/* The finished file: its header and checksum written, the buffer handed to
 * the caller (*out, *len; free() it) and w emptied as by snap_writer_init.
 * 0, or -1 with e set (a section still open, no memory). */
int snap_writer_finish(struct snap_writer *w, uint8_t **out, size_t *len, struct errbuf *e);

/* ---- reading ---- */

/* A parsed file: points into the caller's buffer, which must outlive it. */
struct snap_file {
	const uint8_t *buf;
	size_t len;
	uint32_t version;  /* the format version (SNAP_FILE_VERSION) */
	uint32_t count;    /* sections */
};

/* One section of a parsed file. */
struct snap_section {
	char tag[SNAP_TAG_SIZE + 1];  /* NUL-terminated */
	uint32_t version;
	const uint8_t *data;          /* into the file's buffer */
	uint64_t len;
};

/* Check all of buf (len bytes) as a snapshot file. 0 and *f set, or -1 with
 * e set to one line starting "snapshot: " that says what is wrong and
 * where, and *f untouched. */
int snap_file_parse(const void *buf, size_t len, struct snap_file *f, struct errbuf *e);

/* The section tagged tag: true with its payload, length and version (any of
 * the pointers may be NULL), or false when the file has none. */
bool snap_file_find(const struct snap_file *f, const char *tag, const uint8_t **data,
		    uint64_t *len, uint32_t *version);

/* The sections in file order: start with *pos = 0; true and *s filled, or
 * false after the last. */
bool snap_file_next(const struct snap_file *f, size_t *pos, struct snap_section *s);

/* Read the file at path (at most SNAP_FILE_MAX bytes, refused unread when
 * larger) and parse it: 0 with *buf (malloc'd, free() it after f's last use)
 * and *f set, or -1 with e set ("snapshot PATH: ...") and nothing allocated. */
int snap_file_load(const char *path, uint8_t **buf, struct snap_file *f, struct errbuf *e);

#endif
