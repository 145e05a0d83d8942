/*
 * Flow accounting for the audit trail (SPEC REQ-AUD-1: "flow summaries (src,
 * dst, proto, port, bytes, start, end)"): a fixed table of the flows that
 * crossed the tunnels, keyed by (peer, our address, their address, protocol,
 * our port, their port). The data plane accounts each packet it lets through
 * (one hash and a short probe, no allocation); a flow ends when it has been
 * idle for FLOW_IDLE_MS or when its peer's tunnel ends, and is then reported
 * once with its totals.
 *
 * When the table is full, new flows are not tracked and are counted
 * (flow_table.untracked): the summary is then incomplete, never wrong.
 */
#ifndef ODVPN_DEVICE_POLICY_FLOW_H
#define ODVPN_DEVICE_POLICY_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device/child_sa.h"
#include "lib/addr.h"

#define FLOW_IDLE_MS	60000

struct pol_pkt;

struct flow {
	char		peer[PEER_NAME_MAX];
	struct ipaddr	local, remote;
	uint16_t	lport, rport;		/* 0 without ports (ICMP, fragments) */
	uint8_t		proto;
	bool		used;
	bool		opened_out;		/* the first packet went from our LAN out */
	uint64_t	start_ms, last_ms;	/* the caller's clock (monotonic) */
	uint64_t	bytes_in, bytes_out, pkts_in, pkts_out;
};

struct flow_table {
	struct flow	*slots;		/* open addressing, linear probing */
	struct flow	*spare;		/* same size: compaction without allocation */
	size_t		 cap;		/* a power of two */
	size_t		 n;
	uint64_t	 untracked;	/* packets of flows that found no room */
};

typedef void flow_end_fn(void *arg, const struct flow *);

void	flow_table_init(struct flow_table *, size_t cap);	/* cap rounded up to 2^k */
void	flow_table_free(struct flow_table *);
/* one packet of peer through the data plane; out: from our LAN toward the peer */
void	flow_account(struct flow_table *, const char *peer, const struct pol_pkt *,
	    bool out, size_t len, uint64_t now_ms);
/*
 * Report (fn) and forget every flow idle since idle_ms before now, and every
 * flow of peer when peer is not NULL (its tunnel ended); idle_ms 0 with peer
 * NULL: every flow (shutdown).
 */
void	flow_end(struct flow_table *, const char *peer, uint64_t now_ms, uint64_t idle_ms,
	    flow_end_fn *fn, void *arg);

#endif
