/*
 * The engine's entry points (ike.h): creation, datagram dispatch, timers,
 * connect/disconnect/rekey, listing and counters. Dispatch checks everything
 * that is cheap (header, SPI, message ID window, state) before any crypto, and
 * only authenticated messages change state (STYLE: authenticate first).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "crypto/hash.h"
#include "crypto/sig.h"
#include "device/ike/ike_local.h"
#include "lib/log.h"
#include "lib/util.h"

uint64_t
ike_now(struct ike_engine *e)
{
	return e->ops.now_ms(e->ops.arg);
}

void
ike_random(struct ike_engine *e, void *buf, size_t n)
{
	e->ops.random(e->ops.arg, buf, n);
}

void
ike_event(struct ike_engine *e, enum ike_event ev, const char *peer, const char *fmt, ...)
{
	char detail[256];
	va_list ap;

	if (e->ops.event == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	e->ops.event(e->ops.arg, ev, peer, detail);
}

const char *
ike_sa_peer_name(const struct ike_sa *sa)
{
	return sa->peer_known ? sa->peer.name : "?";
}

static void
ca_hashes(struct ike_engine *e, STACK_OF(X509) *cas)
{
	for (int i = 0; cas != NULL && i < sk_X509_num(cas) && e->nca < IKE_MAX_CAS; i++) {
		X509_PUBKEY *pk = X509_get_X509_PUBKEY(sk_X509_value(cas, i));
		unsigned char *der = NULL;
		int n = i2d_X509_PUBKEY(pk, &der);

		if (n > 0) {
			struct crypto_iov in = { der, (size_t)n };

			if (hash_sha1(&in, 1, e->ca_hash[e->nca]) == 0)
				e->nca++;
		}
		OPENSSL_free(der);
	}
}

struct ike_engine *
ike_new(const struct ike_config *cfg, const struct ike_ops *ops)
{
	static const int default_groups[] = { 19, 31, 20 };
	struct ike_engine *e;
	unsigned char *der = NULL;
	int n;

	if (cfg->cert == NULL || ops->now_ms == NULL || ops->random == NULL ||
	    ops->send == NULL || ops->sign == NULL || ops->verify_peer == NULL)
		return NULL;
	e = xcalloc(1, sizeof(*e));
	e->cfg = *cfg;
	e->ops = *ops;
	e->cfg.cas = NULL;	/* only their hashes are kept */
	if (e->cfg.dh_groups[0] == 0)
		memcpy(e->cfg.dh_groups, default_groups, sizeof(default_groups));
	for (size_t i = 0; i < nitems(e->cfg.dh_groups) && e->cfg.dh_groups[i]; i++)
		if (!dh_supported(e->cfg.dh_groups[i])) {
			log_error("ike: DH group %d not supported", e->cfg.dh_groups[i]);
			free(e);
			return NULL;
		}
	if (e->cfg.ike_rekey_s == 0)
		e->cfg.ike_rekey_s = 4 * 3600;
	if (e->cfg.child_rekey_s == 0)
		e->cfg.child_rekey_s = 3600;
	if (e->cfg.retransmit_base_ms == 0)
		e->cfg.retransmit_base_ms = 1000;
	if (e->cfg.retransmit_tries == 0)
		e->cfg.retransmit_tries = 5;
	if (e->cfg.fragment_mtu == 0)
		e->cfg.fragment_mtu = 1280;
	if (e->cfg.cookie_threshold == 0)
		e->cfg.cookie_threshold = 64;
	if (e->cfg.max_half_open == 0)
		e->cfg.max_half_open = 1024;
	if ((n = i2d_X509(cfg->cert, &der)) <= 0 ||
	    (e->pubkey = X509_get_pubkey(cfg->cert)) == NULL ||
	    sig_choose_md(e->pubkey, 0) == NID_undef) {
		/* RFC 7427 signatures here are ECDSA or RSA-PSS only */
		log_error("ike: certificate unusable (not an EC or RSA key)");
		EVP_PKEY_free(e->pubkey);
		OPENSSL_free(der);
		free(e);
		return NULL;
	}
	e->cert_der = xmalloc((size_t)n);
	memcpy(e->cert_der, der, (size_t)n);
	e->cert_der_len = (size_t)n;
	OPENSSL_free(der);
	X509_up_ref(cfg->cert);
	ca_hashes(e, cfg->cas);
	ike_random(e, e->natd_fake, sizeof(e->natd_fake));
	ike_cookie_rotate(e, ike_now(e));
	return e;
}

int
ike_set_cert(struct ike_engine *e, X509 *cert)
{
	unsigned char *der = NULL;
	EVP_PKEY *pub;
	int n;

	if ((n = i2d_X509(cert, &der)) <= 0 || (pub = X509_get_pubkey(cert)) == NULL) {
		OPENSSL_free(der);
		return -1;
	}
	if (sig_choose_md(pub, 0) == NID_undef) {
		EVP_PKEY_free(pub);
		OPENSSL_free(der);
		return -1;
	}
	X509_up_ref(cert);
	X509_free(e->cfg.cert);
	e->cfg.cert = cert;
	EVP_PKEY_free(e->pubkey);
	e->pubkey = pub;
	free(e->cert_der);
	e->cert_der = xmalloc((size_t)n);
	memcpy(e->cert_der, der, (size_t)n);
	e->cert_der_len = (size_t)n;
	OPENSSL_free(der);
	return 0;
}

int
ike_set_policy(struct ike_engine *e, const struct ike_policy *pol)
{
	size_t i;

	if (pol->dh_groups[0] == 0)
		return -1;
	for (i = 0; i < nitems(pol->dh_groups) && pol->dh_groups[i]; i++)
		if (!dh_supported(pol->dh_groups[i]))
			return -1;
	memcpy(e->cfg.dh_groups, pol->dh_groups, sizeof(e->cfg.dh_groups));
	e->cfg.esn = pol->esn;
	e->cfg.child_pfs = pol->child_pfs;
	if (pol->ike_rekey_s != 0)
		e->cfg.ike_rekey_s = pol->ike_rekey_s;
	if (pol->child_rekey_s != 0)
		e->cfg.child_rekey_s = pol->child_rekey_s;
	return 0;
}

void
ike_free(struct ike_engine *e)
{
	if (e == NULL)
		return;
	while (e->sas != NULL) {
		struct ike_sa *sa = e->sas;

		e->sas = sa->next;
		ike_sa_free(sa);
	}
	X509_free(e->cfg.cert);
	EVP_PKEY_free(e->pubkey);
	free(e->cert_der);
	OPENSSL_cleanse(e, sizeof(*e));
	free(e);
}

void
ike_respond_notify(struct ike_sa *sa, const struct ike_msg *m, uint16_t type,
    const uint8_t *data, size_t len)
{
	uint8_t buf[512];
	struct ike_chain c;

	ike_chain_init(&c, buf, sizeof(buf));
	ike_pld_notify_build(&c, 0, NULL, 0, type, data, len);
	ike_msg_send_response(sa, m->hdr.exchange, m->hdr.msgid, &c);
}

/* is this (authenticated-to-be) message one the SA can take in its state? */
static bool
acceptable(const struct ike_sa *sa, const struct ike_msg *m, bool response)
{
	if (!response) {
		switch (m->hdr.exchange) {
		case IKE_X_IKE_AUTH:
			return sa->state == IKE_ST_HALF_OPEN;
		case IKE_X_CREATE_CHILD_SA:
		case IKE_X_INFORMATIONAL:
			return sa->state == IKE_ST_ESTABLISHED || sa->state == IKE_ST_REKEYED ||
			    sa->state == IKE_ST_DELETING;
		default:
			return false;
		}
	}
	switch (m->hdr.exchange) {
	case IKE_X_IKE_AUTH:
		return sa->ctx.kind == REQ_AUTH;
	case IKE_X_CREATE_CHILD_SA:
		return sa->ctx.kind == REQ_CHILD || sa->ctx.kind == REQ_REKEY_IKE;
	case IKE_X_INFORMATIONAL:
		return sa->ctx.kind == REQ_DELETE_CHILD || sa->ctx.kind == REQ_DELETE_IKE ||
		    sa->ctx.kind == REQ_LIVENESS || sa->ctx.kind == REQ_NOTIFY;
	default:
		return false;
	}
}

static void
input_protected(struct ike_engine *e, struct ike_msg *m, const struct ipaddr *src,
    uint16_t sport, const struct ipaddr *dst, uint16_t dport)
{
	bool response = m->hdr.flags & IKE_FLAG_RESPONSE;
	bool from_init = m->hdr.flags & IKE_FLAG_INITIATOR;
	struct ike_sa *sa;
	uint8_t *plain = NULL;
	size_t plainlen = 0;
	int rc;

	sa = ike_sa_lookup(e, from_init ? m->hdr.spi_r : m->hdr.spi_i, !from_init);
	if (sa == NULL || memcmp(from_init ? sa->spi_i : sa->spi_r,
	    from_init ? m->hdr.spi_i : m->hdr.spi_r, 8) != 0) {
		e->stats.dropped_unknown_spi++;
		return;
	}
	if (!sa->have_keys || !ike_msg_has(m, IKE_PL_SK)) {
		e->stats.dropped_unexpected++;
		return;
	}
	if (!response) {
		if (m->hdr.msgid != sa->msgid_peer) {
			if (sa->resp_valid && m->hdr.msgid == sa->resp.msgid) {
				/* a retransmitted request: answer from the cache once its
				 * ICV checks (RFC 7383 §2.6.1: only on fragment 1) */
				if (m->sk.frag && m->sk.frag_num != 1)
					e->stats.dropped_fragment++;
				else if (!ike_msg_authentic(sa, m))
					e->stats.dropped_bad_icv++;
				else {
					e->stats.responses_resent++;
					ike_msg_xmit(sa, &sa->resp);
				}
			} else
				e->stats.dropped_msgid++;
			return;
		}
	} else if (!sa->req.active || m->hdr.msgid != sa->req.msgid) {
		e->stats.dropped_msgid++;
		return;
	}
	if (!acceptable(sa, m, response)) {
		e->stats.dropped_unexpected++;
		return;
	}
	rc = ike_msg_decrypt(sa, m, &plain, &plainlen);
	switch (rc) {
	case 0:
		return;		/* a fragment; more to come */
	case -1:
		e->stats.dropped_bad_icv++;
		return;
	case -3:
		e->stats.dropped_fragment++;
		return;
	case -2:
		e->stats.dropped_malformed++;
		log_info("ike sa=%llu: malformed %s %s: %s", (unsigned long long)sa->id,
		    ike_exchange_name(m->hdr.exchange), response ? "response" : "request",
		    m->err ? m->err : "bad encrypted payload");
		if (!response) {
			/* authenticated but broken: §2.21.1 says INVALID_SYNTAX */
			sa->msgid_peer++;
			ike_respond_notify(sa, m, IKE_N_INVALID_SYNTAX, NULL, 0);
			if (m->hdr.exchange == IKE_X_IKE_AUTH)
				ike_sa_kill(sa, "malformed IKE_AUTH");
		} else if (sa->ctx.kind == REQ_AUTH)
			ike_sa_kill(sa, "malformed IKE_AUTH response");
		return;
	default:
		break;
	}
	/* authentic from here on */
	sa->last_rx_ms = ike_now(e);
	sa->raddr = *src;		/* RFC 7296 §2.23: follow the peer behind NAT */
	sa->rport = sport;
	sa->laddr = *dst;
	sa->lport = dport;
	if (!response) {
		sa->msgid_peer++;
		if (m->unknown_critical) {
			uint8_t t = m->unknown_critical;

			e->stats.dropped_malformed++;
			ike_respond_notify(sa, m, IKE_N_UNSUPPORTED_CRITICAL_PAYLOAD, &t, 1);
			if (m->hdr.exchange == IKE_X_IKE_AUTH)
				ike_sa_kill(sa, "unsupported critical payload");
		} else if (m->hdr.exchange == IKE_X_IKE_AUTH)
			ike_auth_request(sa, m);
		else if (m->hdr.exchange == IKE_X_CREATE_CHILD_SA)
			ike_child_request(sa, m);
		else
			ike_info_request(sa, m);
	} else {
		ike_msg_request_done(sa);
		if (m->unknown_critical) {
			e->stats.dropped_malformed++;
			if (sa->ctx.kind == REQ_AUTH)
				ike_sa_kill(sa, "unsupported critical payload in answer");
			ike_sa_clear_ctx(sa);
		} else if (m->hdr.exchange == IKE_X_IKE_AUTH)
			ike_auth_response(sa, m);
		else if (m->hdr.exchange == IKE_X_CREATE_CHILD_SA)
			ike_child_response(sa, m);
		else
			ike_info_response(sa, m);
		ike_sa_kick(sa);
	}
	OPENSSL_cleanse(plain, plainlen);
	free(plain);
}

void
ike_input(struct ike_engine *e, const struct ipaddr *src, uint16_t sport,
    const struct ipaddr *dst, uint16_t dport, const uint8_t *msg, size_t len)
{
	struct ike_msg *m = xcalloc(1, sizeof(*m));
	bool response;

	e->stats.rx++;
	if (ike_msg_parse(m, msg, len) == -1) {
		e->stats.dropped_malformed++;
		log_debug("ike: dropped malformed message: %s", m->err ? m->err : "?");
		goto out;
	}
	response = m->hdr.flags & IKE_FLAG_RESPONSE;
	switch (m->hdr.exchange) {
	case IKE_X_IKE_SA_INIT:
		if (!response) {
			ike_init_request(e, m, src, sport, dst, dport);
		} else {
			struct ike_sa *sa = ike_sa_lookup(e, m->hdr.spi_i, true);

			if (sa == NULL || (m->hdr.flags & IKE_FLAG_INITIATOR))
				e->stats.dropped_unknown_spi++;
			else
				ike_init_response(sa, m, src, dst);
		}
		break;
	case IKE_X_IKE_AUTH:
	case IKE_X_CREATE_CHILD_SA:
	case IKE_X_INFORMATIONAL:
		input_protected(e, m, src, sport, dst, dport);
		break;
	default:
		e->stats.dropped_unexpected++;
		break;
	}
out:
	free(m);
	ike_sa_reap(e);
}

int
ike_connect(struct ike_engine *e, const struct ike_peer *peer)
{
	struct ike_sa *sa;

	if (peer->nlocal_ts == 0 || peer->nremote_ts == 0 || peer->id[0] == '\0' ||
	    (peer->addr.af != AF_INET && peer->addr.af != AF_INET6))
		return -1;
	for (sa = e->sas; sa != NULL; sa = sa->next)
		if (sa->peer_known && strcmp(sa->peer.name, peer->name) == 0 &&
		    (sa->state == IKE_ST_INIT_SENT || sa->state == IKE_ST_AUTH_SENT ||
		    sa->state == IKE_ST_ESTABLISHED))
			return 0;
	sa = ike_sa_new(e, true);
	sa->peer = *peer;
	sa->peer_known = true;
	sa->raddr = peer->addr;
	sa->rport = peer->port ? peer->port : IKE_NATT_PORT;
	/* RFC 7296 §2.23: start on 500 and float to 4500, or start on 4500 */
	sa->lport = sa->rport == IKE_PORT ? IKE_PORT : IKE_NATT_PORT;
	ike_sa_insert(sa);
	if (ike_init_start(sa) == -1) {
		ike_sa_kill(sa, "cannot start IKE_SA_INIT");
		ike_sa_reap(e);
		return -1;
	}
	log_info("ike sa=%llu peer=%s: initiating", (unsigned long long)sa->id, peer->name);
	return 0;
}

int
ike_disconnect(struct ike_engine *e, const char *peer, const char *reason)
{
	bool found = false;

	for (struct ike_sa *sa = e->sas; sa != NULL; sa = sa->next) {
		if (!sa->peer_known || strcmp(sa->peer.name, peer) != 0 ||
		    sa->state == IKE_ST_DEAD)
			continue;
		found = true;
		switch (sa->state) {
		case IKE_ST_ESTABLISHED:
		case IKE_ST_REKEYED:
			while (sa->children != NULL)
				ike_child_remove(sa, sa->children, reason);
			sa->pending |= PEND_DELETE_IKE;
			sa->state = IKE_ST_DELETING;
			ike_sa_kick(sa);
			break;
		case IKE_ST_DELETING:
			break;
		default:
			ike_sa_kill(sa, reason);
			break;
		}
	}
	ike_sa_reap(e);
	return found ? 0 : -1;
}

int
ike_rekey(struct ike_engine *e, const char *peer, bool ike_sa)
{
	bool found = false;

	for (struct ike_sa *sa = e->sas; sa != NULL; sa = sa->next) {
		if (!sa->peer_known || strcmp(sa->peer.name, peer) != 0 ||
		    sa->state != IKE_ST_ESTABLISHED)
			continue;
		found = true;
		if (ike_sa)
			sa->pending |= PEND_REKEY_IKE;
		else
			for (struct ike_child *c = sa->children; c != NULL; c = c->next)
				if (c->state == CHILD_INSTALLED)
					c->pend_rekey = true;
		ike_sa_kick(sa);
	}
	ike_sa_reap(e);
	return found ? 0 : -1;
}

static uint64_t
sooner(uint64_t a, uint64_t b)
{
	return b != 0 && b < a ? b : a;
}

/* the next deadline among those still ahead: a past one must not make the
 * caller spin while the work it stands for waits for the window */
static uint64_t
ahead(uint64_t next, uint64_t t, uint64_t now)
{
	return t > now ? sooner(next, t) : next;
}

/* timers of one SA; returns its next deadline (UINT64_MAX if none) */
static uint64_t
sa_tick(struct ike_sa *sa, uint64_t now)
{
	struct ike_engine *e = sa->eng;
	uint64_t next = UINT64_MAX;

	if (sa->req.active) {
		if (now >= sa->req.next_ms) {
			if (sa->req.tries >= e->cfg.retransmit_tries) {
				if (sa->ctx.kind == REQ_NOTIFY || sa->ctx.kind == REQ_DELETE_IKE)
					ike_sa_kill(sa, "deleted");
				else {
					ike_event(e, IKE_EV_NEGOTIATION_FAILED, ike_sa_peer_name(sa),
					    "peer not answering");
					ike_sa_kill(sa, "peer not answering");
				}
				return next;
			}
			sa->req.tries++;
			e->stats.retransmits++;
			sa->req.next_ms = now + ((uint64_t)e->cfg.retransmit_base_ms <<
			    MIN(sa->req.tries, 16u));
			log_debug("ike sa=%llu: retransmit %u of request %u",
			    (unsigned long long)sa->id, sa->req.tries, sa->req.msgid);
			ike_msg_xmit(sa, &sa->req);
		}
		next = ahead(next, sa->req.next_ms, now);
	}
	for (int i = 0; i < 2; i++) {
		if (sa->reass[i].active && now > sa->reass[i].deadline_ms)
			ike_frag_clear(&sa->reass[i]);
		if (sa->reass[i].active)
			next = ahead(next, sa->reass[i].deadline_ms, now);
	}
	switch (sa->state) {
	case IKE_ST_HALF_OPEN:
	case IKE_ST_REKEYED:
		if (sa->deadline_ms && now >= sa->deadline_ms) {
			ike_sa_kill(sa, sa->state == IKE_ST_HALF_OPEN ? "half-open timeout" :
			    "replaced");
			return UINT64_MAX;
		}
		next = ahead(next, sa->deadline_ms, now);
		break;
	case IKE_ST_ESTABLISHED:
		if (now >= sa->expire_ms) {
			log_info("ike sa=%llu: hard lifetime reached", (unsigned long long)sa->id);
			while (sa->children != NULL)
				ike_child_remove(sa, sa->children, "IKE SA expired");
			sa->pending |= PEND_DELETE_IKE;
			sa->state = IKE_ST_DELETING;
			break;
		}
		if (now >= sa->rekey_ms) {
			sa->pending |= PEND_REKEY_IKE;
			sa->rekey_ms = now + IKE_RETRY_LATER_MS;
		}
		next = ahead(next, sa->rekey_ms, now);
		next = ahead(next, sa->expire_ms, now);
		if (e->cfg.liveness_s) {
			uint64_t due = sa->last_rx_ms + (uint64_t)e->cfg.liveness_s * 1000;

			if (now >= due) {
				if (!sa->req.active) {
					sa->pending |= PEND_LIVENESS;
					sa->last_rx_ms = now;	/* one probe per period */
				}
				due = now + (uint64_t)e->cfg.liveness_s * 1000;
			}
			next = ahead(next, due, now);
		}
		for (struct ike_child *c = sa->children, *cn; c != NULL; c = cn) {
			cn = c->next;
			if (c->state == CHILD_REKEYED && c->remove_ms && now >= c->remove_ms) {
				ike_child_remove(sa, c, "replaced");
				continue;
			}
			if (now >= c->expire_ms && c->state != CHILD_DELETING) {
				c->state = CHILD_DELETING;
				c->pend_delete = true;
				continue;
			}
			if (now >= c->rekey_ms && c->state == CHILD_INSTALLED) {
				c->pend_rekey = true;
				c->rekey_ms = now + IKE_RETRY_LATER_MS;
			}
			if (c->state == CHILD_INSTALLED)
				next = ahead(next, c->rekey_ms, now);
			next = ahead(next, c->expire_ms, now);
			if (c->remove_ms)
				next = ahead(next, c->remove_ms, now);
		}
		break;
	default:
		break;
	}
	ike_sa_kick(sa);
	if (sa->req.active)
		next = ahead(next, sa->req.next_ms, now);
	return next;
}

uint64_t
ike_tick(struct ike_engine *e)
{
	uint64_t now = ike_now(e), next = now + IKE_COOKIE_ROTATE_MS;

	ike_cookie_rotate(e, now);
	next = sooner(next, e->cookie_rotated_ms + IKE_COOKIE_ROTATE_MS);
	for (struct ike_sa *sa = e->sas; sa != NULL; sa = sa->next)
		if (sa->state != IKE_ST_DEAD)
			next = sooner(next, sa_tick(sa, now));
	ike_sa_reap(e);
	return next > now ? next - now : 0;
}

static const char *
state_name(enum ike_sa_state s)
{
	switch (s) {
	case IKE_ST_INIT_SENT:
	case IKE_ST_AUTH_SENT:
	case IKE_ST_HALF_OPEN:
		return "connecting";
	case IKE_ST_ESTABLISHED:
		return "established";
	default:
		return "deleting";	/* also a replaced SA waiting for its delete */
	}
}

size_t
ike_list(struct ike_engine *e, struct ike_sa_info *out, size_t max)
{
	size_t n = 0;

	for (struct ike_sa *sa = e->sas; sa != NULL && n < max; sa = sa->next) {
		struct ike_sa_info *i = &out[n++];

		memset(i, 0, sizeof(*i));
		xsnprintf(i->peer, sizeof(i->peer), "%s", ike_sa_peer_name(sa));
		i->id = sa->id;
		memcpy(i->spi_i, sa->spi_i, 8);
		memcpy(i->spi_r, sa->spi_r, 8);
		i->initiator = sa->initiator;
		i->state = state_name(sa->state);
		i->established_ms = sa->established_ms;
		xsnprintf(i->suite, sizeof(i->suite), "%s", sa->suite_name);
		for (struct ike_child *c = sa->children; c != NULL; c = c->next)
			i->nchild++;
	}
	return n;
}

void
ike_get_stats(struct ike_engine *e, struct ike_stats *st)
{
	*st = e->stats;
}
