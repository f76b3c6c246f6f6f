/* net_tap.c: open, create and configure the TAP of a virtio-net NIC
 * (see net_tap.h). */
#include "virtio/net/net_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int ifr_ioctl(const char *name, unsigned long req, int *mtu)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_mtu = *mtu;
	int r = ioctl(s, req, &ifr) < 0 ? -errno : 0;
	close(s);
	if (r == 0)
		*mtu = ifr.ifr_mtu;
	return r;
}

static int attach(const char *name, bool multi, struct errbuf *e)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err_set(e, "--net tap=%s: cannot open /dev/net/tun: %s", name, strerror(errno));
		return -1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi ? IFF_MULTI_QUEUE : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = errno;
		const char *why = err == EPERM	? " (creating or attaching it needs CAP_NET_ADMIN, or own the TAP)"
				  : err == EBUSY ? " (another program holds it)"
				  : err == EINVAL ? " (is it a TAP, with the same multi_queue setting?)"
						  : "";
		err_set(e, "--net tap=%s: TUNSETIFF: %s%s", name, strerror(err), why);
		close(fd);
		return -1;
	}
	int sz = (int)NET_HDR_LEN;
	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
		err_set(e, "--net tap=%s: TUNSETVNETHDRSZ: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	int le = 1;
	if (ioctl(fd, TUNSETVNETLE, &le) < 0 && errno != EINVAL) {
		/* Old kernels without it are little-endian on x86 anyway. */
	}
	return fd;
}

int net_tap_open(struct net_tap *t, const struct net_opts *o, struct errbuf *e)
{
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++)
		t->fd[i] = -1;
	snprintf(t->name, sizeof(t->name), "%s", o->tap);
	t->created = if_nametoindex(o->tap) == 0;
	unsigned n = o->queues ? o->queues : 1;
	for (unsigned i = 0; i < n; i++) {
		t->fd[i] = attach(o->tap, n > 1, e);
		if (t->fd[i] < 0)
			return -1;
		t->nfd = i + 1;
	}
	/* What the TAP can hand us: probe, most to least. */
	t->caps.csum = net_tap_set_offload(t, TUN_F_CSUM) == 0;
	t->caps.tso = t->caps.csum && net_tap_set_offload(t, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) == 0;
	t->caps.ufo = t->caps.csum &&
		      net_tap_set_offload(t, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_UFO) == 0;
	net_tap_set_offload(t, 0);

	int mtu = (int)o->mtu;
	if (o->mtu && ifr_ioctl(o->tap, SIOCSIFMTU, &mtu) < 0) {
		err_set(e, "--net tap=%s: cannot set MTU %u: %s", o->tap, o->mtu, strerror(errno));
		return -1;
	}
	mtu = 0;
	int r = ifr_ioctl(o->tap, SIOCGIFMTU, &mtu);
	t->mtu = r == 0 && mtu >= (int)NET_MIN_MTU && mtu <= (int)NET_MAX_MTU ? (unsigned)mtu : 1500;
	return 0;
}

int net_tap_set_offload(struct net_tap *t, unsigned offloads)
{
	if (t->nfd == 0 || t->fd[0] < 0)
		return -EBADF;
	return ioctl(t->fd[0], TUNSETOFFLOAD, (unsigned long)offloads) < 0 ? -errno : 0;
}

int net_tap_queue(struct net_tap *t, unsigned i, bool attach)
{
	if (i >= t->nfd || t->fd[i] < 0 || t->nfd < 2)
		return -EINVAL;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	return ioctl(t->fd[i], TUNSETQUEUE, &ifr) < 0 ? -errno : 0;
}

void net_tap_close(struct net_tap *t)
{
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++) {
		if (t->fd[i] >= 0)
			close(t->fd[i]);
		t->fd[i] = -1;
	}
	t->nfd = 0;
}
