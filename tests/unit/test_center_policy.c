/*
 * Unit tests for the center's decision engine (src/center/policy.c): groups,
 * provider ∩ organisation ∩ organisation, empty intersections, time windows,
 * directions, ports, approval, and the small parsers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "center/policy.h"
#include "lib/util.h"

/* 2023-11-14 22:13:20 UTC, a Tuesday */
#define T0	1700000000LL
#define DAY	86400LL

static struct pol_site
mksite(const char *name, const char *org, const char *p1, const char *p2)
{
	struct pol_site s;
	char err[128];

	memset(&s, 0, sizeof(s));
	xsnprintf(s.name, sizeof(s.name), "%s", name);
	xsnprintf(s.org, sizeof(s.org), "%s", org);
	assert_int_equal(prefix_parse(p1, &s.lan.p[s.lan.n++], err, sizeof(err)), 0);
	if (p2 != NULL)
		assert_int_equal(prefix_parse(p2, &s.lan.p[s.lan.n++], err, sizeof(err)), 0);
	s.active = true;
	s.has_device = true;
	return s;
}

static void
add_zone(struct pol_site *s, const char *name, const char *pfx)
{
	char err[128];
	struct pol_zone *z = &s->zones[s->nzones++];

	xsnprintf(z->name, sizeof(z->name), "%s", name);
	assert_int_equal(prefix_parse(pfx, &z->pfx.p[z->pfx.n++], err, sizeof(err)), 0);
}

static struct pol_rule
mkrule(const char *owner, const char *proto, const char *ports)
{
	struct pol_rule r;

	memset(&r, 0, sizeof(r));
	xsnprintf(r.owner, sizeof(r.owner), "%s", owner);
	assert_int_equal(pol_proto_parse(proto, &r.proto), 0);
	r.port_lo = 0;
	r.port_hi = 65535;
	if (ports != NULL)
		assert_int_equal(pol_ports_parse(ports, &r.port_lo, &r.port_hi), 0);
	r.win.min_from = r.win.min_to = -1;
	r.auto_approve = -1;
	return r;
}

static void
sel_prefix(struct pol_sel *s, const char *p)
{
	char err[128];

	assert_int_equal(prefix_parse(p, &s->prefix, err, sizeof(err)), 0);
	s->has_prefix = true;
}

struct fixture {
	struct pol_site		 I, R;
	const char		*groups[2];
	struct pol_rule		 rules[64];
	size_t			 nrules;
	struct pol_input	 in;
	struct pol_result	 res;
};

static void
fx_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->I = mksite("hosp-main", "hosp", "10.1.0.0/24", NULL);
	f->R = mksite("lab", "labco", "10.3.0.0/24", NULL);
	f->groups[0] = "A";
	f->in.init = &f->I;
	f->in.resp = &f->R;
	f->in.common_groups = f->groups;
	f->in.ncommon = 1;
	f->in.rules = f->rules;
	f->in.resp_org_auto_approve = true;
	f->in.now = T0;
	f->in.validity_s = DAY;
}

static enum pol_decision
decide(struct fixture *f)
{
	f->in.nrules = f->nrules;
	return pol_decide(&f->in, &f->res);
}

/* "i:10.1.0.0/24>10.3.0.0/24/6/443-443" for flow n */
static const char *
flow_str(const struct pol_result *res, size_t n, char *buf, size_t cap)
{
	const struct pol_flow *fl = &res->flows[n];
	char s[ADDR_STRLEN], d[ADDR_STRLEN];

	prefix_format(&fl->src, s, sizeof(s));
	prefix_format(&fl->dst, d, sizeof(d));
	xsnprintf(buf, cap, "%c:%s>%s/%u/%u-%u", fl->from_initiator ? 'i' : 'r', s, d,
	    fl->proto, fl->port_lo, fl->port_hi);
	return buf;
}

#define assert_flow(f, n, want) do {						\
	char _b[128];								\
	assert_string_equal(flow_str(&(f)->res, (n), _b, sizeof(_b)), (want));	\
} while (0)

/* ---- groups and preconditions ------------------------------------------ */

static void
test_no_common_group_is_denied(void **state)
{
	struct fixture f;

	fx_init(&f);
	f.rules[f.nrules++] = mkrule("", "any", NULL);
	f.in.ncommon = 0;
	assert_int_equal(decide(&f), POL_DENIED);
	assert_non_null(strstr(f.res.reason, "share no group"));
	assert_int_equal(f.res.nflows, 0);
	/* the same rules with a common group: granted (REQ-GRP-1 is the gate) */
	f.in.ncommon = 1;
	assert_int_equal(decide(&f), POL_GRANTED);
}

static void
test_suspended_or_deviceless_sites_are_denied(void **state)
{
	struct fixture f;

	fx_init(&f);
	f.rules[f.nrules++] = mkrule("", "any", NULL);
	f.R.active = false;
	assert_int_equal(decide(&f), POL_DENIED);
	assert_non_null(strstr(f.res.reason, "suspended"));
	f.R.active = true;
	f.I.has_device = false;
	assert_int_equal(decide(&f), POL_DENIED);
	assert_non_null(strstr(f.res.reason, "no registered device"));
	f.I.has_device = true;
	f.in.resp = &f.I;
	assert_int_equal(decide(&f), POL_DENIED);
	assert_non_null(strstr(f.res.reason, "itself"));
}

static void
test_provider_without_rules_permits_nothing(void **state)
{
	struct fixture f;

	fx_init(&f);
	assert_int_equal(decide(&f), POL_DENIED);
	assert_non_null(strstr(f.res.reason, "provider"));
	/* organisation rules alone do not open anything */
	f.rules[f.nrules++] = mkrule("hosp", "any", NULL);
	f.rules[f.nrules++] = mkrule("labco", "any", NULL);
	assert_int_equal(decide(&f), POL_DENIED);
}

/* ---- intersection ------------------------------------------------------ */

static void
test_orgs_without_rules_defer_to_the_provider(void **state)
{
	struct fixture f;

	fx_init(&f);
	f.rules[f.nrules++] = mkrule("", "tcp", NULL);
	assert_int_equal(decide(&f), POL_GRANTED);
	/* "any" selectors match both sites, so the rule opens both directions */
	assert_int_equal(f.res.nflows, 2);
	assert_flow(&f, 0, "i:10.1.0.0/24>10.3.0.0/24/6/0-65535");
	assert_flow(&f, 1, "r:10.3.0.0/24>10.1.0.0/24/6/0-65535");
	assert_int_equal(f.res.not_before, T0);
	assert_int_equal(f.res.not_after, T0 + DAY);
}

static void
test_provider_and_both_orgs_intersect(void **state)
{
	struct fixture f;
	struct pol_rule r;

	fx_init(&f);
	add_zone(&f.I, "imaging", "10.1.0.128/25");
	/* provider: tcp any port, both ways */
	f.rules[f.nrules++] = mkrule("", "tcp", NULL);
	/* responder org: the hospital may reach one lab host on 400-8443 */
	r = mkrule("labco", "tcp", "400-8443");
	xsnprintf(r.src.org, sizeof(r.src.org), "hosp");
	xsnprintf(r.dst.site, sizeof(r.dst.site), "lab");
	sel_prefix(&r.dst, "10.3.0.10/32");
	f.rules[f.nrules++] = r;
	/* initiator org: only its imaging zone, ports up to 443 */
	r = mkrule("hosp", "any", NULL);
	xsnprintf(r.src.zone, sizeof(r.src.zone), "imaging");
	f.rules[f.nrules++] = r;
	r = mkrule("hosp", "tcp", "1-443");
	f.rules[f.nrules++] = r;

	assert_int_equal(decide(&f), POL_GRANTED);
	/* the imaging zone (any proto) meets tcp 400-8443 to the host; the whole LAN
	 * (tcp 1-443) meets it in 400-443. Neither flow holds the other. The lab's
	 * rule opens nothing toward the hospital, so no flow from the responder. */
	assert_int_equal(f.res.nflows, 2);
	assert_flow(&f, 0, "i:10.1.0.0/24>10.3.0.10/32/6/400-443");
	assert_flow(&f, 1, "i:10.1.0.128/25>10.3.0.10/32/6/400-8443");

	/* a wider initiator rule swallows the narrower flow in the reduction */
	f.rules[3] = mkrule("hosp", "tcp", NULL);
	assert_int_equal(decide(&f), POL_GRANTED);
	assert_int_equal(f.res.nflows, 1);
	assert_flow(&f, 0, "i:10.1.0.0/24>10.3.0.10/32/6/400-8443");
	f.rules[3] = mkrule("hosp", "tcp", "1-443");

	/* without the 1-443 rule only the zone remains */
	f.nrules--;
	assert_int_equal(decide(&f), POL_GRANTED);
	assert_int_equal(f.res.nflows, 1);
	assert_flow(&f, 0, "i:10.1.0.128/25>10.3.0.10/32/6/400-8443");
}

static void
test_empty_intersection_is_denied_with_the_org_named(void **state)
{
	struct fixture f;

	fx_init(&f);
	f.rules[f.nrules++] = mkrule("", "tcp", NULL);
	f.rules[f.nrules++] = mkrule("labco", "udp", NULL);
	assert_int_equal(decide(&f), POL_DENIED);
	assert_non_null(strstr(f.res.reason, "organisation labco"));

	/* initiator side closes it */
	fx_init(&f);
	f.rules[f.nrules++] = mkrule("", "tcp", "443");
	f.rules[f.nrules++] = mkrule("hosp", "tcp", "80");
	assert_int_equal(decide(&f), POL_DENIED);
	assert_non_null(strstr(f.res.reason, "organisation hosp"));

	/* disjoint prefixes */
	fx_init(&f);
	{
		struct pol_rule r = mkrule("", "any", NULL);

		sel_prefix(&r.dst, "192.168.0.0/16");
		f.rules[f.nrules++] = r;
	}
	assert_int_equal(decide(&f), POL_DENIED);
	assert_non_null(strstr(f.res.reason, "provider"));
}

static void
test_ports_and_protocols(void **state)
{
	struct fixture f;

	fx_init(&f);
	f.rules[f.nrules++] = mkrule("", "any", NULL);
	f.rules[f.nrules++] = mkrule("labco", "tcp", "443");
	f.rules[f.nrules++] = mkrule("hosp", "tcp", "400-500");
	assert_int_equal(decide(&f), POL_GRANTED);
	assert_int_equal(f.res.nflows, 2);
	assert_flow(&f, 0, "i:10.1.0.0/24>10.3.0.0/24/6/443-443");
	assert_flow(&f, 1, "r:10.3.0.0/24>10.1.0.0/24/6/443-443");

	/* icmp has no ports: full range, and it does not meet tcp */
	fx_init(&f);
	f.rules[f.nrules++] = mkrule("", "icmp", NULL);
	f.rules[f.nrules++] = mkrule("labco", "any", NULL);
	assert_int_equal(decide(&f), POL_GRANTED);
	assert_flow(&f, 0, "i:10.1.0.0/24>10.3.0.0/24/1/0-65535");
	f.rules[1] = mkrule("labco", "tcp", "443");
	assert_int_equal(decide(&f), POL_DENIED);

	/* adjacent but disjoint port ranges */
	fx_init(&f);
	f.rules[f.nrules++] = mkrule("", "udp", "1000-1999");
	f.rules[f.nrules++] = mkrule("labco", "udp", "2000-2999");
	assert_int_equal(decide(&f), POL_DENIED);
}

static void
test_direction(void **state)
{
	struct fixture f;
	struct pol_rule r;

	fx_init(&f);
	/* the provider: from the lab to the hospital only */
	r = mkrule("", "tcp", "104");
	xsnprintf(r.src.site, sizeof(r.src.site), "lab");
	xsnprintf(r.dst.site, sizeof(r.dst.site), "hosp-main");
	f.rules[f.nrules++] = r;
	assert_int_equal(decide(&f), POL_GRANTED);
	assert_int_equal(f.res.nflows, 1);
	assert_flow(&f, 0, "r:10.3.0.0/24>10.1.0.0/24/6/104-104");

	/* both: the reverse as well */
	f.rules[0].both = true;
	assert_int_equal(decide(&f), POL_GRANTED);
	assert_int_equal(f.res.nflows, 2);
	assert_flow(&f, 0, "i:10.1.0.0/24>10.3.0.0/24/6/104-104");
	assert_flow(&f, 1, "r:10.3.0.0/24>10.1.0.0/24/6/104-104");

	/* an org that allows only the other direction: nothing left */
	f.rules[0].both = false;
	r = mkrule("hosp", "any", NULL);
	xsnprintf(r.src.org, sizeof(r.src.org), "hosp");
	f.rules[f.nrules++] = r;
	assert_int_equal(decide(&f), POL_DENIED);
}

static void
test_selectors_name_sites_orgs_zones(void **state)
{
	struct fixture f;
	struct pol_rule r;

	fx_init(&f);
	f.I = mksite("hosp-main", "hosp", "10.1.0.0/24", "fd00:1::/64");
	/* a provider rule for another site matches nothing */
	r = mkrule("", "any", NULL);
	xsnprintf(r.dst.site, sizeof(r.dst.site), "clinic");
	f.rules[f.nrules++] = r;
	assert_int_equal(decide(&f), POL_DENIED);
	/* a zone the site lacks matches nothing */
	r = mkrule("", "any", NULL);
	xsnprintf(r.src.zone, sizeof(r.src.zone), "imaging");
	f.rules[0] = r;
	assert_int_equal(decide(&f), POL_DENIED);
	/* an IPv6 destination prefix only meets the IPv6 LAN of the hospital */
	r = mkrule("", "any", NULL);
	sel_prefix(&r.dst, "fd00:1::5/128");
	f.rules[0] = r;
	assert_int_equal(decide(&f), POL_GRANTED);
	assert_int_equal(f.res.nflows, 0 + 1);
	assert_flow(&f, 0, "r:10.3.0.0/24>fd00:1::5/128/0/0-65535");
}

static void
test_group_scoped_provider_rule(void **state)
{
	struct fixture f;
	struct pol_rule r;

	fx_init(&f);
	r = mkrule("", "tcp", NULL);
	xsnprintf(r.group, sizeof(r.group), "B");
	f.rules[f.nrules++] = r;
	assert_int_equal(decide(&f), POL_DENIED);	/* they share A, not B */
	f.groups[1] = "B";
	f.in.ncommon = 2;
	assert_int_equal(decide(&f), POL_GRANTED);
}

/* ---- time windows ------------------------------------------------------ */

static void
test_window_open_and_end(void **state)
{
	struct pol_window w = { 0, 0, -1, -1, 0 };
	int64_t tue = T0 - T0 % DAY;	/* Tuesday 00:00 UTC */

	assert_true(pol_window_open(&w, T0));
	assert_int_equal(pol_window_end(&w, T0), 0);

	w.from = T0 + 10;
	assert_false(pol_window_open(&w, T0));
	assert_true(pol_window_open(&w, T0 + 10));
	w.until = T0 + 20;
	assert_false(pol_window_open(&w, T0 + 20));	/* until is exclusive */
	assert_int_equal(pol_window_end(&w, T0 + 15), T0 + 20);

	memset(&w, 0, sizeof(w));
	assert_int_equal(pol_hours_parse("08:00-18:00", &w.min_from, &w.min_to), 0);
	assert_false(pol_window_open(&w, tue + 7 * 3600 + 3599));
	assert_true(pol_window_open(&w, tue + 8 * 3600));
	assert_false(pol_window_open(&w, tue + 18 * 3600));
	assert_int_equal(pol_window_end(&w, tue + 9 * 3600), tue + 18 * 3600);

	w.days = POL_DAY(0) | POL_DAY(2);	/* Monday, Wednesday */
	assert_false(pol_window_open(&w, tue + 9 * 3600));
	assert_true(pol_window_open(&w, tue + DAY + 9 * 3600));
	assert_true(pol_window_open(&w, tue - DAY + 9 * 3600));

	/* whole days: the window runs to the end of the last consecutive day */
	w.min_from = w.min_to = -1;
	w.days = POL_DAY(1) | POL_DAY(2) | POL_DAY(4);	/* Tue, Wed, Fri */
	assert_true(pol_window_open(&w, T0));
	assert_int_equal(pol_window_end(&w, T0), tue + 2 * DAY);
}

static void
test_window_rules_in_decisions(void **state)
{
	struct fixture f;
	struct pol_rule r;

	fx_init(&f);
	f.rules[f.nrules++] = mkrule("", "any", NULL);
	/* the lab's only rule opens in an hour: its policy is empty, not "all" */
	r = mkrule("labco", "tcp", "443");
	r.win.from = T0 + 3600;
	f.rules[f.nrules++] = r;
	assert_int_equal(decide(&f), POL_DENIED);
	/* inside the window the grant ends with it */
	f.in.now = T0 + 3700;
	f.rules[1].win.until = T0 + 7200;
	assert_int_equal(decide(&f), POL_GRANTED);
	assert_int_equal(f.res.not_after, T0 + 7200);
	/* daily hours clip too */
	fx_init(&f);
	f.rules[f.nrules++] = mkrule("", "any", NULL);
	r = mkrule("labco", "any", NULL);
	assert_int_equal(pol_hours_parse("00:00-23:00", &r.win.min_from, &r.win.min_to), 0);
	f.rules[f.nrules++] = r;
	f.in.now = T0 - T0 % DAY + 3600;
	assert_int_equal(decide(&f), POL_GRANTED);
	assert_int_equal(f.res.not_after, T0 - T0 % DAY + 23 * 3600);
	f.in.now = T0 - T0 % DAY + 23 * 3600 + 1;
	assert_int_equal(decide(&f), POL_DENIED);
}

/* ---- approval ---------------------------------------------------------- */

static void
test_approval(void **state)
{
	struct fixture f;
	struct pol_rule r;

	fx_init(&f);
	f.rules[f.nrules++] = mkrule("", "any", NULL);
	f.in.resp_org_auto_approve = false;
	/* responder org without rules and without auto-approve */
	assert_int_equal(decide(&f), POL_PENDING);
	assert_non_null(strstr(f.res.reason, "labco"));
	/* its rule says auto: granted */
	r = mkrule("labco", "any", NULL);
	r.auto_approve = 1;
	f.rules[f.nrules++] = r;
	assert_int_equal(decide(&f), POL_GRANTED);
	/* a rule asking for approval on an org that auto-approves: pending */
	f.in.resp_org_auto_approve = true;
	f.rules[1].auto_approve = 0;
	assert_int_equal(decide(&f), POL_PENDING);
	/* the initiator's organisation has no say in approval */
	f.rules[1].auto_approve = -1;
	r = mkrule("hosp", "any", NULL);
	r.auto_approve = 0;
	f.rules[f.nrules++] = r;
	assert_int_equal(decide(&f), POL_GRANTED);
}

static void
test_too_many_flows_is_denied(void **state)
{
	struct fixture f;

	fx_init(&f);
	/* 40 distinct single ports from the hospital: more than a grant holds */
	for (int i = 0; i < 40; i++) {
		char p[8];

		xsnprintf(p, sizeof(p), "%d", 1000 + 2 * i);
		f.rules[f.nrules] = mkrule("", "tcp", p);
		xsnprintf(f.rules[f.nrules].src.site, sizeof(f.rules[0].src.site), "hosp-main");
		f.nrules++;
	}
	assert_int_equal(decide(&f), POL_DENIED);
	assert_non_null(strstr(f.res.reason, "at most"));
	f.nrules = POL_MAX_FLOWS;
	assert_int_equal(decide(&f), POL_GRANTED);
	assert_int_equal(f.res.nflows, POL_MAX_FLOWS);
}

/* ---- helpers ----------------------------------------------------------- */

static void
test_parsers(void **state)
{
	uint8_t p;
	uint16_t lo, hi;
	int a, b;
	char buf[8];

	assert_int_equal(pol_proto_parse("tcp", &p), 0);
	assert_int_equal(p, 6);
	assert_int_equal(pol_proto_parse("47", &p), 0);
	assert_int_equal(p, 47);
	assert_int_equal(pol_proto_parse("256", &p), -1);
	assert_int_equal(pol_proto_parse("06", &p), -1);
	assert_int_equal(pol_proto_parse("", &p), -1);
	assert_string_equal(pol_proto_name(17, buf, sizeof(buf)), "udp");
	assert_string_equal(pol_proto_name(99, buf, sizeof(buf)), "99");

	assert_int_equal(pol_ports_parse("443", &lo, &hi), 0);
	assert_true(lo == 443 && hi == 443);
	assert_int_equal(pol_ports_parse("0-65535", &lo, &hi), 0);
	assert_true(lo == 0 && hi == 65535);
	assert_int_equal(pol_ports_parse("65536", &lo, &hi), -1);
	assert_int_equal(pol_ports_parse("10-5", &lo, &hi), -1);
	assert_int_equal(pol_ports_parse("-5", &lo, &hi), -1);
	assert_int_equal(pol_ports_parse("5-", &lo, &hi), -1);
	assert_int_equal(pol_ports_parse("1 2", &lo, &hi), -1);

	assert_int_equal(pol_hours_parse("08:30-17:45", &a, &b), 0);
	assert_true(a == 510 && b == 1065);
	assert_int_equal(pol_hours_parse("00:00-24:00", &a, &b), 0);
	assert_int_equal(b, 1440);
	assert_int_equal(pol_hours_parse("18:00-08:00", &a, &b), -1);
	assert_int_equal(pol_hours_parse("8:00-18:00", &a, &b), -1);
	assert_int_equal(pol_hours_parse("08:60-18:00", &a, &b), -1);
	assert_int_equal(pol_hours_parse("24:00-24:00", &a, &b), -1);

	assert_int_equal(pol_day_parse("sun"), 6);
	assert_int_equal(pol_day_parse("Sun"), -1);
}

static void
test_prefix_and(void **state)
{
	struct prefix a, b, out;
	char err[64], txt[ADDR_STRLEN];

	assert_int_equal(prefix_parse("10.0.0.0/8", &a, err, sizeof(err)), 0);
	assert_int_equal(prefix_parse("10.1.2.0/24", &b, err, sizeof(err)), 0);
	assert_int_equal(pol_prefix_and(&a, &b, &out), 0);
	prefix_format(&out, txt, sizeof(txt));
	assert_string_equal(txt, "10.1.2.0/24");
	assert_int_equal(pol_prefix_and(&b, &a, &out), 0);
	prefix_format(&out, txt, sizeof(txt));
	assert_string_equal(txt, "10.1.2.0/24");
	assert_int_equal(prefix_parse("11.0.0.0/8", &b, err, sizeof(err)), 0);
	assert_int_equal(pol_prefix_and(&a, &b, &out), -1);
	assert_int_equal(prefix_parse("::/0", &b, err, sizeof(err)), 0);
	assert_int_equal(pol_prefix_and(&a, &b, &out), -1);	/* families differ */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_common_group_is_denied),
		cmocka_unit_test(test_suspended_or_deviceless_sites_are_denied),
		cmocka_unit_test(test_provider_without_rules_permits_nothing),
		cmocka_unit_test(test_orgs_without_rules_defer_to_the_provider),
		cmocka_unit_test(test_provider_and_both_orgs_intersect),
		cmocka_unit_test(test_empty_intersection_is_denied_with_the_org_named),
		cmocka_unit_test(test_ports_and_protocols),
		cmocka_unit_test(test_direction),
		cmocka_unit_test(test_selectors_name_sites_orgs_zones),
		cmocka_unit_test(test_group_scoped_provider_rule),
		cmocka_unit_test(test_window_open_and_end),
		cmocka_unit_test(test_window_rules_in_decisions),
		cmocka_unit_test(test_approval),
		cmocka_unit_test(test_too_many_flows_is_denied),
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_prefix_and),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
