/*
 * Enrolment: the device side of SPEC §3 step 3 (REQ-PKI-2..4; docs/API.md,
 * POST /v1/enroll and /v1/renew). `odvpn enrol` is a thin verb on top of
 * enrol_run(); odvpnd's managed mode calls the same function, and its center
 * client uses enrol_request() for the later service-certificate requests.
 *
 * The device talks to the center over HTTPS (libcurl, TLS 1.3 only) with a
 * client certificate from its key store; the private key never leaves the key
 * store: libcurl gets no key file, the key is handed to OpenSSL as the key
 * store's EVP_PKEY (SSL_CTX_use_PrivateKey) from the SSL_CTX callback.
 *
 * Trust: the root certificate in the key store, when there is one, must match
 * the pin, and the center's TLS certificate is verified against it in the
 * handshake (pki_verify, role center, identity = the URL's host). Without one
 * (a device that was given only the pin), the handshake records the center's
 * chain and nothing in the answer is believed until the answer's root matched
 * the pin and that chain verified against it.
 *
 * Functions return 0 on success and -1 with one sentence in err.
 */
#ifndef ODVPN_DEVICE_ENROL_H
#define ODVPN_DEVICE_ENROL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "pki/keystore.h"
#include "pki/pki.h"

#define ENROL_PATH_MAX		512
#define ENROL_ANSWER_MAX	(1024 * 1024)	/* largest answer body accepted */
#define ENROL_TIMEOUT_S		30		/* default for a whole request */
#define ENROL_CRL_FILE		"service-ca.crl.pem"	/* in a file key store's directory */
/* the staging label of a service key until its certificate is verified */
#define ENROL_LABEL_STAGE	"service-new"

/* ---- one request to the center as this device ----------------------- */

struct enrol_http {
	const char		*url;		/* full URL, https:// only */
	const char		*method;	/* "GET" or "POST" */
	const char		*body;		/* JSON text or NULL */
	struct keystore_key	*key;		/* client key (borrowed; stays in its store) */
	X509			*cert;		/* its certificate (borrowed) */
	X509			*root;		/* trust anchor for the center, or NULL: the
						   center is not verified in the handshake
						   and its chain is returned (see above) */
	long			 timeout_s;	/* 0: ENROL_TIMEOUT_S */
	const atomic_bool	*cancel;	/* optional: set from another thread, the
						   request is abandoned within ~1 s */
	void			*handle;	/* optional CURL * kept by the caller: its
						   connection to the center is reused (no
						   new TLS handshake) while the client
						   certificate stays the same */
};

struct enrol_answer {
	long		 status;	/* HTTP status */
	char		*body;		/* NUL-terminated; free with enrol_answer_free */
	size_t		 len;
	X509		*server;	/* only when root was NULL: the center's certificate */
	STACK_OF(X509)	*server_chain;	/* and the certificates it sent */
	bool		 untrusted;	/* -1 because the center's certificate was refused */
};

/*
 * Make one request. 0 when an HTTP answer arrived (any status; the caller
 * judges it), -1 when none did: the center could not be reached, the TLS
 * handshake failed, or the center's certificate was refused (the reason says
 * which). The caller frees *ans with enrol_answer_free in both cases.
 */
int	 enrol_request(const struct enrol_http *, struct enrol_answer *ans, char *err,
	    size_t errlen);
void	 enrol_answer_free(struct enrol_answer *);

/*
 * GET center_url + path as the device whose key store is ks_uri, with the key
 * and certificate under label (PKI_LABEL_SERVICE for everything after
 * enrolment) and the store's root as trust anchor. *body (NUL-terminated, the
 * caller frees it) on HTTP 200; -1 with the reason otherwise (an error answer
 * of the center verbatim). *status (if not NULL): the HTTP status, 0 when no
 * answer came.
 */
int	 enrol_get(const char *ks_uri, const char *label, const char *center_url,
	    const char *path, char **body, long *status, char *err, size_t errlen);

/* the directory of a file key store URI ("file:/d", "/d"); -1 for other schemes */
int	 enrol_ks_dir(const char *uri, char *out, size_t cap);

/* ---- enrolment and renewal ------------------------------------------- */

struct enrol_opts {
	const char	*center;	/* base URL, https://host[:port] */
	const char	*pin;		/* the root's SHA-256 fingerprint (pki_pin_parse forms) */
	const char	*keystore;	/* key store URI with the tier-1 key and certificate
					   under PKI_LABEL_DEVICE */
	const char	*device_id;	/* NULL: the CN of the device certificate */
	const char	*crl_path;	/* NULL: <key store directory>/ENROL_CRL_FILE */
	bool		 renew;		/* replace an existing service key and certificate */
	long		 timeout_s;	/* 0: ENROL_TIMEOUT_S */
	const atomic_bool *cancel;	/* optional: abandons the request (nothing installed) */
};

/* why enrol_run failed: what a daemon does next depends on it */
enum enrol_failure {
	ENROL_FAIL_LOCAL,		/* key store, arguments: fix and restart */
	ENROL_FAIL_UNREACHABLE,		/* no answer: try again later */
	ENROL_FAIL_REFUSED,		/* the center said no (unregistered, suspended…) */
	ENROL_FAIL_UNTRUSTED,		/* the center is not the pinned one: stop */
};

struct enrol_result {
	enum enrol_failure failure;	/* when enrol_run returned -1 */
	char	device_id[PKI_NAME_MAX];
	char	site[64];
	char	serial[PKI_SERIAL_HEX_MAX];
	char	root_fp[PKI_FP_HEX_MAX];	/* the pinned root, colon-separated hex */
	char	crl_path[ENROL_PATH_MAX];	/* where the CRL was written */
	int64_t	not_before;
	int64_t	not_after;
	int64_t	renew_after;
	bool	root_in_store;			/* the store held the root before */
};

/*
 * Enrol (or renew with opts->renew): generate a fresh service key inside the
 * key store (staging label ENROL_LABEL_STAGE), send its CSR with the tier-1
 * certificate, pin the returned root, verify the returned service certificate
 * (role service, identity = the device id, for the key just made) against that
 * root, the returned chain and CRL, and only then install: the certificate
 * under PKI_LABEL_SERVICE, the service CA under PKI_LABEL_SERVICE_CA, the root
 * under PKI_LABEL_ROOT (when absent), the CRL in crl_path, and the key moved
 * to PKI_LABEL_SERVICE. On any refusal (by the center, or of its answer) the
 * staging key is removed and the key store is as it was; a write that fails
 * while installing may leave the new CRL, root or service CA certificate (all
 * public, all verified); a crash between the two renames of the final move
 * leaves the new key with the old certificate (its signatures will not verify
 * for peers); running the renewal again repairs it.
 *
 * Limitation: keystore.h has no operation to rename a key, so the final move
 * renames the file backend's files; other backends are refused here until the
 * key store grows keystore_key_rename.
 */
int	 enrol_run(const struct enrol_opts *, struct enrol_result *, char *err,
	    size_t errlen);

#endif
