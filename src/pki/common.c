/* Names, errors, key algorithms, serials and times shared by src/pki. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "lib/util.h"
#include "pki/pki.h"
#include "pki/pki_internal.h"

void
pki_err_set(struct pki_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void
pki_err_ssl(struct pki_err *err, const char *fmt, ...)
{
	char ossl[160];
	unsigned long e;
	size_t n;
	va_list ap;

	e = ERR_peek_last_error();
	ERR_clear_error();
	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (e == 0)
		return;
	ERR_error_string_n(e, ossl, sizeof(ossl));
	n = strlen(err->msg);
	/* "error:0A000086:SSL routines::certificate verify failed": keep the words */
	snprintf(err->msg + n, sizeof(err->msg) - n, " (%s)", ossl);
}

static const char *const alg_names[] = {
	[PKI_ALG_P256] = "p256",
	[PKI_ALG_P384] = "p384",
	[PKI_ALG_RSA3072] = "rsa3072",
};

int
pki_alg_parse(const char *s, enum pki_alg *out)
{
	for (size_t i = 1; i < nitems(alg_names); i++) {
		if (strcmp(s, alg_names[i]) == 0) {
			*out = (enum pki_alg)i;
			return 0;
		}
	}
	return -1;
}

const char *
pki_alg_name(enum pki_alg a)
{
	if ((size_t)a >= nitems(alg_names) || alg_names[a] == NULL)
		return "none";
	return alg_names[a];
}

static const char *const role_names[] = {
	[PKI_ROLE_NONE] = "none",
	[PKI_ROLE_DEVICE] = "device",
	[PKI_ROLE_SERVICE] = "service",
	[PKI_ROLE_CENTER] = "center",
	[PKI_ROLE_ADMIN] = "admin",
	[PKI_ROLE_ROOT] = "root",
	[PKI_ROLE_DEVICE_CA] = "device-ca",
	[PKI_ROLE_SERVICE_CA] = "service-ca",
};

const char *
pki_role_name(enum pki_role r)
{
	if ((size_t)r >= nitems(role_names))
		return "none";
	return role_names[r];
}

int
pki_role_parse(const char *s, enum pki_role *out)
{
	for (size_t i = 1; i < nitems(role_names); i++) {
		if (strcmp(s, role_names[i]) == 0) {
			*out = (enum pki_role)i;
			return 0;
		}
	}
	return -1;
}

const EVP_MD *
pki_hash_md(enum pki_hash h)
{
	switch (h) {
	case PKI_HASH_SHA256:
		return EVP_sha256();
	case PKI_HASH_SHA384:
		return EVP_sha384();
	case PKI_HASH_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

/* the curve of an EC key as one of ours; NONE for any other curve or form */
static enum pki_alg
ec_alg(const EVP_PKEY *pk)
{
	char name[64];
	size_t len = 0;

	if (!EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, name,
	    sizeof(name), &len))
		return PKI_ALG_NONE;
	if (strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0)
		return PKI_ALG_P256;
	if (strcmp(name, "secp384r1") == 0 || strcmp(name, "P-384") == 0)
		return PKI_ALG_P384;
	return PKI_ALG_NONE;
}

enum pki_hash
pki_key_hash(const EVP_PKEY *pk)
{
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC && ec_alg(pk) == PKI_ALG_P384)
		return PKI_HASH_SHA384;
	return PKI_HASH_SHA256;
}

int
pki_key_allowed(const EVP_PKEY *pk, enum pki_alg *alg_out, struct pki_err *err)
{
	enum pki_alg alg = PKI_ALG_NONE;
	EVP_PKEY_CTX *ctx;
	int bits, ok;

	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_EC:
		if ((alg = ec_alg(pk)) == PKI_ALG_NONE) {
			pki_err_set(err, "EC key on a curve other than P-256/P-384");
			return -1;
		}
		break;
	case EVP_PKEY_RSA:
		bits = EVP_PKEY_get_bits(pk);
		if (bits < 3072) {
			pki_err_set(err, "RSA key of %d bits is too weak (at least 3072)", bits);
			return -1;
		}
		if (bits > 16384) {
			pki_err_set(err, "RSA key of %d bits is too large", bits);
			return -1;
		}
		alg = PKI_ALG_RSA3072;
		break;
	default:
		pki_err_set(err, "key type %s not allowed (P-256, P-384, RSA>=3072)",
		    OBJ_nid2sn(EVP_PKEY_get_base_id(pk)));
		return -1;
	}
	/* a point on the curve / a sane RSA modulus, before we sign over it */
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, (EVP_PKEY *)pk, NULL)) == NULL) {
		pki_err_ssl(err, "cannot check the public key");
		return -1;
	}
	ok = EVP_PKEY_public_check(ctx);
	EVP_PKEY_CTX_free(ctx);
	if (ok != 1) {
		pki_err_ssl(err, "public key fails its consistency check");
		return -1;
	}
	if (alg_out != NULL)
		*alg_out = alg;
	return 0;
}

EVP_PKEY *
pki_key_new(enum pki_alg alg, struct pki_err *err)
{
	EVP_PKEY *pk = NULL;

	switch (alg) {
	case PKI_ALG_P256:
		pk = EVP_EC_gen("P-256");
		break;
	case PKI_ALG_P384:
		pk = EVP_EC_gen("P-384");
		break;
	case PKI_ALG_RSA3072:
		pk = EVP_RSA_gen(3072);
		break;
	case PKI_ALG_NONE:
		pki_err_set(err, "no key algorithm given");
		return NULL;
	}
	if (pk == NULL)
		pki_err_ssl(err, "key generation (%s) failed", pki_alg_name(alg));
	return pk;
}

/*
 * RFC 1123 host name labels, lower case only: the device id is both a database
 * key and an IKE ID_FQDN, which compares case-insensitively, so two ids that
 * differ only in case must not both exist.
 */
bool
pki_device_id_valid(const char *s)
{
	size_t n = strlen(s), lablen = 0;

	if (n == 0 || n > PKI_NAME_MAX - 1)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (lablen == 0 || lablen > 63 || s[i - 1] == '-')
				return false;
			lablen = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (lablen == 0 && c == '-')
			return false;
		lablen++;
	}
	return true;
}

int
pki_asn1_time_get(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

int
pki_serial_from_asn1(const ASN1_INTEGER *ai, char out[PKI_SERIAL_HEX_MAX])
{
	uint8_t bin[20];
	BIGNUM *bn;
	int n;

	if (ai == NULL || (bn = ASN1_INTEGER_to_BN(ai, NULL)) == NULL)
		return -1;
	if (BN_is_negative(bn) || BN_num_bytes(bn) > (int)sizeof(bin)) {
		BN_free(bn);
		return -1;
	}
	n = BN_bn2bin(bn, bin);
	BN_free(bn);
	if (n == 0) {
		bin[0] = 0;
		n = 1;
	}
	hex_encode(bin, (size_t)n, out);
	return 0;
}

int
pki_serial_parse(const char *s, char out[PKI_SERIAL_HEX_MAX], struct pki_err *err)
{
	char digits[2 * 20 + 2];
	uint8_t bin[20];
	size_t nd = 0, off = 0;
	int n;

	if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0)
		s += 2;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || nd >= sizeof(digits) - 2) {
			pki_err_set(err, "serial \"%.60s\" is not hex of at most 20 octets", s);
			return -1;
		}
		digits[1 + nd++] = (char)tolower((unsigned char)*p);
	}
	if (nd == 0) {
		pki_err_set(err, "empty serial");
		return -1;
	}
	/* left-pad an odd number of digits */
	if (nd % 2 == 1) {
		digits[0] = '0';
		nd++;
	} else
		off = 1;
	digits[off + nd] = '\0';
	if ((n = hex_decode(digits + off, bin, sizeof(bin))) <= 0) {
		pki_err_set(err, "serial \"%.60s\" is not hex of at most 20 octets", s);
		return -1;
	}
	off = 0;
	while (off + 1 < (size_t)n && bin[off] == 0)
		off++;
	hex_encode(bin + off, (size_t)n - off, out);
	return 0;
}

ASN1_INTEGER *
pki_serial_to_asn1(const char *hex)
{
	char canon[PKI_SERIAL_HEX_MAX];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai;

	if (pki_serial_parse(hex, canon, NULL) == -1 || BN_hex2bn(&bn, canon) == 0)
		return NULL;
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return ai;
}
