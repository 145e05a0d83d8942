/* TUN device set-up (see net.h). */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "device/net/net.h"
#include "lib/log.h"

int
tun_open(char name[16], bool want_vnet, bool *offload)
{
	struct ifreq ifr;
	int fd;

	*offload = false;
	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK)) == -1) {
		log_error("tun: /dev/net/tun: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (want_vnet ? IFF_VNET_HDR : 0);
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) == -1) {
		if (!want_vnet)
			goto fail;
		log_warn("tun %s: no IFF_VNET_HDR (%s): no offloads", name, strerror(errno));
		ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
		want_vnet = false;
		if (ioctl(fd, TUNSETIFF, &ifr) == -1)
			goto fail;
	}
	if (want_vnet) {
		/* TSO: one read carries up to 64 KB of one TCP flow; we segment it */
		if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) == -1)
			log_warn("tun %s: TUNSETOFFLOAD: %s: header only", name,
			    strerror(errno));
		*offload = true;	/* the header is there even if offloads are not */
	}
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	name[IFNAMSIZ - 1] = '\0';
	return fd;
fail:
	log_error("tun %s: TUNSETIFF: %s", name, strerror(errno));
	close(fd);
	return -1;
}

int
tun_up(const char *name, int mtu)
{
	struct ifreq ifr;
	int s, idx = -1;

	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	ifr.ifr_mtu = mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) == -1) {
		log_error("tun %s: mtu %d: %s", name, mtu, strerror(errno));
		goto out;
	}
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == -1)
		goto out;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) == -1) {
		log_error("tun %s: up: %s", name, strerror(errno));
		goto out;
	}
	idx = (int)if_nametoindex(name);
out:
	close(s);
	return idx > 0 ? idx : -1;
}
