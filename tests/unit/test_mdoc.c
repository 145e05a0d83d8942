/*
 * The center's configuration document as odvpnd applies it (src/device/mdoc.c):
 * known answers on documents written the way the center builds them
 * (src/center/confdoc.c) — the directory, grants merged per site, what cannot be
 * enforced left out, time windows, suspension, revocations, crypto — and every
 * kind of malformed document refused whole, with a message, leaving nothing
 * allocated (the ASan build checks for leaks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/socket.h>

#include "device/mdoc.h"
#include "lib/util.h"

/* the clock of every test; grants in force run from T0 to T1 */
#define NOW	1795320000LL
#define T0	1795317600LL
#define T1	1795404000LL

/* what center_crypto_json() writes with the center's defaults */
#define CRYPTO \
	"{\"ike\":{\"encr\":\"AES_GCM_16_256\",\"prf\":\"PRF_HMAC_SHA2_256\"," \
	"\"dh_groups\":[19,31,20],\"auth\":\"RFC7427\"},\"esp\":{\"encr\":" \
	"\"AES_GCM_16_256\",\"esn\":true,\"pfs\":false},\"ike_rekey_s\":14400," \
	"\"child_rekey_s\":3600,\"idle_timeout_s\":300}"
#define REST_DEFAULT	"\"revoked_serials\":[],\"crl\":null,\"crypto\":" CRYPTO

/* our site, as the center sends it */
#define SITE_LAB \
	"{\"name\":\"lab\",\"org\":\"labco\",\"status\":\"active\"," \
	"\"prefixes\":[\"10.3.0.0/24\",\"fd00:3::/64\"],\"zones\":[{\"name\":" \
	"\"analysers\",\"prefixes\":[\"10.3.0.0/26\"]}],\"endpoint\":{\"address\":" \
	"\"192.0.2.3\",\"port\":4501}}"

/* directory entries: a site with a device and an endpoint, and one without */
#define DIR_HOSP \
	"{\"site\":\"hosp-main\",\"org\":\"hosp\",\"device\":\"hosp-01\"," \
	"\"ike_id\":\"hosp-01\",\"endpoint\":{\"address\":\"192.0.2.1\",\"port\":4510}," \
	"\"prefixes\":[\"10.1.0.0/24\",\"fd00:1::/64\"],\"groups\":[\"A\"]}"
#define DIR_VENDOR \
	"{\"site\":\"vendor\",\"org\":\"vend\",\"device\":null,\"ike_id\":null," \
	"\"endpoint\":null,\"prefixes\":[\"10.9.0.0/24\"],\"groups\":[\"A\",\"B\"]}"
#define DIRECTORY	DIR_HOSP "," DIR_VENDOR

/* one rule as grant_view() writes it */
#define RULE(dir, local, remote, proto, lo, hi) \
	"{\"dir\":\"" dir "\",\"local\":\"" local "\",\"remote\":\"" remote "\"," \
	"\"proto\":" #proto ",\"port_lo\":" #lo ",\"port_hi\":" #hi "}"

#define R_HTTPS_IN	RULE("in", "10.3.0.10/32", "10.1.0.128/25", 6, 443, 443)
#define R_SYSLOG_OUT	RULE("out", "10.3.0.0/26", "10.1.0.5/32", 17, 5000, 5010)
#define R_V6_BOTH	RULE("both", "fd00:3::10/128", "fd00:1::/64", 58, 0, 65535)
#define R_SCTP_OUT	RULE("out", "10.3.0.0/26", "10.1.0.5/32", 132, 3868, 3868)
#define R_ANY_IN	RULE("in", "10.3.0.10/32", "10.1.0.128/25", 0, 0, 65535)
#define R_SSH_OUT	RULE("out", "10.3.0.10/32", "10.1.0.7/32", 6, 22, 22)
#define R_ALT_IN	RULE("in", "10.3.0.10/32", "10.1.0.128/25", 6, 8443, 8443)
#define EP_HOSP_NEW	"{\"address\":\"198.51.100.7\",\"port\":4520}"

/* every string a test builds is freed by the teardown, even after a failure */
static char *scratch[512];
static size_t nscratch;

static char *S(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
S(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1 || nscratch == nitems(scratch))
		abort();
	va_end(ap);
	scratch[nscratch++] = s;
	return s;
}

static int
scratch_free(void **state)
{
	while (nscratch > 0)
		free(scratch[--nscratch]);
	return 0;
}

/* a whole document: site object, directory entries, grants, then the rest */
static char *
doc_text(const char *site, const char *peers, const char *grants, const char *rest)
{
	return S("{\"version\":7,\"device\":{\"id\":\"lab-01\",\"ike_id\":\"lab-01\","
	    "\"status\":\"enrolled\"},\"site\":%s,\"peers\":[%s],\"grants\":[%s]%s%s}",
	    site, peers, grants, rest[0] != '\0' ? "," : "", rest);
}

/* one grant as grant_view() writes it for the responder lab */
static char *
grant(long long id, const char *site, const char *dev, const char *ep, const char *lts,
    const char *rts, const char *rules, long long nb, long long na)
{
	return S("{\"id\":%lld,\"role\":\"responder\",\"peer_site\":\"%s\",\"peer_device\":"
	    "\"%s\",\"peer_ike_id\":\"%s\",\"peer_endpoint\":%s,\"local_ts\":[%s],"
	    "\"remote_ts\":[%s],\"rules\":[%s],\"crypto\":" CRYPTO ",\"not_before\":%lld,"
	    "\"not_after\":%lld}", id, site, dev, dev, ep, lts, rts, rules, nb, na);
}

static int
parse(const char *text, struct mdoc *d)
{
	char err[256] = "";
	int rc = mdoc_parse(text, strlen(text), NOW, d, err, sizeof(err));

	if (rc != 0)
		print_error("mdoc_parse: %s\n", err);
	return rc;
}

static void
assert_prefix(const struct prefix *p, const char *want)
{
	char s[ADDR_STRLEN];

	prefix_format(p, s, sizeof(s));
	assert_string_equal(s, want);
}

static void
assert_addr(const struct ipaddr *a, const char *want)
{
	char s[ADDR_STRLEN];

	ipaddr_format(a, s, sizeof(s));
	assert_string_equal(s, want);
}

static void
assert_rule(const struct dp_rule *r, enum dp_dir dir, const char *local, const char *remote,
    int proto, int lo, int hi)
{
	assert_int_equal(r->dir, dir);
	assert_prefix(&r->local, local);
	assert_prefix(&r->remote, remote);
	assert_int_equal(r->proto, proto);
	assert_int_equal(r->port_lo, lo);
	assert_int_equal(r->port_hi, hi);
}

/* a site we may apply for, with nothing granted yet */
static void
assert_closed(const struct mdoc_peer *p)
{
	assert_non_null(p);
	assert_true(p->p.dp.closed);
	assert_false(p->granted);
	assert_int_equal(p->ngrants, 0);
	assert_int_equal(p->p.dp.nrules, 0);
	assert_int_equal(p->p.ike.nlocal_ts, 0);
	assert_int_equal(p->p.ike.nremote_ts, 0);
	assert_true(p->not_after == INT64_MAX);
}

static void
test_directory_only(void **state)
{
	const struct mdoc_peer *h, *v;
	struct mdoc d;

	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, "", REST_DEFAULT), &d), 0);
	assert_int_equal(d.version, 7);
	assert_string_equal(d.device_id, "lab-01");
	assert_string_equal(d.site, "lab");
	assert_string_equal(d.org, "labco");
	assert_false(d.suspended);
	assert_null(d.crl_pem);
	assert_int_equal(d.nrevoked, 0);
	assert_true(d.next_change == INT64_MAX);
	assert_int_equal(d.npeers, 2);

	h = mdoc_peer(&d, "hosp-main");
	assert_ptr_equal(h, &d.peers[0]);
	assert_closed(h);
	assert_string_equal(h->p.ike.name, "hosp-main");
	assert_string_equal(h->p.dp.name, "hosp-main");
	assert_string_equal(h->device, "hosp-01");
	assert_string_equal(h->p.ike.id, "hosp-01");
	assert_int_equal(h->p.ike.addr.af, AF_INET);
	assert_addr(&h->p.ike.addr, "192.0.2.1");
	assert_int_equal(h->p.ike.port, 4510);
	assert_true(h->p.on_demand);
	/* the site's prefixes are routed toward it even before a grant */
	assert_int_equal(h->p.dp.nremote, 2);
	assert_prefix(&h->p.dp.remote[0], "10.1.0.0/24");
	assert_prefix(&h->p.dp.remote[1], "fd00:1::/64");
	assert_int_equal(h->left_out, 0);

	v = mdoc_peer(&d, "vendor");
	assert_ptr_equal(v, &d.peers[1]);
	assert_closed(v);
	assert_string_equal(v->device, "");
	assert_string_equal(v->p.ike.id, "");
	assert_int_equal(v->p.ike.addr.af, 0);	/* it has to call us */
	assert_int_equal(v->p.ike.port, 4500);
	assert_int_equal(v->p.dp.nremote, 1);
	assert_prefix(&v->p.dp.remote[0], "10.9.0.0/24");

	/* our own site is not a peer; names match whole */
	assert_null(mdoc_peer(&d, "lab"));
	assert_null(mdoc_peer(&d, "hosp"));
	assert_null(mdoc_peer(&d, "hosp-main2"));
	mdoc_free(&d);
	assert_null(d.peers);
	assert_int_equal(d.npeers, 0);
}

static void
test_one_grant(void **state)
{
	const char *g = grant(12, "hosp-main", "hosp-01", EP_HOSP_NEW,
	    "\"10.3.0.10/32\",\"10.3.0.0/26\",\"fd00:3::10/128\"",
	    "\"10.1.0.128/25\",\"10.1.0.5/32\",\"fd00:1::/64\"",
	    R_HTTPS_IN "," R_SYSLOG_OUT "," R_V6_BOTH "," R_SCTP_OUT "," R_ANY_IN, T0, T1);
	const struct mdoc_peer *h;
	struct mdoc d;

	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, g, REST_DEFAULT), &d), 0);
	assert_int_equal(d.npeers, 2);
	h = mdoc_peer(&d, "hosp-main");
	assert_non_null(h);
	assert_true(h->granted);
	assert_false(h->p.dp.closed);
	assert_int_equal(h->ngrants, 1);
	assert_int_equal(h->grant_ids[0], 12);
	assert_true(h->not_after == T1);
	assert_true(d.next_change == T1);
	assert_int_equal(h->left_out, 0);
	assert_string_equal(h->p.ike.id, "hosp-01");
	assert_string_equal(h->device, "hosp-01");
	/* the grant's endpoint replaces the directory's */
	assert_addr(&h->p.ike.addr, "198.51.100.7");
	assert_int_equal(h->p.ike.port, 4520);

	assert_int_equal(h->p.dp.nrules, 5);
	assert_rule(&h->p.dp.rules[0], DP_DIR_IN, "10.3.0.10/32", "10.1.0.128/25", 6, 443, 443);
	assert_rule(&h->p.dp.rules[1], DP_DIR_OUT, "10.3.0.0/26", "10.1.0.5/32", 17, 5000,
	    5010);
	assert_rule(&h->p.dp.rules[2], DP_DIR_BOTH, "fd00:3::10/128", "fd00:1::/64", 58, 0,
	    65535);
	assert_rule(&h->p.dp.rules[3], DP_DIR_OUT, "10.3.0.0/26", "10.1.0.5/32", 132, 3868,
	    3868);
	assert_rule(&h->p.dp.rules[4], DP_DIR_IN, "10.3.0.10/32", "10.1.0.128/25", 0, 0, 65535);

	assert_int_equal(h->p.ike.nlocal_ts, 3);
	assert_prefix(&h->p.ike.local_ts[0], "10.3.0.10/32");
	assert_prefix(&h->p.ike.local_ts[1], "10.3.0.0/26");
	assert_prefix(&h->p.ike.local_ts[2], "fd00:3::10/128");
	assert_int_equal(h->p.ike.nremote_ts, 3);
	assert_prefix(&h->p.ike.remote_ts[0], "10.1.0.128/25");
	assert_prefix(&h->p.ike.remote_ts[1], "10.1.0.5/32");
	assert_prefix(&h->p.ike.remote_ts[2], "fd00:1::/64");
	/* routed prefixes stay the directory's, not the selectors */
	assert_int_equal(h->p.dp.nremote, 2);
	assert_prefix(&h->p.dp.remote[0], "10.1.0.0/24");
	assert_prefix(&h->p.dp.remote[1], "fd00:1::/64");

	/* the grant opens nothing toward the other site */
	assert_closed(mdoc_peer(&d, "vendor"));
	mdoc_free(&d);
}

static void
test_two_grants_merged(void **state)
{
	const char *g12 = grant(12, "hosp-main", "hosp-01", EP_HOSP_NEW,
	    "\"10.3.0.10/32\",\"10.3.0.0/26\"", "\"10.1.0.128/25\",\"10.1.0.5/32\"",
	    R_HTTPS_IN "," R_SYSLOG_OUT, T0, T1);
	const char *g15 = grant(15, "hosp-main", "hosp-01", EP_HOSP_NEW,
	    "\"10.3.0.10/32\"", "\"10.1.0.7/32\",\"10.1.0.128/25\"",
	    R_SSH_OUT "," R_ALT_IN, T0 + 60, T1 - 600);
	const struct mdoc_peer *h;
	struct mdoc d;

	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, S("%s,%s", g12, g15),
	    REST_DEFAULT), &d), 0);
	h = mdoc_peer(&d, "hosp-main");
	assert_non_null(h);
	assert_true(h->granted);
	assert_false(h->p.dp.closed);
	assert_int_equal(h->ngrants, 2);
	assert_int_equal(h->grant_ids[0], 12);
	assert_int_equal(h->grant_ids[1], 15);
	assert_int_equal(h->left_out, 0);
	/* the earliest end of the two */
	assert_true(h->not_after == T1 - 600);
	assert_true(d.next_change == T1 - 600);
	/* rules concatenated in document order */
	assert_int_equal(h->p.dp.nrules, 4);
	assert_rule(&h->p.dp.rules[0], DP_DIR_IN, "10.3.0.10/32", "10.1.0.128/25", 6, 443, 443);
	assert_rule(&h->p.dp.rules[1], DP_DIR_OUT, "10.3.0.0/26", "10.1.0.5/32", 17, 5000,
	    5010);
	assert_rule(&h->p.dp.rules[2], DP_DIR_OUT, "10.3.0.10/32", "10.1.0.7/32", 6, 22, 22);
	assert_rule(&h->p.dp.rules[3], DP_DIR_IN, "10.3.0.10/32", "10.1.0.128/25", 6, 8443,
	    8443);
	/* selectors: the union, each once */
	assert_int_equal(h->p.ike.nlocal_ts, 2);
	assert_prefix(&h->p.ike.local_ts[0], "10.3.0.10/32");
	assert_prefix(&h->p.ike.local_ts[1], "10.3.0.0/26");
	assert_int_equal(h->p.ike.nremote_ts, 3);
	assert_prefix(&h->p.ike.remote_ts[0], "10.1.0.128/25");
	assert_prefix(&h->p.ike.remote_ts[1], "10.1.0.5/32");
	assert_prefix(&h->p.ike.remote_ts[2], "10.1.0.7/32");
	mdoc_free(&d);
}

static void
test_other_device_left_out(void **state)
{
	const char *g12 = grant(12, "hosp-main", "hosp-01", EP_HOSP_NEW,
	    "\"10.3.0.10/32\"", "\"10.1.0.128/25\"", R_HTTPS_IN, T0, T1);
	const char *g13 = grant(13, "hosp-main", "hosp-02",
	    "{\"address\":\"192.0.2.99\",\"port\":4500}", "\"10.3.0.10/32\"",
	    "\"10.1.0.7/32\"", R_SSH_OUT, T0, T1 - 1200);
	const struct mdoc_peer *h;
	struct mdoc d;

	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, S("%s,%s", g12, g13),
	    REST_DEFAULT), &d), 0);
	h = mdoc_peer(&d, "hosp-main");
	assert_non_null(h);
	/* two devices cannot both be this peer: the first grant's stays */
	assert_int_equal(h->ngrants, 1);
	assert_int_equal(h->grant_ids[0], 12);
	assert_int_equal(h->left_out, 1);
	assert_string_equal(h->p.ike.id, "hosp-01");
	assert_addr(&h->p.ike.addr, "198.51.100.7");
	assert_int_equal(h->p.ike.port, 4520);
	assert_int_equal(h->p.dp.nrules, 1);
	assert_rule(&h->p.dp.rules[0], DP_DIR_IN, "10.3.0.10/32", "10.1.0.128/25", 6, 443, 443);
	assert_int_equal(h->p.ike.nremote_ts, 1);
	assert_prefix(&h->p.ike.remote_ts[0], "10.1.0.128/25");
	/* the grant left out does not shorten the one in force ... */
	assert_true(h->not_after == T1);
	/* ... but its end is still an instant the document changes */
	assert_true(d.next_change == T1 - 1200);
	mdoc_free(&d);

	/* the other order: the first grant in the document wins */
	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, S("%s,%s", g13, g12),
	    REST_DEFAULT), &d), 0);
	h = mdoc_peer(&d, "hosp-main");
	assert_int_equal(h->ngrants, 1);
	assert_int_equal(h->grant_ids[0], 13);
	assert_int_equal(h->left_out, 1);
	assert_string_equal(h->p.ike.id, "hosp-02");
	assert_addr(&h->p.ike.addr, "192.0.2.99");
	assert_int_equal(h->p.dp.nrules, 1);
	assert_rule(&h->p.dp.rules[0], DP_DIR_OUT, "10.3.0.10/32", "10.1.0.7/32", 6, 22, 22);
	assert_true(h->not_after == T1 - 1200);
	mdoc_free(&d);
}

static void
test_unenforceable_flows(void **state)
{
	/* ICMP echo (type in the port field) cannot be expressed: left out; ICMP
	 * without ports can */
	const char *g20 = grant(20, "hosp-main", "hosp-01", EP_HOSP_NEW,
	    "\"10.3.0.10/32\"", "\"10.1.0.0/24\"",
	    RULE("out", "10.3.0.10/32", "10.1.0.0/24", 1, 8, 8) ","
	    RULE("out", "10.3.0.10/32", "10.1.0.0/24", 6, 443, 443) ","
	    RULE("in", "10.3.0.10/32", "10.1.0.0/24", 1, 0, 65535), T0, T1);
	/* a grant whose every flow is left out: ICMP with ports, "any" with ports */
	const char *g21 = grant(21, "vendor", "vendor-01", "null", "\"10.3.0.0/24\"",
	    "\"10.9.0.0/24\"",
	    RULE("in", "10.3.0.0/24", "10.9.0.0/24", 1, 8, 8) ","
	    RULE("in", "10.3.0.0/24", "10.9.0.0/24", 0, 443, 443), T0, T1 - 60);
	const struct mdoc_peer *h, *v;
	struct mdoc d;

	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, S("%s,%s", g20, g21),
	    REST_DEFAULT), &d), 0);
	h = mdoc_peer(&d, "hosp-main");
	assert_non_null(h);
	assert_true(h->granted);
	assert_false(h->p.dp.closed);
	assert_int_equal(h->left_out, 1);
	assert_int_equal(h->p.dp.nrules, 2);
	assert_rule(&h->p.dp.rules[0], DP_DIR_OUT, "10.3.0.10/32", "10.1.0.0/24", 6, 443, 443);
	assert_rule(&h->p.dp.rules[1], DP_DIR_IN, "10.3.0.10/32", "10.1.0.0/24", 1, 0, 65535);

	v = mdoc_peer(&d, "vendor");
	/* narrowed to nothing: the grant does not open the peer */
	assert_closed(v);
	assert_int_equal(v->left_out, 3);	/* two flows and the grant */
	assert_int_equal(v->p.dp.nremote, 1);
	assert_prefix(&v->p.dp.remote[0], "10.9.0.0/24");
	mdoc_free(&d);
}

static void
test_not_yet_valid(void **state)
{
	const char *later = grant(30, "hosp-main", "hosp-01", EP_HOSP_NEW,
	    "\"10.3.0.10/32\"", "\"10.1.0.128/25\"", R_HTTPS_IN, NOW + 3600, NOW + 7200);
	/* a grant starting this very second is in force */
	const char *now = grant(31, "vendor", "vendor-01", "null", "\"10.3.0.0/24\"",
	    "\"10.9.0.0/24\"", RULE("in", "10.3.0.0/24", "10.9.0.0/24", 6, 22, 22), NOW, T1);
	const struct mdoc_peer *h, *v;
	struct mdoc d;

	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, S("%s,%s", later, now),
	    REST_DEFAULT), &d), 0);
	h = mdoc_peer(&d, "hosp-main");
	assert_closed(h);
	assert_string_equal(h->p.ike.id, "hosp-01");
	assert_addr(&h->p.ike.addr, "192.0.2.1");	/* the directory's, untouched */
	assert_int_equal(h->left_out, 0);
	v = mdoc_peer(&d, "vendor");
	assert_true(v->granted);
	assert_int_equal(v->grant_ids[0], 31);
	assert_string_equal(v->p.ike.id, "vendor-01");
	assert_rule(&v->p.dp.rules[0], DP_DIR_IN, "10.3.0.0/24", "10.9.0.0/24", 6, 22, 22);
	/* apply again when the later one starts */
	assert_true(d.next_change == NOW + 3600);
	mdoc_free(&d);

	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, later, REST_DEFAULT), &d), 0);
	assert_closed(mdoc_peer(&d, "hosp-main"));
	assert_true(d.next_change == NOW + 3600);
	mdoc_free(&d);
}

static void
test_expired(void **state)
{
	/* [not_before, not_after): one ending this second, one a minute ago */
	const char *ends_now = grant(40, "hosp-main", "hosp-01", EP_HOSP_NEW,
	    "\"10.3.0.10/32\"", "\"10.1.0.128/25\"", R_HTTPS_IN, T0, NOW);
	const char *ended = grant(41, "vendor", "vendor-01", "null", "\"10.3.0.0/24\"",
	    "\"10.9.0.0/24\"", RULE("in", "10.3.0.0/24", "10.9.0.0/24", 6, 22, 22), T0,
	    NOW - 60);
	const struct mdoc_peer *h;
	struct mdoc d;

	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, S("%s,%s", ends_now, ended),
	    REST_DEFAULT), &d), 0);
	h = mdoc_peer(&d, "hosp-main");
	assert_closed(h);
	assert_addr(&h->p.ike.addr, "192.0.2.1");
	assert_int_equal(h->left_out, 0);
	assert_closed(mdoc_peer(&d, "vendor"));
	assert_string_equal(mdoc_peer(&d, "vendor")->p.ike.id, "");
	assert_true(d.next_change == INT64_MAX);
	mdoc_free(&d);
}

static void
test_next_change_earliest(void **state)
{
	const char *a = grant(50, "hosp-main", "hosp-01", EP_HOSP_NEW, "\"10.3.0.10/32\"",
	    "\"10.1.0.128/25\"", R_HTTPS_IN, T0, T1);
	const char *b = grant(51, "vendor", "vendor-01", "null", "\"10.3.0.0/24\"",
	    "\"10.9.0.0/24\"", RULE("in", "10.3.0.0/24", "10.9.0.0/24", 6, 22, 22), T0,
	    NOW + 900);
	const char *c = grant(52, "hosp-main", "hosp-01", EP_HOSP_NEW, "\"10.3.0.10/32\"",
	    "\"10.1.0.7/32\"", R_SSH_OUT, NOW + 600, T1);
	struct mdoc d;

	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, S("%s,%s,%s", a, b, c),
	    REST_DEFAULT), &d), 0);
	assert_true(d.next_change == NOW + 600);
	assert_true(mdoc_peer(&d, "hosp-main")->not_after == T1);
	assert_int_equal(mdoc_peer(&d, "hosp-main")->ngrants, 1);
	assert_true(mdoc_peer(&d, "vendor")->not_after == NOW + 900);
	mdoc_free(&d);

	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, S("%s,%s", a, b), REST_DEFAULT),
	    &d), 0);
	assert_true(d.next_change == NOW + 900);
	mdoc_free(&d);
}

static void
test_suspended(void **state)
{
	const char *g = grant(12, "hosp-main", "hosp-01", EP_HOSP_NEW, "\"10.3.0.10/32\"",
	    "\"10.1.0.128/25\"", R_HTTPS_IN, T0, T1);
	const char *susp = "{\"name\":\"lab\",\"org\":\"labco\",\"status\":\"suspended\","
	    "\"prefixes\":[\"10.3.0.0/24\"],\"zones\":[],\"endpoint\":null}";
	const char *nostatus = "{\"name\":\"lab\",\"org\":\"labco\","
	    "\"prefixes\":[\"10.3.0.0/24\"],\"zones\":[],\"endpoint\":null}";
	struct mdoc d;

	/* as the center sends it: empty lists */
	assert_int_equal(parse(doc_text(susp, "", "", "\"revoked_serials\":[\"0a1b\"],"
	    "\"crl\":null,\"crypto\":" CRYPTO), &d), 0);
	assert_true(d.suspended);
	assert_int_equal(d.npeers, 0);
	assert_int_equal(d.nrevoked, 1);	/* revocations still count */
	assert_true(mdoc_revoked(&d, "0A1B"));
	mdoc_free(&d);

	/* whatever the lists say, nobody is reachable */
	assert_int_equal(parse(doc_text(susp, DIRECTORY, g, REST_DEFAULT), &d), 0);
	assert_true(d.suspended);
	assert_int_equal(d.npeers, 0);
	assert_null(mdoc_peer(&d, "hosp-main"));
	assert_null(mdoc_peer(&d, "vendor"));
	mdoc_free(&d);

	/* no status, or one we do not know: not active */
	assert_int_equal(parse(doc_text(nostatus, DIRECTORY, g, REST_DEFAULT), &d), 0);
	assert_true(d.suspended);
	assert_int_equal(d.npeers, 0);
	mdoc_free(&d);
}

static void
test_revoked(void **state)
{
	struct mdoc d;

	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, "", "\"revoked_serials\":["
	    "\"43C2FF35654063B60712F9710D63D0E9\",\"00ab\",\"7F\","
	    "\"0123456789abcdefABCDEF0123456789abcdef01\"],"
	    "\"crl\":\"-----BEGIN X509 CRL-----\\nMIIB\\n-----END X509 CRL-----\\n\","
	    "\"crypto\":" CRYPTO), &d), 0);
	assert_int_equal(d.nrevoked, 4);
	assert_string_equal(d.revoked[0], "43c2ff35654063b60712f9710d63d0e9");
	assert_string_equal(d.revoked[1], "00ab");
	assert_string_equal(d.revoked[2], "7f");
	assert_string_equal(d.revoked[3], "0123456789abcdefabcdef0123456789abcdef01");
	assert_true(mdoc_revoked(&d, "43c2ff35654063b60712f9710d63d0e9"));
	assert_true(mdoc_revoked(&d, "43C2FF35654063B60712F9710D63D0E9"));
	assert_true(mdoc_revoked(&d, "43c2FF35654063b60712F9710d63D0E9"));
	assert_true(mdoc_revoked(&d, "00AB"));
	assert_true(mdoc_revoked(&d, "7f"));
	assert_false(mdoc_revoked(&d, "43c2ff35654063b60712f9710d63d0e"));
	assert_false(mdoc_revoked(&d, "43c2ff35654063b60712f9710d63d0e90"));
	assert_false(mdoc_revoked(&d, "ab"));
	assert_false(mdoc_revoked(&d, "7e"));
	assert_false(mdoc_revoked(&d, ""));
	assert_string_equal(d.crl_pem, "-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n");
	mdoc_free(&d);
	assert_null(d.revoked);
	assert_null(d.crl_pem);

	/* absent list: nothing revoked */
	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, "", "\"crypto\":" CRYPTO), &d),
	    0);
	assert_int_equal(d.nrevoked, 0);
	assert_false(mdoc_revoked(&d, "00ab"));
	mdoc_free(&d);
}

static void
test_crypto(void **state)
{
	struct mdoc d;

	/* the center's defaults */
	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, "", REST_DEFAULT), &d), 0);
	assert_int_equal(d.pol.dh_groups[0], 19);
	assert_int_equal(d.pol.dh_groups[1], 31);
	assert_int_equal(d.pol.dh_groups[2], 20);
	assert_int_equal(d.pol.dh_groups[3], 0);
	assert_true(d.pol.esn);
	assert_false(d.pol.child_pfs);
	assert_int_equal(d.pol.ike_rekey_s, 14400);
	assert_int_equal(d.pol.child_rekey_s, 3600);
	assert_int_equal(d.idle_timeout_s, 300);
	mdoc_free(&d);

	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, "", "\"crypto\":{\"ike\":"
	    "{\"dh_groups\":[31,20]},\"esp\":{\"esn\":false,\"pfs\":true},\"ike_rekey_s\":7200,"
	    "\"child_rekey_s\":1800,\"idle_timeout_s\":60}"), &d), 0);
	assert_int_equal(d.pol.dh_groups[0], 31);
	assert_int_equal(d.pol.dh_groups[1], 20);
	assert_int_equal(d.pol.dh_groups[2], 0);
	assert_false(d.pol.esn);
	assert_true(d.pol.child_pfs);
	assert_int_equal(d.pol.ike_rekey_s, 7200);
	assert_int_equal(d.pol.child_rekey_s, 1800);
	assert_int_equal(d.idle_timeout_s, 60);
	mdoc_free(&d);

	/* idle_timeout_s 0: never torn down when idle; one group */
	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, "", "\"crypto\":{\"ike\":"
	    "{\"dh_groups\":[21]},\"idle_timeout_s\":0}"), &d), 0);
	assert_int_equal(d.pol.dh_groups[0], 21);
	assert_int_equal(d.pol.dh_groups[1], 0);
	assert_true(d.pol.esn);
	assert_int_equal(d.idle_timeout_s, 0);
	mdoc_free(&d);

	/* absent: the engine's defaults, rekey times unchanged (0) */
	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, "", ""), &d), 0);
	assert_int_equal(d.pol.dh_groups[0], 19);
	assert_int_equal(d.pol.dh_groups[1], 31);
	assert_int_equal(d.pol.dh_groups[2], 20);
	assert_int_equal(d.pol.dh_groups[3], 0);
	assert_true(d.pol.esn);
	assert_false(d.pol.child_pfs);
	assert_int_equal(d.pol.ike_rekey_s, 0);
	assert_int_equal(d.pol.child_rekey_s, 0);
	assert_int_equal(d.idle_timeout_s, 300);
	mdoc_free(&d);

	/* an object without ike/esp: the same defaults */
	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, "", "\"crypto\":{}"), &d), 0);
	assert_int_equal(d.pol.dh_groups[0], 19);
	assert_int_equal(d.pol.dh_groups[3], 0);
	assert_true(d.pol.esn);
	assert_int_equal(d.idle_timeout_s, 300);
	mdoc_free(&d);
}

static void
test_our_site(void **state)
{
	struct mdoc d;

	assert_int_equal(parse(doc_text(SITE_LAB, "", "", REST_DEFAULT), &d), 0);
	assert_int_equal(d.nlocal, 2);
	assert_prefix(&d.local[0], "10.3.0.0/24");
	assert_prefix(&d.local[1], "fd00:3::/64");
	assert_int_equal(d.endpoint.af, AF_INET);
	assert_addr(&d.endpoint, "192.0.2.3");
	assert_int_equal(d.endpoint_port, 4501);
	assert_int_equal(d.npeers, 0);
	mdoc_free(&d);

	/* no registered WAN address */
	assert_int_equal(parse(doc_text("{\"name\":\"lab\",\"org\":\"labco\",\"status\":"
	    "\"active\",\"prefixes\":[\"192.168.30.0/23\"],\"zones\":[],\"endpoint\":null}",
	    "", "", REST_DEFAULT), &d), 0);
	assert_int_equal(d.nlocal, 1);
	assert_prefix(&d.local[0], "192.168.30.0/23");
	assert_int_equal(d.endpoint.af, 0);
	assert_int_equal(d.endpoint_port, 4500);
	mdoc_free(&d);

	/* IPv6 WAN address, port absent: 4500 */
	assert_int_equal(parse(doc_text("{\"name\":\"lab\",\"org\":\"labco\",\"status\":"
	    "\"active\",\"prefixes\":[\"fd00:3::/64\"],\"endpoint\":{\"address\":"
	    "\"2001:db8::3\"}}", "", "", REST_DEFAULT), &d), 0);
	assert_int_equal(d.endpoint.af, AF_INET6);
	assert_addr(&d.endpoint, "2001:db8::3");
	assert_int_equal(d.endpoint_port, 4500);
	mdoc_free(&d);
}

static void
test_granted_outside_directory(void **state)
{
	/* a grant toward a site that has just left our groups: still enforced until
	 * the center withdraws it, with its selectors as the routed prefixes */
	const char *g = grant(70, "imaging", "img-01", "{\"address\":\"203.0.113.5\","
	    "\"port\":4500}", "\"10.3.0.0/24\"", "\"10.7.0.0/25\",\"fd00:7::/64\"",
	    RULE("out", "10.3.0.0/24", "10.7.0.0/25", 6, 104, 104), T0, T1);
	const struct mdoc_peer *p;
	struct mdoc d;

	assert_int_equal(parse(doc_text(SITE_LAB, DIR_HOSP, g, REST_DEFAULT), &d), 0);
	assert_int_equal(d.npeers, 2);
	p = mdoc_peer(&d, "imaging");
	assert_ptr_equal(p, &d.peers[1]);
	assert_true(p->granted);
	assert_false(p->p.dp.closed);
	assert_string_equal(p->p.ike.name, "imaging");
	assert_string_equal(p->p.dp.name, "imaging");
	assert_string_equal(p->p.ike.id, "img-01");
	assert_addr(&p->p.ike.addr, "203.0.113.5");
	assert_int_equal(p->p.dp.nremote, 2);
	assert_prefix(&p->p.dp.remote[0], "10.7.0.0/25");
	assert_prefix(&p->p.dp.remote[1], "fd00:7::/64");
	assert_int_equal(p->p.dp.nrules, 1);
	assert_rule(&p->p.dp.rules[0], DP_DIR_OUT, "10.3.0.0/24", "10.7.0.0/25", 6, 104, 104);
	assert_closed(mdoc_peer(&d, "hosp-main"));
	mdoc_free(&d);
}

static void
test_limits_narrow(void **state)
{
	char *rules = S("%s", ""), *grants = S("%s", "");
	const struct mdoc_peer *h;
	struct mdoc d;
	int i;

	/* two grants of five host selectors each: the union stops at eight */
	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, S("%s,%s",
	    grant(60, "hosp-main", "hosp-01", "null", "\"10.3.0.1/32\",\"10.3.0.2/32\","
	    "\"10.3.0.3/32\",\"10.3.0.4/32\",\"10.3.0.5/32\"", "\"10.1.0.0/24\"",
	    RULE("out", "10.3.0.0/24", "10.1.0.0/24", 6, 443, 443), T0, T1),
	    grant(61, "hosp-main", "hosp-01", "null", "\"10.3.0.6/32\",\"10.3.0.7/32\","
	    "\"10.3.0.8/32\",\"10.3.0.9/32\",\"10.3.0.10/32\"", "\"10.1.0.0/24\"",
	    RULE("out", "10.3.0.0/24", "10.1.0.0/24", 6, 22, 22), T0, T1)), REST_DEFAULT),
	    &d), 0);
	h = mdoc_peer(&d, "hosp-main");
	assert_int_equal(h->ngrants, 2);
	assert_int_equal(h->p.ike.nlocal_ts, CHILD_SA_MAX_TS);
	assert_prefix(&h->p.ike.local_ts[7], "10.3.0.8/32");
	assert_int_equal(h->p.ike.nremote_ts, 1);
	assert_int_equal(h->left_out, 2);
	mdoc_free(&d);

	/* more rules than the data plane holds */
	for (i = 0; i < DP_MAX_RULES + 1; i++)
		rules = S("%s%s{\"dir\":\"out\",\"local\":\"10.3.0.0/24\",\"remote\":"
		    "\"10.1.0.0/24\",\"proto\":6,\"port_lo\":%d,\"port_hi\":%d}",
		    rules, i > 0 ? "," : "", 1000 + i, 1000 + i);
	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, grant(62, "hosp-main",
	    "hosp-01", "null", "\"10.3.0.0/24\"", "\"10.1.0.0/24\"", rules, T0, T1),
	    REST_DEFAULT), &d), 0);
	h = mdoc_peer(&d, "hosp-main");
	assert_true(h->granted);
	assert_int_equal(h->p.dp.nrules, DP_MAX_RULES);
	assert_rule(&h->p.dp.rules[DP_MAX_RULES - 1], DP_DIR_OUT, "10.3.0.0/24",
	    "10.1.0.0/24", 6, 1000 + DP_MAX_RULES - 1, 1000 + DP_MAX_RULES - 1);
	assert_int_equal(h->left_out, 1);
	mdoc_free(&d);

	/* more grants toward one site than are merged */
	for (i = 0; i < MDOC_MAX_GRANTS + 1; i++)
		grants = S("%s%s%s", grants, i > 0 ? "," : "", grant(100 + i, "hosp-main",
		    "hosp-01", "null", "\"10.3.0.0/24\"", "\"10.1.0.0/24\"",
		    RULE("in", "10.3.0.0/24", "10.1.0.0/24", 17, 514, 514), T0, T1 - i));
	assert_int_equal(parse(doc_text(SITE_LAB, DIRECTORY, grants, REST_DEFAULT), &d), 0);
	h = mdoc_peer(&d, "hosp-main");
	assert_int_equal(h->ngrants, MDOC_MAX_GRANTS);
	assert_int_equal(h->grant_ids[MDOC_MAX_GRANTS - 1], 100 + MDOC_MAX_GRANTS - 1);
	assert_int_equal(h->p.dp.nrules, MDOC_MAX_GRANTS);
	assert_int_equal(h->left_out, 1);
	/* the end of the grants merged, not of the one left out */
	assert_true(h->not_after == T1 - (MDOC_MAX_GRANTS - 1));
	mdoc_free(&d);
}

struct bad_case {
	const char	*what;
	const char	*text;
	const char	*want;	/* in the message */
};

static void
test_malformed(void **state)
{
	const char *g_ok = grant(12, "hosp-main", "hosp-01", EP_HOSP_NEW, "\"10.3.0.10/32\"",
	    "\"10.1.0.128/25\"", R_HTTPS_IN, T0, T1);
	const char *rest_crl = "\"revoked_serials\":[\"43c2\"],\"crl\":\"x\",\"crypto\":" CRYPTO;
	char nine[256], *big;
	const char *rule_msg = "grants: a rule toward hosp-main is malformed";
	struct bad_case c[96];
	size_t n = 0, i, wrong = 0;

	xsnprintf(nine, sizeof(nine), "\"10.1.0.0/24\",\"10.1.1.0/24\",\"10.1.2.0/24\","
	    "\"10.1.3.0/24\",\"10.1.4.0/24\",\"10.1.5.0/24\",\"10.1.6.0/24\",\"10.1.7.0/24\","
	    "\"10.1.8.0/24\"");
#define BAD(w, t, m)	c[n++] = (struct bad_case){ (w), (t), (m) }
	/* a rule in a grant that is otherwise fine */
#define BAD_RULE(w, r)	BAD(w, doc_text(SITE_LAB, DIRECTORY, grant(12, "hosp-main", \
	"hosp-01", "null", "\"10.3.0.10/32\"", "\"10.1.0.128/25\"", R_HTTPS_IN "," r, \
	T0, T1), rest_crl), rule_msg)

	BAD("bad JSON", "{\"version\":7,\"device\":", "not JSON");
	BAD("empty", "", "not JSON");
	BAD("duplicate key", S("{\"version\":7,%s", doc_text(SITE_LAB, "", "", "") + 1),
	    "not JSON");
	BAD("not an object", "[1,2,3]", "version, device or site missing");
	BAD("no version", S("{%s", strchr(doc_text(SITE_LAB, DIRECTORY, g_ok, rest_crl),
	    ',') + 1), "version, device or site missing");
	BAD("version a string", S("{\"version\":\"7\"%s", strchr(doc_text(SITE_LAB,
	    DIRECTORY, g_ok, rest_crl), ',')), "version, device or site missing");
	BAD("no device id", "{\"version\":1,\"device\":{},\"site\":" SITE_LAB "}",
	    "bad device id, site or organisation");
	BAD("site without org", doc_text("{\"name\":\"lab\",\"status\":\"active\","
	    "\"prefixes\":[\"10.3.0.0/24\"]}", DIRECTORY, g_ok, rest_crl),
	    "bad device id, site or organisation");
	BAD("our prefix has host bits", doc_text("{\"name\":\"lab\",\"org\":\"labco\","
	    "\"status\":\"active\",\"prefixes\":[\"10.3.0.1/24\"]}", DIRECTORY, g_ok,
	    rest_crl), "site: bad prefixes or endpoint");
	BAD("our prefixes missing", doc_text("{\"name\":\"lab\",\"org\":\"labco\","
	    "\"status\":\"active\"}", DIRECTORY, g_ok, rest_crl),
	    "site: bad prefixes or endpoint");
	BAD("nine prefixes of ours", doc_text(S("{\"name\":\"lab\",\"org\":\"labco\","
	    "\"status\":\"active\",\"prefixes\":[%s]}", nine), "", "", rest_crl),
	    "site: bad prefixes or endpoint");
	BAD("our endpoint a name", doc_text("{\"name\":\"lab\",\"org\":\"labco\","
	    "\"status\":\"active\",\"prefixes\":[\"10.3.0.0/24\"],\"endpoint\":{\"address\":"
	    "\"lab.example\",\"port\":4500}}", DIRECTORY, g_ok, rest_crl),
	    "site: bad prefixes or endpoint");
	BAD("peer prefix /33", doc_text(SITE_LAB, "{\"site\":\"hosp-main\",\"prefixes\":"
	    "[\"10.1.0.0/33\"]}", "", rest_crl), "peers: site hosp-main has bad prefixes");
	BAD("peer without prefixes", doc_text(SITE_LAB, "{\"site\":\"hosp-main\","
	    "\"prefixes\":[]}", "", rest_crl), "peers: site hosp-main has bad prefixes");
	BAD("nine peer prefixes", doc_text(SITE_LAB, S("{\"site\":\"hosp-main\","
	    "\"prefixes\":[%s]}", nine), "", rest_crl),
	    "peers: site hosp-main has bad prefixes");
	BAD("peer port 70000", doc_text(SITE_LAB, DIR_VENDOR ",{\"site\":\"hosp-main\","
	    "\"prefixes\":[\"10.1.0.0/24\"],\"endpoint\":{\"address\":\"192.0.2.1\",\"port\":"
	    "70000}}", "", rest_crl), "peers: site hosp-main has a bad endpoint");
	BAD("peer port 0", doc_text(SITE_LAB, "{\"site\":\"hosp-main\",\"prefixes\":"
	    "[\"10.1.0.0/24\"],\"endpoint\":{\"address\":\"192.0.2.1\",\"port\":0}}", "",
	    rest_crl), "peers: site hosp-main has a bad endpoint");
	BAD("peer address 192.0.2.300", doc_text(SITE_LAB, "{\"site\":\"hosp-main\","
	    "\"prefixes\":[\"10.1.0.0/24\"],\"endpoint\":{\"address\":\"192.0.2.300\"}}", "",
	    rest_crl), "peers: site hosp-main has a bad endpoint");
	BAD("peer endpoint a string", doc_text(SITE_LAB, "{\"site\":\"hosp-main\","
	    "\"prefixes\":[\"10.1.0.0/24\"],\"endpoint\":\"192.0.2.1\"}", "", rest_crl),
	    "peers: site hosp-main has a bad endpoint");
	BAD("duplicate directory site", doc_text(SITE_LAB, DIR_HOSP "," DIR_VENDOR ","
	    DIR_HOSP, g_ok, rest_crl), "peers: a site is missing, repeated or too long");
	BAD("directory site too long", doc_text(SITE_LAB, "{\"site\":\"hhhhhhhhhhhhhhhh"
	    "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh\",\"prefixes\":"
	    "[\"10.1.0.0/24\"]}", "", rest_crl), "peers: a site is missing, repeated or too long");
	BAD("peer empty device", doc_text(SITE_LAB, "{\"site\":\"hosp-main\",\"device\":\"\","
	    "\"prefixes\":[\"10.1.0.0/24\"]}", "", rest_crl),
	    "peers: site hosp-main has a bad device");
	BAD("peers an object", S("{\"version\":1,\"device\":{\"id\":\"lab-01\"},\"site\":"
	    SITE_LAB ",\"peers\":{}}"), "peers is not an array");
	BAD("grants an object", S("{\"version\":1,\"device\":{\"id\":\"lab-01\"},\"site\":"
	    SITE_LAB ",\"peers\":[" DIRECTORY "],\"grants\":{\"id\":12}}"),
	    "grants is not an array");
	BAD("grant a number", doc_text(SITE_LAB, DIRECTORY, "12", rest_crl),
	    "grants: entry ? is malformed");
	BAD("grant ends before it starts", doc_text(SITE_LAB, DIRECTORY, grant(12, "hosp-main",
	    "hosp-01", "null", "\"10.3.0.10/32\"", "\"10.1.0.128/25\"", R_HTTPS_IN, T1, T0),
	    rest_crl), "grants: entry ? is malformed");
	BAD("grant without remote_ts", doc_text(SITE_LAB, DIRECTORY, S("{\"id\":12,"
	    "\"peer_site\":\"hosp-main\",\"peer_ike_id\":\"hosp-01\",\"local_ts\":"
	    "[\"10.3.0.10/32\"],\"rules\":[" R_HTTPS_IN "]}"), rest_crl),
	    "grants: grant hosp-main is malformed");
	BAD("grant without peer_ike_id", doc_text(SITE_LAB, DIRECTORY, S("{\"id\":12,"
	    "\"peer_site\":\"hosp-main\",\"local_ts\":[\"10.3.0.10/32\"],\"remote_ts\":"
	    "[\"10.1.0.128/25\"],\"rules\":[" R_HTTPS_IN "]}"), rest_crl),
	    "grants: grant hosp-main is malformed");
	BAD("grant rules an object", doc_text(SITE_LAB, DIRECTORY, S("{\"id\":12,"
	    "\"peer_site\":\"hosp-main\",\"peer_ike_id\":\"hosp-01\",\"local_ts\":"
	    "[\"10.3.0.10/32\"],\"remote_ts\":[\"10.1.0.128/25\"],\"rules\":" R_HTTPS_IN "}"),
	    rest_crl), "grants: grant hosp-main is malformed");
	BAD("grant selector bad", doc_text(SITE_LAB, DIRECTORY, grant(12, "hosp-main",
	    "hosp-01", "null", "\"10.3.0.10/32\"", "\"10.1.0.128/24\"", R_HTTPS_IN, T0, T1),
	    rest_crl), "grants: grant hosp-main is malformed");
	BAD("grant endpoint bad", doc_text(SITE_LAB, DIRECTORY, grant(12, "hosp-main",
	    "hosp-01", "{\"address\":\"192.0.2.1\",\"port\":-1}", "\"10.3.0.10/32\"",
	    "\"10.1.0.128/25\"", R_HTTPS_IN, T0, T1), rest_crl),
	    "grants: grant hosp-main is malformed");
	BAD_RULE("rule dir sideways", RULE("sideways", "10.3.0.10/32", "10.1.0.128/25", 6,
	    443, 443));
	BAD_RULE("rule without dir", "{\"local\":\"10.3.0.10/32\",\"remote\":\"10.1.0.0/24\","
	    "\"proto\":6}");
	BAD_RULE("rule proto 300", RULE("in", "10.3.0.10/32", "10.1.0.128/25", 300, 0, 65535));
	BAD_RULE("rule proto -1", RULE("in", "10.3.0.10/32", "10.1.0.128/25", -1, 0, 65535));
	BAD_RULE("rule proto a name", "{\"dir\":\"in\",\"local\":\"10.3.0.10/32\",\"remote\":"
	    "\"10.1.0.128/25\",\"proto\":\"tcp\",\"port_lo\":443,\"port_hi\":443}");
	BAD_RULE("rule port_lo > port_hi", RULE("in", "10.3.0.10/32", "10.1.0.128/25", 6, 500,
	    400));
	BAD_RULE("rule port_hi 65536", RULE("in", "10.3.0.10/32", "10.1.0.128/25", 6, 443,
	    65536));
	BAD_RULE("rule port_lo -1", RULE("in", "10.3.0.10/32", "10.1.0.128/25", 6, -1, 443));
	BAD_RULE("rule local /33", RULE("in", "10.3.0.10/33", "10.1.0.128/25", 6, 443, 443));
	BAD_RULE("rule remote not an address", RULE("in", "10.3.0.10/32", "hosp", 6, 443,
	    443));
	BAD_RULE("rule a string", "\"tcp/443\"");
	/* a field of the wrong type is malformed, never read as its (wider) default */
	BAD_RULE("rule port_lo a string", "{\"dir\":\"in\",\"local\":\"10.3.0.10/32\","
	    "\"remote\":\"10.1.0.128/25\",\"proto\":6,\"port_lo\":\"443\",\"port_hi\":443}");
	BAD_RULE("rule port_hi null", "{\"dir\":\"in\",\"local\":\"10.3.0.10/32\","
	    "\"remote\":\"10.1.0.128/25\",\"proto\":6,\"port_lo\":443,\"port_hi\":null}");
	BAD_RULE("rule local null", "{\"dir\":\"in\",\"local\":null,\"remote\":"
	    "\"10.1.0.128/25\",\"proto\":6,\"port_lo\":443,\"port_hi\":443}");
	BAD_RULE("rule remote a number", "{\"dir\":\"in\",\"local\":\"10.3.0.10/32\","
	    "\"remote\":167837824,\"proto\":6,\"port_lo\":443,\"port_hi\":443}");
	BAD("grant not_after a string", doc_text(SITE_LAB, DIRECTORY, S("{\"id\":12,"
	    "\"peer_site\":\"hosp-main\",\"peer_ike_id\":\"hosp-01\",\"local_ts\":"
	    "[\"10.3.0.10/32\"],\"remote_ts\":[\"10.1.0.128/25\"],\"rules\":[" R_HTTPS_IN "],"
	    "\"not_before\":%lld,\"not_after\":\"%lld\"}", T0, T1), rest_crl),
	    "grants: entry ? is malformed");
	BAD("grant not_before null", doc_text(SITE_LAB, DIRECTORY, S("{\"id\":12,"
	    "\"peer_site\":\"hosp-main\",\"peer_ike_id\":\"hosp-01\",\"local_ts\":"
	    "[\"10.3.0.10/32\"],\"remote_ts\":[\"10.1.0.128/25\"],\"rules\":[" R_HTTPS_IN "],"
	    "\"not_before\":null,\"not_after\":%lld}", T1), rest_crl),
	    "grants: entry ? is malformed");
	BAD("grant empty peer_ike_id", doc_text(SITE_LAB, DIRECTORY, grant(12, "hosp-main", "",
	    "null", "\"10.3.0.10/32\"", "\"10.1.0.128/25\"", R_HTTPS_IN, T0, T1), rest_crl),
	    "grants: grant hosp-main is malformed");
	BAD("grant empty peer_site", doc_text(SITE_LAB, DIRECTORY, grant(12, "", "hosp-01",
	    "null", "\"10.3.0.10/32\"", "\"10.1.0.128/25\"", R_HTTPS_IN, T0, T1), rest_crl),
	    "is malformed");
	BAD("directory site empty", doc_text(SITE_LAB, "{\"site\":\"\",\"prefixes\":"
	    "[\"10.1.0.0/24\"]}", "", rest_crl), "peers: a site is missing, repeated or too long");
	/* grants not in force are checked all the same: refused now, not when they start */
	BAD("future grant, rule sideways", doc_text(SITE_LAB, DIRECTORY, grant(12, "hosp-main",
	    "hosp-01", "null", "\"10.3.0.10/32\"", "\"10.1.0.128/25\"",
	    RULE("sideways", "10.3.0.10/32", "10.1.0.128/25", 6, 443, 443), NOW + 60, T1),
	    rest_crl), rule_msg);
	BAD("future grant, bad selector", doc_text(SITE_LAB, DIRECTORY, grant(12, "hosp-main",
	    "hosp-01", "null", "\"10.3.0.10/24\"", "\"10.1.0.128/25\"", R_HTTPS_IN, NOW + 60,
	    T1), rest_crl), "grants: grant hosp-main is malformed");
	BAD("left-out device, port_lo > port_hi", doc_text(SITE_LAB, DIRECTORY, S("%s,%s", g_ok,
	    grant(13, "hosp-main", "hosp-02", "null", "\"10.3.0.10/32\"", "\"10.1.0.7/32\"",
	    RULE("out", "10.3.0.10/32", "10.1.0.7/32", 6, 23, 22), T0, T1)), rest_crl),
	    rule_msg);
	BAD("expired grant, proto 300", doc_text(SITE_LAB, DIRECTORY, grant(12, "hosp-main",
	    "hosp-01", "null", "\"10.3.0.10/32\"", "\"10.1.0.128/25\"",
	    RULE("in", "10.3.0.10/32", "10.1.0.128/25", 300, 0, 65535), T0, NOW), rest_crl),
	    rule_msg);
	BAD("serial with z", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"revoked_serials\":"
	    "[\"43c2\",\"43c2zz\"],\"crl\":\"x\""), "revoked_serials: bad serial");
	BAD("serial with colons", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"revoked_serials\":"
	    "[\"43:c2\"]"), "revoked_serials: bad serial");
	BAD("serial 41 digits", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"revoked_serials\":"
	    "[\"0123456789abcdef0123456789abcdef012345678\"]"), "revoked_serials: bad serial");
	BAD("serial empty", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"revoked_serials\":[\"\"]"),
	    "revoked_serials: bad serial");
	BAD("serial a number", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"revoked_serials\":[43]"),
	    "revoked_serials: bad serial");
	BAD("serials a string", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"revoked_serials\":"
	    "\"43c2\""), "revoked_serials is not a list of serials");
	BAD("crl a number", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"revoked_serials\":[\"43c2\"],"
	    "\"crl\":42,\"crypto\":" CRYPTO), "crl is not a string");
	BAD("crypto a string", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"revoked_serials\":"
	    "[\"43c2\"],\"crypto\":\"strong\""), "crypto is not an object");
	BAD("dh_groups empty", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"crypto\":{\"ike\":"
	    "{\"dh_groups\":[]}}"), "crypto: empty dh_groups");
	BAD("dh_groups four", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"crypto\":{\"ike\":"
	    "{\"dh_groups\":[19,31,20,21]}}"), "crypto: bad dh_groups");
	BAD("dh_groups a name", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"crypto\":{\"ike\":"
	    "{\"dh_groups\":[\"x25519\"]}}"), "crypto: bad dh_groups");
	BAD("dh group 0", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"crypto\":{\"ike\":"
	    "{\"dh_groups\":[0]}}"), "crypto: bad dh_groups");
	BAD("dh group -19", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"crypto\":{\"ike\":"
	    "{\"dh_groups\":[31,-19]}}"), "crypto: bad dh_groups");
	BAD("dh group 65536", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"crypto\":{\"ike\":"
	    "{\"dh_groups\":[65536]}}"), "crypto: bad dh_groups");
	BAD("idle_timeout_s -1", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"crypto\":"
	    "{\"idle_timeout_s\":-1}"), "crypto: a time out of range");
	BAD("ike_rekey_s 2^32", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"crypto\":"
	    "{\"ike_rekey_s\":4294967296}"), "crypto: a time out of range");
	BAD("child_rekey_s -3600", doc_text(SITE_LAB, DIRECTORY, g_ok, "\"crypto\":"
	    "{\"child_rekey_s\":-3600}"), "crypto: a time out of range");
	big = S("%s", doc_text(SITE_LAB, DIRECTORY, "", REST_DEFAULT));
	big = S("%s%*s", big, 1024 * 1024, "");	/* trailing white space: valid JSON */
	BAD("over 1 MiB", big, "too large");
#undef BAD_RULE
#undef BAD
	assert_true(n <= nitems(c));

	for (i = 0; i < n; i++) {
		struct mdoc d;
		char err[256] = "";

		memset(&d, 0xa5, sizeof(d));
		if (mdoc_parse(c[i].text, strlen(c[i].text), NOW, &d, err, sizeof(err)) != -1) {
			print_error("%s: accepted\n", c[i].what);
			mdoc_free(&d);
			wrong++;
			continue;
		}
		if (strstr(err, c[i].want) == NULL) {
			print_error("%s: message \"%s\", wanted \"%s\"\n", c[i].what, err,
			    c[i].want);
			wrong++;
		}
		/* refused whole: nothing left behind */
		assert_null(d.peers);
		assert_int_equal(d.npeers, 0);
		assert_null(d.revoked);
		assert_int_equal(d.nrevoked, 0);
		assert_null(d.crl_pem);
	}
	assert_int_equal(wrong, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_directory_only, scratch_free),
		cmocka_unit_test_teardown(test_one_grant, scratch_free),
		cmocka_unit_test_teardown(test_two_grants_merged, scratch_free),
		cmocka_unit_test_teardown(test_other_device_left_out, scratch_free),
		cmocka_unit_test_teardown(test_unenforceable_flows, scratch_free),
		cmocka_unit_test_teardown(test_not_yet_valid, scratch_free),
		cmocka_unit_test_teardown(test_expired, scratch_free),
		cmocka_unit_test_teardown(test_next_change_earliest, scratch_free),
		cmocka_unit_test_teardown(test_suspended, scratch_free),
		cmocka_unit_test_teardown(test_revoked, scratch_free),
		cmocka_unit_test_teardown(test_crypto, scratch_free),
		cmocka_unit_test_teardown(test_our_site, scratch_free),
		cmocka_unit_test_teardown(test_granted_outside_directory, scratch_free),
		cmocka_unit_test_teardown(test_limits_narrow, scratch_free),
		cmocka_unit_test_teardown(test_malformed, scratch_free),
	};

	return cmocka_run_group_tests_name("mdoc", tests, NULL, NULL);
}
