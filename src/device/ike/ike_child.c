/*
 * CREATE_CHILD_SA (RFC 7296 §1.3): CHILD SA creation and rekey (§1.3.3), IKE SA
 * rekey (§1.3.2, §2.18), both roles, and simultaneous rekeys (§2.8.1, §2.8.2):
 * the SA made by the exchange with the lowest of the four nonces is redundant
 * and deleted by whoever initiated that exchange; the other side's initiator
 * deletes the replaced SA.
 *
 *   HDR, SK { N(REKEY_SA), SA, Ni, [KEi], TSi, TSr }  -->   (CHILD rekey)
 *                                 <--  HDR, SK { SA, Nr, [KEr], TSi, TSr }
 *   HDR, SK { SA, Ni, KEi }  -->                           (IKE rekey)
 *                                 <--  HDR, SK { SA, Nr, KEr }
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "device/ike/ike_local.h"
#include "lib/log.h"
#include "lib/util.h"

/* octet-by-octet; a prefix is the lower (§2.8.1) */
static int
nonce_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = MIN(alen, blen);
	int c = memcmp(a, b, n);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static void
nonce_min(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t *out,
    size_t *outlen)
{
	if (nonce_cmp(a, alen, b, blen) <= 0) {
		memcpy(out, a, alen);
		*outlen = alen;
	} else {
		memcpy(out, b, blen);
		*outlen = blen;
	}
}

int
ike_child_make(struct ike_sa *sa, struct ike_child *c, bool we_initiated,
    const uint8_t *gir, size_t girlen, const uint8_t *ni, size_t nilen, const uint8_t *nr,
    size_t nrlen)
{
	uint8_t i2r[CHILD_SA_KEYLEN], r2i[CHILD_SA_KEYLEN];

	if (ike_keys_child(&sa->keys, gir, girlen, ni, nilen, nr, nrlen, i2r, r2i) == -1)
		return -1;
	memcpy(we_initiated ? c->key_out : c->key_in, i2r, CHILD_SA_KEYLEN);
	memcpy(we_initiated ? c->key_in : c->key_out, r2i, CHILD_SA_KEYLEN);
	OPENSSL_cleanse(i2r, sizeof(i2r));
	OPENSSL_cleanse(r2i, sizeof(r2i));
	c->state = CHILD_INSTALLED;
	ike_child_schedule(sa, c);
	ike_child_insert(sa, c);
	return 0;
}

static void
spi_bytes(uint32_t spi, uint8_t out[4])
{
	store_be32(out, spi);
}

/* (re)send the CHILD request described by sa->ctx */
static int
child_send(struct ike_sa *sa)
{
	struct ike_engine *e = sa->eng;
	struct ike_req_ctx *x = &sa->ctx;
	struct ike_child *old = x->old_spi ? ike_child_by_in(sa, x->old_spi) : NULL;
	uint8_t *buf = xmalloc(IKE_BUILD_MAX), spi[4], pub[DH_MAX_PUB];
	struct ike_pl_sa *prop = xcalloc(1, sizeof(*prop));
	struct ike_pl_ts *ts = xcalloc(1, sizeof(*ts));
	struct ike_chain c;
	int rc = -1;

	ike_chain_init(&c, buf, IKE_BUILD_MAX);
	if (old != NULL) {
		spi_bytes(old->spi_in, spi);
		ike_pld_notify_build(&c, IKE_PROTO_ESP, spi, 4, IKE_N_REKEY_SA, NULL, 0);
	}
	prop->nprop = 1;
	ike_prop_esp(e, &prop->prop[0], x->child->spi_in, x->dh ? dh_group(x->dh) : 0);
	ike_pld_sa_build(&c, prop);
	ike_pld_nonce_build(&c, x->nonce, sizeof(x->nonce));
	if (x->dh != NULL) {
		size_t n = dh_pub_len(dh_group(x->dh));

		if (dh_public(x->dh, pub, n) == -1)
			goto out;
		ike_pld_ke_build(&c, (uint16_t)dh_group(x->dh), pub, n);
	}
	if (old != NULL)
		ike_ts_from_prefixes(old->lts, old->nlts, ts);
	else
		ike_ts_from_prefixes(sa->peer.local_ts, sa->peer.nlocal_ts, ts);
	ike_pld_ts_build(&c, IKE_PL_TSi, ts);
	if (old != NULL)
		ike_ts_from_prefixes(old->rts, old->nrts, ts);
	else
		ike_ts_from_prefixes(sa->peer.remote_ts, sa->peer.nremote_ts, ts);
	ike_pld_ts_build(&c, IKE_PL_TSr, ts);
	rc = ike_msg_send_request(sa, IKE_X_CREATE_CHILD_SA, &c);
out:
	free(ts);
	free(prop);
	free(buf);
	return rc;
}

int
ike_child_rekey_start(struct ike_sa *sa, struct ike_child *old)
{
	struct ike_engine *e = sa->eng;
	struct ike_req_ctx *x = &sa->ctx;

	if (sa->req.active) {
		old->pend_rekey = true;
		return 0;
	}
	ike_sa_clear_ctx(sa);
	x->kind = REQ_CHILD;
	x->old_spi = old->spi_in;
	x->child = ike_child_new();
	x->child->spi_in = ike_child_alloc_spi(e);
	ike_random(e, x->nonce, sizeof(x->nonce));
	if (e->cfg.child_pfs && (x->dh = dh_new(sa->suite.dh)) == NULL) {
		ike_sa_clear_ctx(sa);
		return -1;
	}
	old->state = CHILD_REKEYING;
	log_info("ike sa=%llu peer=%s: rekeying CHILD SA %08x_i", (unsigned long long)sa->id,
	    sa->peer.name, old->spi_in);
	if (child_send(sa) == -1) {
		old->state = CHILD_INSTALLED;
		ike_sa_clear_ctx(sa);
		return -1;
	}
	return 0;
}

static int
ike_rekey_send(struct ike_sa *sa)
{
	struct ike_engine *e = sa->eng;
	struct ike_sa *nsa = sa->ctx.new_sa;
	uint8_t buf[2048], pub[DH_MAX_PUB];
	struct ike_pl_sa *prop = xcalloc(1, sizeof(*prop));
	size_t n = dh_pub_len(dh_group(nsa->dh));
	struct ike_chain c;

	ike_chain_init(&c, buf, sizeof(buf));
	prop->nprop = 1;
	ike_prop_ike(e, &prop->prop[0], dh_group(nsa->dh), nsa->spi_i, 8);
	ike_pld_sa_build(&c, prop);
	free(prop);
	ike_pld_nonce_build(&c, nsa->ni, nsa->nilen);
	if (dh_public(nsa->dh, pub, n) == -1)
		return -1;
	ike_pld_ke_build(&c, (uint16_t)dh_group(nsa->dh), pub, n);
	return ike_msg_send_request(sa, IKE_X_CREATE_CHILD_SA, &c);
}

/*
 * The IKE SA that replaces sa in an IKE rekey (RFC 7296 §2.18): same peer, same
 * addresses and ports, and what the peer told us it supports (fragmentation,
 * signature hashes, NAT-T) carries over; keys and SPIs are its own.
 */
static struct ike_sa *
rekey_sa_new(struct ike_engine *e, const struct ike_sa *sa, bool initiator)
{
	struct ike_sa *nsa = ike_sa_new(e, initiator);

	nsa->peer = sa->peer;
	nsa->peer_known = true;
	nsa->laddr = sa->laddr;
	nsa->raddr = sa->raddr;
	nsa->lport = sa->lport;
	nsa->rport = sa->rport;
	nsa->peer_frag = sa->peer_frag;
	nsa->peer_hashes = sa->peer_hashes;
	nsa->peer_natt = sa->peer_natt;
	return nsa;
}

int
ike_child_ike_rekey_start(struct ike_sa *sa)
{
	struct ike_engine *e = sa->eng;
	struct ike_sa *nsa;

	if (sa->req.active) {
		sa->pending |= PEND_REKEY_IKE;
		return 0;
	}
	ike_sa_clear_ctx(sa);
	nsa = rekey_sa_new(e, sa, true);
	nsa->nilen = IKE_NONCE_LEN;
	ike_random(e, nsa->ni, nsa->nilen);
	sa->ctx.kind = REQ_REKEY_IKE;
	sa->ctx.new_sa = nsa;
	if ((nsa->dh = dh_new(sa->suite.dh)) == NULL || ike_rekey_send(sa) == -1) {
		ike_sa_clear_ctx(sa);
		return -1;
	}
	log_info("ike sa=%llu peer=%s: rekeying IKE SA", (unsigned long long)sa->id,
	    sa->peer.name);
	return 0;
}

/* the new IKE SA of a rekey takes the old one's place (§2.18) */
static void
ike_rekey_finish(struct ike_sa *nsa, const struct ike_sa *old)
{
	struct ike_engine *e = nsa->eng;

	nsa->have_keys = true;
	nsa->state = IKE_ST_ESTABLISHED;
	nsa->was_up = true;
	nsa->established_ms = ike_now(e);
	nsa->msgid_next = 0;
	nsa->msgid_peer = 0;
	ike_suite_name(&nsa->suite, nsa->suite_name, sizeof(nsa->suite_name));
	ike_sa_schedule(nsa);
	dh_free(nsa->dh);
	nsa->dh = NULL;
	ike_sa_insert(nsa);
	e->stats.rekeys++;
	log_info("ike sa=%llu peer=%s: IKE SA rekeyed into sa=%llu",
	    (unsigned long long)old->id, nsa->peer.name, (unsigned long long)nsa->id);
	ike_event(e, IKE_EV_REKEYED, nsa->peer.name, "IKE SA %llu -> %llu",
	    (unsigned long long)old->id, (unsigned long long)nsa->id);
}

static void
retire(struct ike_sa *old, bool we_delete)
{
	old->quiet = true;
	if (we_delete) {
		old->state = IKE_ST_DELETING;
		old->pending |= PEND_DELETE_IKE;
	} else {
		old->state = IKE_ST_REKEYED;
		old->deadline_ms = ike_now(old->eng) + IKE_REKEYED_GRACE_MS;
	}
}

static void
ike_rekey_request(struct ike_sa *sa, struct ike_msg *m)
{
	struct ike_engine *e = sa->eng;
	struct ike_pl_sa *answer;
	struct ike_suite s;
	struct ike_sa *nsa;
	uint8_t gir[DH_MAX_SECRET], pub[DH_MAX_PUB], buf[2048];
	size_t girlen = 0;
	struct ike_chain c;

	if (!ike_msg_has(m, IKE_PL_KE)) {
		ike_respond_notify(sa, m, IKE_N_INVALID_SYNTAX, NULL, 0);
		return;
	}
	if (sa->ctx.kind == REQ_CHILD) {
		/* a CHILD exchange of ours is open on this SA: later (§2.25) */
		ike_respond_notify(sa, m, IKE_N_TEMPORARY_FAILURE, NULL, 0);
		return;
	}
	if (ike_prop_select_ike(e, &m->sa, m->ke.group, &s) == -1 || s.spi_size != 8) {
		ike_respond_notify(sa, m, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return;
	}
	if (s.dh != m->ke.group) {
		uint8_t g[2] = { (uint8_t)(s.dh >> 8), (uint8_t)s.dh };

		e->stats.invalid_ke_sent++;
		ike_respond_notify(sa, m, IKE_N_INVALID_KE_PAYLOAD, g, 2);
		return;
	}
	nsa = rekey_sa_new(e, sa, false);
	memcpy(nsa->spi_i, s.spi, 8);
	nsa->suite = s;
	memcpy(nsa->ni, m->nonce.data, m->nonce.len);
	nsa->nilen = m->nonce.len;
	nsa->nrlen = IKE_NONCE_LEN;
	ike_random(e, nsa->nr, nsa->nrlen);
	if ((nsa->dh = dh_new(s.dh)) == NULL ||
	    dh_derive(nsa->dh, m->ke.data, m->ke.len, gir, sizeof(gir), &girlen) == -1 ||
	    dh_public(nsa->dh, pub, dh_pub_len(s.dh)) == -1 ||
	    ike_keys_derive(&nsa->keys, s.prf, s.encr_bits / 8, sa->keys.prf, sa->keys.sk_d,
	    gir, girlen, nsa->ni, nsa->nilen, nsa->nr, nsa->nrlen, nsa->spi_i, nsa->spi_r) == -1) {
		OPENSSL_cleanse(gir, sizeof(gir));
		ike_sa_free(nsa);
		ike_respond_notify(sa, m, IKE_N_INVALID_SYNTAX, NULL, 0);
		return;
	}
	OPENSSL_cleanse(gir, sizeof(gir));
	ike_chain_init(&c, buf, sizeof(buf));
	answer = xcalloc(1, sizeof(*answer));
	ike_prop_answer(answer, IKE_PROTO_IKE, &s, nsa->spi_r, 8);
	ike_pld_sa_build(&c, answer);
	free(answer);
	ike_pld_nonce_build(&c, nsa->nr, nsa->nrlen);
	ike_pld_ke_build(&c, s.dh, pub, dh_pub_len(s.dh));
	if (ike_msg_send_response(sa, IKE_X_CREATE_CHILD_SA, m->hdr.msgid, &c) == -1) {
		ike_sa_free(nsa);
		return;
	}
	ike_rekey_finish(nsa, sa);
	if (sa->ctx.kind == REQ_REKEY_IKE) {
		/* both ends rekey: decide when our own answer comes (§2.8.2) */
		sa->ctx.collision = true;
		nonce_min(nsa->ni, nsa->nilen, nsa->nr, nsa->nrlen, sa->ctx.coll_nonce,
		    &sa->ctx.coll_nonce_len);
		sa->ctx.coll_sa_id = nsa->id;
		return;
	}
	ike_sa_adopt_children(nsa, sa);
	retire(sa, false);
}

static void
child_request(struct ike_sa *sa, struct ike_msg *m)
{
	struct ike_engine *e = sa->eng;
	const struct ike_pl_notify *rn = ike_msg_notify(m, IKE_N_REKEY_SA);
	struct ike_child *old = NULL, *child;
	struct ike_pl_sa *answer;
	struct ike_pl_ts *ts;
	struct ike_suite s;
	struct prefix lts[CHILD_SA_MAX_TS], rts[CHILD_SA_MAX_TS];
	size_t nlts = 0, nrts = 0, girlen = 0;
	uint8_t gir[DH_MAX_SECRET], pub[DH_MAX_PUB], *buf, spi[4];
	struct dh *dh = NULL;
	struct ike_chain c;
	uint8_t nr[IKE_NONCE_LEN];

	if (rn != NULL) {
		if (rn->proto != IKE_PROTO_ESP || rn->spi_size != 4) {
			ike_respond_notify(sa, m, IKE_N_INVALID_SYNTAX, NULL, 0);
			return;
		}
		old = ike_child_by_out(sa, load_be32(rn->spi));
		if (old == NULL || old->state == CHILD_REKEYED || old->state == CHILD_DELETING) {
			/* §2.25: already gone or replaced (also §2.8.1, second case) */
			ike_respond_notify(sa, m, IKE_N_CHILD_SA_NOT_FOUND, NULL, 0);
			return;
		}
	}
	if (!ike_msg_has(m, IKE_PL_TSi) || !ike_msg_has(m, IKE_PL_TSr)) {
		ike_respond_notify(sa, m, IKE_N_INVALID_SYNTAX, NULL, 0);
		return;
	}
	if (ike_prop_select_esp(e, &m->sa, true, ike_msg_has(m, IKE_PL_KE) ? m->ke.group : 0,
	    &s) == -1) {
		ike_respond_notify(sa, m, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return;
	}
	if (s.dh != 0 && (!ike_msg_has(m, IKE_PL_KE) || m->ke.group != s.dh)) {
		uint8_t g[2] = { (uint8_t)(s.dh >> 8), (uint8_t)s.dh };

		e->stats.invalid_ke_sent++;
		ike_respond_notify(sa, m, IKE_N_INVALID_KE_PAYLOAD, g, 2);
		return;
	}
	if (ike_ts_narrow(&m->tsi, sa->peer.remote_ts, sa->peer.nremote_ts, rts, &nrts) == -1 ||
	    ike_ts_narrow(&m->tsr, sa->peer.local_ts, sa->peer.nlocal_ts, lts, &nlts) == -1) {
		ike_respond_notify(sa, m, IKE_N_TS_UNACCEPTABLE, NULL, 0);
		return;
	}
	if (s.dh != 0 && ((dh = dh_new(s.dh)) == NULL ||
	    dh_derive(dh, m->ke.data, m->ke.len, gir, sizeof(gir), &girlen) == -1 ||
	    dh_public(dh, pub, dh_pub_len(s.dh)) == -1)) {
		dh_free(dh);
		OPENSSL_cleanse(gir, sizeof(gir));
		ike_respond_notify(sa, m, IKE_N_INVALID_SYNTAX, NULL, 0);
		return;
	}
	ike_random(e, nr, sizeof(nr));
	child = ike_child_new();
	child->spi_in = ike_child_alloc_spi(e);
	child->spi_out = load_be32(s.spi);
	child->esn = s.esn;
	memcpy(child->lts, lts, sizeof(lts));
	memcpy(child->rts, rts, sizeof(rts));
	child->nlts = nlts;
	child->nrts = nrts;
	if (ike_child_make(sa, child, false, s.dh ? gir : NULL, girlen, m->nonce.data,
	    m->nonce.len, nr, sizeof(nr)) == -1) {
		ike_child_free(child);
		dh_free(dh);
		OPENSSL_cleanse(gir, sizeof(gir));
		ike_respond_notify(sa, m, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return;
	}
	OPENSSL_cleanse(gir, sizeof(gir));
	buf = xmalloc(IKE_BUILD_MAX);
	answer = xcalloc(1, sizeof(*answer));
	ts = xcalloc(1, sizeof(*ts));
	ike_chain_init(&c, buf, IKE_BUILD_MAX);
	spi_bytes(child->spi_in, spi);
	ike_prop_answer(answer, IKE_PROTO_ESP, &s, spi, 4);
	ike_pld_sa_build(&c, answer);
	ike_pld_nonce_build(&c, nr, sizeof(nr));
	if (s.dh != 0)
		ike_pld_ke_build(&c, s.dh, pub, dh_pub_len(s.dh));
	ike_ts_from_prefixes(rts, nrts, ts);
	ike_pld_ts_build(&c, IKE_PL_TSi, ts);
	ike_ts_from_prefixes(lts, nlts, ts);
	ike_pld_ts_build(&c, IKE_PL_TSr, ts);
	dh_free(dh);
	free(ts);
	free(answer);
	if (ike_msg_send_response(sa, IKE_X_CREATE_CHILD_SA, m->hdr.msgid, &c) == -1) {
		free(buf);
		ike_child_remove(sa, child, "cannot answer");
		return;
	}
	free(buf);
	ike_child_install(sa, child, old != NULL ? old->spi_in : 0);
	if (old == NULL)
		return;
	e->stats.rekeys++;
	ike_event(e, IKE_EV_REKEYED, sa->peer.name, "CHILD SA %08x_i -> %08x_i (by peer)",
	    old->spi_in, child->spi_in);
	if (sa->ctx.kind == REQ_CHILD && sa->ctx.old_spi == old->spi_in) {
		/* we are rekeying it too: decide when our answer comes (§2.8.1) */
		sa->ctx.collision = true;
		nonce_min(m->nonce.data, m->nonce.len, nr, sizeof(nr), sa->ctx.coll_nonce,
		    &sa->ctx.coll_nonce_len);
		sa->ctx.coll_child_spi = child->spi_in;
		return;
	}
	/* the peer initiated the rekey, so it deletes the old SA; if it never
	 * does, we drop it after a grace period */
	old->state = CHILD_REKEYED;
	old->remove_ms = ike_now(e) + IKE_REKEYED_GRACE_MS;
}

void
ike_child_request(struct ike_sa *sa, struct ike_msg *m)
{
	if (sa->state != IKE_ST_ESTABLISHED) {
		/* being deleted or replaced (§2.8.2: TEMPORARY_FAILURE) */
		ike_respond_notify(sa, m, IKE_N_TEMPORARY_FAILURE, NULL, 0);
		return;
	}
	if (!ike_msg_has(m, IKE_PL_SA) || !ike_msg_has(m, IKE_PL_NONCE)) {
		ike_respond_notify(sa, m, IKE_N_INVALID_SYNTAX, NULL, 0);
		return;
	}
	if (m->sa.prop[0].proto == IKE_PROTO_IKE)
		ike_rekey_request(sa, m);
	else
		child_request(sa, m);
}

static void
child_rekey_failed(struct ike_sa *sa, struct ike_child *old, const char *why)
{
	log_info("ike sa=%llu peer=%s: CHILD SA rekey failed: %s", (unsigned long long)sa->id,
	    sa->peer.name, why);
	if (old != NULL && old->state == CHILD_REKEYING) {
		old->state = CHILD_INSTALLED;
		old->rekey_ms = ike_now(sa->eng) + IKE_RETRY_LATER_MS;
	}
}

static void
child_response(struct ike_sa *sa, struct ike_msg *m)
{
	struct ike_engine *e = sa->eng;
	struct ike_req_ctx *x = &sa->ctx;
	struct ike_child *old = x->old_spi ? ike_child_by_in(sa, x->old_spi) : NULL;
	struct ike_child *child = x->child;
	const struct ike_pl_notify *n;
	struct ike_pl_sa *ours;
	struct ike_suite s;
	uint8_t gir[DH_MAX_SECRET];
	size_t girlen = 0;
	int rc;

	if (sa->state != IKE_ST_ESTABLISHED)
		goto done;	/* being deleted: the new SA dies with the IKE SA */
	if ((n = ike_msg_error(m)) != NULL) {
		uint16_t g;

		if (n->type == IKE_N_INVALID_KE_PAYLOAD && x->dh != NULL &&
		    ike_pld_notify_group(n, &g) == 0 && x->ke_retries < 2) {
			struct dh *nd = dh_new(g);

			if (nd != NULL) {
				dh_free(x->dh);
				x->dh = nd;
				x->ke_retries++;
				if (child_send(sa) == 0)
					return;
			}
		}
		if (n->type == IKE_N_NO_PROPOSAL_CHOSEN && !x->pfs_flipped) {
			/* the peer's PFS policy differs from ours: try the other way
			 * once rather than let the CHILD SA run into its hard lifetime */
			struct dh *nd = x->dh == NULL ? dh_new(sa->suite.dh) : NULL;

			if (x->dh == NULL && nd == NULL)
				goto failed;
			dh_free(x->dh);
			x->dh = nd;
			x->pfs_flipped = true;
			log_info("ike sa=%llu: CHILD proposal refused, retrying %s PFS",
			    (unsigned long long)sa->id, nd != NULL ? "with" : "without");
			if (child_send(sa) == 0)
				return;
		}
failed:
		if (n->type == IKE_N_CHILD_SA_NOT_FOUND && x->collision)
			log_debug("ike sa=%llu: CHILD_SA_NOT_FOUND after a collision, as expected",
			    (unsigned long long)sa->id);
		else
			child_rekey_failed(sa, old, ike_notify_name(n->type));
		goto done;
	}
	if (!ike_msg_has(m, IKE_PL_SA) || !ike_msg_has(m, IKE_PL_NONCE) ||
	    !ike_msg_has(m, IKE_PL_TSi) || !ike_msg_has(m, IKE_PL_TSr)) {
		child_rekey_failed(sa, old, "answer lacks SA/Nonce/TS");
		goto done;
	}
	ours = xcalloc(1, sizeof(*ours));
	ike_prop_esp(e, &ours->prop[0], child->spi_in, x->dh ? dh_group(x->dh) : 0);
	rc = ike_prop_check(&m->sa, &ours->prop[0], &s);
	free(ours);
	if (rc == -1 || (x->dh != NULL && s.dh != dh_group(x->dh)) || (x->dh == NULL && s.dh)) {
		child_rekey_failed(sa, old, "answer does not match our proposal");
		goto done;
	}
	if (x->dh != NULL && (!ike_msg_has(m, IKE_PL_KE) || m->ke.group != s.dh ||
	    dh_derive(x->dh, m->ke.data, m->ke.len, gir, sizeof(gir), &girlen) == -1)) {
		child_rekey_failed(sa, old, "bad KE in answer");
		goto done;
	}
	if (ike_ts_accept(&m->tsi, old ? old->lts : sa->peer.local_ts,
	    old ? old->nlts : sa->peer.nlocal_ts, child->lts, &child->nlts) == -1 ||
	    ike_ts_accept(&m->tsr, old ? old->rts : sa->peer.remote_ts,
	    old ? old->nrts : sa->peer.nremote_ts, child->rts, &child->nrts) == -1) {
		OPENSSL_cleanse(gir, sizeof(gir));
		child_rekey_failed(sa, old, "answered selectors outside ours");
		goto done;
	}
	child->spi_out = load_be32(s.spi);
	child->esn = s.esn;
	rc = ike_child_make(sa, child, true, x->dh ? gir : NULL, girlen, x->nonce,
	    sizeof(x->nonce), m->nonce.data, m->nonce.len);
	OPENSSL_cleanse(gir, sizeof(gir));
	if (rc == -1) {
		child_rekey_failed(sa, old, "key derivation failed");
		goto done;
	}
	x->child = NULL;
	ike_child_install(sa, child, old != NULL ? old->spi_in : 0);
	if (x->old_spi == 0)
		goto done;
	e->stats.rekeys++;
	ike_event(e, IKE_EV_REKEYED, sa->peer.name, "CHILD SA %08x_i -> %08x_i",
	    x->old_spi, child->spi_in);
	if (x->collision) {
		uint8_t ours_min[IKE_NONCE_MAX];
		size_t ours_len;

		nonce_min(x->nonce, sizeof(x->nonce), m->nonce.data, m->nonce.len, ours_min,
		    &ours_len);
		if (nonce_cmp(ours_min, ours_len, x->coll_nonce, x->coll_nonce_len) < 0) {
			/* ours holds the lowest nonce: ours is redundant, we close it;
			 * the peer, whose SA survives, deletes the old one */
			log_info("ike sa=%llu: rekey collision, closing our redundant %08x_i",
			    (unsigned long long)sa->id, child->spi_in);
			child->state = CHILD_DELETING;
			child->pend_delete = true;
			if (old != NULL) {
				old->state = CHILD_REKEYED;
				old->remove_ms = ike_now(e) + IKE_REKEYED_GRACE_MS;
			}
			goto done;
		}
		log_info("ike sa=%llu: rekey collision, ours survives",
		    (unsigned long long)sa->id);
	}
	if (old != NULL) {
		old->state = CHILD_DELETING;
		old->pend_delete = true;
	}
done:
	ike_sa_clear_ctx(sa);
}

static void
ike_rekey_response(struct ike_sa *sa, struct ike_msg *m)
{
	struct ike_engine *e = sa->eng;
	struct ike_req_ctx *x = &sa->ctx;
	struct ike_sa *nsa = x->new_sa, *peer_sa;
	const struct ike_pl_notify *n;
	struct ike_pl_sa *ours;
	struct ike_suite s;
	uint8_t gir[DH_MAX_SECRET];
	size_t girlen = 0;
	int rc;

	peer_sa = x->collision ? ike_sa_by_id(e, x->coll_sa_id) : NULL;
	if (sa->state != IKE_ST_ESTABLISHED)
		goto done;
	if ((n = ike_msg_error(m)) != NULL) {
		uint16_t g;

		if (n->type == IKE_N_INVALID_KE_PAYLOAD && ike_pld_notify_group(n, &g) == 0 &&
		    x->ke_retries < 2) {
			struct dh *nd = dh_new(g);

			if (nd != NULL) {
				dh_free(nsa->dh);
				nsa->dh = nd;
				x->ke_retries++;
				if (ike_rekey_send(sa) == 0)
					return;
			}
		}
		log_info("ike sa=%llu: IKE rekey refused: %s", (unsigned long long)sa->id,
		    ike_notify_name(n->type));
		sa->rekey_ms = ike_now(e) + IKE_RETRY_LATER_MS;
		goto lost;
	}
	if (!ike_msg_has(m, IKE_PL_SA) || !ike_msg_has(m, IKE_PL_NONCE) ||
	    !ike_msg_has(m, IKE_PL_KE)) {
		sa->rekey_ms = ike_now(e) + IKE_RETRY_LATER_MS;
		goto lost;
	}
	ours = xcalloc(1, sizeof(*ours));
	ike_prop_ike(e, &ours->prop[0], dh_group(nsa->dh), nsa->spi_i, 8);
	rc = ike_prop_check(&m->sa, &ours->prop[0], &s);
	free(ours);
	if (rc == -1 || s.dh != dh_group(nsa->dh) || m->ke.group != s.dh ||
	    dh_derive(nsa->dh, m->ke.data, m->ke.len, gir, sizeof(gir), &girlen) == -1) {
		sa->rekey_ms = ike_now(e) + IKE_RETRY_LATER_MS;
		goto lost;
	}
	memcpy(nsa->spi_r, s.spi, 8);
	memcpy(nsa->nr, m->nonce.data, m->nonce.len);
	nsa->nrlen = m->nonce.len;
	nsa->suite = s;
	rc = ike_keys_derive(&nsa->keys, s.prf, s.encr_bits / 8, sa->keys.prf, sa->keys.sk_d,
	    gir, girlen, nsa->ni, nsa->nilen, nsa->nr, nsa->nrlen, nsa->spi_i, nsa->spi_r);
	OPENSSL_cleanse(gir, sizeof(gir));
	if (rc == -1) {
		sa->rekey_ms = ike_now(e) + IKE_RETRY_LATER_MS;
		goto lost;
	}
	x->new_sa = NULL;
	ike_rekey_finish(nsa, sa);
	if (peer_sa != NULL) {
		uint8_t ours_min[IKE_NONCE_MAX];
		size_t ours_len;

		nonce_min(nsa->ni, nsa->nilen, nsa->nr, nsa->nrlen, ours_min, &ours_len);
		if (nonce_cmp(ours_min, ours_len, x->coll_nonce, x->coll_nonce_len) < 0) {
			/* ours is redundant: close it; the peer's survives and its
			 * initiator deletes the old SA */
			ike_sa_adopt_children(peer_sa, sa);
			nsa->quiet = true;
			nsa->state = IKE_ST_DELETING;
			nsa->pending |= PEND_DELETE_IKE;
			ike_sa_kick(nsa);
			retire(sa, false);
			goto done;
		}
		/* the peer's is redundant and it closes it */
		peer_sa->quiet = true;
		peer_sa->state = IKE_ST_REKEYED;
		peer_sa->deadline_ms = ike_now(e) + IKE_REKEYED_GRACE_MS;
	}
	ike_sa_adopt_children(nsa, sa);
	retire(sa, true);
	goto done;
lost:
	/* our rekey failed; if the peer's went through, its SA carries on */
	if (peer_sa != NULL) {
		ike_sa_adopt_children(peer_sa, sa);
		retire(sa, false);
	}
done:
	ike_sa_clear_ctx(sa);
}

void
ike_child_response(struct ike_sa *sa, struct ike_msg *m)
{
	if (sa->ctx.kind == REQ_REKEY_IKE)
		ike_rekey_response(sa, m);
	else
		child_response(sa, m);
}
