/*
 * The two-tier PKI (SPEC REQ-PKI-1..5, docs/PKI.md).
 *
 *   root CA (accreditation authority)
 *    ├── device CA  ── device certificates      tier 1: enrolment/renewal only
 *    └── service CA ── service certificates     tier 2: IKE + control channel
 *                   ├─ center TLS certificate
 *                   └─ administrator certificates
 *
 * Every certificate carries the policy OID of its role (non-critical
 * certificatePolicies) and a role-specific keyUsage/extendedKeyUsage. Every
 * verifier in the product calls pki_verify(), which checks the chain to the
 * pinned root, the role of both the leaf and its issuing CA, validity, the CRLs
 * known to the trust set and, optionally, an expected identity.
 *
 * Conventions: functions return 0 on success and -1 on failure with a reason in
 * the struct pki_err (which may be NULL). OpenSSL objects passed in are borrowed
 * unless the comment says otherwise; objects returned through an out parameter
 * belong to the caller (X509_free, X509_CRL_free, X509_REQ_free, EVP_PKEY_free).
 * Times are seconds since the epoch (UTC); lifetimes are seconds.
 * Private keys are only ever reached through the key store (keystore.h).
 */
#ifndef ODVPN_PKI_PKI_H
#define ODVPN_PKI_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct keystore;
struct keystore_key;

/* ---- types ------------------------------------------------------------ */

#define PKI_ERR_MAX	256
struct pki_err {
	char	msg[PKI_ERR_MAX];
};

/* key algorithms we generate; pki_key_allowed() also admits RSA > 3072 */
enum pki_alg {
	PKI_ALG_NONE = 0,
	PKI_ALG_P256,		/* ECDSA P-256, SHA-256 (default) */
	PKI_ALG_P384,		/* ECDSA P-384, SHA-384 */
	PKI_ALG_RSA3072,	/* RSA 3072 (or larger when imported), SHA-256 */
};

enum pki_hash {
	PKI_HASH_SHA256 = 1,
	PKI_HASH_SHA384,
	PKI_HASH_SHA512,
};

/*
 * Certificate roles. The first four are end-entity roles a verifier asks for;
 * the last three are the CA profiles.
 */
enum pki_role {
	PKI_ROLE_NONE = 0,
	PKI_ROLE_DEVICE,	/* tier 1: TLS client to the center, enrolment/renewal */
	PKI_ROLE_SERVICE,	/* tier 2: IKE (ID_FQDN = device id) and control channel */
	PKI_ROLE_CENTER,	/* the center's TLS server certificate */
	PKI_ROLE_ADMIN,		/* administrator TLS client certificate */
	PKI_ROLE_ROOT,
	PKI_ROLE_DEVICE_CA,
	PKI_ROLE_SERVICE_CA,
};
#define PKI_ROLE_BIT(r)	(1u << (unsigned)(r))

/*
 * Policy OIDs under 2.25.<UUID 5b11f1c9-da01-414d-b1c7-40a469c9523e as a decimal
 * integer> (ITU-T X.667 §6.3). One arc per end-entity role; a CA carries the
 * policies of the roles it may issue (device CA: device; service CA: service,
 * center, admin); the root carries anyPolicy.
 */
#define PKI_OID_ARC		"2.25.121052920716066831377539287066725667390"
#define PKI_OID_POLICY_DEVICE	PKI_OID_ARC ".1.1"
#define PKI_OID_POLICY_SERVICE	PKI_OID_ARC ".1.2"
#define PKI_OID_POLICY_CENTER	PKI_OID_ARC ".1.3"
#define PKI_OID_POLICY_ADMIN	PKI_OID_ARC ".1.4"

/* default lifetimes (seconds) */
#define PKI_DAY			86400LL
#define PKI_LIFETIME_ROOT	(7305 * PKI_DAY)	/* 20 years */
#define PKI_LIFETIME_CA		(3652 * PKI_DAY)	/* 10 years */
#define PKI_LIFETIME_DEVICE	(1826 * PKI_DAY)	/* 5 years, the device's life */
#define PKI_LIFETIME_SERVICE	(30 * PKI_DAY)		/* short: renewed automatically */
#define PKI_LIFETIME_CENTER	(365 * PKI_DAY)
#define PKI_LIFETIME_ADMIN	(365 * PKI_DAY)
#define PKI_LIFETIME_CRL	(7 * PKI_DAY)		/* nextUpdate - thisUpdate */
#define PKI_BACKDATE		300			/* notBefore = now - 5 min: clock skew */

/* key store labels (one key and/or one certificate per label) */
#define PKI_LABEL_ROOT		"root"
#define PKI_LABEL_DEVICE_CA	"device-ca"
#define PKI_LABEL_SERVICE_CA	"service-ca"
#define PKI_LABEL_CENTER	"center"
#define PKI_LABEL_ADMIN		"admin"
#define PKI_LABEL_DEVICE	"device"	/* in a device's key store: tier-1 key + cert */
#define PKI_LABEL_SERVICE	"service"	/* in a device's key store: tier-2 key + cert */

#define PKI_FP_LEN		32		/* SHA-256 */
#define PKI_FP_HEX_MAX		(PKI_FP_LEN * 3)	/* "aa:bb:…" + NUL */
#define PKI_SERIAL_HEX_MAX	41		/* 20 octets (RFC 5280 4.1.2.2) + NUL */
#define PKI_NAME_MAX		65		/* device id / CN (ub-common-name 64), + NUL */
#define PKI_INPUT_MAX		(64 * 1024)	/* largest cert/CSR/CRL accepted as input */
#define PKI_CRL_INPUT_MAX	(16 * 1024 * 1024)

int		 pki_alg_parse(const char *, enum pki_alg *);	/* "p256" "p384" "rsa3072" */
const char	*pki_alg_name(enum pki_alg);
const char	*pki_role_name(enum pki_role);	/* "device" "service" "center" "admin" … */
int		 pki_role_parse(const char *, enum pki_role *);
/* 0 when the key is one we accept: EC P-256/P-384, RSA 3072..16384 bits */
int		 pki_key_allowed(const EVP_PKEY *, enum pki_alg *alg_out, struct pki_err *);

/*
 * A device id is an IKE ID_FQDN and a subject CN: lower-case LDH labels separated
 * by dots, 1..64 characters (the X.520 upper bound of a CN).
 */
bool		 pki_device_id_valid(const char *);

/* ---- encoding --------------------------------------------------------- */

/* one certificate, PEM or DER (auto-detected), at most PKI_INPUT_MAX bytes */
int	 pki_cert_parse(const uint8_t *, size_t, X509 **, struct pki_err *);
/* a PEM bundle (or one DER certificate); *out is a new stack, pop_free with X509_free */
int	 pki_certs_parse(const uint8_t *, size_t, STACK_OF(X509) **, struct pki_err *);
int	 pki_cert_load(const char *path, X509 **, struct pki_err *);
/* atomic write, mode 0644 */
int	 pki_cert_save(const char *path, const X509 *, struct pki_err *);
/* PEM text, NUL-terminated; caller frees *out with free() */
int	 pki_cert_pem(const X509 *, char **out, size_t *outlen);
/* DER; caller frees *out with free() */
int	 pki_cert_der(const X509 *, uint8_t **out, size_t *outlen);

/* ---- inspection (no verification) ------------------------------------- */

/* the role a certificate's profile claims (policy OID, CA flag); NONE if not ours */
enum pki_role	 pki_cert_role(const X509 *);
/* subject CN (the device id for device/service certs), into out[cap] */
int		 pki_cert_cn(const X509 *, char *out, size_t cap);
/* canonical serial: lower-case hex, no leading zero octets; out[PKI_SERIAL_HEX_MAX] */
int		 pki_cert_serial(const X509 *, char *out);
int64_t		 pki_cert_not_before(const X509 *);
int64_t		 pki_cert_not_after(const X509 *);

/* ---- fingerprints and root pinning (REQ-PKI-4) ------------------------ */

/* SHA-256 over the DER certificate */
int	 pki_fingerprint(const X509 *, uint8_t out[PKI_FP_LEN]);
/* lower-case hex, optionally colon-separated; out[PKI_FP_HEX_MAX] */
int	 pki_fingerprint_hex(const X509 *, bool colons, char *out);
/* hex, any case, with or without ':' between octets (also accepts "sha256:" prefix) */
int	 pki_pin_parse(const char *, uint8_t out[PKI_FP_LEN], struct pki_err *);
/*
 * 0 when root's fingerprint equals the pin (compared with CRYPTO_memcmp) and root
 * is a self-signed CA; -1 with a reason otherwise.
 */
int	 pki_pin_check(const X509 *root, const char *pin, struct pki_err *);

/* ---- issuance --------------------------------------------------------- */

struct pki_issue_req {
	enum pki_role	  role;		/* the profile to apply */
	EVP_PKEY	 *pubkey;	/* subject public key (borrowed; only the public half is used) */
	const char	 *cn;		/* subject CN: CA name, device id, admin name, center name */
	const char	 *org;		/* subject O, or NULL: copy the issuer's O */
	const char *const *san;		/* center: DNS names and IP literals; others ignore it */
	size_t		  nsan;
	int64_t		  not_before;	/* 0: now - PKI_BACKDATE */
	int64_t		  lifetime_s;	/* 0: the role's default; clipped to the issuer's notAfter */
};

/*
 * Issue a certificate with the profile of req->role, signed by issuer_key. For
 * PKI_ROLE_ROOT issuer_cert is NULL and the certificate is self-signed with
 * issuer_key (req->pubkey must be its public half). The issuer must be the CA
 * that may issue the role (root for CAs, device CA for device, service CA for
 * service/center/admin). Serial: 16 random octets.
 */
int	 pki_issue(const struct pki_issue_req *, X509 *issuer_cert,
	    struct keystore_key *issuer_key, X509 **out, struct pki_err *);

/* CSR, PEM or DER; no checks beyond parsing */
int	 pki_csr_parse(const uint8_t *, size_t, X509_REQ **, struct pki_err *);
/* the CSR's self-signature verifies and its key is allowed (P-256/P-384/RSA>=3072) */
int	 pki_csr_check(X509_REQ *, struct pki_err *);
/*
 * The center's service-certificate issuance (enrolment and renewal): parse the
 * CSR (PEM or DER), pki_csr_check it, refuse a subject CN other than device_id,
 * ignore every requested extension, and issue a tier-2 service certificate for
 * device_id (the identity the center authenticated, not the CSR's word) with
 * lifetime_s (0: PKI_LIFETIME_SERVICE).
 */
int	 pki_service_issue(const uint8_t *csr, size_t csrlen, const char *device_id,
	    X509 *service_ca, struct keystore_key *service_ca_key, int64_t lifetime_s,
	    X509 **out, struct pki_err *);
/* a device's CSR: subject CN=device_id, signed by key (which stays in its store) */
int	 pki_csr_build(struct keystore_key *, const char *device_id, X509_REQ **,
	    struct pki_err *);
/* PEM text / DER of a CSR; caller frees *out with free() */
int	 pki_csr_pem(const X509_REQ *, char **out, size_t *outlen);
int	 pki_csr_der(const X509_REQ *, uint8_t **out, size_t *outlen);

/* ---- revocation (REQ-PKI-5) ------------------------------------------- */

/* RFC 5280 5.3.1 CRLReason values */
enum pki_crl_reason {
	PKI_REASON_NONE = -1,		/* no reasonCode extension */
	PKI_REASON_UNSPECIFIED = 0,
	PKI_REASON_KEY_COMPROMISE = 1,
	PKI_REASON_CA_COMPROMISE = 2,
	PKI_REASON_AFFILIATION_CHANGED = 3,
	PKI_REASON_SUPERSEDED = 4,
	PKI_REASON_CESSATION = 5,
	PKI_REASON_HOLD = 6,
	PKI_REASON_PRIVILEGE_WITHDRAWN = 9,
	PKI_REASON_AA_COMPROMISE = 10,
};
/* "keyCompromise", "superseded", … (RFC 5280 names) */
int		 pki_crl_reason_parse(const char *, enum pki_crl_reason *);
const char	*pki_crl_reason_name(enum pki_crl_reason);

struct pki_revoked {
	char			serial[PKI_SERIAL_HEX_MAX];	/* canonical hex */
	enum pki_crl_reason	reason;
	int64_t			when;				/* revocation date */
};

/* canonicalise a serial given as hex (any case, optional ':' or "0x") */
int	 pki_serial_parse(const char *, char out[PKI_SERIAL_HEX_MAX], struct pki_err *);

/*
 * A v2 CRL over the n revoked entries, signed by ca_key with the CA's hash, with
 * cRLNumber crl_number, authorityKeyIdentifier, thisUpdate this_update (0: now)
 * and nextUpdate this_update + lifetime_s (0: PKI_LIFETIME_CRL).
 */
int	 pki_crl_build(X509 *ca, struct keystore_key *ca_key, const struct pki_revoked *,
	    size_t n, uint64_t crl_number, int64_t this_update, int64_t lifetime_s,
	    X509_CRL **out, struct pki_err *);
/* PEM or DER, at most PKI_CRL_INPUT_MAX bytes */
int	 pki_crl_parse(const uint8_t *, size_t, X509_CRL **, struct pki_err *);
int	 pki_crl_load(const char *path, X509_CRL **, struct pki_err *);
int	 pki_crl_save(const char *path, const X509_CRL *, struct pki_err *);
int	 pki_crl_pem(const X509_CRL *, char **out, size_t *outlen);
/* 0 when the CRL names ca as its issuer and ca's key verifies its signature */
int	 pki_crl_verify(X509_CRL *, X509 *ca, struct pki_err *);
/* the entries; caller frees *out with free() (NULL when n == 0) */
int	 pki_crl_entries(const X509_CRL *, struct pki_revoked **out, size_t *n,
	    struct pki_err *);
/* cRLNumber, 0 when absent */
uint64_t pki_crl_number(const X509_CRL *);
/* 1 revoked (entry in *out if not NULL), 0 not revoked, -1 bad serial */
int	 pki_crl_lookup(const X509_CRL *, const char *serial_hex, struct pki_revoked *out);

/* ---- verification (REQ-PKI-3) ----------------------------------------- */

/*
 * A trust set: the pinned root, the tier CAs under it, and the CRLs of those CAs
 * (and of the root, for revoked CAs). Immutable while pki_verify runs; callers
 * that swap CRLs at run time build a new set, or serialise.
 */
struct pki_trust;

/* root must be a self-signed CA (pin it first with pki_pin_check); takes a reference */
struct pki_trust *pki_trust_new(X509 *root, struct pki_err *);
void	 pki_trust_free(struct pki_trust *);
/* add a device or service CA; refused unless it is a CA issued by the root */
int	 pki_trust_add_ca(struct pki_trust *, X509 *ca, struct pki_err *);
/*
 * add a CRL issued by the root or a CA of the set (signature verified here). A
 * CRL with a higher cRLNumber replaces the one held for the same CA; a lower or
 * equal one is refused (rollback).
 */
int	 pki_trust_add_crl(struct pki_trust *, X509_CRL *, struct pki_err *);
X509	*pki_trust_root(const struct pki_trust *);	/* borrowed */

struct pki_verify_opts {
	unsigned	 roles;		/* PKI_ROLE_BIT()s of the acceptable end-entity roles */
	const char	*identity;	/* expected identity or NULL: service: dNSName SAN;
					   center: DNS or IP SAN; device/admin: subject CN */
	int64_t		 now;		/* 0: wall clock */
	STACK_OF(X509)	*chain;		/* certificates sent by the peer, or NULL */
};

/*
 * The one verifier. 0 accepts the leaf, with its role in *role_out (may be
 * NULL); -1 refuses with the reason in err. Checks, in order: chain to the
 * trust set's root (signatures, validity at opts->now, basic constraints),
 * exactly one tier CA between leaf and root, the leaf's role from its profile
 * (policy OID, keyUsage, extendedKeyUsage, not a CA) is in opts->roles, the
 * issuing CA is the CA of that role (its policies include the role's), no
 * certificate on the path is on a CRL of the set, and the identity.
 */
int	 pki_verify(const struct pki_trust *, X509 *leaf, const struct pki_verify_opts *,
	    enum pki_role *role_out, struct pki_err *);
/*
 * pki_verify for SSL_CTX_set_cert_verify_callback: leaf and chain come from ctx;
 * on refusal the ctx error is set to X509_V_ERR_APPLICATION_VERIFICATION and the
 * reason is in err. Returns 1 accept / 0 refuse, as that callback must.
 */
int	 pki_verify_x509_store_ctx(X509_STORE_CTX *, const struct pki_trust *,
	    const struct pki_verify_opts *, enum pki_role *role_out, struct pki_err *);

/* ---- a PKI directory (the file layout of `odvpn pki init`) ------------ */

#define PKI_FILE_ROOT		"root.crt.pem"
#define PKI_FILE_DEVICE_CA	"device-ca.crt.pem"
#define PKI_FILE_SERVICE_CA	"service-ca.crt.pem"
#define PKI_FILE_CENTER		"center.crt.pem"
#define PKI_FILE_CENTER_CHAIN	"center-chain.pem"	/* center + service CA, for TLS */
#define PKI_FILE_ADMIN		"admin.crt.pem"
#define PKI_FILE_ROOT_CRL	"root.crl.pem"
#define PKI_FILE_DEVICE_CRL	"device-ca.crl.pem"
#define PKI_FILE_SERVICE_CRL	"service-ca.crl.pem"
#define PKI_FILE_FINGERPRINT	"root.sha256"
#define PKI_FILE_INDEX		"index.txt"		/* certificates issued from this directory */
#define PKI_DIR_PRIVATE		"private"		/* the file key store (0700) */

struct pki_dir {
	char		*path;
	struct keystore	*keys;		/* <path>/private: root, CA, center, admin keys */
	X509		*root;
	X509		*device_ca;
	X509		*service_ca;
	X509		*center;	/* NULL if absent */
	X509		*admin;		/* NULL if absent */
	X509_CRL	*root_crl;	/* NULL if absent */
	X509_CRL	*device_crl;
	X509_CRL	*service_crl;
};

struct pki_init_opts {
	enum pki_alg	  alg;		/* NONE: P-256 */
	const char	 *org;		/* subject O of every certificate; NULL: "odvpn" */
	const char *const *center_names;	/* SAN of the center cert; NULL: localhost, 127.0.0.1 */
	size_t		  ncenter_names;
	const char	 *admin_name;	/* NULL: "admin" */
	bool		  force;	/* replace an existing PKI */
};

/* create the whole hierarchy, keys, empty CRLs and index under path */
int	 pki_dir_init(const char *path, const struct pki_init_opts *, struct pki_err *);
/*
 * load every certificate and CRL (checking the CAs chain to the root and the CRLs'
 * signatures) and open the key store; keys are loaded on demand with
 * keystore_key_load(dir->keys, PKI_LABEL_…).
 */
int	 pki_dir_load(const char *path, struct pki_dir **, struct pki_err *);
void	 pki_dir_free(struct pki_dir *);
/* a trust set with root, both CAs and every CRL of the directory */
int	 pki_dir_trust(const struct pki_dir *, struct pki_trust **, struct pki_err *);
/*
 * manufacture: generate the device key inside device_ks under PKI_LABEL_DEVICE,
 * issue the tier-1 certificate for device_id, store it (PKI_LABEL_DEVICE) and the
 * root certificate (PKI_LABEL_ROOT) in device_ks, record it in the index.
 * alg NONE: the device CA's algorithm. force: replace an existing device key.
 */
int	 pki_dir_issue_device(struct pki_dir *, struct keystore *device_ks,
	    const char *device_id, enum pki_alg, bool force, X509 **out, struct pki_err *);
/*
 * revoke serial (hex, any form) on the CRL of the CA that issued it: ca is
 * PKI_ROLE_ROOT, _DEVICE_CA or _SERVICE_CA, or NONE to find the issuer in
 * index.txt. Rewrites that CRL (same entries + this one, cRLNumber + 1) and
 * updates the dir's copy; the CA used is returned in *ca_out (may be NULL).
 */
int	 pki_dir_revoke(struct pki_dir *, const char *serial, enum pki_role ca,
	    enum pki_crl_reason, enum pki_role *ca_out, struct pki_err *);
/* re-sign the CRL of ca (ROOT, DEVICE_CA, SERVICE_CA) with fresh dates, cRLNumber + 1 */
int	 pki_dir_crl_refresh(struct pki_dir *, enum pki_role ca, struct pki_err *);
/*
 * Replace a tier CA (DEVICE_CA or SERVICE_CA) after a key compromise or for
 * rotation: delete its key, generate a new one, have the root issue a new CA
 * certificate (same name), start its CRL empty, and revoke the old CA on the
 * root's CRL with reason. For the service CA the center and admin certificates
 * are re-issued under the new CA for their existing keys. Every certificate the
 * old CA issued stops verifying.
 */
int	 pki_dir_rekey_ca(struct pki_dir *, enum pki_role ca, enum pki_crl_reason,
	    struct pki_err *);

#endif
