/* Helpers shared by the files of src/pki; not for callers outside it. */
#ifndef ODVPN_PKI_INTERNAL_H
#define ODVPN_PKI_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki/pki.h"

/* set err->msg (err may be NULL) */
void		 pki_err_set(struct pki_err *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
/* like pki_err_set, then append ": <first OpenSSL error>" and clear the queue */
void		 pki_err_ssl(struct pki_err *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

const EVP_MD	*pki_hash_md(enum pki_hash);
/* the hash a key signs certificates, CRLs and CSRs with */
enum pki_hash	 pki_key_hash(const EVP_PKEY *);
/* a new EVP_PKEY of alg (used by the file backend; a token generates its own) */
EVP_PKEY	*pki_key_new(enum pki_alg, struct pki_err *);

int		 pki_asn1_time_get(const ASN1_TIME *, int64_t *);
/* ASN1_INTEGER <-> canonical hex serial */
int		 pki_serial_from_asn1(const ASN1_INTEGER *, char out[PKI_SERIAL_HEX_MAX]);
ASN1_INTEGER	*pki_serial_to_asn1(const char *hex);

/* profile.c: the role whose policy OID the certificate carries (leaf roles) */
const char	*pki_role_policy_oid(enum pki_role);
/*
 * check cert against the end-entity profile of role (policy, KU, EKU, not a CA)
 * or, for the CA roles, the CA profile; 0 or -1 with a reason
 */
int		 pki_profile_check(const X509 *, enum pki_role, struct pki_err *);
/* the CA role that issues role; NONE for the root */
enum pki_role	 pki_role_issuer(enum pki_role);
/* add the role's extensions (BC, KU, EKU, policies, SKI, AKI, SAN) to cert */
int		 pki_profile_apply(X509 *cert, X509 *issuer, enum pki_role,
		    const char *const *san, size_t nsan, const char *cn, struct pki_err *);
/* 0 when name can go into a SAN as a dNSName or an iPAddress */
int		 pki_san_name_check(const char *, struct pki_err *);
/* the role's default lifetime in seconds */
int64_t		 pki_profile_lifetime(enum pki_role);
/* 1 if the certificate's policies include oid */
int		 pki_cert_has_policy(const X509 *, const char *oid);

/* pkidir.c: index.txt of a PKI directory */
int		 pki_dir_index_add(const char *dir, const X509 *, enum pki_role,
		    struct pki_err *);
/* 1 found (role and CN filled), 0 absent, -1 error */
int		 pki_dir_index_lookup(const char *dir, const char *serial, enum pki_role *,
		    char *cn, size_t cncap, struct pki_err *);

#endif
