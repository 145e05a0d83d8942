/*
 * Key store (src/pki/keystore.h), file backend: permissions, atomic writes,
 * sign/verify round trips, refusals, and that no call hands out key bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "pki/keystore.h"
#include "pki/pki.h"

struct fx {
	char		 dir[64];		/* temp root */
	char		 store[PATH_MAX];	/* the key store directory */
	struct keystore	*ks;
};

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pki_err err = { "" };

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/odvpn-ks.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
	if (keystore_open(f->store, KEYSTORE_CREATE, &f->ks, &err) == -1) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	keystore_close(f->ks);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void
test_file_modes(void **state)
{
	struct fx *f = *state;
	struct pki_err err = { "" };
	struct keystore_key *k = NULL;
	char path[PATH_MAX + 32];

	assert_int_equal(mode_of(f->store), 0700);
	assert_int_equal(keystore_key_generate(f->ks, "k1", PKI_ALG_P256, &k, &err), 0);
	snprintf(path, sizeof(path), "%s/k1.key.pem", f->store);
	assert_int_equal(mode_of(path), 0600);
	assert_string_equal(keystore_key_label(k), "k1");
	assert_int_equal(keystore_key_alg(k), PKI_ALG_P256);
	keystore_key_free(k);
}

static void
test_open_by_uri(void **state)
{
	struct fx *f = *state;
	struct pki_err err = { "" };
	struct keystore *ks = NULL;
	struct keystore_key *k = NULL;
	char uri[PATH_MAX + 16];

	assert_int_equal(keystore_key_generate(f->ks, "via-uri", PKI_ALG_P256, &k, &err), 0);
	keystore_key_free(k);
	k = NULL;
	snprintf(uri, sizeof(uri), "file:%s", f->store);
	assert_int_equal(keystore_open(uri, 0, &ks, &err), 0);
	assert_int_equal(keystore_key_load(ks, "via-uri", &k, &err), 0);
	keystore_key_free(k);
	keystore_close(ks);
	/* a PKCS#11 URI is recognised and refused plainly, not taken as a path */
	assert_int_equal(keystore_open("pkcs11:token=odvpn;object=device", 0, &ks, &err), -1);
	assert_non_null(strstr(err.msg, "PKCS#11"));
	/* a missing store is not created without KEYSTORE_CREATE */
	snprintf(uri, sizeof(uri), "%s/absent", f->dir);
	assert_int_equal(keystore_open(uri, 0, &ks, &err), -1);
	assert_int_equal(access(uri, F_OK), -1);
}

static void
test_refuses_open_directory(void **state)
{
	struct fx *f = *state;
	struct pki_err err = { "" };
	struct keystore *ks = NULL;
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/loose", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(keystore_open(path, 0, &ks, &err), -1);
	assert_non_null(strstr(err.msg, "chmod 700"));
}

/* generate, reload from disk, sign, verify with the public half */
static void
round_trip(struct fx *f, const char *label, enum pki_alg alg, enum keystore_sig enc,
    enum pki_hash hash)
{
	static const uint8_t msg[] = "IKE_AUTH octets to be signed (RFC 7427)";
	struct pki_err err = { "" };
	struct keystore_key *k = NULL, *k2 = NULL;
	EVP_PKEY *pub;
	EVP_MD_CTX *m;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = hash == PKI_HASH_SHA384 ? EVP_sha384() : EVP_sha256();
	uint8_t sig[KEYSTORE_SIG_MAX];
	size_t siglen = sizeof(sig);

	assert_int_equal(keystore_key_generate(f->ks, label, alg, &k, &err), 0);
	keystore_key_free(k);
	assert_int_equal(keystore_key_load(f->ks, label, &k2, &err), 0);
	assert_int_equal(keystore_key_alg(k2), alg);
	assert_int_equal(keystore_sign(k2, hash, enc, msg, sizeof(msg), sig, &siglen, &err), 0);
	assert_true(siglen > 0 && siglen <= sizeof(sig));
	pub = keystore_key_public(k2);
	assert_non_null(pub);
	m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(m, &pctx, md, NULL, pub), 1);
	if (enc == KEYSTORE_SIG_RSA_PSS) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
	}
	assert_int_equal(EVP_DigestVerify(m, sig, siglen, msg, sizeof(msg)), 1);
	/* one flipped bit in the message: the signature no longer verifies */
	{
		uint8_t bad[sizeof(msg)];

		memcpy(bad, msg, sizeof(msg));
		bad[3] ^= 1;
		EVP_MD_CTX_free(m);
		m = EVP_MD_CTX_new();
		pctx = NULL;
		assert_int_equal(EVP_DigestVerifyInit(m, &pctx, md, NULL, pub), 1);
		if (enc == KEYSTORE_SIG_RSA_PSS) {
			assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx,
			    RSA_PKCS1_PSS_PADDING), 1);
			assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
			    RSA_PSS_SALTLEN_DIGEST), 1);
		}
		assert_int_not_equal(EVP_DigestVerify(m, sig, siglen, bad, sizeof(bad)), 1);
	}
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(pub);
	keystore_key_free(k2);
}

static void
test_sign_round_trip_ec(void **state)
{
	round_trip(*state, "ec256", PKI_ALG_P256, KEYSTORE_SIG_ECDSA, PKI_HASH_SHA256);
	round_trip(*state, "ec384", PKI_ALG_P384, KEYSTORE_SIG_ECDSA, PKI_HASH_SHA384);
}

static void
test_sign_round_trip_rsa(void **state)
{
	struct fx *f = *state;
	struct pki_err err = { "" };
	struct keystore_key *k = NULL;
	static const uint8_t msg[] = "m";
	uint8_t sig[KEYSTORE_SIG_MAX];
	size_t siglen = sizeof(sig);

	round_trip(f, "rsa-pss", PKI_ALG_RSA3072, KEYSTORE_SIG_RSA_PSS, PKI_HASH_SHA256);
	/* PKCS#1 v1.5 with the same key */
	assert_int_equal(keystore_key_load(f->ks, "rsa-pss", &k, &err), 0);
	assert_int_equal(keystore_sign(k, PKI_HASH_SHA256, KEYSTORE_SIG_RSA_PKCS1, msg,
	    sizeof(msg), sig, &siglen, &err), 0);
	assert_int_equal(siglen, 384);
	/* an ECDSA signature cannot be made with an RSA key */
	siglen = sizeof(sig);
	assert_int_equal(keystore_sign(k, PKI_HASH_SHA256, KEYSTORE_SIG_ECDSA, msg,
	    sizeof(msg), sig, &siglen, &err), -1);
	/* too small a buffer is refused, not overrun */
	siglen = 100;
	assert_int_equal(keystore_sign(k, PKI_HASH_SHA256, KEYSTORE_SIG_RSA_PSS, msg,
	    sizeof(msg), sig, &siglen, &err), -1);
	keystore_key_free(k);
}

static void
test_wrong_scheme_for_ec(void **state)
{
	struct fx *f = *state;
	struct pki_err err = { "" };
	struct keystore_key *k = NULL;
	uint8_t sig[KEYSTORE_SIG_MAX];
	size_t siglen = sizeof(sig);

	assert_int_equal(keystore_key_generate(f->ks, "ec", PKI_ALG_P256, &k, &err), 0);
	assert_int_equal(keystore_sign(k, PKI_HASH_SHA256, KEYSTORE_SIG_RSA_PSS,
	    (const uint8_t *)"x", 1, sig, &siglen, &err), -1);
	assert_non_null(strstr(err.msg, "does not fit"));
	keystore_key_free(k);
}

static void
test_label_not_found_and_invalid(void **state)
{
	struct fx *f = *state;
	struct pki_err err = { "" };
	struct keystore_key *k = NULL;
	X509 *x = NULL;

	assert_int_equal(keystore_key_load(f->ks, "nope", &k, &err), -1);
	assert_null(k);
	assert_non_null(strstr(err.msg, "no key labelled \"nope\""));
	assert_int_equal(keystore_key_exists(f->ks, "nope", &err), 0);
	assert_int_equal(keystore_key_remove(f->ks, "nope", &err), -1);
	assert_int_equal(keystore_cert_load(f->ks, "nope", &x, &err), -1);
	assert_non_null(strstr(err.msg, "no certificate labelled"));
	/* labels cannot name paths */
	assert_int_equal(keystore_key_load(f->ks, "../store/x", &k, &err), -1);
	assert_non_null(strstr(err.msg, "invalid key store label"));
	assert_int_equal(keystore_key_generate(f->ks, ".hidden", PKI_ALG_P256, &k, &err), -1);
	assert_int_equal(keystore_key_generate(f->ks, "", PKI_ALG_P256, &k, &err), -1);
	assert_int_equal(keystore_key_generate(f->ks, "a/b", PKI_ALG_P256, &k, &err), -1);
	assert_false(keystore_label_valid("x y"));
	assert_true(keystore_label_valid("service-ca"));
}

static void
test_generate_does_not_overwrite_and_remove(void **state)
{
	struct fx *f = *state;
	struct pki_err err = { "" };
	struct keystore_key *k1 = NULL, *k2 = NULL, *k3 = NULL;

	assert_int_equal(keystore_key_generate(f->ks, "dev", PKI_ALG_P256, &k1, &err), 0);
	assert_int_equal(keystore_key_generate(f->ks, "dev", PKI_ALG_P256, &k2, &err), -1);
	assert_non_null(strstr(err.msg, "already holds"));
	/* the stored key is still the first one */
	assert_int_equal(keystore_key_load(f->ks, "dev", &k3, &err), 0);
	assert_int_equal(EVP_PKEY_eq(keystore_key_evp(k1), keystore_key_evp(k3)), 1);
	keystore_key_free(k3);
	k3 = NULL;
	assert_int_equal(keystore_key_remove(f->ks, "dev", &err), 0);
	assert_int_equal(keystore_key_exists(f->ks, "dev", &err), 0);
	assert_int_equal(keystore_key_load(f->ks, "dev", &k3, &err), -1);
	keystore_key_free(k1);
}

/* entries of dir whose name starts with prefix */
static int
count_prefix(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

/*
 * A write that fails half way (here: the file size limit, EFBIG) leaves no
 * key file, no temporary file, and an older certificate intact.
 */
static void
test_atomic_write_no_partial_file(void **state)
{
	struct fx *f = *state;
	struct pki_err err = { "" };
	struct keystore_key *k = NULL, *ca = NULL;
	struct pki_issue_req req = { .role = PKI_ROLE_ROOT, .cn = "test root" };
	struct rlimit old, lim;
	X509 *root = NULL, *again = NULL;
	void (*prev)(int);
	int r1, r2;

	/* a certificate to overwrite */
	assert_int_equal(keystore_key_generate(f->ks, "ca", PKI_ALG_P256, &ca, &err), 0);
	req.pubkey = keystore_key_public(ca);
	assert_int_equal(pki_issue(&req, NULL, ca, &root, &err), 0);
	assert_int_equal(keystore_cert_store(f->ks, "cert", root, &err), 0);

	prev = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 100;	/* a PEM P-256 key is ~241 bytes */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r1 = keystore_key_generate(f->ks, "partial", PKI_ALG_P256, &k, &err);
	r2 = keystore_cert_store(f->ks, "cert", root, &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);

	assert_int_equal(r1, -1);
	assert_null(k);
	assert_int_equal(keystore_key_exists(f->ks, "partial", &err), 0);
	assert_int_equal(count_prefix(f->store, "partial"), 0);
	assert_int_equal(r2, -1);
	assert_int_equal(count_prefix(f->store, "cert.crt.pem.tmp"), 0);
	assert_int_equal(keystore_cert_load(f->ks, "cert", &again, &err), 0);
	assert_int_equal(X509_cmp(root, again), 0);
	X509_free(again);
	X509_free(root);
	EVP_PKEY_free(req.pubkey);
	keystore_key_free(ca);
}

/*
 * The public half carries no private key; certificate calls cannot read a key
 * file; only keystore_key_evp gives a signing key, and it works with TLS.
 */
static void
test_no_key_bytes_outside_evp(void **state)
{
	struct fx *f = *state;
	struct pki_err err = { "" };
	struct keystore_key *k = NULL;
	struct pki_issue_req req = { .role = PKI_ROLE_ROOT, .cn = "tls test" };
	BIGNUM *priv = NULL;
	EVP_PKEY *pub;
	X509 *x = NULL;
	SSL_CTX *ctx;
	unsigned char *der = NULL;

	assert_int_equal(keystore_key_generate(f->ks, "secret", PKI_ALG_P256, &k, &err), 0);
	pub = keystore_key_public(k);
	assert_non_null(pub);
	assert_int_equal(EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_PRIV_KEY, &priv), 0);
	assert_null(priv);
	assert_true(i2d_PrivateKey(pub, &der) <= 0);
	/* the private key is there, behind the handle */
	assert_int_equal(EVP_PKEY_get_bn_param(keystore_key_evp(k), OSSL_PKEY_PARAM_PRIV_KEY,
	    &priv), 1);
	BN_clear_free(priv);
	/* a key label is not a certificate */
	assert_int_equal(keystore_cert_load(f->ks, "secret", &x, &err), -1);
	assert_null(x);

	/* the EVP_PKEY handle is what SSL_CTX_use_PrivateKey needs */
	req.pubkey = pub;
	assert_int_equal(pki_issue(&req, NULL, k, &x, &err), 0);
	ctx = SSL_CTX_new(TLS_method());
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, keystore_key_evp(k)), 1);
	assert_int_equal(SSL_CTX_check_private_key(ctx), 1);
	SSL_CTX_free(ctx);
	X509_free(x);
	EVP_PKEY_free(pub);
	keystore_key_free(k);
}

static void
test_refuses_loose_key_file(void **state)
{
	struct fx *f = *state;
	struct pki_err err = { "" };
	struct keystore_key *k = NULL;
	char path[PATH_MAX + 32];

	assert_int_equal(keystore_key_generate(f->ks, "loose", PKI_ALG_P256, &k, &err), 0);
	keystore_key_free(k);
	k = NULL;
	snprintf(path, sizeof(path), "%s/loose.key.pem", f->store);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(keystore_key_load(f->ks, "loose", &k, &err), -1);
	assert_non_null(strstr(err.msg, "chmod 600"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(keystore_key_load(f->ks, "loose", &k, &err), 0);
	keystore_key_free(k);
}

static void
test_refuses_garbage_key_file(void **state)
{
	struct fx *f = *state;
	struct pki_err err = { "" };
	struct keystore_key *k = NULL;
	char path[PATH_MAX + 32];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/junk.key.pem", f->store);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", fp);
	fclose(fp);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(keystore_key_load(f->ks, "junk", &k, &err), -1);
	assert_null(k);
	assert_non_null(strstr(err.msg, "PKCS#8"));
}

/* a key made under a staging label is put into service by rename: it replaces
 * the old key and its certificate follows; nothing is left under the old label */
static void
test_rename_puts_staged_key_in_service(void **state)
{
	struct fx *f = *state;
	struct pki_err err = { "" };
	struct keystore_key *old = NULL, *staged = NULL, *now = NULL;
	EVP_PKEY *p1, *p2;
	char path[PATH_MAX + 32];

	assert_int_equal(keystore_key_generate(f->ks, "service", PKI_ALG_P256, &old, &err), 0);
	assert_int_equal(keystore_key_generate(f->ks, "service-new", PKI_ALG_P256, &staged,
	    &err), 0);
	assert_int_equal(keystore_key_rename(f->ks, "service-new", "service", &err), 0);
	assert_int_equal(keystore_key_exists(f->ks, "service-new", &err), 0);
	assert_int_equal(keystore_key_load(f->ks, "service", &now, &err), 0);
	p1 = keystore_key_public(staged);
	p2 = keystore_key_public(now);
	assert_int_equal(EVP_PKEY_eq(p1, p2), 1);	/* the staged key, not the old one */
	EVP_PKEY_free(p1);
	p1 = keystore_key_public(old);
	assert_int_not_equal(EVP_PKEY_eq(p1, p2), 1);
	EVP_PKEY_free(p1);
	EVP_PKEY_free(p2);
	snprintf(path, sizeof(path), "%s/service.key.pem", f->store);
	assert_int_equal(mode_of(path), 0600);
	/* errors: missing source, same label, invalid label */
	assert_int_equal(keystore_key_rename(f->ks, "nope", "service", &err), -1);
	assert_non_null(strstr(err.msg, "no key labelled \"nope\""));
	assert_int_equal(keystore_key_exists(f->ks, "service", &err), 1);
	assert_int_equal(keystore_key_rename(f->ks, "service", "service", &err), -1);
	assert_int_equal(keystore_key_rename(f->ks, "service", "../x", &err), -1);
	keystore_key_free(old);
	keystore_key_free(staged);
	keystore_key_free(now);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_puts_staged_key_in_service, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_by_uri, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_open_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_round_trip_ec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_round_trip_rsa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_scheme_for_ec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_label_not_found_and_invalid, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_generate_does_not_overwrite_and_remove,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_write_no_partial_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_key_bytes_outside_evp, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refuses_loose_key_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_garbage_key_file, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
