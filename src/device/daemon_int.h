/*
 * odvpnd's daemon internals, shared by daemon.c (the engine, the data plane and
 * the control socket) and managed.c (the center's side: documents, grants,
 * applications, renewal, events). Not an API.
 */
#ifndef ODVPN_DEVICE_DAEMON_INT_H
#define ODVPN_DEVICE_DAEMON_INT_H

#include <jansson.h>

#include "device/control.h"
#include "device/daemon.h"
#include "device/dataplane.h"
#include "device/ike/ike.h"
#include "pki/keystore.h"
#include "pki/pki.h"

#define HISTORY_MAX		32	/* closed SAs shown by `odvpn status` */
#define IDLE_CHECK_MS		500
#define STOP_GRACE_MS		1500

/* what the daemon tracks per configured peer, beside the engine and data plane */
struct peer_state {
	const struct devcfg_peer *cfg;
	bool		 connecting;
	uint64_t	 connect_ms;		/* when IKE was started */
	uint64_t	 up_ms;			/* when the current CHILD SA came up, 0 if none */
	unsigned	 nchild;		/* CHILD SA pairs installed in the data plane */
	char		 cert_serial[PKI_SERIAL_HEX_MAX];	/* of the authenticated peer */
	char		 last_down[96];		/* why the last SA ended */
	struct ctl_conn	*waiters[8];		/* `odvpn connect` clients awaiting the SA */
	size_t		 nwaiters;
	/* managed mode */
	bool		 want;			/* traffic or a client waits for a grant */
	bool		 applying;		/* an application is with the center */
	uint64_t	 hold_until_ms;		/* no new on-demand application before */
	uint64_t	 granted_wait_ms;	/* granted: must be open by then */
	char		 decision[16];		/* of the last application */
	char		 decision_why[192];
	uint64_t	 bytes_in, bytes_out, pkts_in, pkts_out;	/* SAs of this tunnel */
	/* a fresh grant reaches both ends a few ms apart: a refusal right after
	 * it is retried (GRANT_RACE_MS, GRANT_RETRIES) with the queue kept */
	uint64_t	 opened_ms;		/* when the peer last became open */
	uint64_t	 retry_ms;		/* connect again then (0: no retry due) */
	unsigned	 retries;
	bool		 kill_pending;		/* delete its SAs (from the retry timer) */
	int64_t		 last_grant;		/* the grant that opened it last (audit) */
};

#define GRANT_RACE_MS		3000
#define GRANT_RETRIES		3
#define GRANT_RETRY_DELAY_MS	150

struct closed_sa {
	char		peer[PEER_NAME_MAX];
	uint32_t	spi_in, spi_out;
	char		reason[96];
	int64_t		when;			/* wall clock */
};

struct daemon {
	struct event_base	*base;
	struct devcfg		 cfg;
	struct dp		*dp;
	struct ike_engine	*ike;
	struct control		*ctl;
	struct keystore		*ks;
	struct keystore_key	*key;		/* the service key (tier 2) */
	enum pki_alg		 key_alg;
	X509			*cert;		/* our service certificate */
	X509			*root;
	X509			*service_ca;
	struct pki_trust	*trust;
	struct peer_state	*ps;		/* cfg.npeers entries */
	struct event		*ike_timer;
	struct event		*idle_timer;
	struct event		*retry_timer;
	struct event		*stop_timer;
	struct closed_sa	 history[HISTORY_MAX];
	size_t			 nhistory;	/* total ever; ring index = n % MAX */
	bool			 stopping;
	struct managed		*m;		/* managed mode; NULL when standalone */
};


struct managed;

/* daemon.c */
struct peer_state *peer_state(struct daemon *, const char *name);
void	 peer_connect(struct daemon *, struct peer_state *, const char *why);
void	 waiters_reply(struct peer_state *, bool ok, const char *error);
void	 ike_schedule(struct daemon *);
int	 load_trust(struct daemon *, char *err, size_t errlen);
/* replace the peers (takes the array): state kept by name; SAs of peers that
 * are gone, closed or changed in identity or selectors are deleted (reason).
 * -1 (the array freed, nothing changed) when the data plane refuses it. */
int	 daemon_set_peers(struct daemon *, struct devcfg_peer *, size_t n);
/* load the service key and certificate again (after a renewal) */
int	 daemon_reload_identity(struct daemon *, char *err, size_t errlen);

/* managed.c (all no-ops when d->m is NULL) */
/* traffic or `odvpn connect` for a peer without a grant: apply (conn may be NULL) */
void	 managed_need_grant(struct daemon *, const char *site, struct ctl_conn *conn);
void	 managed_event(struct daemon *, const char *kind, const char *peer,
	    const char *reason, json_t *detail);
struct flow;
/* a flow summary (src/dst are the opener's and the other end's, formatted) */
void	 managed_flow(struct daemon *, const struct flow *, const char *src,
	    const char *dst, uint16_t sport, uint16_t dport);
json_t	*managed_status(struct daemon *);
void	 managed_peer_status(struct daemon *, const struct peer_state *, json_t *obj);
bool	 managed_revoked(struct daemon *, const char *serial);
void	 managed_tick(struct daemon *);
void	 managed_ctl_gone(struct daemon *, struct ctl_conn *);
void	 managed_free(struct daemon *);

#endif
