#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "audit/audit.h"
#include "lib/util.h"

static const char audit_tag[] = "odvpn-audit-v1";	/* hashed with its NUL */

static void
hash_u64(EVP_MD_CTX *md, uint64_t v)
{
	uint8_t b[8];

	for (int i = 7; i >= 0; i--) {
		b[i] = (uint8_t)v;
		v >>= 8;
	}
	EVP_DigestUpdate(md, b, sizeof(b));
}

static void
hash_str(EVP_MD_CTX *md, const char *s)
{
	uint8_t present = s != NULL;
	uint8_t len[4];
	size_t n;

	EVP_DigestUpdate(md, &present, 1);
	if (s == NULL)
		return;
	n = strlen(s);
	len[0] = (uint8_t)(n >> 24);
	len[1] = (uint8_t)(n >> 16);
	len[2] = (uint8_t)(n >> 8);
	len[3] = (uint8_t)n;
	EVP_DigestUpdate(md, len, sizeof(len));
	EVP_DigestUpdate(md, s, n);
}

void
audit_hash(const struct audit_rec *r, uint8_t out[AUDIT_HASH_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned outlen = AUDIT_HASH_LEN;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		fprintf(stderr, "fatal: SHA-256 unavailable\n");
		abort();
	}
	EVP_DigestUpdate(md, audit_tag, sizeof(audit_tag));
	hash_u64(md, r->seq);
	hash_u64(md, (uint64_t)r->time_ms);
	hash_str(md, r->kind);
	hash_str(md, r->actor);
	hash_str(md, r->org);
	hash_str(md, r->site);
	hash_str(md, r->device);
	hash_str(md, r->detail);
	hash_u64(md, (uint64_t)r->grant);
	EVP_DigestUpdate(md, r->prev, AUDIT_HASH_LEN);
	EVP_DigestFinal_ex(md, out, &outlen);
	EVP_MD_CTX_free(md);
}

void
audit_verify_init(struct audit_verifier *v)
{
	memset(v, 0, sizeof(*v));
	v->next_seq = 1;
}

int
audit_verify_next(struct audit_verifier *v, const struct audit_rec *r,
    const uint8_t hash[AUDIT_HASH_LEN], char *err, size_t errlen)
{
	uint8_t h[AUDIT_HASH_LEN];

	if (r->seq != v->next_seq) {
		xsnprintf(err, errlen, "record %llu: expected seq %llu (missing or "
		    "reordered records)", (unsigned long long)r->seq,
		    (unsigned long long)v->next_seq);
		return -1;
	}
	if (CRYPTO_memcmp(r->prev, v->prev, AUDIT_HASH_LEN) != 0) {
		xsnprintf(err, errlen, "record %llu: link to the previous record is broken",
		    (unsigned long long)r->seq);
		return -1;
	}
	audit_hash(r, h);
	if (CRYPTO_memcmp(h, hash, AUDIT_HASH_LEN) != 0) {
		xsnprintf(err, errlen, "record %llu: hash does not match its contents "
		    "(modified)", (unsigned long long)r->seq);
		return -1;
	}
	memcpy(v->prev, h, AUDIT_HASH_LEN);
	v->next_seq++;
	v->count++;
	return 0;
}

/* ---- JSON-lines file log ---------------------------------------------- */

struct audit_log {
	int			fd;
	struct audit_verifier	v;
};

/* the canonical text of a detail object: sorted keys, compact (NULL: "{}") */
static char *
detail_canon(const char *text, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o;
	char *s;

	if (text == NULL)
		return xstrdup("{}");
	o = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(o)) {
		json_decref(o);
		xsnprintf(err, errlen, "detail is not a JSON object");
		return NULL;
	}
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (s == NULL)
		xsnprintf(err, errlen, "detail cannot be encoded");
	return s;
}

/*
 * Parse one line into r (strings borrowed from *obj, detail in *detail which the
 * caller frees) and its stored hash.
 */
static int
line_parse(const char *line, json_t **obj, struct audit_rec *r, char **detail,
    uint8_t hash[AUDIT_HASH_LEN], char *err, size_t errlen)
{
	json_error_t je;
	json_t *o, *d;
	const char *key;
	json_t *v;
	const char *prev, *h;

	*obj = NULL;
	*detail = NULL;
	o = json_loads(line, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(o)) {
		json_decref(o);
		xsnprintf(err, errlen, "not a JSON object");
		return -1;
	}
	*obj = o;
	json_object_foreach(o, key, v) {
		static const char *const known[] = { "seq", "time_ms", "kind", "actor",
		    "org", "site", "device", "grant", "detail", "prev", "hash" };
		size_t i;

		for (i = 0; i < nitems(known); i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (i == nitems(known)) {
			xsnprintf(err, errlen, "unknown field \"%.32s\"", key);
			return -1;
		}
	}
	memset(r, 0, sizeof(*r));
	if (!json_is_integer(json_object_get(o, "seq")) ||
	    !json_is_integer(json_object_get(o, "time_ms")) ||
	    !json_is_string(json_object_get(o, "kind")) ||
	    !json_is_string(json_object_get(o, "actor")) ||
	    !json_is_object(json_object_get(o, "detail")) ||
	    !json_is_string(json_object_get(o, "prev")) ||
	    !json_is_string(json_object_get(o, "hash"))) {
		xsnprintf(err, errlen, "missing or mistyped field");
		return -1;
	}
	r->seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
	r->time_ms = json_integer_value(json_object_get(o, "time_ms"));
	r->kind = json_string_value(json_object_get(o, "kind"));
	r->actor = json_string_value(json_object_get(o, "actor"));
	r->org = json_string_value(json_object_get(o, "org"));
	r->site = json_string_value(json_object_get(o, "site"));
	r->device = json_string_value(json_object_get(o, "device"));
	r->grant = json_integer_value(json_object_get(o, "grant"));
	d = json_object_get(o, "detail");
	*detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	r->detail = *detail;
	prev = json_string_value(json_object_get(o, "prev"));
	h = json_string_value(json_object_get(o, "hash"));
	if (hex_decode(prev, r->prev, AUDIT_HASH_LEN) != AUDIT_HASH_LEN ||
	    hex_decode(h, hash, AUDIT_HASH_LEN) != AUDIT_HASH_LEN) {
		xsnprintf(err, errlen, "bad hash encoding");
		return -1;
	}
	return 0;
}

/* read path line by line through the verifier; -1 and err on the first bad line */
static int
log_scan(const char *path, struct audit_verifier *v, bool missing_ok, char *err,
    size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;
	int rc = 0;

	audit_verify_init(v);
	if (f == NULL) {
		if (errno == ENOENT && missing_ok)
			return 0;
		xsnprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) != -1) {
		struct audit_rec r;
		uint8_t hash[AUDIT_HASH_LEN];
		json_t *obj;
		char *detail;
		char why[160];

		lineno++;
		if (n > AUDIT_LINE_MAX) {
			xsnprintf(err, errlen, "%s:%lu: line too long", path, lineno);
			rc = -1;
			break;
		}
		if (n > 0 && line[n - 1] != '\n') {
			xsnprintf(err, errlen, "%s:%lu: truncated last line", path, lineno);
			rc = -1;
			break;
		}
		if (line_parse(line, &obj, &r, &detail, hash, why, sizeof(why)) == -1 ||
		    audit_verify_next(v, &r, hash, why, sizeof(why)) == -1) {
			xsnprintf(err, errlen, "%s:%lu: %s", path, lineno, why);
			rc = -1;
		}
		free(detail);
		json_decref(obj);
		if (rc == -1)
			break;
	}
	free(line);
	fclose(f);
	return rc;
}

struct audit_log *
audit_log_open(const char *path, char *err, size_t errlen)
{
	struct audit_log *l = xcalloc(1, sizeof(*l));

	if (log_scan(path, &l->v, true, err, errlen) == -1) {
		free(l);
		return NULL;
	}
	l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (l->fd == -1) {
		xsnprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(l);
		return NULL;
	}
	return l;
}

void
audit_log_close(struct audit_log *l)
{
	if (l == NULL)
		return;
	close(l->fd);
	free(l);
}

uint64_t
audit_log_count(const struct audit_log *l)
{
	return l->v.count;
}

int
audit_log_append(struct audit_log *l, struct audit_rec *r,
    uint8_t hash_out[AUDIT_HASH_LEN], char *err, size_t errlen)
{
	char prevhex[AUDIT_HASH_HEX], hashhex[AUDIT_HASH_HEX];
	uint8_t hash[AUDIT_HASH_LEN];
	const char *saved_detail = r->detail;
	char *detail, *text = NULL;
	json_t *o = NULL, *d;
	size_t len;
	int rc = -1;

	if (r->kind == NULL || r->actor == NULL) {
		xsnprintf(err, errlen, "record needs a kind and an actor");
		return -1;
	}
	if ((detail = detail_canon(r->detail, err, errlen)) == NULL)
		return -1;
	r->seq = l->v.next_seq;
	memcpy(r->prev, l->v.prev, AUDIT_HASH_LEN);
	r->detail = detail;
	audit_hash(r, hash);
	hex_encode(r->prev, AUDIT_HASH_LEN, prevhex);
	hex_encode(hash, AUDIT_HASH_LEN, hashhex);

	d = json_loads(detail, 0, NULL);
	o = json_pack("{s:I,s:I,s:s,s:s,s:o,s:s,s:s}", "seq", (json_int_t)r->seq,
	    "time_ms", (json_int_t)r->time_ms, "kind", r->kind, "actor", r->actor,
	    "detail", d, "prev", prevhex, "hash", hashhex);
	if (o == NULL) {
		xsnprintf(err, errlen, "record cannot be encoded");
		goto out;
	}
	if (r->org != NULL)
		json_object_set_new(o, "org", json_string(r->org));
	if (r->site != NULL)
		json_object_set_new(o, "site", json_string(r->site));
	if (r->device != NULL)
		json_object_set_new(o, "device", json_string(r->device));
	if (r->grant != 0)
		json_object_set_new(o, "grant", json_integer(r->grant));
	text = json_dumps(o, JSON_COMPACT);
	if (text == NULL) {
		xsnprintf(err, errlen, "record cannot be encoded");
		goto out;
	}
	len = strlen(text);
	if (len + 1 > AUDIT_LINE_MAX) {
		xsnprintf(err, errlen, "record longer than %d bytes", AUDIT_LINE_MAX);
		goto out;
	}
	text[len] = '\n';	/* json_dumps leaves room only for NUL: reuse it */
	if (write(l->fd, text, len + 1) != (ssize_t)(len + 1) || fsync(l->fd) == -1) {
		xsnprintf(err, errlen, "write: %s", strerror(errno));
		goto out;
	}
	memcpy(l->v.prev, hash, AUDIT_HASH_LEN);
	l->v.next_seq++;
	l->v.count++;
	if (hash_out != NULL)
		memcpy(hash_out, hash, AUDIT_HASH_LEN);
	rc = 0;
out:
	r->detail = saved_detail;
	free(text);
	free(detail);
	json_decref(o);
	return rc;
}

int
audit_log_verify(const char *path, uint64_t *count, char *err, size_t errlen)
{
	struct audit_verifier v;
	int rc = log_scan(path, &v, false, err, errlen);

	if (count != NULL)
		*count = v.count;
	return rc;
}
