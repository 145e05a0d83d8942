/*
 * Certificate profiles: what makes a device (tier 1), service (tier 2), center
 * or admin certificate, and the CAs that issue them (REQ-PKI-3, docs/PKI.md
 * "Profiles"). The same table drives issuance (pki_profile_apply) and
 * verification (pki_profile_check), so the two cannot drift apart.
 *
 * Interop: nothing here is critical that strongSwan 5.9.8 does not parse
 * (basicConstraints and keyUsage are; certificatePolicies, EKU and SAN are
 * non-critical). The root carries anyPolicy so that strongSwan's policy
 * processing lets a `cert_policy` constraint on the service OID pass.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/util.h"
#include "pki/pki.h"
#include "pki/pki_internal.h"

/* extended key usages we distinguish */
#define EKU_CLIENT	0x1
#define EKU_SERVER	0x2
#define EKU_IKE		0x4
#define EKU_OTHER	0x8	/* anything else, anyExtendedKeyUsage included */

struct profile {
	enum pki_role	 role;
	bool		 ca;
	const char	*bc;		/* basicConstraints, conf syntax */
	const char	*ku;		/* keyUsage, conf syntax */
	const char	*eku;		/* extendedKeyUsage or NULL */
	unsigned	 eku_bits;	/* exactly these */
	const char	*policies[3];	/* certificatePolicies OIDs */
	enum pki_role	 issuer;
	int64_t		 lifetime;
};

static const struct profile profiles[] = {
	{ PKI_ROLE_ROOT, true, "critical,CA:TRUE,pathlen:1",
	    "critical,keyCertSign,cRLSign", NULL, 0,
	    { "2.5.29.32.0" /* anyPolicy */ }, PKI_ROLE_NONE, PKI_LIFETIME_ROOT },
	{ PKI_ROLE_DEVICE_CA, true, "critical,CA:TRUE,pathlen:0",
	    "critical,keyCertSign,cRLSign", NULL, 0,
	    { PKI_OID_POLICY_DEVICE }, PKI_ROLE_ROOT, PKI_LIFETIME_CA },
	{ PKI_ROLE_SERVICE_CA, true, "critical,CA:TRUE,pathlen:0",
	    "critical,keyCertSign,cRLSign", NULL, 0,
	    { PKI_OID_POLICY_SERVICE, PKI_OID_POLICY_CENTER, PKI_OID_POLICY_ADMIN },
	    PKI_ROLE_ROOT, PKI_LIFETIME_CA },
	{ PKI_ROLE_DEVICE, false, "CA:FALSE", "critical,digitalSignature",
	    "clientAuth", EKU_CLIENT,
	    { PKI_OID_POLICY_DEVICE }, PKI_ROLE_DEVICE_CA, PKI_LIFETIME_DEVICE },
	{ PKI_ROLE_SERVICE, false, "CA:FALSE", "critical,digitalSignature",
	    "ipsecIKE,clientAuth,serverAuth", EKU_IKE | EKU_CLIENT | EKU_SERVER,
	    { PKI_OID_POLICY_SERVICE }, PKI_ROLE_SERVICE_CA, PKI_LIFETIME_SERVICE },
	{ PKI_ROLE_CENTER, false, "CA:FALSE", "critical,digitalSignature",
	    "serverAuth", EKU_SERVER,
	    { PKI_OID_POLICY_CENTER }, PKI_ROLE_SERVICE_CA, PKI_LIFETIME_CENTER },
	{ PKI_ROLE_ADMIN, false, "CA:FALSE", "critical,digitalSignature",
	    "clientAuth", EKU_CLIENT,
	    { PKI_OID_POLICY_ADMIN }, PKI_ROLE_SERVICE_CA, PKI_LIFETIME_ADMIN },
};

/* the four end-entity policy OIDs, indexed by role */
static const char *const role_oids[] = {
	[PKI_ROLE_DEVICE] = PKI_OID_POLICY_DEVICE,
	[PKI_ROLE_SERVICE] = PKI_OID_POLICY_SERVICE,
	[PKI_ROLE_CENTER] = PKI_OID_POLICY_CENTER,
	[PKI_ROLE_ADMIN] = PKI_OID_POLICY_ADMIN,
};

static const struct profile *
profile_lookup(enum pki_role role)
{
	for (size_t i = 0; i < nitems(profiles); i++)
		if (profiles[i].role == role)
			return &profiles[i];
	return NULL;
}

const char *
pki_role_policy_oid(enum pki_role role)
{
	if ((size_t)role >= nitems(role_oids))
		return NULL;
	return role_oids[role];
}

enum pki_role
pki_role_issuer(enum pki_role role)
{
	const struct profile *p = profile_lookup(role);

	return p == NULL ? PKI_ROLE_NONE : p->issuer;
}

int64_t
pki_profile_lifetime(enum pki_role role)
{
	const struct profile *p = profile_lookup(role);

	return p == NULL ? 0 : p->lifetime;
}

/*
 * Bit i set when the certificate carries role_oids[i]; -1 when the extension is
 * malformed or repeated (a certificate must not be read two ways).
 */
static int
policy_bits(const X509 *x, unsigned *bits)
{
	CERTIFICATEPOLICIES *cp;
	char txt[128];
	int crit = -1;

	*bits = 0;
	cp = X509_get_ext_d2i(x, NID_certificate_policies, &crit, NULL);
	if (cp == NULL)
		return crit == -1 ? 0 : -1;
	for (int i = 0; i < sk_POLICYINFO_num(cp); i++) {
		POLICYINFO *pi = sk_POLICYINFO_value(cp, i);

		if (OBJ_obj2txt(txt, sizeof(txt), pi->policyid, 1) <= 0)
			continue;
		for (size_t r = 0; r < nitems(role_oids); r++)
			if (role_oids[r] != NULL && strcmp(txt, role_oids[r]) == 0)
				*bits |= PKI_ROLE_BIT(r);
	}
	CERTIFICATEPOLICIES_free(cp);
	return 0;
}

int
pki_cert_has_policy(const X509 *x, const char *oid)
{
	CERTIFICATEPOLICIES *cp;
	char txt[128];
	int found = 0;

	cp = X509_get_ext_d2i(x, NID_certificate_policies, NULL, NULL);
	if (cp == NULL)
		return 0;
	for (int i = 0; i < sk_POLICYINFO_num(cp) && !found; i++) {
		POLICYINFO *pi = sk_POLICYINFO_value(cp, i);

		if (OBJ_obj2txt(txt, sizeof(txt), pi->policyid, 1) > 0 &&
		    strcmp(txt, oid) == 0)
			found = 1;
	}
	CERTIFICATEPOLICIES_free(cp);
	return found;
}

/* -1 when the extension is malformed or repeated */
static int
eku_bits(const X509 *x, unsigned *bits, bool *present)
{
	EXTENDED_KEY_USAGE *eku;
	int crit = -1;

	*bits = 0;
	*present = false;
	eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
	if (eku == NULL)
		return crit == -1 ? 0 : -1;
	*present = true;
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		switch (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i))) {
		case NID_client_auth:
			*bits |= EKU_CLIENT;
			break;
		case NID_server_auth:
			*bits |= EKU_SERVER;
			break;
		case NID_ipsec_IKE:
			*bits |= EKU_IKE;
			break;
		default:
			*bits |= EKU_OTHER;
			break;
		}
	}
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return 0;
}

enum pki_role
pki_cert_role(const X509 *cx)
{
	X509 *x = (X509 *)cx;	/* the flag getters cache, hence not const */
	unsigned bits;

	if (policy_bits(x, &bits) == -1)
		return PKI_ROLE_NONE;
	if (X509_check_ca(x) >= 1) {
		if (X509_self_signed(x, 0) == 1)
			return PKI_ROLE_ROOT;
		if (bits == PKI_ROLE_BIT(PKI_ROLE_DEVICE))
			return PKI_ROLE_DEVICE_CA;
		if ((bits & PKI_ROLE_BIT(PKI_ROLE_DEVICE)) == 0 &&
		    (bits & PKI_ROLE_BIT(PKI_ROLE_SERVICE)) != 0)
			return PKI_ROLE_SERVICE_CA;
		return PKI_ROLE_NONE;
	}
	for (size_t r = 0; r < nitems(role_oids); r++)
		if (role_oids[r] != NULL && bits == PKI_ROLE_BIT(r))
			return (enum pki_role)r;
	return PKI_ROLE_NONE;
}

int
pki_profile_check(const X509 *cx, enum pki_role role, struct pki_err *err)
{
	const struct profile *p = profile_lookup(role);
	X509 *x = (X509 *)cx;
	const char *name = pki_role_name(role);
	unsigned pbits, ebits, want;
	uint32_t ku;
	bool has_eku;

	if (p == NULL) {
		pki_err_set(err, "no profile for role %s", name);
		return -1;
	}
	if (policy_bits(x, &pbits) == -1 || eku_bits(x, &ebits, &has_eku) == -1) {
		pki_err_set(err, "malformed or repeated policy/EKU extension");
		return -1;
	}
	ku = X509_get_key_usage(x);
	if (p->ca) {
		if (X509_check_ca(x) < 1) {
			pki_err_set(err, "not a CA certificate (expected %s)", name);
			return -1;
		}
		if (ku == UINT32_MAX || (ku & KU_KEY_CERT_SIGN) == 0) {
			pki_err_set(err, "%s certificate lacks keyCertSign", name);
			return -1;
		}
		switch (role) {
		case PKI_ROLE_DEVICE_CA:
			want = PKI_ROLE_BIT(PKI_ROLE_DEVICE);
			break;
		case PKI_ROLE_SERVICE_CA:
			want = PKI_ROLE_BIT(PKI_ROLE_SERVICE) | PKI_ROLE_BIT(PKI_ROLE_CENTER) |
			    PKI_ROLE_BIT(PKI_ROLE_ADMIN);
			break;
		default:
			return 0;	/* the root: anchored by pinning, not by profile */
		}
		if (pbits != want) {
			pki_err_set(err, "issuing CA is not a %s (its certificate policies "
			    "do not match that tier)", name);
			return -1;
		}
		return 0;
	}
	if (X509_check_ca(x) != 0) {
		pki_err_set(err, "a CA certificate cannot be used as %s", name);
		return -1;
	}
	if ((pbits & PKI_ROLE_BIT(role)) == 0) {
		enum pki_role claimed = pki_cert_role(x);

		if (claimed != PKI_ROLE_NONE)
			pki_err_set(err, "certificate has role %s, not %s (policy OID)",
			    pki_role_name(claimed), name);
		else
			pki_err_set(err, "certificate lacks the %s policy OID", name);
		return -1;
	}
	if (pbits != PKI_ROLE_BIT(role)) {
		pki_err_set(err, "certificate claims more than one role");
		return -1;
	}
	if (ku == UINT32_MAX || (ku & KU_DIGITAL_SIGNATURE) == 0 ||
	    (ku & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) != 0) {
		pki_err_set(err, "keyUsage does not fit a %s certificate", name);
		return -1;
	}
	if (!has_eku || ebits != p->eku_bits) {
		pki_err_set(err, "extendedKeyUsage does not fit a %s certificate", name);
		return -1;
	}
	return 0;
}

/* a DNS name as we issue it in a SAN: LDH labels, any case */
static bool
dns_name_valid(const char *s)
{
	size_t n = strlen(s), lab = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (lab == 0 || lab > 63 || s[i - 1] == '-')
				return false;
			lab = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-') || (lab == 0 && c == '-'))
			return false;
		lab++;
	}
	return true;
}

int
pki_san_name_check(const char *name, struct pki_err *err)
{
	ASN1_OCTET_STRING *ip = a2i_IPADDRESS(name);

	if (ip != NULL) {
		ASN1_OCTET_STRING_free(ip);
		return 0;
	}
	ERR_clear_error();
	if (dns_name_valid(name))
		return 0;
	pki_err_set(err, "\"%.80s\" is neither a DNS name nor an IP address", name);
	return -1;
}

static int
add_san(X509 *x, const char *const *names, size_t n, struct pki_err *err)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	int r = -1;

	if (gens == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_OCTET_STRING *ip;

		if (g == NULL)
			goto out;
		if ((ip = a2i_IPADDRESS(names[i])) != NULL) {
			GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
		} else {
			ASN1_IA5STRING *dns;

			ERR_clear_error();
			if (!dns_name_valid(names[i])) {
				GENERAL_NAME_free(g);
				pki_err_set(err, "\"%.80s\" is neither a DNS name nor an IP "
				    "address", names[i]);
				goto out;
			}
			if ((dns = ASN1_IA5STRING_new()) == NULL ||
			    !ASN1_STRING_set(dns, names[i], (int)strlen(names[i]))) {
				ASN1_IA5STRING_free(dns);
				GENERAL_NAME_free(g);
				goto out;
			}
			GENERAL_NAME_set0_value(g, GEN_DNS, dns);
		}
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)
		goto out;
	r = 0;
out:
	if (r == -1 && err != NULL && err->msg[0] == '\0')
		pki_err_ssl(err, "cannot build subjectAltName");
	GENERAL_NAMES_free(gens);
	return r;
}

static int
add_policies(X509 *x, const char *const *oids, size_t n, struct pki_err *err)
{
	CERTIFICATEPOLICIES *cp = sk_POLICYINFO_new_null();
	int r = -1;

	if (cp == NULL)
		goto out;
	for (size_t i = 0; i < n && oids[i] != NULL; i++) {
		POLICYINFO *pi = POLICYINFO_new();

		if (pi == NULL)
			goto out;
		ASN1_OBJECT_free(pi->policyid);
		if ((pi->policyid = OBJ_txt2obj(oids[i], 1)) == NULL ||
		    !sk_POLICYINFO_push(cp, pi)) {
			POLICYINFO_free(pi);
			goto out;
		}
	}
	/* non-critical (RFC 5280 4.2.1.4 allows either; strongSwan needs nothing more) */
	if (X509_add1_ext_i2d(x, NID_certificate_policies, cp, 0, X509V3_ADD_DEFAULT) != 1)
		goto out;
	r = 0;
out:
	if (r == -1)
		pki_err_ssl(err, "cannot build certificatePolicies");
	sk_POLICYINFO_pop_free(cp, POLICYINFO_free);
	return r;
}

static int
add_conf(X509 *x, X509V3_CTX *ctx, int nid, const char *value, struct pki_err *err)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok;

	if (ext == NULL) {
		pki_err_ssl(err, "cannot build %s", OBJ_nid2sn(nid));
		return -1;
	}
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!ok) {
		pki_err_ssl(err, "cannot add %s", OBJ_nid2sn(nid));
		return -1;
	}
	return 0;
}

int
pki_profile_apply(X509 *x, X509 *issuer, enum pki_role role, const char *const *san,
    size_t nsan, const char *cn, struct pki_err *err)
{
	const struct profile *p = profile_lookup(role);
	X509V3_CTX ctx;

	if (err != NULL)
		err->msg[0] = '\0';
	if (p == NULL) {
		pki_err_set(err, "no profile for role %s", pki_role_name(role));
		return -1;
	}
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	if (add_conf(x, &ctx, NID_basic_constraints, p->bc, err) == -1 ||
	    add_conf(x, &ctx, NID_key_usage, p->ku, err) == -1 ||
	    (p->eku != NULL &&
	    add_conf(x, &ctx, NID_ext_key_usage, p->eku, err) == -1) ||
	    add_policies(x, p->policies, nitems(p->policies), err) == -1 ||
	    add_conf(x, &ctx, NID_subject_key_identifier, "hash", err) == -1 ||
	    add_conf(x, &ctx, NID_authority_key_identifier, "keyid:always", err) == -1)
		return -1;
	switch (role) {
	case PKI_ROLE_SERVICE:
		/* the IKE identity (ID_FQDN, RFC 7296 3.5) must be in the SAN */
		return add_san(x, &cn, 1, err);
	case PKI_ROLE_CENTER:
		if (nsan == 0) {
			pki_err_set(err, "a center certificate needs at least one name");
			return -1;
		}
		return add_san(x, san, nsan, err);
	default:
		return 0;
	}
}
