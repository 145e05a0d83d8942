/*
 * The key store (SPEC REQ-PKI-2): the only place private keys live. Callers get
 * an opaque key handle and can sign with it, read its public half, or borrow an
 * EVP_PKEY for OpenSSL (SSL_CTX_use_PrivateKey, X509_sign) — there is no call
 * that returns key bytes.
 *
 * A store is opened by URI:
 *   "file:/path" or "/path" or "relative/path"
 *       a directory (0700) holding one PKCS#8 PEM file per key label
 *       (<label>.key.pem, 0600) and one PEM file per certificate label
 *       (<label>.crt.pem, 0644), every file written atomically.
 *   "pkcs11:…" (RFC 7512)
 *       reserved for the PKCS#11 backend (SoftHSM2, tpm2-pkcs11); it plugs in
 *       behind the same operations (keystore_backend.h) and hands out
 *       provider-backed EVP_PKEYs, so callers do not change.
 *
 * Labels: 1..64 characters of [A-Za-z0-9._-], not starting with '.'.
 * A key handle stays valid until keystore_key_free, independently of the store
 * it came from (a PKCS#11 backend keeps its session open until then).
 * Functions return 0 / -1 with a reason in err (may be NULL). Nothing here logs
 * key material.
 */
#ifndef ODVPN_PKI_KEYSTORE_H
#define ODVPN_PKI_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki/pki.h"

struct keystore;
struct keystore_key;

#define KEYSTORE_CREATE		0x1	/* create the store (directory) if missing */

#define KEYSTORE_LABEL_MAX	64
#define KEYSTORE_SIG_MAX	1024	/* large enough for RSA-8192 */

/* signature encodings for keystore_sign */
enum keystore_sig {
	KEYSTORE_SIG_ECDSA = 1,		/* DER ECDSA-Sig-Value (RFC 3279), EC keys */
	KEYSTORE_SIG_RSA_PKCS1,		/* RSASSA-PKCS1-v1_5 */
	KEYSTORE_SIG_RSA_PSS,		/* RSASSA-PSS, MGF1 with the same hash, salt = hash length */
};

int		 keystore_open(const char *uri, unsigned flags, struct keystore **,
		    struct pki_err *);
void		 keystore_close(struct keystore *);
const char	*keystore_uri(const struct keystore *);

/* generate a fresh key under label, inside the store; refused if label exists */
int		 keystore_key_generate(struct keystore *, const char *label, enum pki_alg,
		    struct keystore_key **, struct pki_err *);
int		 keystore_key_load(struct keystore *, const char *label,
		    struct keystore_key **, struct pki_err *);
/* 1 present, 0 absent, -1 error */
int		 keystore_key_exists(struct keystore *, const char *label, struct pki_err *);
int		 keystore_key_remove(struct keystore *, const char *label, struct pki_err *);
/*
 * move the key under `from` and its certificate (if any) to `to`, replacing
 * the key and certificate `to` held: how a key made and certified under a
 * staging label is put into service. Each move is atomic (file backend:
 * rename(2), then the directory is synced); the key moves first, so a crash in
 * between leaves the new key beside the old certificate, never the reverse.
 */
int		 keystore_key_rename(struct keystore *, const char *from, const char *to,
		    struct pki_err *);
void		 keystore_key_free(struct keystore_key *);

const char	*keystore_key_label(const struct keystore_key *);
enum pki_alg	 keystore_key_alg(const struct keystore_key *);
/* a new EVP_PKEY holding only the public half; caller EVP_PKEY_free()s it */
EVP_PKEY	*keystore_key_public(const struct keystore_key *);
/*
 * the key as an EVP_PKEY for OpenSSL APIs that sign (SSL_CTX_use_PrivateKey takes
 * its own reference). Borrowed: valid while the handle lives; never serialise it.
 */
EVP_PKEY	*keystore_key_evp(struct keystore_key *);
/*
 * sign msg (hashed here with hash). sig has room for *siglen bytes
 * (KEYSTORE_SIG_MAX is always enough); *siglen is set to the signature length.
 * The encoding must fit the key: ECDSA for EC keys, PKCS1 or PSS for RSA keys.
 */
int		 keystore_sign(struct keystore_key *, enum pki_hash, enum keystore_sig,
		    const uint8_t *msg, size_t msglen, uint8_t *sig, size_t *siglen,
		    struct pki_err *);

/* certificates kept beside the keys (public; replaced atomically) */
int		 keystore_cert_store(struct keystore *, const char *label, const X509 *,
		    struct pki_err *);
int		 keystore_cert_load(struct keystore *, const char *label, X509 **,
		    struct pki_err *);

bool		 keystore_label_valid(const char *);

#endif
