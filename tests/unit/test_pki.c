/*
 * The two-tier PKI (src/pki/pki.h): certificate profiles, the verifier's role
 * separation in every direction, CSR handling, CRLs, root pinning, the other
 * key algorithms, the PKI directory, and the verifier inside a TLS handshake.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki/keystore.h"
#include "pki/pki.h"

#define DEVICE_ID	"clinic-01.example"

/* one P-256 PKI shared by the tests (read-only; tests that change it copy) */
struct fx {
	char			 tmp[64];
	char			 pkidir[128];
	struct pki_dir		*pd;
	struct keystore		*devks;		/* the device's key store */
	struct keystore_key	*sca_key;	/* service CA key */
	struct keystore_key	*dca_key;	/* device CA key */
	struct keystore_key	*svc_key;	/* the device's service key */
	X509			*device;	/* tier 1 for DEVICE_ID */
	X509			*service;	/* tier 2 for DEVICE_ID */
};

static struct fx *F;

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static void
die(const char *what, const struct pki_err *err)
{
	fprintf(stderr, "setup: %s: %s\n", what, err->msg);
	exit(1);
}

/* a service certificate for id through the real CSR path */
static X509 *
make_service(struct keystore *ks, const char *label, const char *id,
    struct keystore_key **key_out)
{
	struct pki_err err = { "" };
	struct keystore_key *k;
	X509_REQ *req;
	uint8_t *der;
	size_t len;
	X509 *x;

	if (keystore_key_generate(ks, label, PKI_ALG_P256, &k, &err) == -1)
		die("service key", &err);
	if (pki_csr_build(k, id, &req, &err) == -1)
		die("csr", &err);
	if (pki_csr_der(req, &der, &len) == -1)
		die("csr der", &err);
	if (pki_service_issue(der, len, id, F->pd->service_ca, F->sca_key, 0, &x, &err) == -1)
		die("service issue", &err);
	free(der);
	X509_REQ_free(req);
	if (key_out != NULL)
		*key_out = k;
	else
		keystore_key_free(k);
	return x;
}

static int
group_setup(void **state)
{
	struct pki_init_opts o = { .alg = PKI_ALG_P256 };
	struct pki_err err = { "" };
	char ks[256];

	F = calloc(1, sizeof(*F));
	snprintf(F->tmp, sizeof(F->tmp), "/tmp/odvpn-pki.XXXXXX");
	if (mkdtemp(F->tmp) == NULL)
		return -1;
	snprintf(F->pkidir, sizeof(F->pkidir), "%s/pki", F->tmp);
	snprintf(ks, sizeof(ks), "file:%s/device-ks", F->tmp);
	if (pki_dir_init(F->pkidir, &o, &err) == -1)
		die("init", &err);
	if (pki_dir_load(F->pkidir, &F->pd, &err) == -1)
		die("load", &err);
	if (keystore_key_load(F->pd->keys, PKI_LABEL_SERVICE_CA, &F->sca_key, &err) == -1 ||
	    keystore_key_load(F->pd->keys, PKI_LABEL_DEVICE_CA, &F->dca_key, &err) == -1)
		die("CA keys", &err);
	if (keystore_open(ks, KEYSTORE_CREATE, &F->devks, &err) == -1)
		die("device key store", &err);
	if (pki_dir_issue_device(F->pd, F->devks, DEVICE_ID, PKI_ALG_NONE, false, &F->device,
	    &err) == -1)
		die("issue device", &err);
	F->service = make_service(F->devks, PKI_LABEL_SERVICE, DEVICE_ID, &F->svc_key);
	*state = F;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	X509_free(F->device);
	X509_free(F->service);
	keystore_key_free(F->sca_key);
	keystore_key_free(F->dca_key);
	keystore_key_free(F->svc_key);
	keystore_close(F->devks);
	pki_dir_free(F->pd);
	nftw(F->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(F);
	return 0;
}

static struct pki_trust *
trust(void)
{
	struct pki_err err = { "" };
	struct pki_trust *t = NULL;

	assert_int_equal(pki_dir_trust(F->pd, &t, &err), 0);
	return t;
}

/* pki_verify with a fresh trust set of the shared PKI */
static int
verify(X509 *x, unsigned roles, const char *id, int64_t now, struct pki_err *err)
{
	struct pki_verify_opts o = { .roles = roles, .identity = id, .now = now };
	struct pki_trust *t = trust();
	enum pki_role role = PKI_ROLE_NONE;
	int r;

	r = pki_verify(t, x, &o, &role, err);
	pki_trust_free(t);
	if (r == 0)
		assert_int_equal(roles & PKI_ROLE_BIT(role), PKI_ROLE_BIT(role));
	return r;
}

#define BIT(r)	PKI_ROLE_BIT(PKI_ROLE_##r)

/* ---- profiles --------------------------------------------------------- */

static bool
has_policy(X509 *x, const char *oid)
{
	CERTIFICATEPOLICIES *cp = X509_get_ext_d2i(x, NID_certificate_policies, NULL, NULL);
	char txt[128];
	bool found = false;

	for (int i = 0; cp != NULL && i < sk_POLICYINFO_num(cp); i++) {
		OBJ_obj2txt(txt, sizeof(txt), sk_POLICYINFO_value(cp, i)->policyid, 1);
		if (strcmp(txt, oid) == 0)
			found = true;
	}
	CERTIFICATEPOLICIES_free(cp);
	return found;
}

static int
policy_count(X509 *x)
{
	CERTIFICATEPOLICIES *cp = X509_get_ext_d2i(x, NID_certificate_policies, NULL, NULL);
	int n = cp == NULL ? 0 : sk_POLICYINFO_num(cp);

	CERTIFICATEPOLICIES_free(cp);
	return n;
}

/* EKU as a bit set: 1 clientAuth, 2 serverAuth, 4 ipsecIKE, 8 anything else */
static unsigned
eku(X509 *x)
{
	EXTENDED_KEY_USAGE *e = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	unsigned bits = 0;

	for (int i = 0; e != NULL && i < sk_ASN1_OBJECT_num(e); i++) {
		switch (OBJ_obj2nid(sk_ASN1_OBJECT_value(e, i))) {
		case NID_client_auth: bits |= 1; break;
		case NID_server_auth: bits |= 2; break;
		case NID_ipsec_IKE: bits |= 4; break;
		default: bits |= 8; break;
		}
	}
	sk_ASN1_OBJECT_pop_free(e, ASN1_OBJECT_free);
	return bits;
}

static int
critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	return i < 0 ? -1 : X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

/* only basicConstraints and keyUsage may be critical (strongSwan 5.9.8 parses both) */
static void
assert_interop_criticality(X509 *x)
{
	for (int i = 0; i < X509_get_ext_count(x); i++) {
		X509_EXTENSION *e = X509_get_ext(x, i);
		int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));

		if (X509_EXTENSION_get_critical(e))
			assert_true(nid == NID_basic_constraints || nid == NID_key_usage);
	}
	assert_int_equal(critical(x, NID_certificate_policies), 0);
	assert_int_equal(critical(x, NID_key_usage), 1);
}

static bool
san_has_dns(X509 *x, const char *name)
{
	GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool found = false;

	for (int i = 0; g != NULL && i < sk_GENERAL_NAME_num(g); i++) {
		GENERAL_NAME *n = sk_GENERAL_NAME_value(g, i);

		if (n->type == GEN_DNS && (size_t)ASN1_STRING_length(n->d.dNSName) ==
		    strlen(name) && memcmp(ASN1_STRING_get0_data(n->d.dNSName), name,
		    strlen(name)) == 0)
			found = true;
	}
	GENERAL_NAMES_free(g);
	return found;
}

static int
san_count(X509 *x)
{
	GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int n = g == NULL ? 0 : sk_GENERAL_NAME_num(g);

	GENERAL_NAMES_free(g);
	return n;
}

static void
test_profile_cas(void **state)
{
	(void)state;
	/* root: self-signed CA, anyPolicy so strongSwan's cert_policy can match */
	assert_int_equal(pki_cert_role(F->pd->root), PKI_ROLE_ROOT);
	assert_int_equal(X509_check_ca(F->pd->root), 1);
	assert_true(has_policy(F->pd->root, "2.5.29.32.0"));
	assert_int_equal(critical(F->pd->root, NID_basic_constraints), 1);
	assert_interop_criticality(F->pd->root);
	/* device CA: only the device policy, pathlen 0, cert and CRL signing */
	assert_int_equal(pki_cert_role(F->pd->device_ca), PKI_ROLE_DEVICE_CA);
	assert_true(has_policy(F->pd->device_ca, PKI_OID_POLICY_DEVICE));
	assert_int_equal(policy_count(F->pd->device_ca), 1);
	assert_int_equal(X509_get_pathlen(F->pd->device_ca), 0);
	assert_int_equal(X509_get_key_usage(F->pd->device_ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_interop_criticality(F->pd->device_ca);
	/* service CA: service, center and admin policies, never the device one */
	assert_int_equal(pki_cert_role(F->pd->service_ca), PKI_ROLE_SERVICE_CA);
	assert_true(has_policy(F->pd->service_ca, PKI_OID_POLICY_SERVICE));
	assert_true(has_policy(F->pd->service_ca, PKI_OID_POLICY_CENTER));
	assert_true(has_policy(F->pd->service_ca, PKI_OID_POLICY_ADMIN));
	assert_false(has_policy(F->pd->service_ca, PKI_OID_POLICY_DEVICE));
	assert_int_equal(X509_get_pathlen(F->pd->service_ca), 0);
	assert_interop_criticality(F->pd->service_ca);
}

static void
test_profile_device(void **state)
{
	char cn[PKI_NAME_MAX];

	(void)state;
	assert_int_equal(pki_cert_role(F->device), PKI_ROLE_DEVICE);
	assert_int_equal(X509_check_ca(F->device), 0);
	assert_true(has_policy(F->device, PKI_OID_POLICY_DEVICE));
	assert_int_equal(policy_count(F->device), 1);
	assert_int_equal(X509_get_key_usage(F->device), KU_DIGITAL_SIGNATURE);
	assert_int_equal(eku(F->device), 1);		/* clientAuth only: no IKE, no server */
	assert_int_equal(san_count(F->device), 0);	/* not usable as an ID_FQDN */
	assert_int_equal(pki_cert_cn(F->device, cn, sizeof(cn)), 0);
	assert_string_equal(cn, DEVICE_ID);
	assert_int_equal(X509_check_issued(F->pd->device_ca, F->device), X509_V_OK);
	assert_interop_criticality(F->device);
}

static void
test_profile_service(void **state)
{
	char cn[PKI_NAME_MAX], serial[PKI_SERIAL_HEX_MAX];

	(void)state;
	assert_int_equal(pki_cert_role(F->service), PKI_ROLE_SERVICE);
	assert_true(has_policy(F->service, PKI_OID_POLICY_SERVICE));
	assert_int_equal(policy_count(F->service), 1);
	assert_int_equal(X509_get_key_usage(F->service), KU_DIGITAL_SIGNATURE);
	assert_int_equal(eku(F->service), 1 | 2 | 4);	/* clientAuth serverAuth ipsecIKE */
	assert_true(san_has_dns(F->service, DEVICE_ID));	/* the IKE ID_FQDN */
	assert_int_equal(san_count(F->service), 1);
	assert_int_equal(pki_cert_cn(F->service, cn, sizeof(cn)), 0);
	assert_string_equal(cn, DEVICE_ID);
	/* default lifetime 30 days from issuance (notBefore back-dated for clock
	 * skew on top of it); random 16-octet serial */
	assert_true(pki_cert_not_after(F->service) - pki_cert_not_before(F->service) ==
	    30 * PKI_DAY + PKI_BACKDATE);
	assert_int_equal(pki_cert_serial(F->service, serial), 0);
	assert_int_equal(strlen(serial), 32);
	assert_int_equal(X509_check_issued(F->pd->service_ca, F->service), X509_V_OK);
	assert_interop_criticality(F->service);
}

static void
test_profile_center_and_admin(void **state)
{
	(void)state;
	assert_non_null(F->pd->center);
	assert_int_equal(pki_cert_role(F->pd->center), PKI_ROLE_CENTER);
	assert_int_equal(eku(F->pd->center), 2);	/* serverAuth */
	assert_true(san_has_dns(F->pd->center, "localhost"));
	assert_int_equal(X509_check_ip_asc(F->pd->center, "127.0.0.1", 0), 1);
	assert_interop_criticality(F->pd->center);
	assert_non_null(F->pd->admin);
	assert_int_equal(pki_cert_role(F->pd->admin), PKI_ROLE_ADMIN);
	assert_true(has_policy(F->pd->admin, PKI_OID_POLICY_ADMIN));
	assert_int_equal(eku(F->pd->admin), 1);	/* clientAuth */
	assert_int_equal(X509_get_key_usage(F->pd->admin), KU_DIGITAL_SIGNATURE);
	assert_interop_criticality(F->pd->admin);
}

/* ---- roles ------------------------------------------------------------ */

/* each certificate is accepted in its own role and refused in every other */
static void
test_roles_matrix(void **state)
{
	struct {
		X509		*x;
		enum pki_role	 role;
	} certs[4];
	struct pki_err err = { "" };

	(void)state;
	certs[0].x = F->device;		certs[0].role = PKI_ROLE_DEVICE;
	certs[1].x = F->service;	certs[1].role = PKI_ROLE_SERVICE;
	certs[2].x = F->pd->center;	certs[2].role = PKI_ROLE_CENTER;
	certs[3].x = F->pd->admin;	certs[3].role = PKI_ROLE_ADMIN;
	for (int c = 0; c < 4; c++) {
		for (int r = PKI_ROLE_DEVICE; r <= PKI_ROLE_ADMIN; r++) {
			int want = certs[c].role == (enum pki_role)r ? 0 : -1;

			err.msg[0] = '\0';
			assert_int_equal(verify(certs[c].x, PKI_ROLE_BIT(r), NULL, 0, &err), want);
			if (want == -1)
				assert_non_null(strstr(err.msg, "only"));
		}
	}
}

static void
test_tier1_refused_as_service(void **state)
{
	struct pki_err err = { "" };

	(void)state;
	assert_int_equal(verify(F->device, BIT(SERVICE), DEVICE_ID, 0, &err), -1);
	assert_non_null(strstr(err.msg, "has role device"));
	assert_int_equal(verify(F->device, BIT(DEVICE), DEVICE_ID, 0, &err), 0);
}

static void
test_tier2_refused_for_enrolment(void **state)
{
	struct pki_err err = { "" };

	(void)state;
	assert_int_equal(verify(F->service, BIT(DEVICE), DEVICE_ID, 0, &err), -1);
	assert_non_null(strstr(err.msg, "has role service"));
	assert_int_equal(verify(F->service, BIT(SERVICE), DEVICE_ID, 0, &err), 0);
}

static void
test_admin_refused_as_device(void **state)
{
	struct pki_err err = { "" };

	(void)state;
	assert_int_equal(verify(F->pd->admin, BIT(DEVICE), NULL, 0, &err), -1);
	assert_non_null(strstr(err.msg, "has role admin"));
	assert_int_equal(verify(F->pd->admin, BIT(DEVICE) | BIT(ADMIN), "admin", 0, &err), 0);
}

static void
test_ca_refused_as_leaf(void **state)
{
	struct pki_err err = { "" };

	(void)state;
	assert_int_equal(verify(F->pd->service_ca, BIT(SERVICE) | BIT(DEVICE) | BIT(CENTER) |
	    BIT(ADMIN), NULL, 0, &err), -1);
	assert_int_equal(verify(F->pd->root, BIT(SERVICE), NULL, 0, &err), -1);
}

static void
test_identity(void **state)
{
	struct pki_err err = { "" };

	(void)state;
	assert_int_equal(verify(F->service, BIT(SERVICE), DEVICE_ID, 0, &err), 0);
	assert_int_equal(verify(F->service, BIT(SERVICE), "CLINIC-01.example", 0, &err), 0);
	assert_int_equal(verify(F->service, BIT(SERVICE), "lab-02.example", 0, &err), -1);
	assert_non_null(strstr(err.msg, "does not name"));
	assert_int_equal(verify(F->device, BIT(DEVICE), "lab-02.example", 0, &err), -1);
	assert_int_equal(verify(F->pd->center, BIT(CENTER), "127.0.0.1", 0, &err), 0);
	assert_int_equal(verify(F->pd->center, BIT(CENTER), "localhost", 0, &err), 0);
	assert_int_equal(verify(F->pd->center, BIT(CENTER), "10.0.0.1", 0, &err), -1);
	assert_int_equal(verify(F->pd->center, BIT(CENTER), "evil.example", 0, &err), -1);
}

static void
test_expired_and_not_yet_valid(void **state)
{
	struct pki_err err = { "" };
	int64_t na = pki_cert_not_after(F->service), nb = pki_cert_not_before(F->service);

	(void)state;
	assert_int_equal(verify(F->service, BIT(SERVICE), NULL, na - 60, &err), 0);
	assert_int_equal(verify(F->service, BIT(SERVICE), NULL, na + 60, &err), -1);
	assert_non_null(strstr(err.msg, "expired"));
	assert_int_equal(verify(F->service, BIT(SERVICE), NULL, nb - 60, &err), -1);
	assert_non_null(strstr(err.msg, "not yet valid"));
}

/*
 * Sign a copy of leaf with a CA it must not come from (same profile, other
 * issuer): what a compromised or misused tier CA could produce.
 */
static X509 *
cross_sign(X509 *leaf, X509 *ca, struct keystore_key *ca_key)
{
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	X509 *x = X509_dup(leaf);
	int i;

	assert_non_null(x);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(ca)), 1);
	i = X509_get_ext_by_NID(x, NID_authority_key_identifier, -1);
	assert_true(i >= 0);
	X509_EXTENSION_free(X509_delete_ext(x, i));
	akid->keyid = ASN1_OCTET_STRING_dup(X509_get0_subject_key_id(ca));
	assert_int_equal(X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, 0), 1);
	AUTHORITY_KEYID_free(akid);
	assert_true(X509_sign(x, keystore_key_evp(ca_key), EVP_sha256()) > 0);
	return x;
}

static void
test_issuing_ca_must_match_tier(void **state)
{
	struct pki_err err = { "" };
	X509 *dev_from_sca, *svc_from_dca;

	(void)state;
	/* a device-profile cert from the service CA is no device cert */
	dev_from_sca = cross_sign(F->device, F->pd->service_ca, F->sca_key);
	assert_int_equal(verify(dev_from_sca, BIT(DEVICE), NULL, 0, &err), -1);
	assert_non_null(strstr(err.msg, "issuing CA is not a device-ca"));
	/* a service-profile cert from the device CA is no service cert */
	svc_from_dca = cross_sign(F->service, F->pd->device_ca, F->dca_key);
	assert_int_equal(verify(svc_from_dca, BIT(SERVICE), DEVICE_ID, 0, &err), -1);
	assert_non_null(strstr(err.msg, "issuing CA is not a service-ca"));
	X509_free(dev_from_sca);
	X509_free(svc_from_dca);
}

/* a copy of leaf with extension nid replaced by value (conf syntax), re-signed by ca */
static X509 *
with_ext(X509 *leaf, int nid, const char *value, struct keystore_key *ca_key)
{
	X509 *x = X509_dup(leaf);
	X509_EXTENSION *e;
	int i;

	assert_non_null(x);
	if ((i = X509_get_ext_by_NID(x, nid, -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
	if (nid == NID_certificate_policies) {
		/* the conf parser needs a config database for this one: build it */
		CERTIFICATEPOLICIES *cp = sk_POLICYINFO_new_null();
		char buf[512], *tok, *save = NULL;

		snprintf(buf, sizeof(buf), "%s", value);
		for (tok = strtok_r(buf, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			POLICYINFO *pi = POLICYINFO_new();

			ASN1_OBJECT_free(pi->policyid);
			pi->policyid = OBJ_txt2obj(tok, 1);
			sk_POLICYINFO_push(cp, pi);
		}
		assert_int_equal(X509_add1_ext_i2d(x, nid, cp, 0, 0), 1);
		sk_POLICYINFO_pop_free(cp, POLICYINFO_free);
		assert_true(X509_sign(x, keystore_key_evp(ca_key), EVP_sha256()) > 0);
		return x;
	}
	e = X509V3_EXT_conf_nid(NULL, NULL, nid, value);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
	assert_true(X509_sign(x, keystore_key_evp(ca_key), EVP_sha256()) > 0);
	return x;
}

/* right policy and issuer, but a key usage or EKU of another tier: refused */
static void
test_profile_ku_eku_enforced(void **state)
{
	struct pki_err err = { "" };
	X509 *x;

	(void)state;
	/* a tier-1 certificate that also claims IKE and server use */
	x = with_ext(F->device, NID_ext_key_usage, "ipsecIKE,clientAuth,serverAuth",
	    F->dca_key);
	assert_int_equal(verify(x, BIT(DEVICE), NULL, 0, &err), -1);
	assert_non_null(strstr(err.msg, "extendedKeyUsage"));
	X509_free(x);
	/* a tier-1 certificate without any EKU */
	x = with_ext(F->device, NID_ext_key_usage, "anyExtendedKeyUsage", F->dca_key);
	assert_int_equal(verify(x, BIT(DEVICE), NULL, 0, &err), -1);
	X509_free(x);
	/* a service certificate without ipsecIKE */
	x = with_ext(F->service, NID_ext_key_usage, "clientAuth,serverAuth", F->sca_key);
	assert_int_equal(verify(x, BIT(SERVICE), NULL, 0, &err), -1);
	assert_non_null(strstr(err.msg, "extendedKeyUsage"));
	X509_free(x);
	/* a service certificate that may sign CRLs */
	x = with_ext(F->service, NID_key_usage, "critical,digitalSignature,cRLSign",
	    F->sca_key);
	assert_int_equal(verify(x, BIT(SERVICE), NULL, 0, &err), -1);
	assert_non_null(strstr(err.msg, "keyUsage"));
	X509_free(x);
	/* a leaf with two role policies is not read either way */
	x = with_ext(F->service, NID_certificate_policies,
	    PKI_OID_POLICY_SERVICE "," PKI_OID_POLICY_ADMIN, F->sca_key);
	assert_int_equal(pki_cert_role(x), PKI_ROLE_NONE);
	assert_int_equal(verify(x, BIT(SERVICE) | BIT(ADMIN), NULL, 0, &err), -1);
	X509_free(x);
	/* sanity: the unmodified re-signing path yields an accepted certificate */
	x = with_ext(F->service, NID_ext_key_usage, "ipsecIKE,clientAuth,serverAuth",
	    F->sca_key);
	assert_int_equal(verify(x, BIT(SERVICE), DEVICE_ID, 0, &err), 0);
	X509_free(x);
}

static void
test_issue_refuses_wrong_issuer(void **state)
{
	struct pki_issue_req req = { .role = PKI_ROLE_DEVICE, .cn = "x-1" };
	struct pki_err err = { "" };
	X509 *x = NULL;

	(void)state;
	req.pubkey = X509_get0_pubkey(F->device);
	assert_int_equal(pki_issue(&req, F->pd->service_ca, F->sca_key, &x, &err), -1);
	assert_null(x);
	assert_non_null(strstr(err.msg, "must be issued by the device-ca"));
	/* the right CA with someone else's key */
	assert_int_equal(pki_issue(&req, F->pd->device_ca, F->sca_key, &x, &err), -1);
	assert_non_null(strstr(err.msg, "does not belong"));
	/* a device id must be a lower-case host name */
	req.cn = "Clinic 01";
	assert_int_equal(pki_issue(&req, F->pd->device_ca, F->dca_key, &x, &err), -1);
	assert_false(pki_device_id_valid("Clinic-01"));
	assert_false(pki_device_id_valid("-a"));
	assert_false(pki_device_id_valid("a..b"));
	assert_false(pki_device_id_valid(""));
	assert_true(pki_device_id_valid("hospital-a.site-1"));
}

static void
test_foreign_root_refused(void **state)
{
	struct pki_init_opts o = { .alg = PKI_ALG_P256 };
	struct pki_verify_opts vo = { .roles = BIT(DEVICE) };
	struct pki_err err = { "" };
	struct pki_dir *other = NULL;
	struct keystore *ks = NULL;
	struct pki_trust *t;
	X509 *dev = NULL;
	char dir[128], kspath[128], fp[PKI_FP_HEX_MAX];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/foreign", F->tmp);
	snprintf(kspath, sizeof(kspath), "%s/foreign-ks", F->tmp);
	/* same names, same profiles, other keys */
	assert_int_equal(pki_dir_init(dir, &o, &err), 0);
	assert_int_equal(pki_dir_load(dir, &other, &err), 0);
	assert_int_equal(keystore_open(kspath, KEYSTORE_CREATE, &ks, &err), 0);
	assert_int_equal(pki_dir_issue_device(other, ks, DEVICE_ID, PKI_ALG_NONE, false, &dev,
	    &err), 0);
	assert_int_equal(verify(dev, BIT(DEVICE), DEVICE_ID, 0, &err), -1);
	assert_non_null(strstr(err.msg, "does not verify to the pinned root"));
	/* also when the foreign device CA is sent along */
	t = trust();
	vo.chain = sk_X509_new_null();
	sk_X509_push(vo.chain, other->device_ca);
	assert_int_equal(pki_verify(t, dev, &vo, NULL, &err), -1);
	sk_X509_free(vo.chain);
	/* the foreign CA cannot join our trust set, nor its root pass our pin */
	assert_int_equal(pki_trust_add_ca(t, other->device_ca, &err), -1);
	pki_fingerprint_hex(F->pd->root, false, fp);
	assert_int_equal(pki_pin_check(other->root, fp, &err), -1);
	pki_trust_free(t);
	X509_free(dev);
	keystore_close(ks);
	pki_dir_free(other);
}

/* ---- revocation ------------------------------------------------------- */

static X509_CRL *
crl_of(X509 *ca, struct keystore_key *key, const char *serial, enum pki_crl_reason why,
    uint64_t number)
{
	struct pki_revoked e = { .reason = why, .when = 1700000000 };
	struct pki_err err = { "" };
	X509_CRL *crl = NULL;

	if (serial != NULL)
		assert_int_equal(pki_serial_parse(serial, e.serial, &err), 0);
	assert_int_equal(pki_crl_build(ca, key, &e, serial != NULL ? 1 : 0, number, 0, 0,
	    &crl, &err), 0);
	return crl;
}

static void
test_revoked_via_crl(void **state)
{
	struct pki_verify_opts vo = { .roles = BIT(SERVICE) };
	struct pki_err err = { "" };
	char serial[PKI_SERIAL_HEX_MAX];
	struct pki_trust *t = trust();
	X509_CRL *crl, *older;

	(void)state;
	assert_int_equal(pki_verify(t, F->service, &vo, NULL, &err), 0);
	assert_int_equal(pki_cert_serial(F->service, serial), 0);
	crl = crl_of(F->pd->service_ca, F->sca_key, serial, PKI_REASON_KEY_COMPROMISE, 2);
	assert_int_equal(pki_trust_add_crl(t, crl, &err), 0);
	assert_int_equal(pki_verify(t, F->service, &vo, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "revoked (keyCompromise)"));
	assert_non_null(strstr(err.msg, serial));
	/* the same serial on the other tier CA's CRL does not revoke it */
	{
		struct pki_trust *t2 = trust();
		X509_CRL *other = crl_of(F->pd->device_ca, F->dca_key, serial,
		    PKI_REASON_KEY_COMPROMISE, 2);

		assert_int_equal(pki_trust_add_crl(t2, other, &err), 0);
		assert_int_equal(pki_verify(t2, F->service, &vo, NULL, &err), 0);
		X509_CRL_free(other);
		pki_trust_free(t2);
	}
	/* an older CRL (rollback) is refused and does not un-revoke */
	older = crl_of(F->pd->service_ca, F->sca_key, NULL, PKI_REASON_NONE, 1);
	assert_int_equal(pki_trust_add_crl(t, older, &err), -1);
	assert_non_null(strstr(err.msg, "not newer"));
	assert_int_equal(pki_verify(t, F->service, &vo, NULL, &err), -1);
	X509_CRL_free(crl);
	X509_CRL_free(older);
	pki_trust_free(t);
}

static void
test_revoked_issuing_ca(void **state)
{
	struct pki_verify_opts vo = { .roles = BIT(DEVICE) };
	struct pki_err err = { "" };
	struct keystore_key *root_key = NULL;
	char serial[PKI_SERIAL_HEX_MAX];
	struct pki_trust *t = trust();
	X509_CRL *crl;

	(void)state;
	assert_int_equal(keystore_key_load(F->pd->keys, PKI_LABEL_ROOT, &root_key, &err), 0);
	assert_int_equal(pki_cert_serial(F->pd->device_ca, serial), 0);
	crl = crl_of(F->pd->root, root_key, serial, PKI_REASON_CA_COMPROMISE, 5);
	assert_int_equal(pki_trust_add_crl(t, crl, &err), 0);
	assert_int_equal(pki_verify(t, F->device, &vo, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "issuing CA"));
	assert_non_null(strstr(err.msg, "cACompromise"));
	/* the service tier is untouched */
	vo.roles = BIT(SERVICE);
	assert_int_equal(pki_verify(t, F->service, &vo, NULL, &err), 0);
	X509_CRL_free(crl);
	keystore_key_free(root_key);
	pki_trust_free(t);
}

static void
test_crl_build_parse_verify(void **state)
{
	struct pki_revoked in[3] = {
		{ .serial = "0A:bc", .reason = PKI_REASON_KEY_COMPROMISE, .when = 1700000000 },
		{ .serial = "7f00000000000000000000000000000001", .reason = PKI_REASON_NONE,
		  .when = 1700000100 },
		{ .serial = "0x1234", .reason = PKI_REASON_SUPERSEDED, .when = 1700000200 },
	};
	struct pki_err err = { "" };
	struct pki_revoked *out = NULL, e;
	X509_CRL *crl = NULL, *back = NULL, *bad = NULL;
	char *pem = NULL;
	unsigned char *der = NULL;
	size_t pemlen, n = 0;
	int derlen;

	(void)state;
	assert_int_equal(pki_crl_build(F->pd->service_ca, F->sca_key, in, 3, 42, 0, 0, &crl,
	    &err), 0);
	/* PEM and DER both parse back */
	assert_int_equal(pki_crl_pem(crl, &pem, &pemlen), 0);
	assert_int_equal(pki_crl_parse((const uint8_t *)pem, pemlen, &back, &err), 0);
	X509_CRL_free(back);
	back = NULL;
	derlen = i2d_X509_CRL(crl, &der);
	assert_true(derlen > 0);
	assert_int_equal(pki_crl_parse(der, (size_t)derlen, &back, &err), 0);
	assert_int_equal(pki_crl_verify(back, F->pd->service_ca, &err), 0);
	assert_int_equal(pki_crl_verify(back, F->pd->device_ca, &err), -1);
	assert_int_equal(pki_crl_number(back), 42);
	assert_int_equal(pki_crl_entries(back, &out, &n, &err), 0);
	assert_int_equal(n, 3);
	/* entries come back canonical, with their reasons and dates */
	assert_int_equal(pki_crl_lookup(back, "abc", &e), 1);
	assert_string_equal(e.serial, "0abc");
	assert_int_equal(e.reason, PKI_REASON_KEY_COMPROMISE);
	assert_int_equal(e.when, 1700000000);
	assert_int_equal(pki_crl_lookup(back, "7F:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:01",
	    &e), 1);
	assert_int_equal(e.reason, PKI_REASON_NONE);
	assert_int_equal(pki_crl_lookup(back, "1234", &e), 1);
	assert_int_equal(e.reason, PKI_REASON_SUPERSEDED);
	assert_int_equal(pki_crl_lookup(back, "1235", NULL), 0);
	assert_int_equal(pki_crl_lookup(back, "zz", NULL), -1);
	/* a flipped bit in the signature */
	der[derlen - 3] ^= 0x01;
	assert_int_equal(pki_crl_parse(der, (size_t)derlen, &bad, &err), 0);
	assert_int_equal(pki_crl_verify(bad, F->pd->service_ca, &err), -1);
	/* trailing garbage after DER is refused */
	{
		unsigned char *longer = malloc((size_t)derlen + 1);
		X509_CRL *c2 = NULL;

		memcpy(longer, der, (size_t)derlen);
		longer[derlen] = 0;
		assert_int_equal(pki_crl_parse(longer, (size_t)derlen + 1, &c2, &err), -1);
		free(longer);
	}
	/* the same serial twice is refused */
	in[1] = in[0];
	{
		X509_CRL *dup = NULL;

		assert_int_equal(pki_crl_build(F->pd->service_ca, F->sca_key, in, 2, 43, 0, 0,
		    &dup, &err), -1);
		assert_null(dup);
		assert_non_null(strstr(err.msg, "twice"));
	}
	assert_int_equal(pki_crl_reason_parse("keycompromise", &e.reason), 0);
	assert_int_equal(e.reason, PKI_REASON_KEY_COMPROMISE);
	assert_int_equal(pki_crl_reason_parse("nope", &e.reason), -1);
	free(out);
	free(pem);
	OPENSSL_free(der);
	X509_CRL_free(crl);
	X509_CRL_free(back);
	X509_CRL_free(bad);
}

static void
test_crl_from_stranger_refused_by_trust(void **state)
{
	struct pki_err err = { "" };
	struct pki_trust *t = trust();
	struct keystore *ks = NULL;
	struct keystore_key *k = NULL;
	struct pki_issue_req req = { .role = PKI_ROLE_ROOT, .cn = "stranger root" };
	X509 *root = NULL;
	X509_CRL *crl;
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/stranger", F->tmp);
	assert_int_equal(keystore_open(path, KEYSTORE_CREATE, &ks, &err), 0);
	assert_int_equal(keystore_key_generate(ks, "r", PKI_ALG_P256, &k, &err), 0);
	req.pubkey = keystore_key_public(k);
	assert_int_equal(pki_issue(&req, NULL, k, &root, &err), 0);
	crl = crl_of(root, k, "01", PKI_REASON_UNSPECIFIED, 100);
	assert_int_equal(pki_trust_add_crl(t, crl, &err), -1);
	assert_non_null(strstr(err.msg, "not signed by"));
	X509_CRL_free(crl);
	X509_free(root);
	EVP_PKEY_free(req.pubkey);
	keystore_key_free(k);
	keystore_close(ks);
	pki_trust_free(t);
}

/* ---- CSR -------------------------------------------------------------- */

/* a CSR made by hand (not through the key store): any key, any subject */
static uint8_t *
raw_csr(EVP_PKEY *pk, const char *cn, const EVP_MD *md, X509_EXTENSION *ext, size_t *len)
{
	X509_REQ *req = X509_REQ_new();
	unsigned char *der = NULL;
	uint8_t *out;
	int n;

	X509_REQ_set_version(req, X509_REQ_VERSION_1);
	X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req), NID_commonName,
	    MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_REQ_set_pubkey(req, pk);
	if (ext != NULL) {
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();

		sk_X509_EXTENSION_push(exts, ext);
		assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
		sk_X509_EXTENSION_free(exts);
	}
	assert_true(X509_REQ_sign(req, pk, md) > 0);
	n = i2d_X509_REQ(req, &der);
	assert_true(n > 0);
	out = malloc((size_t)n);
	memcpy(out, der, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(der);
	X509_REQ_free(req);
	return out;
}

static void
test_csr_bad_signature_refused(void **state)
{
	struct pki_err err = { "" };
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	uint8_t *der;
	size_t len;
	X509 *x = NULL;

	(void)state;
	der = raw_csr(pk, DEVICE_ID, EVP_sha256(), NULL, &len);
	assert_int_equal(pki_service_issue(der, len, DEVICE_ID, F->pd->service_ca, F->sca_key,
	    0, &x, &err), 0);
	X509_free(x);
	x = NULL;
	der[len - 5] ^= 0x40;	/* inside the signature */
	assert_int_equal(pki_service_issue(der, len, DEVICE_ID, F->pd->service_ca, F->sca_key,
	    0, &x, &err), -1);
	assert_null(x);
	assert_non_null(strstr(err.msg, "signature"));
	free(der);
	EVP_PKEY_free(pk);
}

static void
test_csr_weak_or_foreign_key_refused(void **state)
{
	struct pki_err err = { "" };
	EVP_PKEY *rsa2048 = EVP_RSA_gen(2048);
	EVP_PKEY *k256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	uint8_t *der;
	size_t len;
	X509 *x = NULL;

	(void)state;
	assert_non_null(rsa2048);
	der = raw_csr(rsa2048, DEVICE_ID, EVP_sha256(), NULL, &len);
	assert_int_equal(pki_service_issue(der, len, DEVICE_ID, F->pd->service_ca, F->sca_key,
	    0, &x, &err), -1);
	assert_non_null(strstr(err.msg, "too weak"));
	free(der);
	der = raw_csr(k256, DEVICE_ID, EVP_sha256(), NULL, &len);
	assert_int_equal(pki_service_issue(der, len, DEVICE_ID, F->pd->service_ca, F->sca_key,
	    0, &x, &err), -1);
	assert_non_null(strstr(err.msg, "curve"));
	free(der);
	der = raw_csr(ed, DEVICE_ID, NULL, NULL, &len);
	assert_int_equal(pki_service_issue(der, len, DEVICE_ID, F->pd->service_ca, F->sca_key,
	    0, &x, &err), -1);
	assert_non_null(strstr(err.msg, "not allowed"));
	free(der);
	assert_null(x);
	EVP_PKEY_free(rsa2048);
	EVP_PKEY_free(k256);
	EVP_PKEY_free(ed);
}

static void
test_csr_subject_and_extensions(void **state)
{
	struct pki_err err = { "" };
	EVP_PKEY *pk = EVP_EC_gen("P-384");
	X509_EXTENSION *ca_ext;
	uint8_t *der;
	size_t len;
	X509 *x = NULL;
	char *pem;
	size_t pemlen;
	X509_REQ *req = NULL;

	(void)state;
	/* the CSR may not speak for another device */
	der = raw_csr(pk, "lab-02.example", EVP_sha384(), NULL, &len);
	assert_int_equal(pki_service_issue(der, len, DEVICE_ID, F->pd->service_ca, F->sca_key,
	    0, &x, &err), -1);
	assert_non_null(strstr(err.msg, "CSR subject"));
	free(der);
	/* requested extensions (here: CA:TRUE) are ignored; the profile decides */
	ca_ext = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
	assert_non_null(ca_ext);
	der = raw_csr(pk, DEVICE_ID, EVP_sha384(), ca_ext, &len);
	X509_EXTENSION_free(ca_ext);
	/* PEM input too, and a short configurable lifetime */
	assert_int_equal(pki_csr_parse(der, len, &req, &err), 0);
	assert_int_equal(pki_csr_pem(req, &pem, &pemlen), 0);
	assert_int_equal(pki_service_issue((uint8_t *)pem, pemlen, DEVICE_ID, F->pd->service_ca,
	    F->sca_key, 3600, &x, &err), 0);
	assert_int_equal(X509_check_ca(x), 0);
	assert_int_equal(pki_cert_role(x), PKI_ROLE_SERVICE);
	assert_int_equal(pki_cert_not_after(x) - pki_cert_not_before(x), 3600 + PKI_BACKDATE);
	assert_int_equal(verify(x, BIT(SERVICE), DEVICE_ID, 0, &err), 0);
	/* garbage is not a CSR */
	assert_int_equal(pki_service_issue((const uint8_t *)"hello", 5, DEVICE_ID,
	    F->pd->service_ca, F->sca_key, 0, &x, &err), -1);
	free(pem);
	free(der);
	X509_REQ_free(req);
	X509_free(x);
	EVP_PKEY_free(pk);
}

/* ---- pinning ---------------------------------------------------------- */

static void
test_pin(void **state)
{
	struct pki_err err = { "" };
	char hex[PKI_FP_HEX_MAX], colons[PKI_FP_HEX_MAX], upper[PKI_FP_HEX_MAX];
	char prefixed[PKI_FP_HEX_MAX + 8];
	uint8_t fp[PKI_FP_LEN];
	unsigned char md[32];
	unsigned int mdlen;

	(void)state;
	assert_int_equal(pki_fingerprint_hex(F->pd->root, false, hex), 0);
	assert_int_equal(strlen(hex), 64);
	assert_int_equal(pki_fingerprint_hex(F->pd->root, true, colons), 0);
	assert_int_equal(strlen(colons), 95);
	/* the fingerprint is SHA-256 over the DER certificate, as openssl prints it */
	assert_int_equal(X509_digest(F->pd->root, EVP_sha256(), md, &mdlen), 1);
	assert_int_equal(pki_fingerprint(F->pd->root, fp), 0);
	assert_memory_equal(md, fp, 32);
	for (size_t i = 0; i <= strlen(colons); i++)
		upper[i] = (char)(colons[i] >= 'a' && colons[i] <= 'f' ? colons[i] - 32 :
		    colons[i]);
	snprintf(prefixed, sizeof(prefixed), "sha256:%s", hex);
	assert_int_equal(pki_pin_check(F->pd->root, hex, &err), 0);
	assert_int_equal(pki_pin_check(F->pd->root, colons, &err), 0);
	assert_int_equal(pki_pin_check(F->pd->root, upper, &err), 0);
	assert_int_equal(pki_pin_check(F->pd->root, prefixed, &err), 0);
	/* one digit off */
	hex[10] = hex[10] == '0' ? '1' : '0';
	assert_int_equal(pki_pin_check(F->pd->root, hex, &err), -1);
	assert_non_null(strstr(err.msg, "does not match the pinned fingerprint"));
	/* malformed pins */
	assert_int_equal(pki_pin_check(F->pd->root, "abcd", &err), -1);
	assert_non_null(strstr(err.msg, "not a SHA-256 fingerprint"));
	hex[63] = 'g';
	assert_int_equal(pki_pin_check(F->pd->root, hex, &err), -1);
	assert_int_equal(pki_pin_check(F->pd->root, "", &err), -1);
	/* a matching pin on a CA that is not a root is still refused */
	assert_int_equal(pki_fingerprint_hex(F->pd->device_ca, false, hex), 0);
	assert_int_equal(pki_pin_check(F->pd->device_ca, hex, &err), -1);
	assert_non_null(strstr(err.msg, "not a self-signed CA"));
}

/* ---- other algorithms ------------------------------------------------- */

static void
alg_variant(enum pki_alg alg, const char *name, int sig_nid, int bits)
{
	struct pki_init_opts o = { .alg = alg };
	struct pki_verify_opts vo = { .roles = BIT(DEVICE) };
	struct pki_err err = { "" };
	struct pki_dir *d = NULL;
	struct pki_trust *t = NULL;
	struct keystore *ks = NULL;
	X509 *dev = NULL;
	char dir[128], kspath[128];

	snprintf(dir, sizeof(dir), "%s/%s", F->tmp, name);
	snprintf(kspath, sizeof(kspath), "%s/%s-ks", F->tmp, name);
	assert_int_equal(pki_dir_init(dir, &o, &err), 0);
	assert_int_equal(pki_dir_load(dir, &d, &err), 0);
	assert_int_equal(X509_get_signature_nid(d->root), sig_nid);
	assert_int_equal(X509_get_signature_nid(d->center), sig_nid);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(d->service_ca)), bits);
	assert_int_equal(keystore_open(kspath, KEYSTORE_CREATE, &ks, &err), 0);
	assert_int_equal(pki_dir_issue_device(d, ks, "dev-1", PKI_ALG_NONE, false, &dev,
	    &err), 0);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(dev)), bits);
	assert_int_equal(X509_get_signature_nid(dev), sig_nid);
	assert_int_equal(pki_dir_trust(d, &t, &err), 0);
	assert_int_equal(pki_verify(t, dev, &vo, NULL, &err), 0);
	vo.roles = BIT(CENTER);
	vo.identity = "localhost";
	assert_int_equal(pki_verify(t, d->center, &vo, NULL, &err), 0);
	/* and the P-256 PKI's root does not vouch for it */
	vo.roles = BIT(DEVICE);
	vo.identity = NULL;
	assert_int_equal(verify(dev, BIT(DEVICE), NULL, 0, &err), -1);
	pki_trust_free(t);
	X509_free(dev);
	keystore_close(ks);
	pki_dir_free(d);
}

static void
test_p384(void **state)
{
	(void)state;
	alg_variant(PKI_ALG_P384, "p384", NID_ecdsa_with_SHA384, 384);
}

static void
test_rsa3072(void **state)
{
	(void)state;
	alg_variant(PKI_ALG_RSA3072, "rsa3072", NID_sha256WithRSAEncryption, 3072);
}

/* a P-384 service key gets a service certificate from the P-256 service CA */
static void
test_service_p384_key_under_p256_ca(void **state)
{
	struct pki_err err = { "" };
	struct keystore_key *k = NULL;
	X509_REQ *req = NULL;
	uint8_t *der;
	size_t len;
	X509 *x = NULL;

	(void)state;
	assert_int_equal(keystore_key_generate(F->devks, "svc384", PKI_ALG_P384, &k, &err), 0);
	assert_int_equal(pki_csr_build(k, DEVICE_ID, &req, &err), 0);
	assert_int_equal(pki_csr_check(req, &err), 0);
	assert_int_equal(pki_csr_der(req, &der, &len), 0);
	assert_int_equal(pki_service_issue(der, len, DEVICE_ID, F->pd->service_ca, F->sca_key,
	    0, &x, &err), 0);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 384);
	assert_int_equal(verify(x, BIT(SERVICE), DEVICE_ID, 0, &err), 0);
	free(der);
	X509_REQ_free(req);
	X509_free(x);
	keystore_key_free(k);
}

/* ---- PKI directory ---------------------------------------------------- */

static void
test_dir_not_overwritten_without_force(void **state)
{
	struct pki_init_opts o = { .alg = PKI_ALG_P256 };
	struct pki_err err = { "" };
	struct pki_dir *d = NULL;
	char fp1[PKI_FP_HEX_MAX], fp2[PKI_FP_HEX_MAX];
	char dir[128];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/again", F->tmp);
	assert_int_equal(pki_dir_init(dir, &o, &err), 0);
	assert_int_equal(pki_dir_load(dir, &d, &err), 0);
	pki_fingerprint_hex(d->root, false, fp1);
	pki_dir_free(d);
	assert_int_equal(pki_dir_init(dir, &o, &err), -1);
	assert_non_null(strstr(err.msg, "--force"));
	assert_int_equal(pki_dir_load(dir, &d, &err), 0);
	pki_fingerprint_hex(d->root, false, fp2);
	assert_string_equal(fp1, fp2);
	pki_dir_free(d);
	o.force = true;
	assert_int_equal(pki_dir_init(dir, &o, &err), 0);
	assert_int_equal(pki_dir_load(dir, &d, &err), 0);
	pki_fingerprint_hex(d->root, false, fp2);
	assert_string_not_equal(fp1, fp2);
	pki_dir_free(d);
}

static void
test_dir_device_keystore_contents(void **state)
{
	struct pki_err err = { "" };
	struct keystore_key *k = NULL;
	X509 *x = NULL, *root = NULL, *again = NULL;
	EVP_PKEY *pub;

	(void)state;
	/* key, certificate and root are in the device's store; the key matches */
	assert_int_equal(keystore_key_load(F->devks, PKI_LABEL_DEVICE, &k, &err), 0);
	assert_int_equal(keystore_cert_load(F->devks, PKI_LABEL_DEVICE, &x, &err), 0);
	assert_int_equal(keystore_cert_load(F->devks, PKI_LABEL_ROOT, &root, &err), 0);
	assert_int_equal(X509_cmp(root, F->pd->root), 0);
	pub = keystore_key_public(k);
	assert_int_equal(EVP_PKEY_eq(pub, X509_get0_pubkey(x)), 1);
	assert_int_equal(X509_cmp(x, F->device), 0);
	/* a second manufacture into the same store needs force */
	assert_int_equal(pki_dir_issue_device(F->pd, F->devks, DEVICE_ID, PKI_ALG_NONE, false,
	    &again, &err), -1);
	assert_non_null(strstr(err.msg, "--force"));
	assert_null(again);
	EVP_PKEY_free(pub);
	X509_free(x);
	X509_free(root);
	keystore_key_free(k);
}

static void
test_dir_revoke_and_refresh(void **state)
{
	struct pki_init_opts o = { .alg = PKI_ALG_P256 };
	struct pki_verify_opts vo = { .roles = BIT(DEVICE) };
	struct pki_err err = { "" };
	struct pki_dir *d = NULL, *d2 = NULL;
	struct pki_trust *t = NULL;
	struct keystore *ks = NULL;
	enum pki_role ca;
	char dir[128], kspath[128], serial[PKI_SERIAL_HEX_MAX];
	X509 *dev = NULL;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/revoke", F->tmp);
	snprintf(kspath, sizeof(kspath), "%s/revoke-ks", F->tmp);
	assert_int_equal(pki_dir_init(dir, &o, &err), 0);
	assert_int_equal(pki_dir_load(dir, &d, &err), 0);
	assert_int_equal(keystore_open(kspath, KEYSTORE_CREATE, &ks, &err), 0);
	assert_int_equal(pki_dir_issue_device(d, ks, "dev-9", PKI_ALG_NONE, false, &dev, &err), 0);
	assert_int_equal(pki_cert_serial(dev, serial), 0);
	assert_int_equal(pki_crl_number(d->device_crl), 1);
	/* the issuer is found in index.txt */
	assert_int_equal(pki_dir_revoke(d, serial, PKI_ROLE_NONE, PKI_REASON_KEY_COMPROMISE,
	    &ca, &err), 0);
	assert_int_equal(ca, PKI_ROLE_DEVICE_CA);
	assert_int_equal(pki_dir_revoke(d, serial, PKI_ROLE_NONE, PKI_REASON_KEY_COMPROMISE,
	    &ca, &err), -1);
	assert_non_null(strstr(err.msg, "already revoked"));
	/* unknown serial without a named CA */
	assert_int_equal(pki_dir_revoke(d, "0102", PKI_ROLE_NONE, PKI_REASON_UNSPECIFIED, &ca,
	    &err), -1);
	assert_non_null(strstr(err.msg, "not issued from"));
	/* a fresh load sees the revocation, the verifier refuses */
	assert_int_equal(pki_dir_load(dir, &d2, &err), 0);
	assert_int_equal(pki_crl_number(d2->device_crl), 2);
	assert_int_equal(pki_dir_trust(d2, &t, &err), 0);
	assert_int_equal(pki_verify(t, dev, &vo, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "revoked"));
	/* refreshing keeps the entries, bumps the number */
	assert_int_equal(pki_dir_crl_refresh(d2, PKI_ROLE_DEVICE_CA, &err), 0);
	assert_int_equal(pki_crl_number(d2->device_crl), 3);
	assert_int_equal(pki_crl_lookup(d2->device_crl, serial, NULL), 1);
	pki_trust_free(t);
	X509_free(dev);
	keystore_close(ks);
	pki_dir_free(d);
	pki_dir_free(d2);
}

static void
test_dir_rekey_ca(void **state)
{
	struct pki_init_opts o = { .alg = PKI_ALG_P256 };
	struct pki_verify_opts vo = { .roles = BIT(SERVICE) };
	struct pki_err err = { "" };
	struct pki_dir *d = NULL, *d2 = NULL;
	struct pki_trust *t = NULL;
	struct keystore *ks = NULL;
	struct keystore_key *old_sca = NULL, *new_sca = NULL, *k = NULL;
	char dir[128], kspath[128], fp1[PKI_FP_HEX_MAX], fp2[PKI_FP_HEX_MAX];
	char old_serial[PKI_SERIAL_HEX_MAX];
	X509 *dev = NULL, *svc = NULL, *old_ca = NULL, *svc2 = NULL;
	X509_REQ *req = NULL;
	uint8_t *der = NULL;
	size_t len;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/rekey", F->tmp);
	snprintf(kspath, sizeof(kspath), "%s/rekey-ks", F->tmp);
	assert_int_equal(pki_dir_init(dir, &o, &err), 0);
	assert_int_equal(pki_dir_load(dir, &d, &err), 0);
	assert_int_equal(keystore_open(kspath, KEYSTORE_CREATE, &ks, &err), 0);
	assert_int_equal(pki_dir_issue_device(d, ks, "dev-3", PKI_ALG_NONE, false, &dev, &err), 0);
	assert_int_equal(keystore_key_load(d->keys, PKI_LABEL_SERVICE_CA, &old_sca, &err), 0);
	assert_int_equal(keystore_key_generate(ks, PKI_LABEL_SERVICE, PKI_ALG_P256, &k, &err), 0);
	assert_int_equal(pki_csr_build(k, "dev-3", &req, &err), 0);
	assert_int_equal(pki_csr_der(req, &der, &len), 0);
	assert_int_equal(pki_service_issue(der, len, "dev-3", d->service_ca, old_sca, 0, &svc,
	    &err), 0);
	old_ca = X509_dup(d->service_ca);
	assert_int_equal(pki_cert_serial(old_ca, old_serial), 0);
	pki_fingerprint_hex(d->root, false, fp1);

	/* the service CA's key is compromised */
	assert_int_equal(pki_dir_rekey_ca(d, PKI_ROLE_SERVICE_CA, PKI_REASON_CA_COMPROMISE,
	    &err), 0);
	assert_int_equal(pki_dir_load(dir, &d2, &err), 0);
	pki_fingerprint_hex(d2->root, false, fp2);
	assert_string_equal(fp1, fp2);			/* the pin stays */
	assert_int_not_equal(X509_cmp(old_ca, d2->service_ca), 0);
	assert_int_equal(pki_crl_lookup(d2->root_crl, old_serial, NULL), 1);
	assert_int_equal(pki_dir_trust(d2, &t, &err), 0);
	/* what the old CA issued is refused, even with the old CA sent along */
	assert_int_equal(pki_verify(t, svc, &vo, NULL, &err), -1);
	vo.chain = sk_X509_new_null();
	sk_X509_push(vo.chain, old_ca);
	assert_int_equal(pki_verify(t, svc, &vo, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "issuing CA"));
	assert_non_null(strstr(err.msg, "cACompromise"));
	sk_X509_free(vo.chain);
	vo.chain = NULL;
	/* the old key is gone; the new one issues verifying certificates */
	assert_int_equal(keystore_key_load(d2->keys, PKI_LABEL_SERVICE_CA, &new_sca, &err), 0);
	assert_int_not_equal(EVP_PKEY_eq(keystore_key_evp(old_sca), keystore_key_evp(new_sca)),
	    1);
	assert_int_equal(pki_service_issue(der, len, "dev-3", d2->service_ca, new_sca, 0, &svc2,
	    &err), 0);
	assert_int_equal(pki_verify(t, svc2, &vo, NULL, &err), 0);
	/* center and admin were re-issued, the device tier is untouched */
	vo.roles = BIT(CENTER);
	vo.identity = "127.0.0.1";
	assert_int_equal(pki_verify(t, d2->center, &vo, NULL, &err), 0);
	vo.roles = BIT(ADMIN);
	vo.identity = NULL;
	assert_int_equal(pki_verify(t, d2->admin, &vo, NULL, &err), 0);
	vo.roles = BIT(DEVICE);
	assert_int_equal(pki_verify(t, dev, &vo, NULL, &err), 0);
	/* the root cannot be re-keyed this way */
	assert_int_equal(pki_dir_rekey_ca(d2, PKI_ROLE_ROOT, PKI_REASON_CA_COMPROMISE, &err), -1);

	free(der);
	X509_REQ_free(req);
	X509_free(dev);
	X509_free(svc);
	X509_free(svc2);
	X509_free(old_ca);
	keystore_key_free(k);
	keystore_key_free(old_sca);
	keystore_key_free(new_sca);
	keystore_close(ks);
	pki_trust_free(t);
	pki_dir_free(d);
	pki_dir_free(d2);
}

/* ---- the verifier inside TLS (what the center and the devices do) ----- */

struct tls_side {
	struct pki_trust	*trust;
	struct pki_verify_opts	 opts;
	enum pki_role		 role;
	struct pki_err		 err;
	int			 called;
};

static int
tls_verify_cb(X509_STORE_CTX *ctx, void *arg)
{
	struct tls_side *s = arg;

	s->called++;
	return pki_verify_x509_store_ctx(ctx, s->trust, &s->opts, &s->role, &s->err);
}

static SSL_CTX *
tls_ctx(bool server, X509 *cert, struct keystore_key *key, struct tls_side *side)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	assert_non_null(ctx);
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	assert_int_equal(SSL_CTX_use_certificate(ctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, keystore_key_evp(key)), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, tls_verify_cb, side);
	return ctx;
}

/* run a handshake over a memory BIO pair; 1 when the server accepted */
static int
handshake(SSL_CTX *cctx, SSL_CTX *sctx)
{
	SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
	BIO *bc = NULL, *bs = NULL;
	int rc = 0, rs = 0, ok = 0;

	assert_int_equal(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(s, bs, bs);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	for (int i = 0; i < 50; i++) {
		if (rc != 1)
			rc = SSL_do_handshake(c);
		if (rs != 1)
			rs = SSL_do_handshake(s);
		if (rs == 1 && rc == 1) {
			ok = 1;
			break;
		}
		if ((rc != 1 && SSL_get_error(c, rc) != SSL_ERROR_WANT_READ) ||
		    (rs != 1 && SSL_get_error(s, rs) != SSL_ERROR_WANT_READ))
			break;
	}
	ERR_clear_error();
	SSL_free(c);
	SSL_free(s);
	return ok;
}

static void
test_tls_handshake_roles(void **state)
{
	struct tls_side srv = { 0 }, cli = { 0 };
	struct pki_err err = { "" };
	struct keystore_key *center_key = NULL, *dev_key = NULL;
	SSL_CTX *sctx, *cctx;

	(void)state;
	assert_int_equal(keystore_key_load(F->pd->keys, PKI_LABEL_CENTER, &center_key, &err), 0);
	assert_int_equal(keystore_key_load(F->devks, PKI_LABEL_DEVICE, &dev_key, &err), 0);
	srv.trust = trust();
	cli.trust = trust();
	/* the enrolment endpoint: tier-1 devices (and admins) only */
	srv.opts.roles = BIT(DEVICE) | BIT(ADMIN);
	cli.opts.roles = BIT(CENTER);
	cli.opts.identity = "localhost";
	sctx = tls_ctx(true, F->pd->center, center_key, &srv);
	cctx = tls_ctx(false, F->device, dev_key, &cli);
	assert_int_equal(handshake(cctx, sctx), 1);
	assert_true(srv.called > 0 && cli.called > 0);
	assert_int_equal(srv.role, PKI_ROLE_DEVICE);
	assert_int_equal(cli.role, PKI_ROLE_CENTER);
	SSL_CTX_free(cctx);

	/* the same device presenting its tier-2 service certificate is refused */
	cctx = tls_ctx(false, F->service, F->svc_key, &cli);
	srv.err.msg[0] = '\0';
	assert_int_equal(handshake(cctx, sctx), 0);
	assert_non_null(strstr(srv.err.msg, "has role service"));
	SSL_CTX_free(cctx);

	/* a client checking for another center name refuses the server */
	cli.opts.identity = "center.example";
	cctx = tls_ctx(false, F->device, dev_key, &cli);
	cli.err.msg[0] = '\0';
	assert_int_equal(handshake(cctx, sctx), 0);
	assert_non_null(strstr(cli.err.msg, "does not name"));
	SSL_CTX_free(cctx);

	SSL_CTX_free(sctx);
	pki_trust_free(srv.trust);
	pki_trust_free(cli.trust);
	keystore_key_free(center_key);
	keystore_key_free(dev_key);
}

/* ---- encodings -------------------------------------------------------- */

static void
test_cert_parse_bounds(void **state)
{
	struct pki_err err = { "" };
	STACK_OF(X509) *sk = NULL;
	X509 *x = NULL;
	uint8_t *der = NULL;
	char *pem = NULL, *two;
	size_t derlen, pemlen;
	char serial[PKI_SERIAL_HEX_MAX];

	(void)state;
	assert_int_equal(pki_cert_der(F->device, &der, &derlen), 0);
	assert_int_equal(pki_cert_parse(der, derlen, &x, &err), 0);
	assert_int_equal(X509_cmp(x, F->device), 0);
	X509_free(x);
	x = NULL;
	assert_int_equal(pki_cert_parse(der, derlen - 1, &x, &err), -1);
	assert_int_equal(pki_cert_parse(der, 0, &x, &err), -1);
	assert_int_equal(pki_cert_parse(der, PKI_INPUT_MAX + 1, &x, &err), -1);
	assert_non_null(strstr(err.msg, "larger than"));
	/* a bundle: leaf then CA */
	assert_int_equal(pki_cert_pem(F->device, &pem, &pemlen), 0);
	two = malloc(2 * pemlen + 1);
	memcpy(two, pem, pemlen);
	memcpy(two + pemlen, pem, pemlen + 1);
	assert_int_equal(pki_certs_parse((uint8_t *)two, 2 * pemlen, &sk, &err), 0);
	assert_int_equal(sk_X509_num(sk), 2);
	sk_X509_pop_free(sk, X509_free);
	/* serial canonical form */
	assert_int_equal(pki_serial_parse("0x00:0A:bC", serial, &err), 0);
	assert_string_equal(serial, "0abc");
	assert_int_equal(pki_serial_parse("1", serial, &err), 0);
	assert_string_equal(serial, "01");
	assert_int_equal(pki_serial_parse("", serial, &err), -1);
	assert_int_equal(pki_serial_parse("12345678901234567890123456789012345678901", serial,
	    &err), -1);
	free(two);
	free(pem);
	free(der);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile_cas),
		cmocka_unit_test(test_profile_device),
		cmocka_unit_test(test_profile_service),
		cmocka_unit_test(test_profile_center_and_admin),
		cmocka_unit_test(test_roles_matrix),
		cmocka_unit_test(test_tier1_refused_as_service),
		cmocka_unit_test(test_tier2_refused_for_enrolment),
		cmocka_unit_test(test_admin_refused_as_device),
		cmocka_unit_test(test_ca_refused_as_leaf),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_expired_and_not_yet_valid),
		cmocka_unit_test(test_issuing_ca_must_match_tier),
		cmocka_unit_test(test_profile_ku_eku_enforced),
		cmocka_unit_test(test_issue_refuses_wrong_issuer),
		cmocka_unit_test(test_foreign_root_refused),
		cmocka_unit_test(test_revoked_via_crl),
		cmocka_unit_test(test_revoked_issuing_ca),
		cmocka_unit_test(test_crl_build_parse_verify),
		cmocka_unit_test(test_crl_from_stranger_refused_by_trust),
		cmocka_unit_test(test_csr_bad_signature_refused),
		cmocka_unit_test(test_csr_weak_or_foreign_key_refused),
		cmocka_unit_test(test_csr_subject_and_extensions),
		cmocka_unit_test(test_pin),
		cmocka_unit_test(test_p384),
		cmocka_unit_test(test_rsa3072),
		cmocka_unit_test(test_service_p384_key_under_p256_ca),
		cmocka_unit_test(test_dir_not_overwritten_without_force),
		cmocka_unit_test(test_dir_device_keystore_contents),
		cmocka_unit_test(test_dir_revoke_and_refresh),
		cmocka_unit_test(test_dir_rekey_ca),
		cmocka_unit_test(test_tls_handshake_roles),
		cmocka_unit_test(test_cert_parse_bounds),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
