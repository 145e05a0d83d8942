/*
 * Key store front end: picks the backend by URI scheme and does what every
 * backend shares (label checks, signing through EVP, public-key export).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "lib/util.h"
#include "pki/keystore.h"
#include "pki/keystore_backend.h"
#include "pki/pki_internal.h"

struct keystore {
	const struct keystore_ops	*ops;
	void				*state;
	char				*uri;
};

struct keystore_key {
	EVP_PKEY	*pkey;
	enum pki_alg	 alg;
	char		 label[KEYSTORE_LABEL_MAX + 1];
};

bool
keystore_label_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > KEYSTORE_LABEL_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int
check_label(const char *label, struct pki_err *err)
{
	if (label == NULL || !keystore_label_valid(label)) {
		pki_err_set(err, "invalid key store label \"%.70s\" ([A-Za-z0-9._-], "
		    "1..64, not starting with '.')", label == NULL ? "" : label);
		return -1;
	}
	return 0;
}

int
keystore_open(const char *uri, unsigned flags, struct keystore **out, struct pki_err *err)
{
	const struct keystore_ops *ops = &keystore_file_ops;
	const char *loc = uri;
	struct keystore *ks;
	void *state;

	if (uri == NULL || uri[0] == '\0') {
		pki_err_set(err, "empty key store location");
		return -1;
	}
	if (strncmp(uri, "file:", 5) == 0) {
		loc = uri + 5;
		/* file:///path is file:/path */
		if (strncmp(loc, "//", 2) == 0)
			loc += 2;
	} else if (strncmp(uri, "pkcs11:", 7) == 0) {
		pki_err_set(err, "key store \"%.80s\": the PKCS#11 backend is not "
		    "built in this version (use a file: store)", uri);
		return -1;
	}
	if (loc[0] == '\0') {
		pki_err_set(err, "empty key store path");
		return -1;
	}
	if (ops->open(loc, flags, &state, err) == -1)
		return -1;
	ks = xcalloc(1, sizeof(*ks));
	ks->ops = ops;
	ks->state = state;
	ks->uri = xstrdup(uri);
	*out = ks;
	return 0;
}

void
keystore_close(struct keystore *ks)
{
	if (ks == NULL)
		return;
	ks->ops->close(ks->state);
	free(ks->uri);
	free(ks);
}

const char *
keystore_uri(const struct keystore *ks)
{
	return ks->uri;
}

static int
key_wrap(EVP_PKEY *pk, const char *label, struct keystore_key **out, struct pki_err *err)
{
	struct keystore_key *k;
	enum pki_alg alg;

	if (pki_key_allowed(pk, &alg, err) == -1) {
		EVP_PKEY_free(pk);
		return -1;
	}
	k = xcalloc(1, sizeof(*k));
	k->pkey = pk;
	k->alg = alg;
	(void)xsnprintf(k->label, sizeof(k->label), "%s", label);
	*out = k;
	return 0;
}

int
keystore_key_generate(struct keystore *ks, const char *label, enum pki_alg alg,
    struct keystore_key **out, struct pki_err *err)
{
	EVP_PKEY *pk;

	if (check_label(label, err) == -1)
		return -1;
	switch (ks->ops->key_exists(ks->state, label, err)) {
	case 0:
		break;
	case 1:
		pki_err_set(err, "key store already holds a key labelled \"%s\"", label);
		return -1;
	default:
		return -1;
	}
	if (ks->ops->key_generate(ks->state, label, alg, &pk, err) == -1)
		return -1;
	return key_wrap(pk, label, out, err);
}

int
keystore_key_load(struct keystore *ks, const char *label, struct keystore_key **out,
    struct pki_err *err)
{
	EVP_PKEY *pk;

	if (check_label(label, err) == -1 ||
	    ks->ops->key_load(ks->state, label, &pk, err) == -1)
		return -1;
	return key_wrap(pk, label, out, err);
}

int
keystore_key_exists(struct keystore *ks, const char *label, struct pki_err *err)
{
	if (check_label(label, err) == -1)
		return -1;
	return ks->ops->key_exists(ks->state, label, err);
}

int
keystore_key_remove(struct keystore *ks, const char *label, struct pki_err *err)
{
	if (check_label(label, err) == -1)
		return -1;
	return ks->ops->key_remove(ks->state, label, err);
}

int
keystore_key_rename(struct keystore *ks, const char *from, const char *to,
    struct pki_err *err)
{
	if (check_label(from, err) == -1 || check_label(to, err) == -1)
		return -1;
	if (strcmp(from, to) == 0) {
		pki_err_set(err, "cannot rename key \"%s\" to itself", from);
		return -1;
	}
	return ks->ops->key_rename(ks->state, from, to, err);
}

void
keystore_key_free(struct keystore_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);	/* clears the private key material */
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

const char *
keystore_key_label(const struct keystore_key *k)
{
	return k->label;
}

enum pki_alg
keystore_key_alg(const struct keystore_key *k)
{
	return k->alg;
}

EVP_PKEY *
keystore_key_public(const struct keystore_key *k)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub;
	int n;

	/* through SubjectPublicKeyInfo: the copy cannot carry the private half */
	if ((n = i2d_PUBKEY(k->pkey, &der)) <= 0)
		return NULL;
	p = der;
	pub = d2i_PUBKEY(NULL, &p, n);
	OPENSSL_free(der);
	return pub;
}

EVP_PKEY *
keystore_key_evp(struct keystore_key *k)
{
	return k->pkey;
}

int
keystore_sign(struct keystore_key *k, enum pki_hash hash, enum keystore_sig enc,
    const uint8_t *msg, size_t msglen, uint8_t *sig, size_t *siglen, struct pki_err *err)
{
	const EVP_MD *md = pki_hash_md(hash);
	int type = EVP_PKEY_get_base_id(k->pkey);
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	size_t need = 0;
	int r = -1;

	if (md == NULL) {
		pki_err_set(err, "unknown hash");
		return -1;
	}
	if ((enc == KEYSTORE_SIG_ECDSA && type != EVP_PKEY_EC) ||
	    ((enc == KEYSTORE_SIG_RSA_PKCS1 || enc == KEYSTORE_SIG_RSA_PSS) &&
	    type != EVP_PKEY_RSA) ||
	    (enc != KEYSTORE_SIG_ECDSA && enc != KEYSTORE_SIG_RSA_PKCS1 &&
	    enc != KEYSTORE_SIG_RSA_PSS)) {
		pki_err_set(err, "signature scheme does not fit the %s key \"%s\"",
		    pki_alg_name(k->alg), k->label);
		return -1;
	}
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(mctx, &pctx, md, NULL, k->pkey) != 1)
		goto fail;
	if (enc == KEYSTORE_SIG_RSA_PSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto fail;
	if (enc == KEYSTORE_SIG_RSA_PKCS1 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto fail;
	if (EVP_DigestSign(mctx, NULL, &need, msg, msglen) != 1)
		goto fail;
	if (need > *siglen) {
		pki_err_set(err, "signature buffer too small (%zu < %zu)", *siglen, need);
		goto out;
	}
	if (EVP_DigestSign(mctx, sig, siglen, msg, msglen) != 1)
		goto fail;
	r = 0;
	goto out;
fail:
	pki_err_ssl(err, "signing with key \"%s\" failed", k->label);
out:
	EVP_MD_CTX_free(mctx);
	return r;
}

int
keystore_cert_store(struct keystore *ks, const char *label, const X509 *x,
    struct pki_err *err)
{
	if (check_label(label, err) == -1)
		return -1;
	return ks->ops->cert_store(ks->state, label, x, err);
}

int
keystore_cert_load(struct keystore *ks, const char *label, X509 **out, struct pki_err *err)
{
	if (check_label(label, err) == -1)
		return -1;
	return ks->ops->cert_load(ks->state, label, out, err);
}
