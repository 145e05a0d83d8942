/*
 * IKE_AUTH (RFC 7296 §1.2, §2.15) with certificates and RFC 7427 signatures,
 * and the first CHILD SA.
 *
 *   HDR, SK { IDi, CERT, [N(INITIAL_CONTACT)], CERTREQ, IDr, AUTH,
 *             SAi2, TSi, TSr }  -->
 *                          <--  HDR, SK { IDr, CERT, AUTH, SAr2, TSi, TSr }
 *
 * Identities are ID_FQDN and must appear as a dNSName in the certificate
 * (ops->verify_peer checks that with the chain, profile and revocation). We
 * always send our certificate and a CERTREQ (charon only sends its own after a
 * CERTREQ). A responder refuses an identity the daemon does not know
 * (ops->find_peer) with AUTHENTICATION_FAILED.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "crypto/sig.h"
#include "device/ike/ike_local.h"
#include "lib/log.h"
#include "lib/util.h"

/* ID Type | RESERVED | data: our half of the signed octets */
static size_t
id_body(uint8_t *out, const char *id)
{
	size_t n = strlen(id);

	out[0] = IKE_ID_FQDN;
	out[1] = out[2] = out[3] = 0;
	memcpy(out + 4, id, n);
	return 4 + n;
}

/* an ID_FQDN as a C string: printable, no NUL, shorter than IKE_ID_MAX */
static int
id_string(const struct ike_pl_id *id, char *out, size_t cap)
{
	if (id->type != IKE_ID_FQDN || id->len == 0 || id->len >= cap)
		return -1;
	for (size_t i = 0; i < id->len; i++)
		if (id->data[i] <= 0x20 || id->data[i] >= 0x7f)
			return -1;
	memcpy(out, id->data, id->len);
	out[id->len] = '\0';
	return 0;
}

/* AUTH payload data for method 14: len | AlgorithmIdentifier | signature */
static int
auth_add(struct ike_sa *sa, struct ike_chain *c, bool as_initiator, const uint8_t *idb,
    size_t idblen)
{
	struct ike_engine *e = sa->eng;
	uint8_t *tbs = NULL, data[1 + SIG_ALGID_MAX + SIG_MAX];
	size_t tbslen, algidlen, siglen = SIG_MAX;
	int md, rc = -1;

	if ((md = sig_choose_md(e->pubkey, sa->peer_hashes)) == NID_undef ||
	    sig_algid(e->pubkey, md, data + 1, SIG_ALGID_MAX, &algidlen) == -1)
		return -1;
	data[0] = (uint8_t)algidlen;
	if (as_initiator)
		rc = ike_keys_auth_octets(&sa->keys, true, sa->init_req, sa->init_req_len,
		    sa->nr, sa->nrlen, idb, idblen, &tbs, &tbslen);
	else
		rc = ike_keys_auth_octets(&sa->keys, false, sa->init_resp, sa->init_resp_len,
		    sa->ni, sa->nilen, idb, idblen, &tbs, &tbslen);
	if (rc == -1)
		return -1;
	rc = e->ops.sign(e->ops.arg, md, tbs, tbslen, data + 1 + algidlen, &siglen);
	free(tbs);
	if (rc != 0 || siglen > SIG_MAX)
		return -1;
	return ike_pld_auth_build(c, IKE_AUTH_DIGITAL_SIG, data, 1 + algidlen + siglen);
}

static bool
other_sa_with(struct ike_sa *sa)
{
	for (struct ike_sa *o = sa->eng->sas; o != NULL; o = o->next)
		if (o != sa && o->peer_known && o->state == IKE_ST_ESTABLISHED &&
		    strcmp(o->peer.name, sa->peer.name) == 0)
			return true;
	return false;
}

int
ike_auth_start(struct ike_sa *sa)
{
	struct ike_engine *e = sa->eng;
	uint8_t *buf = xmalloc(IKE_BUILD_MAX), idb[4 + IKE_ID_MAX];
	struct ike_pl_sa *prop = xcalloc(1, sizeof(*prop));
	struct ike_pl_ts *ts = xcalloc(1, sizeof(*ts));
	struct ike_child *child = ike_child_new();
	struct ike_chain c;
	size_t idblen;
	int rc = -1;

	child->spi_in = ike_child_alloc_spi(e);
	ike_chain_init(&c, buf, IKE_BUILD_MAX);
	idblen = id_body(idb, e->cfg.local_id);
	ike_pld_id_build(&c, IKE_PL_IDi, IKE_ID_FQDN, idb + 4, idblen - 4);
	ike_pld_cert_build(&c, IKE_PL_CERT, IKE_CERT_X509_SIG, e->cert_der, e->cert_der_len);
	if (!other_sa_with(sa))
		ike_pld_notify_build(&c, 0, NULL, 0, IKE_N_INITIAL_CONTACT, NULL, 0);
	if (e->nca > 0)
		ike_pld_cert_build(&c, IKE_PL_CERTREQ, IKE_CERT_X509_SIG, e->ca_hash[0],
		    20 * e->nca);
	ike_pld_id_build(&c, IKE_PL_IDr, IKE_ID_FQDN, (const uint8_t *)sa->peer.id,
	    strlen(sa->peer.id));
	if (auth_add(sa, &c, true, idb, idblen) == -1) {
		log_warn("ike sa=%llu: signing AUTH failed", (unsigned long long)sa->id);
		goto out;
	}
	prop->nprop = 1;
	ike_prop_esp(e, &prop->prop[0], child->spi_in, 0);
	ike_pld_sa_build(&c, prop);
	ike_ts_from_prefixes(sa->peer.local_ts, sa->peer.nlocal_ts, ts);
	ike_pld_ts_build(&c, IKE_PL_TSi, ts);
	ike_ts_from_prefixes(sa->peer.remote_ts, sa->peer.nremote_ts, ts);
	ike_pld_ts_build(&c, IKE_PL_TSr, ts);
	sa->state = IKE_ST_AUTH_SENT;
	sa->ctx.kind = REQ_AUTH;
	sa->ctx.child = child;
	child = NULL;
	rc = ike_msg_send_request(sa, IKE_X_IKE_AUTH, &c);
out:
	ike_child_free(child);
	free(ts);
	free(prop);
	free(buf);
	return rc;
}

/* the peer's end-entity certificate and any others it sent */
static int
peer_certs(const struct ike_msg *m, X509 **cert, STACK_OF(X509) **chain)
{
	*cert = NULL;
	*chain = NULL;
	for (size_t i = 0; i < m->ncert; i++) {
		const unsigned char *p = m->cert[i].data;
		X509 *x;

		if (m->cert[i].kind != IKE_CERT_X509_SIG)
			continue;
		if ((x = d2i_X509(NULL, &p, (long)m->cert[i].len)) == NULL ||
		    p != m->cert[i].data + m->cert[i].len) {
			X509_free(x);
			goto fail;
		}
		if (*cert == NULL) {
			*cert = x;
			continue;
		}
		if (*chain == NULL && (*chain = sk_X509_new_null()) == NULL) {
			X509_free(x);
			goto fail;
		}
		if (!sk_X509_push(*chain, x)) {
			X509_free(x);
			goto fail;
		}
	}
	return *cert != NULL ? 0 : -1;
fail:
	X509_free(*cert);
	sk_X509_pop_free(*chain, X509_free);
	*cert = NULL;
	*chain = NULL;
	return -1;
}

/* verify the peer's AUTH over its signed octets (§2.15, RFC 7427 §3) */
static int
auth_verify(struct ike_sa *sa, const struct ike_msg *m, X509 *cert, bool peer_initiator,
    const struct ike_pl_id *id, char *err, size_t errlen)
{
	const uint8_t *d = m->auth.data;
	uint8_t *tbs = NULL;
	size_t tbslen, alen;
	int rc;

	if (m->auth.kind != IKE_AUTH_DIGITAL_SIG) {
		xsnprintf(err, errlen, "AUTH method %u not supported", m->auth.kind);
		return -1;
	}
	alen = m->auth.len > 0 ? d[0] : 0;
	if (alen == 0 || m->auth.len < 1 + alen + 1) {
		xsnprintf(err, errlen, "malformed signature AUTH data");
		return -1;
	}
	if (peer_initiator)
		rc = ike_keys_auth_octets(&sa->keys, true, sa->init_req, sa->init_req_len,
		    sa->nr, sa->nrlen, id->body, id->bodylen, &tbs, &tbslen);
	else
		rc = ike_keys_auth_octets(&sa->keys, false, sa->init_resp, sa->init_resp_len,
		    sa->ni, sa->nilen, id->body, id->bodylen, &tbs, &tbslen);
	if (rc == -1) {
		xsnprintf(err, errlen, "cannot compute signed octets");
		return -1;
	}
	rc = sig_verify(X509_get0_pubkey(cert), d + 1, alen, d + 1 + alen,
	    m->auth.len - 1 - alen, tbs, tbslen, err, errlen);
	free(tbs);
	return rc;
}

/* who the peer claims to be, authenticated: -1 with err set on any failure */
static int
authenticate_peer(struct ike_sa *sa, const struct ike_msg *m, bool peer_initiator,
    const char *id, char *err, size_t errlen)
{
	struct ike_engine *e = sa->eng;
	X509 *cert = NULL;
	STACK_OF(X509) *chain = NULL;
	int rc = -1;

	if (!ike_msg_has(m, IKE_PL_AUTH)) {
		xsnprintf(err, errlen, "no AUTH payload (EAP is not supported)");
		return -1;
	}
	if (peer_certs(m, &cert, &chain) == -1) {
		xsnprintf(err, errlen, "no usable X.509 certificate");
		return -1;
	}
	if (e->ops.verify_peer(e->ops.arg, cert, chain, id, err, errlen) != 0) {
		if (err[0] == '\0')
			xsnprintf(err, errlen, "certificate refused");
		goto out;
	}
	if (auth_verify(sa, m, cert, peer_initiator, peer_initiator ? &m->idi : &m->idr, err,
	    errlen) == -1)
		goto out;
	rc = 0;
out:
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
	return rc;
}

static void
auth_refused(struct ike_sa *sa, const char *who, const char *why)
{
	struct ike_engine *e = sa->eng;

	e->stats.auth_failed++;
	log_warn("ike sa=%llu peer=%s: authentication failed: %s", (unsigned long long)sa->id,
	    who, why);
	ike_event(e, IKE_EV_AUTH_FAILED, who, "%s", why);
}

/* INITIAL_CONTACT (§2.4): the peer lost its state; older SAs with it are gone */
static void
initial_contact(struct ike_sa *sa)
{
	for (struct ike_sa *o = sa->eng->sas; o != NULL; o = o->next)
		if (o != sa && o->peer_known && strcmp(o->peer.name, sa->peer.name) == 0 &&
		    (o->state == IKE_ST_ESTABLISHED || o->state == IKE_ST_REKEYED) &&
		    o->established_ms <= sa->created_ms)
			ike_sa_kill(o, "initial contact from the peer");
}

static void
child_failed(struct ike_sa *sa, const char *why)
{
	log_info("ike sa=%llu peer=%s: no CHILD SA: %s", (unsigned long long)sa->id,
	    sa->peer.name, why);
	ike_event(sa->eng, IKE_EV_NEGOTIATION_FAILED, sa->peer.name, "CHILD SA: %s", why);
}

void
ike_auth_request(struct ike_sa *sa, struct ike_msg *m)
{
	struct ike_engine *e = sa->eng;
	const struct ike_peer *peer;
	char id[IKE_ID_MAX], err[256] = "";
	uint8_t *buf = NULL, idb[4 + IKE_ID_MAX];
	struct ike_pl_sa *answer = NULL;
	struct ike_pl_ts *ts = NULL;
	struct ike_child *child = NULL;
	struct ike_suite s;
	struct prefix lts[CHILD_SA_MAX_TS], rts[CHILD_SA_MAX_TS];
	size_t nlts = 0, nrts = 0, idblen;
	struct ike_chain c;
	uint16_t child_err = 0;

	if (!ike_msg_has(m, IKE_PL_IDi)) {
		ike_respond_notify(sa, m, IKE_N_INVALID_SYNTAX, NULL, 0);
		ike_sa_kill(sa, "IKE_AUTH without IDi");
		return;
	}
	if (id_string(&m->idi, id, sizeof(id)) == -1) {
		auth_refused(sa, "?", "peer identity is not a usable ID_FQDN");
		goto refuse;
	}
	if ((peer = e->ops.find_peer == NULL ? NULL :
	    e->ops.find_peer(e->ops.arg, id, &sa->raddr)) == NULL) {
		char why[IKE_ID_MAX + 32];

		xsnprintf(why, sizeof(why), "unknown identity %s", id);
		auth_refused(sa, id, why);
		goto refuse;
	}
	sa->peer = *peer;
	sa->peer_known = true;
	if (ike_msg_has(m, IKE_PL_IDr)) {
		char idr[IKE_ID_MAX];

		if (id_string(&m->idr, idr, sizeof(idr)) == -1 ||
		    strcmp(idr, e->cfg.local_id) != 0) {
			auth_refused(sa, sa->peer.name, "IDr names someone else");
			goto refuse;
		}
	}
	if (authenticate_peer(sa, m, true, sa->peer.id, err, sizeof(err)) == -1) {
		auth_refused(sa, sa->peer.name, err);
		goto refuse;
	}

	/* authenticated: answer with our identity, then the CHILD SA */
	buf = xmalloc(IKE_BUILD_MAX);
	ike_chain_init(&c, buf, IKE_BUILD_MAX);
	idblen = id_body(idb, e->cfg.local_id);
	ike_pld_id_build(&c, IKE_PL_IDr, IKE_ID_FQDN, idb + 4, idblen - 4);
	ike_pld_cert_build(&c, IKE_PL_CERT, IKE_CERT_X509_SIG, e->cert_der, e->cert_der_len);
	if (auth_add(sa, &c, false, idb, idblen) == -1) {
		log_warn("ike sa=%llu: signing AUTH failed", (unsigned long long)sa->id);
		ike_respond_notify(sa, m, IKE_N_AUTHENTICATION_FAILED, NULL, 0);
		ike_sa_kill(sa, "cannot sign");
		goto out;
	}
	if (!ike_msg_has(m, IKE_PL_SA) || !ike_msg_has(m, IKE_PL_TSi) ||
	    !ike_msg_has(m, IKE_PL_TSr))
		child_err = IKE_N_NO_PROPOSAL_CHOSEN;	/* childless (RFC 6023) not offered */
	else if (ike_prop_select_esp(e, &m->sa, false, 0, &s) == -1)
		child_err = IKE_N_NO_PROPOSAL_CHOSEN;
	else if (ike_ts_narrow(&m->tsi, sa->peer.remote_ts, sa->peer.nremote_ts, rts,
	    &nrts) == -1 || ike_ts_narrow(&m->tsr, sa->peer.local_ts, sa->peer.nlocal_ts,
	    lts, &nlts) == -1)
		child_err = IKE_N_TS_UNACCEPTABLE;
	if (child_err == 0) {
		child = ike_child_new();
		child->spi_in = ike_child_alloc_spi(e);
		child->spi_out = load_be32(s.spi);
		child->esn = s.esn;
		memcpy(child->lts, lts, sizeof(lts));
		memcpy(child->rts, rts, sizeof(rts));
		child->nlts = nlts;
		child->nrts = nrts;
		if (ike_child_make(sa, child, false, NULL, 0, sa->ni, sa->nilen, sa->nr,
		    sa->nrlen) == -1) {
			ike_child_free(child);
			child = NULL;
			child_err = IKE_N_NO_PROPOSAL_CHOSEN;
		}
	}
	if (child_err == 0) {
		answer = xcalloc(1, sizeof(*answer));
		ts = xcalloc(1, sizeof(*ts));
		ike_prop_answer(answer, IKE_PROTO_ESP, &s, (const uint8_t[4]){
		    (uint8_t)(child->spi_in >> 24), (uint8_t)(child->spi_in >> 16),
		    (uint8_t)(child->spi_in >> 8), (uint8_t)child->spi_in }, 4);
		ike_pld_sa_build(&c, answer);
		ike_ts_from_prefixes(rts, nrts, ts);
		ike_pld_ts_build(&c, IKE_PL_TSi, ts);
		ike_ts_from_prefixes(lts, nlts, ts);
		ike_pld_ts_build(&c, IKE_PL_TSr, ts);
	} else
		ike_pld_notify_build(&c, 0, NULL, 0, child_err, NULL, 0);
	if (ike_msg_send_response(sa, IKE_X_IKE_AUTH, m->hdr.msgid, &c) == -1) {
		if (child != NULL)
			ike_child_remove(sa, child, "cannot answer");
		ike_sa_kill(sa, "cannot answer IKE_AUTH");
		goto out;
	}
	if (ike_msg_notify(m, IKE_N_INITIAL_CONTACT) != NULL)
		initial_contact(sa);
	ike_sa_set_established(sa);
	log_info("ike sa=%llu peer=%s: IKE SA established (responder), %s",
	    (unsigned long long)sa->id, sa->peer.name, sa->suite_name);
	ike_event(e, IKE_EV_SA_UP, sa->peer.name, "responder %s", sa->suite_name);
	if (child != NULL)
		ike_child_install(sa, child, 0);
	else
		child_failed(sa, ike_notify_name(child_err));
	goto out;
refuse:
	ike_respond_notify(sa, m, IKE_N_AUTHENTICATION_FAILED, NULL, 0);
	ike_sa_kill(sa, "authentication failed");
out:
	free(ts);
	free(answer);
	free(buf);
}

void
ike_auth_response(struct ike_sa *sa, struct ike_msg *m)
{
	struct ike_engine *e = sa->eng;
	struct ike_child *child = sa->ctx.child;
	const struct ike_pl_notify *n;
	struct ike_pl_sa *ours;
	struct ike_suite s;
	char idr[IKE_ID_MAX], err[256] = "";
	int rc;

	if ((n = ike_msg_notify(m, IKE_N_AUTHENTICATION_FAILED)) != NULL ||
	    !ike_msg_has(m, IKE_PL_IDr) || !ike_msg_has(m, IKE_PL_AUTH)) {
		n = n != NULL ? n : ike_msg_error(m);
		if (n != NULL && n->type == IKE_N_AUTHENTICATION_FAILED)
			auth_refused(sa, sa->peer.name, "the peer refused our authentication");
		else
			ike_event(e, IKE_EV_NEGOTIATION_FAILED, sa->peer.name, "IKE_AUTH: %s",
			    n != NULL ? ike_notify_name(n->type) : "answer without IDr/AUTH");
		ike_sa_kill(sa, "IKE_AUTH failed");
		return;
	}
	if (id_string(&m->idr, idr, sizeof(idr)) == -1 || strcmp(idr, sa->peer.id) != 0) {
		xsnprintf(err, sizeof(err), "responder is not %s", sa->peer.id);
		goto refuse;
	}
	if (authenticate_peer(sa, m, false, sa->peer.id, err, sizeof(err)) == -1)
		goto refuse;
	ike_sa_set_established(sa);
	log_info("ike sa=%llu peer=%s: IKE SA established (initiator), %s",
	    (unsigned long long)sa->id, sa->peer.name, sa->suite_name);
	ike_event(e, IKE_EV_SA_UP, sa->peer.name, "initiator %s", sa->suite_name);

	if ((n = ike_msg_error(m)) != NULL || !ike_msg_has(m, IKE_PL_SA) ||
	    !ike_msg_has(m, IKE_PL_TSi) || !ike_msg_has(m, IKE_PL_TSr)) {
		child_failed(sa, n != NULL ? ike_notify_name(n->type) : "no SA/TS in answer");
		goto no_child;
	}
	ours = xcalloc(1, sizeof(*ours));
	ike_prop_esp(e, &ours->prop[0], child->spi_in, 0);
	rc = ike_prop_check(&m->sa, &ours->prop[0], &s);
	free(ours);
	if (rc == -1 || s.dh != 0) {
		child_failed(sa, "answer does not match our ESP proposal");
		goto no_child;
	}
	if (ike_ts_accept(&m->tsi, sa->peer.local_ts, sa->peer.nlocal_ts, child->lts,
	    &child->nlts) == -1 || ike_ts_accept(&m->tsr, sa->peer.remote_ts,
	    sa->peer.nremote_ts, child->rts, &child->nrts) == -1) {
		child_failed(sa, "answered selectors outside ours");
		goto no_child;
	}
	child->spi_out = load_be32(s.spi);
	child->esn = s.esn;
	if (ike_child_make(sa, child, true, NULL, 0, sa->ni, sa->nilen, sa->nr, sa->nrlen) == -1) {
		child_failed(sa, "key derivation failed");
		goto no_child;
	}
	sa->ctx.child = NULL;
	ike_sa_clear_ctx(sa);
	ike_child_install(sa, child, 0);
	return;
no_child:
	/* ike_connect promised a CHILD SA: without one the IKE SA has no use */
	ike_sa_clear_ctx(sa);
	sa->pending |= PEND_DELETE_IKE;
	sa->state = IKE_ST_DELETING;
	return;
refuse:
	auth_refused(sa, sa->peer.name, err);
	ike_sa_clear_ctx(sa);
	ike_info_notify(sa, IKE_N_AUTHENTICATION_FAILED);
	ike_sa_kill(sa, "authentication of the responder failed");
}
