/*
 * Traffic selectors (RFC 7296 §2.9, §3.13). odvpn protects whole prefixes:
 * selectors are address ranges for any protocol and all ports. A selector
 * restricted to a protocol or ports is skipped (the data plane could not honour
 * it), never widened. Ranges that are not prefixes are narrowed to the largest
 * prefix inside them (the child_sa contract).
 */
#include <string.h>

#include "device/ike/ike_local.h"

typedef unsigned __int128 u128;

static u128
addr_val(const struct ipaddr *a)
{
	size_t n = ipaddr_len(a);
	u128 v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | a->a[i];
	return v;
}

static void
val_addr(u128 v, sa_family_t af, struct ipaddr *a)
{
	size_t n = af == AF_INET ? 4 : 16;

	memset(a, 0, sizeof(*a));
	a->af = af;
	for (size_t i = n; i-- > 0;) {
		a->a[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* the largest prefix inside [lo, hi] (lo <= hi), lowest such block */
static void
largest_prefix(u128 lo, u128 hi, sa_family_t af, struct prefix *out)
{
	unsigned bits = af == AF_INET ? 32 : 128;

	for (unsigned len = 0; len <= bits; len++) {
		unsigned hostbits = bits - len;
		u128 size1 = hostbits == 128 ? ~(u128)0 : (((u128)1 << hostbits) - 1);
		u128 start;

		/* the first aligned block at or above lo */
		if (hostbits == 128)
			start = 0;
		else {
			start = (lo + size1) & ~size1;
			if (start < lo)
				continue;	/* wrapped */
		}
		if (start + size1 < start || start + size1 > hi)
			continue;
		val_addr(start, af, &out->addr);
		out->len = (uint8_t)len;
		return;
	}
}

void
ike_ts_from_prefixes(const struct prefix *p, size_t n, struct ike_pl_ts *ts)
{
	memset(ts, 0, sizeof(*ts));
	for (size_t i = 0; i < n && ts->n < IKE_MAX_TS; i++) {
		struct ike_ts *t = &ts->ts[ts->n++];

		t->type = p[i].addr.af == AF_INET ? IKE_TS_IPV4_ADDR_RANGE :
		    IKE_TS_IPV6_ADDR_RANGE;
		t->proto = 0;
		t->sport = 0;
		t->eport = 0xffff;
		prefix_range(&p[i], &t->start, &t->end);
	}
}

static bool
ts_whole(const struct ike_ts *t)
{
	return t->proto == 0 && t->sport == 0 && t->eport == 0xffff &&
	    addr_val(&t->start) <= addr_val(&t->end);
}

static void
add_unique(struct prefix *out, size_t *nout, const struct prefix *p)
{
	for (size_t i = 0; i < *nout; i++)
		if (out[i].len == p->len && ipaddr_eq(&out[i].addr, &p->addr))
			return;
	if (*nout < CHILD_SA_MAX_TS)
		out[(*nout)++] = *p;
}

/* responder: what the peer proposed ∩ what we allow */
int
ike_ts_narrow(const struct ike_pl_ts *proposed, const struct prefix *allowed,
    size_t nallowed, struct prefix *out, size_t *nout)
{
	*nout = 0;
	for (size_t i = 0; i < proposed->n; i++) {
		const struct ike_ts *t = &proposed->ts[i];

		if (!ts_whole(t))
			continue;
		for (size_t j = 0; j < nallowed; j++) {
			struct ipaddr alo, ahi;
			u128 lo, hi;
			struct prefix p;

			if (allowed[j].addr.af != t->start.af)
				continue;
			prefix_range(&allowed[j], &alo, &ahi);
			lo = addr_val(&t->start) > addr_val(&alo) ? addr_val(&t->start) :
			    addr_val(&alo);
			hi = addr_val(&t->end) < addr_val(&ahi) ? addr_val(&t->end) :
			    addr_val(&ahi);
			if (lo > hi)
				continue;
			largest_prefix(lo, hi, t->start.af, &p);
			add_unique(out, nout, &p);
		}
	}
	return *nout > 0 ? 0 : -1;
}

/* initiator: every answered selector must lie inside one we proposed */
int
ike_ts_accept(const struct ike_pl_ts *answer, const struct prefix *proposed,
    size_t nproposed, struct prefix *out, size_t *nout)
{
	*nout = 0;
	for (size_t i = 0; i < answer->n; i++) {
		const struct ike_ts *t = &answer->ts[i];
		bool inside = false;
		struct prefix p;

		if (!ts_whole(t))
			continue;
		for (size_t j = 0; j < nproposed && !inside; j++) {
			struct ipaddr lo, hi;

			if (proposed[j].addr.af != t->start.af)
				continue;
			prefix_range(&proposed[j], &lo, &hi);
			inside = addr_val(&t->start) >= addr_val(&lo) &&
			    addr_val(&t->end) <= addr_val(&hi);
		}
		if (!inside)
			return -1;
		largest_prefix(addr_val(&t->start), addr_val(&t->end), t->start.af, &p);
		add_unique(out, nout, &p);
	}
	return *nout > 0 ? 0 : -1;
}
