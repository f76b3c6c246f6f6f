/* console.h: connect the guest's serial console to the user: stdin/stdout
 * (terminal in raw mode while the VM runs), a file, or nothing. */
#ifndef EMBER_CONSOLE_H
#define EMBER_CONSOLE_H

#include "vmm/config.h"
#include "vmm/lib/util.h"

struct console {
	int in_fd;  /* -1: no input */
	int out_fd; /* -1: output dropped */
	bool owns_out;
};

int console_open(struct console *c, enum console_mode mode, const char *path, struct errbuf *err);
/* Put the terminal in raw mode (when stdin is one); restored at exit and on
 * fatal signals (vmm/signals.c). */
void console_raw(struct console *c);
/* The terminal's mode back as it was (async-signal-safe: tcsetattr). */
void console_restore(void);
void console_close(struct console *c);

#endif
