/*
 * odvpnd's client of the center (managed mode; docs/DEVICE.md "Managed mode").
 *
 * The center is slow and may be away; the data plane must never wait for it.
 * So every HTTPS exchange runs in one of two threads of this module, which
 * share nothing with the event loop but a queue and a pipe:
 *
 *   poll thread    GET /v1/config?since=V&wait=S, for ever: each new document
 *                  is handed to the loop (ops->doc); when the center cannot be
 *                  reached it retries with back-off (1 s doubling to 16 s) and
 *                  says so once (ops->state).
 *   worker thread  POST /v1/connections (applications), POST /v1/renew (service
 *                  certificate renewal, enrol_run) and POST /v1/events (batches
 *                  of up to 256 events, at most every EVENTS_FLUSH_MS; kept, in
 *                  order, while the center is away — the oldest are dropped and
 *                  counted beyond CCLIENT_EVENTS_MAX), and GET /v1/time every
 *                  10 minutes: the clock offset, sent as a clock event.
 *
 * Results come back to the event loop through a pipe and are delivered by the
 * callbacks below, in the loop's thread. Each request loads the service key
 * and certificate from the key store afresh, so a renewal is picked up at once.
 */
#ifndef ODVPN_DEVICE_CCLIENT_H
#define ODVPN_DEVICE_CCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#define CCLIENT_EVENTS_MAX	4096	/* events held while the center is away */
#define CCLIENT_WAIT_S		25	/* long-poll wait */

struct cclient_cfg {
	const char	*url;		/* https://host[:port] */
	const char	*pin;		/* the root's SHA-256 (for renewals) */
	const char	*keystore;	/* key store URI */
	const char	*crl_path;	/* where renewals write the CRL */
	int64_t		 since;		/* version of the document already applied */
	const char	*spill_path;	/* optional: events not delivered at stop are
					   kept there and sent after the next start */
};

struct cclient_ops {
	void	*arg;
	/* a document whose version differs from the last one (text is the body,
	 * NUL-terminated; the callee owns it) */
	void	(*doc)(void *arg, char *text, size_t len);
	/* the center is reachable again, or not (why: one sentence); refused: it
	 * answers, but no longer accepts our service certificate (HTTP 403:
	 * revoked, or the device is) */
	void	(*state)(void *arg, bool reachable, bool refused, const char *why);
	/* the decision on an application for site */
	void	(*decision)(void *arg, const char *site, const char *decision,
		    const char *reason);
	/* a renewal ended; ok: the new key and certificate are in the key store */
	void	(*renewed)(void *arg, bool ok, const char *why);
};

struct cclient;

struct cclient *cclient_new(struct event_base *, const struct cclient_cfg *,
	    const struct cclient_ops *);
/* stops both threads (a long-poll in flight is abandoned within ~1 s) */
void	 cclient_free(struct cclient *);
/* file a connection application for site (answered through ops->decision);
 * false when APPLY_MAX applications already wait (then none is filed) */
bool	 cclient_apply(struct cclient *, const char *site);
/* renew the service certificate now (answered through ops->renewed) */
void	 cclient_renew(struct cclient *);
/* queue one event for upload (steals the reference); see docs/API.md */
void	 cclient_event(struct cclient *, json_t *ev);	/* any thread */

struct cclient_stats {
	uint64_t	docs, polls, poll_failures, events_sent, events_dropped;
	uint64_t	applications, renewals;
	bool		reachable;
	bool		clock_measured;
	int64_t		clock_offset_ms;	/* the center's clock - ours */
	int64_t		clock_rtt_ms;		/* the measurement's round trip */
	size_t		events_queued;
};
void	 cclient_get_stats(struct cclient *, struct cclient_stats *);

#endif
