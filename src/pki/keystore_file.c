/*
 * File key store backend: a directory (0700) with one PKCS#8 PEM file per key
 * label (<label>.key.pem, 0600) and one PEM certificate per certificate label
 * (<label>.crt.pem, 0644). Every file is written with file_write_atomic (temp
 * file, fsync, rename), so a crash leaves the old file or the new one, never a
 * part. Key bytes pass only through buffers that are wiped before release.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "lib/util.h"
#include "pki/keystore_backend.h"
#include "pki/pki_internal.h"

#define KEY_FILE_MAX	(64 * 1024)

struct filestore {
	char	*dir;
};

static int
no_password(char *buf, int size, int rw, void *u)
{
	(void)buf; (void)size; (void)rw; (void)u;
	return 0;
}

static int
fs_open(const char *dir, unsigned flags, void **state, struct pki_err *err)
{
	struct filestore *fs;
	struct stat st;
	bool created = false;

	if (stat(dir, &st) == -1) {
		if (errno != ENOENT || (flags & KEYSTORE_CREATE) == 0) {
			pki_err_set(err, "key store %s: %s", dir, strerror(errno));
			return -1;
		}
		if (mkdir_p(dir, 0700) == -1 || chmod(dir, 0700) == -1 ||
		    stat(dir, &st) == -1) {
			pki_err_set(err, "key store %s: cannot create: %s", dir,
			    strerror(errno));
			return -1;
		}
		created = true;
	}
	if (!S_ISDIR(st.st_mode)) {
		pki_err_set(err, "key store %s is not a directory", dir);
		return -1;
	}
	if (!created && (st.st_mode & 077) != 0) {
		pki_err_set(err, "key store %s is accessible by group or others "
		    "(mode %03o); chmod 700 it", dir, (unsigned)(st.st_mode & 0777));
		return -1;
	}
	fs = xcalloc(1, sizeof(*fs));
	fs->dir = xstrdup(dir);
	*state = fs;
	return 0;
}

static void
fs_close(void *state)
{
	struct filestore *fs = state;

	if (fs == NULL)
		return;
	free(fs->dir);
	free(fs);
}

static int
fs_path(const struct filestore *fs, const char *label, const char *suffix, char *out,
    size_t cap, struct pki_err *err)
{
	if (xsnprintf(out, cap, "%s/%s%s", fs->dir, label, suffix) == -1) {
		pki_err_set(err, "key store path too long");
		return -1;
	}
	return 0;
}

static int
fs_key_exists(void *state, const char *label, struct pki_err *err)
{
	char path[PATH_MAX];
	struct stat st;

	if (fs_path(state, label, ".key.pem", path, sizeof(path), err) == -1)
		return -1;
	if (lstat(path, &st) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	pki_err_set(err, "%s: %s", path, strerror(errno));
	return -1;
}

static int
fs_key_generate(void *state, const char *label, enum pki_alg alg, EVP_PKEY **out,
    struct pki_err *err)
{
	char path[PATH_MAX];
	EVP_PKEY *pk;
	BIO *b = NULL;
	char *pem;
	long n;
	int r = -1;

	if (fs_path(state, label, ".key.pem", path, sizeof(path), err) == -1)
		return -1;
	if ((pk = pki_key_new(alg, err)) == NULL)
		return -1;
	/* secmem BIO: its buffer is cleansed when freed */
	if ((b = BIO_new(BIO_s_secmem())) == NULL ||
	    !PEM_write_bio_PKCS8PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) ||
	    (n = BIO_get_mem_data(b, &pem)) <= 0) {
		pki_err_ssl(err, "cannot encode the new key");
		goto out;
	}
	if (file_write_atomic(path, pem, (size_t)n, 0600) == -1) {
		pki_err_set(err, "%s: %s", path, strerror(errno));
		OPENSSL_cleanse(pem, (size_t)n);
		goto out;
	}
	OPENSSL_cleanse(pem, (size_t)n);
	*out = pk;
	pk = NULL;
	r = 0;
out:
	BIO_free(b);
	EVP_PKEY_free(pk);
	return r;
}

static int
fs_key_load(void *state, const char *label, EVP_PKEY **out, struct pki_err *err)
{
	const struct filestore *fs = state;
	char path[PATH_MAX];
	struct stat st;
	uint8_t *buf = NULL;
	size_t n = 0;
	EVP_PKEY *pk = NULL;
	BIO *b;

	if (fs_path(fs, label, ".key.pem", path, sizeof(path), err) == -1)
		return -1;
	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			pki_err_set(err, "key store %s has no key labelled \"%s\"",
			    fs->dir, label);
		else
			pki_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		pki_err_set(err, "%s is not a regular file", path);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		pki_err_set(err, "key file %s is accessible by group or others "
		    "(mode %03o); chmod 600 it", path, (unsigned)(st.st_mode & 0777));
		return -1;
	}
	if (file_read_all(path, KEY_FILE_MAX, &buf, &n) == -1) {
		pki_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((b = BIO_new_mem_buf(buf, (int)n)) != NULL)
		pk = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
	BIO_free(b);
	OPENSSL_cleanse(buf, n);
	free(buf);
	if (pk == NULL) {
		pki_err_ssl(err, "%s: not an unencrypted PKCS#8 private key", path);
		return -1;
	}
	*out = pk;
	return 0;
}

static int
fs_key_remove(void *state, const char *label, struct pki_err *err)
{
	const struct filestore *fs = state;
	char path[PATH_MAX];

	if (fs_path(fs, label, ".key.pem", path, sizeof(path), err) == -1)
		return -1;
	if (unlink(path) == -1) {
		if (errno == ENOENT)
			pki_err_set(err, "key store %s has no key labelled \"%s\"",
			    fs->dir, label);
		else
			pki_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
fs_key_rename(void *state, const char *from, const char *to, struct pki_err *err)
{
	static const char *const suffix[] = { ".key.pem", ".crt.pem" };
	const struct filestore *fs = state;
	char a[PATH_MAX], b[PATH_MAX];
	int fd;

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		if (fs_path(fs, from, suffix[i], a, sizeof(a), err) == -1 ||
		    fs_path(fs, to, suffix[i], b, sizeof(b), err) == -1)
			return -1;
		if (rename(a, b) == 0)
			continue;
		if (errno == ENOENT && i == 0) {
			pki_err_set(err, "key store %s has no key labelled \"%s\"", fs->dir,
			    from);
			return -1;
		}
		if (errno == ENOENT)
			continue;	/* a key without a certificate */
		pki_err_set(err, "%s -> %s: %s%s", a, b, strerror(errno),
		    i > 0 ? " (the key moved, its certificate did not)" : "");
		return -1;
	}
	if ((fd = open(fs->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(fd);
		close(fd);
	}
	return 0;
}

static int
fs_cert_store(void *state, const char *label, const X509 *x, struct pki_err *err)
{
	char path[PATH_MAX];

	if (fs_path(state, label, ".crt.pem", path, sizeof(path), err) == -1)
		return -1;
	return pki_cert_save(path, x, err);
}

static int
fs_cert_load(void *state, const char *label, X509 **out, struct pki_err *err)
{
	const struct filestore *fs = state;
	char path[PATH_MAX];

	if (fs_path(fs, label, ".crt.pem", path, sizeof(path), err) == -1)
		return -1;
	if (access(path, F_OK) == -1 && errno == ENOENT) {
		pki_err_set(err, "key store %s has no certificate labelled \"%s\"",
		    fs->dir, label);
		return -1;
	}
	return pki_cert_load(path, out, err);
}

const struct keystore_ops keystore_file_ops = {
	.scheme = "file",
	.open = fs_open,
	.close = fs_close,
	.key_generate = fs_key_generate,
	.key_load = fs_key_load,
	.key_exists = fs_key_exists,
	.key_remove = fs_key_remove,
	.key_rename = fs_key_rename,
	.cert_store = fs_cert_store,
	.cert_load = fs_cert_load,
};
