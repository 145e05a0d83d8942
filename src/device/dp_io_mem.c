/*
 * In-memory packet I/O for tests and fuzzing: what the core writes to the LAN or
 * sends on the WAN is copied into struct dp_memio for the test to inspect; input
 * is fed with dp_lan_inject / dp_wan_input. The clock is dp_memio.now_ms.
 */
#include <string.h>

#include "device/dp_io.h"
#include "lib/util.h"

static void *
memio_open(void *io_arg, struct dp *dp, struct event_base *base,
    const struct dp_config *cfg)
{
	return io_arg;
}

static void
memio_close(void *st)
{
}

static void
memio_lan_write(void *st, struct dp_lan_pkt *p, size_t n)
{
	struct dp_memio *m = st;
	size_t i;

	for (i = 0; i < n; i++) {
		if (m->nlan >= DP_MEMIO_MAX || p[i].len > DP_MEMIO_PKT) {
			m->overflow++;
			continue;
		}
		memcpy(m->lan[m->nlan].data, p[i].data, p[i].len);
		m->lan[m->nlan].len = p[i].len;
		m->nlan++;
	}
}

static size_t
memio_wan_send(void *st, const struct dp_wan_pkt *p, size_t n)
{
	struct dp_memio *m = st;
	size_t i, refused = 0;

	for (i = 0; i < n; i++) {
		if (m->refuse_sends > 0) {
			m->refuse_sends--;
			refused++;
			continue;
		}
		if (m->nwan >= DP_MEMIO_MAX || p[i].len > DP_MEMIO_PKT) {
			m->overflow++;
			continue;
		}
		memcpy(m->wan[m->nwan].data, p[i].data, p[i].len);
		m->wan[m->nwan].len = p[i].len;
		m->wan[m->nwan].dst = p[i].dst;
		m->wan[m->nwan].dport = p[i].dport;
		m->wan[m->nwan].sport = p[i].sport;
		m->nwan++;
	}
	return refused;
}

static int
memio_route(void *st, bool add, const struct prefix *pf)
{
	struct dp_memio *m = st;
	size_t i;

	for (i = 0; i < m->nroutes; i++)
		if (m->routes[i].len == pf->len && ipaddr_eq(&m->routes[i].addr, &pf->addr))
			break;
	if (add) {
		if (i < m->nroutes || m->nroutes >= nitems(m->routes))
			return -1;
		m->routes[m->nroutes++] = *pf;
	} else {
		if (i == m->nroutes)
			return -1;
		m->routes[i] = m->routes[--m->nroutes];
	}
	return 0;
}

static uint64_t
memio_now(void *st)
{
	return ((struct dp_memio *)st)->now_ms;
}

const struct dp_io_ops dp_io_mem = {
	.name = "memory",
	.open = memio_open,
	.close = memio_close,
	.lan_write = memio_lan_write,
	.wan_send = memio_wan_send,
	.route = memio_route,
	.now_ms = memio_now,
};
