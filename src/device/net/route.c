/* Routes of the peers' prefixes via the TUN, with libnl-route-3 (see net.h). */
#include <string.h>

#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/route.h>

#include "device/net/net.h"
#include "lib/log.h"

struct nl_sock *
route_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (sk == NULL)
		return NULL;
	if (nl_connect(sk, NETLINK_ROUTE) < 0) {
		log_error("route: cannot open rtnetlink");
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

void
route_close(struct nl_sock *sk)
{
	if (sk != NULL)
		nl_socket_free(sk);
}

int
route_change(struct nl_sock *sk, int ifindex, const struct prefix *pf, bool add)
{
	struct rtnl_route *r = NULL;
	struct rtnl_nexthop *nh;
	struct nl_addr *dst = NULL;
	char b[ADDR_STRLEN];
	int err = -1, e;

	if (sk == NULL)
		return -1;
	if ((r = rtnl_route_alloc()) == NULL ||
	    (dst = nl_addr_build(pf->addr.af, pf->addr.a, ipaddr_len(&pf->addr))) == NULL)
		goto out;
	nl_addr_set_prefixlen(dst, pf->len);
	rtnl_route_set_family(r, (uint8_t)pf->addr.af);
	rtnl_route_set_dst(r, dst);
	rtnl_route_set_table(r, RT_TABLE_MAIN);
	rtnl_route_set_protocol(r, RTPROT_STATIC);
	rtnl_route_set_scope(r, RT_SCOPE_LINK);
	rtnl_route_set_type(r, RTN_UNICAST);
	if ((nh = rtnl_route_nh_alloc()) == NULL)
		goto out;
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_add_nexthop(r, nh);	/* the route owns nh now */
	e = add ? rtnl_route_add(sk, r, NLM_F_CREATE | NLM_F_REPLACE) :
	    rtnl_route_delete(sk, r, 0);
	prefix_format(pf, b, sizeof(b));
	if (e < 0)
		log_warn("route %s %s: %s", add ? "add" : "del", b, nl_geterror(e));
	else {
		log_debug("route %s %s ifindex %d", add ? "add" : "del", b, ifindex);
		err = 0;
	}
out:
	if (dst != NULL)
		nl_addr_put(dst);
	if (r != NULL)
		rtnl_route_put(r);
	return err;
}
