/*
 * The center's audit trail: the audit table as one hash chain (src/audit/).
 * Records are appended inside the transaction of the change they describe, so a
 * change and its record commit or vanish together; the table's triggers refuse
 * UPDATE and DELETE.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "center/center_int.h"
#include "lib/util.h"

int
caudit(struct center *c, const struct cev *ev)
{
	struct audit_rec r;
	uint8_t hash[AUDIT_HASH_LEN];
	char prevhex[AUDIT_HASH_HEX], hashhex[AUDIT_HASH_HEX];
	json_t *last = NULL, *empty = NULL;
	char *detail;
	int rc = -1;

	if (!store_in_tx(c->st)) {
		log_error("audit: record %s outside a transaction", ev->kind);
		return -1;
	}
	memset(&r, 0, sizeof(r));
	if (store_q1(c->st, &last, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
	    "") != STORE_OK)
		return -1;
	if (last != NULL) {
		r.seq = (uint64_t)json_integer_value(json_object_get(last, "seq")) + 1;
		if (hex_decode(jsonx_str(last, "hash"), r.prev, sizeof(r.prev)) !=
		    AUDIT_HASH_LEN) {
			log_error("audit: stored hash of record %llu is malformed",
			    (unsigned long long)r.seq - 1);
			json_decref(last);
			return -1;
		}
	} else
		r.seq = 1;
	json_decref(last);
	if (ev->detail == NULL)
		empty = json_object();
	detail = json_dumps(ev->detail != NULL ? ev->detail : empty,
	    JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(empty);
	if (detail == NULL)
		return -1;
	r.time_ms = c->clock != NULL ? c->clock() * 1000 : (int64_t)now_wall_s() * 1000;
	if (c->clock == NULL) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		r.time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	r.kind = ev->kind;
	r.actor = ev->actor;
	r.org = ev->org;
	r.site = ev->site;
	r.device = ev->device;
	r.grant = ev->grant;
	r.detail = detail;
	audit_hash(&r, hash);
	hex_encode(r.prev, AUDIT_HASH_LEN, prevhex);
	hex_encode(hash, AUDIT_HASH_LEN, hashhex);
	if (store_q(c->st, NULL, NULL, "INSERT INTO audit (seq, time_ms, kind, actor, org, "
	    "site, device, grant_id, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?)", "iisssssisss", (int64_t)r.seq, r.time_ms, r.kind, r.actor, r.org,
	    r.site, r.device, r.grant, detail, prevhex, hashhex) == STORE_OK)
		rc = 0;
	free(detail);
	return rc;
}

int
caudit_pack(struct center *c, const char *kind, const char *actor, const char *org,
    const char *site, const char *device, int64_t grant, const char *fmt, ...)
{
	struct cev ev = { kind, actor, org, site, device, grant, NULL };
	json_error_t je;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	ev.detail = json_vpack_ex(&je, 0, fmt, ap);
	va_end(ap);
	if (ev.detail == NULL) {
		log_error("audit: %s: cannot build detail: %s", kind, je.text);
		return -1;
	}
	rc = caudit(c, &ev);
	json_decref(ev.detail);
	return rc;
}

static json_t *
audit_out(const json_t *r)
{
	const char *d = jsonx_str(r, "detail");
	json_t *detail = d != NULL ? json_loads(d, 0, NULL) : NULL;
	json_t *o = json_pack("{s:O,s:O,s:O,s:O,s:o,s:O,s:O}",
	    "seq", json_object_get(r, "seq"), "time_ms", json_object_get(r, "time_ms"),
	    "kind", json_object_get(r, "kind"), "actor", json_object_get(r, "actor"),
	    "detail", detail != NULL ? detail : json_null(),
	    "prev", json_object_get(r, "prev_hash"), "hash", json_object_get(r, "hash"));

	if (!json_is_null(json_object_get(r, "org")))
		json_object_set(o, "org", json_object_get(r, "org"));
	if (!json_is_null(json_object_get(r, "site")))
		json_object_set(o, "site", json_object_get(r, "site"));
	if (!json_is_null(json_object_get(r, "device")))
		json_object_set(o, "device", json_object_get(r, "device"));
	if (json_integer_value(json_object_get(r, "grant_id")) != 0)
		json_object_set(o, "grant", json_object_get(r, "grant_id"));
	return o;
}

/*
 * GET /v1/admin/audit?since=&until=&site=&device=&kind=&after=&limit=
 * since/until: Unix seconds (until exclusive); kind: exact, or a prefix ending
 * in '.' or '*' ("grant." matches grant.issued, grant.withdrawn, …); after: only
 * records with a larger seq (paging).
 */
void
h_audit_list(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	const char *site = req_query(req, "site"), *device = req_query(req, "device");
	const char *kind = req_query(req, "kind");
	long long since, until, after, limit;
	char kindpat[2 * AUDIT_KIND_MAX + 2];	/* every '_' escaped, and '%' */
	json_t *rows, *out, *r;
	size_t i;

	if (req_query_int(req, resp, "since", 0, INT64_MAX / 1000, 0, &since) == -1 ||
	    req_query_int(req, resp, "until", 0, INT64_MAX / 1000, INT64_MAX / 1000,
	    &until) == -1 ||
	    req_query_int(req, resp, "after", 0, INT64_MAX, 0, &after) == -1 ||
	    req_query_int(req, resp, "limit", 1, 10000, 1000, &limit) == -1)
		return;
	if (kind != NULL) {
		size_t n = strlen(kind), k = 0;

		if (n == 0 || n > AUDIT_KIND_MAX || strpbrk(kind, "%\\") != NULL) {
			resp_error(resp, 400, "query parameter \"kind\" must be a record kind "
			    "or a prefix ending in '.' or '*'");
			return;
		}
		/* a LIKE pattern: '_' (in kinds such as device.sa_up) is escaped */
		for (size_t j = 0; j < n; j++) {
			if (kind[j] == '_')
				kindpat[k++] = '\\';
			kindpat[k++] = kind[j] == '*' && j == n - 1 ? '%' : kind[j];
		}
		if (kind[n - 1] == '.')
			kindpat[k++] = '%';
		kindpat[k] = '\0';
	}
	if (store_q(c->st, &rows, NULL, "SELECT * FROM audit WHERE time_ms >= ? AND "
	    "time_ms < ? AND seq > ? AND (? IS NULL OR site = ?) AND (? IS NULL OR "
	    "device = ?) AND (? IS NULL OR kind LIKE ? ESCAPE '\\') ORDER BY seq LIMIT ?",
	    "iiissssssi", (int64_t)since * 1000, (int64_t)until * 1000, (int64_t)after,
	    site, site, device, device, kind != NULL ? kindpat : NULL,
	    kind != NULL ? kindpat : NULL, (int64_t)limit) != STORE_OK) {
		resp_store(c, resp);
		return;
	}
	out = json_array();
	json_array_foreach(rows, i, r)
		json_array_append_new(out, audit_out(r));
	json_decref(rows);
	resp_json(resp, 200, json_pack("{s:o}", "events", out));
}

/* walk the whole chain in pages; 0 ok, -1 broken (err), -2 store error */
static int
audit_verify_all(struct center *c, uint64_t *count, char head[AUDIT_HASH_HEX],
    char *err, size_t errlen)
{
	struct audit_verifier v;
	int64_t after = 0;

	audit_verify_init(&v);
	head[0] = '\0';
	for (;;) {
		json_t *rows, *r;
		size_t i;

		if (store_q(c->st, &rows, NULL, "SELECT * FROM audit WHERE seq > ? ORDER BY "
		    "seq LIMIT 1000", "i", after) != STORE_OK)
			return -2;
		if (json_array_size(rows) == 0) {
			json_decref(rows);
			break;
		}
		json_array_foreach(rows, i, r) {
			struct audit_rec a;
			uint8_t h[AUDIT_HASH_LEN];

			memset(&a, 0, sizeof(a));
			a.seq = (uint64_t)json_integer_value(json_object_get(r, "seq"));
			a.time_ms = json_integer_value(json_object_get(r, "time_ms"));
			a.kind = jsonx_str(r, "kind");
			a.actor = jsonx_str(r, "actor");
			a.org = jsonx_str(r, "org");
			a.site = jsonx_str(r, "site");
			a.device = jsonx_str(r, "device");
			a.grant = json_integer_value(json_object_get(r, "grant_id"));
			a.detail = jsonx_str(r, "detail");
			if (hex_decode(jsonx_str(r, "prev_hash"), a.prev, sizeof(a.prev)) !=
			    AUDIT_HASH_LEN || hex_decode(jsonx_str(r, "hash"), h,
			    sizeof(h)) != AUDIT_HASH_LEN) {
				xsnprintf(err, errlen, "record %llu: malformed hash",
				    (unsigned long long)a.seq);
				json_decref(rows);
				*count = v.count;
				return -1;
			}
			if (audit_verify_next(&v, &a, h, err, errlen) == -1) {
				json_decref(rows);
				*count = v.count;
				return -1;
			}
			after = (int64_t)a.seq;
			xsnprintf(head, AUDIT_HASH_HEX, "%s", jsonx_str(r, "hash"));
		}
		json_decref(rows);
	}
	*count = v.count;
	return 0;
}

void
h_audit_verify(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	char err[ERRMSG_MAX] = "", head[AUDIT_HASH_HEX];
	uint64_t count = 0;
	int rc = audit_verify_all(c, &count, head, err, sizeof(err));

	if (rc == -2) {
		resp_store(c, resp);
		return;
	}
	if (rc == 0)
		resp_json(resp, 200, json_pack("{s:b,s:I,s:s}", "ok", 1, "records",
		    (json_int_t)count, "head", head));
	else
		resp_json(resp, 200, json_pack("{s:b,s:I,s:s}", "ok", 0, "records",
		    (json_int_t)count, "error", err));
}
