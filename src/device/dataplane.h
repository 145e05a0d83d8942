/*
 * The data plane of odvpnd: TUN (LAN side) <-> ESP-in-UDP (WAN side, RFC 3948),
 * with the policy checks of SPEC REQ-POL-1 / REQ-CON-3 on every packet, in the
 * order replay check -> decrypt -> advance window -> selector/ACL/no-relay -> TUN.
 *
 * It owns the TUN device and the UDP sockets (ports 500 and 4500): IKE datagrams
 * are handed up through ops->ike_input, and sent with dp_send_ike().
 * On demand: a LAN packet for a peer without an SA is queued (bounded) and
 * ops->need_sa is called; dp_sa_add() flushes the queue through the new SA.
 *
 * The packet path does no allocation, no lock and no log per packet; it works in
 * batches (recvmmsg/sendmmsg, and room for TUN/UDP offloads) and counts drops by
 * reason.
 *
 * DRAFT CONTRACT between the data-plane work and the daemon. Fields may be added;
 * meanings of existing ones stay.
 */
#ifndef ODVPN_DEVICE_DATAPLANE_H
#define ODVPN_DEVICE_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "device/child_sa.h"
#include "lib/addr.h"

#define DP_MAX_PREFIX	CHILD_SA_MAX_TS
#define DP_MAX_RULES	32

enum dp_dir {
	DP_DIR_OUT = 1,		/* from our LAN to the peer */
	DP_DIR_IN = 2,		/* from the peer to our LAN */
	DP_DIR_BOTH = 3,
};

/* one permitted flow; a peer with no rules permits all traffic between the prefixes.
 * For TCP/UDP the port range applies to the destination port in the rule's direction,
 * replies of an allowed flow are allowed (source port in range, opposite direction). */
struct dp_rule {
	uint8_t		proto;		/* IPPROTO_*, 0 = any */
	uint16_t	port_lo;	/* 0..65535, ignored unless TCP/UDP */
	uint16_t	port_hi;
	enum dp_dir	dir;
	struct prefix	local;		/* host/prefix on our side (len 0 = any of ours) */
	struct prefix	remote;		/* host/prefix on the peer's side (len 0 = any of its) */
};

struct dp_peer {
	char		name[PEER_NAME_MAX];
	struct prefix	remote[DP_MAX_PREFIX];	/* the peer's protected prefixes (routed to TUN) */
	size_t		nremote;
	struct dp_rule	rules[DP_MAX_RULES];
	size_t		nrules;
	/* added: nothing passes either way (a site we may apply for, with no grant
	 * yet): LAN packets toward it are queued and need_sa is asked, as for a
	 * peer without an SA; no SA can be added, and the queue is re-checked
	 * against the rules when it is flushed through the SA of a later grant */
	bool		closed;
};

struct dp_config {
	char		tun_name[16];		/* e.g. "odvpn0" */
	int		mtu;			/* TUN MTU; default 1400 */
	struct prefix	local[DP_MAX_PREFIX];	/* our protected LAN prefixes */
	size_t		nlocal;
	struct ipaddr	wan_addr;		/* bind address for UDP 500/4500 */
	uint16_t	ike_port;		/* 500 */
	uint16_t	natt_port;		/* 4500 */
	size_t		queue_per_peer;		/* packets held while IKE runs; default 256 */
	uint32_t	replay_window;		/* default 1024 */
	bool		no_offload;		/* benchmarks/tests: no TUN TSO/GRO, no UDP
						 * GSO/GRO (one packet per system call) */
};

enum dp_drop {
	DP_DROP_MALFORMED,	/* bad IP header, truncated ESP */
	DP_DROP_NO_PEER,	/* LAN packet to a prefix of no peer */
	DP_DROP_QUEUE_FULL,	/* on-demand queue overflow */
	DP_DROP_UNKNOWN_SPI,
	DP_DROP_BAD_ICV,	/* authentication failed (tampered) */
	DP_DROP_REPLAY,
	DP_DROP_SELECTOR,	/* inner src/dst outside the SA's traffic selectors */
	DP_DROP_RULE,		/* outside the peer's protocol/port rules */
	DP_DROP_RELAY,		/* decrypted from peer X but not for our LAN, or LAN-side
				 * packet not from our LAN: never forwarded (REQ-POL-1) */
	DP_DROP_SEQ_EXHAUSTED,
	DP_DROP_NO_SA,		/* queued for a peer whose SA never came (dp_sa_failed or
				 * DP_QUEUE_TIMEOUT_MS): the queue is given up */
	DP_DROP_TX,		/* the kernel refused a send (buffer full, no route) */
	DP_DROP__COUNT,
};

struct flow;		/* device/policy/flow.h */

struct dp_ops {
	void	*arg;
	void	(*need_sa)(void *arg, const char *peer);
	void	(*ike_input)(void *arg, const struct ipaddr *src, uint16_t sport,
		    const struct ipaddr *dst, uint16_t dport, const uint8_t *msg, size_t len);
	/* at most a few per second per reason (rate-limited inside the data plane):
	 * for the log and the audit trail. pkt is the inner packet (or what there is). */
	void	(*drop_event)(void *arg, enum dp_drop, const char *peer,
		    const uint8_t *pkt, size_t len);
	/* optional (may be NULL). Called once per SA when its outbound sequence
	 * numbers run low (ESP_SEQ_SOFT_MARGIN left) and once more when they are
	 * exhausted (then nothing more is sent on it, RFC 4303 §3.3.3): the engine
	 * should rekey the CHILD SA with this inbound SPI. */
	void	(*rekey_needed)(void *arg, const char *peer, uint32_t spi_in);
	/* added, optional: a flow that crossed a tunnel ended (idle FLOW_IDLE_MS,
	 * or dp_flows_end); its summary for the audit trail. With it set, the data
	 * plane accounts every packet it passes in a table of DP_FLOWS_MAX flows
	 * (device/policy/flow.h); without it, none. */
	void	(*flow_end)(void *arg, const struct flow *);
};
#define DP_FLOWS_MAX	4096

/* an on-demand request not answered by dp_sa_add within this time is given up:
 * the queue is dropped (DP_DROP_NO_SA) and the next packet asks again */
#define DP_QUEUE_TIMEOUT_MS	30000
/* an SA that has sent nothing for this long sends a NAT keepalive (RFC 3948 §2.3) */
#define DP_KEEPALIVE_MS		20000

struct dp;

struct dp *dp_new(struct event_base *, const struct dp_config *, const struct dp_ops *);
void	dp_free(struct dp *);			/* removes routes, wipes every SA */

/* replace the peer table; adds/removes the routes of the peers' prefixes via the TUN */
int	dp_set_peers(struct dp *, const struct dp_peer *, size_t n);
/* install both directions of a CHILD SA pair and flush the peer's queue through it */
int	dp_sa_add(struct dp *, const struct child_sa *);
/* remove the SA pair with this inbound SPI; keys wiped */
int	dp_sa_del(struct dp *, uint32_t spi_in);
int	dp_send_ike(struct dp *, const struct ipaddr *src, uint16_t sport,
	    const struct ipaddr *dst, uint16_t dport, const uint8_t *msg, size_t len);
/* the daemon could not make an SA for the peer (IKE failed): drop its queue
 * (DP_DROP_NO_SA) and let the next packet call need_sa again */
void	dp_sa_failed(struct dp *, const char *peer);
/* added: report and forget the flows of peer now (its tunnel ended), or of
 * every peer (NULL: shutting down) */
void	dp_flows_end(struct dp *, const char *peer);
/* ms since the last packet either way through any SA of the peer (or since the
 * newest SA was added, if later); UINT64_MAX if the peer has no SA */
uint64_t dp_peer_idle_ms(struct dp *, const char *peer);

struct dp_sa_info {
	char		peer[PEER_NAME_MAX];
	uint32_t	spi_in, spi_out;
	bool		esn;
	uint64_t	pkts_in, pkts_out, bytes_in, bytes_out;
	uint64_t	idle_ms;
};
size_t	dp_list_sas(struct dp *, struct dp_sa_info *, size_t max);

struct dp_stats {
	uint64_t	tun_rx, tun_tx, udp_rx, udp_tx;	/* packets (after segmentation) */
	uint64_t	drops[DP_DROP__COUNT];
	uint64_t	ike_rx, ike_tx, keepalive_rx, keepalive_tx;
	uint64_t	queued;			/* LAN packets held for an SA */
	uint64_t	tun_reads, tun_writes, udp_recv_calls, udp_send_calls;
						/* system calls: packets per call = batching */
};
void	dp_get_stats(struct dp *, struct dp_stats *);
const char *dp_drop_name(enum dp_drop);

#endif
