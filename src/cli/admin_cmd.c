/*
 * odvpn admin: drive the center's administrator API (docs/API.md) over HTTPS
 * with the administrator certificate. Output is for people (aligned tables,
 * one-line messages) unless --json, which prints the server's JSON as is.
 * Errors from the server are shown verbatim. Exit codes: 0 done, 1 the
 * operation failed (or a connection was denied), 2 bad usage.
 *
 * Where to connect and with which certificate, first match wins:
 *   options        --center URL --cert F --key F --ca F, or --pki DIR
 *   environment    ODVPN_CENTER ODVPN_ADMIN_CERT ODVPN_ADMIN_KEY ODVPN_CA ODVPN_PKI
 *   config file    --config F, $ODVPN_ADMIN_CONFIG, or ~/.config/odvpn/admin.json:
 *                  {"center": …, "cert": …, "key": …, "ca": …, "pki_dir": …}
 *   default        https://localhost:8443
 * A PKI directory (from `odvpn pki init`) stands for DIR/admin.crt.pem,
 * DIR/private/admin.key.pem and DIR/root.crt.pem.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli/cli.h"
#include "lib/jsonx.h"
#include "lib/membuf.h"
#include "lib/util.h"

#define RESP_MAX	(16 * 1024 * 1024)

struct admin {
	char	center[1024];
	char	cert[1024];
	char	key[1024];
	char	ca[1024];
	bool	json;
	bool	verbose;
};

static struct admin A;

/* ---- messages ---------------------------------------------------------- */

static int
usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "odvpn admin: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n'odvpn admin --help' lists the commands.\n");
	return 2;
}

static int
fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "odvpn admin: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return 1;
}

static void
help(FILE *f)
{
	fprintf(f,
"usage: odvpn admin [connection options] [--json] COMMAND ...\n"
"\n"
"connection options (defaults from ODVPN_* variables or a config file, see below):\n"
"  --center URL        the center, e.g. https://center.example:8443\n"
"  --cert F --key F    administrator certificate and key (PEM)\n"
"  --ca F              root certificate to verify the center with\n"
"  --pki DIR           take cert, key and root from a PKI directory\n"
"  --config F          JSON file {\"center\",\"cert\",\"key\",\"ca\",\"pki_dir\"}\n"
"  --json              print the server's JSON instead of tables\n"
"\n"
"commands:\n"
"  status | export | crl\n"
"  org list\n"
"  org show NAME | del NAME\n"
"  org add NAME --kind KIND [--suspended] [--auto-approve yes|no] [--description D]\n"
"  org set NAME [--kind KIND] [--status active|suspended] [--auto-approve yes|no]\n"
"               [--description D]\n"
"        KIND: large_institution small_institution service_provider vendor\n"
"  site list [--org ORG]\n"
"  site show NAME | del NAME\n"
"  site add NAME --org ORG --prefix P [--prefix P ...] [--zone Z=P[,P...] ...]\n"
"           [--wan ADDR] [--wan-port N] [--suspended] [--description D]\n"
"  site set NAME [--prefix P ...] [--zone Z=P[,P...] ...] [--wan ADDR|none]\n"
"           [--wan-port N] [--status active|suspended] [--description D]\n"
"  device list [--site SITE]\n"
"  device show ID | del ID\n"
"  device add ID --site SITE (--fingerprint SHA256 | --cert FILE) [--description D]\n"
"  device set ID [--fingerprint SHA256 | --cert FILE] [--description D]\n"
"  group list | group show NAME | group add NAME [--description D] | group del NAME\n"
"  group member add GROUP SITE | group member del GROUP SITE\n"
"  rule list [--owner provider|ORG]\n"
"  rule show ID | rule del ID\n"
"  rule add [--owner ORG] [--group G] [--src SEL] [--dst SEL] [--both]\n"
"           [--proto P] [--ports N|LO-HI] [--from TIME] [--until TIME]\n"
"           [--hours HH:MM-HH:MM] [--days mon,tue,...] [--auto-approve yes|no]\n"
"           [--description D]\n"
"        SEL: comma-separated site=S, org=O, zone=Z, prefix=P (any if omitted)\n"
"        no --owner: a provider rule\n"
"  connect INITIATOR_SITE RESPONDER_SITE     apply for a connection (exit 1 if denied)\n"
"  grant list [--status S] [--site SITE]\n"
"  grant show ID | grant approve ID | grant deny ID [--reason R]\n"
"  grant withdraw ID [--reason R]\n"
"  revoke device ID [--reason R] | revoke serial HEX [--reason R] | revoke list\n"
"        R: unspecified keyCompromise affiliationChanged superseded\n"
"           cessationOfOperation privilegeWithdrawn\n"
"  audit [--since TIME] [--until TIME] [--site S] [--device D] [--kind K]\n"
"        [--after SEQ] [--limit N]\n"
"  audit verify\n"
"  audit trail GRANT_ID   the center's and both devices' records of one grant,\n"
"                         side by side, matched against each other\n"
"\n"
"TIME: Unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC).\n"
"environment: ODVPN_CENTER ODVPN_ADMIN_CERT ODVPN_ADMIN_KEY ODVPN_CA ODVPN_PKI\n"
"             ODVPN_ADMIN_CONFIG (default ~/.config/odvpn/admin.json)\n"
"exit codes: 0 done, 1 failed or denied, 2 bad usage\n");
}

/* ---- HTTP -------------------------------------------------------------- */

/*
 * One request. body: JSON to send or NULL. On success (2xx) *out receives the
 * parsed response and 0 is returned; otherwise the error is printed and 1.
 */
static int
http(const char *method, const char *path, const json_t *body, json_t **out)
{
	CURL *cu = curl_easy_init();
	struct curl_slist *hdr = NULL;
	struct membuf b = { NULL, 0, RESP_MAX, false };
	char url[2048], errbuf[CURL_ERROR_SIZE] = "";
	char *txt = NULL;
	json_error_t je;
	long status = 0;
	json_t *j = NULL;
	CURLcode rc;
	int r = 1;

	*out = NULL;
	if (cu == NULL)
		return fail("cannot initialise libcurl");
	if (xsnprintf(url, sizeof(url), "%s%s", A.center, path) == -1) {
		curl_easy_cleanup(cu);
		return fail("URL too long");
	}
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(cu, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(cu, CURLOPT_SSLCERT, A.cert);
	curl_easy_setopt(cu, CURLOPT_SSLKEY, A.key);
	if (A.ca[0] != '\0')
		curl_easy_setopt(cu, CURLOPT_CAINFO, A.ca);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, membuf_write);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "https");
	hdr = curl_slist_append(hdr, "Accept: application/json");
	if (body != NULL) {
		txt = json_dumps(body, JSON_COMPACT);
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(cu, CURLOPT_POSTFIELDS, txt);
	}
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdr);
	rc = curl_easy_perform(cu);
	if (rc != CURLE_OK) {
		r = fail("%s: %s", A.center, errbuf[0] != '\0' ? errbuf :
		    curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
	j = b.p != NULL ? json_loads(b.p, 0, &je) : NULL;
	if (status >= 200 && status < 300 && j != NULL) {
		*out = j;
		j = NULL;
		r = 0;
	} else if (json_is_string(json_object_get(j, "error"))) {
		r = fail("%s (HTTP %ld)", json_string_value(json_object_get(j, "error")),
		    status);
	} else {
		r = fail("HTTP %ld from the center: %.300s", status, b.p != NULL ? b.p : "");
	}
out:
	json_decref(j);
	free(txt);
	free(b.p);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(cu);
	return r;
}

/* path with ?k=v&… from pairs (NULL values skipped), values URL-encoded */
static void
query_path(char *out, size_t cap, const char *base, const char *const *kv, size_t n)
{
	size_t len;
	char sep = '?';

	xsnprintf(out, cap, "%s", base);
	len = strlen(out);
	for (size_t i = 0; i + 1 < n; i += 2) {
		char *e;

		if (kv[i + 1] == NULL)
			continue;
		e = curl_easy_escape(NULL, kv[i + 1], 0);
		if (e != NULL && xsnprintf(out + len, cap - len, "%c%s=%s", sep, kv[i], e) !=
		    -1) {
			len += strlen(out + len);
			sep = '&';
		}
		curl_free(e);
	}
}

/* a name for a path segment: only what the API accepts as a name */
static int
seg_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return 0;
	return 1;
}

/* ---- output ------------------------------------------------------------ */

static void
print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s != NULL)
		printf("%s\n", s);
	free(s);
}

static void
fmt_time(int64_t t, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		xsnprintf(buf, cap, "-");
}

enum colfmt {
	C_TEXT,		/* strings, numbers, arrays joined with "," */
	C_TIME,		/* Unix seconds */
	C_TIME_MS,
	C_BOOL,
	C_SEL,		/* rule selector object */
	C_ZONES,	/* [{"name", "prefixes"}] → name=p,p name=p */
	C_DEVS,		/* [{"id", "status"}] → id (status) */
	C_WINDOW,	/* rule window → from..until hours days */
};

struct column {
	const char	*head;
	const char	*key;
	enum colfmt	 fmt;
};

static void
cell(const json_t *v, enum colfmt fmt, char *buf, size_t cap)
{
	size_t i, len = 0;
	json_t *x;

	buf[0] = '\0';
	if (v == NULL || json_is_null(v)) {
		xsnprintf(buf, cap, "-");
		return;
	}
	switch (fmt) {
	case C_TIME:
		fmt_time(json_integer_value(v), buf, cap);
		return;
	case C_TIME_MS:
		fmt_time(json_integer_value(v) / 1000, buf, cap);
		return;
	case C_BOOL:
		xsnprintf(buf, cap, "%s", json_is_true(v) ? "yes" : "no");
		return;
	case C_SEL: {
		const char *key;
		json_t *val;

		if (json_object_size(v) == 0) {
			xsnprintf(buf, cap, "any");
			return;
		}
		json_object_foreach((json_t *)v, key, val) {
			if (xsnprintf(buf + len, cap - len, "%s%s=%s", len > 0 ? "," : "",
			    key, json_string_value(val)) == -1)
				return;
			len += strlen(buf + len);
		}
		return;
	}
	case C_ZONES:
	case C_DEVS:
		json_array_foreach(v, i, x) {
			char sub[256];

			if (fmt == C_ZONES)
				cell(json_object_get(x, "prefixes"), C_TEXT, sub, sizeof(sub));
			if (xsnprintf(buf + len, cap - len, fmt == C_ZONES ? "%s%s=%s" :
			    "%s%s (%s)", i > 0 ? " " : "", json_string_value(json_object_get(x,
			    fmt == C_ZONES ? "name" : "id")), fmt == C_ZONES ? sub :
			    json_string_value(json_object_get(x, "status"))) == -1)
				return;
			len += strlen(buf + len);
		}
		if (json_array_size(v) == 0)
			xsnprintf(buf, cap, "-");
		return;
	case C_WINDOW: {
		char a[32] = "", b[32] = "", d[64] = "";

		if (json_object_get(v, "from") != NULL)
			fmt_time(json_integer_value(json_object_get(v, "from")), a, sizeof(a));
		if (json_object_get(v, "until") != NULL)
			fmt_time(json_integer_value(json_object_get(v, "until")), b, sizeof(b));
		if (json_object_get(v, "days") != NULL)
			cell(json_object_get(v, "days"), C_TEXT, d, sizeof(d));
		xsnprintf(buf, cap, "%s%s%s%s%s%s%s", a, a[0] != '\0' || b[0] != '\0' ?
		    ".." : "", b, a[0] != '\0' || b[0] != '\0' ? " " : "",
		    json_object_get(v, "hours") != NULL ? json_string_value(json_object_get(v,
		    "hours")) : "", json_object_get(v, "hours") != NULL && d[0] != '\0' ?
		    " " : "", d);
		return;
	}
	case C_TEXT:
		break;
	}
	if (json_is_string(v))
		xsnprintf(buf, cap, "%s", json_string_value(v));
	else if (json_is_integer(v))
		xsnprintf(buf, cap, "%lld", (long long)json_integer_value(v));
	else if (json_is_boolean(v))
		xsnprintf(buf, cap, "%s", json_is_true(v) ? "yes" : "no");
	else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			char sub[256];

			cell(x, C_TEXT, sub, sizeof(sub));
			if (xsnprintf(buf + len, cap - len, "%s%s", i > 0 ? "," : "", sub) == -1)
				return;
			len += strlen(buf + len);
		}
		if (json_array_size(v) == 0)
			xsnprintf(buf, cap, "-");
	} else {
		char *s = json_dumps(v, JSON_COMPACT);

		xsnprintf(buf, cap, "%s", s != NULL ? s : "?");
		free(s);
	}
}

/* an aligned table of the objects in rows */
static void
table(const json_t *rows, const struct column *cols, size_t ncols)
{
	size_t n = json_array_size(rows), w[16] = { 0 };
	char buf[512];

	for (size_t c = 0; c < ncols && c < nitems(w); c++)
		w[c] = strlen(cols[c].head);
	for (size_t r = 0; r < n; r++)
		for (size_t c = 0; c < ncols; c++) {
			cell(json_object_get(json_array_get(rows, r), cols[c].key),
			    cols[c].fmt, buf, sizeof(buf));
			w[c] = MAX(w[c], strlen(buf));
		}
	for (size_t c = 0; c < ncols; c++)
		printf("%-*s%s", c + 1 < ncols ? (int)w[c] : 0, cols[c].head,
		    c + 1 < ncols ? "  " : "\n");
	for (size_t r = 0; r < n; r++)
		for (size_t c = 0; c < ncols; c++) {
			cell(json_object_get(json_array_get(rows, r), cols[c].key),
			    cols[c].fmt, buf, sizeof(buf));
			printf("%-*s%s", c + 1 < ncols ? (int)w[c] : 0, buf,
			    c + 1 < ncols ? "  " : "\n");
		}
	if (n == 0)
		printf("(none)\n");
}

/* "key: value" lines for one object, in the server's order */
static void
show(const json_t *o, const struct column *cols, size_t ncols)
{
	size_t w = 0;
	char buf[1024];

	for (size_t c = 0; c < ncols; c++)
		w = MAX(w, strlen(cols[c].head));
	for (size_t c = 0; c < ncols; c++) {
		const json_t *v = json_object_get(o, cols[c].key);

		if (v == NULL)
			continue;
		cell(v, cols[c].fmt, buf, sizeof(buf));
		printf("%-*s  %s\n", (int)w, cols[c].head, buf);
	}
}

/* print the response: JSON, or the table of its list, or the object */
static int
out_list(json_t *resp, const char *key, const struct column *cols, size_t ncols)
{
	if (A.json)
		print_json(resp);
	else
		table(json_object_get(resp, key), cols, ncols);
	json_decref(resp);
	return 0;
}

static int
out_obj(json_t *resp, const struct column *cols, size_t ncols)
{
	if (A.json)
		print_json(resp);
	else
		show(resp, cols, ncols);
	json_decref(resp);
	return 0;
}

static int
out_msg(json_t *resp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
out_msg(json_t *resp, const char *fmt, ...)
{
	va_list ap;

	if (A.json) {
		print_json(resp);
	} else {
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	json_decref(resp);
	return 0;
}

/* ---- argument helpers -------------------------------------------------- */

/* getopt_long over a sub-command's argv (argv[0] = the verb) */
static int
subopts(int argc, char **argv, const struct option *opts, int (*on)(int, const char *,
    json_t *), json_t *body, const char *what)
{
	int ch;

	optind = 0;	/* GNU: full reset, and permute (options after operands) */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == '?' || ch == ':')
			return usage_err("%s: unknown option or missing value \"%s\"", what,
			    argv[optind - 1]);
		if (on(ch, optarg, body) != 0)
			return 2;
	}
	return 0;
}

static int
yesno(const char *s, bool *out)
{
	if (strcmp(s, "yes") == 0 || strcmp(s, "true") == 0 || strcmp(s, "on") == 0)
		*out = true;
	else if (strcmp(s, "no") == 0 || strcmp(s, "false") == 0 || strcmp(s, "off") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

/* Unix seconds, YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SSZ */
static int
time_parse(const char *s, long long *out)
{
	struct tm tm;
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s != '\0' && *end == '\0' && errno == 0 && v >= 0) {
		*out = v;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0') {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
		if (end == NULL || *end != '\0')
			return -1;
	}
	*out = (long long)timegm(&tm);
	return 0;
}

static int
need_args(int argc, int want, const char *synopsis)
{
	if (argc - optind != want)
		return usage_err("usage: odvpn admin %s", synopsis);
	return 0;
}

/* ---- organisations, sites, devices: one shape ------------------------------
 *
 * odvpn admin NOUN list [--FILTER X] | show ID | add ID [options] | set ID [options]
 * | del ID, over the collection /v1/admin/NOUNs and its members.
 */
struct crud {
	const char		*noun;		/* the command word: "site" */
	const char		*what;		/* in messages: "organisation" */
	const char		*coll;		/* collection path */
	const char		*list_key;	/* the array in the list answer */
	const char		*filter;	/* list filter (body key and query), or NULL */
	const char		*filter_arg;	/* its argument in the usage line */
	const char		*id_key;	/* "name" or "id" in the add body */
	const char		*id_what;	/* "name" or "device id" in messages */
	const struct option	*opts;
	int			(*opt)(int, const char *, json_t *);
	const struct column	*cols, *show_cols;
	size_t			 ncols, nshow;
	void			(*before_add)(json_t *body);		/* may be NULL */
	void			(*after_show)(const json_t *reply);	/* may be NULL */
	int			(*added)(json_t *reply, const char *id);	/* may be NULL */
};

static int
crud_cmd(const struct crud *c, int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "", *id;
	json_t *b = json_object(), *r;
	char path[256], usage[128];
	int rc;

	if ((rc = subopts(argc - 1, argv + 1, c->opts, c->opt, b, c->noun)) != 0)
		goto out;
	if (strcmp(verb, "list") == 0) {
		const char *kv[] = { c->filter, c->filter ? jsonx_str(b, c->filter) : NULL };

		query_path(path, sizeof(path), c->coll, kv, c->filter ? nitems(kv) : 0);
		if (c->filter != NULL)
			xsnprintf(usage, sizeof(usage), "%s list [--%s %s]", c->noun, c->filter,
			    c->filter_arg);
		else
			xsnprintf(usage, sizeof(usage), "%s list", c->noun);
		if ((rc = need_args(argc - 1, 0, usage)) != 0 ||
		    (rc = http("GET", path, NULL, &r)) != 0)
			goto out;
		rc = out_list(r, c->list_key, c->cols, c->ncols);
		goto out;
	}
	if (argc - 1 - optind != 1) {
		rc = usage_err("usage: odvpn admin %s list|show|add|set|del %s [options]",
		    c->noun, strcmp(c->id_key, "id") == 0 ? "ID" : "NAME");
		goto out;
	}
	id = argv[1 + optind];
	if (!seg_ok(id)) {
		rc = usage_err("\"%s\" is not a valid %s", id, c->id_what);
		goto out;
	}
	xsnprintf(path, sizeof(path), "%s/%s", c->coll, id);
	if (strcmp(verb, "show") == 0) {
		if ((rc = http("GET", path, NULL, &r)) != 0)
			goto out;
		if (A.json || c->after_show == NULL) {
			rc = out_obj(r, A.json ? NULL : c->show_cols, A.json ? 0 : c->nshow);
			goto out;
		}
		show(r, c->show_cols, c->nshow);
		c->after_show(r);
		json_decref(r);
	} else if (strcmp(verb, "add") == 0) {
		json_object_set_new(b, c->id_key, json_string(id));
		if (c->before_add != NULL)
			c->before_add(b);
		if ((rc = http("POST", c->coll, b, &r)) == 0)
			rc = c->added != NULL ? c->added(r, id) :
			    out_msg(r, "%s %s added", c->what, id);
	} else if (strcmp(verb, "set") == 0) {
		if ((rc = http("PATCH", path, b, &r)) == 0)
			rc = out_obj(r, c->show_cols, c->nshow);
	} else if (strcmp(verb, "del") == 0) {
		if ((rc = http("DELETE", path, NULL, &r)) == 0)
			rc = out_msg(r, "%s %s deleted", c->what, id);
	} else
		rc = usage_err("%s: unknown verb \"%s\"", c->noun, verb);
out:
	json_decref(b);
	return rc;
}

/* ---- organisations ----------------------------------------------------- */

static const struct column org_cols[] = {
	{ "NAME", "name", C_TEXT }, { "KIND", "kind", C_TEXT },
	{ "STATUS", "status", C_TEXT }, { "AUTO-APPROVE", "auto_approve", C_BOOL },
	{ "DESCRIPTION", "description", C_TEXT },
};

static int
org_opt(int ch, const char *arg, json_t *b)
{
	bool yes;

	switch (ch) {
	case 'k':
		json_object_set_new(b, "kind", json_string(arg));
		break;
	case 's':
		json_object_set_new(b, "status", json_string(arg));
		break;
	case 'S':
		json_object_set_new(b, "status", json_string("suspended"));
		break;
	case 'a':
		if (yesno(arg, &yes) == -1)
			return usage_err("--auto-approve takes yes or no");
		json_object_set_new(b, "auto_approve", json_boolean(yes));
		break;
	case 'd':
		json_object_set_new(b, "description", json_string(arg));
		break;
	}
	return 0;
}

static const struct option org_opts[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "status", required_argument, NULL, 's' },
		{ "suspended", no_argument, NULL, 'S' },
		{ "auto-approve", required_argument, NULL, 'a' },
		{ "description", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
};

static const struct crud org_crud = {
	.noun = "org", .what = "organisation", .coll = "/v1/admin/orgs", .list_key = "orgs",
	.id_key = "name", .id_what = "name", .opts = org_opts, .opt = org_opt,
	.cols = org_cols, .ncols = nitems(org_cols),
	.show_cols = org_cols, .nshow = nitems(org_cols),
};

static int
cmd_org(int argc, char **argv)
{
	return crud_cmd(&org_crud, argc, argv);
}

/* ---- sites ------------------------------------------------------------- */

static const struct column site_cols[] = {
	{ "NAME", "name", C_TEXT }, { "ORG", "org", C_TEXT },
	{ "PREFIXES", "prefixes", C_TEXT }, { "WAN", "wan", C_TEXT },
	{ "PORT", "wan_port", C_TEXT }, { "STATUS", "status", C_TEXT },
};
static const struct column site_show[] = {
	{ "name", "name", C_TEXT }, { "org", "org", C_TEXT },
	{ "prefixes", "prefixes", C_TEXT }, { "zones", "zones", C_ZONES },
	{ "wan", "wan", C_TEXT }, { "wan port", "wan_port", C_TEXT },
	{ "status", "status", C_TEXT }, { "groups", "groups", C_TEXT },
	{ "devices", "devices", C_DEVS }, { "description", "description", C_TEXT },
	{ "created", "created", C_TIME }, { "updated", "updated", C_TIME },
};

/* --zone NAME=P[,P...] */
static int
zone_arg(const char *arg, json_t *b)
{
	const char *eq = strchr(arg, '=');
	json_t *zones = json_object_get(b, "zones"), *pfx = json_array();
	char *list, *save = NULL;

	if (eq == NULL || eq == arg || eq[1] == '\0') {
		json_decref(pfx);
		return usage_err("--zone takes NAME=PREFIX[,PREFIX...]");
	}
	list = xstrdup(eq + 1);
	for (char *p = strtok_r(list, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save))
		json_array_append_new(pfx, json_string(p));
	free(list);
	if (zones == NULL) {
		zones = json_array();
		json_object_set_new(b, "zones", zones);
	}
	json_array_append_new(zones, json_pack("{s:s%,s:o}", "name", arg,
	    (size_t)(eq - arg), "prefixes", pfx));
	return 0;
}

static int
site_opt(int ch, const char *arg, json_t *b)
{
	json_t *a;
	char *end;
	long v;

	switch (ch) {
	case 'o':
		json_object_set_new(b, "org", json_string(arg));
		break;
	case 'p':
		if ((a = json_object_get(b, "prefixes")) == NULL) {
			a = json_array();
			json_object_set_new(b, "prefixes", a);
		}
		json_array_append_new(a, json_string(arg));
		break;
	case 'z':
		return zone_arg(arg, b);
	case 'w':
		json_object_set_new(b, "wan", json_string(strcmp(arg, "none") == 0 ? "" :
		    arg));
		break;
	case 'P':
		v = strtol(arg, &end, 10);
		if (*arg == '\0' || *end != '\0' || v < 1 || v > 65535)
			return usage_err("--wan-port takes a port number 1-65535");
		json_object_set_new(b, "wan_port", json_integer(v));
		break;
	case 's':
		json_object_set_new(b, "status", json_string(arg));
		break;
	case 'S':
		json_object_set_new(b, "status", json_string("suspended"));
		break;
	case 'd':
		json_object_set_new(b, "description", json_string(arg));
		break;
	}
	return 0;
}

static const struct option site_opts[] = {
		{ "org", required_argument, NULL, 'o' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "zone", required_argument, NULL, 'z' },
		{ "wan", required_argument, NULL, 'w' },
		{ "wan-port", required_argument, NULL, 'P' },
		{ "status", required_argument, NULL, 's' },
		{ "suspended", no_argument, NULL, 'S' },
		{ "description", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
};

/* an empty --wan on add means "not known yet": leave it out */
static void
site_before_add(json_t *b)
{
	if (json_object_get(b, "wan") != NULL && strcmp(jsonx_str(b, "wan"), "") == 0)
		json_object_del(b, "wan");
}

static const struct crud site_crud = {
	.noun = "site", .what = "site", .coll = "/v1/admin/sites", .list_key = "sites",
	.filter = "org", .filter_arg = "ORG", .id_key = "name", .id_what = "name",
	.opts = site_opts, .opt = site_opt, .cols = site_cols, .ncols = nitems(site_cols),
	.show_cols = site_show, .nshow = nitems(site_show), .before_add = site_before_add,
};

static int
cmd_site(int argc, char **argv)
{
	return crud_cmd(&site_crud, argc, argv);
}

/* ---- devices ----------------------------------------------------------- */

static const struct column device_cols[] = {
	{ "ID", "id", C_TEXT }, { "SITE", "site", C_TEXT }, { "STATUS", "status", C_TEXT },
	{ "SERVICE SERIAL", "service_serial", C_TEXT },
	{ "SERVICE UNTIL", "service_not_after", C_TIME },
};
static const struct column device_show[] = {
	{ "id", "id", C_TEXT }, { "site", "site", C_TEXT }, { "status", "status", C_TEXT },
	{ "fingerprint", "fingerprint", C_TEXT },
	{ "service serial", "service_serial", C_TEXT },
	{ "service until", "service_not_after", C_TIME },
	{ "enrolled", "enrolled", C_TIME }, { "description", "description", C_TEXT },
	{ "created", "created", C_TIME }, { "updated", "updated", C_TIME },
};

static int
device_opt(int ch, const char *arg, json_t *b)
{
	uint8_t *data;
	size_t len;

	switch (ch) {
	case 's':
		json_object_set_new(b, "site", json_string(arg));
		break;
	case 'f':
		json_object_set_new(b, "fingerprint", json_string(arg));
		break;
	case 'c':
		if (file_read_all(arg, 64 * 1024, &data, &len) == -1)
			return fail("%s: %s", arg, strerror(errno)) + 1;
		json_object_set_new(b, "certificate", json_stringn((char *)data, len));
		free(data);
		if (json_object_get(b, "certificate") == NULL)
			return usage_err("%s: not a PEM text file", arg);
		break;
	case 'd':
		json_object_set_new(b, "description", json_string(arg));
		break;
	}
	return 0;
}

static const struct option device_opts[] = {
		{ "site", required_argument, NULL, 's' },
		{ "fingerprint", required_argument, NULL, 'f' },
		{ "cert", required_argument, NULL, 'c' },
		{ "description", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
};

/* below the device's fields: its service certificates */
static void
device_after_show(const json_t *r)
{
	static const struct column cc[] = {
		{ "SERIAL", "serial", C_TEXT },
		{ "STATUS", "status", C_TEXT },
		{ "NOT BEFORE", "not_before", C_TIME },
		{ "NOT AFTER", "not_after", C_TIME },
	};
	json_t *certs = json_object_get(r, "certificates");

	if (json_array_size(certs) > 0) {
		printf("\nservice certificates:\n");
		table(certs, cc, nitems(cc));
	}
}

static int
device_added(json_t *r, const char *id)
{
	return out_msg(r, "device %s registered to site %s (fingerprint %s)", id,
	    jsonx_str(r, "site"), jsonx_str(r, "fingerprint"));
}

static const struct crud device_crud = {
	.noun = "device", .what = "device", .coll = "/v1/admin/devices",
	.list_key = "devices", .filter = "site", .filter_arg = "SITE", .id_key = "id",
	.id_what = "device id", .opts = device_opts, .opt = device_opt,
	.cols = device_cols, .ncols = nitems(device_cols),
	.show_cols = device_show, .nshow = nitems(device_show),
	.after_show = device_after_show, .added = device_added,
};

static int
cmd_device(int argc, char **argv)
{
	return crud_cmd(&device_crud, argc, argv);
}

/* ---- groups ------------------------------------------------------------ */

static const struct column group_cols[] = {
	{ "NAME", "name", C_TEXT }, { "MEMBERS", "members", C_TEXT },
	{ "DESCRIPTION", "description", C_TEXT },
};

static int
group_opt(int ch, const char *arg, json_t *b)
{
	if (ch == 'd')
		json_object_set_new(b, "description", json_string(arg));
	return 0;
}

static int
cmd_group(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "description", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *verb = argc > 1 ? argv[1] : "";
	json_t *b = json_object(), *r;
	char path[256];
	int rc;

	if (strcmp(verb, "member") == 0) {
		const char *mv = argc > 2 ? argv[2] : "";

		if (argc != 5 || !seg_ok(argv[3]) || !seg_ok(argv[4])) {
			rc = usage_err("usage: odvpn admin group member add|del GROUP SITE");
			goto out;
		}
		if (strcmp(mv, "add") == 0) {
			xsnprintf(path, sizeof(path), "/v1/admin/groups/%s/members", argv[3]);
			json_object_set_new(b, "site", json_string(argv[4]));
			if ((rc = http("POST", path, b, &r)) == 0)
				rc = out_msg(r, "site %s added to group %s", argv[4], argv[3]);
		} else if (strcmp(mv, "del") == 0) {
			xsnprintf(path, sizeof(path), "/v1/admin/groups/%s/members/%s", argv[3],
			    argv[4]);
			if ((rc = http("DELETE", path, NULL, &r)) == 0)
				rc = out_msg(r, "site %s removed from group %s", argv[4],
				    argv[3]);
		} else
			rc = usage_err("group member: unknown verb \"%s\"", mv);
		goto out;
	}
	if ((rc = subopts(argc - 1, argv + 1, opts, group_opt, b, "group")) != 0)
		goto out;
	if (strcmp(verb, "list") == 0) {
		if ((rc = need_args(argc - 1, 0, "group list")) != 0 ||
		    (rc = http("GET", "/v1/admin/groups", NULL, &r)) != 0)
			goto out;
		rc = out_list(r, "groups", group_cols, nitems(group_cols));
		goto out;
	}
	if (argc - 1 - optind != 1 || !seg_ok(argv[1 + optind])) {
		rc = usage_err("usage: odvpn admin group list|show|add|del NAME");
		goto out;
	}
	xsnprintf(path, sizeof(path), "/v1/admin/groups/%s", argv[1 + optind]);
	if (strcmp(verb, "show") == 0) {
		if ((rc = http("GET", path, NULL, &r)) == 0)
			rc = out_obj(r, group_cols, nitems(group_cols));
	} else if (strcmp(verb, "add") == 0) {
		json_object_set_new(b, "name", json_string(argv[1 + optind]));
		if ((rc = http("POST", "/v1/admin/groups", b, &r)) == 0)
			rc = out_msg(r, "group %s added", argv[1 + optind]);
	} else if (strcmp(verb, "del") == 0) {
		if ((rc = http("DELETE", path, NULL, &r)) == 0)
			rc = out_msg(r, "group %s deleted", argv[1 + optind]);
	} else
		rc = usage_err("group: unknown verb \"%s\"", verb);
out:
	json_decref(b);
	return rc;
}

/* ---- rules ------------------------------------------------------------- */

static const struct column rule_cols[] = {
	{ "ID", "id", C_TEXT }, { "OWNER", "owner", C_TEXT }, { "GROUP", "group", C_TEXT },
	{ "SRC", "src", C_SEL }, { "DST", "dst", C_SEL }, { "BOTH", "both", C_BOOL },
	{ "PROTO", "proto", C_TEXT }, { "PORTS", "ports", C_TEXT },
	{ "WINDOW", "window", C_WINDOW }, { "APPROVAL", "auto_approve", C_TEXT },
};

/* SEL: site=S,org=O,zone=Z,prefix=P */
static int
sel_arg(const char *opt, const char *arg, json_t *b, const char *key)
{
	json_t *o = json_object();
	char *copy = xstrdup(arg), *save = NULL;

	for (char *p = strtok_r(copy, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(p, '=');

		if (eq == NULL || (strncmp(p, "site=", 5) != 0 && strncmp(p, "org=", 4) != 0 &&
		    strncmp(p, "zone=", 5) != 0 && strncmp(p, "prefix=", 7) != 0)) {
			free(copy);
			json_decref(o);
			return usage_err("%s takes site=S,org=O,zone=Z,prefix=P (any of them)",
			    opt);
		}
		*eq = '\0';
		json_object_set_new(o, p, json_string(eq + 1));
	}
	free(copy);
	json_object_set_new(b, key, o);
	return 0;
}

static json_t *
window_of(json_t *b)
{
	json_t *w = json_object_get(b, "window");

	if (w == NULL) {
		w = json_object();
		json_object_set_new(b, "window", w);
	}
	return w;
}

static int
rule_opt(int ch, const char *arg, json_t *b)
{
	long long t;
	bool yes;

	switch (ch) {
	case 'o':
		json_object_set_new(b, "owner", json_string(arg));
		break;
	case 'g':
		json_object_set_new(b, "group", json_string(arg));
		break;
	case 's':
		return sel_arg("--src", arg, b, "src");
	case 'd':
		return sel_arg("--dst", arg, b, "dst");
	case 'B':
		json_object_set_new(b, "both", json_true());
		break;
	case 'p':
		json_object_set_new(b, "proto", json_string(arg));
		break;
	case 'P':
		json_object_set_new(b, "ports", json_string(arg));
		break;
	case 'f':
	case 'u':
		if (time_parse(arg, &t) == -1)
			return usage_err("--%s takes a TIME", ch == 'f' ? "from" : "until");
		json_object_set_new(window_of(b), ch == 'f' ? "from" : "until",
		    json_integer(t));
		break;
	case 'h':
		json_object_set_new(window_of(b), "hours", json_string(arg));
		break;
	case 'D': {
		json_t *days = json_array();
		char *copy = xstrdup(arg), *save = NULL;

		for (char *p = strtok_r(copy, ",", &save); p != NULL;
		    p = strtok_r(NULL, ",", &save))
			json_array_append_new(days, json_string(p));
		free(copy);
		json_object_set_new(window_of(b), "days", days);
		break;
	}
	case 'a':
		if (yesno(arg, &yes) == -1)
			return usage_err("--auto-approve takes yes or no");
		json_object_set_new(b, "auto_approve", json_boolean(yes));
		break;
	case 'x':
		json_object_set_new(b, "description", json_string(arg));
		break;
	}
	return 0;
}

static int
cmd_rule(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "owner", required_argument, NULL, 'o' },
		{ "group", required_argument, NULL, 'g' },
		{ "src", required_argument, NULL, 's' },
		{ "dst", required_argument, NULL, 'd' },
		{ "both", no_argument, NULL, 'B' },
		{ "proto", required_argument, NULL, 'p' },
		{ "ports", required_argument, NULL, 'P' },
		{ "from", required_argument, NULL, 'f' },
		{ "until", required_argument, NULL, 'u' },
		{ "hours", required_argument, NULL, 'h' },
		{ "days", required_argument, NULL, 'D' },
		{ "auto-approve", required_argument, NULL, 'a' },
		{ "description", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	const char *verb = argc > 1 ? argv[1] : "";
	json_t *b = json_object(), *r;
	char path[256];
	int rc;

	if ((rc = subopts(argc - 1, argv + 1, opts, rule_opt, b, "rule")) != 0)
		goto out;
	if (strcmp(verb, "list") == 0) {
		const char *kv[] = { "owner", jsonx_str(b, "owner") };

		query_path(path, sizeof(path), "/v1/admin/rules", kv, nitems(kv));
		if ((rc = need_args(argc - 1, 0, "rule list [--owner provider|ORG]")) != 0 ||
		    (rc = http("GET", path, NULL, &r)) != 0)
			goto out;
		if (!A.json) {
			/* an owner of null is the provider */
			size_t i;
			json_t *x;

			json_array_foreach(json_object_get(r, "rules"), i, x) {
				json_t *aa = json_object_get(x, "auto_approve");

				if (json_is_null(json_object_get(x, "owner")))
					json_object_set_new(x, "owner", json_string("provider"));
				json_object_set_new(x, "auto_approve", json_string(
				    json_is_true(aa) ? "auto" : json_is_false(aa) ? "manual" :
				    "org"));
			}
		}
		rc = out_list(r, "rules", rule_cols, nitems(rule_cols));
		goto out;
	}
	if (strcmp(verb, "add") == 0) {
		if ((rc = need_args(argc - 1, 0, "rule add [options]")) != 0)
			goto out;
		if ((rc = http("POST", "/v1/admin/rules", b, &r)) == 0)
			rc = out_msg(r, "rule %lld added", (long long)json_integer_value(
			    json_object_get(r, "id")));
		goto out;
	}
	if (argc - 1 - optind != 1 || !seg_ok(argv[1 + optind])) {
		rc = usage_err("usage: odvpn admin rule list|add|show ID|del ID");
		goto out;
	}
	xsnprintf(path, sizeof(path), "/v1/admin/rules/%s", argv[1 + optind]);
	if (strcmp(verb, "show") == 0) {
		if ((rc = http("GET", path, NULL, &r)) == 0) {
			print_json(r);
			json_decref(r);
		}
	} else if (strcmp(verb, "del") == 0) {
		if ((rc = http("DELETE", path, NULL, &r)) == 0)
			rc = out_msg(r, "rule %s deleted", argv[1 + optind]);
	} else
		rc = usage_err("rule: unknown verb \"%s\"", verb);
out:
	json_decref(b);
	return rc;
}

/* ---- connections and grants -------------------------------------------- */

static const struct column grant_cols[] = {
	{ "ID", "id", C_TEXT }, { "INITIATOR", "initiator", C_TEXT },
	{ "RESPONDER", "responder", C_TEXT }, { "STATUS", "status", C_TEXT },
	{ "NOT AFTER", "not_after", C_TIME }, { "FLOWS", "nflows", C_TEXT },
	{ "REASON", "reason", C_TEXT },
};

static void
grant_print(const json_t *g)
{
	static const struct column gc[] = {
		{ "grant", "id", C_TEXT }, { "initiator", "initiator", C_TEXT },
		{ "responder", "responder", C_TEXT },
		{ "initiator device", "initiator_device", C_TEXT },
		{ "responder device", "responder_device", C_TEXT },
		{ "status", "status", C_TEXT }, { "reason", "reason", C_TEXT },
		{ "not before", "not_before", C_TIME }, { "not after", "not_after", C_TIME },
		{ "requested by", "requested_by", C_TEXT },
	};
	static const struct column fc[] = {
		{ "FROM", "from", C_TEXT }, { "SRC", "src", C_TEXT }, { "DST", "dst", C_TEXT },
		{ "PROTO", "proto", C_TEXT }, { "PORTS", "ports", C_TEXT },
	};

	show(g, gc, nitems(gc));
	printf("\nflows:\n");
	table(json_object_get(g, "flows"), fc, nitems(fc));
}

static int
adm_connect(int argc, char **argv)
{
	json_t *b, *r;
	const char *d;
	int rc;

	if (argc != 3 || !seg_ok(argv[1]) || !seg_ok(argv[2]))
		return usage_err("usage: odvpn admin connect INITIATOR_SITE RESPONDER_SITE");
	b = json_pack("{s:s,s:s}", "initiator", argv[1], "responder", argv[2]);
	rc = http("POST", "/v1/admin/connections", b, &r);
	json_decref(b);
	if (rc != 0)
		return rc;
	d = jsonx_str(r, "decision");
	rc = d != NULL && strcmp(d, "denied") == 0 ? 1 : 0;
	if (A.json) {
		print_json(r);
	} else {
		printf("%s: %s\n", d != NULL ? d : "?", jsonx_str(r, "reason"));
		if (json_is_object(json_object_get(r, "grant"))) {
			printf("\n");
			grant_print(json_object_get(r, "grant"));
		}
	}
	json_decref(r);
	return rc;
}

static int
grant_opt(int ch, const char *arg, json_t *b)
{
	switch (ch) {
	case 's':
		json_object_set_new(b, "status", json_string(arg));
		break;
	case 'S':
		json_object_set_new(b, "site", json_string(arg));
		break;
	case 'r':
		json_object_set_new(b, "reason", json_string(arg));
		break;
	}
	return 0;
}

static int
cmd_grant(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "status", required_argument, NULL, 's' },
		{ "site", required_argument, NULL, 'S' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *verb = argc > 1 ? argv[1] : "";
	json_t *b = json_object(), *r, *g;
	char path[256];
	size_t i;
	int rc;

	if ((rc = subopts(argc - 1, argv + 1, opts, grant_opt, b, "grant")) != 0)
		goto out;
	if (strcmp(verb, "list") == 0) {
		const char *kv[] = { "status", jsonx_str(b, "status"), "site",
		    jsonx_str(b, "site") };

		query_path(path, sizeof(path), "/v1/admin/grants", kv, nitems(kv));
		if ((rc = need_args(argc - 1, 0, "grant list [--status S] [--site S]")) != 0 ||
		    (rc = http("GET", path, NULL, &r)) != 0)
			goto out;
		json_array_foreach(json_object_get(r, "grants"), i, g)
			if (!A.json)
				json_object_set_new(g, "nflows", json_integer((json_int_t)
				    json_array_size(json_object_get(g, "flows"))));
		rc = out_list(r, "grants", grant_cols, nitems(grant_cols));
		goto out;
	}
	if (argc - 1 - optind != 1 || !seg_ok(argv[1 + optind])) {
		rc = usage_err("usage: odvpn admin grant list|show|approve|deny|withdraw ID");
		goto out;
	}
	if (strcmp(verb, "show") == 0) {
		xsnprintf(path, sizeof(path), "/v1/admin/grants/%s", argv[1 + optind]);
		if ((rc = http("GET", path, NULL, &r)) != 0)
			goto out;
		if (A.json)
			print_json(r);
		else
			grant_print(r);
		json_decref(r);
	} else if (strcmp(verb, "approve") == 0 || strcmp(verb, "deny") == 0 ||
	    strcmp(verb, "withdraw") == 0) {
		json_t *rb = json_object();

		if (jsonx_str(b, "reason") != NULL)
			json_object_set(rb, "reason", json_object_get(b, "reason"));
		xsnprintf(path, sizeof(path), "/v1/admin/grants/%s/%s", argv[1 + optind],
		    verb);
		rc = http("POST", path, json_object_size(rb) > 0 ? rb : NULL, &r);
		json_decref(rb);
		if (rc == 0)
			rc = out_msg(r, "grant %s: %s (%s)", argv[1 + optind],
			    jsonx_str(r, "status"), jsonx_str(r, "reason"));
	} else
		rc = usage_err("grant: unknown verb \"%s\"", verb);
out:
	json_decref(b);
	return rc;
}

/* ---- revocation -------------------------------------------------------- */

static int
revoke_opt(int ch, const char *arg, json_t *b)
{
	if (ch == 'r')
		json_object_set_new(b, "reason", json_string(arg));
	return 0;
}

static int
cmd_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct column cols[] = {
		{ "SERIAL", "serial", C_TEXT }, { "DEVICE", "device", C_TEXT },
		{ "REASON", "reason", C_TEXT }, { "TIME", "time", C_TIME },
		{ "BY", "actor", C_TEXT },
	};
	const char *what = argc > 1 ? argv[1] : "";
	json_t *b = json_object(), *r;
	int rc;

	if ((rc = subopts(argc - 1, argv + 1, opts, revoke_opt, b, "revoke")) != 0)
		goto out;
	if (strcmp(what, "list") == 0) {
		if ((rc = need_args(argc - 1, 0, "revoke list")) == 0 &&
		    (rc = http("GET", "/v1/admin/revocations", NULL, &r)) == 0)
			rc = out_list(r, "revocations", cols, nitems(cols));
		goto out;
	}
	if (argc - 1 - optind != 1 || (strcmp(what, "device") != 0 &&
	    strcmp(what, "serial") != 0)) {
		rc = usage_err("usage: odvpn admin revoke device ID | serial HEX | list "
		    "[--reason R]");
		goto out;
	}
	json_object_set_new(b, what, json_string(argv[1 + optind]));
	if ((rc = http("POST", "/v1/admin/revocations", b, &r)) == 0) {
		json_t *s = json_object_get(r, "serials");
		char list[512];

		cell(s, C_TEXT, list, sizeof(list));
		rc = out_msg(r, "revoked (%s): device %s, certificate(s) %s; CRL number %lld",
		    jsonx_str(r, "reason"), jsonx_str(r, "device"), list,
		    (long long)json_integer_value(json_object_get(r, "crl_number")));
	}
out:
	json_decref(b);
	return rc;
}

/* ---- audit ------------------------------------------------------------- */

static int
audit_opt(int ch, const char *arg, json_t *b)
{
	static const char *const keys[] = { [ 's' ] = "since", [ 'u' ] = "until",
	    [ 'S' ] = "site", [ 'd' ] = "device", [ 'k' ] = "kind", [ 'a' ] = "after",
	    [ 'l' ] = "limit" };
	long long t;
	char num[32];

	if (ch == 's' || ch == 'u') {
		if (time_parse(arg, &t) == -1)
			return usage_err("--%s takes a TIME", keys[ch]);
		xsnprintf(num, sizeof(num), "%lld", t);
		json_object_set_new(b, keys[ch], json_string(num));
	} else if ((size_t)ch < nitems(keys) && keys[ch] != NULL)
		json_object_set_new(b, keys[ch], json_string(arg));
	return 0;
}

static int	audit_trail(int, char **);

static int
cmd_audit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "site", required_argument, NULL, 'S' },
		{ "device", required_argument, NULL, 'd' },
		{ "kind", required_argument, NULL, 'k' },
		{ "after", required_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct column cols[] = {
		{ "SEQ", "seq", C_TEXT }, { "TIME", "time_ms", C_TIME_MS },
		{ "KIND", "kind", C_TEXT }, { "ACTOR", "actor", C_TEXT },
		{ "SITE", "site", C_TEXT }, { "DEVICE", "device", C_TEXT },
		{ "GRANT", "grant", C_TEXT }, { "DETAIL", "detail", C_TEXT },
	};
	json_t *b = json_object(), *r;
	char path[1024];
	int rc;

	if (argc > 1 && strcmp(argv[1], "trail") == 0) {
		rc = audit_trail(argc, argv);
		goto out;
	}
	if (argc > 1 && strcmp(argv[1], "verify") == 0) {
		if (argc != 2) {
			rc = usage_err("usage: odvpn admin audit verify");
			goto out;
		}
		if ((rc = http("GET", "/v1/admin/audit/verify", NULL, &r)) != 0)
			goto out;
		if (json_is_true(json_object_get(r, "ok")))
			rc = out_msg(r, "audit trail intact: %lld records, head %s",
			    (long long)json_integer_value(json_object_get(r, "records")),
			    jsonx_str(r, "head"));
		else {
			if (A.json)
				print_json(r);
			else
				fprintf(stderr, "odvpn admin: audit trail BROKEN after %lld "
				    "good records: %s\n", (long long)json_integer_value(
				    json_object_get(r, "records")), jsonx_str(r, "error"));
			json_decref(r);
			rc = 1;
		}
		goto out;
	}
	if ((rc = subopts(argc, argv, opts, audit_opt, b, "audit")) != 0)
		goto out;
	if (optind != argc) {
		rc = usage_err("usage: odvpn admin audit [options] | audit verify");
		goto out;
	}
	{
		const char *kv[] = { "since", jsonx_str(b, "since"), "until",
		    jsonx_str(b, "until"), "site", jsonx_str(b, "site"), "device",
		    jsonx_str(b, "device"), "kind", jsonx_str(b, "kind"), "after",
		    jsonx_str(b, "after"), "limit", jsonx_str(b, "limit") };

		query_path(path, sizeof(path), "/v1/admin/audit", kv, nitems(kv));
	}
	if ((rc = http("GET", path, NULL, &r)) == 0)
		rc = out_list(r, "events", cols, nitems(cols));
out:
	json_decref(b);
	return rc;
}

/* ---- audit trail: the three viewpoints of one grant (REQ-AUD-2) -------- */

enum view { V_CENTER, V_INITIATOR, V_RESPONDER, V_OTHER };

#define TRAIL_MATCH_MS	5000	/* both ends' sa_up/sa_down within this of each other */

/* one line of what a record says, for its column */
static void
trail_words(const json_t *r, char *out, size_t cap)
{
	const char *kind = jsonx_str(r, "kind");
	const json_t *d = json_object_get(r, "detail");
	const json_t *f = json_object_get(d, "flow");

	if (kind == NULL)
		kind = "?";
	if (strncmp(kind, "device.", 7) != 0) {
		/* the center's column: the decision, not its wording */
		xsnprintf(out, cap, "%s", kind);
		return;
	}
	kind += 7;
	if (f != NULL)
		xsnprintf(out, cap, "flow %s:%lld > %s:%lld p%lld, %lld B out %lld B in",
		    jsonx_str(f, "src") ? jsonx_str(f, "src") : "?", jsonx_int(f, "sport", 0),
		    jsonx_str(f, "dst") ? jsonx_str(f, "dst") : "?", jsonx_int(f, "dport", 0),
		    jsonx_int(f, "proto", 0), jsonx_int(f, "bytes_out", 0),
		    jsonx_int(f, "bytes_in", 0));
	else if (jsonx_str(d, "reason") != NULL)
		xsnprintf(out, cap, "%s (%s)", kind, jsonx_str(d, "reason"));
	else
		xsnprintf(out, cap, "%s", kind);
}

static enum view
trail_view(const json_t *r, const char *idev, const char *rdev)
{
	const char *actor = jsonx_str(r, "actor");

	if (actor == NULL)
		return V_OTHER;
	/* a device's own reports; everything else is the center's record (a
	 * decision on a device's application included) */
	if (strncmp(actor, "device:", 7) == 0 && jsonx_str(r, "kind") != NULL &&
	    strncmp(jsonx_str(r, "kind"), "device.", 7) == 0) {
		if (idev != NULL && strcmp(actor + 7, idev) == 0)
			return V_INITIATOR;
		if (rdev != NULL && strcmp(actor + 7, rdev) == 0)
			return V_RESPONDER;
		return V_OTHER;
	}
	return V_CENTER;
}

/* the flow as the other end saw it: same 5-tuple, from the other device */
static const json_t *
trail_twin_flow(const json_t *recs, const json_t *f, enum view want, const char *idev,
    const char *rdev, bool *used)
{
	size_t i;
	json_t *r;

	json_array_foreach(recs, i, r) {
		const json_t *g = json_object_get(json_object_get(r, "detail"), "flow");

		if (g == NULL || used[i] || trail_view(r, idev, rdev) != want)
			continue;
		if (json_equal(json_object_get(g, "src"), json_object_get(f, "src")) &&
		    json_equal(json_object_get(g, "dst"), json_object_get(f, "dst")) &&
		    jsonx_int(g, "proto", -1) == jsonx_int(f, "proto", -2) &&
		    jsonx_int(g, "sport", 0) == jsonx_int(f, "sport", 0) &&
		    jsonx_int(g, "dport", 0) == jsonx_int(f, "dport", 0)) {
			used[i] = true;
			return g;
		}
	}
	return NULL;
}

/* when it happened: a device's own clock for its reports (in the detail),
 * the center's for its records */
static long long
trail_ms(const json_t *r)
{
	const json_t *d = json_object_get(r, "detail");

	if (jsonx_str(r, "kind") != NULL && strncmp(jsonx_str(r, "kind"), "device.", 7) == 0 &&
	    json_is_integer(json_object_get(d, "time_ms")))
		return json_integer_value(json_object_get(d, "time_ms"));
	return jsonx_int(r, "time_ms", 0);
}

static int
trail_cmp(const void *a, const void *b)
{
	long long x = trail_ms(*(json_t *const *)a), y = trail_ms(*(json_t *const *)b);

	if (x != y)
		return x < y ? -1 : 1;
	return jsonx_int(*(json_t *const *)a, "seq", 0) <
	    jsonx_int(*(json_t *const *)b, "seq", 0) ? -1 : 1;
}

/* an sa_up/sa_down of the other end within TRAIL_MATCH_MS */
static bool
trail_twin_sa(const json_t *recs, const json_t *r, enum view want, const char *idev,
    const char *rdev, bool *used)
{
	long long t = trail_ms(r);
	size_t i;
	json_t *x;

	json_array_foreach(recs, i, x) {
		if (used[i] || trail_view(x, idev, rdev) != want ||
		    !json_equal(json_object_get(x, "kind"), json_object_get(r, "kind")))
			continue;
		if (llabs(trail_ms(x) - t) <= TRAIL_MATCH_MS) {
			used[i] = true;
			return true;
		}
	}
	return false;
}

/*
 * odvpn admin audit trail GRANT: every record about one grant — the center's
 * decisions and both devices' own reports — on one time line, in three
 * columns, then matched against each other: each end's tunnel ups and downs
 * with the other end's, and each flow with the other end's record of it
 * (bytes one way at one end = bytes the other way at the other).
 */
static int
audit_trail(int argc, char **argv)
{
	json_t *g = NULL, *page = NULL, *recs = json_array(), *r;
	const char *idev, *rdev, *isite, *rsite;
	long long id, since, after = 0;
	size_t i, n_sa = 0, sa_matched = 0, n_fl = 0, fl_matched = 0, fl_agree = 0;
	char path[256], num[32], aft[32];
	bool *used = NULL;
	int rc;

	if (argc != 3 || (id = strtoll(argv[2], NULL, 10)) <= 0)
		return usage_err("usage: odvpn admin audit trail GRANT_ID");
	xsnprintf(path, sizeof(path), "/v1/admin/grants/%lld", id);
	if ((rc = http("GET", path, NULL, &g)) != 0)
		goto out;
	idev = jsonx_str(g, "initiator_device");
	rdev = jsonx_str(g, "responder_device");
	isite = jsonx_str(g, "initiator");
	rsite = jsonx_str(g, "responder");
	/* the records from a minute before the grant on, page by page */
	since = jsonx_int(g, "created", 60) - 60;
	for (;;) {
		const char *kv[6];
		size_t got;

		xsnprintf(num, sizeof(num), "%lld", since);
		kv[0] = "since";
		kv[1] = num;
		kv[2] = "limit";
		kv[3] = "10000";
		kv[4] = "after";
		xsnprintf(aft, sizeof(aft), "%lld", after);
		kv[5] = aft;
		query_path(path, sizeof(path), "/v1/admin/audit", kv, nitems(kv));
		if ((rc = http("GET", path, NULL, &page)) != 0)
			goto out;
		got = json_array_size(json_object_get(page, "events"));
		json_array_foreach(json_object_get(page, "events"), i, r) {
			after = jsonx_int(r, "seq", after);
			if (jsonx_int(r, "grant", 0) == id)
				json_array_append(recs, r);
		}
		json_decref(page);
		page = NULL;
		if (got < 10000)
			break;
	}
	/* one time line, by when things happened */
	{
		size_t n = json_array_size(recs);
		json_t **v = xcalloc(n + 1, sizeof(*v)), *sorted = json_array();

		for (i = 0; i < n; i++)
			v[i] = json_array_get(recs, i);
		qsort(v, n, sizeof(*v), trail_cmp);
		for (i = 0; i < n; i++)
			json_array_append(sorted, v[i]);
		free(v);
		json_decref(recs);
		recs = sorted;
	}
	used = xcalloc(json_array_size(recs) + 1, sizeof(*used));
	/* matching: the initiator's view against the responder's */
	json_array_foreach(recs, i, r) {
		const char *kind = jsonx_str(r, "kind");
		const json_t *f = json_object_get(json_object_get(r, "detail"), "flow");

		if (trail_view(r, idev, rdev) != V_INITIATOR)
			continue;
		if (kind != NULL && (strcmp(kind, "device.sa_up") == 0 ||
		    strcmp(kind, "device.sa_down") == 0)) {
			n_sa++;
			sa_matched += trail_twin_sa(recs, r, V_RESPONDER, idev, rdev, used);
		} else if (f != NULL) {
			const json_t *t = trail_twin_flow(recs, f, V_RESPONDER, idev, rdev, used);

			n_fl++;
			if (t != NULL) {
				fl_matched++;
				fl_agree += jsonx_int(f, "bytes_out", -1) ==
				    jsonx_int(t, "bytes_in", -2) &&
				    jsonx_int(f, "bytes_in", -1) == jsonx_int(t, "bytes_out", -2);
			}
		}
	}
	{
		size_t r_sa = 0, r_fl = 0;

		json_array_foreach(recs, i, r) {
			if (trail_view(r, idev, rdev) != V_RESPONDER)
				continue;
			if (json_object_get(json_object_get(r, "detail"), "flow") != NULL)
				r_fl++;
			else if (strcmp(jsonx_str(r, "kind"), "device.sa_up") == 0 ||
			    strcmp(jsonx_str(r, "kind"), "device.sa_down") == 0)
				r_sa++;
		}
		if (A.json) {
			json_t *o = json_pack("{s:O, s:O, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
			    "grant", g, "records", recs, "correlation",
			    "tunnel_events_initiator", (json_int_t)n_sa,
			    "tunnel_events_responder", (json_int_t)r_sa,
			    "tunnel_events_matched", (json_int_t)sa_matched,
			    "flows_initiator", (json_int_t)n_fl,
			    "flows_responder", (json_int_t)r_fl,
			    "flows_matched", (json_int_t)fl_matched,
			    "flows_bytes_agree", (json_int_t)fl_agree);

			print_json(o);
			json_decref(o);
			goto out;
		}
		printf("grant %lld: %s (%s) -> %s (%s), %s\n", id, isite ? isite : "?",
		    idev ? idev : "-", rsite ? rsite : "?", rdev ? rdev : "-",
		    jsonx_str(g, "status") ? jsonx_str(g, "status") : "?");
		printf("  %-23s  %-34s  %-46s  %s\n", "TIME (UTC, as each saw it)", "CENTER",
		    "INITIATOR's device", "RESPONDER's device");
		json_array_foreach(recs, i, r) {
			char t[40], w[160];
			long long ms = trail_ms(r);
			enum view v = trail_view(r, idev, rdev);

			fmt_time(ms / 1000, t, sizeof(t));
			xsnprintf(t + (strlen(t) > 0 ? strlen(t) - 1 : 0), 8, ".%03lldZ",
			    ms % 1000);
			trail_words(r, w, sizeof(w));
			printf("  %-23s  %-34s  %-46s  %s\n", t, v == V_CENTER ? w : "",
			    v == V_INITIATOR ? w : "", v == V_RESPONDER ? w : "");
		}
		printf("matched: tunnel ups/downs %zu of %zu at the initiator with the "
		    "responder's (%zu there); flows %zu of %zu seen at both ends, bytes "
		    "agreeing for %zu (%zu at the responder)\n", sa_matched, n_sa, r_sa,
		    fl_matched, n_fl, fl_agree, r_fl);
	}
out:
	free(used);
	json_decref(page);
	json_decref(recs);
	json_decref(g);
	return rc;
}

/* ---- status, export, crl ----------------------------------------------- */

static int
adm_status(int argc, char **argv)
{
	json_t *r;
	int rc;

	if (argc != 1)
		return usage_err("usage: odvpn admin status");
	if ((rc = http("GET", "/v1/admin/status", NULL, &r)) != 0)
		return rc;
	if (A.json) {
		print_json(r);
	} else {
		json_t *c = json_object_get(r, "counts");
		const char *key;
		json_t *v;

		printf("center %s: store %s (schema %lld), up %llds, %lld device(s) "
		    "waiting, CRL %lld\n", A.center, jsonx_str(r, "store"),
		    (long long)json_integer_value(json_object_get(r, "schema")),
		    (long long)json_integer_value(json_object_get(r, "uptime_s")),
		    (long long)json_integer_value(json_object_get(r, "waiters")),
		    (long long)json_integer_value(json_object_get(r, "crl_number")));
		if (jsonx_str(r, "root_fingerprint") != NULL)
			printf("root fingerprint %s\n", jsonx_str(r, "root_fingerprint"));
		json_object_foreach(c, key, v)
			printf("  %-14s %lld\n", key, (long long)json_integer_value(v));
	}
	json_decref(r);
	return 0;
}

static int
cmd_simple_get(int argc, const char *path, const char *key)
{
	json_t *r;
	int rc;

	if (argc != 1)
		return usage_err("this command takes no arguments");
	if ((rc = http("GET", path, NULL, &r)) != 0)
		return rc;
	if (key != NULL && !A.json && jsonx_str(r, key) != NULL)
		printf("%s", jsonx_str(r, key));
	else
		print_json(r);
	json_decref(r);
	return 0;
}

/* ---- connection settings ----------------------------------------------- */

static void
set_from_pki(const char *dir)
{
	xsnprintf(A.cert, sizeof(A.cert), "%s/admin.crt.pem", dir);
	xsnprintf(A.key, sizeof(A.key), "%s/private/admin.key.pem", dir);
	xsnprintf(A.ca, sizeof(A.ca), "%s/root.crt.pem", dir);
}

static int
load_config(const char *path, bool must)
{
	static const struct jsonx_field f[] = {
		{ "center", JX_STRING, false, 1, 1000 },
		{ "cert", JX_STRING, false, 1, 1000 },
		{ "key", JX_STRING, false, 1, 1000 },
		{ "ca", JX_STRING, false, 1, 1000 },
		{ "pki_dir", JX_STRING, false, 1, 1000 },
	};
	json_error_t je;
	char err[256];
	json_t *o;

	o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL) {
		if (!must && errno == ENOENT && je.line == -1)
			return 0;
		return fail("%s: %s", path, je.text);
	}
	if (jsonx_validate(o, f, nitems(f), err, sizeof(err)) == -1) {
		json_decref(o);
		return fail("%s: %s", path, err);
	}
	if (jsonx_str(o, "pki_dir") != NULL)
		set_from_pki(jsonx_str(o, "pki_dir"));
	if (jsonx_str(o, "center") != NULL)
		xsnprintf(A.center, sizeof(A.center), "%s", jsonx_str(o, "center"));
	if (jsonx_str(o, "cert") != NULL)
		xsnprintf(A.cert, sizeof(A.cert), "%s", jsonx_str(o, "cert"));
	if (jsonx_str(o, "key") != NULL)
		xsnprintf(A.key, sizeof(A.key), "%s", jsonx_str(o, "key"));
	if (jsonx_str(o, "ca") != NULL)
		xsnprintf(A.ca, sizeof(A.ca), "%s", jsonx_str(o, "ca"));
	json_decref(o);
	return 0;
}

static void
env_str(char *dst, size_t cap, const char *var)
{
	const char *v = getenv(var);

	if (v != NULL && *v != '\0')
		xsnprintf(dst, cap, "%s", v);
}

static const struct {
	const char	*name;
	int		(*fn)(int, char **);
} cmds[] = {
	{ "org", cmd_org }, { "site", cmd_site }, { "device", cmd_device },
	{ "group", cmd_group }, { "rule", cmd_rule }, { "connect", adm_connect },
	{ "grant", cmd_grant }, { "revoke", cmd_revoke }, { "audit", cmd_audit },
	{ "status", adm_status },
};

int
cmd_admin(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "center", required_argument, NULL, 'u' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "pki", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *o_center = NULL, *o_cert = NULL, *o_key = NULL, *o_ca = NULL;
	const char *o_pki = NULL, *o_config = NULL, *home;
	char path[1024];
	int ch, rc;

	memset(&A, 0, sizeof(A));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (ch) {
		case 'u': o_center = optarg; break;
		case 'c': o_cert = optarg; break;
		case 'k': o_key = optarg; break;
		case 'a': o_ca = optarg; break;
		case 'p': o_pki = optarg; break;
		case 'f': o_config = optarg; break;
		case 'j': A.json = true; break;
		case 'h': help(stdout); return 0;
		default:
			return usage_err("unknown option or missing value \"%s\"",
			    argv[optind - 1]);
		}
	}
	if (optind == argc)
		return usage_err("no command given");

	/* defaults, then the config file, the environment, the options */
	xsnprintf(A.center, sizeof(A.center), "https://localhost:8443");
	if (o_config != NULL)
		rc = load_config(o_config, true);
	else if (getenv("ODVPN_ADMIN_CONFIG") != NULL)
		rc = load_config(getenv("ODVPN_ADMIN_CONFIG"), true);
	else if ((home = getenv("HOME")) != NULL &&
	    xsnprintf(path, sizeof(path), "%s/.config/odvpn/admin.json", home) != -1)
		rc = load_config(path, false);
	else
		rc = 0;
	if (rc != 0)
		return rc;
	if (getenv("ODVPN_PKI") != NULL && *getenv("ODVPN_PKI") != '\0')
		set_from_pki(getenv("ODVPN_PKI"));
	env_str(A.center, sizeof(A.center), "ODVPN_CENTER");
	env_str(A.cert, sizeof(A.cert), "ODVPN_ADMIN_CERT");
	env_str(A.key, sizeof(A.key), "ODVPN_ADMIN_KEY");
	env_str(A.ca, sizeof(A.ca), "ODVPN_CA");
	if (o_pki != NULL)
		set_from_pki(o_pki);
	if (o_center != NULL)
		xsnprintf(A.center, sizeof(A.center), "%s", o_center);
	if (o_cert != NULL)
		xsnprintf(A.cert, sizeof(A.cert), "%s", o_cert);
	if (o_key != NULL)
		xsnprintf(A.key, sizeof(A.key), "%s", o_key);
	if (o_ca != NULL)
		xsnprintf(A.ca, sizeof(A.ca), "%s", o_ca);
	/* a trailing '/' on the URL would double the one every path starts with */
	while (strlen(A.center) > 0 && A.center[strlen(A.center) - 1] == '/')
		A.center[strlen(A.center) - 1] = '\0';
	if (strncmp(A.center, "https://", 8) != 0)
		return usage_err("--center must be an https:// URL");
	if (A.cert[0] == '\0' || A.key[0] == '\0')
		return usage_err("no administrator certificate: give --cert and --key, "
		    "--pki DIR, or set ODVPN_ADMIN_CERT/ODVPN_ADMIN_KEY");

	argc -= optind;
	argv += optind;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return fail("cannot initialise libcurl");
	if (strcmp(argv[0], "export") == 0)
		rc = cmd_simple_get(argc, "/v1/admin/export", NULL);
	else if (strcmp(argv[0], "crl") == 0)
		rc = cmd_simple_get(argc, "/v1/crl", "crl");
	else if (strcmp(argv[0], "revocation") == 0)
		rc = cmd_revoke(argc, argv);
	else {
		size_t i;

		for (i = 0; i < nitems(cmds); i++)
			if (strcmp(argv[0], cmds[i].name) == 0)
				break;
		rc = i < nitems(cmds) ? cmds[i].fn(argc, argv) :
		    usage_err("unknown command \"%s\"", argv[0]);
	}
	curl_global_cleanup();
	return rc;
}
