/* fs.c: the jail's files: <base>/ember/<id>/root with a copy of ember, the
 * device nodes the VM needs (owned by the VM's user: kvm, net/tun, vfio), the
 * kernel, initrd, disks, snapshot, console, log and metrics files its
 * arguments and its config file name (those ember writes hard-linked when
 * they are on the same file system; the others, and those ember only reads,
 * bind-mounted in ember's own mount namespace over empty files made here,
 * read-only where ember only reads, so the host file is not touched: a hard
 * link would change its change time), this VM's entries of the shared
 * kernel cache (--kernel-cache, read-only), and the config file as the
 * jailer rewrote it. Each host file is opened once (O_PATH) and checked
 * through that fd; it is linked through it, or bind-mounted (from ember's
 * own mount namespace) only if its path still leads to the same file, so a
 * path swapped meanwhile changes nothing. The exec file is checked (static x86-64 ELF)
 * and copied through the same fd. Removal works through directory fds, so
 * it also works after pivot_root. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "jailer/jailer.h"
#include "vmm/lib/cache_name.h"

int jail_check_exec(struct jail *j)
{
	const char *path = j->opts->exec_file;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		jail_fail(j, "--exec-file %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	j->exec_fd = fd; /* the file checked is the file copied */
	j->exec_size = st.st_size;
	Elf64_Ehdr eh;
	bool ok = S_ISREG(st.st_mode) && pread(fd, &eh, sizeof(eh), 0) == sizeof(eh) &&
		  !memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
		  eh.e_machine == EM_X86_64 && (eh.e_type == ET_EXEC || eh.e_type == ET_DYN) &&
		  eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum < 256;
	Elf64_Phdr ph[256];
	size_t len = ok ? eh.e_phnum * sizeof(ph[0]) : 0;
	ok = ok && pread(fd, ph, len, (off_t)eh.e_phoff) == (ssize_t)len;
	for (unsigned i = 0; ok && i < eh.e_phnum; i++)
		ok = ph[i].p_type != PT_INTERP;
	if (!ok)
		return jail_fail(j, "--exec-file %s: not a static x86-64 ELF executable "
				    "(the jail has no dynamic loader or libraries)", path);
	return 0;
}

/* mkdir -p path (mode 0755). */
static int make_parents(struct jail *j, const char *path)
{
	int e = mkdir_p(path, 0755);
	return e ? jail_fail(j, "cannot create %s: %s", path, strerror(-e)) : 0;
}

int jail_fs_create(struct jail *j)
{
	const struct jail_opts *o = j->opts;
	/* The base and <base>/ember may exist (made when missing); <base>/ember/<id>
	 * must not. */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/ember", o->chroot_base);
	snprintf(j->dir, sizeof(j->dir), "%s/%s", path, o->id);
	int r = mkdir(j->dir, 0755);
	if (r < 0 && errno == ENOENT) {
		if (make_parents(j, path))
			return -1;
		r = mkdir(j->dir, 0755);
	}
	if (r < 0) {
		if (errno == EEXIST)
			return jail_fail(j, "jail directory %s already exists (VM id in use?)", j->dir);
		return jail_fail(j, "cannot create %s: %s", j->dir, strerror(errno));
	}
	j->dir_created = true;
	j->parent_fd = open(path, O_DIRECTORY | O_PATH | O_CLOEXEC);
	snprintf(j->root, sizeof(j->root), "%s/root", j->dir);
	if (j->parent_fd < 0 || mkdir(j->root, 0755) < 0)
		return jail_fail(j, "cannot create %s: %s", j->root, strerror(errno));
	/* Device nodes on a nodev mount exist but cannot be opened. */
	struct statvfs sv;
	if (statvfs(j->root, &sv) == 0 && (sv.f_flag & ST_NODEV))
		return jail_fail(j, "--chroot-base %s is on a file system mounted nodev: "
				    "/dev/kvm would not open in the jail", o->chroot_base);
	return 0;
}

/* Copy the checked exec file (j->exec_fd) in the kernel: its blocks reserved
 * first (fallocate: faster on ext4), then copy_file_range (a reflink where the
 * file system has them), or sendfile between file systems it refuses, or
 * read/write where neither works. */
static int copy_exec(struct jail *j, const char *dst)
{
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0555);
	if (out < 0)
		return jail_fail(j, "copying %s into the jail: %s", j->opts->exec_file, strerror(errno));
	off_t in_off = 0, left = j->exec_size;
	if (left > 0)
		(void)fallocate(out, 0, 0, left); /* only a hint: EOPNOTSUPP is fine */
	enum { CFR, SENDFILE, PLAIN } how = CFR;
	int e = 0;
	while (left > 0) {
		ssize_t n;
		if (how == CFR)
			n = copy_file_range(j->exec_fd, &in_off, out, NULL, (size_t)left, 0);
		else if (how == SENDFILE)
			n = sendfile(out, j->exec_fd, &in_off, (size_t)left);
		else {
			char buf[65536];
			n = pread(j->exec_fd, buf, sizeof(buf), in_off);
			if (n > 0 && write(out, buf, (size_t)n) != n)
				n = -1;
			if (n > 0)
				in_off += n;
		}
		if (n < 0 && how != PLAIN && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
					     errno == EOPNOTSUPP)) {
			how++;
			continue;
		}
		if (n <= 0) {
			e = n < 0 ? errno : EIO; /* 0: the file shrank */
			break;
		}
		left -= n;
	}
	if (close(out) < 0 && !e)
		e = errno;
	if (e)
		return jail_fail(j, "copying %s into the jail: %s", j->opts->exec_file, strerror(e));
	return 0;
}

/* A character device like the host's, for the VM's user only. */
int jail_make_node(struct jail *j, const char *host, const char *rel)
{
	struct stat st;
	if (stat(host, &st) < 0)
		return jail_fail(j, "%s: %s", host, strerror(errno));
	if (!S_ISCHR(st.st_mode))
		return jail_fail(j, "%s: not a character device", host);
	char dst[PATH_MAX];
	snprintf(dst, sizeof(dst), "%s/%s", j->root, rel);
	/* 0600 is not narrowed by the umask (022), and root's chown keeps it. */
	if (mknod(dst, S_IFCHR | 0600, st.st_rdev) < 0 || chown(dst, j->opts->uid, j->opts->gid) < 0)
		return jail_fail(j, "creating %s in the jail: %s", rel, strerror(errno));
	return 0;
}

/* Whether uid:gid (no supplementary groups, no capabilities) may read
 * (and write) a file with this owner and mode. */
static bool user_may(const struct jail_opts *o, const struct stat *st, bool write)
{
	mode_t m = st->st_mode;
	mode_t bits = st->st_uid == o->uid ? m >> 6 : st->st_gid == o->gid ? m >> 3 : m;
	return (bits & 4) && (!write || (bits & 2));
}

/* A file ember writes (console, log, metrics): made for the VM's user when
 * it does not exist yet, and removed again if the jail cannot be built. */
static int make_output(struct jail *j, const struct jail_file *f)
{
	int fd = open(f->src, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		      f->kind == JF_CONSOLE ? 0640 : 0600 /* ember's own mode for a log */);
	if (fd < 0)
		return 0; /* it exists (or cannot be made: stat says why) */
	j->created[j->ncreated++] = f;
	int r = fchown(fd, j->opts->uid, j->opts->gid), e = errno;
	close(fd);
	if (r < 0)
		return jail_fail(j, "%s%s: %s", f->what, f->src, strerror(e));
	return 0;
}

/* --config-file: the jailer's rewritten copy, read-only for UID:GID. */
static int write_config(struct jail *j, const struct jail_file *f)
{
	const char *s = j->plan.config_json;
	size_t left = j->plan.config_len;
	if (!s)
		return jail_fail(j, "%s%s: not read", f->what, f->src);
	char dst[PATH_MAX];
	snprintf(dst, sizeof(dst), "%s/%s", j->root, f->name);
	int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0)
		return jail_fail(j, "creating %s in the jail: %s", f->name, strerror(errno));
	int e = fchown(fd, j->opts->uid, j->opts->gid) < 0 ? errno : 0;
	while (!e && left > 0) {
		ssize_t n = write(fd, s, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : EIO;
			break;
		}
		s += n;
		left -= (size_t)n;
	}
	if (close(fd) < 0 && !e)
		e = errno;
	if (e)
		return jail_fail(j, "%s%s: writing its copy into the jail: %s", f->what, f->src,
				 strerror(e));
	return 0;
}

/* An empty file at path in the jail, for a bind mount over it (jail_fs_bind). */
static int make_placeholder(struct jail *j, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return jail_fail(j, "creating %s in the jail: %s", path, strerror(errno));
	close(fd);
	return 0;
}

/* The host file src, opened once (O_PATH: no I/O, a FIFO does not block):
 * what is checked, linked and bind-mounted is this fd's file, so a path
 * swapped meanwhile changes nothing. -1 with errno. */
static int open_checked(const char *src, struct stat *st)
{
	int fd = open(src, O_PATH | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static struct jail_file_id file_id(const struct stat *st)
{
	return (struct jail_file_id){st->st_dev, st->st_ino};
}

/* place_file for the file open at fd (its stat st). */
static int place_opened(struct jail *j, const struct jail_file *f, int fd, const struct stat *st)
{
	const struct jail_opts *o = j->opts;
	bool is_blk = S_ISBLK(st->st_mode), is_fifo = S_ISFIFO(st->st_mode);
	bool fifo_ok = f->kind == JF_LOG || f->kind == JF_METRICS;
	if (!S_ISREG(st->st_mode) && !(f->kind == JF_DISK && is_blk) && !(fifo_ok && is_fifo))
		return jail_fail(j, "%s%s: not a regular file%s", f->what, f->src,
				 f->kind == JF_DISK ? " or block device" : fifo_ok ? " or named pipe" : "");
	if (!user_may(o, st, !f->read_only))
		return jail_fail(j, "%s%s: uid %u gid %u may not %s it (owner %u:%u, mode %04o)",
				 f->what, f->src, o->uid, o->gid, f->read_only ? "read" : "write",
				 st->st_uid, st->st_gid, st->st_mode & 07777);
	char dst[PATH_MAX];
	snprintf(dst, sizeof(dst), "%s/%s", j->root, f->name);
	/* A file ember only reads is never linked: a link changes the host
	 * file's change time, which ember's kernel cache keys its entries on. */
	if (!f->read_only && linkat(fd, "", AT_FDCWD, dst, AT_EMPTY_PATH) == 0)
		return 0;
	if (!f->read_only && errno != EXDEV && errno != EPERM && errno != EMLINK)
		return jail_fail(j, "%s%s: linking it into the jail: %s", f->what, f->src,
				 strerror(errno));
	/* Read-only, or on another file system: an empty file now,
	 * bind-mounted over in ember's mount namespace (jail_fs_bind). */
	if (make_placeholder(j, dst))
		return -1;
	j->bind_ids[j->nbinds] = file_id(st);
	j->binds[j->nbinds++] = f;
	return 0;
}

static int place_file(struct jail *j, const struct jail_file *f)
{
	struct stat st;
	if (f->kind == JF_CONFIG)
		return write_config(j, f);
	bool output = f->kind == JF_CONSOLE || f->kind == JF_LOG || f->kind == JF_METRICS;
	if (output && make_output(j, f))
		return -1;
	int fd = open_checked(f->src, &st);
	if (fd < 0)
		return jail_fail(j, "%s%s: %s", f->what, f->src, strerror(errno));
	int r = place_opened(j, f, fd, &st);
	close(fd);
	return r;
}

/* place_kernel_cache (below) with DIR open at dfd (its stat dst). */
static int place_cache_entries(struct jail *j, int dfd, const struct stat *dst)
{
	const struct jail_opts *o = j->opts;
	const char *dir = o->kernel_cache;
	if (!S_ISDIR(dst->st_mode))
		return jail_fail(j, "--kernel-cache %s: not a directory", dir);
	if (!kernel_cache_trusted(dst, o->uid))
		return jail_fail(j, "--kernel-cache %s: not a directory of root's or uid %u's that only "
				    "its owner may write to (owner %u, mode %04o): ember would not trust it",
				 dir, o->uid, dst->st_uid, dst->st_mode & 07777);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/" JAIL_KERNEL_CACHE_NAME, j->root);
	if (mkdir(path, 0755) < 0)
		return jail_fail(j, "creating " JAIL_KERNEL_CACHE_NAME " in the jail: %s", strerror(errno));
	for (unsigned i = 0; i < j->plan.nfiles; i++) {
		const struct jail_file *f = &j->plan.files[i];
		if ((f->kind != JF_KERNEL && f->kind != JF_INITRD) ||
		    j->ncache_entries == JAIL_MAX_CACHE_ENTRIES)
			continue;
		char name[KERNEL_CACHE_NAME_MAX];
		struct stat fst, e;
		if (stat(f->src, &fst) < 0) /* place_file says why */
			continue;
		if (kernel_cache_name(name, KERNEL_CACHE_NAME_MAX,
				      f->kind == JF_KERNEL ? KERNEL_CACHE_VMLINUX : KERNEL_CACHE_INITRD, &fst))
			continue;
		/* (AT_SYMLINK_NOFOLLOW: a symbolic link is itself checked, and refused) */
		if (fstatat(dfd, name, &e, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* not in the cache: ember unpacks it */
		if (!S_ISREG(e.st_mode) || !kernel_cache_trusted(&e, o->uid))
			return jail_fail(j, "--kernel-cache %s: the entry of %s%s is not a regular file of "
					    "root's or uid %u's that only its owner may write to", dir,
					 f->what, f->src, o->uid);
		if (!user_may(o, &e, false))
			return jail_fail(j, "--kernel-cache %s: uid %u gid %u may not read the entry of %s%s "
					    "(mode %04o; entries are as readable as the directory was when "
					    "they were made)", dir, o->uid, o->gid, f->what, f->src,
					 e.st_mode & 07777);
		snprintf(path, sizeof(path), "%s/" JAIL_KERNEL_CACHE_NAME "/%s", j->root, name);
		if (make_placeholder(j, path))
			return -1;
		j->cache_ids[j->ncache_entries] = file_id(&e);
		snprintf(j->cache_mounts[j->ncache_entries++], sizeof(j->cache_mounts[0]),
			 JAIL_KERNEL_CACHE_NAME "/%s", name);
	}
	return 0;
}

/* --kernel-cache DIR: a directory of root's or UID's that nobody else may
 * write to (its entries become guest kernels). The jail gets a directory
 * of its own, /kernel-cache, with only this VM's entries in it (those of
 * its kernel and initrd, where DIR has them): empty files now, each entry
 * bind-mounted over its own read-only in ember's mount namespace
 * (jail_fs_bind). An entry must be a regular file of root's or UID's that
 * only its owner may write to and UID:GID may read. */
static int place_kernel_cache(struct jail *j)
{
	const struct jail_opts *o = j->opts;
	const char *dir = o->kernel_cache;
	struct stat st;
	/* The directory checked is the one its entries are looked up in (an
	 * fd), and an entry checked is the one bound (its device and inode). */
	int dfd = open_checked(dir, &st);
	if (dfd < 0)
		return jail_fail(j, "--kernel-cache %s: %s", dir, strerror(errno));
	int r = place_cache_entries(j, dfd, &st);
	close(dfd);
	return r;
}

/* src bind-mounted over the placeholder rel (a name under the jail's root,
 * kept for unmounting), then remounted with flags (MS_RDONLY, ...) unless
 * they are 0; what names it in messages ("--kernel /k"). */
static int bind_into(struct jail *j, const char *src, const char *rel, unsigned long flags,
		     const char *what)
{
	char dst[PATH_MAX];
	snprintf(dst, sizeof(dst), "%s/%s", j->root, rel);
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return jail_fail(j, "%s: bind-mounting it into the jail: %s", what, strerror(errno));
	j->mounts[j->nmounts++] = rel;
	if (flags && mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0)
		return jail_fail(j, "%s: making its bind mount read-only: %s", what, strerror(errno));
	return 0;
}

/* bind_into from the host path src, which must still be the file checked
 * (want): a bind mount's source must be in ember's own mount namespace, so
 * src is opened there, compared with the checked file, and bound through
 * that fd, /proc/self/fd/N (nofollow: a symbolic link is not followed). */
static int bind_checked(struct jail *j, const struct jail_file_id *want, const char *src,
			bool nofollow, const char *rel, unsigned long flags, const char *what)
{
	struct stat got;
	int fd = open(src, O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0)
		return jail_fail(j, "%s: %s", what, strerror(errno));
	if (fstat(fd, &got) < 0 || got.st_dev != want->dev || got.st_ino != want->ino) {
		close(fd);
		return jail_fail(j, "%s: replaced while the jail was built", what);
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int r = bind_into(j, path, rel, flags, what);
	close(fd);
	return r;
}

int jail_fs_bind(struct jail *j)
{
	/* This VM's cache entries, each over its empty file. */
	for (unsigned i = 0; i < j->ncache_entries; i++) {
		char src[PATH_MAX];
		const char *name = j->cache_mounts[i] + strlen(JAIL_KERNEL_CACHE_NAME "/");
		snprintf(src, sizeof(src), "%s/%s", j->opts->kernel_cache, name);
		char what[PATH_MAX + 32];
		snprintf(what, sizeof(what), "--kernel-cache entry %s", src);
		if (bind_checked(j, &j->cache_ids[i], src, true, j->cache_mounts[i],
				 MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, what))
			return -1;
	}
	for (unsigned i = 0; i < j->nbinds; i++) {
		const struct jail_file *f = j->binds[i];
		char what[PATH_MAX + 320];
		snprintf(what, sizeof(what), "%s%s", f->what, f->src);
		if (bind_checked(j, &j->bind_ids[i], f->src, false, f->name,
				 f->read_only ? MS_RDONLY : 0, what))
			return -1;
	}
	return 0;
}

/* --api-sock's folder: made inside the jail for UID:GID (ember creates the
 * socket there; the host reaches it under the jail's root). */
static int api_folder(struct jail *j)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s%s", j->root, j->plan.api_dir);
	if (make_parents(j, path))
		return -1;
	if (j->plan.api_dir[0] && (chown(path, j->opts->uid, j->opts->gid) < 0 || chmod(path, 0700) < 0))
		return jail_fail(j, "--api-sock: %s in the jail: %s", j->plan.api_dir, strerror(errno));
	return 0;
}

int jail_fs_populate(struct jail *j)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", j->root, jail_basename(j->opts->exec_file));
	if (copy_exec(j, path))
		return -1;
	snprintf(path, sizeof(path), "%s/dev", j->root);
	if (mkdir(path, 0755) < 0)
		return jail_fail(j, "creating dev in the jail: %s", strerror(errno));
	if (jail_make_node(j, "/dev/kvm", "dev/kvm"))
		return -1;
	if (j->plan.needs_tun) {
		snprintf(path, sizeof(path), "%s/dev/net", j->root);
		if (mkdir(path, 0755) < 0)
			return jail_fail(j, "creating dev/net in the jail: %s", strerror(errno));
		if (jail_make_node(j, "/dev/net/tun", "dev/net/tun"))
			return -1;
	}
	if (jail_vfio_populate(j))
		return -1;
	if (j->plan.api_sock && api_folder(j))
		return -1;
	if (j->opts->kernel_cache && place_kernel_cache(j))
		return -1;
	for (unsigned i = 0; i < j->plan.nfiles; i++)
		if (place_file(j, &j->plan.files[i]))
			return -1;
	return 0;
}

/* Remove name (a file or a whole tree) inside directory dfd. */
static void remove_at(int dfd, const char *name)
{
	if (unlinkat(dfd, name, 0) == 0 || (errno != EISDIR && errno != EPERM))
		return;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			remove_at(fd, e->d_name);
	closedir(d);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

void jail_fs_remove(struct jail *j)
{
	for (unsigned i = 0; i < j->nmounts; i++) {
		char p[PATH_MAX];
		/* After pivot_root the jail's root is "/". */
		snprintf(p, sizeof(p), "%s/%s", j->entered ? "" : j->root, j->mounts[i]);
		umount2(p, MNT_DETACH);
	}
	j->nmounts = 0;
	/* Output files made for ember on the host (host paths: not reachable,
	 * and not to be looked up, from inside the jail). */
	for (unsigned i = 0; i < j->ncreated && !j->entered; i++)
		unlink(j->created[i]->src);
	j->ncreated = 0;
	if (j->dir_created && j->parent_fd >= 0)
		remove_at(j->parent_fd, j->opts->id);
	j->dir_created = false;
}
