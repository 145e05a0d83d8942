#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "center/policy.h"
#include "lib/util.h"

#define DAY_S		86400

/* ---- small parsers ----------------------------------------------------- */

static const struct {
	const char	*name;
	uint8_t		 num;
} protos[] = {
	{ "any", 0 }, { "icmp", 1 }, { "tcp", 6 }, { "udp", 17 }, { "gre", 47 },
	{ "esp", 50 }, { "icmpv6", 58 }, { "sctp", 132 },
};

/* strict decimal 0..max */
static int
parse_uint(const char *s, size_t len, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max || (len > 1 && s[0] == '0'))
		return -1;
	*out = v;
	return 0;
}

int
pol_proto_parse(const char *s, uint8_t *out)
{
	unsigned long v;

	for (size_t i = 0; i < nitems(protos); i++) {
		if (strcmp(s, protos[i].name) == 0) {
			*out = protos[i].num;
			return 0;
		}
	}
	if (parse_uint(s, strlen(s), 255, &v) == -1)
		return -1;
	*out = (uint8_t)v;
	return 0;
}

const char *
pol_proto_name(uint8_t p, char *buf, size_t cap)
{
	for (size_t i = 0; i < nitems(protos); i++)
		if (protos[i].num == p)
			return protos[i].name;
	xsnprintf(buf, cap, "%u", p);
	return buf;
}

bool
pol_proto_has_ports(uint8_t p)
{
	return p == 6 || p == 17 || p == 132;
}

int
pol_ports_parse(const char *s, uint16_t *lo, uint16_t *hi)
{
	const char *dash = strchr(s, '-');
	unsigned long a, b;

	if (dash == NULL) {
		if (parse_uint(s, strlen(s), 65535, &a) == -1)
			return -1;
		b = a;
	} else if (parse_uint(s, (size_t)(dash - s), 65535, &a) == -1 ||
	    parse_uint(dash + 1, strlen(dash + 1), 65535, &b) == -1 || a > b)
		return -1;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

static int
two_digits(const char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

int
pol_hours_parse(const char *s, int *min_from, int *min_to)
{
	int h1, m1, h2, m2, f, t;

	if (strlen(s) != 11 || s[2] != ':' || s[5] != '-' || s[8] != ':')
		return -1;
	h1 = two_digits(s);
	m1 = two_digits(s + 3);
	h2 = two_digits(s + 6);
	m2 = two_digits(s + 9);
	if (h1 < 0 || m1 < 0 || h2 < 0 || m2 < 0 || m1 > 59 || m2 > 59)
		return -1;
	f = h1 * 60 + m1;
	t = h2 * 60 + m2;
	if (f >= 1440 || t > 1440 || t <= f)	/* no wrap past midnight */
		return -1;
	*min_from = f;
	*min_to = t;
	return 0;
}

static const char *const day_names[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

int
pol_day_parse(const char *s)
{
	for (size_t i = 0; i < nitems(day_names); i++)
		if (strcmp(s, day_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
pol_day_name(int d)
{
	return d >= 0 && d < 7 ? day_names[d] : "?";
}

/* ---- time windows ------------------------------------------------------ */

static int
day_of_week(int64_t t)
{
	int64_t days = t / DAY_S;

	if (t < 0 && t % DAY_S != 0)
		days--;
	return (int)(((days + 3) % 7 + 7) % 7);	/* 1970-01-01 was a Thursday */
}

static int64_t
day_start(int64_t t)
{
	int64_t r = t % DAY_S;

	return t - (r < 0 ? r + DAY_S : r);
}

bool
pol_window_open(const struct pol_window *w, int64_t now)
{
	if (w->from != 0 && now < w->from)
		return false;
	if (w->until != 0 && now >= w->until)
		return false;
	if (w->days != 0 && (w->days & POL_DAY(day_of_week(now))) == 0)
		return false;
	if (w->min_from >= 0) {
		int m = (int)((now - day_start(now)) / 60);

		if (m < w->min_from || m >= w->min_to)
			return false;
	}
	return true;
}

int64_t
pol_window_end(const struct pol_window *w, int64_t now)
{
	int64_t end = w->until;
	int64_t e = 0;

	if (w->min_from >= 0) {
		e = day_start(now) + (int64_t)w->min_to * 60;
	} else if (w->days != 0 && w->days != 0x7f) {
		/* whole allowed days: run to the end of the last consecutive one */
		e = day_start(now);
		for (int k = 0; k < 7; k++) {
			e += DAY_S;
			if ((w->days & POL_DAY(day_of_week(e))) == 0)
				break;
		}
	}
	if (e != 0 && (end == 0 || e < end))
		end = e;
	return end;
}

/* ---- prefixes and flows ------------------------------------------------ */

int
pol_prefix_and(const struct prefix *a, const struct prefix *b, struct prefix *out)
{
	if (!prefix_overlaps(a, b))
		return -1;
	*out = a->len >= b->len ? *a : *b;
	return 0;
}

static bool
prefix_within(const struct prefix *inner, const struct prefix *outer)
{
	return outer->addr.af == inner->addr.af && outer->len <= inner->len &&
	    prefix_overlaps(outer, inner);
}

bool
pol_flow_contains(const struct pol_flow *o, const struct pol_flow *i)
{
	return o->from_initiator == i->from_initiator &&
	    prefix_within(&i->src, &o->src) && prefix_within(&i->dst, &o->dst) &&
	    (o->proto == 0 || o->proto == i->proto) &&
	    o->port_lo <= i->port_lo && i->port_hi <= o->port_hi;
}

static int
flow_and(const struct pol_flow *a, const struct pol_flow *b, struct pol_flow *out)
{
	struct pol_flow f;

	if (a->from_initiator != b->from_initiator)
		return -1;
	memset(&f, 0, sizeof(f));
	f.from_initiator = a->from_initiator;
	if (pol_prefix_and(&a->src, &b->src, &f.src) == -1 ||
	    pol_prefix_and(&a->dst, &b->dst, &f.dst) == -1)
		return -1;
	if (a->proto == 0)
		f.proto = b->proto;
	else if (b->proto == 0 || b->proto == a->proto)
		f.proto = a->proto;
	else
		return -1;
	f.port_lo = MAX(a->port_lo, b->port_lo);
	f.port_hi = MIN(a->port_hi, b->port_hi);
	if (f.port_lo > f.port_hi)
		return -1;
	if (!pol_proto_has_ports(f.proto)) {
		/* a port range only means something for TCP/UDP/SCTP; a rule
		 * "any protocol" meeting "tcp 443" yields tcp 443, but "icmp" meeting
		 * "tcp 443" was refused above */
		f.port_lo = 0;
		f.port_hi = 65535;
	}
	f.not_after = a->not_after == 0 ? b->not_after :
	    b->not_after == 0 ? a->not_after : MIN(a->not_after, b->not_after);
	f.manual = a->manual || b->manual;
	*out = f;
	return 0;
}

/* a set of flows, or "everything" (an organisation without rules) */
struct flowset {
	struct pol_flow	*v;
	size_t		 n, cap;
	bool		 all;
	bool		 all_manual;
};

static void
fs_add(struct flowset *s, const struct pol_flow *f)
{
	for (size_t i = 0; i < s->n; i++) {
		if (pol_flow_contains(&s->v[i], f) && s->v[i].not_after == f->not_after &&
		    s->v[i].manual == f->manual)
			return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap == 0 ? 16 : s->cap * 2;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = *f;
}

static void
fs_free(struct flowset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* the prefixes a selector covers on a site (empty when it does not match) */
static size_t
sel_prefixes(const struct pol_sel *sel, const struct pol_site *site,
    struct prefix *out, size_t cap)
{
	const struct pol_pfxset *base = &site->lan;
	size_t n = 0;

	if (sel->site[0] != '\0' && strcmp(sel->site, site->name) != 0)
		return 0;
	if (sel->org[0] != '\0' && strcmp(sel->org, site->org) != 0)
		return 0;
	if (sel->zone[0] != '\0') {
		size_t z;

		for (z = 0; z < site->nzones; z++)
			if (strcmp(site->zones[z].name, sel->zone) == 0)
				break;
		if (z == site->nzones)
			return 0;
		base = &site->zones[z].pfx;
	}
	for (size_t i = 0; i < base->n; i++) {
		for (size_t j = 0; j < site->lan.n; j++) {
			struct prefix p, q;

			/* zones are validated to lie in the LAN; intersect anyway */
			if (pol_prefix_and(&base->p[i], &site->lan.p[j], &p) == -1)
				continue;
			if (sel->has_prefix && pol_prefix_and(&p, &sel->prefix, &q) == 0)
				p = q;
			else if (sel->has_prefix)
				continue;
			if (n < cap)
				out[n++] = p;
		}
	}
	return n;
}

static bool
in_common_group(const struct pol_input *in, const char *group)
{
	for (size_t i = 0; i < in->ncommon; i++)
		if (strcmp(in->common_groups[i], group) == 0)
			return true;
	return false;
}

/* boxes of one rule for flows opened by `from` toward `to` */
static void
rule_boxes(const struct pol_rule *r, const struct pol_sel *src, const struct pol_sel *dst,
    const struct pol_site *from, const struct pol_site *to, bool from_initiator,
    int64_t not_after, bool manual, struct flowset *out)
{
	struct prefix sp[POL_MAX_PREFIXES * POL_MAX_PREFIXES];
	struct prefix dp[POL_MAX_PREFIXES * POL_MAX_PREFIXES];
	size_t ns, nd;

	ns = sel_prefixes(src, from, sp, nitems(sp));
	nd = sel_prefixes(dst, to, dp, nitems(dp));
	for (size_t i = 0; i < ns; i++) {
		for (size_t j = 0; j < nd; j++) {
			struct pol_flow f;

			memset(&f, 0, sizeof(f));
			f.from_initiator = from_initiator;
			f.src = sp[i];
			f.dst = dp[j];
			f.proto = r->proto;
			f.port_lo = pol_proto_has_ports(r->proto) ? r->port_lo : 0;
			f.port_hi = pol_proto_has_ports(r->proto) ? r->port_hi : 65535;
			f.not_after = not_after;
			f.manual = manual;
			fs_add(out, &f);
		}
	}
}

/*
 * The flows owner's rules permit between in->init and in->resp. owner "" is the
 * provider. responder_org: mark flows as needing approval per the rules' (or the
 * organisation's) auto_approve.
 */
static void
owner_flows(const struct pol_input *in, const char *owner, bool responder_org,
    struct flowset *out)
{
	bool any_rule = false;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < in->nrules; i++) {
		const struct pol_rule *r = &in->rules[i];
		int64_t end;
		bool manual;

		if (strcmp(r->owner, owner) != 0)
			continue;
		any_rule = true;
		if (!pol_window_open(&r->win, in->now))
			continue;
		if (r->group[0] != '\0' && !in_common_group(in, r->group))
			continue;
		end = pol_window_end(&r->win, in->now);
		manual = responder_org && (r->auto_approve == 0 ||
		    (r->auto_approve < 0 && !in->resp_org_auto_approve));
		rule_boxes(r, &r->src, &r->dst, in->init, in->resp, true, end, manual, out);
		rule_boxes(r, &r->src, &r->dst, in->resp, in->init, false, end, manual, out);
		if (r->both) {
			rule_boxes(r, &r->dst, &r->src, in->init, in->resp, true, end,
			    manual, out);
			rule_boxes(r, &r->dst, &r->src, in->resp, in->init, false, end,
			    manual, out);
		}
	}
	if (owner[0] != '\0' && !any_rule) {
		out->all = true;
		out->all_manual = responder_org && !in->resp_org_auto_approve;
	}
}

static void
fs_and(const struct flowset *a, const struct flowset *b, struct flowset *out)
{
	memset(out, 0, sizeof(*out));
	if (a->all && b->all) {
		out->all = true;
		out->all_manual = a->all_manual || b->all_manual;
		return;
	}
	if (a->all || b->all) {
		const struct flowset *all = a->all ? a : b, *set = a->all ? b : a;

		for (size_t i = 0; i < set->n; i++) {
			struct pol_flow f = set->v[i];

			f.manual = f.manual || all->all_manual;
			fs_add(out, &f);
		}
		return;
	}
	for (size_t i = 0; i < a->n; i++) {
		for (size_t j = 0; j < b->n; j++) {
			struct pol_flow f;

			if (flow_and(&a->v[i], &b->v[j], &f) == 0)
				fs_add(out, &f);
		}
	}
}

/* drop flows another flow covers (keeping the stricter bookkeeping of both) */
static void
fs_reduce(struct flowset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		for (size_t j = 0; j < s->n; j++) {
			struct pol_flow *o = &s->v[j], *x = &s->v[i];

			if (i == j || !pol_flow_contains(o, x))
				continue;
			if (pol_flow_contains(x, o) && j > i)
				continue;	/* equal: keep the first */
			if (x->not_after != 0 && (o->not_after == 0 || x->not_after < o->not_after))
				o->not_after = x->not_after;
			o->manual = o->manual || x->manual;
			s->v[i] = s->v[--s->n];
			i--;
			break;
		}
	}
}

static int
flow_cmp(const void *pa, const void *pb)
{
	const struct pol_flow *a = pa, *b = pb;
	int c;

	if (a->from_initiator != b->from_initiator)
		return a->from_initiator ? -1 : 1;
	if ((c = memcmp(&a->src.addr, &b->src.addr, sizeof(a->src.addr))) != 0)
		return c;
	if (a->src.len != b->src.len)
		return a->src.len - b->src.len;
	if ((c = memcmp(&a->dst.addr, &b->dst.addr, sizeof(a->dst.addr))) != 0)
		return c;
	if (a->dst.len != b->dst.len)
		return a->dst.len - b->dst.len;
	if (a->proto != b->proto)
		return a->proto - b->proto;
	if (a->port_lo != b->port_lo)
		return a->port_lo - b->port_lo;
	return a->port_hi - b->port_hi;
}

enum pol_decision
pol_decide(const struct pol_input *in, struct pol_result *res)
{
	const struct pol_site *I = in->init, *R = in->resp;
	struct flowset prov, oi, orr, t, eff;
	bool manual = false;
	int64_t end;

	memset(res, 0, sizeof(*res));
	res->decision = POL_DENIED;
	if (strcmp(I->name, R->name) == 0) {
		xsnprintf(res->reason, sizeof(res->reason), "a site cannot connect to itself");
		return res->decision;
	}
	if (!I->active || !R->active) {
		const struct pol_site *s = !I->active ? I : R;

		xsnprintf(res->reason, sizeof(res->reason), "site %s or its organisation "
		    "%s is suspended", s->name, s->org);
		return res->decision;
	}
	if (!I->has_device || !R->has_device) {
		xsnprintf(res->reason, sizeof(res->reason), "site %s has no registered "
		    "device", !I->has_device ? I->name : R->name);
		return res->decision;
	}
	if (in->ncommon == 0) {
		xsnprintf(res->reason, sizeof(res->reason), "sites %s and %s share no group",
		    I->name, R->name);
		return res->decision;
	}

	owner_flows(in, "", false, &prov);
	owner_flows(in, I->org, false, &oi);
	owner_flows(in, R->org, true, &orr);
	fs_and(&prov, &oi, &t);
	fs_and(&t, &orr, &eff);
	if (prov.n == 0)
		xsnprintf(res->reason, sizeof(res->reason), "the provider's rules permit "
		    "no traffic between %s and %s", I->name, R->name);
	else if (t.n == 0)
		xsnprintf(res->reason, sizeof(res->reason), "organisation %s's rules "
		    "permit no traffic between %s and %s within the provider's rules",
		    I->org, I->name, R->name);
	else if (eff.n == 0)
		xsnprintf(res->reason, sizeof(res->reason), "organisation %s's rules "
		    "permit no traffic between %s and %s within the provider's and %s's "
		    "rules", R->org, I->name, R->name, I->org);
	if (eff.n == 0)
		goto out;
	fs_reduce(&eff);
	if (eff.n > POL_MAX_FLOWS) {
		xsnprintf(res->reason, sizeof(res->reason), "the effective policy has %zu "
		    "flows; a grant holds at most %d", eff.n, POL_MAX_FLOWS);
		goto out;
	}
	qsort(eff.v, eff.n, sizeof(*eff.v), flow_cmp);
	end = in->now + in->validity_s;
	for (size_t i = 0; i < eff.n; i++) {
		res->flows[i] = eff.v[i];
		if (eff.v[i].not_after != 0 && eff.v[i].not_after < end)
			end = eff.v[i].not_after;
		manual = manual || eff.v[i].manual;
	}
	res->nflows = eff.n;
	res->not_before = in->now;
	res->not_after = end;
	if (manual) {
		res->decision = POL_PENDING;
		xsnprintf(res->reason, sizeof(res->reason), "%zu flow(s) permitted; awaiting "
		    "approval by organisation %s", eff.n, R->org);
	} else {
		res->decision = POL_GRANTED;
		xsnprintf(res->reason, sizeof(res->reason), "%zu flow(s) permitted by the "
		    "provider's, %s's and %s's rules", eff.n, I->org, R->org);
	}
out:
	fs_free(&prov);
	fs_free(&oi);
	fs_free(&orr);
	fs_free(&t);
	fs_free(&eff);
	return res->decision;
}
