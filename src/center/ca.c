/*
 * Adapter from the center to src/pki/: a PKI directory made by `odvpn pki init`,
 * the service CA key held through the key store, and the trust set every client
 * certificate is verified against (pki_verify, the product's one verifier).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "center/ca.h"
#include "lib/log.h"
#include "lib/util.h"
#include "pki/keystore.h"
#include "pki/pki.h"

struct center_ca {
	struct pki_dir		*dir;
	struct pki_trust	*trust;		/* root, both CAs, the current CRLs */
	struct keystore_key	*service_key;	/* signs service certificates and CRLs */
	struct keystore_key	*center_key;	/* TLS server key */
	char			*root_pem;
	char			*service_pem;
	char			 root_fp[2 * PKI_FP_LEN + 1];
};

struct center_ca *
center_ca_load(const char *path, char *err, size_t errlen)
{
	struct center_ca *ca = xcalloc(1, sizeof(*ca));
	struct pki_err pe = { "" };
	size_t len;

	if (pki_dir_load(path, &ca->dir, &pe) == -1 ||
	    pki_dir_trust(ca->dir, &ca->trust, &pe) == -1 ||
	    keystore_key_load(ca->dir->keys, PKI_LABEL_SERVICE_CA, &ca->service_key,
	    &pe) == -1 ||
	    keystore_key_load(ca->dir->keys, PKI_LABEL_CENTER, &ca->center_key, &pe) == -1)
		goto fail;
	if (ca->dir->center == NULL) {
		xsnprintf(pe.msg, sizeof(pe.msg), "no center certificate (%s)",
		    PKI_FILE_CENTER);
		goto fail;
	}
	if (pki_cert_pem(ca->dir->root, &ca->root_pem, &len) == -1 ||
	    pki_cert_pem(ca->dir->service_ca, &ca->service_pem, &len) == -1 ||
	    pki_fingerprint_hex(ca->dir->root, false, ca->root_fp) == -1) {
		xsnprintf(pe.msg, sizeof(pe.msg), "cannot encode the CA certificates");
		goto fail;
	}
	return ca;
fail:
	xsnprintf(err, errlen, "PKI %s: %s", path, pe.msg);
	center_ca_free(ca);
	return NULL;
}

void
center_ca_free(struct center_ca *ca)
{
	if (ca == NULL)
		return;
	keystore_key_free(ca->service_key);
	keystore_key_free(ca->center_key);
	pki_trust_free(ca->trust);
	pki_dir_free(ca->dir);
	free(ca->root_pem);
	free(ca->service_pem);
	free(ca);
}

/* the handshake's client check: any client role of our PKI, chain, CRLs */
static int
verify_cb(X509_STORE_CTX *ctx, void *arg)
{
	struct center_ca *ca = arg;
	struct pki_verify_opts o = {
		.roles = PKI_ROLE_BIT(PKI_ROLE_DEVICE) | PKI_ROLE_BIT(PKI_ROLE_SERVICE) |
		    PKI_ROLE_BIT(PKI_ROLE_ADMIN),
	};
	struct pki_err pe = { "" };

	if (pki_verify_x509_store_ctx(ctx, ca->trust, &o, NULL, &pe) == 1)
		return 1;
	log_warn("tls: client certificate refused: %s", pe.msg);
	return 0;
}

int
center_ca_tls_setup(struct center_ca *ca, SSL_CTX *ctx, char *err, size_t errlen)
{
	if (SSL_CTX_use_certificate(ctx, ca->dir->center) != 1 ||
	    SSL_CTX_add1_chain_cert(ctx, ca->dir->service_ca) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, keystore_key_evp(ca->center_key)) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1 ||
	    SSL_CTX_add_client_CA(ctx, ca->dir->root) != 1) {
		xsnprintf(err, errlen, "TLS server certificate/key: %s",
		    ERR_reason_error_string(ERR_get_error()));
		ERR_clear_error();
		return -1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, verify_cb, ca);
	return 0;
}

int
center_ca_peer(struct center_ca *ca, X509 *cert, struct center_peer *p)
{
	memset(p, 0, sizeof(*p));
	switch (pki_cert_role(cert)) {
	case PKI_ROLE_DEVICE:
		p->role = CENTER_ROLE_DEVICE;
		break;
	case PKI_ROLE_SERVICE:
		p->role = CENTER_ROLE_SERVICE;
		break;
	case PKI_ROLE_ADMIN:
		p->role = CENTER_ROLE_ADMIN;
		break;
	default:
		return -1;
	}
	if (pki_cert_cn(cert, p->name, sizeof(p->name)) == -1 ||
	    pki_cert_serial(cert, p->serial) == -1 ||
	    pki_fingerprint(cert, p->fp) == -1) {
		p->role = CENTER_ROLE_NONE;
		return -1;
	}
	return 0;
}

int
center_ca_issue(struct center_ca *ca, const char *csr, size_t csrlen,
    const char *device_id, int64_t lifetime_s, char **cert_pem,
    char serial[CENTER_SERIAL_MAX], int64_t *nb, int64_t *na, char *err, size_t errlen)
{
	struct pki_err pe = { "" };
	X509 *x = NULL;
	size_t len;
	int rc = -1;

	if (pki_service_issue((const uint8_t *)csr, csrlen, device_id, ca->dir->service_ca,
	    ca->service_key, lifetime_s, &x, &pe) == -1) {
		xsnprintf(err, errlen, "%s", pe.msg);
		return -1;
	}
	if (pki_cert_pem(x, cert_pem, &len) == -1 || pki_cert_serial(x, serial) == -1) {
		xsnprintf(err, errlen, "cannot encode the certificate");
		goto out;
	}
	*nb = pki_cert_not_before(x);
	*na = pki_cert_not_after(x);
	rc = 0;
out:
	X509_free(x);
	return rc;
}

int
center_ca_dir_revoked(const struct center_ca *ca, struct center_revoked **out, size_t *n)
{
	struct pki_revoked *e = NULL;
	size_t ne = 0;

	*out = NULL;
	*n = 0;
	if (ca->dir->service_crl == NULL)
		return 0;
	if (pki_crl_entries(ca->dir->service_crl, &e, &ne, NULL) == -1)
		return -1;
	*out = xcalloc(ne + 1, sizeof(**out));
	for (size_t i = 0; i < ne; i++) {
		xsnprintf((*out)[i].serial, sizeof((*out)[i].serial), "%s", e[i].serial);
		(*out)[i].reason = e[i].reason == PKI_REASON_NONE ? 0 : (int)e[i].reason;
		(*out)[i].when = e[i].when;
	}
	*n = ne;
	free(e);
	return 0;
}

uint64_t
center_ca_dir_crl_number(const struct center_ca *ca)
{
	return ca->dir->service_crl != NULL ? pki_crl_number(ca->dir->service_crl) : 0;
}

int
center_ca_crl(struct center_ca *ca, const struct center_revoked *v, size_t n,
    uint64_t number, int64_t lifetime_s, char **crl_pem, char *err, size_t errlen)
{
	struct pki_revoked *e = NULL, *dir = NULL;
	struct pki_err pe = { "" };
	X509_CRL *crl = NULL;
	size_t ndir = 0, ne = 0, len;
	int rc = -1;

	/* keep what the PKI directory's own service CRL already revokes */
	if (ca->dir->service_crl != NULL &&
	    pki_crl_entries(ca->dir->service_crl, &dir, &ndir, &pe) == -1)
		goto out;
	e = xcalloc(n + ndir + 1, sizeof(*e));
	for (size_t i = 0; i < n; i++, ne++) {
		xsnprintf(e[ne].serial, sizeof(e[ne].serial), "%s", v[i].serial);
		e[ne].reason = (enum pki_crl_reason)v[i].reason;
		e[ne].when = v[i].when;
	}
	for (size_t i = 0; i < ndir; i++) {
		size_t j;

		for (j = 0; j < n; j++)
			if (strcmp(dir[i].serial, v[j].serial) == 0)
				break;
		if (j == n)
			e[ne++] = dir[i];
	}
	if (pki_crl_build(ca->dir->service_ca, ca->service_key, e, ne, number, 0,
	    lifetime_s, &crl, &pe) == -1 ||
	    pki_trust_add_crl(ca->trust, crl, &pe) == -1)
		goto out;
	if (pki_crl_pem(crl, crl_pem, &len) == -1) {
		xsnprintf(pe.msg, sizeof(pe.msg), "cannot encode the CRL");
		goto out;
	}
	rc = 0;
out:
	if (rc == -1)
		xsnprintf(err, errlen, "%s", pe.msg);
	X509_CRL_free(crl);
	free(dir);
	free(e);
	return rc;
}

int
center_ca_crl_install(struct center_ca *ca, const char *pem, char *err, size_t errlen)
{
	struct pki_err pe = { "" };
	X509_CRL *crl = NULL;
	int rc;

	if (pki_crl_parse((const uint8_t *)pem, strlen(pem), &crl, &pe) == -1) {
		xsnprintf(err, errlen, "%s", pe.msg);
		return -1;
	}
	rc = pki_trust_add_crl(ca->trust, crl, &pe);
	if (rc == -1)
		xsnprintf(err, errlen, "%s", pe.msg);
	X509_CRL_free(crl);
	return rc;
}

const char *
center_ca_root_pem(const struct center_ca *ca)
{
	return ca->root_pem;
}

const char *
center_ca_service_ca_pem(const struct center_ca *ca)
{
	return ca->service_pem;
}

const char *
center_ca_root_fingerprint(const struct center_ca *ca)
{
	return ca->root_fp;
}

int
center_cert_info(const char *cert, size_t len, uint8_t fp[CENTER_FP_LEN], char *cn,
    size_t cncap, char *err, size_t errlen)
{
	struct pki_err pe = { "" };
	X509 *x = NULL;
	int rc = -1;

	if (pki_cert_parse((const uint8_t *)cert, len, &x, &pe) == -1) {
		xsnprintf(err, errlen, "%s", pe.msg);
		return -1;
	}
	if (pki_cert_role(x) != PKI_ROLE_DEVICE)
		xsnprintf(err, errlen, "not a device (tier-1) certificate of the odvpn PKI");
	else if (pki_fingerprint(x, fp) == -1 || pki_cert_cn(x, cn, cncap) == -1)
		xsnprintf(err, errlen, "certificate has no subject CN");
	else
		rc = 0;
	X509_free(x);
	return rc;
}

int
center_reason_parse(const char *s, int *code)
{
	enum pki_crl_reason r;

	if (pki_crl_reason_parse(s, &r) == -1 || r == PKI_REASON_NONE ||
	    r == PKI_REASON_CA_COMPROMISE || r == PKI_REASON_AA_COMPROMISE ||
	    r == PKI_REASON_HOLD)
		return -1;
	*code = (int)r;
	return 0;
}

const char *
center_reason_name(int code)
{
	return pki_crl_reason_name((enum pki_crl_reason)code);
}

int
center_serial_parse(const char *s, char out[CENTER_SERIAL_MAX])
{
	return pki_serial_parse(s, out, NULL);
}
