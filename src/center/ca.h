/*
 * The center's view of the PKI (src/pki/): the service CA it operates, the trust
 * set it verifies clients against, and the TLS server identity. A thin adapter
 * so the rest of the center speaks in PEM strings and plain structs.
 *
 * Loaded from a directory made by `odvpn pki init`. The service CA key is
 * reached only through the key store (src/pki/keystore.h).
 */
#ifndef ODVPN_CENTER_CA_H
#define ODVPN_CENTER_CA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "center/center.h"

struct center_ca;

struct center_revoked {
	char	serial[CENTER_SERIAL_MAX];
	int	reason;			/* RFC 5280 CRLReason code */
	int64_t	when;
};

struct center_ca *center_ca_load(const char *pki_dir, char *err, size_t errlen);
void	center_ca_free(struct center_ca *);

/*
 * Server certificate (with the service CA as chain), its key, and client
 * verification through the PKI's one verifier (pki_verify): any of the device,
 * service and administrator roles passes the handshake; the role is checked per
 * endpoint afterwards with center_ca_peer.
 */
int	center_ca_tls_setup(struct center_ca *, SSL_CTX *, char *err, size_t errlen);
/* role, CN, serial and fingerprint of a certificate that passed the handshake */
int	center_ca_peer(struct center_ca *, X509 *, struct center_peer *);

/*
 * A tier-2 service certificate for device_id from a CSR (PEM or DER): the PKI
 * checks the CSR's signature and key, and ignores what it asks for beyond the
 * key. *cert_pem is malloc'ed (caller frees).
 */
int	center_ca_issue(struct center_ca *, const char *csr, size_t csrlen,
	    const char *device_id, int64_t lifetime_s, char **cert_pem,
	    char serial[CENTER_SERIAL_MAX], int64_t *not_before, int64_t *not_after,
	    char *err, size_t errlen);

/*
 * Sign a CRL of the service CA over the n entries with cRLNumber number, and
 * from now on refuse those serials in the TLS handshake. *crl_pem malloc'ed.
 */
int	center_ca_crl(struct center_ca *, const struct center_revoked *, size_t n,
	    uint64_t number, int64_t lifetime_s, char **crl_pem, char *err, size_t errlen);
/* put a CRL kept by the store (PEM) into the trust set; -1 if not newer */
int	center_ca_crl_install(struct center_ca *, const char *pem, char *err,
	    size_t errlen);
/* the entries of the PKI directory's service CRL (revoked while the center was
 * down, with `odvpn pki revoke --ca service`); *v malloc'ed, caller frees */
int	center_ca_dir_revoked(const struct center_ca *, struct center_revoked **v,
	    size_t *n);
/* cRLNumber of the service CA's CRL in the PKI directory (0: none) */
uint64_t center_ca_dir_crl_number(const struct center_ca *);

const char *center_ca_root_pem(const struct center_ca *);
const char *center_ca_service_ca_pem(const struct center_ca *);
/* SHA-256 of the root certificate, lower-case hex */
const char *center_ca_root_fingerprint(const struct center_ca *);

/*
 * For registering a device by its tier-1 certificate: SHA-256 fingerprint and
 * subject CN of one certificate (PEM or DER). No chain check here; the chain is
 * verified at enrolment time.
 */
int	center_cert_info(const char *cert, size_t len, uint8_t fp[CENTER_FP_LEN],
	    char *cn, size_t cncap, char *err, size_t errlen);
/* RFC 5280 reason names accepted by the API ("keyCompromise", …) */
int	center_reason_parse(const char *, int *code);
const char *center_reason_name(int code);
/* canonical lower-case hex serial; -1 when malformed */
int	center_serial_parse(const char *, char out[CENTER_SERIAL_MAX]);

#endif
