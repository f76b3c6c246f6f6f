/* cmdline.h: assemble the guest kernel command line from ember's defaults, the
 * user's --cmdline (or the API's boot_args), the root device and the guest
 * command given after `--`. */
#ifndef EMBER_CMDLINE_H
#define EMBER_CMDLINE_H

#include <stddef.h>
#include "vmm/config.h"
#include "vmm/lib/util.h"

/* ember's part: serial console, reboot through the keyboard controller,
 * reboot (so ember exits) rather than hang on panic, a quiet boot; and what
 * spares the guest work that ember's platform makes useless (bench/
 * boot_profile.sh measures it; later words win, so --cmdline can undo any):
 *  - cryptomgr.notests: no self-tests of every crypto algorithm the kernel
 *    registers at boot (crypto_algapi_init's ~200 ms in the lab; the
 *    algorithms themselves are unchanged);
 *  - i8042.noaux, i8042.nomux: the keyboard controller has a keyboard (for
 *    SendCtrlAltDel) and no mouse port or multiplexer to probe;
 *  - 8250.nr_uarts=1: COM1 is the only UART; no probing of COM2-4;
 *  - noreplace-smp: a kernel that finds one CPU rewrites every `lock`
 *    prefix in its text (tens of thousands, each a text_poke through a
 *    temporary page table) to spare uncontended atomics a few cycles; with
 *    this it keeps them, as it does with two CPUs or more. That rewrite was
 *    ~200 ms of a 1.6 s boot in the lab (bench/boot_sample.sh);
 *  - pci=noearly: no scan of bus 0 before the PCI core runs, for chipset
 *    quirks (Intel, AMD, NVIDIA, ATI and VIA bridges, GART apertures, USB
 *    debug ports) that ember's host bridge and devices are not: ~10 ms of
 *    port I/O exits in the lab. The PCI core's scan is unchanged. */
#define CMDLINE_DEFAULT                                                                   \
	"console=ttyS0 reboot=k panic=-1 quiet cryptomgr.notests i8042.noaux i8042.nomux " \
	"8250.nr_uarts=1 noreplace-smp pci=noearly"

/* base + " " + user + " -- " + words (quoted where they hold blanks).
 * Returns 0, or -1 with err set (a word the kernel cannot carry, or too long). */
int cmdline_build(const char *base, const char *user, char *const words[], size_t nwords,
		  char *out, size_t cap, struct errbuf *err);

/* A configuration's command line: CMDLINE_DEFAULT (none when
 * c->cmdline_replaces_default) + c->cmdline + the root device's
 * "root=/dev/vda ro|rw" (or "root=PARTUUID=... ro|rw") when c->root_disk +
 * " -- " + the guest words. Returns 0, or -1 with err set as cmdline_build. */
int cmdline_for_config(const struct vm_config *c, char *out, size_t cap, struct errbuf *err);

#endif
