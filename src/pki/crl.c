/*
 * Certificate revocation lists (REQ-PKI-5; RFC 5280 section 5). The center
 * builds the service CA's CRL from its database and pushes the revoked serials
 * to devices; `odvpn pki revoke` maintains the CRLs of a PKI directory.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/util.h"
#include "pki/keystore.h"
#include "pki/pki.h"
#include "pki/pki_internal.h"

static const struct {
	enum pki_crl_reason	 code;
	const char		*name;
} reasons[] = {
	{ PKI_REASON_UNSPECIFIED,		"unspecified" },
	{ PKI_REASON_KEY_COMPROMISE,		"keyCompromise" },
	{ PKI_REASON_CA_COMPROMISE,		"cACompromise" },
	{ PKI_REASON_AFFILIATION_CHANGED,	"affiliationChanged" },
	{ PKI_REASON_SUPERSEDED,		"superseded" },
	{ PKI_REASON_CESSATION,			"cessationOfOperation" },
	{ PKI_REASON_HOLD,			"certificateHold" },
	{ PKI_REASON_PRIVILEGE_WITHDRAWN,	"privilegeWithdrawn" },
	{ PKI_REASON_AA_COMPROMISE,		"aACompromise" },
};

int
pki_crl_reason_parse(const char *s, enum pki_crl_reason *out)
{
	for (size_t i = 0; i < nitems(reasons); i++) {
		if (strcasecmp(s, reasons[i].name) == 0) {
			*out = reasons[i].code;
			return 0;
		}
	}
	return -1;
}

const char *
pki_crl_reason_name(enum pki_crl_reason r)
{
	for (size_t i = 0; i < nitems(reasons); i++)
		if (reasons[i].code == r)
			return reasons[i].name;
	return "none";
}

static bool
reason_known(enum pki_crl_reason r)
{
	return r == PKI_REASON_NONE || strcmp(pki_crl_reason_name(r), "none") != 0;
}

static int
add_entry(X509_CRL *crl, const struct pki_revoked *e, struct pki_err *err)
{
	X509_REVOKED *rev = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *when = NULL;
	ASN1_ENUMERATED *code = NULL;
	int r = -1;

	if (!reason_known(e->reason)) {
		pki_err_set(err, "unknown revocation reason %d", (int)e->reason);
		return -1;
	}
	if ((serial = pki_serial_to_asn1(e->serial)) == NULL) {
		pki_err_set(err, "bad serial \"%.45s\" in the revocation list", e->serial);
		return -1;
	}
	if ((rev = X509_REVOKED_new()) == NULL ||
	    (when = ASN1_TIME_set(NULL, (time_t)e->when)) == NULL ||
	    !X509_REVOKED_set_serialNumber(rev, serial) ||
	    !X509_REVOKED_set_revocationDate(rev, when))
		goto fail;
	if (e->reason != PKI_REASON_NONE) {
		if ((code = ASN1_ENUMERATED_new()) == NULL ||
		    !ASN1_ENUMERATED_set(code, (long)e->reason) ||
		    X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, code, 0, 0) != 1)
			goto fail;
	}
	if (!X509_CRL_add0_revoked(crl, rev))
		goto fail;
	rev = NULL;
	r = 0;
	goto out;
fail:
	pki_err_ssl(err, "cannot add serial %s to the CRL", e->serial);
out:
	X509_REVOKED_free(rev);
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(when);
	ASN1_ENUMERATED_free(code);
	return r;
}

int
pki_crl_build(X509 *ca, struct keystore_key *ca_key, const struct pki_revoked *list,
    size_t n, uint64_t crl_number, int64_t this_update, int64_t lifetime_s,
    X509_CRL **out, struct pki_err *err)
{
	EVP_PKEY *signer = keystore_key_evp(ca_key);
	const ASN1_OCTET_STRING *ski;
	AUTHORITY_KEYID *akid = NULL;
	ASN1_INTEGER *num = NULL;
	ASN1_TIME *t = NULL;
	X509_CRL *crl = NULL;
	uint32_t ku;

	if (X509_check_ca(ca) < 1 || (ku = X509_get_key_usage(ca)) == UINT32_MAX ||
	    (ku & KU_CRL_SIGN) == 0) {
		pki_err_set(err, "the CRL signer is not a CA with cRLSign");
		return -1;
	}
	if (X509_check_private_key(ca, signer) != 1) {
		ERR_clear_error();
		pki_err_set(err, "the signing key does not belong to the CA");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++) {
			char a[PKI_SERIAL_HEX_MAX], b[PKI_SERIAL_HEX_MAX];

			if (pki_serial_parse(list[i].serial, a, NULL) == 0 &&
			    pki_serial_parse(list[j].serial, b, NULL) == 0 &&
			    strcmp(a, b) == 0) {
				pki_err_set(err, "serial %s listed twice", a);
				return -1;
			}
		}
	}
	if (this_update == 0)
		this_update = now_wall_s();
	if (lifetime_s <= 0)
		lifetime_s = PKI_LIFETIME_CRL;

	if ((crl = X509_CRL_new()) == NULL ||
	    !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) ||
	    (t = ASN1_TIME_set(NULL, (time_t)this_update)) == NULL ||
	    !X509_CRL_set1_lastUpdate(crl, t) ||
	    ASN1_TIME_set(t, (time_t)(this_update + lifetime_s)) == NULL ||
	    !X509_CRL_set1_nextUpdate(crl, t))
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (add_entry(crl, &list[i], err) == -1)
			goto fail_quiet;
	if (!X509_CRL_sort(crl))
		goto fail;
	if ((ski = X509_get0_subject_key_id(ca)) != NULL) {
		if ((akid = AUTHORITY_KEYID_new()) == NULL ||
		    (akid->keyid = ASN1_OCTET_STRING_dup(ski)) == NULL ||
		    X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, 0) != 1)
			goto fail;
	}
	if ((num = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_INTEGER_set_uint64(num, crl_number) ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1)
		goto fail;
	if (X509_CRL_sign(crl, signer, pki_hash_md(pki_key_hash(signer))) <= 0)
		goto fail;
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	*out = crl;
	return 0;
fail:
	pki_err_ssl(err, "cannot build the CRL");
fail_quiet:
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	return -1;
}

int
pki_crl_verify(X509_CRL *crl, X509 *ca, struct pki_err *err)
{
	EVP_PKEY *pk = X509_get0_pubkey(ca);
	const ASN1_OCTET_STRING *ski;
	AUTHORITY_KEYID *akid;
	uint32_t ku;
	int mismatch = 0;

	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) != 0) {
		pki_err_set(err, "CRL was not issued by this CA (issuer name)");
		return -1;
	}
	akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL);
	ski = X509_get0_subject_key_id(ca);
	if (akid != NULL && akid->keyid != NULL && ski != NULL &&
	    ASN1_OCTET_STRING_cmp(akid->keyid, ski) != 0)
		mismatch = 1;
	AUTHORITY_KEYID_free(akid);
	if (mismatch) {
		pki_err_set(err, "CRL was not issued by this CA (key identifier)");
		return -1;
	}
	if (X509_check_ca(ca) < 1 || (ku = X509_get_key_usage(ca)) == UINT32_MAX ||
	    (ku & KU_CRL_SIGN) == 0) {
		pki_err_set(err, "CRL issuer is not a CA with cRLSign");
		return -1;
	}
	if (pk == NULL || X509_CRL_verify(crl, pk) != 1) {
		pki_err_ssl(err, "CRL signature does not verify");
		return -1;
	}
	return 0;
}

static int
entry_get(const X509_REVOKED *rev, struct pki_revoked *e)
{
	ASN1_ENUMERATED *code;
	int crit = -1;
	long v;

	memset(e, 0, sizeof(*e));
	if (pki_serial_from_asn1(X509_REVOKED_get0_serialNumber(rev), e->serial) == -1 ||
	    pki_asn1_time_get(X509_REVOKED_get0_revocationDate(rev), &e->when) == -1)
		return -1;
	e->reason = PKI_REASON_NONE;
	code = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL);
	if (code == NULL)
		return crit == -1 ? 0 : -1;
	v = ASN1_ENUMERATED_get(code);
	ASN1_ENUMERATED_free(code);
	if (v < 0 || v > 10)
		return -1;
	e->reason = (enum pki_crl_reason)v;
	return 0;
}

int
pki_crl_entries(const X509_CRL *crl, struct pki_revoked **out, size_t *n,
    struct pki_err *err)
{
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED((X509_CRL *)crl);
	int cnt = revs == NULL ? 0 : sk_X509_REVOKED_num(revs);
	struct pki_revoked *list = NULL;

	*out = NULL;
	*n = 0;
	if (cnt <= 0)
		return 0;
	list = xcalloc((size_t)cnt, sizeof(*list));
	for (int i = 0; i < cnt; i++) {
		if (entry_get(sk_X509_REVOKED_value(revs, i), &list[i]) == -1) {
			free(list);
			pki_err_set(err, "CRL entry %d is malformed", i);
			return -1;
		}
	}
	*out = list;
	*n = (size_t)cnt;
	return 0;
}

uint64_t
pki_crl_number(const X509_CRL *crl)
{
	ASN1_INTEGER *num;
	uint64_t v = 0;

	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	if (num == NULL)
		return 0;
	if (!ASN1_INTEGER_get_uint64(&v, num))
		v = 0;
	ASN1_INTEGER_free(num);
	return v;
}

int
pki_crl_lookup(const X509_CRL *crl, const char *serial_hex, struct pki_revoked *out)
{
	ASN1_INTEGER *serial;
	X509_REVOKED *rev = NULL;
	int found;

	if ((serial = pki_serial_to_asn1(serial_hex)) == NULL)
		return -1;
	found = X509_CRL_get0_by_serial((X509_CRL *)crl, &rev, serial);
	ASN1_INTEGER_free(serial);
	if (found != 1 || rev == NULL)
		return 0;
	if (out != NULL && entry_get(rev, out) == -1) {
		/* an entry we cannot read is still a revocation */
		memset(out, 0, sizeof(*out));
		(void)pki_serial_parse(serial_hex, out->serial, NULL);
		out->reason = PKI_REASON_UNSPECIFIED;
	}
	return 1;
}
