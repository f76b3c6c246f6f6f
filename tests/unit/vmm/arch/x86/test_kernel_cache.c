/* test_kernel_cache.c: the cache of unpacked bzImage kernels
 * (kernel_cache.c), in a fresh temporary directory: an entry stored is
 * found again, byte for byte, by the same bzImage file and by no other (a
 * rewritten bzImage misses); the directory is made private (0700, entries
 * 0600) and one others may write to is refused, as is one of another
 * user's (root's is trusted: a shared cache); entries are as readable as
 * their directory, and one others may write to is not used; only the most recently
 * used KERNEL_CACHE_KEEP entries stay, of each kind (vmlinux and initrd
 * entries apart), all of them with keep_all; an entry that is not a regular file
 * is not used; temporary files a crash left go once stale. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/arch/x86/kernel_cache.h"

static char top[64];

static void make_top(void)
{
	snprintf(top, sizeof(top), "/tmp/ember-kcache.XXXXXX");
	if (!mkdtemp(top))
		abort();
}

static void remove_tree(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		abort();
}

/* A "bzImage": a file of its own (its own inode) holding text, a clock
 * tick old (so not racy). */
static int make_bz(const char *name, const char *text)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", top, name);
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	usleep(25000);
	return fd;
}

static unsigned entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	unsigned n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	if (d)
		closedir(d);
	return n;
}

static void stores_and_finds(void)
{
	make_top();
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/a/b/kernels", top);
	int bz = make_bz("bz", "a bzImage");
	struct kernel_cache kc;
	struct errbuf why = {{0}};
	struct reader r;
	int opened = kernel_cache_open(&kc, dir, bz, KERNEL_CACHE_VMLINUX, &why);
	int miss = kernel_cache_lookup(&kc, &r);
	static const char vmlinux[] = "\177ELF and the rest of a vmlinux";
	int stored = kernel_cache_store(&kc, vmlinux, sizeof(vmlinux), &why);
	int hit = kernel_cache_lookup(&kc, &r);
	char back[sizeof(vmlinux)] = "";
	int read = hit == 0 ? reader_read(&r, 0, back, sizeof(back)) : -1;
	uint64_t size = hit == 0 ? r.size : 0;
	if (hit == 0)
		reader_close(&r);
	struct stat d, e;
	char entry[256];
	snprintf(entry, sizeof(entry), "%s/%s", dir, kc.name);
	int st = stat(dir, &d) | stat(entry, &e);
	kernel_cache_close(&kc);
	close(bz);
	remove_tree(top);
	CHECK_EQ(opened, 0);
	CHECK_EQ(miss, -1);
	CHECK_EQ(stored, 0);
	CHECK_EQ(hit, 0);
	CHECK_EQ(read, 0);
	CHECK_EQ(size, sizeof(vmlinux));
	CHECK(memcmp(back, vmlinux, sizeof(vmlinux)) == 0);
	CHECK_EQ(st, 0);
	CHECK_EQ(d.st_mode & 0777, 0700);
	CHECK_EQ(e.st_mode & 0777, 0600);
}

/* Another file with the same bytes, and the same file rewritten, miss. */
static void other_files_miss(void)
{
	make_top();
	int bz = make_bz("bz", "a bzImage"), twin = make_bz("twin", "a bzImage");
	struct kernel_cache kc;
	struct errbuf why;
	struct reader r;
	int ok = kernel_cache_open(&kc, top, bz, KERNEL_CACHE_VMLINUX, &why) == 0 &&
		 kernel_cache_store(&kc, "x", 1, &why) == 0 && kernel_cache_lookup(&kc, &r) == 0;
	if (ok)
		reader_close(&r);
	kernel_cache_close(&kc);
	int twin_hit = kernel_cache_open(&kc, top, twin, KERNEL_CACHE_VMLINUX, &why) || kernel_cache_lookup(&kc, &r) == 0;
	kernel_cache_close(&kc);
	int w = pwrite(bz, "A", 1, 0) == 1;
	usleep(25000);
	int rewritten_hit = kernel_cache_open(&kc, top, bz, KERNEL_CACHE_VMLINUX, &why) || kernel_cache_lookup(&kc, &r) == 0;
	kernel_cache_close(&kc);
	close(bz), close(twin);
	remove_tree(top);
	CHECK(ok);
	CHECK(w);
	CHECK(!twin_hit);
	CHECK(!rewritten_hit);
}

/* A directory others may write to is no cache; storing then does nothing. */
static void refuses_a_shared_directory(void)
{
	make_top();
	int bz = make_bz("bz", "a bzImage");
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/shared", top);
	mkdir(dir, 0700);
	chmod(dir, 0777);
	struct kernel_cache kc;
	struct errbuf why = {{0}};
	int opened = kernel_cache_open(&kc, dir, bz, KERNEL_CACHE_VMLINUX, &why);
	int fd = kc.dirfd;
	int stored = kernel_cache_store(&kc, "x", 1, &why);
	unsigned n = entries(dir, "");
	close(bz);
	remove_tree(top);
	CHECK_EQ(opened, -1);
	CHECK_EQ(fd, -1);
	CHECK(strstr(why.msg, "no cache"));
	CHECK_EQ(stored, -1);
	CHECK_EQ(n, 2); /* . and .. */
}

/* With keep_all (--fill-kernel-cache), storing removes nothing: KEEP + 2
 * entries stay. */
static void keep_all_removes_nothing(void)
{
	make_top();
	int ok = 1;
	for (unsigned i = 0; i < KERNEL_CACHE_KEEP + 2; i++) {
		char n[16];
		snprintf(n, sizeof(n), "bz%u", i);
		int bz = make_bz(n, n);
		struct kernel_cache kc;
		struct errbuf why;
		ok &= kernel_cache_open(&kc, top, bz, KERNEL_CACHE_VMLINUX, &why) == 0;
		kc.keep_all = true;
		ok &= kernel_cache_store(&kc, n, strlen(n), &why) == 0;
		kernel_cache_close(&kc);
		close(bz);
	}
	unsigned n = entries(top, "vmlinux-");
	remove_tree(top);
	CHECK(ok);
	CHECK_EQ(n, KERNEL_CACHE_KEEP + 2);
}

/* Entries are as readable as the directory: 0644 in a 0755 one, 0640 in a
 * 0750 one (a shared cache, read by the jails' users). */
static void entries_as_readable_as_the_directory(void)
{
	make_top();
	int bz = make_bz("bz", "a bzImage");
	mode_t modes[2];
	int ok = 1;
	for (int i = 0; i < 2; i++) {
		chmod(top, i ? 0750 : 0755);
		struct kernel_cache kc;
		struct errbuf why;
		struct stat e;
		char p[256];
		ok &= kernel_cache_open(&kc, top, bz, KERNEL_CACHE_VMLINUX, &why) == 0 &&
		      kernel_cache_store(&kc, "x", 1, &why) == 0;
		snprintf(p, sizeof(p), "%s/%s", top, kc.name);
		ok &= stat(p, &e) == 0;
		modes[i] = e.st_mode & 0777;
		kernel_cache_drop(&kc);
		kernel_cache_close(&kc);
	}
	close(bz);
	remove_tree(top);
	CHECK(ok);
	CHECK_EQ(modes[0], 0644);
	CHECK_EQ(modes[1], 0640);
}

/* An entry others may write to is not used (and removed); as root, a
 * directory or an entry of another user's is refused too, and root's own
 * (every file here) is trusted. */
static void untrusted_entries_and_owners(void)
{
	make_top();
	int bz = make_bz("bz", "a bzImage");
	struct kernel_cache kc;
	struct errbuf why;
	struct reader r;
	char p[256];
	int ok = kernel_cache_open(&kc, top, bz, KERNEL_CACHE_VMLINUX, &why) == 0 &&
		 kernel_cache_store(&kc, "x", 1, &why) == 0;
	snprintf(p, sizeof(p), "%s/%s", top, kc.name);
	chmod(p, 0666);
	int writable_hit = kernel_cache_lookup(&kc, &r) == 0;
	int writable_kept = access(p, F_OK) == 0;
	int root = geteuid() == 0, foreign_hit = 0, foreign_dir = -1;
	if (root) {
		ok &= kernel_cache_store(&kc, "x", 1, &why) == 0 && chown(p, 65534, 65534) == 0;
		foreign_hit = kernel_cache_lookup(&kc, &r) == 0;
		kernel_cache_close(&kc);
		ok &= chown(top, 65534, 65534) == 0;
		foreign_dir = kernel_cache_open(&kc, top, bz, KERNEL_CACHE_VMLINUX, &why);
	}
	kernel_cache_close(&kc);
	close(bz);
	remove_tree(top);
	CHECK(ok);
	CHECK(!writable_hit);
	CHECK(!writable_kept);
	CHECK(!foreign_hit);
	CHECK(!root || foreign_dir == -1);
	CHECK(!root || strstr(why.msg, "(or root's)"));
}

/* KEEP + 2 bzImages stored, each used later than the last: the two least
 * recently used entries are gone; one looked up since is kept. */
static void keeps_the_most_recently_used(void)
{
	make_top();
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/k", top);
	int fds[KERNEL_CACHE_KEEP + 2];
	char names[KERNEL_CACHE_KEEP + 2][KERNEL_CACHE_NAME_MAX];
	struct kernel_cache kc;
	struct errbuf why;
	int ok = 1;
	for (unsigned i = 0; i < KERNEL_CACHE_KEEP + 2; i++) {
		char n[16];
		snprintf(n, sizeof(n), "bz%u", i);
		fds[i] = make_bz(n, n);
		if (i == KERNEL_CACHE_KEEP) {
			/* The first entry is used again: now the most recent. */
			struct reader r;
			ok &= kernel_cache_open(&kc, dir, fds[0], KERNEL_CACHE_VMLINUX, &why) == 0 &&
			      kernel_cache_lookup(&kc, &r) == 0;
			reader_close(&r);
			kernel_cache_close(&kc);
			usleep(25000);
		}
		ok &= kernel_cache_open(&kc, dir, fds[i], KERNEL_CACHE_VMLINUX, &why) == 0 &&
		      kernel_cache_store(&kc, n, strlen(n), &why) == 0;
		snprintf(names[i], sizeof(names[i]), "%s", kc.name);
		kernel_cache_close(&kc);
		usleep(25000); /* distinct modification times */
	}
	unsigned n = entries(dir, "vmlinux-");
	int kept[KERNEL_CACHE_KEEP + 2];
	for (unsigned i = 0; i < KERNEL_CACHE_KEEP + 2; i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/%.127s", dir, names[i]);
		kept[i] = access(p, F_OK) == 0;
		close(fds[i]);
	}
	remove_tree(top);
	CHECK(ok);
	CHECK_EQ(n, KERNEL_CACHE_KEEP);
	CHECK(kept[0]);
	CHECK(!kept[1]);
	CHECK(!kept[2]);
	for (unsigned i = 3; i < KERNEL_CACHE_KEEP + 2; i++)
		CHECK(kept[i]);
}

/* The two kinds apart: a file's initrd entry is not its vmlinux entry, and
 * KEEP + 1 initrd entries evict an initrd entry, not the vmlinux one. */
static void kinds_apart(void)
{
	make_top();
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/k", top);
	struct kernel_cache kc;
	struct errbuf why;
	struct reader r;
	int bz = make_bz("bz", "bz");
	int ok = kernel_cache_open(&kc, dir, bz, KERNEL_CACHE_VMLINUX, &why) == 0 &&
		 kernel_cache_store(&kc, "vmlinux", 7, &why) == 0;
	kernel_cache_close(&kc);
	int initrd_miss = kernel_cache_open(&kc, dir, bz, KERNEL_CACHE_INITRD, &why) == 0 &&
			  kernel_cache_lookup(&kc, &r) != 0;
	kernel_cache_close(&kc);
	usleep(25000);
	for (unsigned i = 0; i < KERNEL_CACHE_KEEP + 1; i++) {
		char n[16];
		snprintf(n, sizeof(n), "rd%u", i);
		int fd = make_bz(n, n);
		ok &= kernel_cache_open(&kc, dir, fd, KERNEL_CACHE_INITRD, &why) == 0 &&
		      kernel_cache_store(&kc, n, strlen(n), &why) == 0;
		kernel_cache_close(&kc);
		close(fd);
	}
	unsigned vmlinux = entries(dir, "vmlinux-"), initrd = entries(dir, "initrd-");
	close(bz);
	remove_tree(top);
	CHECK(ok);
	CHECK(initrd_miss);
	CHECK_EQ(vmlinux, 1);
	CHECK_EQ(initrd, KERNEL_CACHE_KEEP);
}

/* An entry that is a directory or a symbolic link is not used. */
static void only_regular_entries(void)
{
	make_top();
	int bz = make_bz("bz", "a bzImage");
	struct kernel_cache kc;
	struct errbuf why;
	struct reader r;
	char p[256];
	int opened = kernel_cache_open(&kc, top, bz, KERNEL_CACHE_VMLINUX, &why);
	snprintf(p, sizeof(p), "%s/%s", top, kc.name);
	mkdir(p, 0700);
	int dir_hit = kernel_cache_lookup(&kc, &r) == 0;
	rmdir(p);
	int sl = symlink("bz", p);
	int link_hit = kernel_cache_lookup(&kc, &r) == 0;
	kernel_cache_close(&kc);
	close(bz);
	remove_tree(top);
	CHECK_EQ(opened, 0);
	CHECK_EQ(sl, 0);
	CHECK(!dir_hit);
	CHECK(!link_hit);
}

/* Storing also removes temporary files older than an hour, not newer ones;
 * drop removes the entry. */
static void stale_temporaries_and_drop(void)
{
	make_top();
	int bz = make_bz("bz", "a bzImage");
	char old[128], fresh[128];
	snprintf(old, sizeof(old), "%s/.new-1-0", top);
	snprintf(fresh, sizeof(fresh), "%s/.new-2-0", top);
	close(open(old, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	close(open(fresh, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	struct timespec t[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
	utimensat(AT_FDCWD, old, t, 0);
	struct kernel_cache kc;
	struct errbuf why;
	struct reader r;
	int ok = kernel_cache_open(&kc, top, bz, KERNEL_CACHE_VMLINUX, &why) == 0 &&
		 kernel_cache_store(&kc, "x", 1, &why) == 0;
	int old_gone = access(old, F_OK) != 0, fresh_kept = access(fresh, F_OK) == 0;
	kernel_cache_drop(&kc);
	int dropped = kernel_cache_lookup(&kc, &r) != 0;
	kernel_cache_close(&kc);
	close(bz);
	remove_tree(top);
	CHECK(ok);
	CHECK(old_gone);
	CHECK(fresh_kept);
	CHECK(dropped);
}

/* Racy: changed in the clock tick it is seen in, or within two seconds
 * when its time has no nanoseconds (a file system of whole seconds). */
static void racy_files(void)
{
	struct timespec c = {100, 500}, w = {100, 0};
	CHECK(kernel_cache_racy(c, (struct timespec){100, 500}));
	CHECK(kernel_cache_racy(c, (struct timespec){99, 900}));
	CHECK(!kernel_cache_racy(c, (struct timespec){100, 501}));
	CHECK(!kernel_cache_racy(c, (struct timespec){101, 0}));
	CHECK(kernel_cache_racy(w, (struct timespec){100, 999999999}));
	CHECK(kernel_cache_racy(w, (struct timespec){101, 999999999}));
	CHECK(!kernel_cache_racy(w, (struct timespec){102, 0}));
}

/* A bzImage opened while racy has its vmlinux looked up, never stored. */
static void racy_not_stored(void)
{
	make_top();
	int bz = make_bz("bz", "a bzImage");
	struct kernel_cache kc;
	struct errbuf why = {{0}};
	int opened = kernel_cache_open(&kc, top, bz, KERNEL_CACHE_VMLINUX, &why);
	kc.racy = true; /* as if it had just been written */
	int stored = kernel_cache_store(&kc, "x", 1, &why);
	unsigned n = entries(top, "vmlinux-");
	kernel_cache_close(&kc);
	close(bz);
	remove_tree(top);
	CHECK_EQ(opened, 0);
	CHECK_EQ(stored, -1);
	CHECK(strstr(why.msg, "too recently"));
	CHECK_EQ(n, 0);
}

int main(void)
{
	RUN(racy_files);
	RUN(racy_not_stored);
	RUN(stores_and_finds);
	RUN(other_files_miss);
	RUN(refuses_a_shared_directory);
	RUN(entries_as_readable_as_the_directory);
	RUN(keep_all_removes_nothing);
	RUN(untrusted_entries_and_owners);
	RUN(keeps_the_most_recently_used);
	RUN(kinds_apart);
	RUN(only_regular_entries);
	RUN(stale_temporaries_and_drop);
	return check_summary();
}
