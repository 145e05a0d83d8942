/*
 * PEM/DER in and out for certificates, CSRs and CRLs. Input is bounded
 * (PKI_INPUT_MAX, PKI_CRL_INPUT_MAX), the encoding is detected from the bytes,
 * and DER input must be consumed exactly: trailing bytes are refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/util.h"
#include "pki/pki.h"
#include "pki/pki_internal.h"

/* PEM input never asks for a pass phrase */
static int
no_password(char *buf, int size, int rw, void *u)
{
	(void)buf; (void)size; (void)rw; (void)u;
	return 0;
}

static bool
looks_pem(const uint8_t *p, size_t n)
{
	static const char tag[] = "-----BEGIN ";

	return n >= sizeof(tag) - 1 &&
	    memmem(p, n, tag, sizeof(tag) - 1) != NULL;
}

static int
check_size(const char *what, size_t n, size_t max, struct pki_err *err)
{
	if (n == 0) {
		pki_err_set(err, "empty %s", what);
		return -1;
	}
	if (n > max) {
		pki_err_set(err, "%s of %zu bytes is larger than %zu", what, n, max);
		return -1;
	}
	return 0;
}

int
pki_cert_parse(const uint8_t *p, size_t n, X509 **out, struct pki_err *err)
{
	X509 *x = NULL;

	if (check_size("certificate", n, PKI_INPUT_MAX, err) == -1)
		return -1;
	if (looks_pem(p, n)) {
		BIO *b = BIO_new_mem_buf(p, (int)n);

		if (b != NULL)
			x = PEM_read_bio_X509(b, NULL, no_password, NULL);
		BIO_free(b);
	} else {
		const unsigned char *q = p;

		x = d2i_X509(NULL, &q, (long)n);
		if (x != NULL && q != p + n) {
			X509_free(x);
			pki_err_set(err, "trailing bytes after the DER certificate");
			return -1;
		}
	}
	if (x == NULL) {
		pki_err_ssl(err, "not a certificate (PEM or DER)");
		return -1;
	}
	*out = x;
	return 0;
}

int
pki_certs_parse(const uint8_t *p, size_t n, STACK_OF(X509) **out, struct pki_err *err)
{
	STACK_OF(X509) *sk;
	X509 *x;
	BIO *b;

	if (!looks_pem(p, n)) {
		if (pki_cert_parse(p, n, &x, err) == -1)
			return -1;
		if ((sk = sk_X509_new_null()) == NULL || !sk_X509_push(sk, x)) {
			X509_free(x);
			sk_X509_free(sk);
			pki_err_set(err, "out of memory");
			return -1;
		}
		*out = sk;
		return 0;
	}
	if (check_size("certificate bundle", n, PKI_INPUT_MAX, err) == -1)
		return -1;
	if ((sk = sk_X509_new_null()) == NULL ||
	    (b = BIO_new_mem_buf(p, (int)n)) == NULL) {
		sk_X509_free(sk);
		pki_err_set(err, "out of memory");
		return -1;
	}
	while ((x = PEM_read_bio_X509(b, NULL, no_password, NULL)) != NULL) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			break;
		}
	}
	BIO_free(b);
	/* the loop ends on "no start line": expected at the end of the bundle */
	ERR_clear_error();
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		pki_err_set(err, "no certificate in the PEM input");
		return -1;
	}
	*out = sk;
	return 0;
}

int
pki_cert_load(const char *path, X509 **out, struct pki_err *err)
{
	uint8_t *buf;
	size_t n;
	int r;

	if (file_read_all(path, PKI_INPUT_MAX, &buf, &n) == -1) {
		pki_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	r = pki_cert_parse(buf, n, out, err);
	if (r == -1 && err != NULL) {
		struct pki_err e = *err;

		pki_err_set(err, "%s: %s", path, e.msg);
	}
	free(buf);
	return r;
}

/* drain a memory BIO into a malloc'd NUL-terminated buffer */
static int
bio_take(BIO *b, char **out, size_t *outlen)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *copy;

	if (n <= 0)
		return -1;
	copy = xmalloc((size_t)n + 1);
	memcpy(copy, data, (size_t)n);
	copy[n] = '\0';
	*out = copy;
	if (outlen != NULL)
		*outlen = (size_t)n;
	return 0;
}

int
pki_cert_pem(const X509 *x, char **out, size_t *outlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	int r = -1;

	if (b != NULL && PEM_write_bio_X509(b, x))
		r = bio_take(b, out, outlen);
	BIO_free(b);
	return r;
}

int
pki_cert_der(const X509 *x, uint8_t **out, size_t *outlen)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	if (n <= 0)
		return -1;
	*out = xmalloc((size_t)n);
	memcpy(*out, der, (size_t)n);
	*outlen = (size_t)n;
	OPENSSL_free(der);
	return 0;
}

static int
save_text(const char *path, char *pem, size_t n, struct pki_err *err)
{
	int r = file_write_atomic(path, pem, n, 0644);

	if (r == -1)
		pki_err_set(err, "%s: %s", path, strerror(errno));
	free(pem);
	return r;
}

int
pki_cert_save(const char *path, const X509 *x, struct pki_err *err)
{
	char *pem;
	size_t n;

	if (pki_cert_pem(x, &pem, &n) == -1) {
		pki_err_ssl(err, "cannot encode certificate");
		return -1;
	}
	return save_text(path, pem, n, err);
}

int
pki_csr_parse(const uint8_t *p, size_t n, X509_REQ **out, struct pki_err *err)
{
	X509_REQ *r = NULL;

	if (check_size("CSR", n, PKI_INPUT_MAX, err) == -1)
		return -1;
	if (looks_pem(p, n)) {
		BIO *b = BIO_new_mem_buf(p, (int)n);

		if (b != NULL)
			r = PEM_read_bio_X509_REQ(b, NULL, no_password, NULL);
		BIO_free(b);
	} else {
		const unsigned char *q = p;

		r = d2i_X509_REQ(NULL, &q, (long)n);
		if (r != NULL && q != p + n) {
			X509_REQ_free(r);
			pki_err_set(err, "trailing bytes after the DER CSR");
			return -1;
		}
	}
	if (r == NULL) {
		pki_err_ssl(err, "not a certificate signing request (PEM or DER)");
		return -1;
	}
	*out = r;
	return 0;
}

int
pki_csr_pem(const X509_REQ *r, char **out, size_t *outlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	int rv = -1;

	if (b != NULL && PEM_write_bio_X509_REQ(b, r))
		rv = bio_take(b, out, outlen);
	BIO_free(b);
	return rv;
}

int
pki_csr_der(const X509_REQ *r, uint8_t **out, size_t *outlen)
{
	unsigned char *der = NULL;
	int n = i2d_X509_REQ(r, &der);

	if (n <= 0)
		return -1;
	*out = xmalloc((size_t)n);
	memcpy(*out, der, (size_t)n);
	*outlen = (size_t)n;
	OPENSSL_free(der);
	return 0;
}

int
pki_crl_parse(const uint8_t *p, size_t n, X509_CRL **out, struct pki_err *err)
{
	X509_CRL *c = NULL;

	if (check_size("CRL", n, PKI_CRL_INPUT_MAX, err) == -1)
		return -1;
	if (looks_pem(p, n)) {
		BIO *b = BIO_new_mem_buf(p, (int)n);

		if (b != NULL)
			c = PEM_read_bio_X509_CRL(b, NULL, no_password, NULL);
		BIO_free(b);
	} else {
		const unsigned char *q = p;

		c = d2i_X509_CRL(NULL, &q, (long)n);
		if (c != NULL && q != p + n) {
			X509_CRL_free(c);
			pki_err_set(err, "trailing bytes after the DER CRL");
			return -1;
		}
	}
	if (c == NULL) {
		pki_err_ssl(err, "not a CRL (PEM or DER)");
		return -1;
	}
	*out = c;
	return 0;
}

int
pki_crl_load(const char *path, X509_CRL **out, struct pki_err *err)
{
	uint8_t *buf;
	size_t n;
	int r;

	if (file_read_all(path, PKI_CRL_INPUT_MAX, &buf, &n) == -1) {
		pki_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	r = pki_crl_parse(buf, n, out, err);
	if (r == -1 && err != NULL) {
		struct pki_err e = *err;

		pki_err_set(err, "%s: %s", path, e.msg);
	}
	free(buf);
	return r;
}

int
pki_crl_pem(const X509_CRL *c, char **out, size_t *outlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	int r = -1;

	if (b != NULL && PEM_write_bio_X509_CRL(b, (X509_CRL *)c))
		r = bio_take(b, out, outlen);
	BIO_free(b);
	return r;
}

int
pki_crl_save(const char *path, const X509_CRL *c, struct pki_err *err)
{
	char *pem;
	size_t n;

	if (pki_crl_pem(c, &pem, &n) == -1) {
		pki_err_ssl(err, "cannot encode CRL");
		return -1;
	}
	return save_text(path, pem, n, err);
}
