#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "device/mdoc.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"

#define MDOC_MAX_BYTES	(1024 * 1024)

static int bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* key absent, or of type t: a field present with another type is malformed,
 * never read as its default (which may be wider) */
static bool
absent_or(const json_t *o, const char *key, json_type t)
{
	const json_t *v = json_object_get(o, key);

	return v == NULL || json_typeof(v) == t;
}

static int
copy_name(char *dst, size_t cap, const json_t *v)
{
	const char *s = json_string_value(v);

	if (s == NULL || s[0] == '\0' || strlen(s) >= cap)
		return -1;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

/* an array of prefix strings into out (at most cap) */
static int
prefixes(const json_t *arr, struct prefix *out, size_t cap, size_t *n)
{
	char why[96];
	size_t i;
	json_t *v;

	*n = 0;
	if (!json_is_array(arr) || json_array_size(arr) > cap)
		return -1;
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || prefix_parse(json_string_value(v), &out[i], why,
		    sizeof(why)) == -1)
			return -1;
	}
	*n = json_array_size(arr);
	return 0;
}

/* {"address", "port"} or null; af 0 when null */
static int
endpoint(const json_t *ep, struct ipaddr *a, uint16_t *port)
{
	long long p;

	memset(a, 0, sizeof(*a));
	*port = IKE_NATT_PORT;
	if (ep == NULL || json_is_null(ep))
		return 0;
	if (!json_is_object(ep) || jsonx_str(ep, "address") == NULL ||
	    ipaddr_parse(jsonx_str(ep, "address"), a) == -1)
		return -1;
	p = jsonx_int(ep, "port", IKE_NATT_PORT);
	if (p < 1 || p > 65535)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

/* add p to set unless present; -1 when full */
static int
ts_add(struct prefix *set, size_t *n, const struct prefix *p)
{
	for (size_t i = 0; i < *n; i++)
		if (memcmp(&set[i], p, sizeof(*p)) == 0)
			return 0;
	if (*n == CHILD_SA_MAX_TS)
		return -1;
	set[(*n)++] = *p;
	return 0;
}

/*
 * One granted flow as a data-plane rule. 1 = made, 0 = odvpnd cannot express
 * it exactly (left out: narrower, never wider), -1 = malformed.
 */
static int
grant_rule(const json_t *r, struct dp_rule *out)
{
	const char *dir = jsonx_str(r, "dir");
	const json_t *proto = json_object_get(r, "proto");
	long long lo = jsonx_int(r, "port_lo", 0), hi = jsonx_int(r, "port_hi", 65535);
	char why[96];

	memset(out, 0, sizeof(*out));
	if (!json_is_object(r) || dir == NULL || !json_is_integer(proto) ||
	    !absent_or(r, "port_lo", JSON_INTEGER) || !absent_or(r, "port_hi", JSON_INTEGER) ||
	    !absent_or(r, "local", JSON_STRING) || !absent_or(r, "remote", JSON_STRING))
		return -1;
	if (strcmp(dir, "out") == 0)
		out->dir = DP_DIR_OUT;
	else if (strcmp(dir, "in") == 0)
		out->dir = DP_DIR_IN;
	else if (strcmp(dir, "both") == 0)
		out->dir = DP_DIR_BOTH;
	else
		return -1;
	if (json_integer_value(proto) < 0 || json_integer_value(proto) > 255 ||
	    lo < 0 || hi > 65535 || lo > hi)
		return -1;
	out->proto = (uint8_t)json_integer_value(proto);
	out->port_lo = (uint16_t)lo;
	out->port_hi = (uint16_t)hi;
	if ((lo > 0 || hi < 65535) && out->proto != 6 && out->proto != 17 && out->proto != 132)
		return 0;
	if (jsonx_str(r, "local") != NULL &&
	    prefix_parse(jsonx_str(r, "local"), &out->local, why, sizeof(why)) == -1)
		return -1;
	if (jsonx_str(r, "remote") != NULL &&
	    prefix_parse(jsonx_str(r, "remote"), &out->remote, why, sizeof(why)) == -1)
		return -1;
	return 1;
}

static struct mdoc_peer *
peer_find(struct mdoc *d, const char *site)
{
	/* the document being built: the lookup of mdoc_peer, writable */
	return (struct mdoc_peer *)mdoc_peer(d, site);
}

static struct mdoc_peer *
peer_add(struct mdoc *d, const char *site)
{
	struct mdoc_peer *p;

	if (d->npeers == MDOC_MAX_PEERS || strlen(site) >= PEER_NAME_MAX)
		return NULL;
	p = &d->peers[d->npeers++];
	memset(p, 0, sizeof(*p));
	memcpy(p->p.ike.name, site, strlen(site) + 1);
	memcpy(p->p.dp.name, site, strlen(site) + 1);
	p->p.on_demand = true;
	p->p.dp.closed = true;
	p->not_after = INT64_MAX;
	return p;
}

/* the directory: sites we may apply for */
static int
parse_directory(const json_t *arr, struct mdoc *d, char *err, size_t errlen)
{
	size_t i;
	json_t *e;

	if (!json_is_array(arr))
		return bad(err, errlen, "%s is not an array", "peers");
	json_array_foreach(arr, i, e) {
		const char *site = jsonx_str(e, "site");
		struct mdoc_peer *p;

		if (site == NULL || site[0] == '\0' || peer_find(d, site) != NULL ||
		    (p = peer_add(d, site)) == NULL)
			return bad(err, errlen, "%s: a site is missing, repeated or too long",
			    "peers");
		if (prefixes(json_object_get(e, "prefixes"), p->p.dp.remote, DP_MAX_PREFIX,
		    &p->p.dp.nremote) == -1 || p->p.dp.nremote == 0)
			return bad(err, errlen, "peers: site %s has bad prefixes", site);
		if (endpoint(json_object_get(e, "endpoint"), &p->p.ike.addr, &p->p.ike.port) == -1)
			return bad(err, errlen, "peers: site %s has a bad endpoint", site);
		if (jsonx_str(e, "device") != NULL &&
		    copy_name(p->device, sizeof(p->device), json_object_get(e, "device")) == -1)
			return bad(err, errlen, "peers: site %s has a bad device", site);
		if (jsonx_str(e, "ike_id") != NULL &&
		    copy_name(p->p.ike.id, sizeof(p->p.ike.id), json_object_get(e, "ike_id")) == -1)
			return bad(err, errlen, "peers: site %s has a bad ike_id", site);
	}
	return 0;
}

/* one grant, checked whole; merged into its peer's entry when in force (na: its
 * not_after) */
static int
merge_grant(const json_t *g, bool in_force, int64_t na, struct mdoc *d, char *err,
    size_t errlen)
{
	const char *site = jsonx_str(g, "peer_site"), *id = jsonx_str(g, "peer_ike_id");
	struct prefix lts[CHILD_SA_MAX_TS], rts[CHILD_SA_MAX_TS];
	size_t nl, nr, i, added = 0;
	struct mdoc_peer *p;
	struct dp_rule rule;
	struct ipaddr ep;
	uint16_t port;
	json_t *r;

	if (site == NULL || site[0] == '\0' || id == NULL || id[0] == '\0' ||
	    strlen(id) >= IKE_ID_MAX ||
	    prefixes(json_object_get(g, "local_ts"), lts, CHILD_SA_MAX_TS, &nl) == -1 ||
	    prefixes(json_object_get(g, "remote_ts"), rts, CHILD_SA_MAX_TS, &nr) == -1 ||
	    nl == 0 || nr == 0 || !json_is_array(json_object_get(g, "rules")) ||
	    endpoint(json_object_get(g, "peer_endpoint"), &ep, &port) == -1)
		return bad(err, errlen, "grants: grant %s is malformed",
		    site != NULL ? site : "?");
	/* a grant not in force (or left out below) is malformed all the same: the
	 * document is refused now, not when the grant starts */
	json_array_foreach(json_object_get(g, "rules"), i, r)
		if (grant_rule(r, &rule) == -1)
			return bad(err, errlen, "grants: a rule toward %s is malformed", site);
	if (!in_force)
		return 0;
	if ((p = peer_find(d, site)) == NULL) {
		/* granted but not in the directory (should not happen): its own prefixes */
		if ((p = peer_add(d, site)) == NULL)
			return bad(err, errlen, "grants: too many peers at %s", site);
		memcpy(p->p.dp.remote, rts, sizeof(rts));
		p->p.dp.nremote = nr;
	}
	if (p->ngrants > 0 && strcmp(p->p.ike.id, id) != 0) {
		/* two devices of one site cannot both be this peer: keep the first */
		p->left_out++;
		return 0;
	}
	if (p->ngrants == MDOC_MAX_GRANTS) {
		p->left_out++;
		return 0;
	}
	memcpy(p->p.ike.id, id, strlen(id) + 1);
	if (ep.af != 0) {
		p->p.ike.addr = ep;
		p->p.ike.port = port;
	}
	json_array_foreach(json_object_get(g, "rules"), i, r) {
		if (grant_rule(r, &rule) == 0 || p->p.dp.nrules == DP_MAX_RULES) {
			p->left_out++;
			continue;
		}
		p->p.dp.rules[p->p.dp.nrules++] = rule;
		added++;
	}
	if (added == 0) {
		/* no flow odvpnd can enforce: this grant opens nothing */
		p->left_out++;
		return 0;
	}
	for (i = 0; i < nl; i++)
		if (ts_add(p->p.ike.local_ts, &p->p.ike.nlocal_ts, &lts[i]) == -1)
			p->left_out++;
	for (i = 0; i < nr; i++)
		if (ts_add(p->p.ike.remote_ts, &p->p.ike.nremote_ts, &rts[i]) == -1)
			p->left_out++;
	p->grant_ids[p->ngrants++] = jsonx_int(g, "id", 0);
	p->granted = true;
	p->p.dp.closed = false;
	if (na < p->not_after)
		p->not_after = na;
	return 0;
}

static int
parse_grants(const json_t *arr, int64_t now, struct mdoc *d, char *err, size_t errlen)
{
	size_t i;
	json_t *g;

	if (!json_is_array(arr))
		return bad(err, errlen, "%s is not an array", "grants");
	json_array_foreach(arr, i, g) {
		long long nb = jsonx_int(g, "not_before", 0);
		long long na = jsonx_int(g, "not_after", INT64_MAX);

		bool in_force = nb <= now && now < na;

		if (!json_is_object(g) || !absent_or(g, "not_before", JSON_INTEGER) ||
		    !absent_or(g, "not_after", JSON_INTEGER) || nb > na)
			return bad(err, errlen, "grants: entry %s is malformed", "?");
		if (now < nb && nb < d->next_change)
			d->next_change = nb;
		if (in_force && na < d->next_change)
			d->next_change = na;
		if (merge_grant(g, in_force, na, d, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* a time in seconds: absent is dflt, outside 0..UINT32_MAX is malformed */
static int
seconds(const json_t *c, const char *key, long long dflt, uint32_t *out)
{
	long long v = jsonx_int(c, key, dflt);

	if (v < 0 || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int
parse_crypto(const json_t *c, struct mdoc *d, char *err, size_t errlen)
{
	const json_t *ike = json_object_get(c, "ike"), *esp = json_object_get(c, "esp");
	size_t i, n = 0;
	json_t *v;

	d->pol.dh_groups[0] = 19;
	d->pol.dh_groups[1] = 31;
	d->pol.dh_groups[2] = 20;
	d->pol.esn = true;
	d->idle_timeout_s = 300;
	if (c == NULL)
		return 0;
	if (!json_is_object(c))
		return bad(err, errlen, "%s is not an object", "crypto");
	if (json_is_array(json_object_get(ike, "dh_groups"))) {
		json_array_foreach(json_object_get(ike, "dh_groups"), i, v) {
			/* IKEv2 transform IDs are 16 bits; 0 would end the list */
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 65535 || n == nitems(d->pol.dh_groups) - 1)
				return bad(err, errlen, "crypto: %s", "bad dh_groups");
			d->pol.dh_groups[n++] = (int)json_integer_value(v);
		}
		if (n == 0)
			return bad(err, errlen, "crypto: %s", "empty dh_groups");
		d->pol.dh_groups[n] = 0;
	}
	d->pol.esn = jsonx_bool(esp, "esn", true);
	d->pol.child_pfs = jsonx_bool(esp, "pfs", false);
	if (seconds(c, "ike_rekey_s", 0, &d->pol.ike_rekey_s) == -1 ||
	    seconds(c, "child_rekey_s", 0, &d->pol.child_rekey_s) == -1 ||
	    seconds(c, "idle_timeout_s", 300, &d->idle_timeout_s) == -1)
		return bad(err, errlen, "crypto: %s", "a time out of range");
	return 0;
}

static int
parse_revoked(const json_t *arr, struct mdoc *d, char *err, size_t errlen)
{
	size_t i, k;
	json_t *v;

	if (arr == NULL)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > MDOC_MAX_REVOKED)
		return bad(err, errlen, "%s is not a list of serials", "revoked_serials");
	d->revoked = xcalloc(json_array_size(arr) + 1, sizeof(*d->revoked));
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);

		if (s == NULL || s[0] == '\0' || strlen(s) >= PKI_SERIAL_HEX_MAX)
			return bad(err, errlen, "%s: bad serial", "revoked_serials");
		for (k = 0; s[k] != '\0'; k++) {
			if (!isxdigit((unsigned char)s[k]))
				return bad(err, errlen, "%s: bad serial", "revoked_serials");
			d->revoked[i][k] = (char)tolower((unsigned char)s[k]);
		}
	}
	d->nrevoked = json_array_size(arr);
	return 0;
}

int
mdoc_parse(const char *text, size_t len, int64_t now, struct mdoc *d, char *err,
    size_t errlen)
{
	const json_t *site, *dev, *v;
	json_error_t jerr;
	json_t *root;
	int rc = -1;

	memset(d, 0, sizeof(*d));
	d->next_change = INT64_MAX;
	if (len > MDOC_MAX_BYTES)
		return bad(err, errlen, "%s is too large", "the document");
	if ((root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		xsnprintf(err, errlen, "not JSON (line %d: %s)", jerr.line, jerr.text);
		return -1;
	}
	site = json_object_get(root, "site");
	dev = json_object_get(root, "device");
	if (!json_is_object(root) || !json_is_integer(json_object_get(root, "version")) ||
	    !json_is_object(site) || !json_is_object(dev)) {
		bad(err, errlen, "%s: version, device or site missing", "the document");
		goto out;
	}
	d->version = json_integer_value(json_object_get(root, "version"));
	if (copy_name(d->device_id, sizeof(d->device_id), json_object_get(dev, "id")) == -1 ||
	    copy_name(d->site, sizeof(d->site), json_object_get(site, "name")) == -1 ||
	    copy_name(d->org, sizeof(d->org), json_object_get(site, "org")) == -1) {
		bad(err, errlen, "%s: bad device id, site or organisation", "the document");
		goto out;
	}
	d->suspended = jsonx_str(site, "status") == NULL ||
	    strcmp(jsonx_str(site, "status"), "active") != 0;
	if (prefixes(json_object_get(site, "prefixes"), d->local, DP_MAX_PREFIX,
	    &d->nlocal) == -1 ||
	    endpoint(json_object_get(site, "endpoint"), &d->endpoint, &d->endpoint_port) == -1) {
		bad(err, errlen, "%s: bad prefixes or endpoint", "site");
		goto out;
	}
	d->peers = xcalloc(MDOC_MAX_PEERS, sizeof(*d->peers));
	if ((v = json_object_get(root, "peers")) != NULL &&
	    parse_directory(v, d, err, errlen) == -1)
		goto out;
	if ((v = json_object_get(root, "grants")) != NULL &&
	    parse_grants(v, now, d, err, errlen) == -1)
		goto out;
	if (parse_revoked(json_object_get(root, "revoked_serials"), d, err, errlen) == -1 ||
	    parse_crypto(json_object_get(root, "crypto"), d, err, errlen) == -1)
		goto out;
	if ((v = json_object_get(root, "crl")) != NULL && !json_is_null(v)) {
		if (!json_is_string(v)) {
			bad(err, errlen, "%s is not a string", "crl");
			goto out;
		}
		d->crl_pem = xstrdup(json_string_value(v));
	}
	if (d->suspended) {
		/* a suspended site reaches no one, whatever the lists say */
		d->npeers = 0;
	}
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		mdoc_free(d);
	return rc;
}

void
mdoc_free(struct mdoc *d)
{
	free(d->peers);
	free(d->revoked);
	free(d->crl_pem);
	memset(d, 0, sizeof(*d));
}

const struct mdoc_peer *
mdoc_peer(const struct mdoc *d, const char *site)
{
	for (size_t i = 0; i < d->npeers; i++)
		if (strcmp(d->peers[i].p.ike.name, site) == 0)
			return &d->peers[i];
	return NULL;
}

bool
mdoc_revoked(const struct mdoc *d, const char *serial)
{
	for (size_t i = 0; i < d->nrevoked; i++)
		if (strcasecmp(d->revoked[i], serial) == 0)
			return true;
	return false;
}
