/* cmdline.h: assemble the guest kernel command line from ember's defaults, the
 * user's --cmdline and the guest command given after `--`. */
#ifndef EMBER_CMDLINE_H
#define EMBER_CMDLINE_H

#include <stddef.h>
#include "vmm/lib/util.h"

/* ember's part: serial console, reboot through the keyboard controller,
 * reboot (so ember exits) rather than hang on panic, a quiet boot. */
#define CMDLINE_DEFAULT "console=ttyS0 reboot=k panic=-1 quiet"

/* base + " " + user + " -- " + words (quoted where they hold blanks).
 * Returns 0, or -1 with err set (a word the kernel cannot carry, or too long). */
int cmdline_build(const char *base, const char *user, char *const words[], size_t nwords,
		  char *out, size_t cap, struct errbuf *err);

#endif
