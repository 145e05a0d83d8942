/*
 * The device configuration document (docs/API.md "Configuration document") and
 * its version. The document is computed from the store on demand; its version
 * is a per-device counter that moves only when the content changes: the SHA-256
 * of the canonical text (sorted keys, compact) is kept beside the counter. So a
 * device's long-poll wakes exactly when something it can see has changed, and a
 * restart neither loses nor repeats versions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "center/center_int.h"
#include "lib/util.h"

static json_t *
json_col(const json_t *row, const char *key)
{
	const char *s = jsonx_str(row, key);
	json_t *v = s != NULL ? json_loads(s, 0, NULL) : NULL;

	return v != NULL ? v : json_array();
}

static json_t *
endpoint(const json_t *site)
{
	if (jsonx_str(site, "wan") == NULL)
		return json_null();
	return json_pack("{s:O,s:O}", "address", json_object_get(site, "wan"),
	    "port", json_object_get(site, "wan_port"));
}

static void
add_unique(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return;
	json_array_append_new(arr, json_string(s));
}

/* one grant as the device at `site` sees it */
static json_t *
grant_view(struct center *c, const json_t *g, const char *site, const json_t *own_lan)
{
	bool init = strcmp(jsonx_str(g, "initiator"), site) == 0;
	const char *peer = init ? jsonx_str(g, "responder") : jsonx_str(g, "initiator");
	const char *pdev = init ? jsonx_str(g, "responder_device") :
	    jsonx_str(g, "initiator_device");
	json_t *flows = json_col(g, "flows"), *crypto = json_col(g, "crypto");
	json_t *rules = json_array(), *lts = json_array(), *rts = json_array(), *f;
	json_t *psite = row_get(c, "sites", "name", peer), *o;
	size_t i;

	json_array_foreach(flows, i, f) {
		bool mine = (strcmp(jsonx_str(f, "from"), "initiator") == 0) == init;
		const char *local = mine ? jsonx_str(f, "src") : jsonx_str(f, "dst");
		const char *remote = mine ? jsonx_str(f, "dst") : jsonx_str(f, "src");

		/* dir: who opens the flow, from this device's point of view; the
		 * replies of an allowed flow are allowed (dataplane.h) */
		json_array_append_new(rules, json_pack("{s:s,s:s,s:s,s:O,s:O,s:O}",
		    "dir", mine ? "out" : "in", "local", local, "remote", remote,
		    "proto", json_object_get(f, "proto"),
		    "port_lo", json_object_get(f, "port_lo"),
		    "port_hi", json_object_get(f, "port_hi")));
		add_unique(lts, local);
		add_unique(rts, remote);
	}
	/* IKE carries at most 8 selectors per side here (CHILD_SA_MAX_TS): fall back
	 * to the sites' whole prefixes, which the rules still narrow */
	if (json_array_size(lts) > POL_MAX_PREFIXES) {
		json_decref(lts);
		lts = json_deep_copy(own_lan);
	}
	if (json_array_size(rts) > POL_MAX_PREFIXES) {
		json_decref(rts);
		rts = psite != NULL ? json_col(psite, "prefixes") : json_array();
	}
	o = json_pack("{s:O,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:O,s:O}",
	    "id", json_object_get(g, "id"), "role", init ? "initiator" : "responder",
	    "peer_site", peer, "peer_device", pdev, "peer_ike_id", pdev,
	    "peer_endpoint", psite != NULL ? endpoint(psite) : json_null(),
	    "local_ts", lts, "remote_ts", rts, "rules", rules, "crypto", crypto,
	    "not_before", json_object_get(g, "not_before"),
	    "not_after", json_object_get(g, "not_after"));
	json_decref(psite);
	json_decref(flows);
	return o;
}

json_t *
confdoc_build(struct center *c, const char *device)
{
	json_t *dev = NULL, *site = NULL, *org = NULL, *peers = NULL, *pg = NULL;
	json_t *grants = NULL, *revs = NULL, *doc = NULL, *plist, *glist, *slist, *r;
	json_t *lan = NULL;
	const char *sname;
	char *crl;
	bool active;
	size_t i;

	if ((dev = row_get(c, "devices", "id", device)) == NULL)
		return NULL;
	sname = jsonx_str(dev, "site");
	if ((site = row_get(c, "sites", "name", sname)) == NULL ||
	    (org = row_get(c, "orgs", "name", jsonx_str(site, "org"))) == NULL)
		goto out;
	active = strcmp(jsonx_str(site, "status"), "active") == 0 &&
	    strcmp(jsonx_str(org, "status"), "active") == 0;
	lan = json_col(site, "prefixes");

	/* the directory: active sites sharing a group, with their device */
	if (store_q(c->st, &peers, NULL, "SELECT DISTINCT s.name, s.org, s.prefixes, s.wan, "
	    "s.wan_port, (SELECT d.id FROM devices d WHERE d.site = s.name AND d.status != "
	    "'revoked' ORDER BY d.id LIMIT 1) AS device FROM group_members a JOIN "
	    "group_members b ON a.grp = b.grp JOIN sites s ON s.name = b.site JOIN orgs o ON "
	    "o.name = s.org WHERE a.site = ? AND b.site != ? AND s.status = 'active' AND "
	    "o.status = 'active' ORDER BY s.name", "ss", sname, sname) != STORE_OK ||
	    store_q(c->st, &pg, NULL, "SELECT b.site AS site, a.grp AS grp FROM group_members "
	    "a JOIN group_members b ON a.grp = b.grp WHERE a.site = ? AND b.site != ? ORDER BY "
	    "b.site, a.grp", "ss", sname, sname) != STORE_OK ||
	    store_q(c->st, &grants, NULL, "SELECT * FROM grants WHERE status = 'active' AND "
	    "not_after > ? AND ((initiator = ? AND initiator_device = ?) OR (responder = ? AND "
	    "responder_device = ?)) ORDER BY id", "issss", center_now(c), sname, device, sname,
	    device) != STORE_OK ||
	    store_q(c->st, &revs, NULL, "SELECT serial FROM revocations ORDER BY serial", "") !=
	    STORE_OK)
		goto out;

	plist = json_array();
	if (active) {
		json_array_foreach(peers, i, r) {
			json_t *groups = json_array(), *x;
			size_t j;

			json_array_foreach(pg, j, x)
				if (strcmp(jsonx_str(x, "site"), jsonx_str(r, "name")) == 0)
					json_array_append(groups, json_object_get(x, "grp"));
			json_array_append_new(plist, json_pack("{s:O,s:O,s:O,s:O,s:o,s:o,s:o}",
			    "site", json_object_get(r, "name"), "org", json_object_get(r, "org"),
			    "device", json_object_get(r, "device"),
			    "ike_id", json_object_get(r, "device"),
			    "endpoint", endpoint(r), "prefixes", json_col(r, "prefixes"),
			    "groups", groups));
		}
	}
	glist = json_array();
	if (active)
		json_array_foreach(grants, i, r)
			json_array_append_new(glist, grant_view(c, r, sname, lan));
	slist = json_array();
	json_array_foreach(revs, i, r)
		json_array_append(slist, json_object_get(r, "serial"));
	crl = crl_current(c, NULL);
	doc = json_pack("{s:{s:s,s:s,s:O},s:{s:s,s:O,s:O,s:o,s:o,s:s},s:o,s:o,s:o,s:o,s:o}",
	    "device", "id", device, "ike_id", device, "status", json_object_get(dev, "status"),
	    "site", "name", sname, "org", json_object_get(site, "org"),
	    "prefixes", lan, "zones", json_col(site, "zones"), "endpoint", endpoint(site),
	    "status", active ? "active" : "suspended",
	    "peers", plist, "grants", glist, "revoked_serials", slist,
	    "crl", crl != NULL ? json_string(crl) : json_null(),
	    "crypto", center_crypto_json(&c->cfg.crypto));
	free(crl);
out:
	json_decref(lan);
	json_decref(dev);
	json_decref(site);
	json_decref(org);
	json_decref(peers);
	json_decref(pg);
	json_decref(grants);
	json_decref(revs);
	return doc;
}

static void
doc_hash(const json_t *doc, char out[65])
{
	char *txt = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	uint8_t md[32];
	unsigned len = sizeof(md);

	EVP_Digest(txt, strlen(txt), md, &len, EVP_sha256(), NULL);
	hex_encode(md, sizeof(md), out);
	free(txt);
}

/* the document with its version; moves the version when the content changed */
static json_t *
confdoc_versioned(struct center *c, const char *device, int64_t *version)
{
	json_t *doc = confdoc_build(c, device), *row = NULL;
	char hash[65];

	if (doc == NULL)
		return NULL;
	doc_hash(doc, hash);
	if (store_q1(c->st, &row, "SELECT version, hash FROM device_config WHERE device = ?",
	    "s", device) != STORE_OK) {
		json_decref(doc);
		return NULL;
	}
	*version = row != NULL ? json_integer_value(json_object_get(row, "version")) : 0;
	if (row == NULL || strcmp(jsonx_str(row, "hash"), hash) != 0) {
		/* inside the caller's transaction when there is one (the push does
		 * all parked devices in one), else in our own */
		bool own = !store_in_tx(c->st);

		(*version)++;
		if ((own && store_begin(c->st) != STORE_OK) ||
		    store_q(c->st, NULL, NULL, "INSERT INTO device_config (device, version, "
		    "hash) VALUES (?, ?, ?) ON CONFLICT (device) DO UPDATE SET version = "
		    "excluded.version, hash = excluded.hash", "sis", device, *version, hash) !=
		    STORE_OK || (own && store_commit(c->st) != STORE_OK)) {
			if (own)
				store_rollback(c->st);
			json_decref(row);
			json_decref(doc);
			return NULL;
		}
	}
	json_decref(row);
	json_object_set_new(doc, "version", json_integer(*version));
	return doc;
}

void
center_config_poll(struct center *c, const char *device, int64_t since, bool wait,
    struct center_resp *resp)
{
	int64_t version = 0;
	json_t *doc = confdoc_versioned(c, device, &version);

	memset(resp, 0, sizeof(*resp));
	if (doc == NULL) {
		resp_error(resp, 500, "cannot build the configuration of device %.63s",
		    device);
		return;
	}
	/* since ahead of us: the device saw another history (a restored store);
	 * answer at once so it resynchronises */
	if (!wait || version != since) {
		resp_json(resp, 200, doc);
		return;
	}
	json_decref(doc);
	resp->park = true;
	xsnprintf(resp->park_device, sizeof(resp->park_device), "%s", device);
	resp->park_since = since;
}

/* GET /v1/config?since=VERSION&wait=SECONDS */
void
h_config(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	long long since, wait;

	if (req_query_int(req, resp, "since", 0, INT64_MAX, 0, &since) == -1 ||
	    req_query_int(req, resp, "wait", 0, c->cfg.longpoll_timeout_s,
	    c->cfg.longpoll_timeout_s, &wait) == -1)
		return;
	center_config_poll(c, req->peer->name, since, wait > 0, resp);
	resp->park_wait_s = (int)wait;
}
