/* init.c: PID 1 of ember guests (the /init of the initramfs and /sbin/init of
 * the ext4 root). It mounts the pseudo file systems, loads those of the kernel
 * modules listed in /etc/ember-modules that the VM's devices need, switches to the disk root named by
 * ember.root=DEV (or root=/dev/DEV), tells the VMM that userspace has started (byte 123 to I/O
 * port 0x3f0), runs the command the kernel passed after `--` (or /bin/sh),
 * reaps every process, and ends the VM with the command's status (byte to
 * I/O port 0x501; power off when nothing is listening there). With
 * ember.ip=ADDR/PREFIX (and ember.gw=GW; ember.ip1=... for eth1, up to
 * ember.ip7) or the kernel's ip=ADDR::GW:MASK form it configures eth0.
 * Ctrl+Alt+Del (SIGINT, the kernel's own restart disabled) ends the VM with
 * status 0 after a sync, as poweroff does. Static C11, no library beyond libc. See rootfs/README.md. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PORT_STARTED 0x3f0 /* write 123: guest userspace started */
#define PORT_EXIT 0x501    /* write status: the VMM ends the VM with it */
#define STARTED_MAGIC 123

#define RAMFS_MAGIC_ 0x858458f6UL
#define TMPFS_MAGIC_ 0x01021994UL

#define ROOT_WAIT_MS 5000
#define CMDLINE_MAX 4096

static char cmdline[CMDLINE_MAX];
static bool io_ok; /* we may use the two ports */
static int console_fd = -1; /* our controlling terminal (take_console) */
static volatile sig_atomic_t poweroff_requested;

static void warn(const char *fmt, ...)
{
	va_list ap;
	fputs("init: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void read_cmdline(void)
{
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
	close(fd);
	if (n < 0)
		n = 0;
	cmdline[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if (cmdline[i] == '\n')
			cmdline[i] = ' ';
}

/* Find the value of KEY (KEY=VALUE, or a bare KEY: "") among the kernel's
 * parameters (those before `--`); copy it into val. false when absent. */
static bool cmdline_get(const char *key, char *val, size_t cap)
{
	size_t klen = strlen(key);
	const char *p = cmdline;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		size_t wlen = (size_t)(p - w);
		if (wlen == 2 && w[0] == '-' && w[1] == '-')
			break;
		if (wlen >= klen && strncmp(w, key, klen) == 0 &&
		    (wlen == klen || w[klen] == '=')) {
			const char *v = wlen == klen ? w + wlen : w + klen + 1;
			size_t vlen = (size_t)(p - v);
			if (vlen >= cap)
				vlen = cap - 1;
			memcpy(val, v, vlen);
			val[vlen] = '\0';
			return true;
		}
	}
	return false;
}

static bool is_mountpoint(const char *path)
{
	struct stat a, b;
	char parent[256];
	snprintf(parent, sizeof parent, "%s/..", path);
	if (stat(path, &a) < 0 || stat(parent, &b) < 0)
		return false;
	return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

/* Mount unless something is mounted there already. */
static void mount_fs(const char *src, const char *dst, const char *type, unsigned long flags,
		     const char *data)
{
	mkdir(dst, 0755);
	if (is_mountpoint(dst))
		return;
	if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
		warn("mount %s on %s: %s", type, dst, strerror(errno));
}

/* Make sure fds 0, 1 and 2 are open, on the console if possible. */
static void setup_stdio(void)
{
	if (fcntl(0, F_GETFD) >= 0 && fcntl(1, F_GETFD) >= 0 && fcntl(2, F_GETFD) >= 0)
		return;
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		return;
	for (int i = 0; i < 3; i++)
		if (fcntl(i, F_GETFD) < 0)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

/* modprobe's job for one module: "NAME.opt=val" words on the command line
 * become the module's parameters ('-' and '_' are the same in NAME). */
static void module_params(const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name), used = 0;
	const char *p = cmdline;
	out[0] = '\0';
	while (*p) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		size_t wlen = (size_t)(p - w);
		if (wlen == 2 && w[0] == '-' && w[1] == '-')
			break;
		if (wlen <= nlen + 1 || w[nlen] != '.')
			continue;
		bool same = true;
		for (size_t i = 0; i < nlen && same; i++) {
			char a = w[i] == '-' ? '_' : w[i], b = name[i] == '-' ? '_' : name[i];
			same = a == b;
		}
		if (!same || used + wlen - nlen + 1 >= cap)
			continue;
		used += (size_t)snprintf(out + used, cap - used, "%s%.*s", used ? " " : "",
					 (int)(wlen - nlen - 1), w + nlen + 1);
	}
}

/* The modules of /etc/ember-modules and what init knows of them. */
#define MOD_MAX 64
#define ALIAS_MAX 256
struct module {
	char path[256];  /* as listed: relative to /lib/modules/RELEASE/, or absolute */
	char name[64];   /* file name without .ko..., '-' as '_' */
	uint64_t deps;   /* bit i: needs listed module i (modules.dep) */
	bool has_alias;  /* modules.alias names a device it drives */
	bool needed;     /* another listed module needs it */
	bool want, done;
};
struct mod_alias {
	char *pattern; /* fnmatch pattern, as in modules.alias */
	unsigned mod;  /* index in the list */
};

static void module_name(const char *path, char *out, size_t cap)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strcspn(base, ".");
	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = base[i] == '-' ? '_' : base[i];
	out[n] = '\0';
}

static int module_find(const struct module *m, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(m[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* One line of a text file at a time, whitespace trimmed at both ends; false
 * at the end. */
static bool next_line(FILE *f, char *line, size_t cap, char **out)
{
	while (fgets(line, (int)cap, f)) {
		char *s = line, *e;
		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*s && *s != '#') {
			*out = s;
			return true;
		}
	}
	return false;
}

/* modules.dep ("PATH: DEP DEP...") and modules.alias ("alias PATTERN NAME")
 * for the listed modules. Without modules.alias every module counts as
 * wanted (init then loads the whole list, as it did before). */
static unsigned read_module_index(const char *dir, struct module *m, unsigned n,
				  struct mod_alias *al)
{
	char path[512], line[4096], *s;
	snprintf(path, sizeof path, "%s/modules.dep", dir);
	FILE *f = fopen(path, "re");
	while (f && next_line(f, line, sizeof line, &s)) {
		char *colon = strchr(s, ':'), name[64];
		if (!colon)
			continue;
		*colon = '\0';
		module_name(s, name, sizeof name);
		int i = module_find(m, n, name);
		if (i < 0)
			continue;
		for (char *tok = strtok(colon + 1, " \t"); tok; tok = strtok(NULL, " \t")) {
			module_name(tok, name, sizeof name);
			int d = module_find(m, n, name);
			if (d >= 0 && d != i) {
				m[i].deps |= 1ull << d;
				m[d].needed = true;
			}
		}
	}
	if (f)
		fclose(f);
	unsigned na = 0;
	snprintf(path, sizeof path, "%s/modules.alias", dir);
	f = fopen(path, "re");
	if (!f) {
		for (unsigned i = 0; i < n; i++)
			m[i].want = true;
		return 0;
	}
	while (na < ALIAS_MAX && next_line(f, line, sizeof line, &s)) {
		char pat[512], name[64];
		if (sscanf(s, "alias %511s %63s", pat, name) != 2)
			continue;
		module_name(name, name, sizeof name);
		int i = module_find(m, n, name);
		if (i < 0 || !(al[na].pattern = strdup(pat)))
			continue;
		al[na++].mod = (unsigned)i;
		m[i].has_alias = true;
	}
	fclose(f);
	return na;
}

/* Mark wanted each listed module whose alias matches the modalias of some
 * device on some bus, as the kernel has them now. */
static void want_for_devices(struct module *m, const struct mod_alias *al, unsigned na)
{
	DIR *buses = opendir("/sys/bus");
	struct dirent *b, *d;
	while (buses && (b = readdir(buses))) {
		char path[512];
		if (b->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/sys/bus/%s/devices", b->d_name);
		DIR *devs = opendir(path);
		while (devs && (d = readdir(devs))) {
			char file[1024], v[512];
			if (d->d_name[0] == '.')
				continue;
			if (snprintf(file, sizeof file, "%s/%s/modalias", path, d->d_name) >=
			    (int)sizeof file)
				continue;
			int fd = open(file, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			ssize_t r = read(fd, v, sizeof v - 1);
			close(fd);
			if (r <= 0)
				continue;
			v[r] = '\0';
			v[strcspn(v, "\n")] = '\0';
			for (unsigned a = 0; a < na; a++)
				if (!m[al[a].mod].want && fnmatch(al[a].pattern, v, 0) == 0)
					m[al[a].mod].want = true;
		}
		if (devs)
			closedir(devs);
	}
	if (buses)
		closedir(buses);
}

static void load_module(const struct module *m, const char *dir)
{
	char path[1024], params[1024];
	int len = m->path[0] == '/' ? snprintf(path, sizeof path, "%s", m->path)
				    : snprintf(path, sizeof path, "%s/%s", dir, m->path);
	if (len < 0 || len >= (int)sizeof path)
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	module_params(m->name, params, sizeof params);
	if (syscall(SYS_finit_module, fd, params, 0) < 0 && errno != EEXIST)
		warn("module %s: %s", m->name, strerror(errno));
	close(fd);
}

/* Load what the VM's devices need of the modules in /etc/ember-modules (one a
 * line, in load order: a path relative to /lib/modules/RELEASE/, or
 * absolute), as udev's coldplug would: a module that modules.alias says
 * drives some device loads when a device's modalias matches (with the listed
 * modules it needs, first); a module no alias names and no listed module
 * needs (tun, a file system) always loads. Rounds repeat while they load
 * something, since a driver brings new devices (virtio_pci the virtio
 * devices virtio_blk drives). A VM with no virtio device loads none of them,
 * which spares a booting guest the modules' signature checks and set-up
 * (~0.2 s of a lab boot). Missing files are skipped silently, modules already
 * there (EEXIST) too. */
static void load_modules(void)
{
	FILE *f = fopen("/etc/ember-modules", "re");
	if (!f)
		return;
	static struct module m[MOD_MAX];
	static struct mod_alias al[ALIAS_MAX];
	unsigned n = 0;
	char line[512], *s, dir[300];
	while (n < MOD_MAX && next_line(f, line, sizeof line, &s)) {
		memset(&m[n], 0, sizeof m[n]);
		snprintf(m[n].path, sizeof m[n].path, "%s", s);
		module_name(s, m[n].name, sizeof m[n].name);
		n++;
	}
	fclose(f);
	struct utsname u;
	uname(&u);
	snprintf(dir, sizeof dir, "/lib/modules/%s", u.release);
	unsigned na = read_module_index(dir, m, n, al);
	for (unsigned i = 0; i < n; i++)
		if (!m[i].has_alias && !m[i].needed)
			m[i].want = true;
	for (bool loaded = true; loaded;) {
		if (na)
			want_for_devices(m, al, na);
		loaded = false;
		for (unsigned i = 0; i < n; i++) {
			if (!m[i].want || m[i].done)
				continue;
			for (unsigned j = 0; j < n; j++) /* its needs first, whatever the list's order */
				if ((m[i].deps & (1ull << j)) && !m[j].done) {
					load_module(&m[j], dir);
					m[j].done = true;
				}
			load_module(&m[i], dir);
			m[i].done = loaded = true;
		}
	}
	for (unsigned a = 0; a < na; a++)
		free(al[a].pattern);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ember.root=DEV (or, without it, the kernel's root=/dev/DEV, which a
 * Firecracker client's is_root_device puts there): from the initramfs, mount
 * DEV (ext4) on /newroot, move /dev, /proc and /sys there, make it / and exec
 * its /sbin/init with our argv. Read-only with ember.rootro; for root=, as
 * the kernel would: read-only unless the word rw is there. Returns only when
 * it did not switch (the caller goes on in the initramfs); after a failed
 * exec in the new root it returns true (we are there now). */
static bool switch_root(char **argv)
{
	char dev[256], word[8];
	struct statfs sfs;
	unsigned long flags;
	if (cmdline_get("ember.root", dev, sizeof dev) && dev[0]) {
		flags = cmdline_get("ember.rootro", word, sizeof word) ? MS_RDONLY : 0;
	} else if (cmdline_get("root", dev, sizeof dev) && strncmp(dev, "/dev/", 5) == 0) {
		flags = cmdline_get("rw", word, sizeof word) ? 0 : MS_RDONLY;
	} else {
		if (cmdline_get("root", dev, sizeof dev) && dev[0])
			warn("root=%s: ember's init mounts /dev/... roots only; staying in the initramfs", dev);
		return false;
	}
	if (statfs("/", &sfs) < 0 || ((unsigned long)sfs.f_type != RAMFS_MAGIC_ &&
					(unsigned long)sfs.f_type != TMPFS_MAGIC_))
		return false; /* already on the real root */

	struct stat st;
	int waited = 0;
	while (stat(dev, &st) < 0 && waited < ROOT_WAIT_MS) {
		sleep_ms(10);
		waited += 10;
	}
	mkdir("/newroot", 0755);
	if (mount(dev, "/newroot", "ext4", flags, NULL) < 0) {
		warn("ember.root: cannot mount %s: %s; staying in the initramfs", dev,
		     strerror(errno));
		return false;
	}
	static const char *const moved[] = {"/dev", "/proc", "/sys"};
	char to[64];
	for (size_t i = 0; i < sizeof moved / sizeof moved[0]; i++) {
		snprintf(to, sizeof to, "/newroot%s", moved[i]);
		mkdir(to, 0755); /* fails harmlessly on a read-only root */
		if (mount(moved[i], to, NULL, MS_MOVE, NULL) < 0) {
			warn("ember.root: move %s: %s", moved[i], strerror(errno));
			umount2(moved[i], MNT_DETACH);
		}
	}
	if (chdir("/newroot") < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0) {
		warn("ember.root: switch to %s: %s", dev, strerror(errno));
		return false;
	}
	execv("/sbin/init", argv);
	warn("ember.root: cannot run /sbin/init on %s: %s; going on", dev, strerror(errno));
	return true;
}

/* ---- network: ember.ip=ADDR/PREFIX [ember.gw=GW], ip=ADDR::GW:MASK:... ---- */

static bool ifreq_addr(int s, const char *dev, unsigned long req, struct in_addr a)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", dev);
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	sin->sin_family = AF_INET;
	sin->sin_addr = a;
	return ioctl(s, req, &ifr) == 0;
}

static bool link_up(int s, const char *dev)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", dev);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return false;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
}

/* Wait (up to 3 s) for the NIC the driver is still probing. */
static bool wait_dev(const char *dev)
{
	char path[64];
	snprintf(path, sizeof path, "/sys/class/net/%s", dev);
	for (int i = 0; i < 300; i++) {
		if (access(path, F_OK) == 0)
			return true;
		sleep_ms(10);
	}
	return false;
}

/* Give dev addr/prefix (and a default route via gw when gw is non-empty). */
static void config_ip(int s, const char *dev, const char *addr, const char *gw)
{
	char a[128];
	snprintf(a, sizeof a, "%s", addr);
	unsigned prefix = 32;
	char *slash = strchr(a, '/');
	if (slash) {
		*slash = '\0';
		char *end;
		unsigned long p = strtoul(slash + 1, &end, 10);
		if (*end || p > 32) {
			warn("%s: bad prefix in '%s'", dev, addr);
			return;
		}
		prefix = (unsigned)p;
	}
	struct in_addr ip, mask, g;
	if (inet_pton(AF_INET, a, &ip) != 1) {
		warn("%s: bad address '%s'", dev, addr);
		return;
	}
	mask.s_addr = htonl(prefix ? 0xffffffffu << (32 - prefix) : 0);
	if (!wait_dev(dev)) {
		warn("%s: no such network device", dev);
		return;
	}
	if (!ifreq_addr(s, dev, SIOCSIFADDR, ip) || !ifreq_addr(s, dev, SIOCSIFNETMASK, mask) ||
	    !link_up(s, dev)) {
		warn("%s: cannot configure %s: %s", dev, addr, strerror(errno));
		return;
	}
	if (!gw || !gw[0])
		return;
	if (inet_pton(AF_INET, gw, &g) != 1) {
		warn("%s: bad gateway '%s'", dev, gw);
		return;
	}
	struct rtentry rt;
	memset(&rt, 0, sizeof rt);
	struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
	struct sockaddr_in *gwa = (struct sockaddr_in *)&rt.rt_gateway;
	struct sockaddr_in *msk = (struct sockaddr_in *)&rt.rt_genmask;
	dst->sin_family = gwa->sin_family = msk->sin_family = AF_INET;
	gwa->sin_addr = g;
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	rt.rt_dev = (char *)dev;
	if (ioctl(s, SIOCADDRT, &rt) < 0)
		warn("%s: default route via %s: %s", dev, gw, strerror(errno));
}

/* The kernel's ip=CLIENT:SERVER:GW:NETMASK:HOST:DEV:AUTOCONF (static form
 * only) into "ADDR/PREFIX", gw and dev. */
static bool parse_kernel_ip(const char *v, char *addr, size_t acap, char *gw, size_t gcap,
			    char *dev, size_t dcap)
{
	char f[7][64];
	memset(f, 0, sizeof f);
	unsigned n = 0;
	for (const char *p = v; n < 7; n++) {
		const char *c = strchr(p, ':');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		snprintf(f[n], sizeof f[n], "%.*s", (int)(len < 63 ? len : 63), p);
		if (!c) {
			n++;
			break;
		}
		p = c + 1;
	}
	struct in_addr ip, mask;
	if (!f[0][0] || inet_pton(AF_INET, f[0], &ip) != 1)
		return false; /* dhcp, off, ...: not ours */
	unsigned prefix = 32;
	if (f[3][0] && inet_pton(AF_INET, f[3], &mask) == 1)
		prefix = (unsigned)__builtin_popcount(mask.s_addr);
	snprintf(addr, acap, "%s/%u", f[0], prefix);
	snprintf(gw, gcap, "%s", f[2]);
	if (strlen(f[5]) >= dcap)
		return false;
	memcpy(dev, f[5][0] ? f[5] : "eth0", f[5][0] ? strlen(f[5]) + 1 : 5);
	return true;
}

static void setup_network(void)
{
	char addr[128], gw[64] = "", key[16], dev[IFNAMSIZ];
	int s = -1;
	for (int i = 0; i < 8; i++) {
		if (i == 0)
			snprintf(key, sizeof key, "ember.ip");
		else
			snprintf(key, sizeof key, "ember.ip%d", i);
		bool have = cmdline_get(key, addr, sizeof addr) && addr[0];
		snprintf(dev, sizeof dev, "eth%d", i);
		gw[0] = '\0';
		if (i == 0 && have)
			cmdline_get("ember.gw", gw, sizeof gw);
		char kip[256];
		if (i == 0 && !have && cmdline_get("ip", kip, sizeof kip))
			have = parse_kernel_ip(kip, addr, sizeof addr, gw, sizeof gw, dev, sizeof dev);
		if (!have)
			continue;
		if (s < 0) {
			s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (s < 0) {
				warn("socket: %s", strerror(errno));
				return;
			}
			link_up(s, "lo");
		}
		config_ip(s, dev, addr, gw);
	}
	if (s >= 0)
		close(s);
}

static void on_poweroff(int sig)
{
	(void)sig;
	poweroff_requested = 1;
}

static void end_vm(int status) __attribute__((noreturn));
static void end_vm(int status)
{
	sync();
	if (console_fd >= 0) {
		tcsetpgrp(console_fd, getpgrp());
		tcdrain(console_fd);
	}
	tcdrain(1);
	tcdrain(2);
	if (io_ok)
		outb((unsigned char)(status & 0xff), PORT_EXIT);
	/* Still here: no VMM exit port (e.g. plain QEMU). Power off needs ACPI
	 * (without it the kernel only halts, for ever): else reboot, which ends
	 * a VM run with panic=-1/-no-reboot style settings just as well. */
	if (access("/sys/firmware/acpi/tables/DSDT", F_OK) == 0)
		reboot(RB_POWER_OFF);
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

/* init, not the command, is the console's session leader and holds it as its
 * controlling terminal: when a session leader exits, the kernel hangs up its
 * controlling tty and throws away output still waiting to be sent, so a
 * command that prints and exits at once would lose its last lines. The
 * command runs in its own process group in the foreground (Ctrl-C and job
 * control reach it). init ignores SIGTTOU so that it may still drain the
 * console and take the foreground back while it is in the background. */
static void take_console(void)
{
	signal(SIGTTOU, SIG_IGN);
	if (setsid() < 0 && getsid(0) != getpid())
		return;
	int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (!isatty(fd) || ioctl(fd, TIOCSCTTY, 1) < 0) {
		close(fd);
		return;
	}
	console_fd = fd;
}

static pid_t spawn(char **cmd)
{
	pid_t pid = fork();
	if (pid < 0) {
		warn("fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		setpgid(pid, pid);
		return pid;
	}
	setpgid(0, 0);
	if (console_fd >= 0) {
		tcsetpgrp(console_fd, getpid()); /* SIGTTOU is still ignored here */
		dup2(console_fd, 0);
		dup2(console_fd, 1);
		dup2(console_fd, 2);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
	signal(SIGTTOU, SIG_DFL);
	ioperm(PORT_STARTED, 1, 0);
	ioperm(PORT_EXIT, 1, 0);
	iopl(0);
	execvp(cmd[0], cmd);
	fprintf(stderr, "init: cannot run %s: %s\n", cmd[0], strerror(errno));
	_exit(127);
}

int main(int argc, char **argv)
{
	if (getpid() != 1) {
		fprintf(stderr, "init: must run as PID 1 (in an ember guest)\n");
		return 1;
	}
	umask(022);
	mount_fs("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	setup_stdio();
	mount_fs("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_fs("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_fs("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620,ptmxmode=666");
	read_cmdline();
	load_modules();

	switch_root(argv);

	mount_fs("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	setup_network();
	setenv("PATH", "/sbin:/bin:/usr/sbin:/usr/bin", 1);
	setenv("HOME", "/root", 1);
	setenv("TERM", "linux", 0);
	if (chdir("/root") < 0 && chdir("/") < 0)
		warn("chdir /: %s", strerror(errno));

	/* busybox poweroff/halt/reboot signal PID 1: end the VM, status 0.
	 * So does Ctrl+Alt+Del (the VMM's SendCtrlAltDel): with it disabled
	 * in the kernel, the kernel sends PID 1 SIGINT instead of restarting
	 * at once, and init syncs the disks before the VM ends. */
	struct sigaction sa = {.sa_handler = on_poweroff};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	reboot(RB_DISABLE_CAD);

	io_ok = (ioperm(PORT_STARTED, 1, 1) == 0 && ioperm(PORT_EXIT, 1, 1) == 0) || iopl(3) == 0;
	if (io_ok)
		outb(STARTED_MAGIC, PORT_STARTED);
	else
		warn("no I/O port access: %s", strerror(errno));

	take_console();
	pid_t main_pid = -1;
	if (argc > 1) {
		main_pid = spawn(argv + 1);
	} else {
		int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0 && isatty(fd)) {
			char *sh[] = {"/bin/sh", NULL};
			main_pid = spawn(sh);
		}
		if (fd >= 0)
			close(fd);
	}
	if (main_pid < 0)
		end_vm(argc > 1 ? 127 : 0);

	for (;;) {
		int st;
		if (poweroff_requested)
			end_vm(0);
		pid_t pid = waitpid(-1, &st, 0);
		if (pid < 0) {
			if (errno == ECHILD) /* cannot happen while main_pid lives */
				end_vm(0);
			continue;
		}
		if (pid != main_pid)
			continue;
		int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		end_vm(status);
	}
}
