/* vq_cursor.c: the byte cursor over a chain's segments, and copies and
 * iovecs built on it (see vq_cursor.h). */
#include "virtio/vq_cursor.h"

#include <string.h>

void vq_cursor_init(struct vq_cursor *k, const struct vq_buf *seg, unsigned n, uint64_t off,
		    uint64_t len)
{
	k->seg = seg;
	k->n = n;
	k->i = 0;
	k->off = off;
	k->left = len;
}

bool vq_cursor_next(struct vq_cursor *k, uint8_t **p, size_t *len)
{
	while (k->left && k->i < k->n) {
		const struct vq_buf *b = &k->seg[k->i];
		if (k->off >= b->len) { /* still skipping, or at its end */
			k->off -= b->len;
			k->i++;
			continue;
		}
		uint64_t take = b->len - k->off;
		if (take > k->left)
			take = k->left;
		*p = (uint8_t *)b->addr + k->off;
		*len = (size_t)take;
		k->left -= take;
		k->off += take;
		return true;
	}
	return false;
}

bool vq_seg_read(const struct vq_buf *seg, unsigned n, uint64_t off, void *dst, size_t len)
{
	struct vq_cursor k;
	uint8_t *d = dst, *p;
	size_t take;
	vq_cursor_init(&k, seg, n, off, len);
	while (vq_cursor_next(&k, &p, &take)) {
		memcpy(d, p, take);
		d += take;
	}
	/* Only the copy is used: the compiler must not re-read guest memory. */
	__asm__ __volatile__("" ::: "memory");
	return k.left == 0;
}

bool vq_seg_write(const struct vq_buf *seg, unsigned n, uint64_t off, const void *src,
		  size_t len)
{
	struct vq_cursor k;
	const uint8_t *s = src;
	uint8_t *p;
	size_t take;
	vq_cursor_init(&k, seg, n, off, len);
	while (vq_cursor_next(&k, &p, &take)) {
		memcpy(p, s, take);
		s += take;
	}
	return k.left == 0;
}

int vq_seg_iov(const struct vq_buf *seg, unsigned n, uint64_t off, uint64_t len,
	       struct iovec *iov, unsigned cap)
{
	struct vq_cursor k;
	uint8_t *p;
	size_t take;
	unsigned c = 0;
	vq_cursor_init(&k, seg, n, off, len);
	while (vq_cursor_next(&k, &p, &take)) {
		if (c == cap)
			return -1;
		iov[c].iov_base = p;
		iov[c].iov_len = take;
		c++;
	}
	return k.left ? -1 : (int)c;
}
