/*
 * Message I/O: protecting and unprotecting the SK payload (RFC 7296 §3.14 with
 * AES-GCM per RFC 5282), cutting large messages into SKF fragments (RFC 7383),
 * and keeping what was sent for retransmission (§2.1: requests are resent on
 * timeout, responses only when the request comes again).
 *
 * The IV is a per-SA counter (RFC 5282 §3.1: unique per key, need not be
 * random); each direction has its own key, so one counter per sender suffices.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/aead.h"
#include "device/ike/ike_local.h"
#include "lib/log.h"
#include "lib/util.h"

static struct ike_pkt *
pkt_new(size_t len)
{
	struct ike_pkt *p = xmalloc(sizeof(*p) + len);

	p->next = NULL;
	p->len = len;
	return p;
}

void
ike_out_clear(struct ike_out *o)
{
	while (o->pkts != NULL) {
		struct ike_pkt *p = o->pkts;

		o->pkts = p->next;
		free(p);
	}
	memset(o, 0, sizeof(*o));
}

static void
out_append(struct ike_out *o, struct ike_pkt *p)
{
	struct ike_pkt **pp = &o->pkts;

	while (*pp != NULL)
		pp = &(*pp)->next;
	*pp = p;
}

void
ike_msg_xmit(struct ike_sa *sa, const struct ike_out *o)
{
	struct ike_engine *e = sa->eng;

	for (const struct ike_pkt *p = o->pkts; p != NULL; p = p->next) {
		e->stats.tx++;
		e->ops.send(e->ops.arg, &sa->laddr, sa->lport, &sa->raddr, sa->rport,
		    p->data, p->len);
	}
}

/* the key that protects what this side sends */
static const uint8_t *
send_key(const struct ike_sa *sa)
{
	return sa->initiator ? sa->keys.sk_ei : sa->keys.sk_er;
}

/* one SK (frag = false) or SKF datagram carrying plain */
static struct ike_pkt *
seal(struct ike_sa *sa, const struct ike_hdr *h, bool frag, uint16_t num, uint16_t total,
    uint8_t next, const uint8_t *plain, size_t plen)
{
	size_t skh = frag ? 8 : 4, aad = IKE_HDR_LEN + skh;
	size_t len = aad + AEAD_GCM_IV + plen + 1 + AEAD_GCM_ICV;
	struct ike_pkt *p;
	struct ike_hdr hh = *h;
	struct wbuf w;
	uint8_t *iv, *ct;

	if (len > IKE_MSG_MAX)
		return NULL;
	p = pkt_new(len);
	wbuf_init(&w, p->data, len);
	hh.next = frag ? IKE_PL_SKF : IKE_PL_SK;
	hh.length = (uint32_t)len;
	ike_pld_hdr_build(&w, &hh);
	wbuf_put_u8(&w, next);
	wbuf_put_u8(&w, 0);
	wbuf_put_u16(&w, (uint16_t)(len - IKE_HDR_LEN));
	if (frag) {
		wbuf_put_u16(&w, num);
		wbuf_put_u16(&w, total);
	}
	wbuf_reserve(&w, AEAD_GCM_IV, &iv);
	store_be64(iv, ++sa->iv_ctr);
	wbuf_reserve(&w, plen + 1, &ct);
	if (plen > 0)
		memcpy(ct, plain, plen);
	ct[plen] = 0;		/* Pad Length: GCM needs no padding */
	if (w.bad || aead_seal_salted(send_key(sa), sa->keys.enclen, iv, p->data, aad, ct,
	    plen + 1, ct, p->data + len - AEAD_GCM_ICV) == -1) {
		free(p);
		return NULL;
	}
	return p;
}

static int
protect(struct ike_sa *sa, uint8_t exchange, bool response, uint32_t msgid,
    const struct ike_chain *c, struct ike_out *o)
{
	struct ike_engine *e = sa->eng;
	struct ike_hdr h;
	const uint8_t *plain = c->w.p;
	size_t plen = c->w.len, mtu = e->cfg.fragment_mtu;
	size_t whole = IKE_HDR_LEN + 4 + AEAD_GCM_IV + plen + 1 + AEAD_GCM_ICV;
	size_t over = (sa->raddr.af == AF_INET6 ? 40 : 20) + 8 + 4;

	if (c->w.bad)
		return -1;
	memset(&h, 0, sizeof(h));
	memcpy(h.spi_i, sa->spi_i, 8);
	memcpy(h.spi_r, sa->spi_r, 8);
	h.version = IKE_VERSION;
	h.exchange = exchange;
	h.flags = (sa->initiator ? IKE_FLAG_INITIATOR : 0) | (response ? IKE_FLAG_RESPONSE : 0);
	h.msgid = msgid;
	if (sa->peer_frag && whole + over > mtu) {
		size_t chunk = ike_frag_chunk(sa, mtu), total;

		total = (plen + chunk - 1) / chunk;
		if (total > IKE_MAX_FRAGS) {
			chunk = (plen + IKE_MAX_FRAGS - 1) / IKE_MAX_FRAGS;
			total = (plen + chunk - 1) / chunk;
		}
		for (size_t i = 0; i < total; i++) {
			size_t off = i * chunk, n = MIN(chunk, plen - off);
			struct ike_pkt *p = seal(sa, &h, true, (uint16_t)(i + 1), (uint16_t)total,
			    i == 0 ? c->first : 0, plain + off, n);

			if (p == NULL)
				return -1;
			out_append(o, p);
			e->stats.fragments_tx++;
		}
		return 0;
	} else {
		struct ike_pkt *p = seal(sa, &h, false, 0, 0, c->first, plain, plen);

		if (p == NULL)
			return -1;
		out_append(o, p);
		return 0;
	}
}

int
ike_msg_send_request(struct ike_sa *sa, uint8_t exchange, const struct ike_chain *c)
{
	struct ike_engine *e = sa->eng;

	ike_out_clear(&sa->req);
	sa->req.msgid = sa->msgid_next;
	if (protect(sa, exchange, false, sa->msgid_next, c, &sa->req) == -1) {
		ike_out_clear(&sa->req);
		log_warn("ike sa=%llu: cannot build %s request", (unsigned long long)sa->id,
		    ike_exchange_name(exchange));
		return -1;
	}
	sa->msgid_next++;
	sa->req.active = true;
	sa->req.tries = 0;
	sa->req.next_ms = ike_now(e) + e->cfg.retransmit_base_ms;
	log_debug("ike sa=%llu: sending %s request %u", (unsigned long long)sa->id,
	    ike_exchange_name(exchange), sa->req.msgid);
	ike_msg_xmit(sa, &sa->req);
	return 0;
}

int
ike_msg_send_response(struct ike_sa *sa, uint8_t exchange, uint32_t msgid,
    const struct ike_chain *c)
{
	ike_out_clear(&sa->resp);
	sa->resp_valid = false;
	if (protect(sa, exchange, true, msgid, c, &sa->resp) == -1) {
		ike_out_clear(&sa->resp);
		log_warn("ike sa=%llu: cannot build %s response", (unsigned long long)sa->id,
		    ike_exchange_name(exchange));
		return -1;
	}
	sa->resp.msgid = msgid;
	sa->resp_valid = true;
	log_debug("ike sa=%llu: sending %s response %u", (unsigned long long)sa->id,
	    ike_exchange_name(exchange), msgid);
	ike_msg_xmit(sa, &sa->resp);
	return 0;
}

void
ike_msg_request_done(struct ike_sa *sa)
{
	ike_out_clear(&sa->req);
}

int
ike_msg_send_plain(struct ike_engine *e, const struct ike_hdr *h, const struct ike_chain *c,
    const struct ipaddr *src, uint16_t sport, const struct ipaddr *dst, uint16_t dport,
    struct ike_out *out, uint8_t **copy, size_t *copylen)
{
	size_t len = IKE_HDR_LEN + c->w.len;
	struct ike_hdr hh = *h;
	struct ike_pkt *p;
	struct wbuf w;

	if (c->w.bad || len > IKE_MSG_MAX)
		return -1;
	p = pkt_new(len);
	wbuf_init(&w, p->data, len);
	hh.next = c->first;
	hh.length = (uint32_t)len;
	ike_pld_hdr_build(&w, &hh);
	wbuf_put_bytes(&w, c->w.p, c->w.len);
	if (copy != NULL) {
		*copy = xmalloc(len);
		memcpy(*copy, p->data, len);
		*copylen = len;
	}
	e->stats.tx++;
	e->ops.send(e->ops.arg, src, sport, dst, dport, p->data, len);
	if (out != NULL)
		out_append(out, p);
	else
		free(p);
	return 0;
}

/* the key that protected what the peer sent: SK_ei if it is the original initiator */
static const uint8_t *
recv_key(const struct ike_sa *sa, const struct ike_msg *m)
{
	return (m->hdr.flags & IKE_FLAG_INITIATOR) ? sa->keys.sk_ei : sa->keys.sk_er;
}

/* decrypt one SK/SKF body into a fresh buffer; -1 bad ICV, -2 malformed */
static int
open_sk(struct ike_sa *sa, const struct ike_msg *m, uint8_t **out, size_t *outlen)
{
	const struct ike_pl_sk *sk = &m->sk;
	size_t ctlen;
	uint8_t *buf, pad;

	if (sk->bodylen < AEAD_GCM_IV + 1 + AEAD_GCM_ICV)
		return -2;
	ctlen = sk->bodylen - AEAD_GCM_IV - AEAD_GCM_ICV;
	buf = xmalloc(ctlen);
	if (aead_open_salted(recv_key(sa, m), sa->keys.enclen, sk->body, m->raw, sk->aad_len,
	    sk->body + AEAD_GCM_IV, ctlen, sk->body + AEAD_GCM_IV + ctlen, buf) == -1) {
		free(buf);
		return -1;
	}
	pad = buf[ctlen - 1];
	if ((size_t)pad + 1 > ctlen) {
		free(buf);
		return -2;
	}
	*out = buf;
	*outlen = ctlen - 1 - pad;
	return 0;
}

bool
ike_msg_authentic(struct ike_sa *sa, const struct ike_msg *m)
{
	uint8_t *buf;
	size_t len;

	if (!sa->have_keys || open_sk(sa, m, &buf, &len) != 0)
		return false;
	OPENSSL_cleanse(buf, len);
	free(buf);
	return true;
}

int
ike_msg_decrypt(struct ike_sa *sa, struct ike_msg *m, uint8_t **plain, size_t *plainlen)
{
	struct ike_reass *r = &sa->reass[(m->hdr.flags & IKE_FLAG_RESPONSE) ? 1 : 0];
	uint8_t *buf, first;
	size_t len;
	struct rbuf rb;
	int rc;

	if (m->sk.frag) {
		/* RFC 7383 §2.6: drop stale sets and replays before the ICV check */
		if (r->active && r->msgid == m->hdr.msgid && m->sk.frag_total < r->total)
			return -3;
		if (ike_frag_seen(r, m->hdr.msgid, m->sk.frag_num, m->sk.frag_total))
			return -3;
	}
	if ((rc = open_sk(sa, m, &buf, &len)) != 0)
		return rc;
	if (m->sk.frag) {
		uint8_t *full;
		size_t fulllen;

		sa->eng->stats.fragments_rx++;
		rc = ike_frag_store(r, m->hdr.msgid, &m->sk, buf, len, ike_now(sa->eng), &full,
		    &fulllen, &first);
		OPENSSL_cleanse(buf, len);
		free(buf);
		if (rc <= 0)
			return rc == 0 ? 0 : -3;
		buf = full;
		len = fulllen;
	} else
		first = m->sk.next;
	rbuf_init(&rb, buf, len);
	if (ike_pld_parse_chain(m, first, &rb, true) == -1) {
		OPENSSL_cleanse(buf, len);
		free(buf);
		return -2;
	}
	*plain = buf;
	*plainlen = len;
	return 1;
}
