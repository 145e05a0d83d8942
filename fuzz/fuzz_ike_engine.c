/*
 * libFuzzer target: datagrams into a responder engine.
 *
 * The first input octet picks how deep the input goes:
 *   0: raw datagrams ([len16][bytes]...) into a fresh responder: header
 *      checks, IKE_SA_INIT handling, cookies, stateless refusals;
 *   1: a real IKE_SA_INIT is run with an in-process initiator, then the input
 *      (after a first-payload octet) is the plaintext of an IKE_AUTH request,
 *      encrypted with that SA's keys, so the exchange logic behind the ICV sees
 *      fuzzed payloads;
 *   2: as 1 but on an established SA, as a CREATE_CHILD_SA or INFORMATIONAL
 *      request (octet 2 picks which).
 * The fuzzer reaches into the engine internals only to find the SA's keys.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aead.h"
#include "device/ike/ike_local.h"
#include "lib/log.h"
#include "../tests/exchange/ike_testlib.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct {
	bool		 ready;
	EVP_PKEY	*ca_key;
	X509		*ca;
	EVP_PKEY	*key_a, *key_b;
	X509		*cert_a, *cert_b;
} S;

static void
once(void)
{
	if (S.ready)
		return;
	log_init("fuzz_ike_engine", LL_ERROR, false);
	S.ca_key = tl_key();
	S.ca = tl_cert(S.ca_key, "fuzz root", NULL, NULL, NULL);
	S.key_a = tl_key();
	S.cert_a = tl_cert(S.key_a, "a.fuzz", "a.fuzz", S.ca, S.ca_key);
	S.key_b = tl_key();
	S.cert_b = tl_cert(S.key_b, "b.fuzz", "b.fuzz", S.ca, S.ca_key);
	S.ready = true;
}

static void
node(struct tl_net *net, struct tl_node *n, const char *name, const char *addr,
    const char *id, EVP_PKEY *key, X509 *cert)
{
	memset(n, 0, sizeof(*n));
	n->net = net;
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->id, sizeof(n->id), "%s", id);
	ipaddr_parse(addr, &n->addr);
	n->key = key;
	n->cert = cert;
	n->store = X509_STORE_new();
	X509_STORE_add_cert(n->store, S.ca);
	n->rng = 42 + (uint64_t)name[0];
	snprintf(n->cfg.local_id, sizeof(n->cfg.local_id), "%s", id);
	n->cfg.cert = cert;
	n->cfg.esn = true;
	n->cfg.max_half_open = 4;
	n->cfg.cookie_threshold = 2;
	n->cfg.fragment_mtu = 576;
	net->nodes[net->nnodes++] = n;
}

/* the one IKE SA B has */
static struct ike_sa *
b_sa(struct tl_node *b)
{
	return b->eng->sas;
}

/* a request from A (the original initiator) protected with SK_ei */
static void
inject(struct tl_node *a, struct tl_node *b, uint8_t exchange, uint32_t msgid,
    uint8_t first, const uint8_t *plain, size_t plen)
{
	struct ike_sa *sa = b_sa(b);
	uint8_t *msg, *iv, *ct;
	size_t len = IKE_HDR_LEN + 4 + AEAD_GCM_IV + plen + 1 + AEAD_GCM_ICV;
	struct ike_hdr h;
	struct wbuf w;

	if (sa == NULL || !sa->have_keys || len > 65535)
		return;
	msg = malloc(len);
	wbuf_init(&w, msg, len);
	memset(&h, 0, sizeof(h));
	memcpy(h.spi_i, sa->spi_i, 8);
	memcpy(h.spi_r, sa->spi_r, 8);
	h.next = IKE_PL_SK;
	h.version = IKE_VERSION;
	h.exchange = exchange;
	h.flags = IKE_FLAG_INITIATOR;
	h.msgid = msgid;
	h.length = (uint32_t)len;
	ike_pld_hdr_build(&w, &h);
	wbuf_put_u8(&w, first);
	wbuf_put_u8(&w, 0);
	wbuf_put_u16(&w, (uint16_t)(len - IKE_HDR_LEN));
	wbuf_reserve(&w, AEAD_GCM_IV, &iv);
	memset(iv, 0x77, AEAD_GCM_IV);
	wbuf_reserve(&w, plen + 1, &ct);
	if (plen > 0)
		memcpy(ct, plain, plen);
	ct[plen] = 0;
	aead_seal_salted(sa->keys.sk_ei, sa->keys.enclen, iv, msg, IKE_HDR_LEN + 4, ct,
	    plen + 1, ct, msg + len - AEAD_GCM_ICV);
	ike_input(b->eng, &a->addr, IKE_NATT_PORT, &b->addr, IKE_NATT_PORT, msg, len);
	free(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tl_net net;
	static struct tl_node a, b;
	uint8_t mode;

	if (size < 2)
		return 0;
	once();
	memset(&net, 0, sizeof(net));
	net.now = 5000000;
	node(&net, &a, "a", "192.0.2.1", "a.fuzz", S.key_a, S.cert_a);
	node(&net, &b, "b", "192.0.2.2", "b.fuzz", S.key_b, S.cert_b);
	tl_peer(&a, &b, "b", "10.1.0.0/24", "10.2.0.0/24", IKE_PORT);
	tl_peer(&b, &a, "a", "10.2.0.0/24", "10.1.0.0/24", IKE_PORT);
	tl_node_start(&b, S.ca);
	mode = data[0] % 3;
	data++;
	size--;
	if (mode == 0) {
		while (size >= 2) {
			size_t n = (size_t)data[0] << 8 | data[1];

			data += 2;
			size -= 2;
			if (n > size)
				n = size;
			ike_input(b.eng, &a.addr, (n & 1) ? IKE_NATT_PORT : IKE_PORT, &b.addr,
			    (n & 1) ? IKE_NATT_PORT : IKE_PORT, data, n);
			data += n;
			size -= n;
			tl_advance(&net, 1500);
		}
	} else {
		tl_node_start(&a, S.ca);
		ike_connect(a.eng, &a.peers[0]);
		if (mode == 1) {
			/* deliver IKE_SA_INIT both ways, drop A's IKE_AUTH */
			for (int i = 0; i < 2 && net.nq > 0; i++) {
				struct tl_pkt p = net.q[0];

				memmove(&net.q[0], &net.q[1], (net.nq - 1) * sizeof(net.q[0]));
				net.nq--;
				ike_input(tl_node_at(&net, &p.dst)->eng, &p.src, p.sport, &p.dst,
				    p.dport, p.data, p.len);
				free(p.data);
			}
			tl_net_clear(&net);
			inject(&a, &b, IKE_X_IKE_AUTH, 1, data[0], data + 1, size - 1);
		} else if (size >= 2) {
			static const uint8_t ex[] = { IKE_X_CREATE_CHILD_SA, IKE_X_INFORMATIONAL,
			    IKE_X_IKE_AUTH };

			tl_pump(&net);
			inject(&a, &b, ex[data[1] % 3], 2, data[0], data + 2, size - 2);
		}
		tl_pump(&net);
		tl_advance(&net, 60000);
		tl_pump(&net);
	}
	tl_net_clear(&net);
	ike_free(a.eng);
	ike_free(b.eng);
	X509_STORE_free(a.store);
	X509_STORE_free(b.store);
	a.eng = b.eng = NULL;
	return 0;
}
