/*
 * The device's network plumbing: the TUN interface (LAN side), its routes (via
 * rtnetlink, libnl-route-3) and the UDP sockets of IKE and ESP-in-UDP (WAN side).
 * Errors are logged with the interface or address they are about; nothing here
 * is on the per-packet path except the sockets it returns.
 */
#ifndef ODVPN_DEVICE_NET_NET_H
#define ODVPN_DEVICE_NET_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/addr.h"

/*
 * Open (create) TUN name with IFF_TUN|IFF_NO_PI, non-blocking. With want_vnet it
 * also asks for IFF_VNET_HDR and the TSO/checksum offloads; *offload says
 * whether every read and write carries a virtio-net header. name is updated to
 * the kernel's name. Returns the fd or -1.
 */
int	tun_open(char name[16], bool want_vnet, bool *offload);
/* set the MTU and bring the link up; returns the ifindex or -1 */
int	tun_up(const char *name, int mtu);

struct nl_sock;
struct nl_sock *route_open(void);
void	route_close(struct nl_sock *);
/* a device route for pf via ifindex (main table), replacing any; or its removal */
int	route_change(struct nl_sock *, int ifindex, const struct prefix *pf, bool add);

/*
 * A UDP socket bound to addr:port (wildcard if addr->af is 0 and af given),
 * with large buffers and UDP_GRO if the kernel has it (*gro says so).
 * Sends block (back-pressure); receives are done with MSG_DONTWAIT.
 */
int	udp_open(const struct ipaddr *addr, sa_family_t af, uint16_t port, bool *gro);

#endif
