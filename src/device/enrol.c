/*
 * Enrolment and the device's HTTPS requests to the center (enrol.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "device/enrol.h"
#include "lib/membuf.h"
#include "lib/util.h"

/* ---- HTTPS with a key-store key -------------------------------------- */

static void
why_set(struct pki_err *e, const char *msg)
{
	xsnprintf(e->msg, sizeof(e->msg), "%s", msg);
}

/* what the SSL_CTX and verify callbacks need; lives for one request */
struct tls_state {
	const struct enrol_http	*req;
	struct pki_trust	*trust;		/* NULL: record the chain, verify later */
	char			 host[256];	/* expected identity of the center */
	bool			 refused;	/* our verifier said no */
	struct pki_err		 why;
	X509			*server;
	STACK_OF(X509)		*server_chain;
};

static int
tls_verify_cb(X509_STORE_CTX *ctx, void *arg)
{
	struct tls_state *st = arg;
	struct pki_verify_opts vo = {
		.roles = PKI_ROLE_BIT(PKI_ROLE_CENTER),
		.identity = st->host,
	};
	STACK_OF(X509) *sent;
	X509 *leaf;

	if (st->trust != NULL) {
		if (pki_verify_x509_store_ctx(ctx, st->trust, &vo, NULL, &st->why) == 1)
			return 1;
		st->refused = true;
		return 0;
	}
	/* first contact without a root: keep what was sent, judge it after pinning */
	if ((leaf = X509_STORE_CTX_get0_cert(ctx)) == NULL) {
		why_set(&st->why, "the center sent no certificate");
		st->refused = true;
		X509_STORE_CTX_set_error(ctx, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	X509_free(st->server);
	sk_X509_pop_free(st->server_chain, X509_free);
	X509_up_ref(leaf);
	st->server = leaf;
	sent = X509_STORE_CTX_get0_untrusted(ctx);
	st->server_chain = sent != NULL ? X509_chain_up_ref(sent) : sk_X509_new_null();
	X509_STORE_CTX_set_error(ctx, X509_V_OK);
	return 1;
}

static CURLcode
tls_ctx_cb(CURL *cu, void *sslctx, void *arg)
{
	struct tls_state *st = arg;
	SSL_CTX *ctx = sslctx;
	EVP_PKEY *pk = keystore_key_evp(st->req->key);

	(void)cu;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_use_certificate(ctx, st->req->cert) != 1 || pk == NULL ||
	    SSL_CTX_use_PrivateKey(ctx, pk) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		return CURLE_SSL_CERTPROBLEM;
	SSL_CTX_set_cert_verify_callback(ctx, tls_verify_cb, st);
	return CURLE_OK;
}

static int
url_host(const char *url, char *host, size_t cap)
{
	CURLU *u = curl_url();
	char *h = NULL, *scheme = NULL;
	int r = -1;

	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    strcmp(scheme, "https") == 0 &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
		size_t n = strlen(h);

		/* an IPv6 literal is bracketed in a URL, bare in a certificate */
		if (n > 2 && h[0] == '[' && h[n - 1] == ']')
			r = xsnprintf(host, cap, "%.*s", (int)(n - 2), h + 1);
		else
			r = xsnprintf(host, cap, "%s", h);
	}
	curl_free(h);
	curl_free(scheme);
	curl_url_cleanup(u);
	return r == -1 ? -1 : 0;
}

static int
xfer_cancel(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	const atomic_bool *cancel = arg;

	return atomic_load(cancel) ? 1 : 0;
}

int
enrol_request(const struct enrol_http *req, struct enrol_answer *ans, char *err,
    size_t errlen)
{
	struct tls_state st;
	struct membuf b = { NULL, 0, ENROL_ANSWER_MAX, false };
	struct curl_slist *hdr = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *cu = NULL;
	CURLcode rc;
	int r = -1;

	memset(ans, 0, sizeof(*ans));
	memset(&st, 0, sizeof(st));
	st.req = req;
	if (url_host(req->url, st.host, sizeof(st.host)) == -1) {
		xsnprintf(err, errlen, "\"%.200s\" is not an https:// URL", req->url);
		return -1;
	}
	if (req->root != NULL && (st.trust = pki_trust_new(req->root, &st.why)) == NULL) {
		xsnprintf(err, errlen, "the root certificate cannot be a trust anchor: %s",
		    st.why.msg);
		return -1;
	}
	if (req->handle != NULL) {
		/* the caller's handle: options afresh, its connection kept */
		cu = req->handle;
		curl_easy_reset(cu);
	} else if ((cu = curl_easy_init()) == NULL) {
		xsnprintf(err, errlen, "cannot initialise libcurl");
		goto out;
	}
	curl_easy_setopt(cu, CURLOPT_URL, req->url);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(cu, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	/* no CA bundle: the callback verifies with our PKI, never the system's */
	curl_easy_setopt(cu, CURLOPT_CAINFO, NULL);
	curl_easy_setopt(cu, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(cu, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(cu, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(cu, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	curl_easy_setopt(cu, CURLOPT_SSL_CTX_FUNCTION, tls_ctx_cb);
	curl_easy_setopt(cu, CURLOPT_SSL_CTX_DATA, &st);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, membuf_write);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT, req->timeout_s > 0 ? req->timeout_s :
	    (long)ENROL_TIMEOUT_S);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	if (req->cancel != NULL) {
		curl_easy_setopt(cu, CURLOPT_XFERINFOFUNCTION, xfer_cancel);
		curl_easy_setopt(cu, CURLOPT_XFERINFODATA, (void *)req->cancel);
		curl_easy_setopt(cu, CURLOPT_NOPROGRESS, 0L);
	}
	hdr = curl_slist_append(hdr, "Accept: application/json");
	if (req->body != NULL) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(cu, CURLOPT_POSTFIELDS, req->body);
	}
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdr);
	rc = curl_easy_perform(cu);
	if (rc != CURLE_OK) {
		ans->untrusted = st.refused;
		if (rc == CURLE_ABORTED_BY_CALLBACK)
			xsnprintf(err, errlen, "the request to %s was cancelled", req->url);
		else if (st.refused)
			xsnprintf(err, errlen, "the center at %s is not trusted: %s", req->url,
			    st.why.msg);
		else if (b.over)
			xsnprintf(err, errlen, "the answer of %s is larger than %d bytes",
			    req->url, ENROL_ANSWER_MAX);
		else
			xsnprintf(err, errlen, "cannot reach the center at %s: %s", req->url,
			    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &ans->status);
	ans->body = b.p != NULL ? b.p : xstrdup("");
	ans->len = b.len;
	b.p = NULL;
	ans->server = st.server;
	ans->server_chain = st.server_chain;
	st.server = NULL;
	st.server_chain = NULL;
	r = 0;
out:
	free(b.p);
	X509_free(st.server);
	sk_X509_pop_free(st.server_chain, X509_free);
	pki_trust_free(st.trust);
	if (req->handle == NULL)
		curl_easy_cleanup(cu);
	else if (cu != NULL)
		curl_easy_reset(cu);	/* nothing left pointing at this frame */
	curl_slist_free_all(hdr);
	return r;
}

void
enrol_answer_free(struct enrol_answer *a)
{
	free(a->body);
	X509_free(a->server);
	sk_X509_pop_free(a->server_chain, X509_free);
	memset(a, 0, sizeof(*a));
}

/* the center's {"error": "…"} verbatim, or the status and the start of the body */
static void
answer_error(const struct enrol_answer *a, const char *what, char *err, size_t errlen)
{
	json_t *j = json_loads(a->body, 0, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));

	if (e != NULL)
		xsnprintf(err, errlen, "the center refused %s: %s (HTTP %ld)", what, e,
		    a->status);
	else
		xsnprintf(err, errlen, "the center refused %s: HTTP %ld %.200s", what,
		    a->status, a->body);
	json_decref(j);
}

static int
base_url(const char *center, const char *path, char *out, size_t cap)
{
	size_t n = strlen(center);

	while (n > 0 && center[n - 1] == '/')
		n--;
	return xsnprintf(out, cap, "%.*s%s", (int)n, center, path);
}

int
enrol_get(const char *ks_uri, const char *label, const char *center_url, const char *path,
    char **body, long *status, char *err, size_t errlen)
{
	struct keystore *ks = NULL;
	struct keystore_key *key = NULL;
	struct enrol_answer ans = { 0 };
	struct pki_err perr = { "" };
	X509 *cert = NULL, *root = NULL;
	char url[1024];
	int r = -1;

	*body = NULL;
	if (base_url(center_url, path, url, sizeof(url)) == -1) {
		xsnprintf(err, errlen, "URL too long");
		return -1;
	}
	if (keystore_open(ks_uri, 0, &ks, &perr) == -1 ||
	    keystore_key_load(ks, label, &key, &perr) == -1 ||
	    keystore_cert_load(ks, label, &cert, &perr) == -1 ||
	    keystore_cert_load(ks, PKI_LABEL_ROOT, &root, &perr) == -1) {
		xsnprintf(err, errlen, "key store %s: %s", ks_uri, perr.msg);
		goto out;
	}
	{
		const struct enrol_http req = { .url = url, .method = "GET", .key = key,
		    .cert = cert, .root = root };

		if (enrol_request(&req, &ans, err, errlen) == -1)
			goto out;
	}
	if (status != NULL)
		*status = ans.status;
	if (ans.status != 200) {
		answer_error(&ans, path, err, errlen);
		goto out;
	}
	*body = ans.body;
	ans.body = NULL;
	r = 0;
out:
	enrol_answer_free(&ans);
	X509_free(cert);
	X509_free(root);
	keystore_key_free(key);
	keystore_close(ks);
	return r;
}

/* ---- enrolment ------------------------------------------------------- */

/* the directory of a file key store URI (the forms keystore_open accepts): where
 * the CRL goes by default */
int
enrol_ks_dir(const char *uri, char *out, size_t cap)
{
	const char *loc = uri;

	if (strncmp(uri, "file:", 5) == 0) {
		loc = uri + 5;
		if (strncmp(loc, "//", 2) == 0)
			loc += 2;
	} else if (strchr(uri, ':') != NULL && uri[0] != '/' && uri[0] != '.') {
		return -1;	/* another scheme */
	}
	return loc[0] == '\0' ? -1 : xsnprintf(out, cap, "%s", loc);
}

/* the parts of a 201 answer, parsed and checked for type only */
struct answer {
	X509		*cert;
	X509		*root;
	STACK_OF(X509)	*chain;
	X509_CRL	*crl;		/* may be NULL */
	json_t		*j;
};

static void
answer_free(struct answer *a)
{
	X509_free(a->cert);
	X509_free(a->root);
	sk_X509_pop_free(a->chain, X509_free);
	X509_CRL_free(a->crl);
	json_decref(a->j);
}

static int
pem_cert(const json_t *v, X509 **out, struct pki_err *perr)
{
	const char *s = json_string_value(v);

	if (s == NULL) {
		why_set(perr, "a certificate is missing");
		return -1;
	}
	return pki_cert_parse((const uint8_t *)s, strlen(s), out, perr);
}

static int
answer_parse(const char *body, struct answer *a, char *err, size_t errlen)
{
	struct pki_err perr = { "" };
	json_t *v;
	size_t i;

	memset(a, 0, sizeof(*a));
	if ((a->j = json_loads(body, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    !json_is_object(a->j) || !json_is_array(json_object_get(a->j, "chain")) ||
	    !json_is_string(json_object_get(a->j, "serial"))) {
		xsnprintf(err, errlen, "the center's answer is not an enrolment answer");
		return -1;
	}
	if (pem_cert(json_object_get(a->j, "root"), &a->root, &perr) == -1 ||
	    pem_cert(json_object_get(a->j, "certificate"), &a->cert, &perr) == -1)
		goto fail;
	a->chain = sk_X509_new_null();
	json_array_foreach(json_object_get(a->j, "chain"), i, v) {
		X509 *x;

		if (pem_cert(v, &x, &perr) == -1)
			goto fail;
		sk_X509_push(a->chain, x);
	}
	if ((v = json_object_get(a->j, "crl")) != NULL && json_is_string(v) &&
	    pki_crl_parse((const uint8_t *)json_string_value(v), strlen(json_string_value(v)),
	    &a->crl, &perr) == -1)
		goto fail;
	return 0;
fail:
	xsnprintf(err, errlen, "the center's answer holds a bad certificate or CRL: %s",
	    perr.msg);
	return -1;
}

/*
 * Believe nothing in the answer before this passes: the root matches the pin,
 * the center's TLS certificate (when not verified in the handshake) chains to
 * it, and the service certificate is a tier-2 certificate for our id and for
 * the key we just made, under a service CA of that root, not on the CRL.
 */
static int
answer_verify(const struct enrol_opts *o, const struct enrol_answer *ans,
    const char *host, struct answer *a, struct keystore_key *key, const char *id,
    X509 **service_ca, char *err, size_t errlen)
{
	struct pki_verify_opts vo = { .roles = PKI_ROLE_BIT(PKI_ROLE_SERVICE), .identity = id };
	struct pki_err perr = { "" };
	struct pki_trust *t = NULL;
	EVP_PKEY *pub = NULL;
	int r = -1;

	*service_ca = NULL;
	if (pki_pin_check(a->root, o->pin, &perr) == -1) {
		xsnprintf(err, errlen, "refused: the center's %s; nothing was installed",
		    perr.msg);
		return -1;
	}
	if ((t = pki_trust_new(a->root, &perr)) == NULL)
		goto fail;
	if (ans->server != NULL) {
		struct pki_verify_opts so = { .roles = PKI_ROLE_BIT(PKI_ROLE_CENTER),
		    .identity = host, .chain = ans->server_chain };

		if (pki_verify(t, ans->server, &so, NULL, &perr) == -1) {
			xsnprintf(err, errlen, "refused: the center's TLS certificate does not "
			    "verify against the pinned root: %s", perr.msg);
			goto out;
		}
	}
	for (int i = 0; i < sk_X509_num(a->chain); i++) {
		X509 *ca = sk_X509_value(a->chain, i);

		if (pki_trust_add_ca(t, ca, &perr) == -1)
			goto fail;
		if (pki_cert_role(ca) == PKI_ROLE_SERVICE_CA)
			*service_ca = ca;
	}
	if (*service_ca == NULL) {
		why_set(&perr, "the answer carries no service CA");
		goto fail;
	}
	if (a->crl != NULL && pki_trust_add_crl(t, a->crl, &perr) == -1)
		goto fail;
	if (pki_verify(t, a->cert, &vo, NULL, &perr) == -1)
		goto fail;
	pub = keystore_key_public(key);
	if (pub == NULL || EVP_PKEY_eq(pub, X509_get0_pubkey(a->cert)) != 1) {
		why_set(&perr, "the service certificate is not for the key we sent");
		goto fail;
	}
	r = 0;
	goto out;
fail:
	xsnprintf(err, errlen, "refused the center's answer: %s; nothing was installed",
	    perr.msg);
out:
	EVP_PKEY_free(pub);
	pki_trust_free(t);
	return r;
}

int
enrol_run(const struct enrol_opts *o, struct enrol_result *res, char *err, size_t errlen)
{
	struct keystore *ks = NULL;
	struct keystore_key *dkey = NULL, *skey = NULL;
	struct enrol_answer ans = { 0 };
	struct answer a = { 0 };
	struct pki_err perr = { "" };
	X509 *dcert = NULL, *root = NULL, *service_ca;
	X509_REQ *csr = NULL;
	EVP_PKEY *dpub = NULL;
	uint8_t pin[PKI_FP_LEN];
	char dir[ENROL_PATH_MAX], url[1024], host[256], *csr_pem = NULL, *body = NULL;
	const char *what = o->renew ? "the renewal" : "the enrolment";
	bool staged = false;
	size_t csr_len;
	int r = -1;

	memset(res, 0, sizeof(*res));
	res->failure = ENROL_FAIL_LOCAL;
	if (o->center == NULL || url_host(o->center, host, sizeof(host)) == -1 ||
	    base_url(o->center, o->renew ? "/v1/renew" : "/v1/enroll", url, sizeof(url)) ==
	    -1) {
		xsnprintf(err, errlen, "--center must be an https:// URL");
		return -1;
	}
	if (o->pin == NULL || pki_pin_parse(o->pin, pin, &perr) == -1) {
		xsnprintf(err, errlen, "--pin: %s", o->pin == NULL ? "required" : perr.msg);
		return -1;
	}
	OPENSSL_cleanse(pin, sizeof(pin));
	/* the key store's directory, when it is a file store (the staging
	 * certificate is removed from there on failure) */
	if (enrol_ks_dir(o->keystore, dir, sizeof(dir)) == -1)
		dir[0] = '\0';
	if (o->crl_path != NULL)
		xsnprintf(res->crl_path, sizeof(res->crl_path), "%s", o->crl_path);
	else if (enrol_ks_dir(o->keystore, dir, sizeof(dir)) == -1) {
		xsnprintf(err, errlen, "key store %s is not a directory: name a CRL file "
		    "with --crl", o->keystore);
		return -1;
	} else if (xsnprintf(res->crl_path, sizeof(res->crl_path), "%s/%s", dir,
	    ENROL_CRL_FILE) == -1) {
		xsnprintf(err, errlen, "key store path too long");
		return -1;
	}

	/* the tier-1 identity */
	if (keystore_open(o->keystore, 0, &ks, &perr) == -1 ||
	    keystore_key_load(ks, PKI_LABEL_DEVICE, &dkey, &perr) == -1 ||
	    keystore_cert_load(ks, PKI_LABEL_DEVICE, &dcert, &perr) == -1) {
		xsnprintf(err, errlen, "key store %s: %s (made by odvpn pki issue-device?)",
		    o->keystore, perr.msg);
		goto out;
	}
	if (pki_cert_role(dcert) != PKI_ROLE_DEVICE ||
	    pki_cert_cn(dcert, res->device_id, sizeof(res->device_id)) == -1) {
		xsnprintf(err, errlen, "key store %s: the certificate under \"%s\" is not a "
		    "device (tier-1) certificate", o->keystore, PKI_LABEL_DEVICE);
		goto out;
	}
	dpub = keystore_key_public(dkey);
	if (dpub == NULL || EVP_PKEY_eq(dpub, X509_get0_pubkey(dcert)) != 1) {
		xsnprintf(err, errlen, "key store %s: the device certificate is not for the "
		    "device key", o->keystore);
		goto out;
	}
	if (o->device_id != NULL && strcmp(o->device_id, res->device_id) != 0) {
		xsnprintf(err, errlen, "key store %s holds device \"%s\", not \"%s\"",
		    o->keystore, res->device_id, o->device_id);
		goto out;
	}

	/* a root already in the store must be the pinned one: checked before any change */
	if (keystore_cert_load(ks, PKI_LABEL_ROOT, &root, &perr) == 0) {
		res->root_in_store = true;
		if (pki_pin_check(root, o->pin, &perr) == -1) {
			res->failure = ENROL_FAIL_UNTRUSTED;
			xsnprintf(err, errlen, "refused: the key store's %s; nothing was "
			    "changed", perr.msg);
			goto out;
		}
	}
	if (!o->renew) {
		int have = keystore_key_exists(ks, PKI_LABEL_SERVICE, &perr);

		if (have != 0) {
			xsnprintf(err, errlen, have == 1 ? "key store %s already holds a "
			    "service key (enrolled before): use --renew to replace it" :
			    "key store %s: %s", o->keystore, perr.msg);
			goto out;
		}
	}

	/* a fresh service key, staged until its certificate is verified */
	if (keystore_key_exists(ks, ENROL_LABEL_STAGE, &perr) == 1 &&
	    keystore_key_remove(ks, ENROL_LABEL_STAGE, &perr) == -1)
		goto ks_fail;
	if (keystore_key_generate(ks, ENROL_LABEL_STAGE, keystore_key_alg(dkey), &skey,
	    &perr) == -1)
		goto ks_fail;
	staged = true;
	if (pki_csr_build(skey, res->device_id, &csr, &perr) == -1 ||
	    pki_csr_pem(csr, &csr_pem, &csr_len) == -1) {
		xsnprintf(err, errlen, "cannot build the CSR: %s", perr.msg);
		goto out;
	}
	{
		json_t *j = json_pack("{s:s}", "csr", csr_pem);

		body = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
	{
		const struct enrol_http req = { .url = url, .method = "POST", .body = body,
		    .key = dkey, .cert = dcert, .root = root, .timeout_s = o->timeout_s,
		    .cancel = o->cancel };

		if (enrol_request(&req, &ans, err, errlen) == -1) {
			res->failure = ans.untrusted ? ENROL_FAIL_UNTRUSTED :
			    ENROL_FAIL_UNREACHABLE;
			goto out;
		}
	}
	if (ans.status != 201) {
		res->failure = ans.status >= 500 ? ENROL_FAIL_UNREACHABLE : ENROL_FAIL_REFUSED;
		answer_error(&ans, what, err, errlen);
		goto out;
	}
	if (answer_parse(ans.body, &a, err, errlen) == -1 ||
	    answer_verify(o, &ans, host, &a, skey, res->device_id, &service_ca, err,
	    errlen) == -1) {
		res->failure = ENROL_FAIL_UNTRUSTED;
		goto out;
	}

	/* install: public objects first, the key and its certificate last */
	if (a.crl != NULL && pki_crl_save(res->crl_path, a.crl, &perr) == -1) {
		xsnprintf(err, errlen, "cannot write the CRL: %s", perr.msg);
		goto out;
	}
	if ((!res->root_in_store && keystore_cert_store(ks, PKI_LABEL_ROOT, a.root,
	    &perr) == -1) ||
	    keystore_cert_store(ks, PKI_LABEL_SERVICE_CA, service_ca, &perr) == -1 ||
	    keystore_cert_store(ks, ENROL_LABEL_STAGE, a.cert, &perr) == -1)
		goto ks_fail;
	if (keystore_key_rename(ks, ENROL_LABEL_STAGE, PKI_LABEL_SERVICE, &perr) == -1) {
		xsnprintf(err, errlen, "cannot put the new service key in place: %s%s",
		    perr.msg, " (run the renewal again)");
		goto out;
	}
	staged = false;
	if (a.crl == NULL)
		res->crl_path[0] = '\0';
	(void)pki_cert_serial(a.cert, res->serial);
	(void)pki_fingerprint_hex(a.root, true, res->root_fp);
	xsnprintf(res->site, sizeof(res->site), "%s", json_string_value(json_object_get(a.j,
	    "site")) != NULL ? json_string_value(json_object_get(a.j, "site")) : "");
	res->not_before = pki_cert_not_before(a.cert);
	res->not_after = pki_cert_not_after(a.cert);
	res->renew_after = json_integer_value(json_object_get(a.j, "renew_after"));
	r = 0;
	goto out;
ks_fail:
	xsnprintf(err, errlen, "key store %s: %s", o->keystore, perr.msg);
out:
	if (staged) {
		/* leave the store as it was: no half-installed service key */
		char path[ENROL_PATH_MAX + 80];

		(void)keystore_key_remove(ks, ENROL_LABEL_STAGE, NULL);
		if (dir[0] != '\0' && xsnprintf(path, sizeof(path), "%s/%s.crt.pem", dir,
		    ENROL_LABEL_STAGE) != -1)
			(void)unlink(path);
	}
	answer_free(&a);
	enrol_answer_free(&ans);
	free(body);
	free(csr_pem);
	X509_REQ_free(csr);
	EVP_PKEY_free(dpub);
	X509_free(dcert);
	X509_free(root);
	keystore_key_free(skey);
	keystore_key_free(dkey);
	keystore_close(ks);
	return r;
}
