#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "device/config.h"
#include "lib/jsonx.h"
#include "lib/util.h"

#define CFG_MAX_BYTES	(1024 * 1024)

static const struct jsonx_field top_fields[] = {
	{ "device_id",		JX_STRING,	false,	1, IKE_ID_MAX - 1 },
	{ "keystore",		JX_STRING,	true,	1, DEVCFG_PATH_MAX - 1 },
	{ "crl",		JX_STRING,	false,	1, DEVCFG_PATH_MAX - 1 },
	{ "control_socket",	JX_STRING,	false,	1, 107 },
	{ "log_level",		JX_STRING,	false,	1, 8 },
	{ "idle_timeout_s",	JX_INT,		false,	0, 86400 },
	{ "tun",		JX_STRING,	false,	1, 15 },
	{ "mtu",		JX_INT,		false,	1280, 9000 },
	{ "lan_prefixes",	JX_ARRAY,	false,	1, DP_MAX_PREFIX },
	{ "wan_address",	JX_STRING,	false,	2, 64 },
	{ "ike_port",		JX_INT,		false,	1, 65535 },
	{ "natt_port",		JX_INT,		false,	1, 65535 },
	{ "queue_per_peer",	JX_INT,		false,	1, 4096 },
	{ "replay_window",	JX_INT,		false,	64, 4096 },
	{ "ike",		JX_OBJECT,	false,	0, 0 },
	{ "peers",		JX_ARRAY,	false,	0, DEVCFG_MAX_PEERS },
	{ "center",		JX_OBJECT,	false,	0, 0 },
};

static const struct jsonx_field center_fields[] = {
	{ "url",		JX_STRING,	true,	9, 255 },
	{ "root_fingerprint",	JX_STRING,	true,	64, 127 },
	{ "cache",		JX_STRING,	false,	1, DEVCFG_PATH_MAX - 1 },
};

static const struct jsonx_field ike_fields[] = {
	{ "dh_groups",		JX_ARRAY,	false,	1, 3 },
	{ "esn",		JX_BOOL,	false,	0, 0 },
	{ "pfs",		JX_BOOL,	false,	0, 0 },
	{ "ike_rekey_s",	JX_INT,		false,	10, 30 * 86400 },
	{ "child_rekey_s",	JX_INT,		false,	10, 30 * 86400 },
	{ "liveness_s",		JX_INT,		false,	0, 86400 },
	{ "retransmit_base_ms",	JX_INT,		false,	50, 60000 },
	{ "retransmit_tries",	JX_INT,		false,	1, 20 },
	{ "fragment_mtu",	JX_INT,		false,	576, 9000 },
	{ "cookie_threshold",	JX_INT,		false,	1, 1000000 },
	{ "max_half_open",	JX_INT,		false,	1, 1000000 },
};

static const struct jsonx_field peer_fields[] = {
	{ "name",		JX_STRING,	true,	1, PEER_NAME_MAX - 1 },
	{ "id",			JX_STRING,	false,	1, IKE_ID_MAX - 1 },
	{ "address",		JX_STRING,	true,	2, 64 },
	{ "port",		JX_INT,		false,	1, 65535 },
	{ "prefixes",		JX_ARRAY,	true,	1, DP_MAX_PREFIX },
	{ "local_prefixes",	JX_ARRAY,	false,	1, DP_MAX_PREFIX },
	{ "rules",		JX_ARRAY,	false,	0, DP_MAX_RULES },
	{ "on_demand",		JX_BOOL,	false,	0, 0 },
};

static const struct jsonx_field rule_fields[] = {
	{ "proto",		JX_STRING,	false,	1, 8 },
	{ "ports",		JX_STRING,	false,	1, 11 },
	{ "direction",		JX_STRING,	false,	2, 4 },
	{ "local",		JX_STRING,	false,	2, ADDR_STRLEN - 1 },
	{ "remote",		JX_STRING,	false,	2, ADDR_STRLEN - 1 },
};

/* the error message names where in the file the problem is */
static int
fail(char *err, size_t errlen, const char *where, const char *what)
{
	xsnprintf(err, errlen, "%s: %s", where, what);
	return -1;
}

static void
copy_str(char *dst, size_t cap, const char *src)
{
	xsnprintf(dst, cap, "%s", src);
}

static int
parse_prefixes(const json_t *arr, struct prefix *out, size_t max, size_t *n,
    const char *where, char *err, size_t errlen)
{
	char perr[128], w[96];
	size_t i;
	json_t *v;

	*n = 0;
	json_array_foreach(arr, i, v) {
		xsnprintf(w, sizeof(w), "%s[%zu]", where, i);
		if (!json_is_string(v))
			return fail(err, errlen, w, "must be a prefix string like \"10.1.0.0/24\"");
		if (i >= max)
			return fail(err, errlen, w, "too many prefixes");
		if (prefix_parse(json_string_value(v), &out[i], perr, sizeof(perr)) == -1)
			return fail(err, errlen, w, perr);
		*n = i + 1;
	}
	return 0;
}

static int
parse_proto(const char *s, uint8_t *proto)
{
	static const struct { const char *name; uint8_t num; } names[] = {
		{ "any", 0 }, { "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP },
		{ "icmp", IPPROTO_ICMP }, { "icmpv6", IPPROTO_ICMPV6 },
	};
	char *end;
	unsigned long v;

	for (size_t i = 0; i < nitems(names); i++) {
		if (strcmp(s, names[i].name) == 0) {
			*proto = names[i].num;
			return 0;
		}
	}
	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v > 255)
		return -1;
	*proto = (uint8_t)v;
	return 0;
}

/* "443" or "1000-2000" */
static int
parse_ports(const char *s, uint16_t *lo, uint16_t *hi)
{
	unsigned long a, b;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	a = strtoul(s, &end, 10);
	b = a;
	if (*end == '-') {
		if (end[1] < '0' || end[1] > '9')
			return -1;
		b = strtoul(end + 1, &end, 10);
	}
	if (*end != '\0' || a > 65535 || b > 65535 || a > b)
		return -1;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

static int
parse_rule(const json_t *j, struct dp_rule *r, const char *where, char *err, size_t errlen)
{
	char msg[192], perr[128];
	const char *s;

	if (jsonx_validate(j, rule_fields, nitems(rule_fields), msg, sizeof(msg)) == -1)
		return fail(err, errlen, where, msg);
	memset(r, 0, sizeof(*r));
	r->port_hi = 65535;
	r->dir = DP_DIR_BOTH;
	if ((s = jsonx_str(j, "proto")) != NULL && parse_proto(s, &r->proto) == -1)
		return fail(err, errlen, where,
		    "\"proto\" must be any, tcp, udp, icmp, icmpv6 or a number 0-255");
	if ((s = jsonx_str(j, "ports")) != NULL) {
		if (r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP)
			return fail(err, errlen, where, "\"ports\" needs \"proto\" tcp or udp");
		if (parse_ports(s, &r->port_lo, &r->port_hi) == -1)
			return fail(err, errlen, where,
			    "\"ports\" must be a port or a range like \"1000-2000\"");
	}
	if ((s = jsonx_str(j, "direction")) != NULL) {
		if (strcmp(s, "out") == 0)
			r->dir = DP_DIR_OUT;
		else if (strcmp(s, "in") == 0)
			r->dir = DP_DIR_IN;
		else if (strcmp(s, "both") == 0)
			r->dir = DP_DIR_BOTH;
		else
			return fail(err, errlen, where, "\"direction\" must be in, out or both");
	}
	if ((s = jsonx_str(j, "local")) != NULL &&
	    prefix_parse(s, &r->local, perr, sizeof(perr)) == -1)
		return fail(err, errlen, where, perr);
	if ((s = jsonx_str(j, "remote")) != NULL &&
	    prefix_parse(s, &r->remote, perr, sizeof(perr)) == -1)
		return fail(err, errlen, where, perr);
	return 0;
}

static int
parse_peer(const json_t *j, struct devcfg *cfg, struct devcfg_peer *p, size_t idx,
    char *err, size_t errlen)
{
	char where[96], w[128], msg[192];
	const char *s;
	json_t *v;
	size_t i;

	xsnprintf(where, sizeof(where), "peers[%zu]", idx);
	if (jsonx_validate(j, peer_fields, nitems(peer_fields), msg, sizeof(msg)) == -1)
		return fail(err, errlen, where, msg);
	memset(p, 0, sizeof(*p));
	s = jsonx_str(j, "name");
	copy_str(p->ike.name, sizeof(p->ike.name), s);
	copy_str(p->dp.name, sizeof(p->dp.name), s);
	copy_str(p->ike.id, sizeof(p->ike.id), jsonx_str(j, "id") ? jsonx_str(j, "id") : s);
	if (ipaddr_parse(jsonx_str(j, "address"), &p->ike.addr) == -1)
		return fail(err, errlen, where, "\"address\" is not an IP address");
	p->ike.port = (uint16_t)jsonx_int(j, "port", cfg->dp.natt_port);
	xsnprintf(w, sizeof(w), "%s.prefixes", where);
	if (parse_prefixes(json_object_get(j, "prefixes"), p->dp.remote, DP_MAX_PREFIX,
	    &p->dp.nremote, w, err, errlen) == -1)
		return -1;
	memcpy(p->ike.remote_ts, p->dp.remote, sizeof(p->dp.remote));
	p->ike.nremote_ts = p->dp.nremote;
	if ((v = json_object_get(j, "local_prefixes")) != NULL) {
		xsnprintf(w, sizeof(w), "%s.local_prefixes", where);
		if (parse_prefixes(v, p->ike.local_ts, CHILD_SA_MAX_TS, &p->ike.nlocal_ts, w,
		    err, errlen) == -1)
			return -1;
		for (i = 0; i < p->ike.nlocal_ts; i++) {
			size_t k;

			for (k = 0; k < cfg->dp.nlocal; k++)
				if (prefix_overlaps(&p->ike.local_ts[i], &cfg->dp.local[k]) &&
				    p->ike.local_ts[i].len >= cfg->dp.local[k].len)
					break;
			if (k == cfg->dp.nlocal)
				return fail(err, errlen, w,
				    "each local prefix must lie inside lan_prefixes");
		}
	} else {
		memcpy(p->ike.local_ts, cfg->dp.local, sizeof(cfg->dp.local));
		p->ike.nlocal_ts = cfg->dp.nlocal;
	}
	json_array_foreach(json_object_get(j, "rules"), i, v) {
		xsnprintf(w, sizeof(w), "%s.rules[%zu]", where, i);
		if (parse_rule(v, &p->dp.rules[i], w, err, errlen) == -1)
			return -1;
		p->dp.nrules = i + 1;
	}
	p->on_demand = jsonx_bool(j, "on_demand", true);
	return 0;
}

static int
parse_dh(const json_t *arr, int *groups, char *err, size_t errlen)
{
	static const struct { const char *name; int id; } names[] = {
		{ "ecp256", 19 }, { "ecp384", 20 }, { "x25519", 31 },
	};
	size_t i, k;
	json_t *v;

	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);

		for (k = 0; s != NULL && k < nitems(names); k++)
			if (strcmp(s, names[k].name) == 0)
				break;
		if (s == NULL || k == nitems(names))
			return fail(err, errlen, "ike.dh_groups",
			    "each entry must be \"ecp256\", \"ecp384\" or \"x25519\"");
		groups[i] = names[k].id;
	}
	groups[i] = 0;
	return 0;
}

static int
parse_ike(const json_t *j, struct ike_config *ike, char *err, size_t errlen)
{
	char msg[192];
	json_t *v;

	ike->dh_groups[0] = 19;
	ike->dh_groups[1] = 31;
	ike->dh_groups[2] = 20;
	ike->dh_groups[3] = 0;
	ike->esn = true;
	ike->child_pfs = true;
	ike->ike_rekey_s = 4 * 3600;
	ike->child_rekey_s = 3600;
	ike->liveness_s = 30;
	ike->retransmit_base_ms = 500;
	ike->retransmit_tries = 5;
	ike->fragment_mtu = 1280;
	ike->cookie_threshold = 64;
	ike->max_half_open = 1024;
	if (j == NULL)
		return 0;
	if (jsonx_validate(j, ike_fields, nitems(ike_fields), msg, sizeof(msg)) == -1)
		return fail(err, errlen, "ike", msg);
	if ((v = json_object_get(j, "dh_groups")) != NULL &&
	    parse_dh(v, ike->dh_groups, err, errlen) == -1)
		return -1;
	ike->esn = jsonx_bool(j, "esn", ike->esn);
	ike->child_pfs = jsonx_bool(j, "pfs", ike->child_pfs);
	ike->ike_rekey_s = (uint32_t)jsonx_int(j, "ike_rekey_s", ike->ike_rekey_s);
	ike->child_rekey_s = (uint32_t)jsonx_int(j, "child_rekey_s", ike->child_rekey_s);
	ike->liveness_s = (uint32_t)jsonx_int(j, "liveness_s", ike->liveness_s);
	ike->retransmit_base_ms = (uint32_t)jsonx_int(j, "retransmit_base_ms",
	    ike->retransmit_base_ms);
	ike->retransmit_tries = (uint32_t)jsonx_int(j, "retransmit_tries",
	    ike->retransmit_tries);
	ike->fragment_mtu = (size_t)jsonx_int(j, "fragment_mtu", (long long)ike->fragment_mtu);
	ike->cookie_threshold = (unsigned)jsonx_int(j, "cookie_threshold",
	    ike->cookie_threshold);
	ike->max_half_open = (unsigned)jsonx_int(j, "max_half_open", ike->max_half_open);
	if (ike->cookie_threshold > ike->max_half_open)
		return fail(err, errlen, "ike", "cookie_threshold must not exceed max_half_open");
	return 0;
}

int
devcfg_parse(const char *text, size_t len, struct devcfg *cfg, char *err, size_t errlen)
{
	char msg[192];
	json_error_t jerr;
	json_t *root, *v;
	const char *s;
	size_t i;
	int rc = -1;

	memset(cfg, 0, sizeof(*cfg));
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		xsnprintf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column,
		    jerr.text);
		return -1;
	}
	if (jsonx_validate(root, top_fields, nitems(top_fields), msg, sizeof(msg)) == -1) {
		fail(err, errlen, "top level", msg);
		goto out;
	}
	copy_str(cfg->keystore, sizeof(cfg->keystore), jsonx_str(root, "keystore"));
	if ((v = json_object_get(root, "center")) != NULL) {
		if (jsonx_validate(v, center_fields, nitems(center_fields), msg,
		    sizeof(msg)) == -1) {
			fail(err, errlen, "center", msg);
			goto out;
		}
		if (strncmp(jsonx_str(v, "url"), "https://", 8) != 0) {
			fail(err, errlen, "center.url", "must be an https:// URL");
			goto out;
		}
		if (json_object_get(root, "peers") != NULL) {
			fail(err, errlen, "peers", "not allowed with \"center\": in managed "
			    "mode the peers come from the center's grants");
			goto out;
		}
		cfg->managed = true;
		copy_str(cfg->center_url, sizeof(cfg->center_url), jsonx_str(v, "url"));
		copy_str(cfg->center_pin, sizeof(cfg->center_pin),
		    jsonx_str(v, "root_fingerprint"));
		if (jsonx_str(v, "cache") != NULL)
			copy_str(cfg->cache, sizeof(cfg->cache), jsonx_str(v, "cache"));
	} else {
		static const char *const need[] = { "device_id", "lan_prefixes", "wan_address" };

		for (i = 0; i < nitems(need); i++)
			if (json_object_get(root, need[i]) == NULL) {
				fail(err, errlen, need[i], "required (or a \"center\" to "
				    "take it from)");
				goto out;
			}
	}
	if (jsonx_str(root, "device_id") != NULL)
		copy_str(cfg->device_id, sizeof(cfg->device_id), jsonx_str(root, "device_id"));
	if ((s = jsonx_str(root, "crl")) != NULL)
		copy_str(cfg->crl, sizeof(cfg->crl), s);
	copy_str(cfg->control_socket, sizeof(cfg->control_socket),
	    jsonx_str(root, "control_socket") ? jsonx_str(root, "control_socket") :
	    "/run/odvpnd.sock");
	cfg->log_level = LL_INFO;
	if ((s = jsonx_str(root, "log_level")) != NULL &&
	    log_level_parse(s, &cfg->log_level) == -1) {
		fail(err, errlen, "log_level", "must be error, warn, info or debug");
		goto out;
	}
	cfg->idle_timeout_s = (uint32_t)jsonx_int(root, "idle_timeout_s", 300);
	copy_str(cfg->dp.tun_name, sizeof(cfg->dp.tun_name),
	    jsonx_str(root, "tun") ? jsonx_str(root, "tun") : "odvpn0");
	cfg->dp.mtu = (int)jsonx_int(root, "mtu", 1400);
	cfg->local_lan = json_object_get(root, "lan_prefixes") != NULL;
	cfg->local_wan = json_object_get(root, "wan_address") != NULL;
	cfg->local_natt = json_object_get(root, "natt_port") != NULL;
	cfg->local_idle = json_object_get(root, "idle_timeout_s") != NULL;
	if (cfg->local_lan && parse_prefixes(json_object_get(root, "lan_prefixes"),
	    cfg->dp.local, DP_MAX_PREFIX, &cfg->dp.nlocal, "lan_prefixes", err, errlen) == -1)
		goto out;
	if (cfg->local_wan &&
	    ipaddr_parse(jsonx_str(root, "wan_address"), &cfg->dp.wan_addr) == -1) {
		fail(err, errlen, "wan_address", "not an IP address");
		goto out;
	}
	cfg->dp.ike_port = (uint16_t)jsonx_int(root, "ike_port", IKE_PORT);
	cfg->dp.natt_port = (uint16_t)jsonx_int(root, "natt_port", IKE_NATT_PORT);
	if (cfg->dp.ike_port == cfg->dp.natt_port) {
		fail(err, errlen, "natt_port", "must differ from ike_port");
		goto out;
	}
	cfg->dp.queue_per_peer = (size_t)jsonx_int(root, "queue_per_peer", 256);
	cfg->dp.replay_window = (uint32_t)jsonx_int(root, "replay_window", 1024);
	copy_str(cfg->ike.local_id, sizeof(cfg->ike.local_id), cfg->device_id);
	if (parse_ike(json_object_get(root, "ike"), &cfg->ike, err, errlen) == -1)
		goto out;
	v = json_object_get(root, "peers");
	cfg->npeers = json_array_size(v);
	cfg->peers = xcalloc(cfg->npeers, sizeof(*cfg->peers));
	for (i = 0; i < cfg->npeers; i++) {
		if (parse_peer(json_array_get(v, i), cfg, &cfg->peers[i], i, err, errlen) == -1)
			goto out;
		for (size_t k = 0; k < i; k++) {
			if (strcmp(cfg->peers[k].ike.name, cfg->peers[i].ike.name) == 0 ||
			    strcmp(cfg->peers[k].ike.id, cfg->peers[i].ike.id) == 0) {
				xsnprintf(err, errlen, "peers[%zu]: name or id \"%s\" used twice",
				    i, cfg->peers[i].ike.name);
				goto out;
			}
		}
		if (strcmp(cfg->peers[i].ike.id, cfg->device_id) == 0) {
			xsnprintf(err, errlen, "peers[%zu]: a peer cannot have our own id", i);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		devcfg_free(cfg);
	return rc;
}

int
devcfg_load(const char *path, struct devcfg *cfg, char *err, size_t errlen)
{
	char inner[384];
	uint8_t *text;
	size_t len;
	int rc;

	if (file_read_all(path, CFG_MAX_BYTES, &text, &len) == -1) {
		xsnprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = devcfg_parse((const char *)text, len, cfg, inner, sizeof(inner));
	free(text);
	if (rc == -1)
		xsnprintf(err, errlen, "%s: %s", path, inner);
	return rc;
}

void
devcfg_free(struct devcfg *cfg)
{
	free(cfg->peers);
	cfg->peers = NULL;
	cfg->npeers = 0;
}

const struct devcfg_peer *
devcfg_peer_by_name(const struct devcfg *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->npeers; i++)
		if (strcmp(cfg->peers[i].ike.name, name) == 0)
			return &cfg->peers[i];
	return NULL;
}

const struct devcfg_peer *
devcfg_peer_by_id(const struct devcfg *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->npeers; i++)
		if (strcmp(cfg->peers[i].ike.id, id) == 0)
			return &cfg->peers[i];
	return NULL;
}
