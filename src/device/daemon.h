/*
 * odvpnd's core: wires the data plane, the IKE engine, the key store/PKI and the
 * control socket together on one libevent loop (one thread: no locks anywhere).
 *
 *   LAN packet, no SA ──dp.need_sa──▶ ike_connect ──IKE──▶ child_up ──▶ dp_sa_add
 *                                                               (queued packets flushed)
 *   idle > idle_timeout ──▶ ike_disconnect ──Delete──▶ child_down ──▶ dp_sa_del (keys wiped)
 */
#ifndef ODVPN_DEVICE_DAEMON_H
#define ODVPN_DEVICE_DAEMON_H

#include <signal.h>

#include <event2/event.h>

#include "device/config.h"

struct daemon;

/* takes ownership of cfg's contents on success */
struct daemon *daemon_new(struct event_base *, struct devcfg *, char *err, size_t errlen);
void	daemon_free(struct daemon *);	/* Deletes to every peer are not sent: use daemon_stop */
/* send Delete for every SA, then break the loop once done (or after a grace period) */
void	daemon_stop(struct daemon *);
/* re-read the CRL file and drop SAs of peers whose certificate is now revoked */
void	daemon_reload_crl(struct daemon *);

/*
 * Managed mode (cfg->managed; managed.c). Before daemon_new: check the root
 * pin, enrol if the key store has no valid service certificate (retrying while
 * the center is away or refuses; stopping when it is not the pinned one), and
 * get the first configuration document — from the center, or the copy kept in
 * cfg->cache when it is away. Fills what the file left out (device id, LAN
 * prefixes, WAN address, crypto). Returns the document (*text, caller frees)
 * or -1 with err. *stop (set by a signal handler) abandons the waits.
 */
int	managed_prepare(struct devcfg *, volatile sig_atomic_t *stop, char **text,
	    size_t *len, char *err, size_t errlen);
/* after daemon_new: apply the document (takes text) and follow the center */
int	daemon_manage(struct daemon *, char *text, size_t len, char *err, size_t errlen);

#endif
