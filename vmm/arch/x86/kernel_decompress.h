/* kernel_decompress.h: the compressed kernel inside a bzImage (its payload),
 * decompressed by the Debian libraries: LZ4 legacy frames (liblz4), XZ
 * (liblzma), zstd (libzstd) and gzip (zlib). Memory to memory, and every
 * byte a library allocates comes from an arena the caller gives (guest RAM,
 * given back afterwards), so ember's heap never holds the kernel. Input is
 * hostile: no call writes outside out[0, out_cap) or the arena. */
#ifndef EMBER_KERNEL_DECOMPRESS_H
#define EMBER_KERNEL_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>
#include "vmm/lib/util.h"

enum kz_format { KZ_UNKNOWN, KZ_LZ4, KZ_XZ, KZ_ZSTD, KZ_GZIP };

/* The format whose magic starts p (n bytes). */
enum kz_format kz_detect(const uint8_t *p, size_t n);
const char *kz_name(enum kz_format f);

/* The compressed stream's length in a payload of plen bytes: Linux appends
 * the decompressed size (le32) to every format but gzip, whose own trailer
 * ends with it. 0 when plen is too short for either. */
size_t kz_stream_len(enum kz_format f, size_t plen);

/* Decompress the stream in[0, in_len) into out (at most out_cap bytes),
 * the library's memory taken from arena[0, arena_len) (64-byte aligned
 * bump allocation; nothing is freed until the call returns). 0 with
 * *out_len the bytes written, or -1 with err set (corrupt or truncated
 * input, more output than out_cap, an arena too small, bytes after a gzip or
 * XZ stream; zstd decodes every frame in the input). */
int kz_decompress(enum kz_format f, const uint8_t *in, size_t in_len, uint8_t *out,
		  size_t out_cap, size_t *out_len, uint8_t *arena, size_t arena_len,
		  struct errbuf *err);

#endif
