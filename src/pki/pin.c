/* Fingerprints and root pinning (REQ-PKI-4; seed 001 ②-4). */
#include <ctype.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/util.h"
#include "pki/pki.h"
#include "pki/pki_internal.h"

int
pki_fingerprint(const X509 *x, uint8_t out[PKI_FP_LEN])
{
	unsigned int n = 0;

	if (!X509_digest(x, EVP_sha256(), out, &n) || n != PKI_FP_LEN)
		return -1;
	return 0;
}

int
pki_fingerprint_hex(const X509 *x, bool colons, char *out)
{
	static const char digits[] = "0123456789abcdef";
	uint8_t fp[PKI_FP_LEN];
	size_t o = 0;

	if (pki_fingerprint(x, fp) == -1)
		return -1;
	for (size_t i = 0; i < PKI_FP_LEN; i++) {
		if (colons && i > 0)
			out[o++] = ':';
		out[o++] = digits[fp[i] >> 4];
		out[o++] = digits[fp[i] & 0xf];
	}
	out[o] = '\0';
	return 0;
}

int
pki_pin_parse(const char *s, uint8_t out[PKI_FP_LEN], struct pki_err *err)
{
	char hex[2 * PKI_FP_LEN + 1];
	size_t n = 0;

	if (strncmp(s, "sha256:", 7) == 0 || strncmp(s, "SHA256:", 7) == 0)
		s += 7;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == ':' && p != s && p[1] != '\0' && p[1] != ':')
			continue;
		if (!isxdigit((unsigned char)*p) || n == sizeof(hex) - 1) {
			pki_err_set(err, "root pin is not a SHA-256 fingerprint "
			    "(64 hex digits, optionally colon-separated)");
			return -1;
		}
		hex[n++] = *p;
	}
	hex[n] = '\0';
	if (n != 2 * PKI_FP_LEN || hex_decode(hex, out, PKI_FP_LEN) != PKI_FP_LEN) {
		pki_err_set(err, "root pin is not a SHA-256 fingerprint "
		    "(64 hex digits, optionally colon-separated)");
		return -1;
	}
	return 0;
}

int
pki_pin_check(const X509 *root, const char *pin, struct pki_err *err)
{
	uint8_t want[PKI_FP_LEN], have[PKI_FP_LEN];
	char hexfp[PKI_FP_HEX_MAX];
	int r = -1;

	if (pki_pin_parse(pin, want, err) == -1)
		goto out;
	if (pki_fingerprint(root, have) == -1) {
		pki_err_ssl(err, "cannot hash the root certificate");
		goto out;
	}
	if (CRYPTO_memcmp(want, have, PKI_FP_LEN) != 0) {
		pki_fingerprint_hex(root, true, hexfp);
		pki_err_set(err, "root certificate does not match the pinned fingerprint "
		    "(its SHA-256 is %s)", hexfp);
		goto out;
	}
	/* a matching fingerprint of something that is not a root is still no root */
	if (X509_check_ca((X509 *)root) != 1 || X509_self_signed((X509 *)root, 1) != 1) {
		pki_err_set(err, "pinned certificate is not a self-signed CA");
		goto out;
	}
	r = 0;
out:
	OPENSSL_cleanse(want, sizeof(want));
	return r;
}
