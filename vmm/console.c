/* console.c: the user's end of the serial console, and the terminal mode. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "vmm/console.h"

static struct termios saved_tio;
static volatile sig_atomic_t tio_saved;

void console_restore(void)
{
	if (tio_saved) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
		tio_saved = 0;
	}
}

int console_open(struct console *c, enum console_mode mode, const char *path, struct errbuf *err)
{
	c->in_fd = c->out_fd = -1;
	c->owns_out = false;
	switch (mode) {
	case CONSOLE_STDIO:
		c->in_fd = STDIN_FILENO;
		c->out_fd = STDOUT_FILENO;
		break;
	case CONSOLE_NONE:
		break;
	case CONSOLE_FILE:
		c->out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (c->out_fd < 0) {
			err_set(err, "--console file:%s: %s", path, strerror(errno));
			return -1;
		}
		c->owns_out = true;
		break;
	}
	return 0;
}

void console_raw(struct console *c)
{
	if (c->in_fd != STDIN_FILENO || !isatty(STDIN_FILENO))
		return;
	if (tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return;
	tio_saved = 1;
	atexit(console_restore); /* and vmm/signals.c's handlers on fatal signals */
	struct termios raw = saved_tio;
	cfmakeraw(&raw);
	tcsetattr(STDIN_FILENO, TCSANOW, &raw);
}

void console_close(struct console *c)
{
	console_restore();
	if (c->owns_out && c->out_fd >= 0)
		close(c->out_fd);
	c->out_fd = -1;
}
