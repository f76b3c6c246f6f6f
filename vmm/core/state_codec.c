/* state_codec.c: saved state's byte encoding (see state_codec.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmm/core/snapshot_file.h"
#include "vmm/core/state_codec.h"

size_t codec_layout_bytes(const struct codec_layout *l)
{
	size_t n = 0;
	for (unsigned i = 0; i < l->n; i++)
		n += (size_t)l->fields[i].size * l->fields[i].count;
	return n;
}

static void put_le(uint8_t *p, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Room for n more bytes: a pointer to them, or NULL (and overflow) when not. */
static uint8_t *cw_room(struct codec_writer *w, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return NULL;
	}
	uint8_t *p = w->buf + w->len;
	w->len += n;
	return p;
}

static void cw_le(struct codec_writer *w, uint64_t v, unsigned size)
{
	uint8_t *p = cw_room(w, size);
	if (p)
		put_le(p, v, size);
}

void cw_begin(struct codec_writer *w, uint8_t *buf, size_t cap, uint32_t magic, uint16_t version)
{
	*w = (struct codec_writer){.buf = buf, .cap = cap};
	cw_le(w, magic, 4);
	cw_le(w, version, 2);
	cw_le(w, 0, 2);
	cw_le(w, 0, 4); /* the length, filled in by cw_finish */
}

static void cw_close_section(struct codec_writer *w)
{
	if (w->section && !w->overflow)
		put_le(w->buf + w->section + 4, w->len - w->section - CODEC_SECTION_BYTES, 4);
	w->section = 0;
}

void cw_section(struct codec_writer *w, uint16_t tag)
{
	cw_close_section(w);
	size_t at = w->len;
	cw_le(w, tag, 2);
	cw_le(w, 0, 2);
	cw_le(w, 0, 4);
	if (!w->overflow)
		w->section = at;
}

void cw_u32(struct codec_writer *w, uint32_t v) { cw_le(w, v, 4); }
void cw_u64(struct codec_writer *w, uint64_t v) { cw_le(w, v, 8); }

void cw_bytes(struct codec_writer *w, const void *p, size_t n)
{
	uint8_t *d = cw_room(w, n);
	if (d && n)
		memcpy(d, p, n);
}

void cw_struct(struct codec_writer *w, const void *s, const struct codec_layout *l)
{
	const uint8_t *b = s;
	for (unsigned i = 0; i < l->n; i++) {
		const struct codec_field *f = &l->fields[i];
		for (unsigned k = 0; k < f->count; k++) {
			uint64_t v = 0;
			/* The host's integer of f->size bytes, whatever its order. */
			switch (f->size) {
			case 1: v = b[f->off + k]; break;
			case 2: { uint16_t x; memcpy(&x, b + f->off + 2 * k, 2); v = x; break; }
			case 4: { uint32_t x; memcpy(&x, b + f->off + 4 * k, 4); v = x; break; }
			case 8: memcpy(&v, b + f->off + 8 * k, 8); break;
			}
			cw_le(w, v, f->size);
		}
	}
}

size_t cw_finish(struct codec_writer *w)
{
	cw_close_section(w);
	if (w->overflow || w->cap - w->len < CODEC_TRAILER_BYTES)
		return 0;
	put_le(w->buf + 8, w->len + CODEC_TRAILER_BYTES, 4);
	uint32_t crc = snap_crc32c(0, w->buf, w->len);
	cw_le(w, crc, 4);
	return w->len;
}

int cr_fail(struct codec_reader *r, const char *fmt, ...)
{
	if (r->failed)
		return -1;
	r->failed = true;
	char msg[ERRBUF_SIZE];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->section)
		err_set(r->err, "%s: section %s: %s", r->what, r->section, msg);
	else
		err_set(r->err, "%s: %s", r->what, msg);
	return -1;
}

int cr_begin(struct codec_reader *r, const uint8_t *buf, size_t len, uint32_t magic,
	     uint16_t version, const char *what, struct errbuf *err)
{
	*r = (struct codec_reader){.buf = buf, .len = len, .what = what, .err = err};
	if (len < CODEC_HEADER_BYTES + CODEC_TRAILER_BYTES)
		return cr_fail(r, "%zu bytes, too short for a header", len);
	if (get_le(buf, 4) != magic)
		return cr_fail(r, "bad magic %#x (want %#x): not this kind of state",
			       (unsigned)get_le(buf, 4), magic);
	unsigned v = (unsigned)get_le(buf + 4, 2);
	if (v != version)
		return cr_fail(r, "version %u, ember reads version %u", v, version);
	if (get_le(buf + 6, 2))
		return cr_fail(r, "unknown flags %#x", (unsigned)get_le(buf + 6, 2));
	uint64_t n = get_le(buf + 8, 4);
	if (n != len)
		return cr_fail(r, "the header says %llu bytes, there are %zu",
			       (unsigned long long)n, len);
	uint32_t want = (uint32_t)get_le(buf + len - CODEC_TRAILER_BYTES, 4);
	uint32_t got = snap_crc32c(0, buf, len - CODEC_TRAILER_BYTES);
	if (want != got)
		return cr_fail(r, "CRC %#010x does not match its bytes' %#010x: corrupted", want, got);
	r->at = r->end = CODEC_HEADER_BYTES;
	return 0;
}

/* Where the sections stop: the CRC. */
static size_t body_end(const struct codec_reader *r)
{
	return r->len - CODEC_TRAILER_BYTES;
}

static int cr_close_section(struct codec_reader *r)
{
	if (r->failed)
		return -1;
	if (r->at != r->end)
		return cr_fail(r, "%zu bytes left unread", r->end - r->at);
	return 0;
}

int cr_section(struct codec_reader *r, uint16_t tag, const char *name, size_t *payload)
{
	if (cr_close_section(r))
		return -1;
	r->section = NULL;
	if (body_end(r) - r->at < CODEC_SECTION_BYTES)
		return cr_fail(r, "truncated: section %s (%u) is missing", name, tag);
	const uint8_t *p = r->buf + r->at;
	unsigned t = (unsigned)get_le(p, 2);
	if (t != tag)
		return cr_fail(r, "section %u where section %s (%u) should be", t, name, tag);
	r->section = name;
	if (get_le(p + 2, 2))
		return cr_fail(r, "reserved header field %#x", (unsigned)get_le(p + 2, 2));
	uint64_t n = get_le(p + 4, 4);
	r->at += CODEC_SECTION_BYTES;
	if (n > body_end(r) - r->at)
		return cr_fail(r, "truncated: %llu bytes long, %zu left",
			       (unsigned long long)n, body_end(r) - r->at);
	r->end = r->at + n;
	*payload = n;
	return 0;
}

static const uint8_t *cr_take(struct codec_reader *r, size_t n)
{
	if (r->failed)
		return NULL;
	if (n > r->end - r->at) {
		cr_fail(r, "truncated: %zu more bytes needed, %zu left", n, r->end - r->at);
		return NULL;
	}
	const uint8_t *p = r->buf + r->at;
	r->at += n;
	return p;
}

int cr_u32(struct codec_reader *r, uint32_t *v)
{
	const uint8_t *p = cr_take(r, 4);
	if (!p)
		return -1;
	*v = (uint32_t)get_le(p, 4);
	return 0;
}

int cr_u64(struct codec_reader *r, uint64_t *v)
{
	const uint8_t *p = cr_take(r, 8);
	if (!p)
		return -1;
	*v = get_le(p, 8);
	return 0;
}

int cr_bytes(struct codec_reader *r, void *d, size_t n)
{
	const uint8_t *p = cr_take(r, n);
	if (!p)
		return -1;
	if (n)
		memcpy(d, p, n);
	return 0;
}

int cr_struct(struct codec_reader *r, void *s, const struct codec_layout *l)
{
	const uint8_t *p = cr_take(r, codec_layout_bytes(l));
	if (!p)
		return -1;
	uint8_t *b = s;
	for (unsigned i = 0; i < l->n; i++) {
		const struct codec_field *f = &l->fields[i];
		for (unsigned k = 0; k < f->count; k++) {
			uint64_t v = get_le(p, f->size);
			p += f->size;
			switch (f->size) {
			case 1: b[f->off + k] = (uint8_t)v; break;
			case 2: { uint16_t x = (uint16_t)v; memcpy(b + f->off + 2 * k, &x, 2); break; }
			case 4: { uint32_t x = (uint32_t)v; memcpy(b + f->off + 4 * k, &x, 4); break; }
			case 8: memcpy(b + f->off + 8 * k, &v, 8); break;
			}
		}
	}
	return 0;
}

int cr_expect(struct codec_reader *r, size_t payload, size_t n)
{
	if (r->failed)
		return -1;
	if (payload != n)
		return cr_fail(r, "%zu bytes long, should be %zu", payload, n);
	return 0;
}

int cr_end(struct codec_reader *r)
{
	if (cr_close_section(r))
		return -1;
	r->section = NULL;
	if (r->at != body_end(r))
		return cr_fail(r, "%zu bytes after the last section", body_end(r) - r->at);
	return 0;
}
