/* kernel_cache.c: the cache of unpacked bzImage kernels (kernel_cache.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmm/arch/x86/kernel_cache.h"

#define TEMP_PREFIX ".new-"
#define STALE_TEMP_SECONDS 3600 /* a temporary file older than this was left by a crash */

/* Whose files may become guest kernels: this user's, or root's (a shared
 * cache an administrator filled, whose entries ember-jailer bind-mounts
 * read-only into jails). */
static bool trusted(const struct stat *st)
{
	return kernel_cache_trusted(st, geteuid());
}

bool kernel_cache_racy(struct timespec ctime, struct timespec now)
{
	if (ctime.tv_nsec == 0)
		return now.tv_sec < ctime.tv_sec + 2;
	return now.tv_sec < ctime.tv_sec ||
	       (now.tv_sec == ctime.tv_sec && now.tv_nsec <= ctime.tv_nsec);
}

int kernel_cache_open(struct kernel_cache *kc, const char *dir, int bz_fd, const char *kind,
		      struct errbuf *why)
{
	kc->dirfd = -1;
	kc->name[0] = '\0';
	kc->kind = kind;
	kc->entry_mode = 0600;
	kc->read_only = false;
	kc->keep_all = false;
	struct stat bz, st;
	struct timespec now;
	if (fstat(bz_fd, &bz) < 0 || clock_gettime(CLOCK_REALTIME_COARSE, &now) < 0) {
		err_set(why, "cannot stat the kernel: %s", strerror(errno));
		return -1;
	}
	/* Read after the times were: a write after them changes them. */
	kc->racy = kernel_cache_racy(bz.st_ctim, now);
	int e = mkdir_p(dir, 0700);
	if (e) {
		err_set(why, "cannot make '%s': %s", dir, strerror(-e));
		return -1;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err_set(why, "cannot open '%s': %s", dir, strerror(errno));
		return -1;
	}
	/* Its entries become guest kernels: the user's own (or root's), written
	 * by nobody else. */
	if (fstat(fd, &st) < 0 || !trusted(&st)) {
		err_set(why, "'%s' is not a directory of this user's (or root's) that only its owner "
			     "may write to", dir);
		close(fd);
		return -1;
	}
	/* Entries are as readable as the directory: private in a private one,
	 * readable by the jails' users in a shared one (0755). */
	kc->entry_mode = 0600 | (st.st_mode & (S_IRGRP | S_IROTH));
	/* Root's directory (a jail's /kernel-cache), or a read-only mount:
	 * looked up only. */
	kc->read_only = faccessat(fd, ".", W_OK, AT_EACCESS) < 0;
	if (kernel_cache_name(kc->name, sizeof(kc->name), kind, &bz)) {
		err_set(why, "entry name too long");
		close(fd);
		return -1;
	}
	kc->dirfd = fd;
	return 0;
}

int kernel_cache_lookup(struct kernel_cache *kc, struct reader *r)
{
	if (kc->dirfd < 0)
		return -1;
	int fd = openat(kc->dirfd, kc->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !trusted(&st) || reader_fd(r, fd)) {
		close(fd);
		kernel_cache_drop(kc);
		return -1;
	}
	r->close_fd = 1;
	futimens(fd, NULL); /* used now: eviction keeps the most recently used (not in
			     * a read-only cache: it keeps what it was filled with) */
	return 0;
}

void kernel_cache_drop(struct kernel_cache *kc)
{
	if (kc->dirfd >= 0)
		unlinkat(kc->dirfd, kc->name, 0);
}

/* Remove the least recently used entries of kc's kind beyond KERNEL_CACHE_KEEP, and
 * temporary files a crash left. */
static void evict(struct kernel_cache *kc)
{
	int fd = dup(kc->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct {
		char name[256];
		struct timespec used;
	} e[KERNEL_CACHE_KEEP + 1];
	unsigned n = 0;
	time_t now = time(NULL);
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (fstatat(kc->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!strncmp(de->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX))) {
			if (now - st.st_mtim.tv_sec > STALE_TEMP_SECONDS)
				unlinkat(kc->dirfd, de->d_name, 0);
			continue;
		}
		size_t kl = strlen(kc->kind);
		if (strncmp(de->d_name, kc->kind, kl) || de->d_name[kl] != '-' ||
		    strlen(de->d_name) >= sizeof(e[0].name))
			continue;
		/* Keep the KEEP newest seen so far (the new entry is newest of
		 * all); whichever falls out of them goes. */
		unsigned i = n;
		while (i > 0 && (e[i - 1].used.tv_sec < st.st_mtim.tv_sec ||
				 (e[i - 1].used.tv_sec == st.st_mtim.tv_sec &&
				  e[i - 1].used.tv_nsec < st.st_mtim.tv_nsec)))
			i--;
		if (n == KERNEL_CACHE_KEEP && i == n) {
			unlinkat(kc->dirfd, de->d_name, 0);
			continue;
		}
		if (n == KERNEL_CACHE_KEEP)
			unlinkat(kc->dirfd, e[--n].name, 0);
		memmove(&e[i + 1], &e[i], (n - i) * sizeof(e[0]));
		snprintf(e[i].name, sizeof(e[i].name), "%s", de->d_name);
		e[i].used = st.st_mtim;
		n++;
	}
	closedir(d);
}

int kernel_cache_store(struct kernel_cache *kc, const void *bytes, size_t len, struct errbuf *why)
{
	if (kc->dirfd < 0) {
		err_set(why, "no cache");
		return -1;
	}
	if (kc->racy) {
		err_set(why, "not stored: the file it came from changed too recently to be told "
			     "apart from a later change by its times");
		return -1;
	}
	/* Written whole before it has a name: an unnamed file linked in, or
	 * where the file system has none, a temporary name renamed. */
	char temp[64] = "";
	int fd = openat(kc->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		static unsigned seq;
		snprintf(temp, sizeof(temp), TEMP_PREFIX "%d-%u", (int)getpid(), seq++);
		fd = openat(kc->dirfd, temp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
			    0600);
	}
	if (fd < 0) {
		err_set(why, "cannot create a file: %s", strerror(errno));
		return -1;
	}
	int e = fchmod(fd, kc->entry_mode) < 0 ? -errno : 0;
	if (!e)
		e = write_sparse(fd, bytes, len); /* its zero pages are not read back */
	if (!e && !temp[0]) {
		char self[64];
		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, self, kc->dirfd, kc->name, AT_SYMLINK_FOLLOW) < 0 &&
		    errno != EEXIST) /* another ember stored it first */
			e = -errno;
	} else if (!e && renameat(kc->dirfd, temp, kc->dirfd, kc->name) < 0) {
		e = -errno;
	}
	if (e && temp[0])
		unlinkat(kc->dirfd, temp, 0);
	close(fd);
	if (e) {
		err_set(why, "cannot write '%s': %s", kc->name, strerror(-e));
		return -1;
	}
	if (!kc->keep_all)
		evict(kc);
	return 0;
}

void kernel_cache_close(struct kernel_cache *kc)
{
	if (kc->dirfd >= 0)
		close(kc->dirfd);
	kc->dirfd = -1;
}
