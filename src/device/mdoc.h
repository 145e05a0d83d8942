/*
 * The center's configuration document (docs/API.md "Configuration document")
 * as odvpnd applies it in managed mode: one entry per reachable site, with the
 * grants toward it merged into what the IKE engine and the data plane take.
 *
 * Pure: text in, structures out, no I/O; unit-tested in tests/unit/test_mdoc.c.
 * A document that does not parse is refused whole (the previous one stays in
 * force); a grant odvpnd cannot enforce exactly is narrowed, never widened: a
 * flow it cannot express is left out, and a grant left with no flow does not
 * open the peer.
 */
#ifndef ODVPN_DEVICE_MDOC_H
#define ODVPN_DEVICE_MDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device/config.h"
#include "device/ike/ike.h"
#include "pki/pki.h"

#define MDOC_MAX_PEERS		DEVCFG_MAX_PEERS
#define MDOC_MAX_GRANTS		16	/* merged per peer site */
#define MDOC_MAX_REVOKED	4096

struct mdoc_peer {
	/* ike.name = dp.name = the peer's site name; ike.addr.af == 0 when the
	 * site has no registered endpoint (it must call us) */
	struct devcfg_peer p;
	char		device[PKI_NAME_MAX];	/* the peer's device id, "" if none */
	bool		granted;	/* at least one grant in force: dp.closed false */
	int64_t		grant_ids[MDOC_MAX_GRANTS];
	size_t		ngrants;
	int64_t		not_after;	/* earliest not_after of the grants in force */
	unsigned	left_out;	/* flows or grants odvpnd could not enforce */
};

struct mdoc {
	int64_t		version;
	char		device_id[PKI_NAME_MAX];
	char		site[64];
	char		org[64];
	bool		suspended;
	struct prefix	local[DP_MAX_PREFIX];	/* our site's prefixes */
	size_t		nlocal;
	struct ipaddr	endpoint;		/* our registered WAN address, af 0 if none */
	uint16_t	endpoint_port;
	struct mdoc_peer *peers;
	size_t		npeers;
	char		(*revoked)[PKI_SERIAL_HEX_MAX];	/* lower-case hex serials */
	size_t		nrevoked;
	char		*crl_pem;		/* NULL if absent */
	struct ike_policy pol;
	uint32_t	idle_timeout_s;
	/* the next instant (Unix s) at which a grant starts or ends: the document
	 * must be applied again then; INT64_MAX if none */
	int64_t		next_change;
};

/* 0, or -1 with the reason in err (and *doc empty) */
int	 mdoc_parse(const char *text, size_t len, int64_t now, struct mdoc *doc,
	    char *err, size_t errlen);
void	 mdoc_free(struct mdoc *);
const struct mdoc_peer *mdoc_peer(const struct mdoc *, const char *site);
bool	 mdoc_revoked(const struct mdoc *, const char *serial_hex);

#endif
