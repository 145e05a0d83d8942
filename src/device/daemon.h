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

#endif
