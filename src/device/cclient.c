#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "device/cclient.h"
#include "device/enrol.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"
#include "pki/keystore.h"
#include "pki/pki.h"

#define EVENTS_BATCH		256
#define EVENTS_BYTES_MAX	(32 * 1024)	/* well under the center's max_body_bytes */
#define EVENTS_FLUSH_MS		1000
#define BACKOFF_MIN_MS		1000
#define BACKOFF_MAX_MS		16000
#define APPLY_MAX		64	/* applications queued */
#define STOP_FLUSH_MS		2000
#define CLOCK_FIRST_MS		2000	/* the first clock probe after start */
#define CLOCK_EVERY_MS		600000	/* then every 10 minutes */
#define CLOCK_WARN_MS		1000

enum msg_kind { MSG_DOC, MSG_STATE, MSG_DECISION, MSG_RENEWED };

struct msg {
	enum msg_kind	 kind;
	char		*text;
	size_t		 len;
	bool		 ok;
	bool		 refused;
	char		 site[64];
	char		 decision[16];
	char		 why[384];
};

/* one thread's connection to the center, kept between requests */
struct conn {
	CURL		*h;
	char		 serial[PKI_SERIAL_HEX_MAX];	/* of the client certificate */
};

struct cclient {
	struct cclient_cfg	 cfg;		/* strings copied below */
	char			*url, *pin, *keystore, *crl_path, *spill;
	struct cclient_ops	 ops;
	struct event		*ev;
	int			 pipe_r, pipe_w;
	pthread_t		 poll_th, work_th;
	struct conn		 poll_conn, work_conn;	/* each its thread's own */
	bool			 poll_started, work_started;
	atomic_bool		 stop;

	pthread_mutex_t		 mu;		/* everything below */
	pthread_cond_t		 cv;		/* worker: something to do, or stop */
	pthread_cond_t		 poll_cv;	/* poll thread: stop during a back-off */
	char			 apply[APPLY_MAX][64];
	size_t			 napply;
	bool			 renew;
	char			*events[CCLIENT_EVENTS_MAX];	/* ring of JSON texts */
	size_t			 ev_head, ev_len;
	uint64_t		 ev_evicted;	/* ever dropped for room (oldest first) */
	size_t			 batch_max;	/* events per upload now */
	bool			 refused;
	bool			 flush;		/* stopping: send what is queued now */
	uint64_t		 ev_first_ms;	/* when the oldest queued event came */
	struct cclient_stats	 st;
};

/* ---- to the event loop ---------------------------------------------------- */

static void
post(struct cclient *c, struct msg *m)
{
	ssize_t n;

	do
		n = write(c->pipe_w, &m, sizeof(m));
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(m)) {
		free(m->text);
		free(m);
	}
}

static void
post_state(struct cclient *c, bool reachable, bool refused, const char *why)
{
	struct msg *m = xcalloc(1, sizeof(*m));
	bool changed;

	pthread_mutex_lock(&c->mu);
	changed = c->st.reachable != reachable || c->refused != refused;
	c->st.reachable = reachable;
	c->refused = refused;
	pthread_mutex_unlock(&c->mu);
	if (!changed) {
		free(m);
		return;
	}
	m->kind = MSG_STATE;
	m->ok = reachable;
	m->refused = refused;
	xsnprintf(m->why, sizeof(m->why), "%s", why);
	post(c, m);
}

static void
pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cclient *c = arg;
	struct msg *batch[32];
	ssize_t n;

	while ((n = read(fd, batch, sizeof(batch))) > 0) {
		for (size_t i = 0; i < (size_t)n / sizeof(batch[0]); i++) {
			struct msg *m = batch[i];

			switch (m->kind) {
			case MSG_DOC:
				c->ops.doc(c->ops.arg, m->text, m->len);
				m->text = NULL;
				break;
			case MSG_STATE:
				c->ops.state(c->ops.arg, m->ok, m->refused, m->why);
				break;
			case MSG_DECISION:
				c->ops.decision(c->ops.arg, m->site, m->decision, m->why);
				break;
			case MSG_RENEWED:
				c->ops.renewed(c->ops.arg, m->ok, m->why);
				break;
			}
			free(m->text);
			free(m);
		}
	}
}

/* ---- one request as this device ------------------------------------------- */

/*
 * method path body as the service identity; 0 with *ans filled when an HTTP
 * answer came (any status), -1 with err otherwise.
 */
static int
request(struct cclient *c, struct conn *cn, const char *method, const char *path,
    const char *body, long timeout_s, struct enrol_answer *ans, char *err, size_t errlen)
{
	char serial[PKI_SERIAL_HEX_MAX] = "";
	struct keystore *ks = NULL;
	struct keystore_key *key = NULL;
	X509 *cert = NULL, *root = NULL;
	struct pki_err perr;
	char url[1024];
	int r = -1;

	memset(ans, 0, sizeof(*ans));
	if (xsnprintf(url, sizeof(url), "%s%s", c->url, path) == -1) {
		xsnprintf(err, errlen, "URL too long");
		return -1;
	}
	/* a renewal replaces the key, then the certificate: a pair read in
	 * between does not match, and is read again */
	for (int tries = 0; ; tries++) {
		EVP_PKEY *pub;
		bool match;

		if (keystore_open(c->keystore, 0, &ks, &perr) == -1 ||
		    keystore_key_load(ks, PKI_LABEL_SERVICE, &key, &perr) == -1 ||
		    keystore_cert_load(ks, PKI_LABEL_SERVICE, &cert, &perr) == -1 ||
		    keystore_cert_load(ks, PKI_LABEL_ROOT, &root, &perr) == -1) {
			xsnprintf(err, errlen, "key store %s: %s", c->keystore, perr.msg);
			goto out;
		}
		pub = keystore_key_public(key);
		match = pub != NULL && EVP_PKEY_eq(pub, X509_get0_pubkey(cert)) == 1;
		EVP_PKEY_free(pub);
		if (match)
			break;
		X509_free(cert);
		X509_free(root);
		keystore_key_free(key);
		keystore_close(ks);
		cert = root = NULL;
		key = NULL;
		ks = NULL;
		if (tries == 20 || atomic_load(&c->stop)) {
			xsnprintf(err, errlen, "key store %s: the service key and certificate "
			    "do not match", c->keystore);
			goto out;
		}
		usleep(50000);
	}
	/* a connection made with another certificate (before a renewal) is not
	 * reused: the center must see the current one */
	(void)pki_cert_serial(cert, serial);
	if (cn->h != NULL && strcmp(cn->serial, serial) != 0) {
		curl_easy_cleanup(cn->h);
		cn->h = NULL;
	}
	if (cn->h == NULL && (cn->h = curl_easy_init()) != NULL)
		xsnprintf(cn->serial, sizeof(cn->serial), "%s", serial);
	{
		const struct enrol_http req = { .url = url, .method = method, .body = body,
		    .key = key, .cert = cert, .root = root, .timeout_s = timeout_s,
		    .cancel = &c->stop, .handle = cn->h };

		r = enrol_request(&req, ans, err, errlen);
	}
out:
	X509_free(cert);
	X509_free(root);
	keystore_key_free(key);
	keystore_close(ks);
	return r;
}

/* the center's {"error": …} or the status */
static void
answer_why(const struct enrol_answer *a, char *why, size_t cap)
{
	json_t *j = json_loads(a->body != NULL ? a->body : "", 0, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));

	if (e != NULL)
		xsnprintf(why, cap, "%s (HTTP %ld)", e, a->status);
	else
		xsnprintf(why, cap, "HTTP %ld", a->status);
	json_decref(j);
}

/* sleep ms unless stopped; true when stopped */
static bool
nap(struct cclient *c, pthread_cond_t *cv, uint64_t ms)
{
	struct timespec ts;
	bool stopped;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->mu);
	while (!atomic_load(&c->stop))
		if (pthread_cond_timedwait(cv, &c->mu, &ts) == ETIMEDOUT)
			break;
	stopped = atomic_load(&c->stop);
	pthread_mutex_unlock(&c->mu);
	return stopped;
}

/* ---- the poll thread ------------------------------------------------------ */

static void *
poll_main(void *arg)
{
	struct cclient *c = arg;
	int64_t since = c->cfg.since;
	uint64_t backoff = BACKOFF_MIN_MS;
	char path[96], err[384];

	bool failed = false;

	while (!atomic_load(&c->stop)) {
		struct enrol_answer ans;
		long ans_status;
		json_t *j;
		int64_t v;

		/* after a failure, ask without waiting: being connected again is known
		 * (and said) at once, not after a whole long-poll */
		xsnprintf(path, sizeof(path), "/v1/config?since=%lld&wait=%d",
		    (long long)since, failed ? 0 : CCLIENT_WAIT_S);
		pthread_mutex_lock(&c->mu);
		c->st.polls++;
		pthread_mutex_unlock(&c->mu);
		if (request(c, &c->poll_conn, "GET", path, NULL, CCLIENT_WAIT_S + 15, &ans, err,
		    sizeof(err)) == -1 || ans.status != 200) {
			if (atomic_load(&c->stop)) {
				enrol_answer_free(&ans);
				break;
			}
			if (ans.status != 0)
				answer_why(&ans, err, sizeof(err));
			ans_status = ans.status;
			enrol_answer_free(&ans);
			pthread_mutex_lock(&c->mu);
			c->st.poll_failures++;
			pthread_mutex_unlock(&c->mu);
			post_state(c, false, ans_status == 403, err);
			failed = true;
			if (nap(c, &c->poll_cv, backoff))
				break;
			backoff = MIN(backoff * 2, (uint64_t)BACKOFF_MAX_MS);
			continue;
		}
		backoff = BACKOFF_MIN_MS;
		failed = false;
		post_state(c, true, false, "connected");
		j = json_loads(ans.body, 0, NULL);
		v = json_integer_value(json_object_get(j, "version"));
		json_decref(j);
		if (v != since && v > 0) {
			struct msg *m = xcalloc(1, sizeof(*m));

			m->kind = MSG_DOC;
			m->text = ans.body;
			m->len = ans.len;
			ans.body = NULL;
			since = v;
			pthread_mutex_lock(&c->mu);
			c->st.docs++;
			pthread_mutex_unlock(&c->mu);
			post(c, m);
		}
		enrol_answer_free(&ans);
	}
	return NULL;
}

/* ---- the worker thread ---------------------------------------------------- */

static void
do_apply(struct cclient *c, const char *site)
{
	struct msg *m = xcalloc(1, sizeof(*m));
	struct enrol_answer ans;
	json_t *req = json_pack("{s:s}", "peer", site), *j = NULL;
	char *body = json_dumps(req, JSON_COMPACT);

	m->kind = MSG_DECISION;
	xsnprintf(m->site, sizeof(m->site), "%s", site);
	if (request(c, &c->work_conn, "POST", "/v1/connections", body, 0, &ans, m->why,
	    sizeof(m->why)) == -1) {
		xsnprintf(m->decision, sizeof(m->decision), "error");
	} else if (ans.status != 200) {
		xsnprintf(m->decision, sizeof(m->decision), "error");
		answer_why(&ans, m->why, sizeof(m->why));
	} else if ((j = json_loads(ans.body, 0, NULL)) == NULL ||
	    !json_is_string(json_object_get(j, "decision"))) {
		xsnprintf(m->decision, sizeof(m->decision), "error");
		xsnprintf(m->why, sizeof(m->why), "the center's answer has no decision");
	} else {
		xsnprintf(m->decision, sizeof(m->decision), "%s",
		    json_string_value(json_object_get(j, "decision")));
		xsnprintf(m->why, sizeof(m->why), "%s",
		    json_string_value(json_object_get(j, "reason")) != NULL ?
		    json_string_value(json_object_get(j, "reason")) : "");
	}
	json_decref(j);
	enrol_answer_free(&ans);
	json_decref(req);
	free(body);
	post(c, m);
}

static void
do_renew(struct cclient *c)
{
	struct msg *m = xcalloc(1, sizeof(*m));
	const struct enrol_opts o = { .center = c->url, .pin = c->pin,
	    .keystore = c->keystore, .crl_path = c->crl_path, .renew = true,
	    .cancel = &c->stop };
	struct enrol_result res;

	m->kind = MSG_RENEWED;
	/* readers check that key and certificate match (request) */
	m->ok = enrol_run(&o, &res, m->why, sizeof(m->why)) == 0;
	if (m->ok)
		xsnprintf(m->why, sizeof(m->why), "serial %s, valid until %lld", res.serial,
		    (long long)res.not_after);
	post(c, m);
}

/* drop the first n queued events (sent or refused), minus those already
 * evicted for room since the batch was built; under mu */
static void
events_consume(struct cclient *c, size_t n, uint64_t evicted_at_build, bool sent)
{
	uint64_t gone = c->ev_evicted - evicted_at_build;

	n = gone >= n ? 0 : n - (size_t)gone;
	n = MIN(n, c->ev_len);
	for (size_t i = 0; i < n; i++) {
		free(c->events[c->ev_head]);
		c->events[c->ev_head] = NULL;
		c->ev_head = (c->ev_head + 1) % CCLIENT_EVENTS_MAX;
	}
	c->ev_len -= n;
	if (sent)
		c->st.events_sent += n;
	else
		c->st.events_dropped += n;
	c->ev_first_ms = c->ev_len > 0 ? now_mono_ms() : 0;
}

/*
 * Upload the oldest queued events: at most batch_max of them and
 * EVENTS_BYTES_MAX bytes (at least one). The center takes a batch whole or
 * not at all: a batch it refuses as malformed or too large (400, 413) is
 * halved until the one bad event is alone, and only that one is dropped.
 * Anything else (403, 5xx, no answer) keeps them all for later. false: back
 * off before the next try.
 */
static bool
do_events(struct cclient *c)
{
	size_t n, i, len, cap = 64;
	char *body, err[384];
	struct enrol_answer ans;
	uint64_t evicted;
	bool ok;

	pthread_mutex_lock(&c->mu);
	evicted = c->ev_evicted;
	for (n = 0; n < MIN(c->ev_len, c->batch_max); n++) {
		size_t l = strlen(c->events[(c->ev_head + n) % CCLIENT_EVENTS_MAX]) + 1;

		if (n > 0 && cap + l > EVENTS_BYTES_MAX)
			break;
		cap += l;
	}
	body = xmalloc(cap);
	len = (size_t)snprintf(body, cap, "{\"events\":[");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(body + len, cap - len, "%s%s", i ? "," : "",
		    c->events[(c->ev_head + i) % CCLIENT_EVENTS_MAX]);
	pthread_mutex_unlock(&c->mu);
	snprintf(body + len, cap - len, "]}");
	ok = request(c, &c->work_conn, "POST", "/v1/events", body, 0, &ans, err,
	    sizeof(err)) == 0 &&
	    ans.status == 201;
	free(body);
	pthread_mutex_lock(&c->mu);
	if (ok) {
		events_consume(c, n, evicted, true);
		c->batch_max = MIN(c->batch_max * 2, (size_t)EVENTS_BATCH);
	} else if ((ans.status == 400 || ans.status == 413) && n > 1) {
		c->batch_max = n / 2;		/* find the bad one */
		ok = true;
	} else if (ans.status == 400 || ans.status == 413) {
		answer_why(&ans, err, sizeof(err));
		log_warn("center: an event was refused and dropped: %s", err);
		events_consume(c, 1, evicted, false);
		c->batch_max = EVENTS_BATCH;
		ok = true;
	}
	pthread_mutex_unlock(&c->mu);
	enrol_answer_free(&ans);
	return ok;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * REQ-AUD-4: how far our clock is from the center's, NTP-style from one
 * request (offset = the center's time - the middle of our request; the error
 * is at most half the round trip, reported with it). Sent as a clock event.
 */
static bool
do_clock(struct cclient *c)
{
	struct enrol_answer ans;
	int64_t t0 = wall_ms(), t1, server, offset;
	char err[384];
	json_t *j = NULL;
	bool ok = false;

	if (request(c, &c->work_conn, "GET", "/v1/time", NULL, 10, &ans, err,
	    sizeof(err)) == 0 &&
	    ans.status == 200 && (j = json_loads(ans.body, 0, NULL)) != NULL &&
	    json_is_integer(json_object_get(j, "time_ms"))) {
		t1 = wall_ms();
		server = json_integer_value(json_object_get(j, "time_ms"));
		offset = server - (t0 + (t1 - t0) / 2);
		pthread_mutex_lock(&c->mu);
		c->st.clock_offset_ms = offset;
		c->st.clock_rtt_ms = t1 - t0;
		c->st.clock_measured = true;
		pthread_mutex_unlock(&c->mu);
		if (llabs(offset) > CLOCK_WARN_MS)
			log_warn("clock: this device is %lld ms %s the center (round trip %lld "
			    "ms): its records will not line up; check its time source",
			    (long long)llabs(offset), offset > 0 ? "behind" : "ahead of",
			    (long long)(t1 - t0));
		cclient_event(c, json_pack("{s:s, s:I, s:I, s:{s:I}}", "kind", "clock",
		    "time_ms", (json_int_t)t1, "offset_ms", (json_int_t)offset, "detail",
		    "rtt_ms", (json_int_t)(t1 - t0)));
		ok = true;
	}
	json_decref(j);
	enrol_answer_free(&ans);
	return ok;
}

static void *
work_main(void *arg)
{
	struct cclient *c = arg;
	uint64_t retry_at = 0, backoff = BACKOFF_MIN_MS;
	uint64_t clock_due = now_mono_ms() + CLOCK_FIRST_MS;

	for (;;) {
		char site[64] = "";
		bool renew = false, events = false, clock = false;
		uint64_t now = now_mono_ms();

		pthread_mutex_lock(&c->mu);
		for (;;) {
			struct timespec ts;

			if (atomic_load(&c->stop))
				break;
			now = now_mono_ms();
			if (c->napply > 0 || c->renew || now >= clock_due)
				break;
			if (c->ev_len > 0 && now >= retry_at && (c->flush ||
			    c->ev_len >= EVENTS_BATCH || now - c->ev_first_ms >= EVENTS_FLUSH_MS))
				break;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += 200 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&c->cv, &c->mu, &ts);
		}
		if (atomic_load(&c->stop)) {
			pthread_mutex_unlock(&c->mu);
			break;
		}
		if (c->napply > 0) {
			memcpy(site, c->apply[0], sizeof(site));
			memmove(c->apply[0], c->apply[1], (c->napply - 1) * sizeof(c->apply[0]));
			c->napply--;
			c->st.applications++;
		} else if (c->renew) {
			renew = true;
			c->renew = false;
			c->st.renewals++;
		} else if (now >= clock_due) {
			clock = true;
		} else {
			events = true;
		}
		pthread_mutex_unlock(&c->mu);
		if (site[0] != '\0')
			do_apply(c, site);
		else if (renew)
			do_renew(c);
		else if (clock)
			/* measured again in 10 minutes, or in a minute after a failure */
			clock_due = now_mono_ms() + (do_clock(c) ? CLOCK_EVERY_MS : 60000);
		else if (events) {
			if (do_events(c)) {
				backoff = BACKOFF_MIN_MS;
				retry_at = 0;
			} else {
				retry_at = now_mono_ms() + backoff;
				backoff = MIN(backoff * 2, (uint64_t)BACKOFF_MAX_MS);
			}
		}
	}
	return NULL;
}

/* ---- events kept across a restart ---------------------------------------- */

/*
 * At stop, what the center has not taken is written to the spill file, one
 * JSON event per line (they are our own texts); at the next start it is read
 * back into the queue, oldest first, and removed. A crash loses the queue.
 */
static void
spill_save(struct cclient *c)
{
	size_t len = 0, cap = 1;
	char *buf;

	if (c->spill == NULL || c->ev_len == 0)
		return;
	for (size_t i = 0; i < c->ev_len; i++)
		cap += strlen(c->events[(c->ev_head + i) % CCLIENT_EVENTS_MAX]) + 1;
	buf = xmalloc(cap);
	for (size_t i = 0; i < c->ev_len; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s\n",
		    c->events[(c->ev_head + i) % CCLIENT_EVENTS_MAX]);
	if (file_write_atomic(c->spill, buf, len, 0600) == -1)
		log_warn("center: %zu undelivered event(s) lost: cannot write %s: %s",
		    c->ev_len, c->spill, strerror(errno));
	else
		log_info("center: %zu undelivered event(s) kept in %s for the next start",
		    c->ev_len, c->spill);
	free(buf);
}

static void
spill_load(struct cclient *c)
{
	uint8_t *data;
	size_t len, n = 0;
	char *line, *save = NULL;

	if (c->spill == NULL || file_read_all(c->spill, 16 * 1024 * 1024, &data, &len) == -1)
		return;
	data = xrealloc(data, len + 1);
	data[len] = '\0';
	for (line = strtok_r((char *)data, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		json_t *ev = json_loads(line, 0, NULL);

		/* only well-formed objects: a damaged file loses its bad lines */
		if (json_is_object(ev)) {
			cclient_event(c, ev);
			n++;
		} else {
			json_decref(ev);
		}
	}
	free(data);
	(void)unlink(c->spill);
	if (n > 0)
		log_info("center: %zu event(s) kept from before the last stop, to be sent", n);
}

/* ---- API ------------------------------------------------------------------ */

struct cclient *
cclient_new(struct event_base *base, const struct cclient_cfg *cfg,
    const struct cclient_ops *ops)
{
	struct cclient *c = xcalloc(1, sizeof(*c));
	pthread_condattr_t ca;
	int fds[2];

	c->cfg = *cfg;
	c->url = xstrdup(cfg->url);
	c->pin = xstrdup(cfg->pin);
	c->keystore = xstrdup(cfg->keystore);
	c->crl_path = xstrdup(cfg->crl_path);
	c->spill = cfg->spill_path != NULL ? xstrdup(cfg->spill_path) : NULL;
	spill_load(c);
	c->ops = *ops;
	c->pipe_r = c->pipe_w = -1;
	atomic_init(&c->stop, false);
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_cond_init(&c->poll_cv, &ca);
	pthread_condattr_destroy(&ca);
	c->st.reachable = true;		/* the first failure is reported */
	c->batch_max = EVENTS_BATCH;
	if (pipe2(fds, O_CLOEXEC) == -1) {
		log_error("center client: pipe: %s", strerror(errno));
		cclient_free(c);
		return NULL;
	}
	c->pipe_r = fds[0];
	c->pipe_w = fds[1];
	(void)fcntl(c->pipe_r, F_SETFL, O_NONBLOCK);
	c->ev = event_new(base, c->pipe_r, EV_READ | EV_PERSIST, pipe_cb, c);
	event_add(c->ev, NULL);
	if (pthread_create(&c->poll_th, NULL, poll_main, c) != 0 ||
	    !(c->poll_started = true) ||
	    pthread_create(&c->work_th, NULL, work_main, c) != 0) {
		log_error("center client: cannot start its threads");
		cclient_free(c);
		return NULL;
	}
	c->work_started = true;
	return c;
}

void
cclient_free(struct cclient *c)
{
	struct msg *m;

	if (c == NULL)
		return;
	/* the last events (tunnels deleted at shutdown) are sent if the center
	 * is there, for at most STOP_FLUSH_MS */
	pthread_mutex_lock(&c->mu);
	c->flush = true;
	pthread_cond_signal(&c->cv);
	for (int i = 0; c->work_started && c->st.reachable && c->ev_len > 0 &&
	    i < STOP_FLUSH_MS / 50; i++) {
		pthread_mutex_unlock(&c->mu);
		usleep(50000);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	atomic_store(&c->stop, true);
	pthread_mutex_lock(&c->mu);
	pthread_cond_broadcast(&c->cv);
	pthread_cond_broadcast(&c->poll_cv);
	pthread_mutex_unlock(&c->mu);
	if (c->poll_started)
		pthread_join(c->poll_th, NULL);
	if (c->work_started)
		pthread_join(c->work_th, NULL);
	if (c->poll_conn.h != NULL)
		curl_easy_cleanup(c->poll_conn.h);
	if (c->work_conn.h != NULL)
		curl_easy_cleanup(c->work_conn.h);
	if (c->ev != NULL)
		event_free(c->ev);
	/* messages never delivered */
	while (c->pipe_r != -1 && read(c->pipe_r, &m, sizeof(m)) == (ssize_t)sizeof(m)) {
		free(m->text);
		free(m);
	}
	if (c->pipe_r != -1)
		close(c->pipe_r);
	if (c->pipe_w != -1)
		close(c->pipe_w);
	spill_save(c);
	for (size_t i = 0; i < c->ev_len; i++)
		free(c->events[(c->ev_head + i) % CCLIENT_EVENTS_MAX]);
	pthread_cond_destroy(&c->cv);
	pthread_cond_destroy(&c->poll_cv);
	pthread_mutex_destroy(&c->mu);
	free(c->url);
	free(c->pin);
	free(c->keystore);
	free(c->crl_path);
	free(c->spill);
	free(c);
}

bool
cclient_apply(struct cclient *c, const char *site)
{
	bool ok = true;

	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->napply; i++)
		if (strcmp(c->apply[i], site) == 0)
			goto out;
	if (c->napply < APPLY_MAX && strlen(site) < sizeof(c->apply[0]))
		memcpy(c->apply[c->napply++], site, strlen(site) + 1);
	else
		ok = false;
	pthread_cond_signal(&c->cv);
out:
	pthread_mutex_unlock(&c->mu);
	return ok;
}

void
cclient_renew(struct cclient *c)
{
	pthread_mutex_lock(&c->mu);
	c->renew = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

void
cclient_event(struct cclient *c, json_t *ev)
{
	char *text = json_dumps(ev, JSON_COMPACT);

	json_decref(ev);
	if (text == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	if (c->ev_len == CCLIENT_EVENTS_MAX) {
		/* the center has been away long: the oldest event gives way */
		free(c->events[c->ev_head]);
		c->ev_head = (c->ev_head + 1) % CCLIENT_EVENTS_MAX;
		c->ev_len--;
		c->ev_evicted++;
		c->st.events_dropped++;
	}
	c->events[(c->ev_head + c->ev_len) % CCLIENT_EVENTS_MAX] = text;
	if (c->ev_len++ == 0)
		c->ev_first_ms = now_mono_ms();
	if (c->ev_len >= EVENTS_BATCH)
		pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

void
cclient_get_stats(struct cclient *c, struct cclient_stats *st)
{
	pthread_mutex_lock(&c->mu);
	*st = c->st;
	st->events_queued = c->ev_len;
	pthread_mutex_unlock(&c->mu);
}
