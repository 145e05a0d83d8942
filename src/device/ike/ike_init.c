/*
 * IKE_SA_INIT (RFC 7296 §1.2), both roles.
 *
 *   Initiator                         Responder
 *   HDR, [N(COOKIE)], SAi1, KEi, Ni,
 *        N(NATD_S), N(NATD_D), N(FRAG_SUP), N(HASH_ALG)  -->
 *                               <--  HDR, SAr1, KEr, Nr, N(NATD_S), N(NATD_D),
 *                                         CERTREQ, N(FRAG_SUP), N(HASH_ALG)
 *
 * odvpn has no kernel ESP, so UDP encapsulation is forced (RFC 3948): our
 * NAT_DETECTION_SOURCE_IP hashes a random address that cannot match, the peer
 * concludes we are behind a NAT, and both ends move to port 4500.
 *
 * The responder keeps no state before it commits to an SA: COOKIE (§2.6),
 * INVALID_KE_PAYLOAD (§1.3) and NO_PROPOSAL_CHOSEN answers are stateless.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/sig.h"
#include "device/ike/ike_local.h"
#include "lib/log.h"
#include "lib/util.h"

static const uint8_t zero_spi[8];

/* RFC 7427 §4: the hashes we sign and verify with */
static const uint8_t sig_hashes[] = { 0, SIG_HASH_SHA2_256, 0, SIG_HASH_SHA2_384,
	0, SIG_HASH_SHA2_512 };

static void
add_common_notifies(struct ike_engine *e, struct ike_chain *c, const uint8_t spi_i[8],
    const uint8_t spi_r[8], uint16_t lport, const struct ipaddr *peer, uint16_t rport)
{
	uint8_t h[20];

	ike_keys_natd(spi_i, spi_r, e->natd_fake, sizeof(e->natd_fake), lport, h);
	ike_pld_notify_build(c, 0, NULL, 0, IKE_N_NAT_DETECTION_SOURCE_IP, h, sizeof(h));
	ike_keys_natd(spi_i, spi_r, peer->a, ipaddr_len(peer), rport, h);
	ike_pld_notify_build(c, 0, NULL, 0, IKE_N_NAT_DETECTION_DESTINATION_IP, h, sizeof(h));
}

static void
add_capabilities(struct ike_chain *c)
{
	ike_pld_notify_build(c, 0, NULL, 0, IKE_N_IKEV2_FRAGMENTATION_SUPPORTED, NULL, 0);
	ike_pld_notify_build(c, 0, NULL, 0, IKE_N_SIGNATURE_HASH_ALGORITHMS, sig_hashes,
	    sizeof(sig_hashes));
}

/* what the peer announced in its IKE_SA_INIT */
static void
peer_capabilities(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_pl_notify *n;

	sa->peer_frag = ike_msg_notify(m, IKE_N_IKEV2_FRAGMENTATION_SUPPORTED) != NULL;
	sa->peer_natt = ike_msg_notify(m, IKE_N_NAT_DETECTION_SOURCE_IP) != NULL &&
	    ike_msg_notify(m, IKE_N_NAT_DETECTION_DESTINATION_IP) != NULL;
	sa->peer_hashes = 0;
	if ((n = ike_msg_notify(m, IKE_N_SIGNATURE_HASH_ALGORITHMS)) != NULL)
		sa->peer_hashes = ike_pld_notify_hashes(n);
}

/* the initiator's request; resent unchanged but for COOKIE / a new KE */
static int
init_send(struct ike_sa *sa)
{
	struct ike_engine *e = sa->eng;
	uint8_t buf[2048], pub[DH_MAX_PUB];
	struct ike_pl_sa *prop = xcalloc(1, sizeof(*prop));
	size_t publen = dh_pub_len(dh_group(sa->dh));
	struct ike_chain c;
	struct ike_hdr h;
	int rc;

	ike_chain_init(&c, buf, sizeof(buf));
	if (sa->cookie_len > 0)		/* §2.6: the first payload */
		ike_pld_notify_build(&c, 0, NULL, 0, IKE_N_COOKIE, sa->cookie, sa->cookie_len);
	prop->nprop = 1;
	ike_prop_ike(e, &prop->prop[0], dh_group(sa->dh), NULL, 0);
	ike_pld_sa_build(&c, prop);
	free(prop);
	if (dh_public(sa->dh, pub, publen) == -1)
		return -1;
	ike_pld_ke_build(&c, (uint16_t)dh_group(sa->dh), pub, publen);
	ike_pld_nonce_build(&c, sa->ni, sa->nilen);
	add_common_notifies(e, &c, sa->spi_i, zero_spi, sa->lport, &sa->raddr, sa->rport);
	add_capabilities(&c);
	memset(&h, 0, sizeof(h));
	memcpy(h.spi_i, sa->spi_i, 8);
	h.version = IKE_VERSION;
	h.exchange = IKE_X_IKE_SA_INIT;
	h.flags = IKE_FLAG_INITIATOR;
	ike_out_clear(&sa->req);
	free(sa->init_req);
	sa->init_req = NULL;
	rc = ike_msg_send_plain(e, &h, &c, &sa->laddr, sa->lport, &sa->raddr, sa->rport,
	    &sa->req, &sa->init_req, &sa->init_req_len);
	if (rc == -1)
		return -1;
	sa->req.active = true;
	sa->req.msgid = 0;
	sa->req.tries = 0;
	sa->req.next_ms = ike_now(e) + e->cfg.retransmit_base_ms;
	sa->ctx.kind = REQ_INIT;
	sa->msgid_next = 1;
	return 0;
}

int
ike_init_start(struct ike_sa *sa)
{
	struct ike_engine *e = sa->eng;

	sa->state = IKE_ST_INIT_SENT;
	if ((sa->dh = dh_new(e->cfg.dh_groups[0])) == NULL)
		return -1;
	sa->nilen = IKE_NONCE_LEN;
	ike_random(e, sa->ni, sa->nilen);
	return init_send(sa);
}

/* a stateless answer: one notify, SPIr zero (§2.6) */
static void
init_refuse(struct ike_engine *e, const struct ike_msg *m, const struct ipaddr *src,
    uint16_t sport, const struct ipaddr *dst, uint16_t dport, uint16_t type,
    const uint8_t *data, size_t len)
{
	uint8_t buf[256];
	struct ike_chain c;
	struct ike_hdr h;

	ike_chain_init(&c, buf, sizeof(buf));
	ike_pld_notify_build(&c, 0, NULL, 0, type, data, len);
	memset(&h, 0, sizeof(h));
	memcpy(h.spi_i, m->hdr.spi_i, 8);
	h.version = IKE_VERSION;
	h.exchange = IKE_X_IKE_SA_INIT;
	h.flags = IKE_FLAG_RESPONSE;
	ike_msg_send_plain(e, &h, &c, dst, dport, src, sport, NULL, NULL, NULL);
}

static void
log_nat(const struct ike_sa *sa, const struct ike_msg *m, const struct ipaddr *local,
    uint16_t lport)
{
	const struct ike_pl_notify *s = ike_msg_notify(m, IKE_N_NAT_DETECTION_SOURCE_IP);
	const struct ike_pl_notify *d = ike_msg_notify(m, IKE_N_NAT_DETECTION_DESTINATION_IP);
	uint8_t h[20];
	bool peer_nat = true, local_nat = true;

	if (s == NULL || d == NULL)
		return;
	if (ike_keys_natd(sa->spi_i, m->hdr.spi_r, sa->raddr.a, ipaddr_len(&sa->raddr),
	    sa->rport, h) == 0)
		for (size_t i = 0; i < m->nnotify; i++)
			if (m->notify[i].type == IKE_N_NAT_DETECTION_SOURCE_IP &&
			    m->notify[i].len == 20 && CRYPTO_memcmp(m->notify[i].data, h, 20) == 0)
				peer_nat = false;
	if (local->af != 0 && ike_keys_natd(sa->spi_i, m->hdr.spi_r, local->a,
	    ipaddr_len(local), lport, h) == 0)
		local_nat = d->len != 20 || CRYPTO_memcmp(d->data, h, 20) != 0;
	log_debug("ike sa=%llu: NAT detection: peer %s NAT, local %s NAT (UDP encapsulation "
	    "is always used)", (unsigned long long)sa->id, peer_nat ? "behind" : "not behind",
	    local_nat ? "behind" : "not behind");
}

void
ike_init_request(struct ike_engine *e, struct ike_msg *m, const struct ipaddr *src,
    uint16_t sport, const struct ipaddr *dst, uint16_t dport)
{
	const struct ike_pl_notify *cookie;
	struct ike_pl_sa *answer = NULL;
	struct ike_suite s;
	struct ike_sa *sa;
	uint8_t pub[DH_MAX_PUB], gir[DH_MAX_SECRET], buf[2048];
	size_t girlen = 0;
	struct ike_chain c;
	struct ike_hdr h;

	if (!(m->hdr.flags & IKE_FLAG_INITIATOR) || m->hdr.msgid != 0 ||
	    memcmp(m->hdr.spi_r, zero_spi, 8) != 0 || !ike_msg_has(m, IKE_PL_SA) ||
	    !ike_msg_has(m, IKE_PL_KE) || !ike_msg_has(m, IKE_PL_NONCE) ||
	    ike_msg_has(m, IKE_PL_SK)) {
		e->stats.dropped_malformed++;
		return;
	}
	/* a retransmission of a request we answered: the same answer again */
	if ((sa = ike_sa_lookup_half_open(e, m->hdr.spi_i, src, sport)) != NULL) {
		if (sa->init_req_len == m->rawlen &&
		    memcmp(sa->init_req, m->raw, m->rawlen) == 0) {
			e->stats.responses_resent++;
			ike_msg_xmit(sa, &sa->resp);
		} else
			e->stats.dropped_unexpected++;
		return;
	}
	if (e->half_open >= e->cfg.max_half_open) {
		e->stats.dropped_half_open_cap++;
		return;
	}
	if (m->unknown_critical) {
		uint8_t t = m->unknown_critical;

		e->stats.dropped_malformed++;
		init_refuse(e, m, src, sport, dst, dport, IKE_N_UNSUPPORTED_CRITICAL_PAYLOAD, &t, 1);
		return;
	}
	if (e->half_open >= e->cfg.cookie_threshold) {
		cookie = ike_msg_notify(m, IKE_N_COOKIE);
		if (cookie == NULL || !ike_cookie_check(e, cookie->data, cookie->len,
		    m->nonce.data, m->nonce.len, src, m->hdr.spi_i)) {
			uint8_t ck[IKE_COOKIE_MAX];
			size_t n = ike_cookie_make(e, m->nonce.data, m->nonce.len, src,
			    m->hdr.spi_i, ck);

			if (n > 0) {
				e->stats.cookies_sent++;
				init_refuse(e, m, src, sport, dst, dport, IKE_N_COOKIE, ck, n);
			}
			return;
		}
	}
	if (ike_prop_select_ike(e, &m->sa, m->ke.group, &s) == -1) {
		log_info("ike: IKE_SA_INIT: no acceptable proposal");
		ike_event(e, IKE_EV_NEGOTIATION_FAILED, "?", "no acceptable IKE proposal");
		init_refuse(e, m, src, sport, dst, dport, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return;
	}
	if (m->ke.group != s.dh) {
		uint8_t g[2] = { (uint8_t)(s.dh >> 8), (uint8_t)s.dh };

		e->stats.invalid_ke_sent++;
		init_refuse(e, m, src, sport, dst, dport, IKE_N_INVALID_KE_PAYLOAD, g, 2);
		return;
	}
	sa = ike_sa_new(e, false);
	memcpy(sa->spi_i, m->hdr.spi_i, 8);
	sa->raddr = *src;
	sa->rport = sport;
	sa->laddr = *dst;
	sa->lport = dport;
	sa->suite = s;
	sa->state = IKE_ST_HALF_OPEN;
	memcpy(sa->ni, m->nonce.data, m->nonce.len);
	sa->nilen = m->nonce.len;
	sa->nrlen = IKE_NONCE_LEN;
	ike_random(e, sa->nr, sa->nrlen);
	if ((sa->dh = dh_new(s.dh)) == NULL ||
	    dh_derive(sa->dh, m->ke.data, m->ke.len, gir, sizeof(gir), &girlen) == -1 ||
	    ike_keys_derive(&sa->keys, s.prf, s.encr_bits / 8, 0, NULL, gir, girlen, sa->ni,
	    sa->nilen, sa->nr, sa->nrlen, sa->spi_i, sa->spi_r) == -1 ||
	    dh_public(sa->dh, pub, dh_pub_len(s.dh)) == -1) {
		/* RFC 6989: an invalid public value ends the exchange */
		OPENSSL_cleanse(gir, sizeof(gir));
		e->stats.dropped_malformed++;
		ike_sa_free(sa);
		return;
	}
	OPENSSL_cleanse(gir, sizeof(gir));
	sa->have_keys = true;
	peer_capabilities(sa, m);
	ike_suite_name(&s, sa->suite_name, sizeof(sa->suite_name));
	ike_sa_insert(sa);
	sa->half_open = true;
	e->half_open++;
	sa->deadline_ms = ike_now(e) + IKE_HALF_OPEN_MS;
	sa->msgid_peer = 1;
	sa->init_req = xmalloc(m->rawlen);
	memcpy(sa->init_req, m->raw, m->rawlen);
	sa->init_req_len = m->rawlen;
	log_nat(sa, m, dst, dport);

	ike_chain_init(&c, buf, sizeof(buf));
	answer = xcalloc(1, sizeof(*answer));
	ike_prop_answer(answer, IKE_PROTO_IKE, &s, NULL, 0);
	ike_pld_sa_build(&c, answer);
	free(answer);
	ike_pld_ke_build(&c, s.dh, pub, dh_pub_len(s.dh));
	ike_pld_nonce_build(&c, sa->nr, sa->nrlen);
	add_common_notifies(e, &c, sa->spi_i, sa->spi_r, sa->lport, &sa->raddr, sa->rport);
	if (e->nca > 0)
		ike_pld_cert_build(&c, IKE_PL_CERTREQ, IKE_CERT_X509_SIG, e->ca_hash[0],
		    20 * e->nca);
	add_capabilities(&c);
	memset(&h, 0, sizeof(h));
	memcpy(h.spi_i, sa->spi_i, 8);
	memcpy(h.spi_r, sa->spi_r, 8);
	h.version = IKE_VERSION;
	h.exchange = IKE_X_IKE_SA_INIT;
	h.flags = IKE_FLAG_RESPONSE;
	if (ike_msg_send_plain(e, &h, &c, &sa->laddr, sa->lport, &sa->raddr, sa->rport,
	    &sa->resp, &sa->init_resp, &sa->init_resp_len) == -1) {
		ike_sa_kill(sa, "cannot answer IKE_SA_INIT");
		return;
	}
	log_info("ike sa=%llu: IKE_SA_INIT answered, %s", (unsigned long long)sa->id,
	    sa->suite_name);
}

static void
init_fail(struct ike_sa *sa, const char *why)
{
	log_info("ike sa=%llu peer=%s: IKE_SA_INIT failed: %s", (unsigned long long)sa->id,
	    sa->peer.name, why);
	ike_event(sa->eng, IKE_EV_NEGOTIATION_FAILED, sa->peer.name, "IKE_SA_INIT: %s", why);
	ike_sa_kill(sa, why);
}

void
ike_init_response(struct ike_sa *sa, struct ike_msg *m, const struct ipaddr *src,
    const struct ipaddr *dst)
{
	struct ike_engine *e = sa->eng;
	const struct ike_pl_notify *n;
	struct ike_pl_sa *ours;
	struct ike_suite s;
	uint8_t gir[DH_MAX_SECRET];
	size_t girlen = 0;
	int rc;

	if (sa->state != IKE_ST_INIT_SENT || sa->ctx.kind != REQ_INIT || m->hdr.msgid != 0 ||
	    ike_msg_has(m, IKE_PL_SK) || !ipaddr_eq(src, &sa->raddr)) {
		e->stats.dropped_unexpected++;
		return;
	}
	if ((n = ike_msg_notify(m, IKE_N_COOKIE)) != NULL && !ike_msg_has(m, IKE_PL_SA)) {
		if (n->len < 1 || n->len > IKE_COOKIE_MAX || sa->init_retries >= IKE_INIT_RETRIES) {
			init_fail(sa, "bad or repeated COOKIE");
			return;
		}
		sa->init_retries++;
		memcpy(sa->cookie, n->data, n->len);
		sa->cookie_len = n->len;
		log_debug("ike sa=%llu: retrying with a COOKIE", (unsigned long long)sa->id);
		if (init_send(sa) == -1)
			init_fail(sa, "cannot resend");
		return;
	}
	if ((n = ike_msg_notify(m, IKE_N_INVALID_KE_PAYLOAD)) != NULL) {
		uint16_t group = 0;
		bool ok = false;

		ike_pld_notify_group(n, &group);
		for (size_t i = 0; group && i < nitems(e->cfg.dh_groups) && e->cfg.dh_groups[i]; i++)
			if (e->cfg.dh_groups[i] == group)
				ok = true;
		if (!ok || group == (uint16_t)dh_group(sa->dh) || sa->init_retries >= IKE_INIT_RETRIES) {
			init_fail(sa, "INVALID_KE_PAYLOAD for a group we do not offer");
			return;
		}
		sa->init_retries++;
		dh_free(sa->dh);
		if ((sa->dh = dh_new(group)) == NULL || init_send(sa) == -1) {
			init_fail(sa, "cannot resend");
			return;
		}
		log_info("ike sa=%llu: peer wants DH group %s, retrying",
		    (unsigned long long)sa->id, ike_dh_name((unsigned)group));
		return;
	}
	if ((n = ike_msg_error(m)) != NULL) {
		init_fail(sa, ike_notify_name(n->type));
		return;
	}
	if (!ike_msg_has(m, IKE_PL_SA) || !ike_msg_has(m, IKE_PL_KE) ||
	    !ike_msg_has(m, IKE_PL_NONCE) || memcmp(m->hdr.spi_r, zero_spi, 8) == 0) {
		e->stats.dropped_malformed++;
		return;		/* unauthenticated junk: keep waiting */
	}
	ours = xcalloc(1, sizeof(*ours));
	ike_prop_ike(e, &ours->prop[0], dh_group(sa->dh), NULL, 0);
	rc = ike_prop_check(&m->sa, &ours->prop[0], &s);
	free(ours);
	if (rc == -1 || s.dh != dh_group(sa->dh) || m->ke.group != s.dh) {
		init_fail(sa, "answer does not match our proposal");
		return;
	}
	memcpy(sa->spi_r, m->hdr.spi_r, 8);
	memcpy(sa->nr, m->nonce.data, m->nonce.len);
	sa->nrlen = m->nonce.len;
	sa->suite = s;
	if (dh_derive(sa->dh, m->ke.data, m->ke.len, gir, sizeof(gir), &girlen) == -1 ||
	    ike_keys_derive(&sa->keys, s.prf, s.encr_bits / 8, 0, NULL, gir, girlen, sa->ni,
	    sa->nilen, sa->nr, sa->nrlen, sa->spi_i, sa->spi_r) == -1) {
		OPENSSL_cleanse(gir, sizeof(gir));
		init_fail(sa, "invalid KE or key derivation failed");
		return;
	}
	OPENSSL_cleanse(gir, sizeof(gir));
	sa->have_keys = true;
	sa->laddr = *dst;	/* now we know which of our addresses the peer sees */
	peer_capabilities(sa, m);
	ike_suite_name(&s, sa->suite_name, sizeof(sa->suite_name));
	sa->init_resp = xmalloc(m->rawlen);
	memcpy(sa->init_resp, m->raw, m->rawlen);
	sa->init_resp_len = m->rawlen;
	ike_msg_request_done(sa);
	ike_sa_clear_ctx(sa);
	log_nat(sa, m, &sa->laddr, sa->lport);
	/* §2.23: with NAT-T both ends continue on 4500 */
	if (sa->peer_natt && (sa->lport == IKE_PORT || sa->rport == IKE_PORT)) {
		sa->lport = IKE_NATT_PORT;
		sa->rport = IKE_NATT_PORT;
	} else if (!sa->peer_natt)
		log_warn("ike sa=%llu peer=%s: peer sent no NAT detection; ESP-in-UDP may fail",
		    (unsigned long long)sa->id, sa->peer.name);
	log_info("ike sa=%llu peer=%s: IKE_SA_INIT done, %s", (unsigned long long)sa->id,
	    sa->peer.name, sa->suite_name);
	if (ike_auth_start(sa) == -1)
		init_fail(sa, "cannot build IKE_AUTH");
}
