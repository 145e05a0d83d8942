/*
 * A PKI directory: what `odvpn pki init` creates and the center loads.
 *
 *   <dir>/root.crt.pem  device-ca.crt.pem  service-ca.crt.pem
 *         center.crt.pem  center-chain.pem  admin.crt.pem
 *         root.crl.pem  device-ca.crl.pem  service-ca.crl.pem
 *         root.sha256   index.txt
 *         private/      file key store (0700): root, device-ca, service-ca,
 *                       center, admin (.key.pem, 0600)
 *
 * index.txt lists what was issued from here, one line per certificate:
 * "<role> <serial> <notAfter (epoch s)> <CN>", so `pki revoke` knows which CA
 * issued a serial. Service certificates are issued by the center and live in
 * its database instead.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/util.h"
#include "pki/keystore.h"
#include "pki/pki.h"
#include "pki/pki_internal.h"

#define DIR_CRL_LIFETIME	(30 * PKI_DAY)
#define INDEX_MAX		(16 * 1024 * 1024)

static int
dir_path(const char *dir, const char *file, char *out, size_t cap, struct pki_err *err)
{
	if (xsnprintf(out, cap, "%s/%s", dir, file) == -1) {
		pki_err_set(err, "path too long: %s/%s", dir, file);
		return -1;
	}
	return 0;
}

static int
save_cert(const char *dir, const char *file, X509 *x, struct pki_err *err)
{
	char path[PATH_MAX];

	if (dir_path(dir, file, path, sizeof(path), err) == -1)
		return -1;
	return pki_cert_save(path, x, err);
}

static int
save_crl(const char *dir, const char *file, X509_CRL *c, struct pki_err *err)
{
	char path[PATH_MAX];

	if (dir_path(dir, file, path, sizeof(path), err) == -1)
		return -1;
	return pki_crl_save(path, c, err);
}

static int
save_text(const char *dir, const char *file, const char *text, unsigned mode,
    struct pki_err *err)
{
	char path[PATH_MAX];

	if (dir_path(dir, file, path, sizeof(path), err) == -1)
		return -1;
	if (file_write_atomic(path, text, strlen(text), mode) == -1) {
		pki_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* append one line to index.txt (rewritten atomically) */
int
pki_dir_index_add(const char *dir, const X509 *x, enum pki_role role, struct pki_err *err)
{
	char path[PATH_MAX], serial[PKI_SERIAL_HEX_MAX], cn[PKI_NAME_MAX], line[256];
	uint8_t *old = NULL;
	size_t oldlen = 0;
	char *all;
	int r, n;

	if (dir_path(dir, PKI_FILE_INDEX, path, sizeof(path), err) == -1)
		return -1;
	if (pki_cert_serial(x, serial) == -1 || pki_cert_cn(x, cn, sizeof(cn)) == -1) {
		pki_err_set(err, "cannot index a certificate without serial or CN");
		return -1;
	}
	n = snprintf(line, sizeof(line), "%s %s %lld %s\n", pki_role_name(role), serial,
	    (long long)pki_cert_not_after(x), cn);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		pki_err_set(err, "index line too long");
		return -1;
	}
	if (file_read_all(path, INDEX_MAX, &old, &oldlen) == -1) {
		if (errno != ENOENT) {
			pki_err_set(err, "%s: %s", path, strerror(errno));
			return -1;
		}
		old = NULL;
		oldlen = 0;
	}
	all = xmalloc(oldlen + (size_t)n + 1);
	if (oldlen > 0)
		memcpy(all, old, oldlen);
	memcpy(all + oldlen, line, (size_t)n + 1);
	r = file_write_atomic(path, all, oldlen + (size_t)n, 0644);
	if (r == -1)
		pki_err_set(err, "%s: %s", path, strerror(errno));
	free(all);
	free(old);
	return r;
}

/* 1 found (role and CN filled), 0 not in the index, -1 error */
int
pki_dir_index_lookup(const char *dir, const char *serial, enum pki_role *role, char *cn,
    size_t cncap, struct pki_err *err)
{
	char path[PATH_MAX], want[PKI_SERIAL_HEX_MAX];
	uint8_t *buf;
	size_t len;
	char *line, *save = NULL;
	int found = 0;

	if (pki_serial_parse(serial, want, err) == -1 ||
	    dir_path(dir, PKI_FILE_INDEX, path, sizeof(path), err) == -1)
		return -1;
	if (file_read_all(path, INDEX_MAX, &buf, &len) == -1) {
		if (errno == ENOENT)
			return 0;
		pki_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (line = strtok_r((char *)buf, "\n", &save); line != NULL && !found;
	    line = strtok_r(NULL, "\n", &save)) {
		char rname[32], s[PKI_SERIAL_HEX_MAX], name[PKI_NAME_MAX];
		long long na;

		if (sscanf(line, "%31s %40s %lld %64[^\n]", rname, s, &na, name) != 4)
			continue;
		if (strcmp(s, want) != 0 || pki_role_parse(rname, role) == -1)
			continue;
		(void)xsnprintf(cn, cncap, "%s", name);
		found = 1;
	}
	free(buf);
	return found;
}

static const char *const dir_files[] = {
	PKI_FILE_ROOT, PKI_FILE_DEVICE_CA, PKI_FILE_SERVICE_CA, PKI_FILE_CENTER,
	PKI_FILE_CENTER_CHAIN, PKI_FILE_ADMIN, PKI_FILE_ROOT_CRL, PKI_FILE_DEVICE_CRL,
	PKI_FILE_SERVICE_CRL, PKI_FILE_FINGERPRINT, PKI_FILE_INDEX,
};
static const char *const dir_keys[] = {
	PKI_LABEL_ROOT, PKI_LABEL_DEVICE_CA, PKI_LABEL_SERVICE_CA, PKI_LABEL_CENTER,
	PKI_LABEL_ADMIN,
};

/* 1 when anything of a PKI is already in dir */
static int
dir_occupied(const char *dir, struct keystore *ks)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < nitems(dir_files); i++)
		if (xsnprintf(path, sizeof(path), "%s/%s", dir, dir_files[i]) != -1 &&
		    access(path, F_OK) == 0)
			return 1;
	for (size_t i = 0; i < nitems(dir_keys); i++)
		if (keystore_key_exists(ks, dir_keys[i], NULL) != 0)
			return 1;
	return 0;
}

static void
dir_clear(const char *dir, struct keystore *ks)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < nitems(dir_files); i++)
		if (xsnprintf(path, sizeof(path), "%s/%s", dir, dir_files[i]) != -1)
			(void)unlink(path);
	for (size_t i = 0; i < nitems(dir_keys); i++)
		(void)keystore_key_remove(ks, dir_keys[i], NULL);
}

/* generate key `label` and issue its certificate */
static int
make_one(struct keystore *ks, const char *label, enum pki_alg alg,
    struct pki_issue_req *req, X509 *issuer, struct keystore_key *issuer_key,
    struct keystore_key **key_out, X509 **cert_out, struct pki_err *err)
{
	struct keystore_key *k;
	int r;

	if (keystore_key_generate(ks, label, alg, &k, err) == -1)
		return -1;
	if ((req->pubkey = keystore_key_public(k)) == NULL) {
		keystore_key_free(k);
		pki_err_ssl(err, "cannot read the public key of %s", label);
		return -1;
	}
	r = pki_issue(req, issuer, issuer == NULL ? k : issuer_key, cert_out, err);
	EVP_PKEY_free(req->pubkey);
	req->pubkey = NULL;
	if (r == -1 || key_out == NULL)
		keystore_key_free(k);
	else
		*key_out = k;
	return r;
}

static int
empty_crl(const char *dir, const char *file, X509 *ca, struct keystore_key *key,
    struct pki_err *err)
{
	X509_CRL *crl;
	int r;

	if (pki_crl_build(ca, key, NULL, 0, 1, 0, DIR_CRL_LIFETIME, &crl, err) == -1)
		return -1;
	r = save_crl(dir, file, crl, err);
	X509_CRL_free(crl);
	return r;
}

int
pki_dir_init(const char *dir, const struct pki_init_opts *o, struct pki_err *err)
{
	static const char *const default_names[] = { "localhost", "127.0.0.1" };
	struct pki_issue_req req;
	struct keystore *ks = NULL;
	struct keystore_key *root_key = NULL, *dca_key = NULL, *sca_key = NULL;
	X509 *root = NULL, *dca = NULL, *sca = NULL, *center = NULL, *admin = NULL;
	enum pki_alg alg = o->alg != PKI_ALG_NONE ? o->alg : PKI_ALG_P256;
	const char *org = o->org != NULL ? o->org : "odvpn";
	char path[PATH_MAX], fp[PKI_FP_HEX_MAX + 1];
	char *pem1 = NULL, *pem2 = NULL, *chain = NULL;
	size_t n1, n2;
	bool touched = false;
	int r = -1;

	if (dir_path(dir, PKI_DIR_PRIVATE, path, sizeof(path), err) == -1)
		return -1;
	if (mkdir_p(dir, 0755) == -1) {
		pki_err_set(err, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (keystore_open(path, KEYSTORE_CREATE, &ks, err) == -1)
		return -1;
	if (dir_occupied(dir, ks)) {
		if (!o->force) {
			pki_err_set(err, "%s already holds a PKI; refusing to overwrite it "
			    "(use --force to replace it)", dir);
			goto out;
		}
		dir_clear(dir, ks);
	}
	touched = true;

	memset(&req, 0, sizeof(req));
	req.role = PKI_ROLE_ROOT;
	req.cn = "odvpn root CA";
	req.org = org;
	if (make_one(ks, PKI_LABEL_ROOT, alg, &req, NULL, NULL, &root_key, &root, err) == -1)
		goto out;
	memset(&req, 0, sizeof(req));
	req.role = PKI_ROLE_DEVICE_CA;
	req.cn = "odvpn device CA";
	if (make_one(ks, PKI_LABEL_DEVICE_CA, alg, &req, root, root_key, &dca_key, &dca,
	    err) == -1)
		goto out;
	memset(&req, 0, sizeof(req));
	req.role = PKI_ROLE_SERVICE_CA;
	req.cn = "odvpn service CA";
	if (make_one(ks, PKI_LABEL_SERVICE_CA, alg, &req, root, root_key, &sca_key, &sca,
	    err) == -1)
		goto out;
	memset(&req, 0, sizeof(req));
	req.role = PKI_ROLE_CENTER;
	if (o->ncenter_names > 0) {
		req.san = o->center_names;
		req.nsan = o->ncenter_names;
	} else {
		req.san = default_names;
		req.nsan = nitems(default_names);
	}
	req.cn = req.san[0];
	if (make_one(ks, PKI_LABEL_CENTER, alg, &req, sca, sca_key, NULL, &center, err) == -1)
		goto out;
	memset(&req, 0, sizeof(req));
	req.role = PKI_ROLE_ADMIN;
	req.cn = o->admin_name != NULL ? o->admin_name : "admin";
	if (make_one(ks, PKI_LABEL_ADMIN, alg, &req, sca, sca_key, NULL, &admin, err) == -1)
		goto out;

	if (empty_crl(dir, PKI_FILE_ROOT_CRL, root, root_key, err) == -1 ||
	    empty_crl(dir, PKI_FILE_DEVICE_CRL, dca, dca_key, err) == -1 ||
	    empty_crl(dir, PKI_FILE_SERVICE_CRL, sca, sca_key, err) == -1)
		goto out;
	if (pki_cert_pem(center, &pem1, &n1) == -1 || pki_cert_pem(sca, &pem2, &n2) == -1) {
		pki_err_ssl(err, "cannot encode the center chain");
		goto out;
	}
	chain = xmalloc(n1 + n2 + 1);
	memcpy(chain, pem1, n1);
	memcpy(chain + n1, pem2, n2 + 1);
	if (pki_fingerprint_hex(root, false, fp) == -1) {
		pki_err_ssl(err, "cannot hash the root");
		goto out;
	}
	fp[strlen(fp) + 1] = '\0';
	fp[strlen(fp)] = '\n';
	if (save_cert(dir, PKI_FILE_DEVICE_CA, dca, err) == -1 ||
	    save_cert(dir, PKI_FILE_SERVICE_CA, sca, err) == -1 ||
	    save_cert(dir, PKI_FILE_CENTER, center, err) == -1 ||
	    save_text(dir, PKI_FILE_CENTER_CHAIN, chain, 0644, err) == -1 ||
	    save_cert(dir, PKI_FILE_ADMIN, admin, err) == -1 ||
	    save_text(dir, PKI_FILE_FINGERPRINT, fp, 0644, err) == -1 ||
	    pki_dir_index_add(dir, root, PKI_ROLE_ROOT, err) == -1 ||
	    pki_dir_index_add(dir, dca, PKI_ROLE_DEVICE_CA, err) == -1 ||
	    pki_dir_index_add(dir, sca, PKI_ROLE_SERVICE_CA, err) == -1 ||
	    pki_dir_index_add(dir, center, PKI_ROLE_CENTER, err) == -1 ||
	    pki_dir_index_add(dir, admin, PKI_ROLE_ADMIN, err) == -1 ||
	    /* last: its presence marks a complete PKI */
	    save_cert(dir, PKI_FILE_ROOT, root, err) == -1)
		goto out;
	r = 0;
out:
	if (r == -1 && touched)
		dir_clear(dir, ks);
	free(pem1);
	free(pem2);
	free(chain);
	X509_free(root);
	X509_free(dca);
	X509_free(sca);
	X509_free(center);
	X509_free(admin);
	keystore_key_free(root_key);
	keystore_key_free(dca_key);
	keystore_key_free(sca_key);
	keystore_close(ks);
	return r;
}

static int
load_cert_opt(const char *dir, const char *file, bool required, X509 **out,
    struct pki_err *err)
{
	char path[PATH_MAX];

	*out = NULL;
	if (dir_path(dir, file, path, sizeof(path), err) == -1)
		return -1;
	if (!required && access(path, F_OK) == -1 && errno == ENOENT)
		return 0;
	return pki_cert_load(path, out, err);
}

static int
load_crl_opt(const char *dir, const char *file, X509 *ca, X509_CRL **out,
    struct pki_err *err)
{
	char path[PATH_MAX];
	struct pki_err sub;

	*out = NULL;
	if (dir_path(dir, file, path, sizeof(path), err) == -1)
		return -1;
	if (access(path, F_OK) == -1 && errno == ENOENT)
		return 0;
	if (pki_crl_load(path, out, err) == -1)
		return -1;
	if (pki_crl_verify(*out, ca, &sub) == -1) {
		pki_err_set(err, "%s: %s", path, sub.msg);
		X509_CRL_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

void
pki_dir_free(struct pki_dir *d)
{
	if (d == NULL)
		return;
	free(d->path);
	keystore_close(d->keys);
	X509_free(d->root);
	X509_free(d->device_ca);
	X509_free(d->service_ca);
	X509_free(d->center);
	X509_free(d->admin);
	X509_CRL_free(d->root_crl);
	X509_CRL_free(d->device_crl);
	X509_CRL_free(d->service_crl);
	free(d);
}

int
pki_dir_load(const char *dir, struct pki_dir **out, struct pki_err *err)
{
	struct pki_dir *d = xcalloc(1, sizeof(*d));
	struct pki_trust *t = NULL;
	char path[PATH_MAX];

	d->path = xstrdup(dir);
	if (load_cert_opt(dir, PKI_FILE_ROOT, true, &d->root, err) == -1 ||
	    load_cert_opt(dir, PKI_FILE_DEVICE_CA, true, &d->device_ca, err) == -1 ||
	    load_cert_opt(dir, PKI_FILE_SERVICE_CA, true, &d->service_ca, err) == -1 ||
	    load_cert_opt(dir, PKI_FILE_CENTER, false, &d->center, err) == -1 ||
	    load_cert_opt(dir, PKI_FILE_ADMIN, false, &d->admin, err) == -1)
		goto fail;
	/* the CAs must be what their file names say, under this root */
	if ((t = pki_trust_new(d->root, err)) == NULL)
		goto fail;
	if (pki_cert_role(d->device_ca) != PKI_ROLE_DEVICE_CA) {
		pki_err_set(err, "%s/%s is not a device CA", dir, PKI_FILE_DEVICE_CA);
		goto fail;
	}
	if (pki_cert_role(d->service_ca) != PKI_ROLE_SERVICE_CA) {
		pki_err_set(err, "%s/%s is not a service CA", dir, PKI_FILE_SERVICE_CA);
		goto fail;
	}
	if (pki_trust_add_ca(t, d->device_ca, err) == -1 ||
	    pki_trust_add_ca(t, d->service_ca, err) == -1)
		goto fail;
	pki_trust_free(t);
	t = NULL;
	if (load_crl_opt(dir, PKI_FILE_ROOT_CRL, d->root, &d->root_crl, err) == -1 ||
	    load_crl_opt(dir, PKI_FILE_DEVICE_CRL, d->device_ca, &d->device_crl, err) == -1 ||
	    load_crl_opt(dir, PKI_FILE_SERVICE_CRL, d->service_ca, &d->service_crl,
	    err) == -1)
		goto fail;
	if (dir_path(dir, PKI_DIR_PRIVATE, path, sizeof(path), err) == -1 ||
	    keystore_open(path, 0, &d->keys, err) == -1)
		goto fail;
	*out = d;
	return 0;
fail:
	pki_trust_free(t);
	pki_dir_free(d);
	return -1;
}

int
pki_dir_trust(const struct pki_dir *d, struct pki_trust **out, struct pki_err *err)
{
	struct pki_trust *t;

	if ((t = pki_trust_new(d->root, err)) == NULL)
		return -1;
	if (pki_trust_add_ca(t, d->device_ca, err) == -1 ||
	    pki_trust_add_ca(t, d->service_ca, err) == -1 ||
	    (d->root_crl != NULL && pki_trust_add_crl(t, d->root_crl, err) == -1) ||
	    (d->device_crl != NULL && pki_trust_add_crl(t, d->device_crl, err) == -1) ||
	    (d->service_crl != NULL && pki_trust_add_crl(t, d->service_crl, err) == -1)) {
		pki_trust_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

/* put a certificate just issued for the key under label into the device's key
 * store, with its issuing CA and the root beside it, and record it in the index */
static int
install_issued(struct pki_dir *d, struct keystore *ks, const char *label, X509 *cert,
    const char *ca_label, X509 *ca, enum pki_role role, struct pki_err *err)
{
	if (keystore_cert_store(ks, label, cert, err) == -1 ||
	    keystore_cert_store(ks, ca_label, ca, err) == -1 ||
	    keystore_cert_store(ks, PKI_LABEL_ROOT, d->root, err) == -1)
		return -1;
	return pki_dir_index_add(d->path, cert, role, err);
}

/* make room for a fresh key under label in ks: refused if one is there, unless
 * force (then the old key is removed) */
static int
key_slot_free(struct keystore *ks, const char *label, const char *what, bool force,
    struct pki_err *err)
{
	switch (keystore_key_exists(ks, label, err)) {
	case 0:
		return 0;
	case 1:
		if (!force) {
			pki_err_set(err, "key store %s already holds a %s key (use --force "
			    "to replace it)", keystore_uri(ks), what);
			return -1;
		}
		return keystore_key_remove(ks, label, err);
	default:
		return -1;
	}
}

int
pki_dir_issue_device(struct pki_dir *d, struct keystore *ks, const char *device_id,
    enum pki_alg alg, bool force, X509 **out, struct pki_err *err)
{
	struct pki_issue_req req;
	struct keystore_key *ca_key = NULL, *key = NULL;
	X509 *cert = NULL;
	bool generated = false;
	int r = -1;

	if (device_id == NULL || !pki_device_id_valid(device_id)) {
		pki_err_set(err, "\"%.80s\" is not a valid device id (lower-case host name: "
		    "letters, digits, '-', '.'; at most 64)", device_id == NULL ? "" :
		    device_id);
		return -1;
	}
	if (keystore_key_load(d->keys, PKI_LABEL_DEVICE_CA, &ca_key, err) == -1)
		return -1;
	if (alg == PKI_ALG_NONE)
		alg = keystore_key_alg(ca_key);
	if (key_slot_free(ks, PKI_LABEL_DEVICE, "device", force, err) == -1)
		goto out;
	if (keystore_key_generate(ks, PKI_LABEL_DEVICE, alg, &key, err) == -1)
		goto out;
	generated = true;
	memset(&req, 0, sizeof(req));
	req.role = PKI_ROLE_DEVICE;
	req.cn = device_id;
	if ((req.pubkey = keystore_key_public(key)) == NULL) {
		pki_err_ssl(err, "cannot read the device public key");
		goto out;
	}
	r = pki_issue(&req, d->device_ca, ca_key, &cert, err);
	EVP_PKEY_free(req.pubkey);
	if (r == -1)
		goto out;
	r = -1;
	if (install_issued(d, ks, PKI_LABEL_DEVICE, cert, PKI_LABEL_DEVICE_CA, d->device_ca,
	    PKI_ROLE_DEVICE, err) == -1)
		goto out;
	if (out != NULL) {
		*out = cert;
		cert = NULL;
	}
	r = 0;
out:
	if (r == -1 && generated)
		(void)keystore_key_remove(ks, PKI_LABEL_DEVICE, NULL);
	X509_free(cert);
	keystore_key_free(key);
	keystore_key_free(ca_key);
	return r;
}

int
pki_dir_issue_service(struct pki_dir *d, struct keystore *ks, const char *device_id,
    int64_t lifetime_s, bool force, X509 **out, struct pki_err *err)
{
	struct keystore_key *ca_key = NULL, *key = NULL;
	X509_REQ *csr = NULL;
	uint8_t *der = NULL;
	size_t derlen = 0;
	X509 *cert = NULL;
	bool generated = false;
	int r = -1;

	if (device_id == NULL || !pki_device_id_valid(device_id)) {
		pki_err_set(err, "\"%.80s\" is not a valid device id", device_id == NULL ?
		    "" : device_id);
		return -1;
	}
	if (keystore_key_load(d->keys, PKI_LABEL_SERVICE_CA, &ca_key, err) == -1)
		return -1;
	if (key_slot_free(ks, PKI_LABEL_SERVICE, "service", force, err) == -1)
		goto out;
	/* the same path as enrolment: a CSR made inside the device's key store */
	if (keystore_key_generate(ks, PKI_LABEL_SERVICE, keystore_key_alg(ca_key), &key,
	    err) == -1)
		goto out;
	generated = true;
	if (pki_csr_build(key, device_id, &csr, err) == -1 ||
	    pki_csr_der(csr, &der, &derlen) == -1 ||
	    pki_service_issue(der, derlen, device_id, d->service_ca, ca_key, lifetime_s,
	    &cert, err) == -1)
		goto out;
	if (install_issued(d, ks, PKI_LABEL_SERVICE, cert, PKI_LABEL_SERVICE_CA,
	    d->service_ca, PKI_ROLE_SERVICE, err) == -1)
		goto out;
	if (out != NULL) {
		*out = cert;
		cert = NULL;
	}
	r = 0;
out:
	if (r == -1 && generated)
		(void)keystore_key_remove(ks, PKI_LABEL_SERVICE, NULL);
	free(der);
	X509_REQ_free(csr);
	X509_free(cert);
	keystore_key_free(key);
	keystore_key_free(ca_key);
	return r;
}

/* the CA cert, key label, CRL slot and CRL file of a CA role */
static int
ca_slot(struct pki_dir *d, enum pki_role ca, X509 **cert, const char **label,
    X509_CRL ***crl, const char **file, struct pki_err *err)
{
	switch (ca) {
	case PKI_ROLE_ROOT:
		*cert = d->root;
		*label = PKI_LABEL_ROOT;
		*crl = &d->root_crl;
		*file = PKI_FILE_ROOT_CRL;
		return 0;
	case PKI_ROLE_DEVICE_CA:
		*cert = d->device_ca;
		*label = PKI_LABEL_DEVICE_CA;
		*crl = &d->device_crl;
		*file = PKI_FILE_DEVICE_CRL;
		return 0;
	case PKI_ROLE_SERVICE_CA:
		*cert = d->service_ca;
		*label = PKI_LABEL_SERVICE_CA;
		*crl = &d->service_crl;
		*file = PKI_FILE_SERVICE_CRL;
		return 0;
	default:
		pki_err_set(err, "%s is not a CA of this PKI", pki_role_name(ca));
		return -1;
	}
}

/* rebuild the CRL of ca from list, number = old + 1, save it and keep it in d */
static int
crl_rewrite(struct pki_dir *d, enum pki_role ca, const struct pki_revoked *list,
    size_t n, struct pki_err *err)
{
	struct keystore_key *key = NULL;
	X509_CRL **slot, *crl = NULL;
	const char *label, *file;
	X509 *cert;
	int r = -1;

	if (ca_slot(d, ca, &cert, &label, &slot, &file, err) == -1 ||
	    keystore_key_load(d->keys, label, &key, err) == -1)
		return -1;
	if (pki_crl_build(cert, key, list, n, (*slot != NULL ? pki_crl_number(*slot) : 0) + 1,
	    0, DIR_CRL_LIFETIME, &crl, err) == -1 ||
	    save_crl(d->path, file, crl, err) == -1)
		goto out;
	X509_CRL_free(*slot);
	*slot = crl;
	crl = NULL;
	r = 0;
out:
	X509_CRL_free(crl);
	keystore_key_free(key);
	return r;
}

int
pki_dir_revoke(struct pki_dir *d, const char *serial, enum pki_role ca,
    enum pki_crl_reason reason, enum pki_role *ca_out, struct pki_err *err)
{
	struct pki_revoked *list = NULL, e;
	X509_CRL **slot;
	const char *label, *file;
	char cn[PKI_NAME_MAX];
	enum pki_role role;
	X509 *cert;
	size_t n = 0;
	int r = -1;

	memset(&e, 0, sizeof(e));
	if (pki_serial_parse(serial, e.serial, err) == -1)
		return -1;
	if (ca == PKI_ROLE_NONE) {
		switch (pki_dir_index_lookup(d->path, e.serial, &role, cn, sizeof(cn), err)) {
		case 1:
			break;
		case 0:
			pki_err_set(err, "serial %s was not issued from %s (service "
			    "certificates are revoked through the center); name the CA "
			    "to revoke it anyway", e.serial, d->path);
			return -1;
		default:
			return -1;
		}
		if (role == PKI_ROLE_ROOT) {
			pki_err_set(err, "the root cannot be revoked; replace the PKI "
			    "(docs/PKI.md, key compromise)");
			return -1;
		}
		ca = pki_role_issuer(role);
	}
	if (ca_slot(d, ca, &cert, &label, &slot, &file, err) == -1)
		return -1;
	if (*slot != NULL) {
		if (pki_crl_lookup(*slot, e.serial, NULL) == 1) {
			pki_err_set(err, "serial %s is already revoked by the %s", e.serial,
			    pki_role_name(ca));
			return -1;
		}
		if (pki_crl_entries(*slot, &list, &n, err) == -1)
			return -1;
	}
	e.reason = reason;
	e.when = now_wall_s();
	list = xrealloc(list, (n + 1) * sizeof(*list));
	list[n++] = e;
	if (crl_rewrite(d, ca, list, n, err) == -1)
		goto out;
	if (ca_out != NULL)
		*ca_out = ca;
	r = 0;
out:
	free(list);
	return r;
}

int
pki_dir_crl_refresh(struct pki_dir *d, enum pki_role ca, struct pki_err *err)
{
	struct pki_revoked *list = NULL;
	X509_CRL **slot;
	const char *label, *file;
	X509 *cert;
	size_t n = 0;
	int r;

	if (ca_slot(d, ca, &cert, &label, &slot, &file, err) == -1)
		return -1;
	if (*slot != NULL && pki_crl_entries(*slot, &list, &n, err) == -1)
		return -1;
	r = crl_rewrite(d, ca, list, n, err);
	free(list);
	return r;
}

/* the SAN of x as strings (DNS names, IP literals); caller frees each and *out */
static int
san_strings(X509 *x, char ***out, size_t *n)
{
	GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	char **v;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (g == NULL)
		return -1;
	v = xcalloc((size_t)sk_GENERAL_NAME_num(g) + 1, sizeof(*v));
	for (int i = 0; i < sk_GENERAL_NAME_num(g); i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(g, i);
		const unsigned char *p;
		char ip[INET6_ADDRSTRLEN];
		int len;

		if (gn->type == GEN_DNS) {
			p = ASN1_STRING_get0_data(gn->d.dNSName);
			len = ASN1_STRING_length(gn->d.dNSName);
			v[k] = xmalloc((size_t)len + 1);
			memcpy(v[k], p, (size_t)len);
			v[k++][len] = '\0';
		} else if (gn->type == GEN_IPADD) {
			p = ASN1_STRING_get0_data(gn->d.iPAddress);
			len = ASN1_STRING_length(gn->d.iPAddress);
			if ((len == 4 || len == 16) && inet_ntop(len == 4 ? AF_INET : AF_INET6,
			    p, ip, sizeof(ip)) != NULL)
				v[k++] = xstrdup(ip);
		}
	}
	GENERAL_NAMES_free(g);
	*out = v;
	*n = k;
	return 0;
}

/* re-issue leaf (center or admin) under the new service CA, for its existing key */
static int
reissue_leaf(struct pki_dir *d, X509 **slot, const char *file, enum pki_role role,
    struct keystore_key *ca_key, struct pki_err *err)
{
	struct pki_issue_req req;
	char cn[PKI_NAME_MAX], **names = NULL;
	size_t nnames = 0;
	X509 *x = NULL;
	int r = -1;

	if (*slot == NULL)
		return 0;
	memset(&req, 0, sizeof(req));
	req.role = role;
	req.pubkey = X509_get0_pubkey(*slot);
	if (pki_cert_cn(*slot, cn, sizeof(cn)) == -1) {
		pki_err_set(err, "%s certificate has no CN", pki_role_name(role));
		return -1;
	}
	req.cn = cn;
	if (role == PKI_ROLE_CENTER) {
		if (san_strings(*slot, &names, &nnames) == -1) {
			pki_err_set(err, "center certificate has no names");
			return -1;
		}
		req.san = (const char *const *)names;
		req.nsan = nnames;
	}
	if (pki_issue(&req, d->service_ca, ca_key, &x, err) == -1 ||
	    save_cert(d->path, file, x, err) == -1 ||
	    pki_dir_index_add(d->path, x, role, err) == -1)
		goto out;
	X509_free(*slot);
	*slot = x;
	x = NULL;
	r = 0;
out:
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	X509_free(x);
	return r;
}

int
pki_dir_rekey_ca(struct pki_dir *d, enum pki_role ca, enum pki_crl_reason reason,
    struct pki_err *err)
{
	struct keystore_key *root_key = NULL, *key = NULL;
	struct pki_issue_req req;
	X509 **cert_slot, *x = NULL;
	X509_CRL **crl_slot, *crl = NULL;
	const char *label, *crlfile, *certfile;
	char serial[PKI_SERIAL_HEX_MAX], cn[PKI_NAME_MAX];
	char *pem1 = NULL, *pem2 = NULL, *chain = NULL;
	size_t n1, n2;
	int r = -1;

	switch (ca) {
	case PKI_ROLE_DEVICE_CA:
		cert_slot = &d->device_ca;
		certfile = PKI_FILE_DEVICE_CA;
		break;
	case PKI_ROLE_SERVICE_CA:
		cert_slot = &d->service_ca;
		certfile = PKI_FILE_SERVICE_CA;
		break;
	default:
		pki_err_set(err, "only the device CA and the service CA can be re-keyed; "
		    "a new root means a new PKI (pki init --force) and new pins");
		return -1;
	}
	{
		X509 *dummy;

		if (ca_slot(d, ca, &dummy, &label, &crl_slot, &crlfile, err) == -1)
			return -1;
	}
	if (pki_cert_serial(*cert_slot, serial) == -1 ||
	    pki_cert_cn(*cert_slot, cn, sizeof(cn)) == -1) {
		pki_err_set(err, "the current %s certificate is malformed", pki_role_name(ca));
		return -1;
	}
	if (keystore_key_load(d->keys, PKI_LABEL_ROOT, &root_key, err) == -1)
		return -1;
	/* the old key goes first: after a compromise it must not survive a failure */
	if (keystore_key_exists(d->keys, label, NULL) == 1 &&
	    keystore_key_remove(d->keys, label, err) == -1)
		goto out;
	memset(&req, 0, sizeof(req));
	req.role = ca;
	req.cn = cn;
	if (make_one(d->keys, label, keystore_key_alg(root_key), &req, d->root, root_key,
	    &key, &x, err) == -1)
		goto out;
	if (save_cert(d->path, certfile, x, err) == -1 ||
	    pki_dir_index_add(d->path, x, ca, err) == -1)
		goto out;
	X509_free(*cert_slot);
	*cert_slot = x;
	x = NULL;
	/* a fresh CRL for the new key; numbers keep rising under the same name */
	if (pki_crl_build(*cert_slot, key, NULL, 0,
	    (*crl_slot != NULL ? pki_crl_number(*crl_slot) : 0) + 1, 0, DIR_CRL_LIFETIME,
	    &crl, err) == -1 || save_crl(d->path, crlfile, crl, err) == -1)
		goto out;
	X509_CRL_free(*crl_slot);
	*crl_slot = crl;
	crl = NULL;
	if (ca == PKI_ROLE_SERVICE_CA) {
		if (reissue_leaf(d, &d->center, PKI_FILE_CENTER, PKI_ROLE_CENTER, key,
		    err) == -1 ||
		    reissue_leaf(d, &d->admin, PKI_FILE_ADMIN, PKI_ROLE_ADMIN, key, err) == -1)
			goto out;
		if (d->center != NULL) {
			if (pki_cert_pem(d->center, &pem1, &n1) == -1 ||
			    pki_cert_pem(d->service_ca, &pem2, &n2) == -1) {
				pki_err_ssl(err, "cannot encode the center chain");
				goto out;
			}
			chain = xmalloc(n1 + n2 + 1);
			memcpy(chain, pem1, n1);
			memcpy(chain + n1, pem2, n2 + 1);
			if (save_text(d->path, PKI_FILE_CENTER_CHAIN, chain, 0644, err) == -1)
				goto out;
		}
	}
	if (pki_dir_revoke(d, serial, PKI_ROLE_ROOT, reason, NULL, err) == -1)
		goto out;
	r = 0;
out:
	free(pem1);
	free(pem2);
	free(chain);
	X509_free(x);
	X509_CRL_free(crl);
	keystore_key_free(key);
	keystore_key_free(root_key);
	return r;
}
