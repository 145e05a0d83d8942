/*
 * The one certificate verifier (REQ-PKI-3): every TLS peer, every IKE peer and
 * every enrolment goes through pki_verify. OpenSSL builds and checks the path
 * (signatures, validity, basic constraints, unknown critical extensions); we
 * then require the exact odvpn shape — leaf, one tier CA, pinned root — and
 * check roles, revocation and identity ourselves, so each refusal carries a
 * reason an operator can act on.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "lib/util.h"
#include "pki/pki.h"
#include "pki/pki_internal.h"

struct trust_crl {
	X509		*issuer;	/* the CA (or root) whose key signed it */
	X509_CRL	*crl;
};

struct pki_trust {
	X509_STORE		*store;		/* the root alone is trusted */
	X509			*root;
	STACK_OF(X509)		*cas;		/* tier CAs, untrusted path material */
	struct trust_crl	*crls;
	size_t			 ncrls;
};

#define END_ENTITY_ROLES (PKI_ROLE_BIT(PKI_ROLE_DEVICE) | PKI_ROLE_BIT(PKI_ROLE_SERVICE) | \
	PKI_ROLE_BIT(PKI_ROLE_CENTER) | PKI_ROLE_BIT(PKI_ROLE_ADMIN))

struct pki_trust *
pki_trust_new(X509 *root, struct pki_err *err)
{
	struct pki_trust *t;

	if (root == NULL || X509_check_ca(root) < 1 || X509_self_signed(root, 1) != 1) {
		ERR_clear_error();
		pki_err_set(err, "trust anchor is not a self-signed CA certificate");
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	if ((t->store = X509_STORE_new()) == NULL || !X509_STORE_add_cert(t->store, root) ||
	    (t->cas = sk_X509_new_null()) == NULL || !X509_up_ref(root)) {
		pki_err_ssl(err, "cannot build the trust set");
		X509_STORE_free(t->store);
		sk_X509_free(t->cas);
		free(t);
		return NULL;
	}
	t->root = root;
	return t;
}

void
pki_trust_free(struct pki_trust *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->ncrls; i++)
		X509_CRL_free(t->crls[i].crl);
	free(t->crls);
	sk_X509_pop_free(t->cas, X509_free);
	X509_free(t->root);
	X509_STORE_free(t->store);
	free(t);
}

X509 *
pki_trust_root(const struct pki_trust *t)
{
	return t->root;
}

int
pki_trust_add_ca(struct pki_trust *t, X509 *ca, struct pki_err *err)
{
	enum pki_role role = pki_cert_role(ca);

	if (role != PKI_ROLE_DEVICE_CA && role != PKI_ROLE_SERVICE_CA) {
		pki_err_set(err, "not a device or service CA certificate");
		return -1;
	}
	if (X509_check_issued(t->root, ca) != X509_V_OK ||
	    X509_verify(ca, X509_get0_pubkey(t->root)) != 1) {
		ERR_clear_error();
		pki_err_set(err, "%s certificate was not issued by the trusted root",
		    pki_role_name(role));
		return -1;
	}
	for (int i = 0; i < sk_X509_num(t->cas); i++)
		if (X509_cmp(sk_X509_value(t->cas, i), ca) == 0)
			return 0;
	if (!X509_up_ref(ca))
		return -1;
	if (!sk_X509_push(t->cas, ca)) {
		X509_free(ca);
		pki_err_set(err, "out of memory");
		return -1;
	}
	return 0;
}

int
pki_trust_add_crl(struct pki_trust *t, X509_CRL *crl, struct pki_err *err)
{
	X509 *issuer = NULL;
	uint64_t num = pki_crl_number(crl), have;

	if (pki_crl_verify(crl, t->root, NULL) == 0)
		issuer = t->root;
	for (int i = 0; issuer == NULL && i < sk_X509_num(t->cas); i++)
		if (pki_crl_verify(crl, sk_X509_value(t->cas, i), NULL) == 0)
			issuer = sk_X509_value(t->cas, i);
	if (issuer == NULL) {
		pki_err_set(err, "CRL is not signed by the root or a CA of the trust set");
		return -1;
	}
	for (size_t i = 0; i < t->ncrls; i++) {
		if (X509_cmp(t->crls[i].issuer, issuer) != 0)
			continue;
		have = pki_crl_number(t->crls[i].crl);
		if (num <= have) {
			pki_err_set(err, "CRL number %llu is not newer than the one held (%llu)",
			    (unsigned long long)num, (unsigned long long)have);
			return -1;
		}
		if (!X509_CRL_up_ref(crl))
			return -1;
		X509_CRL_free(t->crls[i].crl);
		t->crls[i].crl = crl;
		return 0;
	}
	if (!X509_CRL_up_ref(crl))
		return -1;
	t->crls = xrealloc(t->crls, (t->ncrls + 1) * sizeof(*t->crls));
	t->crls[t->ncrls].issuer = issuer;	/* owned by t->root or t->cas */
	t->crls[t->ncrls].crl = crl;
	t->ncrls++;
	return 0;
}

/* the subject CN for messages, or "?" */
static const char *
who(const X509 *x, char *buf, size_t cap)
{
	if (pki_cert_cn(x, buf, cap) == -1)
		(void)xsnprintf(buf, cap, "?");
	return buf;
}

static int
check_revoked(const struct pki_trust *t, X509 *cert, X509 *issuer, bool leaf,
    struct pki_err *err)
{
	char serial[PKI_SERIAL_HEX_MAX], name[PKI_NAME_MAX], date[32];
	struct pki_revoked e;
	struct tm tm;
	time_t when;

	for (size_t i = 0; i < t->ncrls; i++) {
		/* the CRL's signer is this issuer: same name and same key */
		if (X509_NAME_cmp(X509_get_subject_name(t->crls[i].issuer),
		    X509_get_subject_name(issuer)) != 0 ||
		    EVP_PKEY_eq(X509_get0_pubkey(t->crls[i].issuer),
		    X509_get0_pubkey(issuer)) != 1)
			continue;
		if (pki_cert_serial(cert, serial) == -1) {
			pki_err_set(err, "certificate serial number is malformed");
			return -1;
		}
		if (pki_crl_lookup(t->crls[i].crl, serial, &e) != 1)
			return 0;
		when = (time_t)e.when;
		if (gmtime_r(&when, &tm) == NULL ||
		    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			(void)xsnprintf(date, sizeof(date), "?");
		pki_err_set(err, "%s certificate %s (serial %s) is revoked (%s) since %s",
		    leaf ? "the" : "issuing CA", who(cert, name, sizeof(name)), serial,
		    pki_crl_reason_name(e.reason), date);
		return -1;
	}
	return 0;
}

static int
check_identity(X509 *leaf, enum pki_role role, const char *id, struct pki_err *err)
{
	const unsigned flags = X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
	    X509_CHECK_FLAG_NO_WILDCARDS;
	char cn[PKI_NAME_MAX];
	ASN1_OCTET_STRING *ip;
	int ok;

	switch (role) {
	case PKI_ROLE_SERVICE:
		ok = X509_check_host(leaf, id, 0, flags, NULL) == 1;
		break;
	case PKI_ROLE_CENTER:
		if ((ip = a2i_IPADDRESS(id)) != NULL) {
			ASN1_OCTET_STRING_free(ip);
			ok = X509_check_ip_asc(leaf, id, 0) == 1;
		} else
			ok = X509_check_host(leaf, id, 0, flags, NULL) == 1;
		break;
	default:
		ok = pki_cert_cn(leaf, cn, sizeof(cn)) == 0 && strcmp(cn, id) == 0;
		break;
	}
	ERR_clear_error();
	if (!ok) {
		pki_err_set(err, "%s certificate %s does not name \"%.80s\"",
		    pki_role_name(role), who(leaf, cn, sizeof(cn)), id);
		return -1;
	}
	return 0;
}

static void
roles_text(unsigned roles, char *buf, size_t cap)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int r = PKI_ROLE_DEVICE; r <= PKI_ROLE_ADMIN; r++) {
		if ((roles & PKI_ROLE_BIT(r)) == 0)
			continue;
		if (xsnprintf(buf + o, cap - o, "%s%s", o > 0 ? "/" : "",
		    pki_role_name((enum pki_role)r)) == -1)
			return;
		o += strlen(buf + o);
	}
}

int
pki_verify(const struct pki_trust *t, X509 *leaf, const struct pki_verify_opts *o,
    enum pki_role *role_out, struct pki_err *err)
{
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL, *chain = NULL;
	char name[PKI_NAME_MAX], want[64];
	enum pki_role role;
	struct pki_err sub;
	int r = -1, verr;

	if (t == NULL || leaf == NULL || o == NULL ||
	    (o->roles & END_ENTITY_ROLES) == 0 || (o->roles & ~END_ENTITY_ROLES) != 0) {
		pki_err_set(err, "verifier called without a trust set, certificate or role");
		return -1;
	}
	if ((untrusted = sk_X509_new_null()) == NULL)
		goto oom;
	for (int i = 0; i < sk_X509_num(t->cas); i++)
		if (!sk_X509_push(untrusted, sk_X509_value(t->cas, i)))
			goto oom;
	for (int i = 0; o->chain != NULL && i < sk_X509_num(o->chain); i++)
		if (!sk_X509_push(untrusted, sk_X509_value(o->chain, i)))
			goto oom;
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, t->store, leaf, untrusted))
		goto oom;
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
	if (o->now != 0)
		X509_STORE_CTX_set_time(ctx, 0, (time_t)o->now);
	if (X509_verify_cert(ctx) != 1) {
		verr = X509_STORE_CTX_get_error(ctx);
		pki_err_set(err, "certificate %s does not verify to the pinned root: %s "
		    "(depth %d)", who(leaf, name, sizeof(name)),
		    X509_verify_cert_error_string(verr), X509_STORE_CTX_get_error_depth(ctx));
		ERR_clear_error();
		goto out;
	}
	if ((chain = X509_STORE_CTX_get1_chain(ctx)) == NULL)
		goto oom;
	if (sk_X509_num(chain) != 3) {
		pki_err_set(err, "certificate %s is not issued by a tier CA under the root "
		    "(path length %d)", who(leaf, name, sizeof(name)), sk_X509_num(chain));
		goto out;
	}

	/* the leaf's role, from its own profile, then its issuer's */
	role = pki_cert_role(leaf);
	roles_text(o->roles, want, sizeof(want));
	if (role == PKI_ROLE_NONE || role > PKI_ROLE_ADMIN) {
		pki_err_set(err, "certificate %s has no odvpn role (expected %s)",
		    who(leaf, name, sizeof(name)), want);
		goto out;
	}
	if ((o->roles & PKI_ROLE_BIT(role)) == 0) {
		pki_err_set(err, "certificate %s has role %s; only %s is accepted here",
		    who(leaf, name, sizeof(name)), pki_role_name(role), want);
		goto out;
	}
	if (pki_profile_check(leaf, role, &sub) == -1) {
		pki_err_set(err, "certificate %s: %s", who(leaf, name, sizeof(name)), sub.msg);
		goto out;
	}
	if (pki_profile_check(sk_X509_value(chain, 1), pki_role_issuer(role), &sub) == -1) {
		pki_err_set(err, "certificate %s: %s", who(leaf, name, sizeof(name)), sub.msg);
		goto out;
	}

	if (check_revoked(t, leaf, sk_X509_value(chain, 1), true, err) == -1 ||
	    check_revoked(t, sk_X509_value(chain, 1), sk_X509_value(chain, 2), false,
	    err) == -1)
		goto out;
	if (o->identity != NULL && check_identity(leaf, role, o->identity, err) == -1)
		goto out;
	if (role_out != NULL)
		*role_out = role;
	r = 0;
	goto out;
oom:
	pki_err_ssl(err, "out of memory while verifying");
out:
	sk_X509_pop_free(chain, X509_free);
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	return r;
}

int
pki_verify_x509_store_ctx(X509_STORE_CTX *ctx, const struct pki_trust *t,
    const struct pki_verify_opts *o, enum pki_role *role_out, struct pki_err *err)
{
	struct pki_verify_opts mine = *o;
	X509 *leaf = X509_STORE_CTX_get0_cert(ctx);

	mine.chain = X509_STORE_CTX_get0_untrusted(ctx);
	if (leaf == NULL || pki_verify(t, leaf, &mine, role_out, err) == -1) {
		if (leaf == NULL)
			pki_err_set(err, "peer sent no certificate");
		X509_STORE_CTX_set_error(ctx, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	X509_STORE_CTX_set_error(ctx, X509_V_OK);
	return 1;
}
