#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "center/ca.h"
#include "center/server.h"
#include "center/store.h"
#include "lib/log.h"
#include "lib/util.h"

/* the transport's own ceiling: bodies above it are refused by libevent itself
 * (413) before they are read; between cfg.max_body and it, by us with JSON */
#define BODY_CEILING	(1024 * 1024)
#define HEADERS_MAX	(16 * 1024)
#define TICK_S		10

/* TLS 1.3 suites of SPEC §5; TLS 1.2: CRYPTREC high security, ECDHE + AES-GCM */
#define TLS13_SUITES	"TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"
#define TLS12_CIPHERS	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:" \
			"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"
#define TLS_GROUPS	"X25519:P-256:P-384"

/* a parked config long-poll */
struct waiter {
	TAILQ_ENTRY(waiter)	 entry;
	struct server		*srv;
	struct evhttp_request	*req;
	struct evhttp_connection *evcon;
	struct event		*timer;
	struct center_peer	 peer;
	int64_t			 since;
	uint64_t		 parked_ms;
};
TAILQ_HEAD(waiters, waiter);

struct server {
	struct event_base	*base;
	struct center		*c;
	SSL_CTX			*ctx;
	struct evhttp		*http;
	struct evhttp_bound_socket *sock;
	struct event		*push_ev;	/* deferred: coalesces many changes */
	struct event		*tick_ev;
	struct waiters		 waiters;
	unsigned		 nwaiters;
	uint64_t		 pushes;
};

static const char *
status_text(int code)
{
	switch (code) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

static void
send_json(struct evhttp_request *req, int status, json_t *body)
{
	struct evbuffer *buf = evbuffer_new();
	char *txt = json_dumps(body, JSON_COMPACT);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (txt != NULL)
		evbuffer_add_printf(buf, "%s\n", txt);
	else
		evbuffer_add_printf(buf, "{\"error\":\"response cannot be encoded\"}\n");
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, status, status_text(status), buf);
	evbuffer_free(buf);
	free(txt);
}

static void
send_error(struct evhttp_request *req, int status, const char *msg)
{
	json_t *o = json_pack("{s:s}", "error", msg);

	send_json(req, status, o);
	json_decref(o);
}

/* ---- parked requests --------------------------------------------------- */

static void
waiter_drop(struct waiter *w)
{
	struct server *srv = w->srv;

	TAILQ_REMOVE(&srv->waiters, w, entry);
	srv->nwaiters--;
	srv->c->nwaiters = srv->nwaiters;
	if (w->evcon != NULL)
		evhttp_connection_set_closecb(w->evcon, NULL, NULL);
	event_free(w->timer);
	free(w);
}

static void
waiter_reply(struct waiter *w, struct center_resp *resp)
{
	struct evhttp_request *req = w->req;
	uint64_t ms = now_mono_ms() - w->parked_ms;

	log_debug("device=%s: config pushed (status %d) after %llu ms parked", w->peer.name,
	    resp->status, (unsigned long long)ms);
	waiter_drop(w);
	send_json(req, resp->status, resp->body);
}

/* the connection went away under a parked request: forget it */
static void
waiter_closed(struct evhttp_connection *evcon, void *arg)
{
	struct waiter *w = arg;

	w->evcon = NULL;
	waiter_drop(w);
}

static void
waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;
	struct center_resp resp;

	center_config_poll(w->srv->c, w->peer.name, w->since, false, &resp);
	waiter_reply(w, &resp);
	center_resp_clear(&resp);
}

/*
 * Something committed: answer every parked device whose document moved. The
 * version bumps of all of them go into one transaction (one fsync), and the
 * answers leave only after it committed, so a device never holds a version the
 * store does not.
 */
static void
push_run(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct waiter *w, **ready;
	struct center_resp *resps;
	size_t n = 0, cap = srv->nwaiters;
	bool tx;

	srv->pushes++;
	if (cap == 0)
		return;
	ready = xcalloc(cap, sizeof(*ready));
	resps = xcalloc(cap, sizeof(*resps));
	tx = store_begin(srv->c->st) == STORE_OK;
	TAILQ_FOREACH(w, &srv->waiters, entry) {
		struct center_resp *r = &resps[n];
		char err[256];

		if (center_peer_still_valid(srv->c, &w->peer, err, sizeof(err)) == -1) {
			r->status = 403;
			r->body = json_pack("{s:s}", "error", err);
		} else {
			center_config_poll(srv->c, w->peer.name, w->since, true, r);
			if (r->park) {
				center_resp_clear(r);
				continue;
			}
		}
		ready[n++] = w;
	}
	if (tx && store_commit(srv->c->st) != STORE_OK) {
		log_error("push: %s", store_error(srv->c->st));
		for (size_t i = 0; i < n; i++) {
			center_resp_clear(&resps[i]);
			resps[i].status = 500;
			resps[i].body = json_pack("{s:s}", "error", "store error");
		}
	}
	for (size_t i = 0; i < n; i++) {
		waiter_reply(ready[i], &resps[i]);
		center_resp_clear(&resps[i]);
	}
	free(ready);
	free(resps);
}

static void
changed(void *arg)
{
	struct server *srv = arg;

	event_active(srv->push_ev, EV_TIMEOUT, 0);
}

static void
park(struct server *srv, struct evhttp_request *req, const struct center_peer *peer,
    const struct center_resp *resp)
{
	struct waiter *w;
	struct timeval tv = { resp->park_wait_s, 0 };

	if (srv->nwaiters >= (unsigned)srv->c->cfg.max_waiters) {
		send_error(req, 503, "too many devices waiting; retry later");
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->srv = srv;
	w->req = req;
	w->evcon = evhttp_request_get_connection(req);
	w->peer = *peer;
	w->since = resp->park_since;
	w->parked_ms = now_mono_ms();
	w->timer = evtimer_new(srv->base, waiter_timeout, w);
	evtimer_add(w->timer, &tv);
	evhttp_connection_set_closecb(w->evcon, waiter_closed, w);
	TAILQ_INSERT_TAIL(&srv->waiters, w, entry);
	srv->nwaiters++;
	srv->c->nwaiters = srv->nwaiters;
}

/* ---- requests ---------------------------------------------------------- */

static enum center_method
method_of(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:	return CENTER_GET;
	case EVHTTP_REQ_POST:	return CENTER_POST;
	case EVHTTP_REQ_PUT:	return CENTER_PUT;
	case EVHTTP_REQ_PATCH:	return CENTER_PATCH;
	case EVHTTP_REQ_DELETE:	return CENTER_DELETE;
	default:		return CENTER_OTHER;
	}
}

static const char *
method_name(enum center_method m)
{
	static const char *const names[] = { "?", "GET", "POST", "PUT", "PATCH",
	    "DELETE", "OTHER" };

	return (size_t)m < nitems(names) ? names[m] : "?";
}

static int
peer_of(struct server *srv, struct evhttp_request *req, struct center_peer *peer)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) :
	    NULL;
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	X509 *cert;

	memset(peer, 0, sizeof(*peer));
	if (ssl == NULL || SSL_get_verify_result(ssl) != X509_V_OK ||
	    (cert = SSL_get0_peer_certificate(ssl)) == NULL)
		return -1;
	return center_ca_peer(srv->c->ca, cert, peer);
}

/* query string → object of strings; -1 when malformed */
static int
query_of(const struct evhttp_uri *uri, json_t **out)
{
	const char *q = evhttp_uri_get_query(uri);
	struct evkeyvalq kv;
	struct evkeyval *e;
	int rc = 0;

	*out = json_object();
	if (q == NULL || *q == '\0')
		return 0;
	TAILQ_INIT(&kv);
	if (evhttp_parse_query_str(q, &kv) == -1)
		return -1;
	TAILQ_FOREACH(e, &kv, next) {
		json_t *v = json_string(e->value);

		if (v == NULL || json_object_get(*out, e->key) != NULL) {
			json_decref(v);
			rc = -1;
			break;
		}
		json_object_set_new(*out, e->key, v);
	}
	evhttp_clear_headers(&kv);
	return rc;
}

static void
handle(struct evhttp_request *req, void *arg)
{
	struct server *srv = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct center_peer peer;
	struct center_req creq;
	struct center_resp resp;
	json_t *query = NULL;
	char *path = NULL;
	size_t len = evbuffer_get_length(in), plen;
	const char *raw;

	if (peer_of(srv, req, &peer) == -1) {
		/* the handshake already demands a certificate; belt and braces */
		send_error(req, 403, "a client certificate of the odvpn PKI is required");
		return;
	}
	if (len > srv->c->cfg.max_body) {
		char msg[96];

		xsnprintf(msg, sizeof(msg), "request body larger than %zu bytes",
		    srv->c->cfg.max_body);
		log_info("%s by %s: 413 %s", uri != NULL && evhttp_uri_get_path(uri) != NULL ?
		    evhttp_uri_get_path(uri) : "?", peer.name, msg);
		send_error(req, 413, msg);
		return;
	}
	raw = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (raw == NULL || *raw == '\0')
		raw = "/";
	path = evhttp_uridecode(raw, 0, &plen);
	if (path == NULL || strlen(path) != plen) {
		send_error(req, 400, "malformed path");
		free(path);
		return;
	}
	if (query_of(uri, &query) == -1) {
		send_error(req, 400, "malformed query string");
		goto out;
	}
	memset(&creq, 0, sizeof(creq));
	creq.method = method_of(evhttp_request_get_command(req));
	creq.path = path;
	creq.query = query;
	creq.bodylen = len;
	creq.body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : NULL;
	creq.peer = &peer;
	center_handle(srv->c, &creq, &resp);
	if (resp.park) {
		park(srv, req, &peer, &resp);
	} else {
		const char *e = json_string_value(json_object_get(resp.body, "error"));

		if (resp.status >= 400)
			log_info("%s %s by %s: %d %s", method_name(creq.method), path,
			    peer.name, resp.status, e != NULL ? e : "");
		else
			log_debug("%s %s by %s: %d", method_name(creq.method), path,
			    peer.name, resp.status);
		send_json(req, resp.status, resp.body);
	}
	center_resp_clear(&resp);
out:
	json_decref(query);
	free(path);
}

/* ---- set-up ------------------------------------------------------------ */

static struct bufferevent *
bevcb(struct event_base *base, void *arg)
{
	struct server *srv = arg;
	SSL *ssl = SSL_new(srv->ctx);
	struct bufferevent *bev;

	if (ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static SSL_CTX *
tls_ctx(struct center *c, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		xsnprintf(err, errlen, "SSL_CTX_new failed");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, c->cfg.tls12 ? TLS1_2_VERSION :
	    TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1) {
		xsnprintf(err, errlen, "TLS parameters refused: %s",
		    ERR_reason_error_string(ERR_get_error()));
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (center_ca_tls_setup(c->ca, ctx, err, errlen) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	center_tick(srv->c);
}

struct server *
server_new(struct event_base *base, struct center *c, char *err, size_t errlen)
{
	struct server *srv = xcalloc(1, sizeof(*srv));
	struct timeval tv = { TICK_S, 0 };

	srv->base = base;
	srv->c = c;
	TAILQ_INIT(&srv->waiters);
	if (c->ca == NULL) {
		xsnprintf(err, errlen, "no PKI loaded");
		goto fail;
	}
	if ((srv->ctx = tls_ctx(c, err, errlen)) == NULL)
		goto fail;
	srv->http = evhttp_new(base);
	evhttp_set_bevcb(srv->http, bevcb, srv);
	evhttp_set_gencb(srv->http, handle, srv);
	/* every method reaches the router, which answers 405 in JSON */
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	    EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_max_body_size(srv->http, MAX((ev_ssize_t)BODY_CEILING,
	    (ev_ssize_t)c->cfg.max_body * 2));
	evhttp_set_max_headers_size(srv->http, HEADERS_MAX);
	evhttp_set_timeout(srv->http, c->cfg.request_timeout_s);
	srv->sock = evhttp_bind_socket_with_handle(srv->http, c->cfg.listen,
	    (ev_uint16_t)c->cfg.port);
	if (srv->sock == NULL) {
		xsnprintf(err, errlen, "cannot listen on %s port %d", c->cfg.listen,
		    c->cfg.port);
		goto fail;
	}
	{
		/* no Nagle: a pushed answer's headers and body leave together, not
		 * the body after the device's delayed ACK (~40 ms); accepted
		 * connections inherit the option from the listening socket */
		int one = 1;

		if (setsockopt(evhttp_bound_socket_get_fd(srv->sock), IPPROTO_TCP,
		    TCP_NODELAY, &one, sizeof(one)) == -1)
			log_warn("center: TCP_NODELAY not set on the listening socket");
	}
	srv->push_ev = event_new(base, -1, 0, push_run, srv);
	srv->tick_ev = event_new(base, -1, EV_PERSIST, tick, srv);
	event_add(srv->tick_ev, &tv);
	c->changed = changed;
	c->changed_arg = srv;
	return srv;
fail:
	server_free(srv);
	return NULL;
}

int
server_port(const struct server *srv)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	evutil_socket_t fd = evhttp_bound_socket_get_fd(srv->sock);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

void
server_free(struct server *srv)
{
	struct waiter *w;

	if (srv == NULL)
		return;
	/* evhttp_free below frees the parked requests with their connections */
	while ((w = TAILQ_FIRST(&srv->waiters)) != NULL)
		waiter_drop(w);
	if (srv->c != NULL && srv->c->changed_arg == srv) {
		srv->c->changed = NULL;
		srv->c->changed_arg = NULL;
	}
	if (srv->push_ev != NULL)
		event_free(srv->push_ev);
	if (srv->tick_ev != NULL)
		event_free(srv->tick_ev);
	if (srv->http != NULL)
		evhttp_free(srv->http);
	SSL_CTX_free(srv->ctx);
	free(srv);
}
