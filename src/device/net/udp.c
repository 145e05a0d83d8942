/* UDP sockets for IKE (500) and ESP-in-UDP (4500) (see net.h). */
#include <errno.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device/net/net.h"
#include "lib/log.h"

#ifndef UDP_GRO
#define UDP_GRO		104
#endif
#define UDP_BUFSZ	(8 << 20)

static void
udp_bufsize(int fd, int opt_force, int opt)
{
	int sz = UDP_BUFSZ;

	/* FORCE passes over rmem_max/wmem_max when we are privileged */
	if (setsockopt(fd, SOL_SOCKET, opt_force, &sz, sizeof(sz)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, opt, &sz, sizeof(sz));
}

int
udp_open(const struct ipaddr *addr, sa_family_t af, uint16_t port, bool *gro)
{
	struct sockaddr_storage ss;
	struct ipaddr any;
	char b[ADDR_STRLEN];
	socklen_t sl;
	int fd, one = 1;

	*gro = false;
	if (addr->af == 0) {
		memset(&any, 0, sizeof(any));
		any.af = af;
		addr = &any;
	}
	if ((fd = socket(addr->af, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (addr->af == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	sl = ipaddr_to_sockaddr(addr, port, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1) {
		ipaddr_format(addr, b, sizeof(b));
		log_error("udp: bind %s port %u: %s", b, port, strerror(errno));
		close(fd);
		return -1;
	}
	udp_bufsize(fd, SO_RCVBUFFORCE, SO_RCVBUF);
	udp_bufsize(fd, SO_SNDBUFFORCE, SO_SNDBUF);
	if (setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one)) == 0)
		*gro = true;
	return fd;
}
