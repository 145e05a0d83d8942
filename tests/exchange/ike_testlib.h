/*
 * Test-only helpers for the IKE engine: a small CA made with OpenSSL APIs, and
 * in-process peers (injected clock, deterministic RNG, a packet queue instead
 * of sockets). Header-only so each test program and fuzzer includes its own
 * copy. Nothing here is product code.
 */
#ifndef ODVPN_TESTS_IKE_TESTLIB_H
#define ODVPN_TESTS_IKE_TESTLIB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/sig.h"
#include "device/ike/ike.h"
#include "lib/util.h"

static inline EVP_PKEY *
tl_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static inline void
tl_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL || !X509_add_ext(x, ext, -1))
		abort();
	X509_EXTENSION_free(ext);
}

/* a CA (san == NULL) or an end entity with dNSName san, signed by issuer */
static inline X509 *
tl_cert(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer, EVP_PKEY *issuer_key)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	char buf[300];

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"odvpn-test",
	    -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	X509_set_pubkey(x, key);
	if (san == NULL) {
		tl_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
		tl_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		tl_ext(x, issuer, NID_basic_constraints, "CA:FALSE");
		tl_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
		snprintf(buf, sizeof(buf), "DNS:%s", san);
		tl_ext(x, issuer, NID_subject_alt_name, buf);
	}
	if (X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) == 0)
		abort();
	return x;
}

/* a datagram in flight */
struct tl_pkt {
	struct ipaddr	 src, dst;
	uint16_t	 sport, dport;
	size_t		 len;
	uint8_t		*data;
};

#define TL_MAXQ		512
#define TL_MAXNODE	4
#define TL_MAXCHILD	32

struct tl_net;

struct tl_node {
	struct tl_net	*net;
	char		 name[16];
	char		 id[64];
	struct ipaddr	 addr;
	struct ike_engine *eng;
	struct ike_config cfg;
	EVP_PKEY	*key;
	X509		*cert;
	X509_STORE	*store;
	struct ike_peer	 peers[TL_MAXNODE];
	size_t		 npeers;
	uint64_t	 rng;
	struct child_sa	 child[TL_MAXCHILD];	/* installed now */
	size_t		 nchild;
	unsigned	 nup, ndown, nreplacing;
	int		 sign_md;	/* digest of the last signature made */
	unsigned	 events[8];
	char		 last_detail[8][256];
};

struct tl_net {
	uint64_t	 now;
	struct tl_pkt	 q[TL_MAXQ];
	size_t		 nq;
	struct tl_node	*nodes[TL_MAXNODE];
	size_t		 nnodes;
	/* return true to drop; may modify the packet */
	bool		(*tap)(struct tl_net *, struct tl_pkt *, void *);
	void		*tap_arg;
	unsigned	 delivered;
};

static inline uint64_t
tl_now(void *arg)
{
	return ((struct tl_node *)arg)->net->now;
}

static inline void
tl_random(void *arg, void *buf, size_t n)
{
	struct tl_node *nd = arg;
	uint8_t *p = buf;

	for (size_t i = 0; i < n; i++) {
		/* splitmix64: reproducible runs, distinct streams per node */
		uint64_t z = (nd->rng += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		p[i] = (uint8_t)(z ^ (z >> 31));
	}
}

static inline void
tl_send(void *arg, const struct ipaddr *src, uint16_t sport, const struct ipaddr *dst,
    uint16_t dport, const uint8_t *msg, size_t len)
{
	struct tl_node *nd = arg;
	struct tl_net *net = nd->net;
	struct tl_pkt *p;

	if (net->nq == TL_MAXQ)
		return;
	p = &net->q[net->nq++];
	p->src = src->af != 0 ? *src : nd->addr;
	p->dst = *dst;
	p->sport = sport;
	p->dport = dport;
	p->len = len;
	p->data = malloc(len);
	memcpy(p->data, msg, len);
}

static inline int
tl_sign(void *arg, int md, const uint8_t *tbs, size_t tbslen, uint8_t *sig, size_t *siglen)
{
	((struct tl_node *)arg)->sign_md = md;
	return sig_sign(((struct tl_node *)arg)->key, md, tbs, tbslen, sig, siglen);
}

static inline int
tl_verify(void *arg, X509 *cert, STACK_OF(X509) *untrusted, const char *peer_id, char *err,
    size_t errlen)
{
	struct tl_node *nd = arg;
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;

	X509_STORE_CTX_init(ctx, nd->store, cert, untrusted);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		snprintf(err, errlen, "untrusted certificate: %s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	if (ok != 1)
		return -1;
	if (X509_check_host(cert, peer_id, 0, 0, NULL) != 1) {
		snprintf(err, errlen, "certificate does not name %s", peer_id);
		return -1;
	}
	return 0;
}

static inline const struct ike_peer *
tl_find_peer(void *arg, const char *id, const struct ipaddr *from)
{
	struct tl_node *nd = arg;

	for (size_t i = 0; i < nd->npeers; i++)
		if (strcmp(nd->peers[i].id, id) == 0)
			return &nd->peers[i];
	return NULL;
}

static inline void
tl_child_up(void *arg, const struct child_sa *c)
{
	struct tl_node *nd = arg;

	nd->nup++;
	if (c->replaces_spi_in)
		nd->nreplacing++;
	if (nd->nchild < TL_MAXCHILD)
		nd->child[nd->nchild++] = *c;
}

static inline void
tl_child_down(void *arg, const char *peer, uint32_t spi_in, uint32_t spi_out,
    const char *reason)
{
	struct tl_node *nd = arg;

	nd->ndown++;
	for (size_t i = 0; i < nd->nchild; i++)
		if (nd->child[i].spi_in == spi_in) {
			nd->child[i] = nd->child[--nd->nchild];
			return;
		}
}

static inline void
tl_event(void *arg, enum ike_event ev, const char *peer, const char *detail)
{
	struct tl_node *nd = arg;

	if ((unsigned)ev < 8) {
		nd->events[ev]++;
		snprintf(nd->last_detail[ev], sizeof(nd->last_detail[ev]), "%s", detail);
	}
}

static const struct ike_ops tl_ops = {
	.now_ms = tl_now,
	.random = tl_random,
	.send = tl_send,
	.sign = tl_sign,
	.verify_peer = tl_verify,
	.find_peer = tl_find_peer,
	.child_up = tl_child_up,
	.child_down = tl_child_down,
	.event = tl_event,
};

/* a node with a key and a certificate for id issued by ca; trusts trust_ca */
static inline void
tl_node_init(struct tl_net *net, struct tl_node *nd, const char *name, const char *addr,
    const char *id, X509 *ca, EVP_PKEY *ca_key, X509 *trust_ca)
{
	memset(nd, 0, sizeof(*nd));
	nd->net = net;
	snprintf(nd->name, sizeof(nd->name), "%s", name);
	snprintf(nd->id, sizeof(nd->id), "%s", id);
	ipaddr_parse(addr, &nd->addr);
	nd->key = tl_key();
	nd->cert = tl_cert(nd->key, id, id, ca, ca_key);
	nd->store = X509_STORE_new();
	X509_STORE_add_cert(nd->store, trust_ca);
	nd->rng = 0x1234 + (uint64_t)name[0] * 7919;
	snprintf(nd->cfg.local_id, sizeof(nd->cfg.local_id), "%s", id);
	nd->cfg.cert = nd->cert;
	nd->cfg.esn = true;
	nd->cfg.retransmit_base_ms = 1000;
	nd->cfg.retransmit_tries = 4;
	net->nodes[net->nnodes++] = nd;
}

static inline struct ike_engine *
tl_node_start(struct tl_node *nd, X509 *trust_ca)
{
	STACK_OF(X509) *cas = sk_X509_new_null();
	struct ike_ops ops = tl_ops;

	ops.arg = nd;
	sk_X509_push(cas, trust_ca);
	nd->cfg.cas = cas;
	nd->eng = ike_new(&nd->cfg, &ops);
	sk_X509_free(cas);
	nd->cfg.cas = NULL;
	return nd->eng;
}

/* nd knows other as a peer called name: local/remote prefixes, IKE port */
static inline struct ike_peer *
tl_peer(struct tl_node *nd, const struct tl_node *other, const char *name,
    const char *local_ts, const char *remote_ts, uint16_t port)
{
	struct ike_peer *p = &nd->peers[nd->npeers++];
	char err[128];

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->id, sizeof(p->id), "%s", other->id);
	p->addr = other->addr;
	p->port = port;
	if (prefix_parse(local_ts, &p->local_ts[0], err, sizeof(err)) != 0 ||
	    prefix_parse(remote_ts, &p->remote_ts[0], err, sizeof(err)) != 0)
		abort();
	p->nlocal_ts = 1;
	p->nremote_ts = 1;
	return p;
}

static inline struct tl_node *
tl_node_at(struct tl_net *net, const struct ipaddr *a)
{
	for (size_t i = 0; i < net->nnodes; i++)
		if (ipaddr_eq(&net->nodes[i]->addr, a))
			return net->nodes[i];
	return NULL;
}

/* deliver queued datagrams (and what they cause) until the network is quiet */
static inline void
tl_pump(struct tl_net *net)
{
	for (unsigned guard = 0; net->nq > 0 && guard < 10000; guard++) {
		struct tl_pkt p = net->q[0];
		struct tl_node *to;

		memmove(&net->q[0], &net->q[1], (net->nq - 1) * sizeof(net->q[0]));
		net->nq--;
		to = tl_node_at(net, &p.dst);
		if (to != NULL && to->eng != NULL &&
		    (net->tap == NULL || !net->tap(net, &p, net->tap_arg))) {
			net->delivered++;
			ike_input(to->eng, &p.src, p.sport, &p.dst, p.dport, p.data, p.len);
		}
		free(p.data);
	}
}

/* advance the clock and run every engine's timers */
static inline void
tl_advance(struct tl_net *net, uint64_t ms)
{
	net->now += ms;
	for (size_t i = 0; i < net->nnodes; i++)
		if (net->nodes[i]->eng != NULL)
			ike_tick(net->nodes[i]->eng);
}

static inline void
tl_node_free(struct tl_node *nd)
{
	ike_free(nd->eng);
	nd->eng = NULL;
	EVP_PKEY_free(nd->key);
	X509_free(nd->cert);
	X509_STORE_free(nd->store);
	nd->key = NULL;
	nd->cert = NULL;
	nd->store = NULL;
}

static inline void
tl_net_clear(struct tl_net *net)
{
	for (size_t i = 0; i < net->nq; i++)
		free(net->q[i].data);
	net->nq = 0;
}

#endif
