/*
 * Data-plane policy (src/device/policy/): the LPM table against a naive linear
 * model on random prefixes, inner packet parsing, per-direction rules, and the
 * no-relay rule (REQ-POL-1) in both directions through the data plane.
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
#include "device/policy/policy.h"
#include "lib/buf.h"
#include "lib/util.h"

static uint64_t rng_state = 0x853c49e6748fea9bULL;

static uint32_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

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

/* an address to pass by pointer (a few live at once) */
static const struct ipaddr *
ap(const char *s)
{
	static struct ipaddr ring[4];
	static unsigned k;

	ring[k % 4] = addr(s);
	return &ring[k++ % 4];
}

/* zero the host bits of a */
static void
mask(struct ipaddr *a, unsigned len)
{
	size_t n = ipaddr_len(a), i;

	for (i = 0; i < n; i++) {
		if (len >= 8)
			len -= 8;
		else {
			a->a[i] &= (uint8_t)(0xff00 >> len);
			len = 0;
		}
	}
}

/* the reference: scan everything, keep the longest; duplicates keep the first */
static int
naive_lookup(const struct prefix *ps, const bool *inserted, size_t n,
    const struct ipaddr *a, uint32_t *v)
{
	int best = -1;
	size_t i;

	for (i = 0; i < n; i++)
		if (inserted[i] && prefix_contains(&ps[i], a) &&
		    (best == -1 || ps[i].len > ps[best].len))
			best = (int)i;
	if (best == -1)
		return -1;
	*v = (uint32_t)best;
	return 0;
}

static void
random_addr(struct ipaddr *a, const struct ipaddr *bases, size_t nbases)
{
	size_t i;

	*a = bases[rnd() % nbases];
	/* perturb a few low-order and high-order bits so prefixes nest and collide */
	i = ipaddr_len(a);
	a->a[i - 1 - rnd() % 2] ^= (uint8_t)rnd();
	if (rnd() % 4 == 0)
		a->a[rnd() % i] ^= (uint8_t)(1u << (rnd() % 8));
}

static void
test_lpm_matches_naive_model(void **state)
{
	enum { NP = 3000, NQ = 40000 };
	static struct prefix ps[NP];
	static bool inserted[NP];
	struct ipaddr bases[6], a;
	struct pol_lpm *t = pol_lpm_new(NP);
	uint32_t v1, v2;
	size_t i, dup = 0, hits = 0;
	int r1, r2;

	bases[0] = addr("10.1.0.0");
	bases[1] = addr("10.1.128.0");
	bases[2] = addr("192.168.7.0");
	bases[3] = addr("fd00:1::");
	bases[4] = addr("fd00:1:0:8000::");
	bases[5] = addr("2001:db8::1:0");
	for (i = 0; i < NP; i++) {
		random_addr(&ps[i].addr, bases, nitems(bases));
		/* lengths 8..32 / 16..128: short ones would cover every query */
		ps[i].len = (uint8_t)(ps[i].addr.af == AF_INET ? 8 + rnd() % 25 :
		    16 + rnd() % 113);
		mask(&ps[i].addr, ps[i].len);
		inserted[i] = pol_lpm_insert(t, &ps[i], (uint32_t)i) == 0;
		if (!inserted[i]) {
			/* refused only because the same prefix is already in */
			size_t j;
			bool seen = false;

			for (j = 0; j < i; j++)
				if (inserted[j] && ps[j].len == ps[i].len &&
				    ipaddr_eq(&ps[j].addr, &ps[i].addr))
					seen = true;
			assert_true(seen);
			dup++;
		}
	}
	for (i = 0; i < NQ; i++) {
		random_addr(&a, bases, nitems(bases));
		if (i % 10 == 0)
			a.a[0] ^= (uint8_t)(1 + rnd() % 255);	/* far away: misses */
		r1 = pol_lpm_lookup(t, &a, &v1);
		r2 = naive_lookup(ps, inserted, NP, &a, &v2);
		assert_int_equal(r1, r2);
		if (r1 == 0) {
			assert_int_equal(v1, v2);
			hits++;
		}
	}
	/* the random data really exercised nesting, duplicates and misses */
	assert_true(dup > 0);
	assert_true(hits > NQ / 4 && hits < NQ);
	pol_lpm_free(t);
}

static void
test_lpm_basics(void **state)
{
	struct pol_lpm *t = pol_lpm_new(4);
	struct prefix p;
	uint32_t v;

	assert_int_equal(pol_lpm_lookup(t, &(struct ipaddr){ .af = AF_INET }, &v), -1);
	p = pfx("10.0.0.0/8");
	assert_int_equal(pol_lpm_insert(t, &p, 1), 0);
	p = pfx("10.1.0.0/16");
	assert_int_equal(pol_lpm_insert(t, &p, 2), 0);
	assert_int_equal(pol_lpm_insert(t, &p, 3), -1);		/* duplicate */
	p = pfx("::/0");
	assert_int_equal(pol_lpm_insert(t, &p, 4), 0);
	assert_int_equal(pol_lpm_lookup(t, ap("10.1.2.3"), &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(pol_lpm_lookup(t, ap("10.2.2.3"), &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(pol_lpm_lookup(t, ap("11.0.0.1"), &v), -1);
	assert_int_equal(pol_lpm_lookup(t, ap("fe80::1"), &v), 0);
	assert_int_equal(v, 4);
	pol_lpm_free(t);
}

/* --- packets --- */

static size_t
ip4(uint8_t *p, const char *src, const char *dst, uint8_t proto, uint16_t sport,
    uint16_t dport, size_t payload)
{
	struct ipaddr s = addr(src), d = addr(dst);
	size_t len = 20 + 8 + payload;

	memset(p, 0, len);
	p[0] = 0x45;
	store_be16(p + 2, (uint16_t)len);
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, s.a, 4);
	memcpy(p + 16, d.a, 4);
	store_be16(p + 20, sport);
	store_be16(p + 22, dport);
	return len;
}

static size_t
ip6(uint8_t *p, const char *src, const char *dst, uint8_t proto, uint16_t sport,
    uint16_t dport, size_t payload)
{
	struct ipaddr s = addr(src), d = addr(dst);

	memset(p, 0, 48 + payload);
	p[0] = 0x60;
	store_be16(p + 4, (uint16_t)(8 + payload));
	p[6] = proto;
	p[7] = 64;
	memcpy(p + 8, s.a, 16);
	memcpy(p + 24, d.a, 16);
	store_be16(p + 40, sport);
	store_be16(p + 42, dport);
	return 48 + payload;
}

static void
test_parse(void **state)
{
	uint8_t p[256];
	struct pol_pkt pp;
	size_t n;

	n = ip4(p, "10.1.0.2", "10.2.0.3", 6, 40000, 443, 10);
	assert_int_equal(pol_parse(p, n + 6, &pp), 0);	/* trailing bytes ignored */
	assert_int_equal(pp.len, n);
	assert_int_equal(pp.proto, 6);
	assert_true(pp.has_ports);
	assert_int_equal(pp.sport, 40000);
	assert_int_equal(pp.dport, 443);
	assert_true(ipaddr_eq(&pp.dst, ap("10.2.0.3")));
	assert_int_equal(pol_parse(p, n - 1, &pp), -1);	/* total length beyond data */
	assert_int_equal(pol_parse(p, 19, &pp), -1);
	assert_int_equal(pol_parse(p, 0, &pp), -1);
	p[0] = 0x44;					/* IHL 16 bytes */
	assert_int_equal(pol_parse(p, n, &pp), -1);
	p[0] = 0x4f;					/* IHL 60 > total length 38 */
	assert_int_equal(pol_parse(p, n, &pp), -1);
	p[0] = 0x55;					/* version 5 */
	assert_int_equal(pol_parse(p, n, &pp), -1);
	/* a later fragment has no ports */
	n = ip4(p, "10.1.0.2", "10.2.0.3", 17, 1, 2, 10);
	store_be16(p + 6, 0x0010);
	assert_int_equal(pol_parse(p, n, &pp), 0);
	assert_false(pp.has_ports);

	n = ip6(p, "fd01::2", "fd02::3", 17, 5353, 53, 4);
	assert_int_equal(pol_parse(p, n, &pp), 0);
	assert_int_equal(pp.proto, 17);
	assert_int_equal(pp.dport, 53);
	assert_int_equal(pol_parse(p, 39, &pp), -1);
	assert_int_equal(pol_parse(p, n - 1, &pp), -1);
	/* hop-by-hop then a first fragment then UDP */
	memmove(p + 56, p + 40, 12);
	p[6] = 0;
	p[40] = 44; p[41] = 0; memset(p + 42, 0, 6);
	p[48] = 17; p[49] = 0; store_be16(p + 50, 0x0001); memset(p + 52, 0, 4);
	store_be16(p + 4, 16 + 12);
	assert_int_equal(pol_parse(p, 40 + 28, &pp), 0);
	assert_int_equal(pp.proto, 17);
	assert_true(pp.has_ports);
	assert_int_equal(pp.dport, 53);
	store_be16(p + 50, 0x0009);			/* a later fragment */
	assert_int_equal(pol_parse(p, 40 + 28, &pp), 0);
	assert_false(pp.has_ports);
	p[40] = 0; p[41] = 200;				/* an extension header past the end */
	assert_int_equal(pol_parse(p, 40 + 28, &pp), -1);
}

static bool
allow(const struct dp_rule *r, size_t n, enum dp_dir dir, const char *src,
    const char *dst, uint8_t proto, uint16_t sport, uint16_t dport)
{
	uint8_t p[128];
	struct pol_pkt pp;
	size_t len;

	len = strchr(src, ':') ? ip6(p, src, dst, proto, sport, dport, 0) :
	    ip4(p, src, dst, proto, sport, dport, 0);
	assert_int_equal(pol_parse(p, len, &pp), 0);
	return pol_rules_allow(r, n, dir, &pp);
}

static void
test_rules(void **state)
{
	struct dp_rule r[3];

	memset(r, 0, sizeof(r));
	/* no rules: everything */
	assert_true(allow(r, 0, DP_DIR_OUT, "10.1.0.2", "10.2.0.3", 6, 1, 2));

	/* our hosts may open TCP 443 on the peer's 10.2.0.3 */
	r[0] = (struct dp_rule){ .proto = 6, .port_lo = 443, .port_hi = 443,
	    .dir = DP_DIR_OUT, .remote = pfx("10.2.0.3/32") };
	assert_true(allow(r, 1, DP_DIR_OUT, "10.1.0.2", "10.2.0.3", 6, 40000, 443));
	assert_true(allow(r, 1, DP_DIR_IN, "10.2.0.3", "10.1.0.2", 6, 443, 40000)); /* reply */
	assert_false(allow(r, 1, DP_DIR_IN, "10.2.0.3", "10.1.0.2", 6, 40000, 443)); /* opening in */
	assert_false(allow(r, 1, DP_DIR_OUT, "10.1.0.2", "10.2.0.4", 6, 40000, 443)); /* other host */
	assert_false(allow(r, 1, DP_DIR_OUT, "10.1.0.2", "10.2.0.3", 6, 40000, 444));
	assert_false(allow(r, 1, DP_DIR_OUT, "10.1.0.2", "10.2.0.3", 17, 40000, 443));
	assert_false(allow(r, 1, DP_DIR_OUT, "10.1.0.2", "10.2.0.3", 1, 0, 0));

	/* the peer may reach our 10.1.0.5 on UDP 5000-5010; ICMP both ways */
	r[1] = (struct dp_rule){ .proto = 17, .port_lo = 5000, .port_hi = 5010,
	    .dir = DP_DIR_IN, .local = pfx("10.1.0.5/32") };
	r[2] = (struct dp_rule){ .proto = 1, .dir = DP_DIR_BOTH };
	assert_true(allow(r, 3, DP_DIR_IN, "10.2.0.9", "10.1.0.5", 17, 999, 5005));
	assert_true(allow(r, 3, DP_DIR_IN, "10.2.0.9", "10.1.0.5", 17, 999, 5010));
	assert_false(allow(r, 3, DP_DIR_IN, "10.2.0.9", "10.1.0.5", 17, 999, 5011));
	assert_false(allow(r, 3, DP_DIR_IN, "10.2.0.9", "10.1.0.6", 17, 999, 5005));
	assert_true(allow(r, 3, DP_DIR_OUT, "10.1.0.5", "10.2.0.9", 17, 5005, 999)); /* reply */
	assert_false(allow(r, 3, DP_DIR_OUT, "10.1.0.6", "10.2.0.9", 17, 5005, 999));
	assert_true(allow(r, 3, DP_DIR_OUT, "10.1.0.7", "10.2.0.1", 1, 0, 0));
	assert_true(allow(r, 3, DP_DIR_IN, "10.2.0.1", "10.1.0.7", 1, 0, 0));

	/* any protocol, any port (port_hi 0), IPv6 local prefix */
	memset(r, 0, sizeof(r));
	r[0] = (struct dp_rule){ .proto = 0, .dir = DP_DIR_OUT, .local = pfx("fd01::/64") };
	assert_true(allow(r, 1, DP_DIR_OUT, "fd01::2", "fd02::1", 6, 1, 2));
	assert_false(allow(r, 1, DP_DIR_OUT, "fd01:0:0:1::2", "fd02::1", 6, 1, 2));
	assert_false(allow(r, 1, DP_DIR_OUT, "10.1.0.2", "10.2.0.1", 6, 1, 2));
	r[0] = (struct dp_rule){ .proto = 6, .dir = DP_DIR_OUT };
	assert_true(allow(r, 1, DP_DIR_OUT, "fd01::2", "fd02::1", 6, 1, 2));
	/* an OUT-only rule admits replies in, never new flows from a port range
	 * it does not name: here any port, so the reply passes */
	assert_true(allow(r, 1, DP_DIR_IN, "fd02::1", "fd01::2", 6, 1, 2));
	assert_false(allow(r, 1, DP_DIR_IN, "fd02::1", "fd01::2", 17, 1, 2));
}

/* --- no relay, through the data plane with in-memory I/O --- */

static const uint8_t key_xy[36] = { 1, 2, 3 }, key_yx[36] = { 4, 5, 6 };

struct relay_fx {
	struct event_base *base;
	struct dp_memio *io;
	struct dp *dp;
};

static void
relay_setup(struct relay_fx *fx)
{
	struct dp_config cfg = { .mtu = 1400 };
	struct dp_peer peers[2];
	struct child_sa c;

	memset(peers, 0, sizeof(peers));
	fx->base = event_base_new();
	fx->io = calloc(1, sizeof(*fx->io));
	cfg.local[cfg.nlocal++] = pfx("10.1.0.0/24");
	cfg.wan_addr = addr("192.0.2.1");
	fx->dp = dp_new_io(fx->base, &cfg, NULL, &dp_io_mem, fx->io);
	assert_non_null(fx->dp);
	strcpy(peers[0].name, "x");
	peers[0].remote[peers[0].nremote++] = pfx("10.2.0.0/24");
	strcpy(peers[1].name, "y");
	peers[1].remote[peers[1].nremote++] = pfx("10.3.0.0/24");
	assert_int_equal(dp_set_peers(fx->dp, peers, 2), 0);
	/* SAs to both peers; x's selectors deliberately wide (a careless peer
	 * negotiated 10.0.0.0/8 both ways): no-relay must hold regardless */
	memset(&c, 0, sizeof(c));
	strcpy(c.peer, "x");
	c.spi_in = 0x100; c.spi_out = 0x200;
	memcpy(c.key_in, key_xy, 36);
	memcpy(c.key_out, key_yx, 36);
	c.peer_addr = addr("192.0.2.2");
	c.local_ts[c.nlocal_ts++] = pfx("10.0.0.0/8");
	c.remote_ts[c.nremote_ts++] = pfx("10.0.0.0/8");
	assert_int_equal(dp_sa_add(fx->dp, &c), 0);
	strcpy(c.peer, "y");
	c.spi_in = 0x101; c.spi_out = 0x201;
	c.peer_addr = addr("192.0.2.3");
	assert_int_equal(dp_sa_add(fx->dp, &c), 0);
}

static void
relay_teardown(struct relay_fx *fx)
{
	dp_free(fx->dp);
	free(fx->io);
	event_base_free(fx->base);
}

/* an ESP datagram from peer x (our inbound SA 0x100) carrying pkt */
static size_t
from_x(uint8_t *out, const uint8_t *pkt, size_t n)
{
	struct esp_out o;
	size_t len;

	assert_int_equal(esp_out_init(&o, 0x100, key_xy, false), 0);
	memcpy(out + ESP_HEAD_LEN, pkt, n);
	assert_int_equal(esp_encap(&o, out, 2048, n, (pkt[0] >> 4) == 4 ? 4 : 41, &len),
	    ESP_OK);
	esp_out_wipe(&o);
	return len;
}

static void
test_no_relay_inbound(void **state)
{
	struct relay_fx fx;
	struct dp_stats st;
	uint8_t pkt[256], esp[2048];
	struct ipaddr src = addr("192.0.2.2");
	size_t n, len;

	relay_setup(&fx);
	/* x sends to a host behind y: authenticated, inside x's SA selectors, but not
	 * for our LAN: dropped, never re-encrypted towards y */
	n = ip4(pkt, "10.2.0.5", "10.3.0.7", 17, 1, 2, 20);
	len = from_x(esp, pkt, n);
	dp_wan_input(fx.dp, &src, 4500, &src, 4500, esp, len);
	dp_flush(fx.dp);
	dp_get_stats(fx.dp, &st);
	assert_int_equal(st.drops[DP_DROP_RELAY], 1);
	assert_int_equal(fx.io->nwan, 0);
	assert_int_equal(fx.io->nlan, 0);
	/* the same from x to our LAN is delivered */
	n = ip4(pkt, "10.2.0.5", "10.1.0.7", 17, 1, 2, 20);
	{
		struct esp_out o;

		assert_int_equal(esp_out_init(&o, 0x100, key_xy, false), 0);
		o.seq = 1;
		memcpy(esp + ESP_HEAD_LEN, pkt, n);
		assert_int_equal(esp_encap(&o, esp, sizeof(esp), n, 4, &len), ESP_OK);
		esp_out_wipe(&o);
	}
	dp_wan_input(fx.dp, &src, 4500, &src, 4500, esp, len);
	dp_flush(fx.dp);
	assert_int_equal(fx.io->nlan, 1);
	assert_memory_equal(fx.io->lan[0].data, pkt, n);
	/* a source outside x's prefixes (spoofing y's) is a selector drop */
	n = ip4(pkt, "10.3.0.5", "10.1.0.7", 17, 1, 2, 20);
	{
		struct esp_out o;

		assert_int_equal(esp_out_init(&o, 0x100, key_xy, false), 0);
		o.seq = 2;
		memcpy(esp + ESP_HEAD_LEN, pkt, n);
		assert_int_equal(esp_encap(&o, esp, sizeof(esp), n, 4, &len), ESP_OK);
		esp_out_wipe(&o);
	}
	dp_wan_input(fx.dp, &src, 4500, &src, 4500, esp, len);
	dp_flush(fx.dp);
	dp_get_stats(fx.dp, &st);
	assert_int_equal(st.drops[DP_DROP_SELECTOR], 1);
	assert_int_equal(fx.io->nlan, 1);
	relay_teardown(&fx);
}

static void
test_no_relay_outbound(void **state)
{
	struct relay_fx fx;
	struct dp_stats st;
	uint8_t pkt[256];
	size_t n;

	relay_setup(&fx);
	/* a packet that reaches the TUN with a source not in our LAN (say, x's
	 * traffic routed back into the TUN) is never sent to y */
	n = ip4(pkt, "10.2.0.5", "10.3.0.7", 6, 1, 2, 0);
	assert_int_equal(dp_lan_inject(fx.dp, pkt, n), 0);
	dp_flush(fx.dp);
	dp_get_stats(fx.dp, &st);
	assert_int_equal(st.drops[DP_DROP_RELAY], 1);
	assert_int_equal(fx.io->nwan, 0);
	/* from our LAN it goes, to y */
	n = ip4(pkt, "10.1.0.5", "10.3.0.7", 6, 1, 2, 0);
	assert_int_equal(dp_lan_inject(fx.dp, pkt, n), 0);
	dp_flush(fx.dp);
	assert_int_equal(fx.io->nwan, 1);
	assert_true(ipaddr_eq(&fx.io->wan[0].dst, ap("192.0.2.3")));
	assert_int_equal(load_be32(fx.io->wan[0].data), 0x201);
	relay_teardown(&fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lpm_basics),
		cmocka_unit_test(test_lpm_matches_naive_model),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_no_relay_inbound),
		cmocka_unit_test(test_no_relay_outbound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
