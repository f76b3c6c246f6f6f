/* kernel_bzimage.c: parse a bzImage's setup header (Linux x86 boot protocol,
 * Documentation/arch/x86/boot.rst) for a 64-bit boot, reading only its first
 * KiB through a reader; the protected-mode kernel after the setup sectors is
 * the one segment kernel_load reads into guest RAM. */
#include <asm/bootparam.h>
#include <stddef.h>
#include <string.h>

#include "vmm/arch/x86/kernel_image.h"
#include "vmm/arch/x86/layout.h"

#define HDR(field) offsetof(struct boot_params, hdr.field)
#define BZ_MIN_PROTOCOL 0x020c /* xloadflags, 64-bit entry */

int kernel_parse_bzimage(const struct reader *r, struct kernel_image *k, struct errbuf *err)
{
	uint64_t len = r->size;
	uint8_t buf[1024];
	if (len < sizeof(buf)) {
		err_set(err, "truncated bzImage (no setup header)");
		return -1;
	}
	int e = reader_read(r, 0, buf, sizeof(buf));
	if (e) {
		err_set(err, "cannot read the file: %s", reader_error(e));
		return -1;
	}
	if (get_le16(buf + HDR(boot_flag)) != 0xaa55 || get_le32(buf + HDR(header)) != 0x53726448) {
		err_set(err, "no Linux boot-protocol header");
		return -1;
	}
	uint16_t version = get_le16(buf + HDR(version));
	if (version < BZ_MIN_PROTOCOL) {
		err_set(err, "boot protocol %u.%02u too old (need 2.12 or later)", version >> 8,
			version & 0xff);
		return -1;
	}
	uint16_t xload = get_le16(buf + HDR(xloadflags));
	if (!(xload & XLF_KERNEL_64)) {
		err_set(err, "bzImage has no 64-bit entry point");
		return -1;
	}
	if (!(buf[HDR(loadflags)] & LOADED_HIGH)) {
		err_set(err, "bzImage is a zImage (not loaded high)");
		return -1;
	}
	unsigned setup_sects = buf[HDR(setup_sects)];
	if (setup_sects == 0)
		setup_sects = 4;
	uint64_t setup_size = ((uint64_t)setup_sects + 1) * 512;
	if (setup_size >= len) {
		err_set(err, "truncated bzImage (setup larger than file)");
		return -1;
	}
	/* The setup header runs from 0x1f1 to 0x202 + the byte at 0x201. */
	size_t hdr_end = 0x202 + buf[0x201];
	if (hdr_end > sizeof(struct setup_header) + HDR(setup_sects))
		hdr_end = sizeof(struct setup_header) + HDR(setup_sects);
	uint32_t init_size = get_le32(buf + HDR(init_size));
	uint64_t pm_size = len - setup_size;

	memset(k, 0, sizeof(*k));
	k->kind = KERNEL_BZIMAGE;
	k->len = len;
	k->protocol = version;
	k->hdr_off = HDR(setup_sects);
	k->hdr_len = hdr_end - HDR(setup_sects);
	memcpy(k->hdr, buf + k->hdr_off, k->hdr_len);
	k->entry = LAYOUT_HIMEM + 0x200;
	k->nseg = 1;
	k->seg[0] = (struct kernel_segment){
		.paddr = LAYOUT_HIMEM, .offset = setup_size, .filesz = pm_size,
		.memsz = init_size > pm_size ? init_size : pm_size,
	};
	k->end = LAYOUT_HIMEM + k->seg[0].memsz;
	uint32_t cmdline_size = get_le32(buf + HDR(cmdline_size));
	k->cmdline_max = cmdline_size ? cmdline_size : 255;
	if (k->cmdline_max > KERNEL_CMDLINE_DEFAULT_MAX)
		k->cmdline_max = KERNEL_CMDLINE_DEFAULT_MAX;
	k->initrd_max = (uint64_t)get_le32(buf + HDR(initrd_addr_max)) + 1;
	/* The payload, when the header reaches its fields and they point
	 * inside the protected-mode part (a bzImage boots without them). */
	if (hdr_end >= HDR(payload_length) + 4) {
		uint64_t poff = get_le32(buf + HDR(payload_offset));
		uint64_t plen = get_le32(buf + HDR(payload_length));
		if (plen && poff <= pm_size && plen <= pm_size - poff) {
			k->payload_off = setup_size + poff;
			k->payload_len = plen;
		}
	}
	return 0;
}
