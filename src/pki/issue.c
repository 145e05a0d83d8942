/*
 * Issuing certificates and handling CSRs. The CA's private key is reached only
 * through its key store handle (keystore_key_evp); the subject's key is given
 * as a public key or arrives in a CSR.
 */
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/util.h"
#include "pki/keystore.h"
#include "pki/pki.h"
#include "pki/pki_internal.h"

static int	name_cn(const X509_NAME *, char *, size_t);

/* 16 random octets, positive, without a leading zero octet (RFC 5280 4.1.2.2) */
static int
set_random_serial(X509 *x)
{
	uint8_t b[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	b[0] = (uint8_t)((b[0] & 0x7f) | 0x40);
	if ((bn = BN_bin2bn(b, sizeof(b), NULL)) == NULL)
		return -1;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

/* printable names for CAs and administrators: no DN or SAN syntax characters */
static bool
cn_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > PKI_NAME_MAX - 1 || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr(" ._@-", c) != NULL))
			return false;
	}
	return true;
}

/* the issuer's O, or "odvpn" */
static int
subject_org(const X509 *issuer, const char *org, char *out, size_t cap)
{
	if (org != NULL)
		return xsnprintf(out, cap, "%s", org) == -1 ? -1 : 0;
	if (issuer != NULL && X509_NAME_get_text_by_NID(X509_get_subject_name(issuer),
	    NID_organizationName, out, (int)cap) > 0)
		return 0;
	return xsnprintf(out, cap, "odvpn") == -1 ? -1 : 0;
}

int
pki_issue(const struct pki_issue_req *req, X509 *issuer, struct keystore_key *issuer_key,
    X509 **out, struct pki_err *err)
{
	EVP_PKEY *signer;
	X509 *x = NULL;
	X509_NAME *name = NULL;
	char org[PKI_NAME_MAX];
	int64_t nb, na, lifetime, issuer_na;
	enum pki_role want_issuer;

	if (req->pubkey == NULL || issuer_key == NULL || req->cn == NULL) {
		pki_err_set(err, "incomplete issuance request");
		return -1;
	}
	if (req->role == PKI_ROLE_CENTER) {
		bool listed = false;

		if (req->nsan == 0) {
			pki_err_set(err, "a center certificate needs at least one name");
			return -1;
		}
		for (size_t i = 0; i < req->nsan; i++) {
			if (pki_san_name_check(req->san[i], err) == -1)
				return -1;
			if (strcmp(req->san[i], req->cn) == 0)
				listed = true;
		}
		if (!listed || strlen(req->cn) > PKI_NAME_MAX - 1) {
			pki_err_set(err, "the center's CN must be one of its names (at most "
			    "64 characters)");
			return -1;
		}
	} else if (req->role == PKI_ROLE_DEVICE || req->role == PKI_ROLE_SERVICE) {
		if (!pki_device_id_valid(req->cn)) {
			pki_err_set(err, "\"%.80s\" is not a valid device id (lower-case "
			    "host name, at most 64 characters)", req->cn);
			return -1;
		}
	} else if (!cn_valid(req->cn)) {
		pki_err_set(err, "\"%.80s\" is not a valid name (letters, digits, "
		    "space . _ @ -; at most 64)", req->cn);
		return -1;
	}
	if (req->org != NULL && !cn_valid(req->org)) {
		pki_err_set(err, "\"%.80s\" is not a valid organisation name", req->org);
		return -1;
	}
	if ((lifetime = req->lifetime_s) == 0)
		lifetime = pki_profile_lifetime(req->role);
	if (lifetime <= 0) {
		pki_err_set(err, "bad lifetime or role");
		return -1;
	}
	want_issuer = pki_role_issuer(req->role);
	if (req->role == PKI_ROLE_ROOT) {
		if (issuer != NULL) {
			pki_err_set(err, "a root certificate is self-signed");
			return -1;
		}
	} else if (issuer == NULL || pki_cert_role(issuer) != want_issuer) {
		pki_err_set(err, "a %s certificate must be issued by the %s",
		    pki_role_name(req->role), pki_role_name(want_issuer));
		return -1;
	}
	if (pki_key_allowed(req->pubkey, NULL, err) == -1)
		return -1;
	signer = keystore_key_evp(issuer_key);
	if (issuer != NULL ? X509_check_private_key(issuer, signer) != 1 :
	    EVP_PKEY_eq(req->pubkey, signer) != 1) {
		ERR_clear_error();
		pki_err_set(err, "the signing key does not belong to the issuer");
		return -1;
	}
	if (subject_org(issuer, req->org, org, sizeof(org)) == -1) {
		pki_err_set(err, "organisation name too long");
		return -1;
	}

	/* the lifetime counts from now (or the requested start); the back-dating
	 * for clock skew does not eat into it (short-lived service certificates) */
	nb = req->not_before != 0 ? req->not_before : now_wall_s() - PKI_BACKDATE;
	na = (req->not_before != 0 ? req->not_before : now_wall_s()) + lifetime;
	if (issuer != NULL) {
		/* a certificate never outlives its issuer */
		issuer_na = pki_cert_not_after(issuer);
		if (issuer_na < na)
			na = issuer_na;
		if (na <= nb) {
			pki_err_set(err, "the issuer has expired");
			return -1;
		}
	}

	if ((x = X509_new()) == NULL || (name = X509_NAME_new()) == NULL)
		goto fail;
	if (!X509_set_version(x, X509_VERSION_3) || set_random_serial(x) == -1)
		goto fail;
	if (!X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
	    (const unsigned char *)org, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)req->cn, -1, -1, 0))
		goto fail;
	if (!X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name))
		goto fail;
	if (ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na) == NULL)
		goto fail;
	if (!X509_set_pubkey(x, req->pubkey))
		goto fail;
	if (pki_profile_apply(x, issuer, req->role, req->san, req->nsan, req->cn, err) == -1)
		goto fail_quiet;
	if (X509_sign(x, signer, pki_hash_md(pki_key_hash(signer))) <= 0)
		goto fail;
	/* what we issue must pass our own verifier's profile check */
	if (pki_profile_check(x, req->role, err) == -1)
		goto fail_quiet;
	X509_NAME_free(name);
	*out = x;
	return 0;
fail:
	pki_err_ssl(err, "cannot issue the %s certificate", pki_role_name(req->role));
fail_quiet:
	X509_NAME_free(name);
	X509_free(x);
	return -1;
}

int
pki_csr_check(X509_REQ *req, struct pki_err *err)
{
	EVP_PKEY *pk = X509_REQ_get0_pubkey(req);

	if (pk == NULL) {
		pki_err_ssl(err, "CSR has no usable public key");
		return -1;
	}
	if (pki_key_allowed(pk, NULL, err) == -1)
		return -1;
	if (X509_REQ_verify(req, pk) != 1) {
		pki_err_ssl(err, "CSR signature does not verify");
		return -1;
	}
	return 0;
}

int
pki_service_issue(const uint8_t *csr, size_t csrlen, const char *device_id,
    X509 *service_ca, struct keystore_key *ca_key, int64_t lifetime_s, X509 **out,
    struct pki_err *err)
{
	struct pki_issue_req ir = { .role = PKI_ROLE_SERVICE };
	X509_REQ *req = NULL;
	X509_NAME *subj;
	char cn[PKI_NAME_MAX];
	int r = -1;

	if (device_id == NULL || !pki_device_id_valid(device_id)) {
		pki_err_set(err, "invalid device id");
		return -1;
	}
	if (lifetime_s < 0) {
		pki_err_set(err, "negative lifetime");
		return -1;
	}
	if (pki_csr_parse(csr, csrlen, &req, err) == -1 || pki_csr_check(req, err) == -1)
		goto out;
	subj = X509_REQ_get_subject_name(req);
	if (X509_NAME_entry_count(subj) > 0 &&
	    (name_cn(subj, cn, sizeof(cn)) == -1 || strcmp(cn, device_id) != 0)) {
		pki_err_set(err, "CSR subject is not CN=%s", device_id);
		goto out;
	}
	/* requested extensions are ignored: the profile alone decides */
	ir.pubkey = X509_REQ_get0_pubkey(req);
	ir.cn = device_id;
	ir.lifetime_s = lifetime_s;
	r = pki_issue(&ir, service_ca, ca_key, out, err);
out:
	X509_REQ_free(req);
	return r;
}

int
pki_csr_build(struct keystore_key *key, const char *device_id, X509_REQ **out,
    struct pki_err *err)
{
	EVP_PKEY *pub = NULL, *priv;
	X509_REQ *req = NULL;
	X509_NAME *name;

	if (!pki_device_id_valid(device_id)) {
		pki_err_set(err, "invalid device id");
		return -1;
	}
	priv = keystore_key_evp(key);
	if ((pub = keystore_key_public(key)) == NULL || (req = X509_REQ_new()) == NULL)
		goto fail;
	if (!X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    (name = X509_REQ_get_subject_name(req)) == NULL ||
	    !X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)device_id, -1, -1, 0) ||
	    !X509_REQ_set_pubkey(req, pub) ||
	    X509_REQ_sign(req, priv, pki_hash_md(pki_key_hash(priv))) <= 0)
		goto fail;
	EVP_PKEY_free(pub);
	*out = req;
	return 0;
fail:
	pki_err_ssl(err, "cannot build the CSR");
	EVP_PKEY_free(pub);
	X509_REQ_free(req);
	return -1;
}

/* the one CN of a name, as UTF-8 without NULs; -1 if absent, repeated or too long */
static int
name_cn(const X509_NAME *n, char *out, size_t cap)
{
	unsigned char *u = NULL;
	int idx, len;

	out[0] = '\0';
	idx = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	if (idx < 0 || X509_NAME_get_index_by_NID(n, NID_commonName, idx) >= 0)
		return -1;
	len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx)));
	if (len < 0 || (size_t)len >= cap || memchr(u, 0, (size_t)len) != NULL) {
		OPENSSL_free(u);
		return -1;
	}
	memcpy(out, u, (size_t)len);
	out[len] = '\0';
	OPENSSL_free(u);
	return 0;
}

int
pki_cert_cn(const X509 *x, char *out, size_t cap)
{
	if (cap == 0)
		return -1;
	return name_cn(X509_get_subject_name(x), out, cap);
}

int
pki_cert_serial(const X509 *x, char *out)
{
	return pki_serial_from_asn1(X509_get0_serialNumber(x), out);
}

int64_t
pki_cert_not_before(const X509 *x)
{
	int64_t t = 0;

	(void)pki_asn1_time_get(X509_get0_notBefore(x), &t);
	return t;
}

int64_t
pki_cert_not_after(const X509 *x)
{
	int64_t t = 0;

	(void)pki_asn1_time_get(X509_get0_notAfter(x), &t);
	return t;
}
