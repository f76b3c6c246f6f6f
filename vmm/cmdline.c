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

/* Firecracker's clients put these in boot_args (Firecracker's devices are on
 * MMIO); ember's devices are on PCI, and its platform is described by ACPI. */
static const char *const dropped_words[] = {"pci=off", "acpi=off"};

/* user without the dropped words before its " -- " (if any), into buf; warns
 * once per word dropped. Returns buf, or user when there was nothing to drop. */
static const char *drop_words(const char *user, char *buf, size_t cap)
{
	if (!user)
		return NULL;
	size_t n = strlen(user);
	if (n >= cap)
		return user; /* longer than any kernel takes: refused further on */
	const char *init = strstr(user, " -- ");
	size_t kernel_end = init ? (size_t)(init - user) : n;
	size_t o = 0;
	bool dropped = false;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && user[j] != ' ')
			j++;
		bool drop = false;
		for (size_t d = 0; i < kernel_end && d < ARRAY_SIZE(dropped_words); d++) {
			if (strlen(dropped_words[d]) == j - i && !strncmp(user + i, dropped_words[d], j - i)) {
				log_warn("boot_args: dropping '%s': ember's devices need %s",
					 dropped_words[d], d == 0 ? "PCI" : "ACPI");
				drop = dropped = true;
			}
		}
		if (!drop && o + (j - i) + 1 < cap) {
			if (o && buf[o - 1] != ' ')
				buf[o++] = ' ';
			memcpy(buf + o, user + i, j - i);
			o += j - i;
		}
		while (j < n && user[j] == ' ') { /* keep runs of blanks after the kernel part */
			if (j >= kernel_end && o + 1 < cap)
				buf[o++] = ' ';
			j++;
		}
		i = j;
	}
	buf[o] = '\0';
	return dropped ? buf : user;
}

/* Where the word "--" (outside double quotes) starts in s, or NULL: what
 * follows it is init's, not the kernel's. */
static const char *init_part(const char *s)
{
	bool quoted = false;
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && p[0] == '-' && p[1] == '-' && (p == s || p[-1] == ' ') &&
			 (p[2] == ' ' || p[2] == '\0'))
			return p;
	}
	return NULL;
}

int cmdline_for_config(const struct vm_config *c, char *out, size_t cap, struct errbuf *err)
{
	char root[sizeof("root=PARTUUID=") + VM_PARTUUID_MAX];
	root[0] = '\0';
	if (c->root_disk)
		snprintf(root, sizeof(root), "root=%s%s", c->root_partuuid[0] ? "PARTUUID=" : "/dev/vda",
			 c->root_partuuid);
	static char user[4096], kernel[4096];
	const char *u = c->cmdline_replaces_default ? drop_words(c->cmdline, user, sizeof(user))
						    : c->cmdline;
	/* The root words are the kernel's: before a "--" in the user's part
	 * (a Firecracker client's boot_args may carry init's arguments). */
	const char *rest = u ? init_part(u) : NULL;
	if (rest && c->root_disk) {
		size_t n = (size_t)(rest - u);
		if (n >= sizeof(kernel)) {
			err_set(err, "kernel command line too long");
			return -1;
		}
		memcpy(kernel, u, n);
		while (n && kernel[n - 1] == ' ')
			n--;
		kernel[n] = '\0';
		u = kernel;
	} else {
		rest = NULL;
	}
	const char *parts[] = {
		c->cmdline_replaces_default ? NULL : CMDLINE_DEFAULT,
		u,
		root,
		c->root_disk ? (c->disks[0].ro ? "ro" : "rw") : NULL,
		rest,
	};
	return build(parts, ARRAY_SIZE(parts), c->guest_argv, c->guest_argc, out, cap, err);
}
