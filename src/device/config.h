/*
 * odvpnd's configuration file (JSON, strictly validated; docs/DEVICE.md has the
 * reference). In standalone mode the peers, their prefixes and rules come from
 * this file; in managed mode (later) they come from center grants and this file
 * holds only the device's own settings.
 */
#ifndef ODVPN_DEVICE_CONFIG_H
#define ODVPN_DEVICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device/dataplane.h"
#include "device/ike/ike.h"
#include "lib/addr.h"
#include "lib/log.h"

#define DEVCFG_MAX_PEERS	256
#define DEVCFG_PATH_MAX		256

struct devcfg_peer {
	struct ike_peer	ike;		/* name, id, address, port, selectors */
	struct dp_peer	dp;		/* name, prefixes, rules */
	bool		on_demand;	/* first packet starts IKE (default true) */
};

struct devcfg {
	char		device_id[IKE_ID_MAX];
	char		keystore[DEVCFG_PATH_MAX];	/* key store URI */
	char		crl[DEVCFG_PATH_MAX];		/* optional CRL file(s), PEM */
	char		control_socket[DEVCFG_PATH_MAX];
	enum log_level	log_level;
	uint32_t	idle_timeout_s;			/* 0: never tear down when idle */
	struct dp_config dp;				/* tun, mtu, local prefixes, wan, ports */
	struct ike_config ike;				/* timers, groups, esn (cert/cas set later) */
	struct devcfg_peer *peers;
	size_t		npeers;
	/* managed mode: a "center" object in the file (docs/DEVICE.md) */
	bool		managed;
	char		center_url[256];
	char		center_pin[128];	/* the root's SHA-256 fingerprint */
	char		cache[DEVCFG_PATH_MAX];	/* the last document from the center */
	bool		local_lan, local_wan, local_natt, local_idle;	/* set here, not by
								   the center */
};

/* 0 on success; -1 with a message naming the file, field and problem in err */
int	devcfg_load(const char *path, struct devcfg *, char *err, size_t errlen);
int	devcfg_parse(const char *text, size_t len, struct devcfg *, char *err, size_t errlen);
void	devcfg_free(struct devcfg *);
const struct devcfg_peer *devcfg_peer_by_name(const struct devcfg *, const char *);
const struct devcfg_peer *devcfg_peer_by_id(const struct devcfg *, const char *);

#endif
