/* cmdline.c: kernel command-line assembly. Linux splits its command line at
 * blanks outside double quotes and strips the quotes, so a guest word with a
 * blank is wrapped in quotes; a word holding a quote or a control character
 * cannot be carried and is refused. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vmm/cmdline.h"

struct sbuf {
	char *p;
	size_t len, cap;
	bool overflow;
};

static void put(struct sbuf *b, const char *s, size_t n)
{
	if (b->overflow || n >= b->cap - b->len) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_sep(struct sbuf *b, const char *s)
{
	if (!s || !*s)
		return;
	if (b->len)
		put(b, " ", 1);
	put(b, s, strlen(s));
}

/* The parts (NULL or empty ones skipped), blank-separated, then the words. */
static int build(const char *const parts[], size_t nparts, char *const words[], size_t nwords,
		 char *out, size_t cap, struct errbuf *err)
{
	struct sbuf b = {out, 0, cap, cap == 0};
	if (cap)
		out[0] = '\0';
	for (size_t i = 0; i < nparts; i++)
		puts_sep(&b, parts[i]);
	if (nwords)
		puts_sep(&b, "--");
	for (size_t i = 0; i < nwords; i++) {
		const char *w = words[i];
		bool blank = *w == '\0';
		for (const char *c = w; *c; c++) {
			if (*c == '"' || (unsigned char)*c < 0x20 || *c == 0x7f) {
				/* the reason first, and only the start of a long word,
				 * so that the message is not cut before it says why */
				err_set(err, "guest command word %zu holds a double quote or control character, which a kernel command line cannot carry (word: \"%.40s%s\")",
					i + 1, w, strlen(w) > 40 ? "..." : "");
				return -1;
			}
			if (*c == ' ')
				blank = true;
		}
		put(&b, " ", 1);
		if (blank)
			put(&b, "\"", 1);
		put(&b, w, strlen(w));
		if (blank)
			put(&b, "\"", 1);
	}
	if (b.overflow) {
		err_set(err, "kernel command line too long");
		return -1;
	}
	return 0;
}

int cmdline_build(const char *base, const char *user, char *const words[], size_t nwords,
		  char *out, size_t cap, struct errbuf *err)
{
	const char *parts[] = {base, user};
	return build(parts, 2, words, nwords, out, cap, err);
}

int cmdline_for_config(const struct vm_config *c, char *out, size_t cap, struct errbuf *err)
{
	char root[sizeof("root=PARTUUID=") + VM_PARTUUID_MAX];
	root[0] = '\0';
	if (c->root_disk)
		snprintf(root, sizeof(root), "root=%s%s", c->root_partuuid[0] ? "PARTUUID=" : "/dev/vda",
			 c->root_partuuid);
	const char *parts[] = {
		c->cmdline_replaces_default ? NULL : CMDLINE_DEFAULT,
		c->cmdline,
		root,
		c->root_disk ? (c->disks[0].ro ? "ro" : "rw") : NULL,
	};
	return build(parts, ARRAY_SIZE(parts), c->guest_argv, c->guest_argc, out, cap, err);
}
