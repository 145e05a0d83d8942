/*
 * odvpn demo: the sites. Until odvpnd's managed mode exists, the demo does
 * what that mode will do: the device fetches its configuration document from
 * the center with its own service certificate (GET /v1/config), and the demo
 * writes odvpnd's configuration from the grants in it — peers, prefixes,
 * selectors and rules exactly as granted, nothing more.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/demo_int.h"
#include "device/control.h"
#include "device/enrol.h"
#include "lib/jsonx.h"
#include "lib/util.h"
#include "pki/pki.h"

/* ---- the device's requests to the center --------------------------------- */

struct fetch_arg {
	const char	*ks;
	const char	*path;		/* API path */
	const char	*out;		/* file for the body */
};

/* in the gateway's namespace: GET as the device, with its service certificate */
static int
fetch_fn(void *arg)
{
	const struct fetch_arg *a = arg;
	char err[1024], *body = NULL;
	int rc;

	if (enrol_get(a->ks, PKI_LABEL_SERVICE, DEMO_CENTER_URL, a->path, &body, err,
	    sizeof(err)) == -1) {
		printf("%s\n", err);
		return 1;
	}
	rc = file_write_atomic(a->out, body, strlen(body), 0600) == 0 ? 0 : 1;
	if (rc != 0)
		printf("%s: %s\n", a->out, strerror(errno));
	free(body);
	return rc;
}

static json_t *
fetch_json(struct demo *d, struct demo_site *s, const char *path, const char *file,
    char *err, size_t errlen)
{
	char out[PATH_MAX];
	struct fetch_arg a = { s->ks, path, out };
	struct dbuf msg = { NULL, 0 };
	json_error_t je;
	json_t *j = NULL;

	if (xsnprintf(out, sizeof(out), "%s/%s", s->dir, file) == -1)
		return NULL;
	if (demo_call(d, s->ns_gw, fetch_fn, &a, 20000, &msg) != 0)
		xsnprintf(err, errlen, "%s", msg.p != NULL ? msg.p : "the request failed");
	else if ((j = json_load_file(out, JSON_REJECT_DUPLICATES, &je)) == NULL)
		xsnprintf(err, errlen, "%s: %s", out, je.text);
	dbuf_free(&msg);
	if (err[0] != '\0') {
		size_t n = strlen(err);

		while (n > 0 && err[n - 1] == '\n')
			err[--n] = '\0';
	}
	return j;
}

int
site_fetch_doc(struct demo *d, struct demo_site *s)
{
	char err[1024] = "";

	json_decref(s->doc);
	s->doc = fetch_json(d, s, "/v1/config?wait=0", "center-config.json", err,
	    sizeof(err));
	if (s->doc == NULL)
		say("    %s could not fetch its configuration: %s", s->device, err);
	return s->doc != NULL ? 0 : -1;
}

int
site_fetch_crl(struct demo *d, struct demo_site *s, char *err, size_t errlen)
{
	struct pki_err perr = { "" };
	X509_CRL *crl = NULL;
	const char *pem;
	json_t *j;
	int rc = -1;

	err[0] = '\0';
	if ((j = fetch_json(d, s, "/v1/crl", "center-crl.json", err, errlen)) == NULL)
		return -1;
	if ((pem = json_string_value(json_object_get(j, "crl"))) == NULL)
		xsnprintf(err, errlen, "the center's answer has no CRL");
	else if (pki_crl_parse((const uint8_t *)pem, strlen(pem), &crl, &perr) == -1 ||
	    pki_crl_save(s->crl, crl, &perr) == -1)
		xsnprintf(err, errlen, "%s", perr.msg);
	else
		rc = 0;
	X509_CRL_free(crl);
	json_decref(j);
	return rc;
}

/* ---- odvpnd's configuration from the grants ------------------------------- */

static const char *
dh_name(long long g)
{
	switch (g) {
	case 19: return "ecp256";
	case 20: return "ecp384";
	case 31: return "x25519";
	default: return NULL;
	}
}

/* the center's protocol (number or name) as odvpnd's "proto"; NULL: cannot say */
static const char *
proto_name(const json_t *p, char *buf, size_t cap)
{
	static const struct { long long n; const char *s; } names[] = {
		{ 0, "any" }, { 6, "tcp" }, { 17, "udp" }, { 1, "icmp" }, { 58, "icmpv6" },
	};

	if (json_is_string(p)) {
		for (size_t i = 0; i < nitems(names); i++)
			if (strcmp(json_string_value(p), names[i].s) == 0)
				return names[i].s;
		return NULL;
	}
	if (!json_is_integer(p) || json_integer_value(p) < 0 || json_integer_value(p) > 255)
		return NULL;
	for (size_t i = 0; i < nitems(names); i++)
		if (names[i].n == json_integer_value(p))
			return names[i].s;
	xsnprintf(buf, cap, "%lld", (long long)json_integer_value(p));
	return buf;
}

/*
 * One granted flow as an odvpnd rule; NULL when odvpnd cannot express it
 * exactly (then it is left out: leaving a flow out narrows, never widens).
 */
static json_t *
grant_rule(const json_t *r, char *why, size_t whylen)
{
	char pbuf[8], ports[16];
	const char *proto = proto_name(json_object_get(r, "proto"), pbuf, sizeof(pbuf));
	long long lo = jsonx_int(r, "port_lo", 0), hi = jsonx_int(r, "port_hi", 65535);
	json_t *o;

	if (proto == NULL || jsonx_str(r, "dir") == NULL) {
		xsnprintf(why, whylen, "a flow with an unknown protocol");
		return NULL;
	}
	o = json_pack("{s:s,s:s}", "direction", jsonx_str(r, "dir"), "proto", proto);
	if (jsonx_str(r, "local") != NULL)
		json_object_set_new(o, "local", json_string(jsonx_str(r, "local")));
	if (jsonx_str(r, "remote") != NULL)
		json_object_set_new(o, "remote", json_string(jsonx_str(r, "remote")));
	if (lo > 0 || hi < 65535) {
		if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0) {
			xsnprintf(why, whylen, "a %s flow limited to ports %lld-%lld", proto, lo,
			    hi);
			json_decref(o);
			return NULL;
		}
		if (lo == hi)
			xsnprintf(ports, sizeof(ports), "%lld", lo);
		else
			xsnprintf(ports, sizeof(ports), "%lld-%lld", lo, hi);
		json_object_set_new(o, "ports", json_string(ports));
	}
	return o;
}

static void
rule_words(const json_t *rule, char *out, size_t cap)
{
	const char *ports = jsonx_str(rule, "ports");

	xsnprintf(out, cap, "%s %s%s%s %s→%s", jsonx_str(rule, "direction"),
	    jsonx_str(rule, "proto"), ports != NULL ? "/" : "", ports != NULL ? ports : "",
	    strcmp(jsonx_str(rule, "direction"), "in") == 0 ? jsonx_str(rule, "remote") :
	    jsonx_str(rule, "local"), strcmp(jsonx_str(rule, "direction"), "in") == 0 ?
	    jsonx_str(rule, "local") : jsonx_str(rule, "remote"));
}

static void
join_arr(const json_t *arr, char *out, size_t cap)
{
	size_t i, len = 0;
	json_t *v;

	out[0] = '\0';
	json_array_foreach(arr, i, v) {
		if (xsnprintf(out + len, cap - len, "%s%s", i > 0 ? ", " : "",
		    json_string_value(v)) == -1)
			return;
		len += strlen(out + len);
	}
}

int
site_write_config(struct demo *d, struct demo_site *s, const char *peer_extra,
    json_t *extra_prefixes, bool drop_rules)
{
	const json_t *doc = s->doc, *site = json_object_get(doc, "site");
	const json_t *crypto = json_object_get(doc, "crypto"), *g, *v;
	json_t *conf, *peers = json_array(), *ike, *groups, *x;
	bool tell = peer_extra == NULL;	/* step 9's edit is announced by the step */
	size_t i, k;

	groups = json_array();
	json_array_foreach(json_object_get(json_object_get(crypto, "ike"), "dh_groups"), i, v)
		if (dh_name(json_integer_value(v)) != NULL)
			json_array_append_new(groups, json_string(dh_name(json_integer_value(v))));
	ike = json_object();
	if (json_array_size(groups) > 0)
		json_object_set_new(ike, "dh_groups", groups);
	else
		json_decref(groups);
	json_object_set_new(ike, "esn", json_boolean(json_is_true(json_object_get(
	    json_object_get(crypto, "esp"), "esn"))));
	json_object_set_new(ike, "pfs", json_boolean(json_is_true(json_object_get(
	    json_object_get(crypto, "esp"), "pfs"))));
	json_object_set_new(ike, "ike_rekey_s", json_integer(jsonx_int(crypto, "ike_rekey_s",
	    14400)));
	json_object_set_new(ike, "child_rekey_s", json_integer(jsonx_int(crypto,
	    "child_rekey_s", 3600)));
	json_object_set_new(ike, "retransmit_base_ms", json_integer(200));

	json_array_foreach(json_object_get(doc, "grants"), i, g) {
		const json_t *ep = json_object_get(g, "peer_endpoint");
		json_t *rules = json_array(), *peer;
		char lts[256], rts[256], why[128] = "", words[160];
		const json_t *r;

		if (jsonx_str(g, "peer_site") == NULL || jsonx_str(g, "peer_ike_id") == NULL) {
			say("    grant %lld: no peer named in the configuration document; left "
			    "out", jsonx_int(g, "id", 0));
			continue;
		}
		json_array_foreach(peers, k, x) {
			if (strcmp(jsonx_str(x, "name"), jsonx_str(g, "peer_site")) == 0)
				break;
		}
		if (k < json_array_size(peers)) {
			/* odvpnd holds one rule set per peer; the later grant is left out
			 * (narrower, never wider) */
			say("    grant %lld: peer %s is configured from an earlier grant; "
			    "left out", jsonx_int(g, "id", 0), jsonx_str(g, "peer_site"));
			continue;
		}
		if (!json_is_object(ep) || jsonx_str(ep, "address") == NULL) {
			say("    grant %lld: the peer %s has no Internet address registered; "
			    "left out (it would have to call us)", jsonx_int(g, "id", 0),
			    jsonx_str(g, "peer_site"));
			continue;
		}
		json_array_foreach(json_object_get(g, "rules"), k, r) {
			json_t *rule = grant_rule(r, why, sizeof(why));

			if (rule != NULL)
				json_array_append_new(rules, rule);
			else
				say("    grant %lld: %s is left out (odvpnd cannot enforce it "
				    "exactly)", jsonx_int(g, "id", 0), why);
		}
		/* no rules means "everything" to odvpnd: never write that for a grant */
		if (json_array_size(rules) == 0) {
			say("    grant %lld: no flow odvpnd can enforce; peer %s left out",
			    jsonx_int(g, "id", 0), jsonx_str(g, "peer_site"));
			json_decref(rules);
			continue;
		}
		/* copies: step 9 edits the prefixes, the document stays as the center sent it */
		peer = json_pack("{s:s,s:s,s:s,s:I,s:o,s:o,s:b}",
		    "name", jsonx_str(g, "peer_site"), "id", jsonx_str(g, "peer_ike_id"),
		    "address", jsonx_str(ep, "address"),
		    "port", (json_int_t)jsonx_int(ep, "port", 4500),
		    "prefixes", json_deep_copy(json_object_get(g, "remote_ts")),
		    "local_prefixes", json_deep_copy(json_object_get(g, "local_ts")),
		    "on_demand", 1);
		if (peer == NULL) {
			say("    grant %lld: incomplete in the configuration document; left out",
			    jsonx_int(g, "id", 0));
			json_decref(rules);
			continue;
		}
		join_arr(json_object_get(g, "local_ts"), lts, sizeof(lts));
		join_arr(json_object_get(g, "remote_ts"), rts, sizeof(rts));
		if (tell)
			say("    %s: configured from grant %lld — peer %s (%s at %s:%lld), "
			    "selectors %s ↔ %s", s->device, jsonx_int(g, "id", 0),
			    jsonx_str(g, "peer_site"), jsonx_str(g, "peer_ike_id"),
			    jsonx_str(ep, "address"), jsonx_int(ep, "port", 4500), lts, rts);
		json_array_foreach(rules, k, r) {
			rule_words(r, words, sizeof(words));
			if (tell)
				say("        rule %s", words);
		}
		if (peer_extra != NULL && strcmp(peer_extra, jsonx_str(g, "peer_site")) == 0) {
			/* the careless operator's edit (step 9), not the center's grant */
			json_array_foreach(extra_prefixes, k, x)
				json_array_append(json_object_get(peer, "prefixes"), x);
			if (drop_rules) {
				json_decref(rules);
				rules = json_array();
			}
		}
		json_object_set_new(peer, "rules", rules);
		json_array_append_new(peers, peer);
	}

	conf = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:O,s:s,s:I,s:o,s:o}",
	    "device_id", s->device, "keystore", s->ks, "crl", s->crl,
	    "control_socket", s->sock, "log_level", "info",
	    "idle_timeout_s", (json_int_t)jsonx_int(crypto, "idle_timeout_s", 300),
	    "tun", "odvpn0", "lan_prefixes", json_object_get(site, "prefixes"),
	    "wan_address", jsonx_str(json_object_get(site, "endpoint"), "address"),
	    "natt_port", (json_int_t)jsonx_int(json_object_get(site, "endpoint"), "port", 4500),
	    "ike", ike, "peers", peers);
	if (conf == NULL) {
		say("    %s: the center's configuration document is incomplete", s->device);
		return -1;
	}
	json_decref(s->conf_json);
	s->conf_json = conf;
	if (json_dump_file(conf, s->conf, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == -1) {
		say("    %s: cannot write %s", s->device, s->conf);
		return -1;
	}
	return 0;
}

/* ---- odvpnd ------------------------------------------------------------------ */

int
site_start(struct demo *d, struct demo_site *s)
{
	struct stat st;
	uint64_t end;

	unlink(s->sock);
	s->pid = demo_spawn(d, s->ns_gw, ARGV(d->odvpnd, "--config", s->conf), s->log);
	if (s->pid <= 0)
		return -1;
	for (end = demo_ms() + 10000; demo_ms() < end; ) {
		json_t *r;

		if (stat(s->sock, &st) == 0 && (r = site_status(s)) != NULL) {
			json_decref(r);
			say("    odvpnd at %s is running (PID %ld), log $D/%s/odvpnd.log", s->name,
			    (long)s->pid, s->name);
			return 0;
		}
		if (kill(s->pid, 0) == -1 || !demo_sleep(20))
			break;
	}
	say("    odvpnd at %s did not start; the end of its log (%s):", s->name, s->log);
	{
		uint8_t *buf = NULL;
		size_t len;

		if (file_read_all(s->log, 1 << 20, &buf, &len) == 0) {
			const char *p = (const char *)buf + (len > 600 ? len - 600 : 0);

			say_block(d, p, "      ");
		}
		free(buf);
	}
	return -1;
}

int
site_stop(struct demo *d, struct demo_site *s)
{
	int rc = demo_stop_pid(d, s->pid, 3000);

	s->pid = 0;
	return rc;
}

static json_t *
ctl(struct demo_site *s, const char *cmd)
{
	json_t *req = json_pack("{s:s}", "cmd", cmd), *r;
	char err[256];

	r = control_call(s->sock, req, 3000, err, sizeof(err));
	json_decref(req);
	if (r != NULL && !json_is_true(json_object_get(r, "ok"))) {
		json_decref(r);
		r = NULL;
	}
	return r;
}

json_t *
site_status(struct demo_site *s)
{
	return ctl(s, "status");
}

json_t *
site_peers(struct demo_site *s)
{
	return ctl(s, "peers");
}

long long
site_drops(struct demo_site *s, const char *reason)
{
	json_t *r = site_status(s);
	long long n = -1;

	if (r != NULL)
		n = jsonx_int(json_object_get(json_object_get(r, "dataplane"), "drops"), reason,
		    0);
	json_decref(r);
	return n;
}

void
site_show(struct demo *d, struct demo_site *s, const char *verb)
{
	char prompt[64];

	xsnprintf(prompt, sizeof(prompt), "%s", s->device);
	(void)demo_run(d, NULL, prompt, ARGV(d->odvpn, (char *)verb, "--socket", s->sock),
	    RUN_SHOW | RUN_OUT, 5000, NULL);
}

/* ---- traffic from the LAN hosts --------------------------------------------- */

struct tcp_arg {
	const char	*addr;
	int		 port;
	int		 timeout_ms;
};

/* in the host's namespace: one TCP connection; prints the milliseconds */
static int
tcp_fn(void *arg)
{
	const struct tcp_arg *a = arg;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)a->port) };
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	uint64_t t0 = demo_ms();
	int fd, e = 0;

	if (inet_pton(AF_INET, a->addr, &sin.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return 2;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 && errno != EINPROGRESS) {
		printf("%s\n", strerror(errno));
		return 1;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, a->timeout_ms) != 1) {
		printf("no answer within %d ms\n", a->timeout_ms);
		return 1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1 || e != 0) {
		printf("%s\n", strerror(e != 0 ? e : errno));
		return 1;
	}
	printf("%llu\n", (unsigned long long)(demo_ms() - t0));
	close(fd);
	return 0;
}

int
site_tcp(struct demo *d, struct demo_site *s, const char *addr, int port,
    const char *service, int timeout_ms, long *ms)
{
	struct tcp_arg a = { addr, port, timeout_ms };
	struct dbuf out = { NULL, 0 };
	int rc = demo_call(d, s->ns_host, tcp_fn, &a, timeout_ms + 5000, &out);
	size_t n = out.p != NULL ? strlen(out.p) : 0;

	while (n > 0 && out.p[n - 1] == '\n')
		out.p[--n] = '\0';
	*ms = rc == 0 && out.p != NULL ? strtol(out.p, NULL, 10) : -1;
	if (rc == 0)
		say("  %s: TCP connection to %s port %d (%s): established in %ld ms", s->host,
		    addr, port, service, *ms);
	else
		say("  %s: TCP connection to %s port %d (%s): not possible (%s)", s->host, addr,
		    port, service, out.p != NULL ? out.p : "the probe failed");
	dbuf_free(&out);
	return rc == 0 ? 0 : -1;
}

int
site_ping(struct demo *d, struct demo_site *s, const char *addr, int wait_s, double *ms,
    bool show)
{
	char w[8];
	struct dbuf out = { NULL, 0 };
	const char *t;
	int rc;

	xsnprintf(w, sizeof(w), "%d", wait_s);
	rc = demo_run(d, s->ns_host, s->host, ARGV("ping", "-n", "-c", "1", "-W", w,
	    (char *)addr), RUN_PATH | (show ? RUN_SHOW | RUN_OUT : 0), (wait_s + 5) * 1000,
	    &out);
	*ms = -1;
	if (rc == 0 && out.p != NULL && (t = strstr(out.p, "time=")) != NULL)
		*ms = strtod(t + 5, NULL);
	dbuf_free(&out);
	return rc == 0 ? 0 : -1;
}

/* in the server's namespace: accept on 443 and 22 and close, until stopped */
static int
listen_fn(void *arg)
{
	static const int ports[] = { 443, 22 };
	struct pollfd pfd[nitems(ports)];

	(void)arg;
	for (size_t i = 0; i < nitems(ports); i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET,
		    .sin_port = htons((uint16_t)ports[i]) };
		int one = 1;

		pfd[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		pfd[i].events = POLLIN;
		if (pfd[i].fd == -1 ||
		    setsockopt(pfd[i].fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
		    bind(pfd[i].fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    listen(pfd[i].fd, 16) == -1)
			return 1;
	}
	for (;;) {
		if (poll(pfd, nitems(pfd), -1) == -1 && errno != EINTR)
			return 1;
		for (size_t i = 0; i < nitems(pfd); i++) {
			int c;

			if ((pfd[i].revents & POLLIN) &&
			    (c = accept(pfd[i].fd, NULL, NULL)) != -1)
				close(c);
		}
	}
}

int
site_listen(struct demo *d, struct demo_site *s)
{
	d->listener_pid = demo_call_bg(d, s->ns_host, listen_fn, NULL);
	return d->listener_pid > 0 ? 0 : -1;
}
