/*
 * The center's HTTPS transport (SPEC REQ-CTR-2, REQ-CTR-3): libevent evhttp
 * over bufferevent_openssl, mutual TLS with the odvpn PKI, request limits, and
 * the parked long-poll requests that the push wakes.
 *
 * TLS 1.3 only by default (TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256);
 * with cfg.tls12 also TLS 1.2 restricted to ECDHE with AES-GCM. No session
 * resumption: every connection shows its certificate, so a revocation takes
 * effect on the next connection.
 */
#ifndef ODVPN_CENTER_SERVER_H
#define ODVPN_CENTER_SERVER_H

#include <event2/event.h>

#include "center/center.h"

struct server;

/* listens on cfg.listen:cfg.port; sets c->changed */
struct server	*server_new(struct event_base *, struct center *, char *err,
		    size_t errlen);
/* drops parked requests (their connections close) and the listener */
void		 server_free(struct server *);
/* the port actually bound (for port 0) */
int		 server_port(const struct server *);

#endif
