/* vq_cursor.h: a byte cursor over a chain's segments (struct vq_buf arrays, as
 * in struct vq_chain: the readable seg[0 .. nout) or the writable
 * seg[nout .. nout+nin)), so a device sees one byte stream however the driver
 * split it. Built on it: copying bytes out of segments (once: only the copy is
 * used), copying bytes into them, and iovecs for a byte range.
 *
 * The segments point into guest memory (vq_pop checked them); every range is
 * bound-checked against the segments' lengths: one that does not fit fails
 * and nothing is promised about what was copied. */
#ifndef EMBER_VQ_CURSOR_H
#define EMBER_VQ_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/virtqueue.h"

struct vq_cursor {
	const struct vq_buf *seg;
	unsigned n, i;          /* segments, the current one */
	uint64_t off;           /* bytes into seg[i] (or still to skip) */
	uint64_t left;          /* bytes of the range not yet handed out */
};

/* A cursor for the `len` bytes starting `off` bytes into seg[0 .. n). */
void vq_cursor_init(struct vq_cursor *k, const struct vq_buf *seg, unsigned n, uint64_t off,
		    uint64_t len);

/* The next piece of the range, inside one segment: true with *p and *len
 * (> 0) set, false when the range is done or the segments end first (then
 * k->left says how many bytes were missing). Empty segments are skipped. */
bool vq_cursor_next(struct vq_cursor *k, uint8_t **p, size_t *len);

/* Copy len bytes starting `off` bytes into seg[0 .. n) into dst, reading
 * guest memory once. False when the segments hold fewer bytes. */
bool vq_seg_read(const struct vq_buf *seg, unsigned n, uint64_t off, void *dst, size_t len);

/* Copy len bytes of src to `off` bytes into seg[0 .. n). False when the
 * segments hold fewer bytes. */
bool vq_seg_write(const struct vq_buf *seg, unsigned n, uint64_t off, const void *src,
		  size_t len);

/* iovecs (at most cap) for the `len` bytes starting `off` bytes into
 * seg[0 .. n): their number, or -1 when the segments hold fewer bytes or the
 * range needs more than cap iovecs. */
int vq_seg_iov(const struct vq_buf *seg, unsigned n, uint64_t off, uint64_t len,
	       struct iovec *iov, unsigned cap);

#endif
