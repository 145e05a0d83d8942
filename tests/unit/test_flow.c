/*
 * Flow accounting (src/device/policy/flow.c, REQ-AUD-1 flow summaries): totals
 * per direction and opener, idle expiry, the end of a peer's tunnel, a full
 * table (untracked, never wrong), and the table rebuilt after removals still
 * finding every surviving flow — checked against a naive model.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "device/policy/flow.h"
#include "device/policy/policy.h"
#include "lib/util.h"

struct seen {
	struct flow	f[64];
	size_t		n;
};

static void
collect(void *arg, const struct flow *f)
{
	struct seen *s = arg;

	assert_true(s->n < 64);
	s->f[s->n++] = *f;
}

/* a TCP/UDP/ICMP packet between two IPv4 hosts, as pol_parse leaves it */
static struct pol_pkt
pkt(const char *src, const char *dst, uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct pol_pkt p;

	memset(&p, 0, sizeof(p));
	assert_int_equal(ipaddr_parse(src, &p.src), 0);
	assert_int_equal(ipaddr_parse(dst, &p.dst), 0);
	p.proto = proto;
	p.has_ports = proto == 6 || proto == 17;
	p.sport = p.has_ports ? sport : 0;
	p.dport = p.has_ports ? dport : 0;
	return p;
}

static const struct flow *
find(const struct seen *s, uint16_t rport)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->f[i].rport == rport)
			return &s->f[i];
	return NULL;
}

static void
test_totals_and_opener(void **state)
{
	struct flow_table t;
	struct seen s = { .n = 0 };
	struct pol_pkt out = pkt("10.1.0.5", "10.2.0.9", 6, 40000, 443);
	struct pol_pkt in = pkt("10.2.0.9", "10.1.0.5", 6, 443, 40000);
	struct pol_pkt ping = pkt("10.2.0.9", "10.1.0.5", 1, 0, 0);
	char a[ADDR_STRLEN];
	const struct flow *f;

	flow_table_init(&t, 64);
	flow_account(&t, "hosp", &out, true, 60, 1000);
	flow_account(&t, "hosp", &in, false, 1500, 1010);
	flow_account(&t, "hosp", &in, false, 1500, 1020);
	flow_account(&t, "hosp", &out, true, 52, 1030);
	flow_account(&t, "hosp", &ping, false, 84, 1040);	/* opened by the peer */
	assert_int_equal(t.n, 2);
	flow_end(&t, NULL, 2000, 0, collect, &s);		/* everything (shutdown) */
	assert_int_equal(s.n, 2);
	assert_int_equal(t.n, 0);

	f = find(&s, 443);
	assert_non_null(f);
	assert_string_equal(f->peer, "hosp");
	assert_true(f->opened_out);
	ipaddr_format(&f->local, a, sizeof(a));
	assert_string_equal(a, "10.1.0.5");
	ipaddr_format(&f->remote, a, sizeof(a));
	assert_string_equal(a, "10.2.0.9");
	assert_int_equal(f->lport, 40000);
	assert_int_equal(f->proto, 6);
	assert_int_equal(f->bytes_out, 112);
	assert_int_equal(f->pkts_out, 2);
	assert_int_equal(f->bytes_in, 3000);
	assert_int_equal(f->pkts_in, 2);
	assert_int_equal(f->start_ms, 1000);
	assert_int_equal(f->last_ms, 1030);

	f = find(&s, 0);
	assert_non_null(f);
	assert_false(f->opened_out);
	assert_int_equal(f->proto, 1);
	assert_int_equal(f->bytes_in, 84);
	assert_int_equal(f->bytes_out, 0);
	flow_table_free(&t);
}

static void
test_idle_and_peer_end(void **state)
{
	struct flow_table t;
	struct seen s = { .n = 0 };
	struct pol_pkt a = pkt("10.1.0.5", "10.2.0.9", 17, 5000, 53);
	struct pol_pkt b = pkt("10.1.0.5", "10.3.0.9", 17, 5001, 54);
	struct pol_pkt c = pkt("10.1.0.5", "10.2.0.9", 17, 5002, 55);

	flow_table_init(&t, 64);
	flow_account(&t, "clin", &a, true, 100, 0);
	flow_account(&t, "lab", &b, true, 100, 50000);
	flow_account(&t, "clin", &c, true, 100, 59000);
	/* at 60 s only the first has been idle FLOW_IDLE_MS */
	flow_end(&t, NULL, FLOW_IDLE_MS, FLOW_IDLE_MS, collect, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.f[0].rport, 53);
	assert_int_equal(t.n, 2);
	/* accounting again after the rebuild finds the survivors, not new entries */
	flow_account(&t, "lab", &b, true, 100, 61000);
	flow_account(&t, "clin", &c, true, 100, 61000);
	assert_int_equal(t.n, 2);
	/* the clinic's tunnel ends: its flows are reported, the lab's stay */
	s.n = 0;
	flow_end(&t, "clin", 62000, 0, collect, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.f[0].rport, 55);
	assert_int_equal(s.f[0].bytes_out, 200);
	assert_int_equal(t.n, 1);
	/* the same 5-tuple through another peer is another flow */
	flow_account(&t, "clin", &b, true, 100, 63000);
	assert_int_equal(t.n, 2);
	flow_table_free(&t);
}

/* a reported flow takes its bytes off the model: every byte is reported once */
static void
collect_check(void *arg, const struct flow *f)
{
	uint64_t *model = arg;

	assert_true(f->rport < 150);
	assert_true(model[f->rport] >= f->bytes_in + f->bytes_out);
	model[f->rport] -= f->bytes_in + f->bytes_out;
}

static void
test_full_table_and_model(void **state)
{
	struct flow_table t;
	struct seen s = { .n = 0 };
	uint64_t model[150];

	flow_table_init(&t, 16);	/* at most 12 flows (3/4 load) */
	for (uint16_t i = 0; i < 20; i++) {
		struct pol_pkt p = pkt("10.1.0.5", "10.2.0.9", 6, 1000, (uint16_t)(100 + i));

		flow_account(&t, "p", &p, true, 10, i);
	}
	assert_int_equal(t.n, 12);
	assert_int_equal(t.untracked, 8);
	flow_end(&t, NULL, 100, 0, collect, &s);
	assert_int_equal(s.n, 12);
	flow_table_free(&t);

	/* rounds of traffic and idle expiry (with rebuilds) against a model */
	flow_table_init(&t, 256);
	memset(model, 0, sizeof(model));
	for (uint64_t now = 1; now < 5000; now++) {
		uint16_t port = (uint16_t)((now * 7919) % 150);
		bool out = (now & 1) != 0;
		/* out: 10.1.0.5:7 -> 10.2.0.9:port; in: the reply */
		struct pol_pkt p = out ? pkt("10.1.0.5", "10.2.0.9", 17, 7, port) :
		    pkt("10.2.0.9", "10.1.0.5", 17, port, 7);

		flow_account(&t, "p", &p, out, (size_t)(now % 97) + 1, now);
		model[port] += now % 97 + 1;
		if (now % 500 == 0)
			flow_end(&t, NULL, now, 300, collect_check, model);
	}
	assert_int_equal(t.untracked, 0);
	flow_end(&t, NULL, 10000, 0, collect_check, model);
	assert_int_equal(t.n, 0);
	for (size_t i = 0; i < 150; i++)
		assert_int_equal(model[i], 0);
	flow_table_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_totals_and_opener),
		cmocka_unit_test(test_idle_and_peer_end),
		cmocka_unit_test(test_full_table_and_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
