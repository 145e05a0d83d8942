/*
 * odvpn-center's core: configuration, the transport-independent request
 * handler, and the hooks between the parts (docs/CENTER.md, docs/API.md).
 *
 * center_handle() takes one authenticated request (who is calling, method, path,
 * query, body bytes) and produces a status and a JSON body. It knows nothing of
 * sockets or TLS: src/center/server.c does TLS, HTTP, body limits and parks
 * long-poll requests; unit tests call center_handle directly.
 *
 * Every request that changes state runs in one store transaction: it either
 * commits whole (with its audit records) or leaves the store untouched.
 */
#ifndef ODVPN_CENTER_CENTER_H
#define ODVPN_CENTER_CENTER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/log.h"

#define CENTER_NAME_MAX		64	/* org/site/group/zone/device names (+ NUL) */
#define CENTER_SERIAL_MAX	41	/* certificate serial, lower-case hex (+ NUL) */
#define CENTER_FP_LEN		32	/* SHA-256 fingerprint */

struct store;
struct center_ca;

struct center_crypto {
	int		dh_groups[4];		/* 0-terminated preference list */
	bool		esn;
	bool		pfs;
	int64_t		ike_rekey_s;
	int64_t		child_rekey_s;
	int64_t		idle_timeout_s;
};

struct center_cfg {
	char			listen[64];		/* address to bind */
	int			port;
	char			database[PATH_MAX];	/* store URI: path or sqlite:path */
	char			pki_dir[PATH_MAX];
	bool			tls12;			/* also accept TLS 1.2 (ECDHE+AES-GCM) */
	int			longpoll_timeout_s;	/* longest a config request waits */
	size_t			max_body;		/* bytes; larger bodies get 413 */
	int			max_waiters;		/* parked long-poll requests */
	int			max_events;		/* per event upload */
	int64_t			clock_alert_ms;		/* device clock offsets beyond: alert */
	int			request_timeout_s;	/* idle connection timeout */
	int64_t			service_cert_lifetime_s;
	int64_t			grant_validity_s;
	int64_t			crl_lifetime_s;
	struct center_crypto	crypto;
	enum log_level		log_level;
	bool			syslog;
};

/* defaults for every field (the config file overrides) */
void	center_cfg_defaults(struct center_cfg *);
/* parse a JSON config file strictly; -1 with a reason in err */
int	center_cfg_load(const char *path, struct center_cfg *, char *err, size_t errlen);
int	center_cfg_parse(const char *text, size_t len, struct center_cfg *,
	    char *err, size_t errlen);

/* who is calling, from the client certificate the TLS layer verified */
enum center_role {
	CENTER_ROLE_NONE = 0,
	CENTER_ROLE_ADMIN,		/* administrator certificate */
	CENTER_ROLE_DEVICE,		/* tier 1: enrolment and renewal only */
	CENTER_ROLE_SERVICE,		/* tier 2: everything else a device does */
};

struct center_peer {
	enum center_role role;
	char		 name[256];		/* subject CN: admin name or device id */
	char		 serial[CENTER_SERIAL_MAX];
	uint8_t		 fp[CENTER_FP_LEN];	/* SHA-256 of the certificate (DER) */
};

enum center_method {
	CENTER_GET = 1,
	CENTER_POST,
	CENTER_PUT,
	CENTER_PATCH,
	CENTER_DELETE,
	CENTER_OTHER,
};

struct center_req {
	enum center_method	 method;
	const char		*path;		/* decoded path, no query */
	const json_t		*query;		/* object of string values (borrowed) */
	const char		*body;		/* may be NULL when bodylen == 0 */
	size_t			 bodylen;
	const struct center_peer *peer;
};

struct center_resp {
	int		 status;
	json_t		*body;		/* owned by the response */
	/* a config long-poll with nothing new yet: the transport parks the request
	 * and calls center_config_poll again when something changes */
	bool		 park;
	char		 park_device[CENTER_NAME_MAX];
	int64_t		 park_since;
	int		 park_wait_s;
};

struct center {
	struct center_cfg	 cfg;
	struct store		*st;
	struct center_ca	*ca;		/* NULL: no PKI (unit tests) */
	int64_t			 (*clock)(void);	/* wall clock, seconds */
	/* called after every commit that may change a device's configuration */
	void			 (*changed)(void *arg);
	void			*changed_arg;
	int64_t			 started;
	unsigned		 nwaiters;	/* kept by the transport, for status */
};

/* opens the store (migrations) and, if ca is not NULL, takes it over */
struct center	*center_new(const struct center_cfg *, struct center_ca *,
		    char *err, size_t errlen);
void		 center_free(struct center *);

/* one request; resp->body is always set (an object) unless resp->park */
void	center_handle(struct center *, const struct center_req *, struct center_resp *);
void	center_resp_clear(struct center_resp *);

/*
 * The device's configuration document (a 200 response) when !wait or its
 * version differs from since; else resp->park (nothing changed). Used for the
 * first answer, again by the transport each time center->changed fired, and
 * with !wait when a parked request times out.
 */
void	center_config_poll(struct center *, const char *device, int64_t since,
	    bool wait, struct center_resp *);
/* 0 while the service certificate of a parked device is still good */
int	center_peer_still_valid(struct center *, const struct center_peer *,
	    char *err, size_t errlen);

/* periodic upkeep: expire grants, refresh the CRL before it runs out */
void	center_tick(struct center *);

#endif
