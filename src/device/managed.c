/*
 * odvpnd's managed mode (SPEC §3 steps 3, 5–8; docs/DEVICE.md "Managed mode"):
 * enrolment at first start, the center's configuration document applied as
 * peers (grants merged per site), connection applications for sites without
 * a grant, revocations and withdrawals closing tunnels, renewal of the service
 * certificate, and the device's events shipped to the center's audit store.
 *
 * Everything here runs in the event loop's thread; the HTTPS exchanges run in
 * the center client's threads (cclient.c) and come back as callbacks.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "device/cclient.h"
#include "device/daemon_int.h"
#include "device/enrol.h"
#include "device/mdoc.h"
#include "device/policy/flow.h"
#include "lib/log.h"
#include "lib/util.h"

#define HOLD_DENIED_MS		30000	/* no new on-demand application after a denial */
#define HOLD_ERROR_MS		5000	/* … after the center could not be asked */
#define GRANTED_OPEN_MS		2000	/* a grant decided opens the peer within */
#define RENEW_RETRY_S		30
#define APP_WAITERS_MAX		16
#define ENROL_BACKOFF_MAX_S	30
#define EVENT_REASON_MAX	256	/* the center refuses longer (docs/API.md) */

struct app_waiter {
	char		 site[PEER_NAME_MAX];
	struct ctl_conn	*conn;
	bool		 granted;	/* decided; waiting for the document with the grant */
};

/* refused handshakes are reported at most once per REFUSED_EVERY_MS per identity */
#define REFUSED_EVERY_MS	10000
#define REFUSED_SLOTS		16
#define REFUSED_PER_WINDOW	20	/* all identities together, per REFUSED_EVERY_MS */

struct refused_slot {
	char		who[PEER_NAME_MAX];
	uint64_t	last_ms;
	unsigned	suppressed;
};

struct managed {
	struct daemon		*d;
	struct cclient		*cc;
	struct mdoc		 doc;		/* in force */
	char			*text;		/* its text (re-applied when grants start/end) */
	size_t			 len;
	int64_t			 applied_at;	/* wall clock */
	bool			 reachable;
	char			 center_why[256];
	int64_t			 renew_at;
	char			 renew_last[256];
	struct event		*renew_timer;
	struct event		*change_timer;
	struct app_waiter	 appw[APP_WAITERS_MAX];
	size_t			 nappw;
	bool			 self_revoked;
	struct refused_slot	 refused[REFUSED_SLOTS];
	uint64_t		 refused_window_ms;
	unsigned		 refused_in_window;
	uint64_t		 refused_uncounted;
	struct {
		char	 peer[PEER_NAME_MAX];
		int64_t	 grant;
	}			 prev[MDOC_MAX_PEERS];	/* before the last table change */
	size_t			 nprev;
	char			 spill[DEVCFG_PATH_MAX + 32];	/* undelivered events */
};

/* ---- documents ------------------------------------------------------------ */

static void	apply_text(struct managed *, char *text, size_t len, bool fresh);

static void
change_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct managed *m = arg;

	/* a grant started or ended: the same document gives another peer table */
	apply_text(m, xstrdup(m->text), m->len, false);
}

static void
schedule_change(struct managed *m)
{
	int64_t now = now_wall_s(), dt;
	struct timeval tv;

	evtimer_del(m->change_timer);
	if (m->doc.next_change == INT64_MAX)
		return;
	dt = m->doc.next_change - now;
	tv.tv_sec = (time_t)(dt < 0 ? 0 : dt > 3600 ? 3600 : dt);
	tv.tv_usec = 1000;
	evtimer_add(m->change_timer, &tv);
}

/* the CRL of the document, installed for the IKE verifier */
static void
apply_crl(struct managed *m, const struct mdoc *doc)
{
	struct daemon *d = m->d;
	char err[256];

	if (doc->crl_pem == NULL || d->cfg.crl[0] == '\0' ||
	    (m->doc.crl_pem != NULL && strcmp(m->doc.crl_pem, doc->crl_pem) == 0))
		return;
	if (file_write_atomic(d->cfg.crl, doc->crl_pem, strlen(doc->crl_pem), 0644) == -1) {
		log_error("center: cannot write the CRL to %s: %s", d->cfg.crl, strerror(errno));
		return;
	}
	if (load_trust(d, err, sizeof(err)) == -1)
		log_error("center: the CRL from the center was not loaded: %s", err);
}

/* traffic or a client waited for a grant: once the peer is open, connect */
static bool
connect_if_open(struct daemon *d, struct peer_state *p)
{
	if (!p->want || p->cfg->dp.closed)
		return false;
	p->want = false;
	peer_connect(d, p, "granted by the center");
	return true;
}

/* no grant comes: the held packets go, and no new application for hold_ms */
static void
give_up(struct daemon *d, struct peer_state *p, uint64_t hold_ms)
{
	p->want = false;
	p->hold_until_ms = now_mono_ms() + hold_ms;
	dp_sa_failed(d->dp, p->cfg->ike.name);
}

static void
app_waiters_after_doc(struct managed *m)
{
	struct daemon *d = m->d;

	for (size_t i = 0; i < m->nappw;) {
		struct app_waiter *w = &m->appw[i];
		struct peer_state *p = peer_state(d, w->site);

		if (!w->granted || p == NULL || p->cfg->dp.closed) {
			i++;
			continue;
		}
		/* the grant is in force: the client now waits for the tunnel */
		if (p->nwaiters < nitems(p->waiters))
			p->waiters[p->nwaiters++] = w->conn;
		else
			control_reply(w->conn, control_error("too many clients waiting"));
		p->want = true;
		m->appw[i] = m->appw[--m->nappw];
	}
}

/* a prefix in our LAN or already routed to another peer */
static bool
prefix_taken(const struct daemon *d, const struct devcfg_peer *peers, size_t n,
    const struct prefix *p)
{
	for (size_t k = 0; k < d->cfg.dp.nlocal; k++)
		if (memcmp(&d->cfg.dp.local[k], p, sizeof(*p)) == 0)
			return true;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < peers[i].dp.nremote; k++)
			if (memcmp(&peers[i].dp.remote[k], p, sizeof(*p)) == 0)
				return true;
	return false;
}

/*
 * The peer table of a document, granted peers first. A prefix can be routed to
 * one peer only (the center allows two sites of different groups to share
 * one): a later claim is left out, and a peer left with none is left out
 * whole, with a warning, rather than the whole table refused.
 */
static size_t
peer_table(struct daemon *d, const struct mdoc *doc, struct devcfg_peer *peers,
    size_t *granted)
{
	size_t n = 0;

	*granted = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < doc->npeers; i++) {
			const struct mdoc_peer *mp = &doc->peers[i];
			struct devcfg_peer pc = mp->p;
			size_t k, kept = 0;

			if (mp->granted != (pass == 0))
				continue;
			for (k = 0; k < pc.dp.nremote; k++) {
				char b[ADDR_STRLEN];

				if (!prefix_taken(d, peers, n, &mp->p.dp.remote[k])) {
					pc.dp.remote[kept++] = mp->p.dp.remote[k];
					continue;
				}
				prefix_format(&mp->p.dp.remote[k], b, sizeof(b));
				log_warn("peer=%s: prefix %s is ours or another peer's: left out",
				    pc.ike.name, b);
			}
			pc.dp.nremote = kept;
			if (kept == 0) {
				log_warn("peer=%s: no prefix of its own left: left out",
				    pc.ike.name);
				continue;
			}
			/* without an address we cannot call: it has to call us */
			pc.on_demand = pc.ike.addr.af != 0;
			if (mp->left_out > 0)
				log_warn("peer=%s: %u flow(s) or grant(s) left out: odvpnd cannot "
				    "enforce them exactly", pc.ike.name, mp->left_out);
			*granted += mp->granted;
			peers[n++] = pc;
		}
	}
	return n;
}

static void
apply_text(struct managed *m, char *text, size_t len, bool fresh)
{
	struct daemon *d = m->d;
	struct devcfg_peer *peers;
	struct mdoc doc;
	char err[256];
	size_t i, granted = 0, npeers;

	if (mdoc_parse(text, len, now_wall_s(), &doc, err, sizeof(err)) == -1) {
		log_error("center: configuration refused, the previous one stays: %s", err);
		free(text);
		return;
	}
	if (strcmp(doc.device_id, d->cfg.device_id) != 0) {
		log_error("center: a configuration for device %s, not %s: ignored",
		    doc.device_id, d->cfg.device_id);
		mdoc_free(&doc);
		free(text);
		return;
	}
	apply_crl(m, &doc);
	peers = xcalloc(doc.npeers > 0 ? doc.npeers : 1, sizeof(*peers));
	npeers = m->self_revoked ? 0 : peer_table(d, &doc, peers, &granted);
	if (ike_set_policy(d->ike, &doc.pol) == -1)
		log_warn("center: crypto policy not applied (unsupported DH group)");
	if (!d->cfg.local_idle)
		d->cfg.idle_timeout_s = doc.idle_timeout_s;
	if (fresh && (doc.nlocal != d->cfg.dp.nlocal || memcmp(doc.local, d->cfg.dp.local,
	    doc.nlocal * sizeof(doc.local[0])) != 0) && !d->cfg.local_lan)
		log_warn("center: site %s's prefixes changed: restart odvpnd to use them",
		    doc.site);
	if (doc.suspended && !m->doc.suspended)
		log_warn("center: site %s is suspended: no peer is reachable", doc.site);
	mdoc_free(&m->doc);
	m->doc = doc;
	free(m->text);
	m->text = text;
	m->len = len;
	/* the grants of the peers now in force, for the events of tunnels that
	 * close because their peer goes (withdrawn: no state of it is left) */
	m->nprev = 0;
	for (i = 0; i < d->cfg.npeers && m->nprev < nitems(m->prev); i++) {
		if (d->ps[i].last_grant == 0)
			continue;
		xsnprintf(m->prev[m->nprev].peer, PEER_NAME_MAX, "%s", d->ps[i].cfg->ike.name);
		m->prev[m->nprev++].grant = d->ps[i].last_grant;
	}
	if (daemon_set_peers(d, peers, npeers) == -1)
		log_error("center: configuration version %lld not applied to the data plane",
		    (long long)m->doc.version);

	for (i = 0; i < d->cfg.npeers; i++) {
		const struct mdoc_peer *mp = mdoc_peer(&m->doc, d->ps[i].cfg->ike.name);

		if (mp != NULL && mp->ngrants > 0)
			d->ps[i].last_grant = mp->grant_ids[0];
	}
	/* revoked certificates: tunnels authenticated with them close now */
	for (i = 0; i < d->cfg.npeers; i++) {
		struct peer_state *p = &d->ps[i];

		if (p->cert_serial[0] == '\0' || (p->up_ms == 0 && !p->connecting) ||
		    !mdoc_revoked(&m->doc, p->cert_serial))
			continue;
		log_warn("peer=%s: certificate %s revoked, closing the tunnel",
		    p->cfg->ike.name, p->cert_serial);
		ike_disconnect(d->ike, p->cfg->ike.name, "peer certificate revoked");
	}
	{
		char serial[PKI_SERIAL_HEX_MAX];

		if (pki_cert_serial(d->cert, serial) == 0 && mdoc_revoked(&m->doc, serial) &&
		    !m->self_revoked) {
			m->self_revoked = true;
			log_error("center: this device's service certificate %s is revoked",
			    serial);
		}
	}
	app_waiters_after_doc(m);
	/* traffic that waited for a grant: the tunnel comes up now */
	for (i = 0; i < d->cfg.npeers; i++) {
		struct peer_state *p = &d->ps[i];

		(void)connect_if_open(d, p);
	}
	ike_schedule(d);
	schedule_change(m);
	if (fresh) {
		m->applied_at = now_wall_s();
		log_info("center: configuration version %lld applied: %zu site(s) reachable, "
		    "%zu granted, %zu revoked certificate(s)", (long long)m->doc.version,
		    m->doc.npeers, granted, m->doc.nrevoked);
		if (d->cfg.cache[0] != '\0' &&
		    file_write_atomic(d->cfg.cache, text, len, 0600) == -1)
			log_warn("center: cannot keep the configuration in %s: %s",
			    d->cfg.cache, strerror(errno));
	}
}

/* ---- center client callbacks --------------------------------------------- */

static void
cc_doc(void *arg, char *text, size_t len)
{
	apply_text(arg, text, len, true);
}

static void
cc_state(void *arg, bool reachable, bool refused, const char *why)
{
	struct managed *m = arg;
	struct daemon *d = m->d;

	m->reachable = reachable;
	xsnprintf(m->center_why, sizeof(m->center_why), "%s", why);
	if (reachable) {
		log_info("center: connected to %s", d->cfg.center_url);
		return;
	}
	if (!refused) {
		log_warn("center: cannot reach %s (%s): tunnels and grants in force stay, "
		    "retrying", d->cfg.center_url, why);
		return;
	}
	/*
	 * The center answers but refuses our service certificate: it is revoked,
	 * or this device is. Nothing it granted may be used any more: every
	 * tunnel closes and no peer is left. A new service certificate (renewal
	 * with the tier-1 certificate) is asked for; it is refused too when the
	 * device itself is revoked, and asked again every RENEW_RETRY_S.
	 */
	log_error("center: it refuses this device's service certificate (%s): closing "
	    "every tunnel, asking for a new certificate", why);
	m->self_revoked = true;
	evtimer_del(m->change_timer);
	(void)daemon_set_peers(d, NULL, 0);
	if (m->cc != NULL)
		cclient_renew(m->cc);
}

static void
cc_decision(void *arg, const char *site, const char *decision, const char *why)
{
	struct managed *m = arg;
	struct daemon *d = m->d;
	struct peer_state *p = peer_state(d, site);
	bool granted = strcmp(decision, "granted") == 0;

	log_info("peer=%s: application %s: %s", site, decision, why);
	if (p != NULL) {
		p->applying = false;
		xsnprintf(p->decision, sizeof(p->decision), "%s", decision);
		xsnprintf(p->decision_why, sizeof(p->decision_why), "%s", why);
	}
	for (size_t i = 0; i < m->nappw;) {
		struct app_waiter *w = &m->appw[i];

		if (strcmp(w->site, site) != 0 || w->granted) {
			i++;
			continue;
		}
		if (granted) {
			w->granted = true;
			i++;
			continue;
		}
		control_reply(w->conn, control_error("application for %s %s: %s", site,
		    decision, why));
		m->appw[i] = m->appw[--m->nappw];
	}
	if (granted) {
		/* the grant reaches us in the pushed document, perhaps already has */
		app_waiters_after_doc(m);
		if (p != NULL && !connect_if_open(d, p) && p->want) {
			p->granted_wait_ms = now_mono_ms() + GRANTED_OPEN_MS;
		}
		return;
	}
	if (p != NULL)
		give_up(d, p, strcmp(decision, "error") == 0 ? HOLD_ERROR_MS : HOLD_DENIED_MS);
}

static void
renew_schedule(struct managed *m, int64_t at)
{
	struct timeval tv;
	int64_t dt = at - now_wall_s();

	m->renew_at = at;
	tv.tv_sec = (time_t)(dt < 1 ? 1 : dt > 86400 ? 86400 : dt);
	tv.tv_usec = 0;
	evtimer_add(m->renew_timer, &tv);
}

/*
 * renew when a third of the validity left at load time remains (for a
 * certificate just issued: at two thirds of its life; notBefore is back-dated
 * for clock skew and says nothing about when it was issued)
 */
static void
renew_plan(struct managed *m)
{
	int64_t now = now_wall_s(), na = pki_cert_not_after(m->d->cert);

	renew_schedule(m, na > now ? now + (na - now) * 2 / 3 : now);
}

static void
renew_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct managed *m = arg;

	if (now_wall_s() < m->renew_at) {
		renew_schedule(m, m->renew_at);		/* capped wait: not yet */
		return;
	}
	log_info("center: renewing the service certificate");
	cclient_renew(m->cc);
}

static void
cc_renewed(void *arg, bool ok, const char *why)
{
	struct managed *m = arg;
	char err[256];

	if (!ok) {
		xsnprintf(m->renew_last, sizeof(m->renew_last), "failed: %s", why);
		log_warn("center: renewal failed (%s); again in %d s", why, RENEW_RETRY_S);
		renew_schedule(m, now_wall_s() + RENEW_RETRY_S);
		return;
	}
	if (daemon_reload_identity(m->d, err, sizeof(err)) == -1) {
		xsnprintf(m->renew_last, sizeof(m->renew_last), "failed: %s", err);
		log_error("center: renewed, but the new certificate is not usable: %s", err);
		renew_schedule(m, now_wall_s() + RENEW_RETRY_S);
		return;
	}
	xsnprintf(m->renew_last, sizeof(m->renew_last), "renewed: %s", why);
	log_info("center: service certificate renewed (%s); new tunnels use it", why);
	renew_plan(m);
	if (m->self_revoked && m->text != NULL) {
		/* refused before: the grants of the last document apply again */
		m->self_revoked = false;
		apply_text(m, xstrdup(m->text), m->len, false);
	}
}

/* ---- hooks from daemon.c --------------------------------------------------- */

void
managed_need_grant(struct daemon *d, const char *site, struct ctl_conn *conn)
{
	struct managed *m = d->m;
	struct peer_state *p = peer_state(d, site);

	if (m == NULL || m->cc == NULL) {
		if (conn != NULL)
			control_reply(conn, control_error("no peer named \"%s\"", site));
		return;
	}
	if (conn != NULL) {
		if (m->nappw == APP_WAITERS_MAX) {
			control_reply(conn, control_error("too many applications waiting"));
			return;
		}
		memset(&m->appw[m->nappw], 0, sizeof(m->appw[0]));
		xsnprintf(m->appw[m->nappw].site, PEER_NAME_MAX, "%s", site);
		m->appw[m->nappw++].conn = conn;
		managed_event(d, "connect", site, "administrator request", NULL);
	} else if (p != NULL && now_mono_ms() < p->hold_until_ms) {
		/* denied a moment ago: the queued packets go, no new application */
		dp_sa_failed(d->dp, site);
		return;
	}
	if (p != NULL) {
		p->want = true;
		if (p->applying)
			return;
		p->applying = true;
	}
	log_info("peer=%s: no grant: applying to the center for a connection (%s)", site,
	    conn != NULL ? "explicit connect" : "on demand: first packet queued");
	if (!cclient_apply(m->cc, site))
		cc_decision(m, site, "error", "too many applications are waiting for the "
		    "center");
}

/* the grant an event is about: the one in force, or the one that was (a
 * tunnel closing because its grant was withdrawn) */
static int64_t
event_grant(struct daemon *d, const char *peer)
{
	const struct mdoc_peer *mp = mdoc_peer(&d->m->doc, peer);
	const struct peer_state *p;

	if (mp != NULL && mp->ngrants > 0)
		return mp->grant_ids[0];
	if ((p = peer_state(d, peer)) != NULL && p->last_grant != 0)
		return p->last_grant;
	for (size_t i = 0; i < d->m->nprev; i++)
		if (strcmp(d->m->prev[i].peer, peer) == 0)
			return d->m->prev[i].grant;
	return 0;
}

void
managed_event(struct daemon *d, const char *kind, const char *peer, const char *reason,
    json_t *detail)
{
	struct managed *m = d->m;
	struct timespec ts;
	int64_t grant;
	json_t *ev;

	if (m == NULL || m->cc == NULL) {
		json_decref(detail);
		return;
	}
	if (strcmp(kind, "ike_refused") == 0 && peer != NULL) {
		/* a stolen or revoked device may knock every second: the audit trail
		 * gets one record per REFUSED_EVERY_MS, with the count in between */
		struct refused_slot *r = &m->refused[0];
		uint64_t now = now_mono_ms();

		for (size_t i = 0; i < REFUSED_SLOTS; i++) {
			if (strcmp(m->refused[i].who, peer) == 0) {
				r = &m->refused[i];
				break;
			}
			if (m->refused[i].last_ms < r->last_ms)
				r = &m->refused[i];
		}
		if (strcmp(r->who, peer) == 0 && now - r->last_ms < REFUSED_EVERY_MS) {
			r->suppressed++;
			json_decref(detail);
			return;
		}
		/* and at most REFUSED_PER_WINDOW in all per window: identities made
		 * up for each attempt are counted, not each recorded */
		if (now - m->refused_window_ms >= REFUSED_EVERY_MS) {
			m->refused_window_ms = now;
			m->refused_in_window = 0;
		}
		if (m->refused_in_window >= REFUSED_PER_WINDOW) {
			m->refused_uncounted++;
			json_decref(detail);
			return;
		}
		m->refused_in_window++;
		if (m->refused_uncounted > 0) {
			if (detail == NULL)
				detail = json_object();
			json_object_set_new(detail, "other_identities_refused",
			    json_integer((json_int_t)m->refused_uncounted));
			m->refused_uncounted = 0;
		}
		if (strcmp(r->who, peer) == 0 && r->suppressed > 0) {
			if (detail == NULL)
				detail = json_object();
			json_object_set_new(detail, "refused_since_last",
			    json_integer(r->suppressed));
		}
		xsnprintf(r->who, sizeof(r->who), "%s", peer);
		r->last_ms = now;
		r->suppressed = 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ev = json_pack("{s:s, s:I}", "kind", kind, "time_ms",
	    (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	if (peer != NULL)
		json_object_set_new(ev, "peer", json_string(peer));
	if (reason != NULL && reason[0] != '\0')
		json_object_set_new(ev, "reason", json_stringn(reason, MIN(strlen(reason),
		    (size_t)EVENT_REASON_MAX)));
	if (detail != NULL)
		json_object_set_new(ev, "detail", detail);
	if (peer != NULL && (grant = event_grant(d, peer)) > 0)
		json_object_set_new(ev, "grant", json_integer(grant));
	cclient_event(m->cc, ev);
}

void
managed_flow(struct daemon *d, const struct flow *f, const char *src, const char *dst,
    uint16_t sport, uint16_t dport)
{
	struct managed *m = d->m;
	struct timespec ts;
	int64_t wall, mono, grant;
	json_t *ev;

	if (m == NULL || m->cc == NULL)
		return;
	/* the data plane's clock is monotonic: times as wall-clock milliseconds */
	clock_gettime(CLOCK_REALTIME, &ts);
	wall = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	mono = (int64_t)now_mono_ms();
	ev = json_pack("{s:s, s:I, s:s, s:{s:s, s:s, s:i, s:i, s:i, s:I, s:I, s:I, s:I, "
	    "s:I, s:I}}", "kind", "flow", "time_ms", (json_int_t)wall, "peer", f->peer,
	    "flow", "src", src, "dst", dst, "proto", (int)f->proto, "sport", (int)sport,
	    "dport", (int)dport, "bytes_in", (json_int_t)f->bytes_in,
	    "bytes_out", (json_int_t)f->bytes_out, "packets_in", (json_int_t)f->pkts_in,
	    "packets_out", (json_int_t)f->pkts_out,
	    "start_ms", (json_int_t)(wall - (mono - (int64_t)f->start_ms)),
	    "end_ms", (json_int_t)(wall - (mono - (int64_t)f->last_ms)));
	if (ev == NULL)
		return;
	if ((grant = event_grant(d, f->peer)) > 0)
		json_object_set_new(ev, "grant", json_integer(grant));
	cclient_event(m->cc, ev);
}

/*
 * Twice a second (the daemon's idle timer): a peer granted by the center but
 * still closed GRANTED_OPEN_MS later (the grant did not come, or opened
 * nothing odvpnd can enforce) gives up its queue instead of holding it.
 */
void
managed_tick(struct daemon *d)
{
	uint64_t now = now_mono_ms();

	if (d->m == NULL)
		return;
	for (size_t i = 0; i < d->cfg.npeers; i++) {
		struct peer_state *p = &d->ps[i];

		if (p->granted_wait_ms == 0 || now < p->granted_wait_ms)
			continue;
		p->granted_wait_ms = 0;
		if (!p->want || !p->cfg->dp.closed)
			continue;
		log_warn("peer=%s: granted, but no grant odvpnd can enforce opened it: the "
		    "queued packets are dropped", p->cfg->ike.name);
		give_up(d, p, HOLD_ERROR_MS);
	}
}

bool
managed_revoked(struct daemon *d, const char *serial)
{
	return d->m != NULL && mdoc_revoked(&d->m->doc, serial);
}

void
managed_ctl_gone(struct daemon *d, struct ctl_conn *c)
{
	struct managed *m = d->m;

	for (size_t i = 0; m != NULL && i < m->nappw; i++)
		if (m->appw[i].conn == c) {
			m->appw[i] = m->appw[--m->nappw];
			return;
		}
}

void
managed_peer_status(struct daemon *d, const struct peer_state *p, json_t *o)
{
	const struct mdoc_peer *mp;
	json_t *ids;

	if (d->m == NULL || (mp = mdoc_peer(&d->m->doc, p->cfg->ike.name)) == NULL)
		return;
	ids = json_array();
	for (size_t i = 0; i < mp->ngrants; i++)
		json_array_append_new(ids, json_integer(mp->grant_ids[i]));
	json_object_set_new(o, "granted", json_boolean(mp->granted));
	json_object_set_new(o, "grants", ids);
	json_object_set_new(o, "device", json_string(mp->device));
	if (mp->granted && mp->not_after != INT64_MAX)
		json_object_set_new(o, "grant_not_after", json_integer(mp->not_after));
	if (p->decision[0] != '\0')
		json_object_set_new(o, "application", json_pack("{s:s, s:s}", "decision",
		    p->decision, "reason", p->decision_why));
	else if (p->applying)
		json_object_set_new(o, "application", json_pack("{s:s}", "decision",
		    "waiting"));
}

json_t *
managed_status(struct daemon *d)
{
	struct managed *m = d->m;
	struct cclient_stats st;
	char serial[PKI_SERIAL_HEX_MAX] = "";

	cclient_get_stats(m->cc, &st);
	(void)pki_cert_serial(d->cert, serial);
	return json_pack("{s:s, s:b, s:s, s:I, s:s, s:s, s:b, s:I, s:I, s:I, s:s, "
	    "s:{s:I, s:I, s:I}, s:I, s:I, s:o}",
	    "url", d->cfg.center_url, "reachable", m->reachable, "last_error",
	    m->reachable ? "" : m->center_why, "version", (json_int_t)m->doc.version,
	    "site", m->doc.site, "org", m->doc.org, "suspended", m->doc.suspended,
	    "applied_at", (json_int_t)m->applied_at,
	    "service_not_after", (json_int_t)pki_cert_not_after(d->cert),
	    "renew_at", (json_int_t)m->renew_at, "service_serial", serial,
	    "events", "sent", (json_int_t)st.events_sent, "queued",
	    (json_int_t)st.events_queued, "dropped", (json_int_t)st.events_dropped,
	    "applications", (json_int_t)st.applications,
	    "revoked_serials", (json_int_t)m->doc.nrevoked,
	    "clock", st.clock_measured ? json_pack("{s:I, s:I}", "offset_ms",
	    (json_int_t)st.clock_offset_ms, "rtt_ms", (json_int_t)st.clock_rtt_ms) :
	    json_null());
}

void
managed_free(struct daemon *d)
{
	struct managed *m = d->m;

	if (m == NULL)
		return;
	cclient_free(m->cc);
	for (size_t i = 0; i < m->nappw; i++)
		control_reply(m->appw[i].conn, control_error("odvpnd is stopping"));
	if (m->renew_timer != NULL)
		event_free(m->renew_timer);
	if (m->change_timer != NULL)
		event_free(m->change_timer);
	mdoc_free(&m->doc);
	free(m->text);
	free(m);
	d->m = NULL;
}

/* ---- start ----------------------------------------------------------------- */

int
daemon_manage(struct daemon *d, char *text, size_t len, char *err, size_t errlen)
{
	struct managed *m = xcalloc(1, sizeof(*m));
	const struct cclient_ops ops = { .arg = m, .doc = cc_doc, .state = cc_state,
	    .decision = cc_decision, .renewed = cc_renewed };
	struct cclient_cfg ccfg;

	m->d = d;
	m->reachable = true;
	d->m = m;
	/* undelivered events are kept beside the document */
	if (d->cfg.cache[0] != '\0') {
		char *slash;

		xsnprintf(m->spill, sizeof(m->spill), "%s", d->cfg.cache);
		if ((slash = strrchr(m->spill, '/')) != NULL)
			xsnprintf(slash + 1, sizeof(m->spill) - (size_t)(slash + 1 - m->spill),
			    "events-pending.jsonl");
		else
			xsnprintf(m->spill, sizeof(m->spill), "events-pending.jsonl");
	}
	m->renew_timer = evtimer_new(d->base, renew_timer_cb, m);
	m->change_timer = evtimer_new(d->base, change_timer_cb, m);
	apply_text(m, text, len, true);
	if (m->text == NULL) {
		xsnprintf(err, errlen, "the center's configuration could not be applied");
		managed_free(d);
		return -1;
	}
	ccfg = (struct cclient_cfg){ .url = d->cfg.center_url, .pin = d->cfg.center_pin,
	    .keystore = d->cfg.keystore, .crl_path = d->cfg.crl, .since = m->doc.version,
	    .spill_path = m->spill[0] != '\0' ? m->spill : NULL };
	if ((m->cc = cclient_new(d->base, &ccfg, &ops)) == NULL) {
		xsnprintf(err, errlen, "the center client could not start");
		managed_free(d);
		return -1;
	}
	renew_plan(m);
	return 0;
}

/* ---- before the daemon: enrolment and the first document --------------------- */

static volatile sig_atomic_t *prep_stop;

static bool
prep_sleep(unsigned s)
{
	for (unsigned i = 0; i < s * 10; i++) {
		if (prep_stop != NULL && *prep_stop)
			return true;
		usleep(100000);
	}
	return prep_stop != NULL && *prep_stop;
}

/* the service identity in the store: present and not expired (renewal takes
 * care of one about to expire) */
static bool
have_service(const struct devcfg *cfg)
{
	struct keystore *ks = NULL;
	struct pki_err perr;
	X509 *cert = NULL;
	bool ok = false;

	if (keystore_open(cfg->keystore, 0, &ks, &perr) == 0 &&
	    keystore_key_exists(ks, PKI_LABEL_SERVICE, &perr) == 1 &&
	    keystore_cert_load(ks, PKI_LABEL_SERVICE, &cert, &perr) == 0)
		ok = pki_cert_not_after(cert) > now_wall_s() + 5;
	X509_free(cert);
	keystore_close(ks);
	return ok;
}

static bool
keystore_has_service_key(const struct devcfg *cfg)
{
	struct keystore *ks = NULL;
	struct pki_err perr;
	bool have;

	if (keystore_open(cfg->keystore, 0, &ks, &perr) == -1)
		return false;
	have = keystore_key_exists(ks, PKI_LABEL_SERVICE, &perr) == 1;
	keystore_close(ks);
	return have;
}

static int
enrol_until_done(struct devcfg *cfg, char *err, size_t errlen)
{
	unsigned backoff = 1;

	for (;;) {
		const struct enrol_opts o = { .center = cfg->center_url, .pin = cfg->center_pin,
		    .keystore = cfg->keystore, .crl_path = cfg->crl,
		    .device_id = cfg->device_id[0] ? cfg->device_id : NULL,
		    .renew = !have_service(cfg) && keystore_has_service_key(cfg) };
		struct enrol_result res;
		char why[512];

		if (enrol_run(&o, &res, why, sizeof(why)) == 0) {
			log_info("enrolled as %s at site %s: service certificate %s valid until "
			    "%lld", res.device_id, res.site, res.serial, (long long)res.not_after);
			return 0;
		}
		switch (res.failure) {
		case ENROL_FAIL_UNTRUSTED:
		case ENROL_FAIL_LOCAL:
			xsnprintf(err, errlen, "enrolment stopped: %s", why);
			return -1;
		case ENROL_FAIL_REFUSED:
			log_error("enrolment refused by the center: %s; asking again in %u s",
			    why, backoff);
			break;
		case ENROL_FAIL_UNREACHABLE:
			log_warn("enrolment: %s; trying again in %u s", why, backoff);
			break;
		}
		if (prep_sleep(backoff)) {
			xsnprintf(err, errlen, "stopped before enrolment completed");
			return -1;
		}
		backoff = MIN(backoff * 2, (unsigned)ENROL_BACKOFF_MAX_S);
	}
}


/* the root in the store must be the pinned one, at every start */
static int
check_pin(const struct devcfg *cfg, char *err, size_t errlen)
{
	struct keystore *ks = NULL;
	struct pki_err perr;
	X509 *root = NULL;
	int r = 0;

	if (keystore_open(cfg->keystore, 0, &ks, &perr) == -1) {
		xsnprintf(err, errlen, "key store %s: %s", cfg->keystore, perr.msg);
		return -1;
	}
	if (keystore_cert_load(ks, PKI_LABEL_ROOT, &root, &perr) == 0 &&
	    pki_pin_check(root, cfg->center_pin, &perr) == -1) {
		xsnprintf(err, errlen, "refusing to start: the key store's %s (center."
		    "root_fingerprint)", perr.msg);
		r = -1;
	}
	X509_free(root);
	keystore_close(ks);
	return r;
}

int
managed_prepare(struct devcfg *cfg, volatile sig_atomic_t *stop, char **text, size_t *len,
    char *err, size_t errlen)
{
	unsigned backoff = 1;
	char dir[DEVCFG_PATH_MAX], why[512];
	struct mdoc doc;
	uint8_t *cached;
	size_t clen;
	char *body = NULL;

	prep_stop = stop;
	*text = NULL;
	if (enrol_ks_dir(cfg->keystore, dir, sizeof(dir)) == -1) {
		xsnprintf(err, errlen, "keystore: managed mode needs a file key store");
		return -1;
	}
	if (cfg->crl[0] == '\0')
		xsnprintf(cfg->crl, sizeof(cfg->crl), "%s/%s", dir, ENROL_CRL_FILE);
	if (cfg->cache[0] == '\0')
		xsnprintf(cfg->cache, sizeof(cfg->cache), "%s/center-config.json", dir);
	if (check_pin(cfg, err, errlen) == -1)
		return -1;
	if (!have_service(cfg) && enrol_until_done(cfg, err, errlen) == -1)
		return -1;
	/* the first document: from the center, or the last one kept */
	for (;;) {
		long status = 0;

		if (enrol_get(cfg->keystore, PKI_LABEL_SERVICE, cfg->center_url,
		    "/v1/config?wait=0", &body, &status, why, sizeof(why)) == 0)
			break;
		if (status == 403) {
			/* refused, not away: the kept grants must not be used */
			xsnprintf(err, errlen, "the center refuses this device: %s", why);
			return -1;
		}
		if (file_read_all(cfg->cache, 1024 * 1024, &cached, &clen) == 0) {
			log_warn("center: %s; starting from the configuration kept in %s", why,
			    cfg->cache);
			body = xmalloc(clen + 1);
			memcpy(body, cached, clen);
			body[clen] = '\0';
			free(cached);
			break;
		}
		log_warn("center: %s; no configuration kept yet, trying again in %u s", why,
		    backoff);
		if (prep_sleep(backoff)) {
			xsnprintf(err, errlen, "stopped before the first configuration arrived");
			return -1;
		}
		backoff = MIN(backoff * 2, (unsigned)ENROL_BACKOFF_MAX_S);
	}
	if (mdoc_parse(body, strlen(body), now_wall_s(), &doc, why, sizeof(why)) == -1) {
		xsnprintf(err, errlen, "the center's configuration: %s", why);
		free(body);
		return -1;
	}
	/* what the file leaves out, the center says */
	if (cfg->device_id[0] == '\0') {
		xsnprintf(cfg->device_id, sizeof(cfg->device_id), "%s", doc.device_id);
		xsnprintf(cfg->ike.local_id, sizeof(cfg->ike.local_id), "%s", doc.device_id);
	}
	if (!cfg->local_lan) {
		memcpy(cfg->dp.local, doc.local, sizeof(doc.local));
		cfg->dp.nlocal = doc.nlocal;
	}
	if (!cfg->local_wan) {
		if (doc.endpoint.af == 0) {
			xsnprintf(err, errlen, "wan_address: not set here, and the center has "
			    "no endpoint for site %s", doc.site);
			mdoc_free(&doc);
			free(body);
			return -1;
		}
		cfg->dp.wan_addr = doc.endpoint;
	}
	if (!cfg->local_natt && doc.endpoint.af != 0)
		cfg->dp.natt_port = doc.endpoint_port;
	if (!cfg->local_idle)
		cfg->idle_timeout_s = doc.idle_timeout_s;
	memcpy(cfg->ike.dh_groups, doc.pol.dh_groups, sizeof(cfg->ike.dh_groups));
	cfg->ike.esn = doc.pol.esn;
	cfg->ike.child_pfs = doc.pol.child_pfs;
	if (doc.pol.ike_rekey_s)
		cfg->ike.ike_rekey_s = doc.pol.ike_rekey_s;
	if (doc.pol.child_rekey_s)
		cfg->ike.child_rekey_s = doc.pol.child_rekey_s;
	log_info("device=%s: site %s of %s, LAN from the %s, WAN %s", cfg->device_id,
	    doc.site, doc.org, cfg->local_lan ? "file" : "center",
	    cfg->local_wan ? "from the file" : "from the center");
	mdoc_free(&doc);
	*text = body;
	*len = strlen(body);
	return 0;
}
