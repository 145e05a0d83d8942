/*
 * Two (or three) IKE engines talking inside one process through injected
 * send/clock/RNG: handshakes both ways, CHILD and IKE rekeys, deletes,
 * retransmission, fragmentation, cookies, INVALID_KE, refused identities and
 * certificates, tampering and replay. Keys are checked crosswise: what one
 * side encrypts with must be what the other decrypts with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "device/ike/ike_local.h"
#include "device/ike/ike_pld.h"
#include "lib/log.h"
#include "ike_testlib.h"

struct fx {
	EVP_PKEY	*ca_key, *ca2_key;
	X509		*ca, *ca2;
	struct tl_net	 net;
	struct tl_node	 a, b, c;
};

static struct fx F;

static int
setup(void **state)
{
	memset(&F, 0, sizeof(F));
	F.net.now = 1000000;
	F.ca_key = tl_key();
	F.ca = tl_cert(F.ca_key, "odvpn test root", NULL, NULL, NULL);
	F.ca2_key = tl_key();
	F.ca2 = tl_cert(F.ca2_key, "someone else's root", NULL, NULL, NULL);
	tl_node_init(&F.net, &F.a, "a", "192.0.2.1", "a.odvpn.test", F.ca, F.ca_key, F.ca);
	tl_node_init(&F.net, &F.b, "b", "192.0.2.2", "b.odvpn.test", F.ca, F.ca_key, F.ca);
	tl_peer(&F.a, &F.b, "peer-b", "10.1.0.0/24", "10.2.0.0/24", IKE_PORT);
	tl_peer(&F.b, &F.a, "peer-a", "10.2.0.0/24", "10.1.0.0/24", IKE_PORT);
	return 0;
}

static int
teardown(void **state)
{
	tl_net_clear(&F.net);
	tl_node_free(&F.a);
	tl_node_free(&F.b);
	tl_node_free(&F.c);
	X509_free(F.ca);
	X509_free(F.ca2);
	EVP_PKEY_free(F.ca_key);
	EVP_PKEY_free(F.ca2_key);
	return 0;
}

static void
start(struct tl_node *n)
{
	assert_non_null(tl_node_start(n, F.ca));
}

static void
start_ab(void)
{
	start(&F.a);
	start(&F.b);
}

static struct ike_stats
stats(struct tl_node *n)
{
	struct ike_stats st;

	ike_get_stats(n->eng, &st);
	return st;
}

static size_t
count_sa(struct tl_node *n, const char *state)
{
	struct ike_sa_info info[8];
	size_t k = ike_list(n->eng, info, 8), c = 0;

	for (size_t i = 0; i < k; i++)
		if (state == NULL || strcmp(info[i].state, state) == 0)
			c++;
	return c;
}

static struct ike_sa_info
only_sa(struct tl_node *n)
{
	struct ike_sa_info info[8];

	assert_int_equal(ike_list(n->eng, info, 8), 1);
	return info[0];
}

/* every CHILD SA of x has its mirror on y: x's outbound key is y's inbound */
static void
assert_crosswise(const struct tl_node *x, const struct tl_node *y)
{
	assert_int_equal(x->nchild, y->nchild);
	for (size_t i = 0; i < x->nchild; i++) {
		const struct child_sa *cx = &x->child[i];
		bool found = false;

		for (size_t j = 0; j < y->nchild; j++) {
			const struct child_sa *cy = &y->child[j];

			if (cy->spi_in != cx->spi_out)
				continue;
			found = true;
			assert_int_equal(cy->spi_out, cx->spi_in);
			assert_memory_equal(cx->key_out, cy->key_in, CHILD_SA_KEYLEN);
			assert_memory_equal(cx->key_in, cy->key_out, CHILD_SA_KEYLEN);
			assert_memory_not_equal(cx->key_in, cx->key_out, CHILD_SA_KEYLEN);
			assert_int_equal(cx->esn, cy->esn);
		}
		assert_true(found);
	}
}

static void
handshake(struct tl_node *i, const char *peer)
{
	assert_int_equal(ike_connect(i->eng, &i->peers[0]), 0);
	(void)peer;
	tl_pump(&F.net);
}

/* what kind of IKE datagram a packet is */
struct kind {
	uint8_t	exchange, first;
	bool	response;
	uint32_t msgid;
};

static bool
pkt_kind(const struct tl_pkt *p, struct kind *k)
{
	struct ike_msg *m = calloc(1, sizeof(*m));
	bool ok = ike_msg_parse(m, p->data, p->len) == 0;

	if (ok) {
		k->exchange = m->hdr.exchange;
		k->first = m->hdr.next;
		k->response = m->hdr.flags & IKE_FLAG_RESPONSE;
		k->msgid = m->hdr.msgid;
	}
	free(m);
	return ok;
}

/* a tap that drops or alters the n-th datagram of a kind */
struct tap {
	uint8_t	 exchange;
	bool	 response;
	unsigned nth, seen;
	enum { T_DROP, T_FLIP, T_RECORD, T_DROP_ALL_FROM } what;
	struct ipaddr from;
	uint8_t	*saved;
	size_t	 savedlen;
	struct tl_pkt savedpkt;
	unsigned skf, sk, n4500, n500;
};

static bool
tap_fn(struct tl_net *net, struct tl_pkt *p, void *arg)
{
	struct tap *t = arg;
	struct kind k;

	if (!pkt_kind(p, &k))
		return false;
	if (k.first == IKE_PL_SKF)
		t->skf++;
	if (k.first == IKE_PL_SK)
		t->sk++;
	if (p->dport == IKE_NATT_PORT)
		t->n4500++;
	else
		t->n500++;
	if (t->what == T_DROP_ALL_FROM)
		return ipaddr_eq(&p->src, &t->from) && k.exchange == t->exchange;
	if (k.exchange != t->exchange || k.response != t->response)
		return false;
	if (++t->seen != t->nth)
		return false;
	switch (t->what) {
	case T_DROP:
		return true;
	case T_FLIP:
		p->data[p->len - 20] ^= 0x01;	/* inside the ciphertext */
		return false;
	case T_RECORD:
		t->saved = malloc(p->len);
		memcpy(t->saved, p->data, p->len);
		t->savedlen = p->len;
		t->savedpkt = *p;
		return false;
	default:
		return false;
	}
}

static void
set_tap(struct tap *t)
{
	F.net.tap = tap_fn;
	F.net.tap_arg = t;
}

/* --- handshakes --- */

static void
check_established_pair(struct tl_node *i, struct tl_node *r)
{
	struct ike_sa_info si = only_sa(i), sr = only_sa(r);

	assert_string_equal(si.state, "established");
	assert_string_equal(sr.state, "established");
	assert_true(si.initiator);
	assert_false(sr.initiator);
	assert_memory_equal(si.spi_i, sr.spi_i, 8);
	assert_memory_equal(si.spi_r, sr.spi_r, 8);
	assert_string_equal(si.suite, "AES_GCM_16_256/PRF_HMAC_SHA2_256/ECP_256");
	assert_int_equal(si.nchild, 1);
	assert_int_equal(i->nchild, 1);
	assert_int_equal(r->nchild, 1);
	assert_crosswise(i, r);
	assert_int_equal(i->events[IKE_EV_SA_UP], 1);
	assert_int_equal(r->events[IKE_EV_SA_UP], 1);
	assert_int_equal(stats(i).sa_up, 1);
	assert_int_equal(stats(r).sa_up, 1);
}

static void
test_handshake_a_to_b(void **state)
{
	struct tap t = { .exchange = 255 };
	char buf[64];

	start_ab();
	set_tap(&t);
	handshake(&F.a, "peer-b");
	check_established_pair(&F.a, &F.b);
	/* IKE_SA_INIT on 500, then both float to 4500 (forced NAT-T) */
	assert_int_equal(t.n500, 2);
	assert_int_equal(t.n4500, 2);
	assert_int_equal(F.a.child[0].local_port, IKE_NATT_PORT);
	assert_int_equal(F.a.child[0].peer_port, IKE_NATT_PORT);
	assert_int_equal(F.b.child[0].peer_port, IKE_NATT_PORT);
	assert_true(ipaddr_eq(&F.a.child[0].peer_addr, &F.b.addr));
	assert_true(ipaddr_eq(&F.a.child[0].local_addr, &F.a.addr));
	/* narrowed selectors: each side's own prefix is local */
	prefix_format(&F.a.child[0].local_ts[0], buf, sizeof(buf));
	assert_string_equal(buf, "10.1.0.0/24");
	prefix_format(&F.b.child[0].local_ts[0], buf, sizeof(buf));
	assert_string_equal(buf, "10.2.0.0/24");
	assert_string_equal(F.a.child[0].peer, "peer-b");
	assert_string_equal(F.b.child[0].peer, "peer-a");
	/* both offered ESN */
	assert_true(F.a.child[0].esn);
	assert_int_equal(stats(&F.a).dropped_malformed + stats(&F.b).dropped_malformed, 0);
	assert_int_equal(stats(&F.a).retransmits, 0);
	/* connect again: a no-op while up */
	assert_int_equal(ike_connect(F.a.eng, &F.a.peers[0]), 0);
	assert_int_equal(F.net.nq, 0);
}

static void
test_handshake_b_to_a(void **state)
{
	F.b.cfg.esn = false;	/* one side without ESN: 32-bit sequence numbers */
	start_ab();
	handshake(&F.b, "peer-a");
	check_established_pair(&F.b, &F.a);
	assert_false(F.a.child[0].esn);
	assert_false(F.b.child[0].esn);
}

static void
test_handshake_x25519_and_p384(void **state)
{
	F.a.cfg.dh_groups[0] = 31;
	F.b.cfg.dh_groups[0] = 31;
	F.b.cfg.dh_groups[1] = 20;
	start_ab();
	handshake(&F.a, "peer-b");
	assert_string_equal(only_sa(&F.a).suite, "AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519");
	assert_crosswise(&F.a, &F.b);
}

static void
rekey_node(struct tl_node *n, EVP_PKEY *key)
{
	EVP_PKEY_free(n->key);
	X509_free(n->cert);
	n->key = key;
	n->cert = tl_cert(key, n->id, n->id, F.ca, F.ca_key);
	n->cfg.cert = n->cert;
}

/* RFC 7427 with RSASSA-PSS one way and ECDSA P-384 (SHA-384) the other */
static void
test_handshake_rsa_pss_and_p384(void **state)
{
	rekey_node(&F.a, EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048));
	rekey_node(&F.b, EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"));
	start_ab();
	handshake(&F.a, "peer-b");
	check_established_pair(&F.a, &F.b);
	assert_int_equal(F.a.sign_md, NID_sha256);	/* RSA-PSS with SHA-256 */
	assert_int_equal(F.b.sign_md, NID_sha384);	/* the hash matching P-384 */
}

static void
test_connect_starts_on_4500(void **state)
{
	struct tap t = { .exchange = 255 };

	F.a.peers[0].port = IKE_NATT_PORT;
	start_ab();
	set_tap(&t);
	handshake(&F.a, "peer-b");
	assert_int_equal(t.n500, 0);
	assert_int_equal(t.n4500, 4);
	assert_crosswise(&F.a, &F.b);
}

static void
test_ipv6_outer_and_inner(void **state)
{
	char buf[64], err[64];

	ipaddr_parse("2001:db8::1", &F.a.addr);
	ipaddr_parse("2001:db8::2", &F.b.addr);
	F.a.peers[0].addr = F.b.addr;
	F.b.peers[0].addr = F.a.addr;
	prefix_parse("fd00:a::/64", &F.a.peers[0].local_ts[0], err, sizeof(err));
	prefix_parse("fd00:b::/64", &F.a.peers[0].remote_ts[0], err, sizeof(err));
	/* B allows more than A asks for: narrowed to A's proposal */
	prefix_parse("fd00:b::/48", &F.b.peers[0].local_ts[0], err, sizeof(err));
	prefix_parse("fd00:a::/64", &F.b.peers[0].remote_ts[0], err, sizeof(err));
	F.a.cfg.fragment_mtu = 1280;
	start_ab();
	handshake(&F.a, "peer-b");
	check_established_pair(&F.a, &F.b);
	prefix_format(&F.b.child[0].local_ts[0], buf, sizeof(buf));
	assert_string_equal(buf, "fd00:b::/64");
	prefix_format(&F.a.child[0].remote_ts[0], buf, sizeof(buf));
	assert_string_equal(buf, "fd00:b::/64");
	assert_true(ipaddr_eq(&F.b.child[0].peer_addr, &F.a.addr));
}

static void
test_ts_unacceptable(void **state)
{
	char err[64];

	/* B protects something else entirely: IKE SA up, no CHILD SA, deleted */
	prefix_parse("10.9.0.0/16", &F.b.peers[0].local_ts[0], err, sizeof(err));
	start_ab();
	handshake(&F.a, "peer-b");
	assert_int_equal(F.a.nchild + F.b.nchild, 0);
	assert_int_equal(F.a.events[IKE_EV_NEGOTIATION_FAILED], 1);
	assert_non_null(strstr(F.a.last_detail[IKE_EV_NEGOTIATION_FAILED], "TS_UNACCEPTABLE"));
	assert_int_equal(count_sa(&F.a, NULL), 0);
	assert_int_equal(count_sa(&F.b, NULL), 0);
}

static void
test_new_refuses_bad_config(void **state)
{
	struct ike_ops ops = tl_ops;
	struct ike_config cfg = F.a.cfg;
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509 *edcert = tl_cert(ed, "ed.odvpn.test", "ed.odvpn.test", F.ca, F.ca_key);

	ops.arg = &F.a;
	assert_non_null(edcert);
	cfg.cert = edcert;		/* no RFC 7427 signature we make with it */
	assert_null(ike_new(&cfg, &ops));
	cfg = F.a.cfg;
	cfg.dh_groups[0] = 14;		/* MODP groups are not offered */
	assert_null(ike_new(&cfg, &ops));
	cfg = F.a.cfg;
	cfg.cert = NULL;
	assert_null(ike_new(&cfg, &ops));
	cfg = F.a.cfg;
	ops.sign = NULL;		/* the key store is required */
	assert_null(ike_new(&cfg, &ops));
	X509_free(edcert);
	EVP_PKEY_free(ed);
}

/* --- rekey --- */

static void
test_child_rekey(void **state)
{
	uint32_t old_a, old_b;

	start_ab();
	handshake(&F.a, "peer-b");
	old_a = F.a.child[0].spi_in;
	old_b = F.b.child[0].spi_in;
	assert_int_equal(ike_rekey(F.a.eng, "peer-b", false), 0);
	tl_pump(&F.net);
	assert_int_equal(F.a.nchild, 1);
	assert_int_equal(F.b.nchild, 1);
	assert_int_not_equal(F.a.child[0].spi_in, old_a);
	assert_int_not_equal(F.b.child[0].spi_in, old_b);
	assert_int_equal(F.a.child[0].replaces_spi_in, old_a);
	assert_int_equal(F.b.child[0].replaces_spi_in, old_b);
	assert_crosswise(&F.a, &F.b);
	assert_int_equal(F.a.nup, 2);
	assert_int_equal(F.a.ndown, 1);
	assert_int_equal(F.b.ndown, 1);
	assert_int_equal(stats(&F.a).rekeys, 1);
	assert_int_equal(stats(&F.b).rekeys, 1);
	assert_int_equal(F.a.events[IKE_EV_REKEYED], 1);
	/* the responder can rekey too */
	assert_int_equal(ike_rekey(F.b.eng, "peer-a", false), 0);
	tl_pump(&F.net);
	assert_int_equal(F.a.nchild, 1);
	assert_crosswise(&F.a, &F.b);
	assert_int_equal(F.b.ndown, 2);
}

static void
test_child_rekey_by_timer_with_pfs(void **state)
{
	uint32_t old;

	F.a.cfg.child_pfs = true;
	F.a.cfg.child_rekey_s = 100;
	F.b.cfg.child_rekey_s = 1000;
	start_ab();
	handshake(&F.a, "peer-b");
	old = F.a.child[0].spi_in;
	tl_advance(&F.net, 50 * 1000);
	tl_pump(&F.net);
	assert_int_equal(F.a.child[0].spi_in, old);	/* not yet */
	tl_advance(&F.net, 51 * 1000);
	tl_pump(&F.net);
	assert_int_equal(F.a.nchild, 1);
	assert_int_not_equal(F.a.child[0].spi_in, old);
	assert_crosswise(&F.a, &F.b);
	assert_int_equal(stats(&F.a).rekeys, 1);
}

static void
test_ike_rekey(void **state)
{
	struct ike_sa_info before = { 0 }, after;
	uint32_t child_spi;

	start_ab();
	handshake(&F.a, "peer-b");
	before = only_sa(&F.a);
	child_spi = F.a.child[0].spi_in;
	assert_int_equal(ike_rekey(F.a.eng, "peer-b", true), 0);
	tl_pump(&F.net);
	after = only_sa(&F.a);
	assert_string_equal(after.state, "established");
	assert_memory_not_equal(after.spi_i, before.spi_i, 8);
	assert_int_equal(count_sa(&F.b, "established"), 1);
	assert_int_equal(count_sa(&F.b, NULL), 1);
	assert_memory_equal(only_sa(&F.b).spi_r, after.spi_r, 8);
	assert_int_equal(after.nchild, 1);
	assert_int_equal(F.a.child[0].spi_in, child_spi);	/* children carried over */
	assert_int_equal(F.a.ndown + F.b.ndown, 0);
	assert_int_equal(F.a.events[IKE_EV_SA_DOWN] + F.b.events[IKE_EV_SA_DOWN], 0);
	assert_int_equal(stats(&F.a).rekeys, 1);
	/* the new IKE SA works: a CHILD rekey and a delete go through it */
	assert_int_equal(ike_rekey(F.b.eng, "peer-a", false), 0);
	tl_pump(&F.net);
	assert_int_equal(F.a.nchild, 1);
	assert_crosswise(&F.a, &F.b);
	/* and the responder can rekey the IKE SA too */
	assert_int_equal(ike_rekey(F.b.eng, "peer-a", true), 0);
	tl_pump(&F.net);
	assert_int_equal(count_sa(&F.a, NULL), 1);
	assert_int_equal(count_sa(&F.b, NULL), 1);
	assert_int_equal(ike_disconnect(F.a.eng, "peer-b", "test"), 0);
	tl_pump(&F.net);
	assert_int_equal(count_sa(&F.a, NULL), 0);
	assert_int_equal(count_sa(&F.b, NULL), 0);
}

static void
test_simultaneous_child_rekey(void **state)
{
	start_ab();
	handshake(&F.a, "peer-b");
	assert_int_equal(ike_rekey(F.a.eng, "peer-b", false), 0);
	assert_int_equal(ike_rekey(F.b.eng, "peer-a", false), 0);
	tl_pump(&F.net);
	/* one survivor each, no leftovers once the grace period has passed */
	tl_advance(&F.net, IKE_REKEYED_GRACE_MS + 1000);
	tl_pump(&F.net);
	assert_int_equal(F.a.nchild, 1);
	assert_int_equal(F.b.nchild, 1);
	assert_crosswise(&F.a, &F.b);
	assert_int_equal(only_sa(&F.a).nchild, 1);
	assert_int_equal(only_sa(&F.b).nchild, 1);
	assert_int_equal(count_sa(&F.a, "established"), 1);
}

static void
test_simultaneous_ike_rekey(void **state)
{
	start_ab();
	handshake(&F.a, "peer-b");
	assert_int_equal(ike_rekey(F.a.eng, "peer-b", true), 0);
	assert_int_equal(ike_rekey(F.b.eng, "peer-a", true), 0);
	tl_pump(&F.net);
	tl_advance(&F.net, IKE_REKEYED_GRACE_MS + 1000);
	tl_pump(&F.net);
	assert_int_equal(count_sa(&F.a, NULL), 1);
	assert_int_equal(count_sa(&F.b, NULL), 1);
	assert_memory_equal(only_sa(&F.a).spi_i, only_sa(&F.b).spi_i, 8);
	assert_int_equal(only_sa(&F.a).nchild, 1);
	assert_int_equal(only_sa(&F.b).nchild, 1);
	assert_int_equal(F.a.events[IKE_EV_SA_DOWN] + F.b.events[IKE_EV_SA_DOWN], 0);
	/* the survivor works */
	assert_int_equal(ike_rekey(F.a.eng, "peer-b", false), 0);
	tl_pump(&F.net);
	assert_crosswise(&F.a, &F.b);
	assert_int_equal(F.a.nchild, 1);
}

/* --- delete --- */

static void
test_delete_from_initiator(void **state)
{
	start_ab();
	handshake(&F.a, "peer-b");
	assert_int_equal(ike_disconnect(F.a.eng, "peer-b", "user request"), 0);
	assert_int_equal(F.a.nchild, 0);	/* down at once */
	tl_pump(&F.net);
	assert_int_equal(count_sa(&F.a, NULL), 0);
	assert_int_equal(count_sa(&F.b, NULL), 0);
	assert_int_equal(F.b.nchild, 0);
	assert_int_equal(F.a.events[IKE_EV_SA_DOWN], 1);
	assert_int_equal(F.b.events[IKE_EV_SA_DOWN], 1);
	assert_string_equal(F.b.last_detail[IKE_EV_SA_DOWN], "deleted by peer");
	assert_int_equal(stats(&F.a).sa_down, 1);
	assert_int_equal(stats(&F.b).sa_down, 1);
	assert_int_equal(ike_disconnect(F.a.eng, "peer-b", "again"), -1);
}

static void
test_delete_from_responder(void **state)
{
	start_ab();
	handshake(&F.a, "peer-b");
	assert_int_equal(ike_disconnect(F.b.eng, "peer-a", "idle"), 0);
	tl_pump(&F.net);
	assert_int_equal(count_sa(&F.a, NULL), 0);
	assert_int_equal(count_sa(&F.b, NULL), 0);
	assert_int_equal(F.a.ndown, 1);
	assert_int_equal(F.b.ndown, 1);
	/* and a fresh connection afterwards */
	handshake(&F.a, "peer-b");
	assert_int_equal(F.a.nchild, 1);
	assert_crosswise(&F.a, &F.b);
}

static void
test_child_expiry_deletes(void **state)
{
	F.a.cfg.child_rekey_s = 100;
	start_ab();
	handshake(&F.a, "peer-b");
	/* rekeys fail (answers dropped) until the hard lifetime ends the child */
	struct tap t = { .exchange = IKE_X_CREATE_CHILD_SA, .what = T_DROP_ALL_FROM };

	t.from = F.b.addr;
	set_tap(&t);
	for (int i = 0; i < 30 && F.a.nchild > 0; i++) {
		tl_advance(&F.net, 5000);
		tl_pump(&F.net);
		assert_true(ike_tick(F.a.eng) > 0);
	}
	assert_int_equal(F.a.nchild, 0);
}

static void
test_initial_contact_after_restart(void **state)
{
	uint32_t old_b;

	start_ab();
	handshake(&F.a, "peer-b");
	old_b = F.b.child[0].spi_in;
	/* A loses all state (reboot) and connects again */
	ike_free(F.a.eng);
	F.a.eng = NULL;
	F.a.nchild = 0;
	F.a.rng += 99;
	start(&F.a);
	handshake(&F.a, "peer-b");
	/* B dropped the SA A no longer has: one IKE SA, one CHILD SA, the new one */
	assert_int_equal(count_sa(&F.b, NULL), 1);
	assert_int_equal(F.b.nchild, 1);
	assert_int_not_equal(F.b.child[0].spi_in, old_b);
	assert_int_equal(F.b.ndown, 1);
	assert_int_equal(F.b.events[IKE_EV_SA_DOWN], 1);
	assert_string_equal(F.b.last_detail[IKE_EV_SA_DOWN], "initial contact from the peer");
	assert_crosswise(&F.a, &F.b);
}

static void
test_connect_both_ways_at_once(void **state)
{
	/* no INITIAL_CONTACT victim: both SAs made at the same time survive */
	start_ab();
	assert_int_equal(ike_connect(F.a.eng, &F.a.peers[0]), 0);
	assert_int_equal(ike_connect(F.b.eng, &F.b.peers[0]), 0);
	tl_pump(&F.net);
	assert_int_equal(count_sa(&F.a, "established"), 2);
	assert_int_equal(count_sa(&F.b, "established"), 2);
	assert_int_equal(F.a.nchild, 2);
	assert_crosswise(&F.a, &F.b);
}

/* --- loss, retransmission, replay, tampering --- */

static void
test_retransmit_lost_request(void **state)
{
	struct tap t = { .exchange = IKE_X_IKE_AUTH, .response = false, .nth = 1, .what = T_DROP };

	start_ab();
	set_tap(&t);
	handshake(&F.a, "peer-b");
	assert_int_equal(count_sa(&F.a, "established"), 0);
	tl_advance(&F.net, 999);
	tl_pump(&F.net);
	assert_int_equal(stats(&F.a).retransmits, 0);
	tl_advance(&F.net, 1);
	tl_pump(&F.net);
	assert_int_equal(stats(&F.a).retransmits, 1);
	check_established_pair(&F.a, &F.b);
}

static void
test_retransmit_lost_response(void **state)
{
	struct tap t = { .exchange = IKE_X_IKE_AUTH, .response = true, .nth = 1, .what = T_DROP };

	start_ab();
	set_tap(&t);
	handshake(&F.a, "peer-b");
	assert_int_equal(count_sa(&F.b, "established"), 1);
	assert_int_equal(count_sa(&F.a, "established"), 0);
	tl_advance(&F.net, 1000);
	tl_pump(&F.net);
	assert_int_equal(stats(&F.b).responses_resent, 1);
	check_established_pair(&F.a, &F.b);
	assert_int_equal(F.b.nup, 1);	/* answered from the cache, not twice */
}

static void
test_dead_peer(void **state)
{
	struct tap t = { .exchange = IKE_X_INFORMATIONAL, .what = T_DROP_ALL_FROM };

	F.a.cfg.liveness_s = 10;
	start_ab();
	handshake(&F.a, "peer-b");
	/* liveness answered */
	tl_advance(&F.net, 11000);
	tl_pump(&F.net);
	assert_int_equal(count_sa(&F.a, "established"), 1);
	assert_true(stats(&F.b).rx >= 3);
	/* B goes silent */
	t.from = F.b.addr;
	set_tap(&t);
	for (int i = 0; i < 40 && count_sa(&F.a, NULL) > 0; i++) {
		tl_advance(&F.net, 2000);
		tl_pump(&F.net);
		/* timers that are due but waiting for the window never read as 0 */
		assert_true(ike_tick(F.a.eng) > 0);
	}
	assert_int_equal(count_sa(&F.a, NULL), 0);
	assert_int_equal(F.a.nchild, 0);
	assert_int_equal(F.a.events[IKE_EV_SA_DOWN], 1);
	assert_int_equal(stats(&F.a).retransmits, 4);
}

static void
test_replayed_request_answered_from_cache(void **state)
{
	struct tap t = { .exchange = IKE_X_IKE_AUTH, .response = false, .nth = 1,
	    .what = T_RECORD };
	struct ike_stats sb, sa;

	start_ab();
	set_tap(&t);
	handshake(&F.a, "peer-b");
	assert_non_null(t.saved);
	F.net.tap = NULL;
	ike_input(F.b.eng, &t.savedpkt.src, t.savedpkt.sport, &t.savedpkt.dst,
	    t.savedpkt.dport, t.saved, t.savedlen);
	sb = stats(&F.b);
	assert_int_equal(sb.responses_resent, 1);
	assert_int_equal(F.net.nq, 1);
	tl_pump(&F.net);
	sa = stats(&F.a);
	assert_int_equal(sa.dropped_msgid, 1);	/* the duplicate answer is ignored */
	assert_int_equal(F.b.nup, 1);
	assert_int_equal(F.a.nup, 1);
	free(t.saved);
}

static void
test_tampered_message_dropped(void **state)
{
	struct tap t = { .exchange = IKE_X_IKE_AUTH, .response = false, .nth = 1, .what = T_FLIP };

	start_ab();
	set_tap(&t);
	handshake(&F.a, "peer-b");
	assert_int_equal(stats(&F.b).dropped_bad_icv, 1);
	assert_int_equal(count_sa(&F.b, "established"), 0);
	tl_advance(&F.net, 1000);
	tl_pump(&F.net);
	check_established_pair(&F.a, &F.b);
}

static void
test_garbage_counted(void **state)
{
	static const uint8_t junk[] = { 1, 2, 3 };
	uint8_t msg[64];
	struct ike_stats st;

	start_ab();
	ike_input(F.b.eng, &F.a.addr, 500, &F.b.addr, 500, junk, sizeof(junk));
	/* a well-formed header for an SA nobody has */
	memset(msg, 0, sizeof(msg));
	msg[0] = 1;
	msg[8] = 2;
	msg[17] = IKE_VERSION;
	msg[18] = IKE_X_INFORMATIONAL;
	msg[19] = IKE_FLAG_INITIATOR;
	store_be32(msg + 24, IKE_HDR_LEN);
	ike_input(F.b.eng, &F.a.addr, 500, &F.b.addr, 500, msg, IKE_HDR_LEN);
	/* a wrong length field */
	store_be32(msg + 24, 40);
	ike_input(F.b.eng, &F.a.addr, 500, &F.b.addr, 500, msg, IKE_HDR_LEN);
	st = stats(&F.b);
	assert_int_equal(st.rx, 3);
	assert_int_equal(st.dropped_malformed, 2);
	assert_int_equal(st.dropped_unknown_spi, 1);
	assert_int_equal(F.net.nq, 0);
}

/* --- fragmentation --- */

static void
test_fragmentation(void **state)
{
	struct tap t = { .exchange = 255 };

	F.a.cfg.fragment_mtu = 576;
	F.b.cfg.fragment_mtu = 576;
	start_ab();
	set_tap(&t);
	handshake(&F.a, "peer-b");
	check_established_pair(&F.a, &F.b);
	assert_true(t.skf >= 4);		/* both IKE_AUTH messages split */
	assert_true(stats(&F.a).fragments_tx >= 2);
	assert_true(stats(&F.b).fragments_rx >= 2);
	/* small messages stay whole */
	t.skf = 0;
	assert_int_equal(ike_rekey(F.a.eng, "peer-b", false), 0);
	tl_pump(&F.net);
	assert_int_equal(t.skf, 0);
	assert_crosswise(&F.a, &F.b);
}

static void
test_fragment_lost_and_resent(void **state)
{
	struct tap t = { .exchange = IKE_X_IKE_AUTH, .response = true, .nth = 2, .what = T_DROP };

	F.a.cfg.fragment_mtu = 576;
	F.b.cfg.fragment_mtu = 576;
	start_ab();
	set_tap(&t);
	handshake(&F.a, "peer-b");
	assert_int_equal(count_sa(&F.a, "established"), 0);
	tl_advance(&F.net, 1000);
	tl_pump(&F.net);
	check_established_pair(&F.a, &F.b);
	assert_int_equal(stats(&F.b).responses_resent, 1);
	assert_true(stats(&F.a).dropped_fragment >= 1);	/* the repeated fragment 1 */
}

/* --- DoS protection and negotiation --- */

static void
half_open_from_c(void)
{
	struct tap t = { .exchange = IKE_X_IKE_AUTH, .what = T_DROP_ALL_FROM };

	tl_node_init(&F.net, &F.c, "c", "192.0.2.3", "c.odvpn.test", F.ca, F.ca_key, F.ca);
	tl_peer(&F.c, &F.b, "peer-b", "10.3.0.0/24", "10.2.0.0/24", IKE_PORT);
	start(&F.c);
	t.from = F.c.addr;
	set_tap(&t);
	assert_int_equal(ike_connect(F.c.eng, &F.c.peers[0]), 0);
	tl_pump(&F.net);
	F.net.tap = NULL;
	tl_net_clear(&F.net);
}

static void
test_cookie(void **state)
{
	F.b.cfg.cookie_threshold = 1;
	start_ab();
	half_open_from_c();
	assert_int_equal(count_sa(&F.b, "connecting"), 1);
	handshake(&F.a, "peer-b");
	assert_int_equal(stats(&F.b).cookies_sent, 1);
	assert_int_equal(count_sa(&F.a, "established"), 1);
	assert_crosswise(&F.a, &F.b);
}

static void
test_half_open_cap(void **state)
{
	F.b.cfg.max_half_open = 1;
	start_ab();
	half_open_from_c();
	handshake(&F.a, "peer-b");
	assert_int_equal(stats(&F.b).dropped_half_open_cap, 1);
	assert_int_equal(count_sa(&F.a, "established"), 0);
	/* the half-open SA times out; A's retransmission then gets through */
	for (int i = 0; i < 10 && count_sa(&F.a, "established") == 0; i++) {
		tl_advance(&F.net, 8000);
		tl_pump(&F.net);
	}
	assert_int_equal(count_sa(&F.a, "established"), 1);
	assert_crosswise(&F.a, &F.b);
}

static void
test_invalid_ke(void **state)
{
	F.a.cfg.dh_groups[0] = 31;
	F.a.cfg.dh_groups[1] = 19;
	F.b.cfg.dh_groups[0] = 19;
	start_ab();
	handshake(&F.a, "peer-b");
	assert_int_equal(stats(&F.b).invalid_ke_sent, 1);
	assert_string_equal(only_sa(&F.a).suite, "AES_GCM_16_256/PRF_HMAC_SHA2_256/ECP_256");
	assert_crosswise(&F.a, &F.b);
}

static void
test_no_common_group(void **state)
{
	F.a.cfg.dh_groups[0] = 31;
	F.b.cfg.dh_groups[0] = 20;
	start_ab();
	handshake(&F.a, "peer-b");
	assert_int_equal(count_sa(&F.a, NULL), 0);
	assert_int_equal(count_sa(&F.b, NULL), 0);
	assert_int_equal(F.a.events[IKE_EV_NEGOTIATION_FAILED], 1);
}

/* --- refusals --- */

static void
assert_refused(const char *reason_part)
{
	assert_int_equal(count_sa(&F.a, NULL), 0);
	assert_int_equal(count_sa(&F.b, NULL), 0);
	assert_int_equal(F.a.nchild + F.b.nchild, 0);
	assert_int_equal(stats(&F.b).auth_failed, 1);
	assert_int_equal(F.b.events[IKE_EV_AUTH_FAILED], 1);
	assert_non_null(strstr(F.b.last_detail[IKE_EV_AUTH_FAILED], reason_part));
	assert_int_equal(F.a.events[IKE_EV_AUTH_FAILED], 1);
	assert_int_equal(F.a.events[IKE_EV_SA_UP] + F.b.events[IKE_EV_SA_UP], 0);
}

static void
test_unknown_identity_refused(void **state)
{
	F.b.npeers = 0;		/* B has no grant for A */
	start_ab();
	handshake(&F.a, "peer-b");
	assert_refused("unknown identity a.odvpn.test");
}

static void
test_untrusted_cert_refused(void **state)
{
	/* A's certificate comes from a CA that B does not trust */
	X509_free(F.a.cert);
	F.a.cert = tl_cert(F.a.key, F.a.id, F.a.id, F.ca2, F.ca2_key);
	F.a.cfg.cert = F.a.cert;
	start_ab();
	handshake(&F.a, "peer-b");
	assert_refused("untrusted certificate");
}

static void
test_cert_for_other_name_refused(void **state)
{
	X509_free(F.a.cert);
	F.a.cert = tl_cert(F.a.key, "x.odvpn.test", "x.odvpn.test", F.ca, F.ca_key);
	F.a.cfg.cert = F.a.cert;
	start_ab();
	handshake(&F.a, "peer-b");
	assert_refused("does not name a.odvpn.test");
}

static void
test_initiator_refuses_responder(void **state)
{
	/* B's certificate is fine for B, but A trusts another root only */
	X509_STORE_free(F.a.store);
	F.a.store = X509_STORE_new();
	X509_STORE_add_cert(F.a.store, F.ca2);
	start_ab();
	handshake(&F.a, "peer-b");
	assert_int_equal(count_sa(&F.a, NULL), 0);
	assert_int_equal(stats(&F.a).auth_failed, 1);
	assert_non_null(strstr(F.a.last_detail[IKE_EV_AUTH_FAILED], "untrusted certificate"));
	assert_int_equal(F.a.events[IKE_EV_SA_UP], 0);
	/* B was told and dropped its side */
	assert_int_equal(count_sa(&F.b, NULL), 0);
	assert_int_equal(F.b.ndown, 1);
}

static void
test_unsupported_critical_payload(void **state)
{
	uint8_t buf[1024], pub[64], nonce[32] = { 1 }, crit[4] = { 0 };
	struct ike_pl_sa *sa = calloc(1, sizeof(*sa));
	struct ike_chain c;
	struct ike_hdr h;
	struct dh *dh = dh_new(19);
	struct ike_msg *m = calloc(1, sizeof(*m));
	uint8_t msg[1200];
	struct wbuf w;

	start_ab();
	ike_chain_init(&c, buf, sizeof(buf));
	sa->nprop = 1;
	ike_prop_ike(F.a.eng, &sa->prop[0], 19, NULL, 0);
	ike_pld_sa_build(&c, sa);
	dh_public(dh, pub, 64);
	ike_pld_ke_build(&c, 19, pub, 64);
	ike_pld_nonce_build(&c, nonce, sizeof(nonce));
	ike_pld_raw_build(&c, 200, IKE_PLD_CRITICAL, crit, sizeof(crit));
	memset(&h, 0, sizeof(h));
	h.spi_i[0] = 9;
	h.version = IKE_VERSION;
	h.exchange = IKE_X_IKE_SA_INIT;
	h.flags = IKE_FLAG_INITIATOR;
	h.next = c.first;
	h.length = (uint32_t)(IKE_HDR_LEN + c.w.len);
	wbuf_init(&w, msg, sizeof(msg));
	ike_pld_hdr_build(&w, &h);
	wbuf_put_bytes(&w, buf, c.w.len);
	ike_input(F.b.eng, &F.a.addr, 500, &F.b.addr, 500, msg, w.len);
	assert_int_equal(F.net.nq, 1);
	assert_int_equal(ike_msg_parse(m, F.net.q[0].data, F.net.q[0].len), 0);
	assert_int_equal(m->nnotify, 1);
	assert_int_equal(m->notify[0].type, IKE_N_UNSUPPORTED_CRITICAL_PAYLOAD);
	assert_int_equal(m->notify[0].len, 1);
	assert_int_equal(m->notify[0].data[0], 200);
	assert_int_equal(count_sa(&F.b, NULL), 0);
	/* the same payload without the critical bit is skipped: B answers normally */
	tl_net_clear(&F.net);
	buf[c.last + 1] = 0;
	ike_input(F.b.eng, &F.a.addr, 500, &F.b.addr, 500, msg, w.len);
	assert_int_equal(count_sa(&F.b, NULL), 0);	/* still 0: the header copy was sent */
	memcpy(msg + IKE_HDR_LEN, buf, c.w.len);
	h.spi_i[0] = 10;
	wbuf_init(&w, msg, sizeof(msg));
	ike_pld_hdr_build(&w, &h);
	w.len = IKE_HDR_LEN + c.w.len;
	tl_net_clear(&F.net);
	ike_input(F.b.eng, &F.a.addr, 500, &F.b.addr, 500, msg, w.len);
	assert_int_equal(count_sa(&F.b, "connecting"), 1);
	dh_free(dh);
	free(sa);
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_a_to_b, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_b_to_a, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_x25519_and_p384, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_rsa_pss_and_p384, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_starts_on_4500, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_outer_and_inner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ts_unacceptable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_refuses_bad_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_rekey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_rekey_by_timer_with_pfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ike_rekey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simultaneous_child_rekey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simultaneous_ike_rekey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_from_initiator, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_from_responder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_expiry_deletes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initial_contact_after_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_both_ways_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retransmit_lost_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retransmit_lost_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replayed_request_answered_from_cache, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tampered_message_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragmentation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragment_lost_and_resent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_open_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_ke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_common_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_identity_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_cert_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_for_other_name_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initiator_refuses_responder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported_critical_payload, setup, teardown),
	};

	log_init("test_ike_exchange", getenv("IKE_TEST_DEBUG") ? LL_DEBUG : LL_ERROR, false);
	return cmocka_run_group_tests_name("ike_exchange", tests, NULL, NULL);
}
