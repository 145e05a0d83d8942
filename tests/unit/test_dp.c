/*
 * The data plane core with in-memory packet I/O: two gateways A and B whose WAN
 * outputs the test carries across. On-demand queueing and flush (need_sa called
 * once), queue overflow, rekey switch-over, deletion, drops counted by reason,
 * rate-limited drop events, RFC 3948 demux, idle tracking and routes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/event.h>

#include "device/dataplane.h"
#include "device/dp_io.h"
#include "device/esp/esp.h"
#include "lib/buf.h"
#include "lib/util.h"

static const uint8_t key_ab[36] = { 0xab, 1 }, key_ba[36] = { 0xba, 2 };

struct gw {
	struct dp_memio	*io;
	struct dp	*dp;
	/* callbacks seen */
	unsigned	 need_sa;
	char		 need_peer[PEER_NAME_MAX];
	unsigned	 drop_events[DP_DROP__COUNT];
	unsigned	 ike;
	uint8_t		 ike_msg[256];
	size_t		 ike_len;
	uint16_t	 ike_dport;
	unsigned	 rekey;
};

struct fx {
	struct event_base *base;
	struct gw	 a, b;
};

static struct prefix
pfx(const char *s)
{
	struct prefix p;
	char err[64];

	assert_int_equal(prefix_parse(s, &p, err, sizeof(err)), 0);
	return p;
}

static struct ipaddr
addr(const char *s)
{
	struct ipaddr a;

	assert_int_equal(ipaddr_parse(s, &a), 0);
	return a;
}

static void
cb_need_sa(void *arg, const char *peer)
{
	struct gw *g = arg;

	g->need_sa++;
	strcpy(g->need_peer, peer);
}

static void
cb_drop(void *arg, enum dp_drop why, const char *peer, const uint8_t *pkt, size_t len)
{
	struct gw *g = arg;

	g->drop_events[why]++;
}

static void
cb_ike(void *arg, const struct ipaddr *src, uint16_t sport, const struct ipaddr *dst,
    uint16_t dport, const uint8_t *msg, size_t len)
{
	struct gw *g = arg;

	g->ike++;
	g->ike_len = MIN(len, sizeof(g->ike_msg));
	memcpy(g->ike_msg, msg, g->ike_len);
	g->ike_dport = dport;
}

static void
cb_rekey(void *arg, const char *peer, uint32_t spi_in)
{
	((struct gw *)arg)->rekey++;
}

static void
gw_init(struct fx *fx, struct gw *g, const char *local, const char *local6,
    const char *wan, const char *pname, const char *premote, const char *premote6,
    size_t qlen)
{
	struct dp_config cfg = { .mtu = 1400, .queue_per_peer = qlen };
	struct dp_ops ops = { .arg = g, .need_sa = cb_need_sa, .drop_event = cb_drop,
	    .ike_input = cb_ike, .rekey_needed = cb_rekey };
	struct dp_peer p;

	memset(g, 0, sizeof(*g));
	g->io = calloc(1, sizeof(*g->io));
	g->io->now_ms = 1000;
	cfg.local[cfg.nlocal++] = pfx(local);
	cfg.local[cfg.nlocal++] = pfx(local6);
	cfg.wan_addr = addr(wan);
	g->dp = dp_new_io(fx->base, &cfg, &ops, &dp_io_mem, g->io);
	assert_non_null(g->dp);
	memset(&p, 0, sizeof(p));
	strcpy(p.name, pname);
	p.remote[p.nremote++] = pfx(premote);
	p.remote[p.nremote++] = pfx(premote6);
	assert_int_equal(dp_set_peers(g->dp, &p, 1), 0);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	fx->base = event_base_new();
	gw_init(fx, &fx->a, "10.1.0.0/24", "fd01::/64", "192.0.2.1", "b", "10.2.0.0/24",
	    "fd02::/64", 8);
	gw_init(fx, &fx->b, "10.2.0.0/24", "fd02::/64", "192.0.2.2", "a", "10.1.0.0/24",
	    "fd01::/64", 8);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	dp_free(fx->a.dp);
	dp_free(fx->b.dp);
	free(fx->a.io);
	free(fx->b.io);
	event_base_free(fx->base);
	free(fx);
	return 0;
}

/* the CHILD SA pair as each side sees it; spi_ab is what A sends with */
static void
make_sa(struct child_sa *c, bool at_a, uint32_t spi_ab, uint32_t spi_ba, bool esn)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->peer, at_a ? "b" : "a");
	c->spi_out = at_a ? spi_ab : spi_ba;
	c->spi_in = at_a ? spi_ba : spi_ab;
	memcpy(c->key_out, at_a ? key_ab : key_ba, 36);
	memcpy(c->key_in, at_a ? key_ba : key_ab, 36);
	c->esn = esn;
	c->local_addr = addr(at_a ? "192.0.2.1" : "192.0.2.2");
	c->peer_addr = addr(at_a ? "192.0.2.2" : "192.0.2.1");
	c->local_port = c->peer_port = 4500;
	c->local_ts[c->nlocal_ts++] = pfx(at_a ? "10.1.0.0/24" : "10.2.0.0/24");
	c->local_ts[c->nlocal_ts++] = pfx(at_a ? "fd01::/64" : "fd02::/64");
	c->remote_ts[c->nremote_ts++] = pfx(at_a ? "10.2.0.0/24" : "10.1.0.0/24");
	c->remote_ts[c->nremote_ts++] = pfx(at_a ? "fd02::/64" : "fd01::/64");
}

static void
add_pair(struct fx *fx, uint32_t spi_ab, uint32_t spi_ba, bool esn)
{
	struct child_sa c;

	make_sa(&c, true, spi_ab, spi_ba, esn);
	assert_int_equal(dp_sa_add(fx->a.dp, &c), 0);
	make_sa(&c, false, spi_ab, spi_ba, esn);
	assert_int_equal(dp_sa_add(fx->b.dp, &c), 0);
}

static size_t
ip4(uint8_t *p, const char *src, const char *dst, uint8_t proto, uint16_t dport,
    uint8_t tag)
{
	struct ipaddr s = addr(src), d = addr(dst);

	memset(p, 0, 60);
	p[0] = 0x45;
	store_be16(p + 2, 60);
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, s.a, 4);
	memcpy(p + 16, d.a, 4);
	store_be16(p + 20, 40000);
	store_be16(p + 22, dport);
	p[59] = tag;
	return 60;
}

static size_t
ip6(uint8_t *p, const char *src, const char *dst, uint8_t tag)
{
	struct ipaddr s = addr(src), d = addr(dst);

	memset(p, 0, 80);
	p[0] = 0x60;
	store_be16(p + 4, 40);
	p[6] = 17;
	p[7] = 64;
	memcpy(p + 8, s.a, 16);
	memcpy(p + 24, d.a, 16);
	p[79] = tag;
	return 80;
}

/* carry everything A sent on the WAN over to B (and clear A's output) */
static void
carry(struct gw *from, struct gw *to)
{
	struct ipaddr src, dst;
	size_t i;

	for (i = 0; i < from->io->nwan; i++) {
		struct dp_memio_pkt *w = &from->io->wan[i];

		src = addr(from == to ? "0.0.0.0" : "192.0.2.9");
		dst = w->dst;
		dp_wan_input(to->dp, &src, w->sport, &dst, w->dport, w->data, w->len);
	}
	from->io->nwan = 0;
	dp_flush(to->dp);
}

static uint64_t
drops(struct gw *g, enum dp_drop d)
{
	struct dp_stats st;

	dp_get_stats(g->dp, &st);
	return st.drops[d];
}

static void
test_tunnel_both_ways_ipv4_ipv6(void **state)
{
	struct fx *fx = *state;
	uint8_t p[128];
	size_t n;

	add_pair(fx, 0x1000, 0x2000, false);
	n = ip4(p, "10.1.0.5", "10.2.0.7", 17, 53, 1);
	assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	dp_flush(fx->a.dp);
	assert_int_equal(fx->a.io->nwan, 1);
	assert_int_equal(fx->a.io->wan[0].dport, 4500);
	assert_int_equal(load_be32(fx->a.io->wan[0].data), 0x1000);
	carry(&fx->a, &fx->b);
	assert_int_equal(fx->b.io->nlan, 1);
	assert_memory_equal(fx->b.io->lan[0].data, p, n);
	n = ip6(p, "fd02::7", "fd01::5", 2);
	assert_int_equal(dp_lan_inject(fx->b.dp, p, n), 0);
	dp_flush(fx->b.dp);
	carry(&fx->b, &fx->a);
	assert_int_equal(fx->a.io->nlan, 1);
	assert_memory_equal(fx->a.io->lan[0].data, p, n);
	assert_int_equal(fx->a.need_sa + fx->b.need_sa, 0);
}

static void
test_on_demand_queue_and_flush(void **state)
{
	struct fx *fx = *state;
	struct dp_stats st;
	uint8_t p[5][128];
	struct child_sa c;
	size_t n = 0;
	int i;

	/* no SA yet: packets are held, need_sa is called once */
	for (i = 0; i < 5; i++) {
		n = ip4(p[i], "10.1.0.5", "10.2.0.7", 17, 53, (uint8_t)i);
		assert_int_equal(dp_lan_inject(fx->a.dp, p[i], n), 0);
	}
	dp_flush(fx->a.dp);
	assert_int_equal(fx->a.need_sa, 1);
	assert_string_equal(fx->a.need_peer, "b");
	assert_int_equal(fx->a.io->nwan, 0);
	dp_get_stats(fx->a.dp, &st);
	assert_int_equal(st.queued, 5);
	assert_int_equal(st.drops[DP_DROP_QUEUE_FULL], 0);
	/* the SA arrives: the queue goes out through it, in order, none lost */
	make_sa(&c, false, 0x1000, 0x2000, true);
	assert_int_equal(dp_sa_add(fx->b.dp, &c), 0);
	make_sa(&c, true, 0x1000, 0x2000, true);
	assert_int_equal(dp_sa_add(fx->a.dp, &c), 0);
	assert_int_equal(fx->a.io->nwan, 5);
	carry(&fx->a, &fx->b);
	assert_int_equal(fx->b.io->nlan, 5);
	for (i = 0; i < 5; i++)
		assert_memory_equal(fx->b.io->lan[i].data, p[i], n);
	/* and later packets go straight through, no new request */
	assert_int_equal(dp_lan_inject(fx->a.dp, p[0], n), 0);
	dp_flush(fx->a.dp);
	assert_int_equal(fx->a.io->nwan, 1);
	assert_int_equal(fx->a.need_sa, 1);
}

static void
test_queue_overflow_counted(void **state)
{
	struct fx *fx = *state;
	uint8_t p[128];
	size_t n;
	int i;

	for (i = 0; i < 11; i++) {	/* the queue holds 8 */
		n = ip4(p, "10.1.0.5", "10.2.0.7", 17, 53, (uint8_t)i);
		assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	}
	assert_int_equal(drops(&fx->a, DP_DROP_QUEUE_FULL), 3);
	assert_int_equal(fx->a.need_sa, 1);
	add_pair(fx, 0x1000, 0x2000, false);
	assert_int_equal(fx->a.io->nwan, 8);
	carry(&fx->a, &fx->b);
	assert_int_equal(fx->b.io->nlan, 8);
	assert_int_equal(fx->b.io->lan[7].data[59], 7);	/* the first eight, in order */
}

static void
test_failed_setup_drops_queue_and_asks_again(void **state)
{
	struct fx *fx = *state;
	uint8_t p[128];
	size_t n;

	n = ip4(p, "10.1.0.5", "10.2.0.7", 17, 53, 1);
	assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	assert_int_equal(fx->a.need_sa, 1);
	dp_sa_failed(fx->a.dp, "b");
	assert_int_equal(drops(&fx->a, DP_DROP_NO_SA), 2);
	assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	assert_int_equal(fx->a.need_sa, 2);
}

static void
test_rekey_switch_over(void **state)
{
	struct fx *fx = *state;
	struct dp_sa_info info[4];
	struct child_sa c;
	uint8_t to_a[128], to_b[128], old_esp[2048];
	size_t old_len;
	struct ipaddr src = addr("192.0.2.2");

	add_pair(fx, 0x1000, 0x2000, false);
	ip4(to_a, "10.2.0.7", "10.1.0.5", 17, 53, 9);
	ip4(to_b, "10.1.0.5", "10.2.0.7", 17, 53, 2);
	/* B sends with the first SA; keep that datagram for later */
	assert_int_equal(dp_lan_inject(fx->b.dp, to_a, 60), 0);
	dp_flush(fx->b.dp);
	assert_int_equal(fx->b.io->nwan, 1);
	old_len = fx->b.io->wan[0].len;
	memcpy(old_esp, fx->b.io->wan[0].data, old_len);
	assert_int_equal(load_be32(old_esp), 0x2000);
	fx->b.io->nwan = 0;

	/* rekey at A: the pair 0x1001/0x2001 replaces inbound 0x2000 */
	make_sa(&c, true, 0x1001, 0x2001, false);
	c.replaces_spi_in = 0x2000;
	assert_int_equal(dp_sa_add(fx->a.dp, &c), 0);
	assert_int_equal(dp_lan_inject(fx->a.dp, to_b, 60), 0);
	dp_flush(fx->a.dp);
	assert_int_equal(load_be32(fx->a.io->wan[0].data), 0x1001);	/* at once */
	fx->a.io->nwan = 0;
	/* the old inbound SA still works until it is deleted */
	dp_wan_input(fx->a.dp, &src, 4500, &src, 4500, old_esp, old_len);
	dp_flush(fx->a.dp);
	assert_int_equal(fx->a.io->nlan, 1);
	assert_memory_equal(fx->a.io->lan[0].data, to_a, 60);
	assert_int_equal(dp_list_sas(fx->a.dp, info, 4), 2);
	/* delete it: its SPI is unknown from now on, outbound stays on the new SA */
	assert_int_equal(dp_sa_del(fx->a.dp, 0x2000), 0);
	assert_int_equal(dp_sa_del(fx->a.dp, 0x2000), -1);
	assert_int_equal(dp_list_sas(fx->a.dp, info, 4), 1);
	assert_int_equal(info[0].spi_in, 0x2001);
	assert_int_equal(info[0].spi_out, 0x1001);
	assert_int_equal(dp_lan_inject(fx->b.dp, to_a, 60), 0);
	dp_flush(fx->b.dp);
	carry(&fx->b, &fx->a);		/* B has not rekeyed: still 0x2000 */
	assert_int_equal(drops(&fx->a, DP_DROP_UNKNOWN_SPI), 1);
	assert_int_equal(fx->a.io->nlan, 1);
	assert_int_equal(dp_lan_inject(fx->a.dp, to_b, 60), 0);
	dp_flush(fx->a.dp);
	assert_int_equal(load_be32(fx->a.io->wan[0].data), 0x1001);
	assert_int_equal(fx->a.need_sa, 0);
}

static void
test_delete_last_sa_goes_back_to_on_demand(void **state)
{
	struct fx *fx = *state;
	uint8_t p[128];
	size_t n;

	add_pair(fx, 0x1000, 0x2000, false);
	assert_true(dp_peer_idle_ms(fx->a.dp, "b") == 0);
	assert_int_equal(dp_sa_del(fx->a.dp, 0x2000), 0);
	assert_true(dp_peer_idle_ms(fx->a.dp, "b") == UINT64_MAX);
	n = ip4(p, "10.1.0.5", "10.2.0.7", 17, 53, 1);
	assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	dp_flush(fx->a.dp);
	assert_int_equal(fx->a.io->nwan, 0);
	assert_int_equal(fx->a.need_sa, 1);
}

static void
test_drops_counted_by_reason(void **state)
{
	struct fx *fx = *state;
	struct ipaddr src = addr("192.0.2.9"), dst = addr("192.0.2.2");
	uint8_t p[128], esp[2048], junk[64];
	struct child_sa c;
	size_t n, len;
	struct dp_peer peer;

	add_pair(fx, 0x1000, 0x2000, false);
	/* MALFORMED: not IP */
	memset(junk, 0x11, sizeof(junk));
	assert_int_equal(dp_lan_inject(fx->a.dp, junk, sizeof(junk)), 0);
	assert_int_equal(drops(&fx->a, DP_DROP_MALFORMED), 1);
	/* NO_PEER: nobody's prefix */
	n = ip4(p, "10.1.0.5", "10.9.0.7", 17, 53, 1);
	assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	assert_int_equal(drops(&fx->a, DP_DROP_NO_PEER), 1);
	/* the host's own link chatter (MLD from fe80::, IPv4 multicast) is not
	 * a relay attempt: counted as no-peer, never reported as relay */
	n = ip6(p, "fe80::1", "ff02::16", 1);
	assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	n = ip4(p, "10.1.0.5", "224.0.0.22", 2, 0, 1);
	assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	assert_int_equal(drops(&fx->a, DP_DROP_NO_PEER), 3);
	assert_int_equal(drops(&fx->a, DP_DROP_RELAY), 0);
	/* a source outside our LAN is (RELAY) */
	n = ip4(p, "10.7.0.5", "10.2.0.7", 17, 53, 1);
	assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	assert_int_equal(drops(&fx->a, DP_DROP_RELAY), 1);
	assert_int_equal(fx->a.drop_events[DP_DROP_RELAY], 1);
	/* UNKNOWN_SPI and MALFORMED (too short) on the WAN */
	memset(junk, 0, sizeof(junk));
	store_be32(junk, 0xdead);
	dp_wan_input(fx->b.dp, &src, 4500, &dst, 4500, junk, sizeof(junk));
	assert_int_equal(drops(&fx->b, DP_DROP_UNKNOWN_SPI), 1);
	dp_wan_input(fx->b.dp, &src, 4500, &dst, 4500, junk, 20);
	assert_int_equal(drops(&fx->b, DP_DROP_MALFORMED), 1);
	/* BAD_ICV and REPLAY */
	n = ip4(p, "10.1.0.5", "10.2.0.7", 17, 53, 1);
	assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	dp_flush(fx->a.dp);
	len = fx->a.io->wan[0].len;
	memcpy(esp, fx->a.io->wan[0].data, len);
	esp[30] ^= 1;
	dp_wan_input(fx->b.dp, &src, 4500, &dst, 4500, esp, len);
	assert_int_equal(drops(&fx->b, DP_DROP_BAD_ICV), 1);
	memcpy(esp, fx->a.io->wan[0].data, len);
	dp_wan_input(fx->b.dp, &src, 4500, &dst, 4500, esp, len);	/* genuine */
	memcpy(esp, fx->a.io->wan[0].data, len);
	dp_wan_input(fx->b.dp, &src, 4500, &dst, 4500, esp, len);	/* again */
	assert_int_equal(drops(&fx->b, DP_DROP_REPLAY), 1);
	dp_flush(fx->b.dp);
	assert_int_equal(fx->b.io->nlan, 1);
	fx->a.io->nwan = 0;
	/* RULE: B allows only TCP 22 in from A */
	memset(&peer, 0, sizeof(peer));
	strcpy(peer.name, "a");
	peer.remote[peer.nremote++] = pfx("10.1.0.0/24");
	peer.remote[peer.nremote++] = pfx("fd01::/64");
	peer.rules[peer.nrules++] = (struct dp_rule){ .proto = 6, .port_lo = 22,
	    .port_hi = 22, .dir = DP_DIR_IN };
	assert_int_equal(dp_set_peers(fx->b.dp, &peer, 1), 0);
	n = ip4(p, "10.1.0.5", "10.2.0.7", 17, 53, 2);
	assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	n = ip4(p, "10.1.0.5", "10.2.0.7", 6, 22, 3);
	assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	dp_flush(fx->a.dp);
	carry(&fx->a, &fx->b);
	assert_int_equal(drops(&fx->b, DP_DROP_RULE), 1);
	assert_int_equal(fx->b.io->nlan, 2);
	assert_int_equal(fx->b.io->lan[1].data[59], 3);
	/* the same rule on the sending side: B's host may not open UDP to A */
	n = ip4(p, "10.2.0.7", "10.1.0.5", 17, 53, 4);
	assert_int_equal(dp_lan_inject(fx->b.dp, p, n), 0);
	assert_int_equal(drops(&fx->b, DP_DROP_RULE), 2);
	/* SELECTOR: an SA narrower than the peer's prefixes */
	make_sa(&c, true, 0x1003, 0x2003, false);
	c.remote_ts[0] = pfx("10.2.0.128/25");
	assert_int_equal(dp_sa_add(fx->a.dp, &c), 0);
	n = ip4(p, "10.1.0.5", "10.2.0.7", 17, 53, 5);
	assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	assert_int_equal(drops(&fx->a, DP_DROP_SELECTOR), 1);
	/* TX: the kernel refuses a send */
	fx->a.io->refuse_sends = 1;
	n = ip4(p, "10.1.0.5", "10.2.0.200", 17, 53, 6);
	assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	dp_flush(fx->a.dp);
	assert_int_equal(drops(&fx->a, DP_DROP_TX), 1);
	/* every drop reason has a name */
	for (n = 0; n < DP_DROP__COUNT; n++)
		assert_string_not_equal(dp_drop_name((enum dp_drop)n), "?");
}

static void
test_drop_events_rate_limited(void **state)
{
	struct fx *fx = *state;
	uint8_t junk[40];
	int i;

	memset(junk, 0x22, sizeof(junk));
	for (i = 0; i < 100; i++)
		assert_int_equal(dp_lan_inject(fx->a.dp, junk, sizeof(junk)), 0);
	assert_int_equal(drops(&fx->a, DP_DROP_MALFORMED), 100);
	assert_true(fx->a.drop_events[DP_DROP_MALFORMED] >= 1);
	assert_true(fx->a.drop_events[DP_DROP_MALFORMED] <= 5);
	dp_flush(fx->a.dp);
	fx->a.io->now_ms += 1000;	/* a second later: events again */
	for (i = 0; i < 10; i++)
		assert_int_equal(dp_lan_inject(fx->a.dp, junk, sizeof(junk)), 0);
	assert_true(fx->a.drop_events[DP_DROP_MALFORMED] >= 6);
	assert_true(fx->a.drop_events[DP_DROP_MALFORMED] <= 10);
}

static void
test_rfc3948_demux(void **state)
{
	struct fx *fx = *state;
	struct ipaddr src = addr("192.0.2.9"), dst = addr("192.0.2.2");
	uint8_t m[64] = { 0, 0, 0, 0, 0x11, 0x22, 0x33 }, ka = 0xff;
	struct dp_stats st;
	static const uint8_t ike[] = { 0x11, 0x22, 0x33, 0x44 };

	dp_wan_input(fx->b.dp, &src, 4500, &dst, 4500, m, 32);	/* marker + IKE */
	assert_int_equal(fx->b.ike, 1);
	assert_int_equal(fx->b.ike_len, 28);
	assert_int_equal(fx->b.ike_msg[0], 0x11);
	dp_wan_input(fx->b.dp, &src, 500, &dst, 500, m, 32);	/* port 500: as is */
	assert_int_equal(fx->b.ike, 2);
	assert_int_equal(fx->b.ike_len, 32);
	assert_int_equal(fx->b.ike_dport, 500);
	dp_wan_input(fx->b.dp, &src, 4500, &dst, 4500, &ka, 1);	/* keepalive */
	dp_get_stats(fx->b.dp, &st);
	assert_int_equal(st.keepalive_rx, 1);
	assert_int_equal(fx->b.ike, 2);
	/* sending: the marker on 4500, none on 500 */
	assert_int_equal(dp_send_ike(fx->a.dp, &dst, 4500, &src, 4500, ike, 4), 0);
	assert_int_equal(dp_send_ike(fx->a.dp, &dst, 500, &src, 500, ike, 4), 0);
	assert_int_equal(fx->a.io->nwan, 2);
	assert_int_equal(fx->a.io->wan[0].len, 8);
	assert_int_equal(load_be32(fx->a.io->wan[0].data), 0);
	assert_memory_equal(fx->a.io->wan[0].data + 4, ike, 4);
	assert_int_equal(fx->a.io->wan[1].len, 4);
	assert_int_equal(fx->a.io->wan[1].dport, 500);
	assert_memory_equal(fx->a.io->wan[1].data, ike, 4);
}

static void
test_idle_tracking(void **state)
{
	struct fx *fx = *state;
	struct dp_sa_info info[2];
	uint8_t p[128];
	size_t n;

	assert_true(dp_peer_idle_ms(fx->a.dp, "b") == UINT64_MAX);
	assert_true(dp_peer_idle_ms(fx->a.dp, "nobody") == UINT64_MAX);
	add_pair(fx, 0x1000, 0x2000, false);
	fx->a.io->now_ms += 700;
	fx->b.io->now_ms += 700;
	assert_int_equal(dp_peer_idle_ms(fx->a.dp, "b"), 700);
	n = ip4(p, "10.1.0.5", "10.2.0.7", 17, 53, 1);
	assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	dp_flush(fx->a.dp);
	assert_int_equal(dp_peer_idle_ms(fx->a.dp, "b"), 0);
	fx->b.io->now_ms += 300;
	carry(&fx->a, &fx->b);
	assert_int_equal(dp_peer_idle_ms(fx->b.dp, "a"), 0);
	fx->b.io->now_ms += 5000;
	assert_int_equal(dp_peer_idle_ms(fx->b.dp, "a"), 5000);
	assert_int_equal(dp_list_sas(fx->b.dp, info, 2), 1);
	assert_int_equal(info[0].idle_ms, 5000);
	assert_int_equal(info[0].pkts_in, 1);
	assert_int_equal(info[0].bytes_in, n);
}

static void
test_routes_follow_peers(void **state)
{
	struct fx *fx = *state;
	struct dp_peer p[2];

	assert_int_equal(fx->a.io->nroutes, 2);
	memset(p, 0, sizeof(p));
	strcpy(p[0].name, "b");
	p[0].remote[p[0].nremote++] = pfx("10.2.0.0/24");
	strcpy(p[1].name, "c");
	p[1].remote[p[1].nremote++] = pfx("10.3.0.0/24");
	p[1].remote[p[1].nremote++] = pfx("fd03::/64");
	assert_int_equal(dp_set_peers(fx->a.dp, p, 2), 0);
	assert_int_equal(fx->a.io->nroutes, 3);	/* fd02::/64 gone, two new */
	/* one prefix for two peers is refused, and nothing changes */
	p[1].remote[1] = pfx("10.2.0.0/24");
	assert_int_equal(dp_set_peers(fx->a.dp, p, 2), -1);
	assert_int_equal(fx->a.io->nroutes, 3);
	/* SAs for unknown peers or duplicate SPIs are refused */
	{
		struct child_sa c;

		make_sa(&c, true, 0x1000, 0x2000, false);
		strcpy(c.peer, "zz");
		assert_int_equal(dp_sa_add(fx->a.dp, &c), -1);
		strcpy(c.peer, "b");
		assert_int_equal(dp_sa_add(fx->a.dp, &c), 0);
		assert_int_equal(dp_sa_add(fx->a.dp, &c), -1);
	}
	assert_int_equal(dp_set_peers(fx->a.dp, NULL, 0), 0);
	assert_int_equal(fx->a.io->nroutes, 0);
}

static void
test_peer_removed_and_back(void **state)
{
	struct fx *fx = *state;
	struct dp_peer p;
	uint8_t pkt[128];
	size_t n;

	add_pair(fx, 0x1000, 0x2000, false);
	/* b leaves the peer set: its SA stays (until the daemon deletes it) but
	 * carries nothing: outbound has no peer, inbound is dropped */
	assert_int_equal(dp_set_peers(fx->a.dp, NULL, 0), 0);
	n = ip4(pkt, "10.1.0.5", "10.2.0.7", 17, 53, 1);
	assert_int_equal(dp_lan_inject(fx->a.dp, pkt, n), 0);
	assert_int_equal(drops(&fx->a, DP_DROP_NO_PEER), 1);
	n = ip4(pkt, "10.2.0.7", "10.1.0.5", 17, 53, 2);
	assert_int_equal(dp_lan_inject(fx->b.dp, pkt, n), 0);
	dp_flush(fx->b.dp);
	carry(&fx->b, &fx->a);
	assert_int_equal(drops(&fx->a, DP_DROP_NO_PEER), 2);
	assert_int_equal(fx->a.io->nlan, 0);
	/* b is back: the SA is relinked and used again, no new request */
	memset(&p, 0, sizeof(p));
	strcpy(p.name, "b");
	p.remote[p.nremote++] = pfx("10.2.0.0/24");
	assert_int_equal(dp_set_peers(fx->a.dp, &p, 1), 0);
	n = ip4(pkt, "10.1.0.5", "10.2.0.7", 17, 53, 3);
	assert_int_equal(dp_lan_inject(fx->a.dp, pkt, n), 0);
	dp_flush(fx->a.dp);
	assert_int_equal(fx->a.io->nwan, 1);
	assert_int_equal(load_be32(fx->a.io->wan[0].data), 0x1000);
	assert_int_equal(fx->a.need_sa, 0);
	assert_true(dp_peer_idle_ms(fx->a.dp, "b") != UINT64_MAX);
	assert_int_equal(dp_sa_del(fx->a.dp, 0x2000), 0);
	assert_true(dp_peer_idle_ms(fx->a.dp, "b") == UINT64_MAX);
}

static void
test_many_peers(void **state)
{
	struct fx *fx = *state;
	enum { N = 600 };
	struct dp_peer *p = calloc(N, sizeof(*p));
	struct dp_sa_info *info = calloc(N, sizeof(*info));
	struct child_sa c;
	uint8_t pkt[128];
	char b[64];
	size_t i, n;

	for (i = 0; i < N; i++) {
		snprintf(p[i].name, sizeof(p[i].name), "peer%zu", i);
		snprintf(b, sizeof(b), "10.%zu.%zu.0/24", 100 + i / 250, i % 250);
		p[i].remote[p[i].nremote++] = pfx(b);
	}
	assert_int_equal(dp_set_peers(fx->a.dp, p, N), 0);
	for (i = 0; i < N; i++) {
		make_sa(&c, true, (uint32_t)(0x10000 + i), (uint32_t)(0x20000 + i), false);
		strcpy(c.peer, p[i].name);
		c.remote_ts[0] = p[i].remote[0];
		assert_int_equal(dp_sa_add(fx->a.dp, &c), 0);
	}
	assert_int_equal(dp_list_sas(fx->a.dp, info, N), N);
	/* every peer's traffic leaves with its own SA */
	for (i = 0; i < N; i += 37) {
		snprintf(b, sizeof(b), "10.%zu.%zu.9", 100 + i / 250, i % 250);
		n = ip4(pkt, "10.1.0.5", b, 17, 53, 0);
		fx->a.io->nwan = 0;
		assert_int_equal(dp_lan_inject(fx->a.dp, pkt, n), 0);
		dp_flush(fx->a.dp);
		assert_int_equal(fx->a.io->nwan, 1);
		assert_int_equal(load_be32(fx->a.io->wan[0].data), 0x10000 + i);
	}
	for (i = 0; i < N; i += 2)
		assert_int_equal(dp_sa_del(fx->a.dp, (uint32_t)(0x20000 + i)), 0);
	assert_int_equal(dp_list_sas(fx->a.dp, info, N), N / 2);
	for (i = 1; i < N; i += 2)	/* the rest still found after the deletions */
		assert_int_equal(dp_sa_del(fx->a.dp, (uint32_t)(0x20000 + i)), 0);
	assert_int_equal(dp_list_sas(fx->a.dp, info, N), 0);
	free(p);
	free(info);
}

/*
 * A hub whose LAN is declared as an umbrella (10.0.0.0/8) holding tunnels to b
 * (10.2.0.0/24) and c (10.3.0.0/24): its own LAN prefix covers both peers'. A
 * rogue b sends to c's LAN through the hub; the hub must deliver it nowhere —
 * neither to its TUN on decryption, nor into c's tunnel when the kernel hands
 * it back (REQ-POL-1). The side of an address is its longest match.
 */
static void
test_no_relay_through_umbrella_prefix(void **state)
{
	struct fx *fx = *state;
	struct dp_config cfg = { .mtu = 1400, .queue_per_peer = 8 };
	struct dp_ops ops = { .arg = &fx->a, .need_sa = cb_need_sa, .drop_event = cb_drop,
	    .ike_input = cb_ike };
	struct ipaddr src = addr("192.0.2.2"), dst = addr("192.0.2.1");
	struct dp_peer peers[2], rogue;
	struct dp_memio *io = calloc(1, sizeof(*io));
	struct child_sa c;
	struct dp *hub;
	uint8_t p[128], esp[2048];
	size_t n, len;

	io->now_ms = 1000;
	cfg.local[cfg.nlocal++] = pfx("10.0.0.0/8");
	cfg.wan_addr = addr("192.0.2.1");
	hub = dp_new_io(fx->base, &cfg, &ops, &dp_io_mem, io);
	assert_non_null(hub);
	memset(peers, 0, sizeof(peers));
	strcpy(peers[0].name, "b");
	peers[0].remote[peers[0].nremote++] = pfx("10.2.0.0/24");
	strcpy(peers[1].name, "c");
	peers[1].remote[peers[1].nremote++] = pfx("10.3.0.0/24");
	assert_int_equal(dp_set_peers(hub, peers, 2), 0);
	/* b believes c's LAN lies behind the hub, and the hub's umbrella TS agreed */
	memset(&rogue, 0, sizeof(rogue));
	strcpy(rogue.name, "a");
	rogue.remote[rogue.nremote++] = pfx("10.1.0.0/24");
	rogue.remote[rogue.nremote++] = pfx("10.3.0.0/24");
	assert_int_equal(dp_set_peers(fx->b.dp, &rogue, 1), 0);
	make_sa(&c, false, 0x1000, 0x2000, false);
	c.nremote_ts = 0;
	c.remote_ts[c.nremote_ts++] = pfx("10.0.0.0/8");
	assert_int_equal(dp_sa_add(fx->b.dp, &c), 0);
	make_sa(&c, true, 0x1000, 0x2000, false);
	c.nlocal_ts = 0;
	c.local_ts[c.nlocal_ts++] = pfx("10.0.0.0/8");
	assert_int_equal(dp_sa_add(hub, &c), 0);

	/* legitimate: b to the hub's own hosts is delivered */
	n = ip4(p, "10.2.0.5", "10.1.0.7", 17, 53, 1);
	assert_int_equal(dp_lan_inject(fx->b.dp, p, n), 0);
	dp_flush(fx->b.dp);
	assert_int_equal(fx->b.io->nwan, 1);
	len = fx->b.io->wan[0].len;
	memcpy(esp, fx->b.io->wan[0].data, len);
	dp_wan_input(hub, &src, 4500, &dst, 4500, esp, len);
	dp_flush(hub);
	assert_int_equal(io->nlan, 1);

	/* relay: b to c's host, inside the umbrella: decrypted, then refused */
	fx->b.io->nwan = 0;
	n = ip4(p, "10.2.0.5", "10.3.0.7", 17, 53, 2);
	assert_int_equal(dp_lan_inject(fx->b.dp, p, n), 0);
	dp_flush(fx->b.dp);
	assert_int_equal(fx->b.io->nwan, 1);
	len = fx->b.io->wan[0].len;
	memcpy(esp, fx->b.io->wan[0].data, len);
	dp_wan_input(hub, &src, 4500, &dst, 4500, esp, len);
	dp_flush(hub);
	assert_int_equal(io->nlan, 1);		/* nothing more on the hub's LAN */
	assert_int_equal(drops(&fx->a, DP_DROP_RELAY), 0);	/* fx->a.dp is not the hub */
	{
		struct dp_stats st;

		dp_get_stats(hub, &st);
		assert_int_equal(st.drops[DP_DROP_RELAY], 1);
		/* and if the kernel handed such a packet back to the TUN (a source of
		 * b's inside our umbrella), it never enters c's tunnel */
		n = ip4(p, "10.2.0.5", "10.3.0.7", 17, 53, 3);
		assert_int_equal(dp_lan_inject(hub, p, n), 0);
		dp_flush(hub);
		dp_get_stats(hub, &st);
		assert_int_equal(st.drops[DP_DROP_RELAY], 2);
		assert_int_equal(io->nwan, 0);
		/* while the hub's own hosts still reach c (need_sa: on demand) */
		n = ip4(p, "10.1.0.5", "10.3.0.7", 17, 53, 4);
		assert_int_equal(dp_lan_inject(hub, p, n), 0);
		assert_int_equal(fx->a.need_sa, 1);
		assert_string_equal(fx->a.need_peer, "c");
	}
	dp_free(hub);
	free(io);
}

/* RFC 3948 §2.3: a quiet SA sends a one-octet 0xFF keepalive after
 * DP_KEEPALIVE_MS without a datagram of ours; traffic postpones it; the receiver
 * counts it and does not mistake it for ESP */
static void
test_nat_keepalive(void **state)
{
	struct fx *fx = *state;
	struct ipaddr src = addr("192.0.2.1"), dst = addr("192.0.2.2");
	struct dp_stats st;
	uint8_t p[128];
	size_t n;

	add_pair(fx, 0x1000, 0x2000, false);
	fx->a.io->now_ms += DP_KEEPALIVE_MS - 1000;
	dp_timer_run(fx->a.dp);
	assert_int_equal(fx->a.io->nwan, 0);		/* not yet */
	n = ip4(p, "10.1.0.5", "10.2.0.7", 17, 53, 1);	/* traffic resets the clock */
	assert_int_equal(dp_lan_inject(fx->a.dp, p, n), 0);
	dp_flush(fx->a.dp);
	assert_int_equal(fx->a.io->nwan, 1);
	fx->a.io->nwan = 0;
	fx->a.io->now_ms += DP_KEEPALIVE_MS - 1000;
	dp_timer_run(fx->a.dp);
	assert_int_equal(fx->a.io->nwan, 0);
	fx->a.io->now_ms += 1000;
	dp_timer_run(fx->a.dp);
	assert_int_equal(fx->a.io->nwan, 1);
	assert_int_equal(fx->a.io->wan[0].len, 1);
	assert_int_equal(fx->a.io->wan[0].data[0], 0xff);
	assert_int_equal(fx->a.io->wan[0].dport, 4500);
	assert_true(ipaddr_eq(&fx->a.io->wan[0].dst, &dst));
	dp_get_stats(fx->a.dp, &st);
	assert_int_equal(st.keepalive_tx, 1);
	dp_timer_run(fx->a.dp);				/* one per interval */
	assert_int_equal(fx->a.io->nwan, 1);
	dp_wan_input(fx->b.dp, &src, 4500, &dst, 4500, fx->a.io->wan[0].data, 1);
	dp_flush(fx->b.dp);
	dp_get_stats(fx->b.dp, &st);
	assert_int_equal(st.keepalive_rx, 1);
	assert_int_equal(st.drops[DP_DROP_MALFORMED] + st.drops[DP_DROP_UNKNOWN_SPI], 0);
	assert_int_equal(fx->b.io->nlan, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tunnel_both_ways_ipv4_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_on_demand_queue_and_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_overflow_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_setup_drops_queue_and_asks_again,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rekey_switch_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_last_sa_goes_back_to_on_demand,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_drops_counted_by_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_events_rate_limited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rfc3948_demux, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_tracking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routes_follow_peers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_removed_and_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_peers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_relay_through_umbrella_prefix, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nat_keepalive, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
