/*
 * Key store backends (internal to src/pki). keystore.c picks the backend by
 * the URI scheme and forwards to these operations; callers never see them.
 *
 * A backend returns keys as EVP_PKEYs. For the file backend that is a key read
 * from its PKCS#8 file; a PKCS#11 backend returns a provider-backed EVP_PKEY
 * whose private half stays in the token, so signing through OpenSSL (and
 * keystore_sign, which uses EVP_DigestSign) works unchanged, and a key handle
 * needs nothing from the store once it is loaded.
 */
#ifndef ODVPN_PKI_KEYSTORE_BACKEND_H
#define ODVPN_PKI_KEYSTORE_BACKEND_H

#include "pki/keystore.h"

struct keystore_ops {
	const char	*scheme;	/* URI scheme, without ':' */
	/* location: the URI without "scheme:"; *state is the backend's */
	int	(*open)(const char *location, unsigned flags, void **state,
		    struct pki_err *);
	void	(*close)(void *state);
	/* *out: a new EVP_PKEY with the private key (or its token handle) */
	int	(*key_generate)(void *state, const char *label, enum pki_alg,
		    EVP_PKEY **out, struct pki_err *);
	int	(*key_load)(void *state, const char *label, EVP_PKEY **out,
		    struct pki_err *);
	int	(*key_exists)(void *state, const char *label, struct pki_err *);
	int	(*key_remove)(void *state, const char *label, struct pki_err *);
	/* move key `from` (and its certificate, if any) to label `to`, replacing
	 * what `to` held; the key moves first */
	int	(*key_rename)(void *state, const char *from, const char *to,
		    struct pki_err *);
	int	(*cert_store)(void *state, const char *label, const X509 *,
		    struct pki_err *);
	int	(*cert_load)(void *state, const char *label, X509 **, struct pki_err *);
};

extern const struct keystore_ops keystore_file_ops;	/* keystore_file.c */

#endif
