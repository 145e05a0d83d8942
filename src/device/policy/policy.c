/*
 * Inner packet parsing, the prefix table and rule matching (see policy.h).
 *
 * The LPM table is a hash of (family, length, masked address) with the lengths
 * present kept per family, longest first: a lookup costs one probe per distinct
 * length in use (a handful in practice), whatever the number of peers. Tested
 * against a linear reference model in tests/unit/test_policy.c.
 */
#include <stdlib.h>
#include <string.h>

#include "device/policy/policy.h"
#include "lib/buf.h"
#include "lib/util.h"

#define IPV4_HDR_MIN	20
#define IPV6_HDR_LEN	40

static int
pol_parse_ports(struct rbuf *r, struct pol_pkt *p)
{
	if (p->proto != 6 && p->proto != 17 && p->proto != 132)
		return 0;
	if (rbuf_peek_u16(r, 0, &p->sport) == -1 ||
	    rbuf_peek_u16(r, 2, &p->dport) == -1)
		return 0;	/* truncated transport header: no ports */
	p->has_ports = true;
	return 0;
}

static int
pol_parse4(struct rbuf *r, size_t len, struct pol_pkt *p)
{
	uint8_t vihl, ttl;
	uint16_t totlen, frag;
	size_t ihl;

	if (rbuf_get_u8(r, &vihl) == -1)
		return -1;
	ihl = (size_t)(vihl & 0x0f) * 4;
	if (ihl < IPV4_HDR_MIN || ihl > len)
		return -1;
	if (rbuf_skip(r, 1) == -1 || rbuf_get_u16(r, &totlen) == -1 ||
	    rbuf_skip(r, 2) == -1 || rbuf_get_u16(r, &frag) == -1 ||
	    rbuf_get_u8(r, &ttl) == -1 || rbuf_get_u8(r, &p->proto) == -1 ||
	    rbuf_skip(r, 2) == -1)
		return -1;
	if (totlen < ihl || totlen > len)
		return -1;
	p->src.af = p->dst.af = AF_INET;
	if (rbuf_get_bytes(r, p->src.a, 4) == -1 || rbuf_get_bytes(r, p->dst.a, 4) == -1)
		return -1;
	p->len = totlen;
	p->hdrlen = ihl;
	r->len = totlen;	/* ignore link padding beyond the IP packet */
	if (rbuf_skip(r, ihl - IPV4_HDR_MIN) == -1)
		return -1;
	if ((frag & 0x1fff) != 0)
		return 0;	/* later fragment: no transport header */
	return pol_parse_ports(r, p);
}

static int
pol_parse6(struct rbuf *r, size_t len, struct pol_pkt *p)
{
	uint16_t plen, fragoff;
	uint8_t nh, hlen;
	int i;

	if (rbuf_skip(r, 4) == -1 || rbuf_get_u16(r, &plen) == -1 ||
	    rbuf_get_u8(r, &nh) == -1 || rbuf_skip(r, 1) == -1)
		return -1;
	if ((size_t)plen > len - IPV6_HDR_LEN)
		return -1;
	p->src.af = p->dst.af = AF_INET6;
	if (rbuf_get_bytes(r, p->src.a, 16) == -1 || rbuf_get_bytes(r, p->dst.a, 16) == -1)
		return -1;
	p->len = IPV6_HDR_LEN + (size_t)plen;
	r->len = p->len;
	/* walk a bounded number of extension headers (RFC 8200 §4) */
	for (i = 0; i < 8; i++) {
		switch (nh) {
		case 0:		/* hop-by-hop */
		case 43:	/* routing */
		case 60:	/* destination options */
			if (rbuf_get_u8(r, &nh) == -1 || rbuf_get_u8(r, &hlen) == -1 ||
			    rbuf_skip(r, (size_t)hlen * 8 + 6) == -1)
				return -1;
			continue;
		case 44:	/* fragment */
			if (rbuf_get_u8(r, &nh) == -1 || rbuf_skip(r, 1) == -1 ||
			    rbuf_get_u16(r, &fragoff) == -1 || rbuf_skip(r, 4) == -1)
				return -1;
			if ((fragoff & 0xfff8) != 0) {
				p->proto = nh;
				p->hdrlen = r->off;
				return 0;
			}
			continue;
		default:
			break;
		}
		break;
	}
	p->proto = nh;
	p->hdrlen = r->off;
	return pol_parse_ports(r, p);
}

int
pol_parse(const uint8_t *pkt, size_t len, struct pol_pkt *p)
{
	struct rbuf r;
	uint8_t v;

	memset(p, 0, sizeof(*p));
	rbuf_init(&r, pkt, len);
	if (rbuf_peek_u8(&r, 0, &v) == -1)
		return -1;
	switch (v >> 4) {
	case 4:
		if (IPV4_HDR_MIN > len)
			return -1;
		return pol_parse4(&r, len, p);
	case 6:
		if (IPV6_HDR_LEN > len)
			return -1;
		return pol_parse6(&r, len, p);
	default:
		return -1;
	}
}

/* --- longest-prefix match --- */

struct pol_lpm_ent {
	uint64_t	hi, lo;		/* masked address (IPv4 in lo) */
	uint32_t	value;
	uint8_t		len;
	uint8_t		af;		/* 0: empty slot */
};

struct pol_lpm {
	struct pol_lpm_ent *tab;
	size_t		 cap;		/* power of two */
	size_t		 n;
	uint8_t		 lens4[33], nlens4;	/* lengths present, longest first */
	uint8_t		 lens6[129], nlens6;
};

static void
pol_key(const struct ipaddr *a, unsigned len, uint64_t *hi, uint64_t *lo)
{
	if (a->af == AF_INET) {
		uint64_t v = load_be32(a->a);

		*hi = 0;
		*lo = len == 0 ? 0 : v & (0xffffffffULL << (32 - len)) & 0xffffffffULL;
		return;
	}
	*hi = load_be64(a->a);
	*lo = load_be64(a->a + 8);
	if (len <= 64) {
		*lo = 0;
		*hi = len == 0 ? 0 : *hi & (~0ULL << (64 - len));
	} else if (len < 128)
		*lo &= ~0ULL << (128 - len);
}

static size_t
pol_hash(uint8_t af, uint8_t len, uint64_t hi, uint64_t lo)
{
	uint64_t h = (hi ^ (lo * 0x9e3779b97f4a7c15ULL)) + ((uint64_t)af << 8 | len);

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return (size_t)h;
}

struct pol_lpm *
pol_lpm_new(size_t n)
{
	struct pol_lpm *t = xcalloc(1, sizeof(*t));

	t->cap = 16;
	while (t->cap < 2 * n + 2)
		t->cap *= 2;
	t->tab = xcalloc(t->cap, sizeof(*t->tab));
	return t;
}

void
pol_lpm_free(struct pol_lpm *t)
{
	if (t == NULL)
		return;
	free(t->tab);
	free(t);
}

static void
pol_lens_add(uint8_t *lens, uint8_t *n, uint8_t len)
{
	uint8_t i, j;

	for (i = 0; i < *n && lens[i] > len; i++)
		;
	if (i < *n && lens[i] == len)
		return;
	for (j = *n; j > i; j--)
		lens[j] = lens[j - 1];
	lens[i] = len;
	(*n)++;
}

int
pol_lpm_insert(struct pol_lpm *t, const struct prefix *p, uint32_t value)
{
	uint64_t hi, lo;
	uint8_t af = p->addr.af == AF_INET ? 4 : 6;
	size_t i;

	if ((p->addr.af != AF_INET && p->addr.af != AF_INET6) ||
	    p->len > (af == 4 ? 32 : 128) || t->n + 1 >= t->cap / 2 + 1)
		return -1;
	pol_key(&p->addr, p->len, &hi, &lo);
	for (i = pol_hash(af, p->len, hi, lo) & (t->cap - 1); t->tab[i].af != 0;
	    i = (i + 1) & (t->cap - 1)) {
		if (t->tab[i].af == af && t->tab[i].len == p->len &&
		    t->tab[i].hi == hi && t->tab[i].lo == lo)
			return -1;
	}
	t->tab[i] = (struct pol_lpm_ent){ .hi = hi, .lo = lo, .value = value,
	    .len = p->len, .af = af };
	t->n++;
	if (af == 4)
		pol_lens_add(t->lens4, &t->nlens4, p->len);
	else
		pol_lens_add(t->lens6, &t->nlens6, p->len);
	return 0;
}

int
pol_lpm_lookup(const struct pol_lpm *t, const struct ipaddr *a, uint32_t *value)
{
	const uint8_t *lens;
	uint8_t af, nlens, k;
	uint64_t hi, lo;
	size_t i;

	if (a->af == AF_INET) {
		af = 4;
		lens = t->lens4;
		nlens = t->nlens4;
	} else if (a->af == AF_INET6) {
		af = 6;
		lens = t->lens6;
		nlens = t->nlens6;
	} else
		return -1;
	for (k = 0; k < nlens; k++) {
		pol_key(a, lens[k], &hi, &lo);
		for (i = pol_hash(af, lens[k], hi, lo) & (t->cap - 1);
		    t->tab[i].af != 0; i = (i + 1) & (t->cap - 1)) {
			if (t->tab[i].af == af && t->tab[i].len == lens[k] &&
			    t->tab[i].hi == hi && t->tab[i].lo == lo) {
				*value = t->tab[i].value;
				return 0;
			}
		}
	}
	return -1;
}

/* --- rules --- */

bool
pol_in_prefixes(const struct prefix *p, size_t n, const struct ipaddr *a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (prefix_contains(&p[i], a))
			return true;
	return false;
}

static bool
pol_side_match(const struct prefix *rule, const struct ipaddr *a)
{
	return rule->len == 0 && (rule->addr.af == 0 || rule->addr.af == a->af) ?
	    true : prefix_contains(rule, a);
}

static bool
pol_port_match(const struct dp_rule *r, const struct pol_pkt *p, uint16_t port)
{
	if (r->proto != 6 && r->proto != 17)
		return true;		/* ports only mean something for TCP/UDP */
	if (r->port_hi == 0)
		return true;		/* any port */
	if (!p->has_ports)
		return false;
	return port >= r->port_lo && port <= r->port_hi;
}

bool
pol_rules_allow(const struct dp_rule *rules, size_t n, enum dp_dir dir,
    const struct pol_pkt *p)
{
	const struct ipaddr *local, *remote;
	const struct dp_rule *r;
	size_t i;

	if (n == 0)
		return true;
	/* orient the packet: which end is ours */
	local = dir == DP_DIR_OUT ? &p->src : &p->dst;
	remote = dir == DP_DIR_OUT ? &p->dst : &p->src;
	for (i = 0; i < n; i++) {
		r = &rules[i];
		if (r->proto != 0 && r->proto != p->proto)
			continue;
		if (!pol_side_match(&r->local, local) || !pol_side_match(&r->remote, remote))
			continue;
		/* a flow started in the rule's direction: destination port */
		if ((r->dir & dir) && pol_port_match(r, p, p->dport))
			return true;
		/* its replies: source port, the other way */
		if ((r->dir & (DP_DIR_BOTH & ~dir)) && pol_port_match(r, p, p->sport))
			return true;
	}
	return false;
}
