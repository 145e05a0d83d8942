/*
 * The data plane core (dataplane.h): policy, SA tables, on-demand queues and ESP
 * between the LAN (TUN) and the WAN (UDP 500/4500, RFC 3948). It sees packets one
 * at a time but only through the I/O seam (dp_io.h), which batches system calls;
 * it never blocks, allocates, locks or logs per packet.
 *
 * Outbound (LAN -> WAN), in this order:
 *   IP header valid -> source in our LAN (else RELAY, REQ-POL-1) -> peer by
 *   longest-prefix match (NO_PEER) -> peer rules, OUT (RULE) -> SA, or queue and
 *   need_sa once (REQ-VPN-4) -> SA selectors (SELECTOR) -> ESP encap.
 * Inbound (WAN -> LAN):
 *   RFC 3948 demux (IKE / keepalive / ESP) -> SA by SPI (UNKNOWN_SPI) ->
 *   window check (REPLAY) -> ICV + decrypt (BAD_ICV) -> window update ->
 *   inner header valid -> destination in our LAN (else RELAY: never into another
 *   tunnel, REQ-POL-1) -> source and destination in the SA's selectors and the
 *   source in the peer's prefixes (SELECTOR) -> peer rules, IN (RULE) -> TUN.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "device/dataplane.h"
#include "device/dp_io.h"
#include "device/esp/esp.h"
#include "device/policy/flow.h"
#include "device/policy/policy.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"

#define DP_NONE			UINT32_MAX
/* the LPM value of our own protected prefixes: an address is "ours" only if its
 * longest match is one of them, so a peer's prefix inside an umbrella LAN
 * prefix (10.0.0.0/8 here, 10.3.0.0/24 at a peer) still counts as the peer's */
#define DP_LOCAL		(UINT32_MAX - 1)
#define DP_ARENA_SIZE		(2u << 20)
#define DP_ARENA_RESERVE	(65536u + 4096u)	/* one more packet always fits */
#define DP_WAN_MAX		DP_IO_BATCH_MAX		/* datagrams per flush */
#define DP_LAN_MAX		DP_IO_BATCH_MAX
#define DP_DROP_EVENTS_PER_S	5
#define DP_QUEUE_POOL_MIN	1024

struct dp_sa {
	struct esp_in	 in;
	struct esp_out	 out;
	uint32_t	 peer;		/* index into dp->peers, DP_NONE if gone */
	char		 peer_name[PEER_NAME_MAX];
	uint64_t	 ike_sa_id;
	uint64_t	 gen;		/* add order: the newest SA carries outbound */
	struct prefix	 local_ts[CHILD_SA_MAX_TS], remote_ts[CHILD_SA_MAX_TS];
	size_t		 nlocal_ts, nremote_ts;
	struct ipaddr	 local_addr, peer_addr;
	uint16_t	 local_port, peer_port;
	uint64_t	 pkts_in, pkts_out, bytes_in, bytes_out;
	uint64_t	 last_ms;
	uint64_t	 last_tx_ms;	/* last datagram we sent on it: NAT keepalives */
	bool		 soft_signalled, hard_signalled;
};

struct dp_pstate {
	struct dp_peer	 cfg;
	struct dp_sa	*out;		/* outbound SA: the newest of the peer */
	uint32_t	 qhead, qtail;	/* on-demand queue: pool slot indices */
	size_t		 qlen;
	bool		 need_pending;	/* need_sa called, no SA yet */
	uint64_t	 need_ms;
	uint64_t	 last_ms;	/* last packet either way, or last SA add */
	size_t		 nsas;
};

struct dp {
	struct event_base	*base;
	struct dp_config	 cfg;
	struct dp_ops		 ops;
	const struct dp_io_ops	*io;
	void			*io_st;
	struct event		*tick;

	struct dp_pstate	*peers;
	size_t			 npeers;
	struct pol_lpm		*lpm;

	struct dp_sa		**spitab;	/* open addressing by inbound SPI */
	size_t			 spicap, nsas;
	uint64_t		 sa_gen;

	/* on-demand queue pool: fixed slots, a free list, per-peer FIFOs */
	uint8_t			*qdata;
	uint32_t		*qnext;
	uint16_t		*qlens;
	size_t			 qslot, qslots;
	uint32_t		 qfree;

	/* outbound arena: ESP packets built in place, sent at dp_flush */
	uint8_t			*arena;
	size_t			 used;
	struct dp_wan_pkt	*wan;
	size_t			 nwan;
	struct dp_lan_pkt	*lan;
	size_t			 nlan;

	uint64_t		 now;		/* cached per batch */
	bool			 now_valid;
	struct dp_stats		 st;
	uint64_t		 ev_sec[DP_DROP__COUNT];
	unsigned		 ev_count[DP_DROP__COUNT];
	uint8_t			*ike_buf;	/* marker + IKE message (dp_send_ike) */
	bool			 flushing;
	struct flow_table	 flows;		/* only with ops.flow_end */
	uint64_t		 flow_scan_ms;
};

static const char *dp_drop_names[DP_DROP__COUNT] = {
	[DP_DROP_MALFORMED] = "malformed",
	[DP_DROP_NO_PEER] = "no-peer",
	[DP_DROP_QUEUE_FULL] = "queue-full",
	[DP_DROP_UNKNOWN_SPI] = "unknown-spi",
	[DP_DROP_BAD_ICV] = "bad-icv",
	[DP_DROP_REPLAY] = "replay",
	[DP_DROP_SELECTOR] = "selector",
	[DP_DROP_RULE] = "rule",
	[DP_DROP_RELAY] = "relay",
	[DP_DROP_SEQ_EXHAUSTED] = "seq-exhausted",
	[DP_DROP_NO_SA] = "no-sa",
	[DP_DROP_TX] = "tx-error",
};

const char *
dp_drop_name(enum dp_drop d)
{
	return (unsigned)d < DP_DROP__COUNT ? dp_drop_names[d] : "?";
}

static uint64_t
dp_now(struct dp *dp)
{
	if (!dp->now_valid) {
		dp->now = dp->io->now_ms(dp->io_st);
		dp->now_valid = true;
	}
	return dp->now;
}

/* count, and tell the daemon at most DP_DROP_EVENTS_PER_S times a second per reason */
static void
dp_drop(struct dp *dp, enum dp_drop why, const char *peer, const uint8_t *pkt,
    size_t len)
{
	uint64_t sec;

	dp->st.drops[why]++;
	if (dp->ops.drop_event == NULL)
		return;
	sec = dp_now(dp) / 1000;
	if (sec != dp->ev_sec[why]) {
		dp->ev_sec[why] = sec;
		dp->ev_count[why] = 0;
	}
	if (dp->ev_count[why]++ < DP_DROP_EVENTS_PER_S)
		dp->ops.drop_event(dp->ops.arg, why, peer, pkt, len);
}

/* --- SA table by inbound SPI --- */

static size_t
dp_spi_hash(uint32_t spi, size_t cap)
{
	return (size_t)((spi * 0x9e3779b1u) ^ (spi >> 16)) & (cap - 1);
}

static struct dp_sa *
dp_sa_lookup(struct dp *dp, uint32_t spi)
{
	size_t i;

	for (i = dp_spi_hash(spi, dp->spicap); dp->spitab[i] != NULL;
	    i = (i + 1) & (dp->spicap - 1))
		if (dp->spitab[i]->in.spi == spi)
			return dp->spitab[i];
	return NULL;
}

static void
dp_spi_put(struct dp_sa **tab, size_t cap, struct dp_sa *sa)
{
	size_t i;

	for (i = dp_spi_hash(sa->in.spi, cap); tab[i] != NULL; i = (i + 1) & (cap - 1))
		;
	tab[i] = sa;
}

static void
dp_spi_insert(struct dp *dp, struct dp_sa *sa)
{
	struct dp_sa **ntab;
	size_t i, ncap;

	if ((dp->nsas + 1) * 2 > dp->spicap) {
		ncap = dp->spicap * 2;
		ntab = xcalloc(ncap, sizeof(*ntab));
		for (i = 0; i < dp->spicap; i++)
			if (dp->spitab[i] != NULL)
				dp_spi_put(ntab, ncap, dp->spitab[i]);
		free(dp->spitab);
		dp->spitab = ntab;
		dp->spicap = ncap;
	}
	dp_spi_put(dp->spitab, dp->spicap, sa);
	dp->nsas++;
}

/* linear probing with backward-shift deletion: no tombstones */
static void
dp_spi_remove(struct dp *dp, struct dp_sa *sa)
{
	size_t i, j, k, mask = dp->spicap - 1;

	for (i = dp_spi_hash(sa->in.spi, dp->spicap); dp->spitab[i] != sa; i = (i + 1) & mask)
		if (dp->spitab[i] == NULL)
			return;
	dp->spitab[i] = NULL;
	for (j = (i + 1) & mask; dp->spitab[j] != NULL; j = (j + 1) & mask) {
		k = dp_spi_hash(dp->spitab[j]->in.spi, dp->spicap);
		/* move j back to i unless its home k lies cyclically in (i, j] */
		if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		dp->spitab[i] = dp->spitab[j];
		dp->spitab[j] = NULL;
		i = j;
	}
	dp->nsas--;
}

static uint32_t
dp_peer_index(const struct dp *dp, const char *name)
{
	size_t i;

	for (i = 0; i < dp->npeers; i++)
		if (strcmp(dp->peers[i].cfg.name, name) == 0)
			return (uint32_t)i;
	return DP_NONE;
}

/* --- on-demand queue --- */

static void
dp_queue_drop_all(struct dp *dp, struct dp_pstate *p, enum dp_drop why)
{
	uint32_t s, nx;

	for (s = p->qhead; s != DP_NONE; s = nx) {
		nx = dp->qnext[s];
		dp_drop(dp, why, p->cfg.name, dp->qdata + (size_t)s * dp->qslot, dp->qlens[s]);
		OPENSSL_cleanse(dp->qdata + (size_t)s * dp->qslot, dp->qlens[s]);
		dp->qnext[s] = dp->qfree;
		dp->qfree = s;
	}
	p->qhead = p->qtail = DP_NONE;
	p->qlen = 0;
	p->need_pending = false;
}

static void
dp_enqueue(struct dp *dp, struct dp_pstate *p, const uint8_t *pkt, size_t len)
{
	uint32_t s;

	if (p->qlen >= dp->cfg.queue_per_peer || dp->qfree == DP_NONE || len > dp->qslot) {
		dp_drop(dp, DP_DROP_QUEUE_FULL, p->cfg.name, pkt, len);
	} else {
		s = dp->qfree;
		dp->qfree = dp->qnext[s];
		memcpy(dp->qdata + (size_t)s * dp->qslot, pkt, len);
		dp->qlens[s] = (uint16_t)len;
		dp->qnext[s] = DP_NONE;
		if (p->qtail == DP_NONE)
			p->qhead = s;
		else
			dp->qnext[p->qtail] = s;
		p->qtail = s;
		p->qlen++;
		dp->st.queued++;
	}
	if (!p->need_pending) {
		p->need_pending = true;
		p->need_ms = dp_now(dp);
		if (dp->ops.need_sa != NULL)
			dp->ops.need_sa(dp->ops.arg, p->cfg.name);
	}
}

/* --- packet path --- */

void
dp_flush(struct dp *dp)
{
	size_t refused;

	if (dp->flushing)
		return;
	dp->flushing = true;
	if (dp->nlan > 0) {
		dp->io->lan_write(dp->io_st, dp->lan, dp->nlan);
		dp->st.tun_tx += dp->nlan;
		dp->nlan = 0;
	}
	if (dp->nwan > 0) {
		refused = dp->io->wan_send(dp->io_st, dp->wan, dp->nwan);
		dp->st.udp_tx += dp->nwan - refused;
		dp->st.drops[DP_DROP_TX] += refused;
		dp->nwan = 0;
	}
	dp->used = 0;
	dp->now_valid = false;
	dp->flushing = false;
}

uint8_t *
dp_lan_slot(struct dp *dp, size_t *room)
{
	if (dp->used + DP_ARENA_RESERVE > DP_ARENA_SIZE || dp->nwan >= DP_WAN_MAX)
		dp_flush(dp);
	*room = DP_ARENA_SIZE - dp->used - ESP_OVERHEAD_MAX;
	return dp->arena + dp->used + ESP_HEAD_LEN;
}

static void
dp_signal_rekey(struct dp *dp, struct dp_sa *sa, bool hard)
{
	bool *flag = hard ? &sa->hard_signalled : &sa->soft_signalled;

	if (*flag)
		return;
	*flag = true;
	if (dp->ops.rekey_needed != NULL)
		dp->ops.rekey_needed(dp->ops.arg, sa->peer_name, sa->in.spi);
}

/* encrypt the packet sitting at the arena slot through sa and queue it for the WAN */
static void
dp_encap_send(struct dp *dp, struct dp_sa *sa, struct dp_pstate *p,
    const struct pol_pkt *pp, size_t len)
{
	uint8_t *buf = dp->arena + dp->used;
	struct dp_wan_pkt *w;
	enum esp_status es;
	size_t outlen;

	if (!pol_in_prefixes(sa->local_ts, sa->nlocal_ts, &pp->src) ||
	    !pol_in_prefixes(sa->remote_ts, sa->nremote_ts, &pp->dst)) {
		dp_drop(dp, DP_DROP_SELECTOR, p->cfg.name, buf + ESP_HEAD_LEN, len);
		return;
	}
	es = esp_encap(&sa->out, buf, DP_ARENA_SIZE - dp->used, len,
	    pp->src.af == AF_INET ? ESP_NH_IPV4 : ESP_NH_IPV6, &outlen);
	if (es != ESP_OK) {
		if (es == ESP_ERR_SEQ_EXHAUSTED)
			dp_signal_rekey(dp, sa, true);
		dp_drop(dp, es == ESP_ERR_SEQ_EXHAUSTED ? DP_DROP_SEQ_EXHAUSTED :
		    DP_DROP_MALFORMED, p->cfg.name, buf + ESP_HEAD_LEN, len);
		return;
	}
	if (esp_out_left(&sa->out) <= ESP_SEQ_SOFT_MARGIN)
		dp_signal_rekey(dp, sa, false);
	w = &dp->wan[dp->nwan++];
	w->data = buf;
	w->len = outlen;
	w->dst = sa->peer_addr;
	w->dport = sa->peer_port;
	w->sport = sa->local_port;
	dp->used += outlen;
	sa->pkts_out++;
	sa->bytes_out += len;
	sa->last_ms = sa->last_tx_ms = p->last_ms = dp_now(dp);
}

/*
 * The host's own link chatter on the TUN (IPv6 router/multicast listener
 * messages from :: or fe80::, anything to a multicast address): not for any
 * peer, and not a relay attempt either.
 */
static bool
dp_link_local(const struct pol_pkt *pp)
{
	const uint8_t *s = pp->src.a, *d = pp->dst.a;
	static const uint8_t zero[16];

	if (pp->src.af == AF_INET)
		return d[0] >= 224 || (d[0] == 255 && d[1] == 255) ||
		    (s[0] == 169 && s[1] == 254) || memcmp(s, zero, 4) == 0;
	return d[0] == 0xff || (s[0] == 0xfe && (s[1] & 0xc0) == 0x80) ||
	    memcmp(s, zero, 16) == 0;
}

/* which side an address is on: DP_LOCAL, a peer index, or DP_NONE */
static uint32_t
dp_side(const struct dp *dp, const struct ipaddr *a)
{
	uint32_t v;

	if (dp->lpm == NULL)
		return pol_in_prefixes(dp->cfg.local, dp->cfg.nlocal, a) ? DP_LOCAL : DP_NONE;
	return pol_lpm_lookup(dp->lpm, a, &v) == 0 ? v : DP_NONE;
}

void
dp_lan_input(struct dp *dp, size_t len)
{
	uint8_t *pkt = dp->arena + dp->used + ESP_HEAD_LEN;
	struct dp_pstate *p;
	struct pol_pkt pp;
	uint32_t idx;

	dp->st.tun_rx++;
	if (len > DP_ARENA_SIZE - dp->used - ESP_OVERHEAD_MAX || pol_parse(pkt, len, &pp) == -1) {
		dp_drop(dp, DP_DROP_MALFORMED, NULL, pkt, MIN(len, 64));
		return;
	}
	len = pp.len;
	if (dp_link_local(&pp)) {
		dp->st.drops[DP_DROP_NO_PEER]++;	/* counted, not reported */
		return;
	}
	if (dp_side(dp, &pp.src) != DP_LOCAL) {
		dp_drop(dp, DP_DROP_RELAY, NULL, pkt, len);
		return;
	}
	if ((idx = dp_side(dp, &pp.dst)) == DP_NONE || idx == DP_LOCAL) {
		dp_drop(dp, DP_DROP_NO_PEER, NULL, pkt, len);
		return;
	}
	p = &dp->peers[idx];
	if (p->cfg.closed) {
		dp_enqueue(dp, p, pkt, len);
		return;
	}
	if (!pol_rules_allow(p->cfg.rules, p->cfg.nrules, DP_DIR_OUT, &pp)) {
		dp_drop(dp, DP_DROP_RULE, p->cfg.name, pkt, len);
		return;
	}
	if (p->out == NULL) {
		dp_enqueue(dp, p, pkt, len);
		return;
	}
	if (dp->flows.cap != 0)
		flow_account(&dp->flows, p->cfg.name, &pp, true, len, dp_now(dp));
	dp_encap_send(dp, p->out, p, &pp, len);
	if (dp->used + DP_ARENA_RESERVE > DP_ARENA_SIZE || dp->nwan >= DP_WAN_MAX)
		dp_flush(dp);
}

int
dp_lan_inject(struct dp *dp, const uint8_t *pkt, size_t len)
{
	size_t room;
	uint8_t *slot = dp_lan_slot(dp, &room);

	if (len > room)
		return -1;
	memcpy(slot, pkt, len);
	dp_lan_input(dp, len);
	return 0;
}

static void
dp_esp_input(struct dp *dp, uint8_t *data, size_t len)
{
	struct esp_inner inner;
	enum esp_status es;
	struct dp_pstate *p;
	struct dp_sa *sa;
	struct pol_pkt pp;
	const char *pname;

	if (ESP_HEAD_LEN + ESP_ICV_LEN + 2 > len) {
		dp_drop(dp, DP_DROP_MALFORMED, NULL, data, len);
		return;
	}
	if ((sa = dp_sa_lookup(dp, load_be32(data))) == NULL) {
		dp_drop(dp, DP_DROP_UNKNOWN_SPI, NULL, data, MIN(len, 64));
		return;
	}
	pname = sa->peer_name;
	es = esp_decap(&sa->in, data, len, &inner);
	switch (es) {
	case ESP_OK:
		break;
	case ESP_ERR_REPLAY:
		dp_drop(dp, DP_DROP_REPLAY, pname, data, MIN(len, 64));
		return;
	case ESP_ERR_ICV:
		dp_drop(dp, DP_DROP_BAD_ICV, pname, data, MIN(len, 64));
		return;
	default:
		dp_drop(dp, DP_DROP_MALFORMED, pname, data, MIN(len, 64));
		return;
	}
	/* authenticated traffic of this SA from here on */
	sa->pkts_in++;
	sa->bytes_in += inner.len;
	sa->last_ms = dp_now(dp);
	p = sa->peer != DP_NONE ? &dp->peers[sa->peer] : NULL;
	if (p != NULL)
		p->last_ms = sa->last_ms;
	if (inner.next_header == ESP_NH_NONE)
		return;		/* dummy packet (RFC 4303 §2.6): discarded, not a drop */
	if ((inner.next_header != ESP_NH_IPV4 && inner.next_header != ESP_NH_IPV6) ||
	    pol_parse(inner.pkt, inner.len, &pp) == -1 ||
	    (pp.src.af == AF_INET) != (inner.next_header == ESP_NH_IPV4)) {
		dp_drop(dp, DP_DROP_MALFORMED, pname, inner.pkt, MIN(inner.len, 64));
		return;
	}
	if (dp_side(dp, &pp.dst) != DP_LOCAL) {
		dp_drop(dp, DP_DROP_RELAY, pname, inner.pkt, pp.len);
		return;
	}
	if (p == NULL) {
		dp_drop(dp, DP_DROP_NO_PEER, pname, inner.pkt, pp.len);
		return;
	}
	if (!pol_in_prefixes(sa->remote_ts, sa->nremote_ts, &pp.src) ||
	    !pol_in_prefixes(sa->local_ts, sa->nlocal_ts, &pp.dst) ||
	    !pol_in_prefixes(p->cfg.remote, p->cfg.nremote, &pp.src)) {
		dp_drop(dp, DP_DROP_SELECTOR, pname, inner.pkt, pp.len);
		return;
	}
	if (p->cfg.closed || !pol_rules_allow(p->cfg.rules, p->cfg.nrules, DP_DIR_IN, &pp)) {
		dp_drop(dp, DP_DROP_RULE, pname, inner.pkt, pp.len);
		return;
	}
	if (dp->flows.cap != 0)
		flow_account(&dp->flows, p->cfg.name, &pp, false, pp.len, dp_now(dp));
	if (dp->nlan >= DP_LAN_MAX)
		dp_flush(dp);
	dp->lan[dp->nlan].data = inner.pkt;
	dp->lan[dp->nlan].len = pp.len;
	dp->nlan++;
}

void
dp_wan_input(struct dp *dp, const struct ipaddr *src, uint16_t sport,
    const struct ipaddr *dst, uint16_t dport, uint8_t *data, size_t len)
{
	dp->st.udp_rx++;
	if (dport == dp->cfg.natt_port) {
		/* RFC 3948 §2.2-§2.3: keepalive, non-ESP marker + IKE, or ESP */
		if (len == 1 && data[0] == 0xff) {
			dp->st.keepalive_rx++;
			return;
		}
		if (len >= 4 && load_be32(data) == 0) {
			dp->st.ike_rx++;
			if (dp->ops.ike_input != NULL)
				dp->ops.ike_input(dp->ops.arg, src, sport, dst, dport,
				    data + 4, len - 4);
			return;
		}
		dp_esp_input(dp, data, len);
		return;
	}
	if (dport == dp->cfg.ike_port) {
		dp->st.ike_rx++;
		if (dp->ops.ike_input != NULL)
			dp->ops.ike_input(dp->ops.arg, src, sport, dst, dport, data, len);
		return;
	}
	dp_drop(dp, DP_DROP_MALFORMED, NULL, data, MIN(len, 64));
}

void
dp_count_syscalls(struct dp *dp, uint64_t tr, uint64_t tw, uint64_t ur, uint64_t us)
{
	dp->st.tun_reads += tr;
	dp->st.tun_writes += tw;
	dp->st.udp_recv_calls += ur;
	dp->st.udp_send_calls += us;
}

/* --- control --- */

/*
 * RFC 3948 §2.3: a one-octet 0xFF datagram keeps the NAT mappings of a quiet
 * tunnel alive. odvpn always encapsulates, and any site may sit behind a NAT it
 * does not know of, so every outbound SA sends one after DP_KEEPALIVE_MS without
 * a datagram of ours.
 */
static void
dp_keepalive(struct dp *dp, struct dp_sa *sa, uint64_t now)
{
	static const uint8_t ka = 0xff;
	struct dp_wan_pkt w;

	w.data = (uint8_t *)(uintptr_t)&ka;
	w.len = 1;
	w.dst = sa->peer_addr;
	w.dport = sa->peer_port;
	w.sport = sa->local_port;
	sa->last_tx_ms = now;
	if (dp->io->wan_send(dp->io_st, &w, 1) != 0) {
		dp->st.drops[DP_DROP_TX]++;
		return;
	}
	dp->st.keepalive_tx++;
	dp->st.udp_tx++;
}

static void
dp_flow_cb(void *arg, const struct flow *f)
{
	struct dp *dp = arg;

	if (dp->ops.flow_end != NULL)
		dp->ops.flow_end(dp->ops.arg, f);
}

void
dp_timer_run(struct dp *dp)
{
	uint64_t now;
	size_t i;

	dp->now_valid = false;
	now = dp_now(dp);
	for (i = 0; i < dp->npeers; i++) {
		struct dp_pstate *p = &dp->peers[i];

		if (p->need_pending && now - p->need_ms >= DP_QUEUE_TIMEOUT_MS)
			dp_queue_drop_all(dp, p, DP_DROP_NO_SA);
		if (p->out != NULL && p->out->peer_port == dp->cfg.natt_port &&
		    now - p->out->last_tx_ms >= DP_KEEPALIVE_MS)
			dp_keepalive(dp, p->out, now);
	}
	if (dp->flows.cap != 0 && now - dp->flow_scan_ms >= 1000) {
		dp->flow_scan_ms = now;
		flow_end(&dp->flows, NULL, now, FLOW_IDLE_MS, dp_flow_cb, dp);
	}
	dp->now_valid = false;
}

void
dp_flows_end(struct dp *dp, const char *peer)
{
	if (dp->flows.cap != 0)
		flow_end(&dp->flows, peer, dp_now(dp), 0, dp_flow_cb, dp);
}

static void
dp_tick(evutil_socket_t fd, short ev, void *arg)
{
	dp_timer_run(arg);
}

struct dp *
dp_new_io(struct event_base *base, const struct dp_config *cfg, const struct dp_ops *ops,
    const struct dp_io_ops *io, void *io_arg)
{
	struct dp *dp = xcalloc(1, sizeof(*dp));
	struct timeval tv = { 1, 0 };
	size_t i;

	dp->base = base;
	dp->cfg = *cfg;
	if (dp->cfg.mtu <= 0)
		dp->cfg.mtu = 1400;
	if (dp->cfg.mtu < 576 || dp->cfg.mtu > 65535 - ESP_OVERHEAD_MAX) {
		log_error("dataplane: mtu %d out of range", dp->cfg.mtu);
		free(dp);
		return NULL;
	}
	if (dp->cfg.queue_per_peer == 0)
		dp->cfg.queue_per_peer = 256;
	if (dp->cfg.replay_window == 0)
		dp->cfg.replay_window = ESP_REPLAY_DEFAULT;
	if (dp->cfg.ike_port == 0)
		dp->cfg.ike_port = 500;
	if (dp->cfg.natt_port == 0)
		dp->cfg.natt_port = 4500;
	if (dp->cfg.tun_name[0] == '\0')
		strcpy(dp->cfg.tun_name, "odvpn0");
	if (ops != NULL)
		dp->ops = *ops;
	dp->io = io;

	dp->spicap = 64;
	dp->spitab = xcalloc(dp->spicap, sizeof(*dp->spitab));
	dp->qslot = (size_t)dp->cfg.mtu;
	dp->qslots = MAX(DP_QUEUE_POOL_MIN, 4 * dp->cfg.queue_per_peer);
	dp->qdata = xcalloc(dp->qslots, dp->qslot);
	dp->qnext = xcalloc(dp->qslots, sizeof(*dp->qnext));
	dp->qlens = xcalloc(dp->qslots, sizeof(*dp->qlens));
	for (i = 0; i < dp->qslots; i++)
		dp->qnext[i] = i + 1 < dp->qslots ? (uint32_t)(i + 1) : DP_NONE;
	dp->qfree = 0;
	dp->arena = xmalloc(DP_ARENA_SIZE);
	dp->wan = xcalloc(DP_WAN_MAX, sizeof(*dp->wan));
	dp->lan = xcalloc(DP_LAN_MAX, sizeof(*dp->lan));
	dp->ike_buf = xmalloc(65536 + 4);
	if (dp->ops.flow_end != NULL)
		flow_table_init(&dp->flows, DP_FLOWS_MAX);

	if ((dp->io_st = io->open(io_arg, dp, base, &dp->cfg)) == NULL) {
		dp->io = NULL;
		dp_free(dp);
		return NULL;
	}
	dp->tick = event_new(base, -1, EV_PERSIST, dp_tick, dp);
	event_add(dp->tick, &tv);
	return dp;
}

struct dp *
dp_new(struct event_base *base, const struct dp_config *cfg, const struct dp_ops *ops)
{
	return dp_new_io(base, cfg, ops, &dp_io_sys, NULL);
}

static void
dp_sa_destroy(struct dp_sa *sa)
{
	esp_in_wipe(&sa->in);
	esp_out_wipe(&sa->out);
	OPENSSL_cleanse(sa, sizeof(*sa));
	free(sa);
}

static void
dp_routes(struct dp *dp, const struct dp_pstate *peers, size_t n, bool add)
{
	size_t i, j;

	if (dp->io == NULL)
		return;
	for (i = 0; i < n; i++)
		for (j = 0; j < peers[i].cfg.nremote; j++)
			dp->io->route(dp->io_st, add, &peers[i].cfg.remote[j]);
}

void
dp_free(struct dp *dp)
{
	size_t i;

	if (dp == NULL)
		return;
	dp->ops.drop_event = NULL;	/* no callbacks into a daemon tearing down */
	dp->ops.flow_end = NULL;
	flow_table_free(&dp->flows);
	if (dp->tick != NULL)
		event_free(dp->tick);
	for (i = 0; i < dp->npeers; i++)
		dp_queue_drop_all(dp, &dp->peers[i], DP_DROP_NO_SA);
	dp_routes(dp, dp->peers, dp->npeers, false);
	for (i = 0; i < dp->spicap; i++)
		if (dp->spitab[i] != NULL)
			dp_sa_destroy(dp->spitab[i]);
	if (dp->io != NULL)
		dp->io->close(dp->io_st);
	pol_lpm_free(dp->lpm);
	free(dp->peers);
	free(dp->spitab);
	if (dp->qdata != NULL)
		OPENSSL_cleanse(dp->qdata, dp->qslots * dp->qslot);
	free(dp->qdata);
	free(dp->qnext);
	free(dp->qlens);
	free(dp->arena);
	free(dp->wan);
	free(dp->lan);
	free(dp->ike_buf);
	free(dp);
}

static bool
dp_prefix_listed(const struct dp_pstate *peers, size_t n, const struct prefix *pf)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < peers[i].cfg.nremote; j++)
			if (peers[i].cfg.remote[j].len == pf->len &&
			    ipaddr_eq(&peers[i].cfg.remote[j].addr, &pf->addr))
				return true;
	return false;
}

int
dp_set_peers(struct dp *dp, const struct dp_peer *np, size_t n)
{
	struct dp_pstate *nps, *old;
	struct pol_lpm *lpm;
	size_t i, j, total = 0, k;
	uint32_t oi;

	for (i = 0; i < n; i++) {
		if (np[i].nremote > DP_MAX_PREFIX || np[i].nrules > DP_MAX_RULES ||
		    np[i].name[0] == '\0' || memchr(np[i].name, '\0', PEER_NAME_MAX) == NULL) {
			log_error("dataplane: peer %zu: bad entry", i);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(np[i].name, np[j].name) == 0) {
				log_error("dataplane: peer=%s listed twice", np[i].name);
				return -1;
			}
		total += np[i].nremote;
	}
	lpm = pol_lpm_new(total + dp->cfg.nlocal);
	for (i = 0; i < dp->cfg.nlocal; i++)
		(void)pol_lpm_insert(lpm, &dp->cfg.local[i], DP_LOCAL);
	for (i = 0; i < n; i++)
		for (j = 0; j < np[i].nremote; j++)
			if (pol_lpm_insert(lpm, &np[i].remote[j], (uint32_t)i) == -1) {
				char b[ADDR_STRLEN];

				prefix_format(&np[i].remote[j], b, sizeof(b));
				log_error("dataplane: peer=%s: prefix %s invalid, or "
				    "already ours or another peer's", np[i].name, b);
				pol_lpm_free(lpm);
				return -1;
			}

	nps = xcalloc(n > 0 ? n : 1, sizeof(*nps));
	for (i = 0; i < n; i++) {
		nps[i].cfg = np[i];
		nps[i].qhead = nps[i].qtail = DP_NONE;
		if ((oi = dp_peer_index(dp, np[i].name)) != DP_NONE) {
			/* same peer: keep its SA, queue and activity */
			old = &dp->peers[oi];
			nps[i].qhead = old->qhead;
			nps[i].qtail = old->qtail;
			nps[i].qlen = old->qlen;
			nps[i].need_pending = old->need_pending;
			nps[i].need_ms = old->need_ms;
			nps[i].last_ms = old->last_ms;
			old->qhead = old->qtail = DP_NONE;
			old->qlen = 0;
		}
	}
	/* peers that are gone: queued packets dropped, their SAs orphaned (inbound
	 * traffic of an orphan is dropped NO_PEER until the daemon deletes it) */
	for (i = 0; i < dp->npeers; i++)
		dp_queue_drop_all(dp, &dp->peers[i], DP_DROP_NO_PEER);
	for (k = 0; k < dp->spicap; k++) {
		struct dp_sa *sa = dp->spitab[k];

		if (sa != NULL)
			sa->peer = DP_NONE;
	}
	old = dp->peers;
	/* routes: remove what is no longer anyone's, add what is new */
	if (dp->io != NULL) {
		for (i = 0; i < dp->npeers; i++)
			for (j = 0; j < old[i].cfg.nremote; j++)
				if (!dp_prefix_listed(nps, n, &old[i].cfg.remote[j]))
					dp->io->route(dp->io_st, false, &old[i].cfg.remote[j]);
		for (i = 0; i < n; i++)
			for (j = 0; j < nps[i].cfg.nremote; j++)
				if (!dp_prefix_listed(old, dp->npeers, &nps[i].cfg.remote[j]) &&
				    dp->io->route(dp->io_st, true, &nps[i].cfg.remote[j]) == -1)
					log_warn("dataplane: peer=%s: route not added",
					    nps[i].cfg.name);
	}
	free(old);
	pol_lpm_free(dp->lpm);
	dp->peers = nps;
	dp->npeers = n;
	dp->lpm = lpm;
	/* relink every SA by name; a peer's outbound SA is its newest */
	for (i = 0; i < n; i++) {
		nps[i].out = NULL;
		nps[i].nsas = 0;
	}
	for (k = 0; k < dp->spicap; k++) {
		struct dp_sa *sa = dp->spitab[k];
		struct dp_pstate *p;

		if (sa == NULL || (sa->peer = dp_peer_index(dp, sa->peer_name)) == DP_NONE)
			continue;
		p = &nps[sa->peer];
		p->nsas++;
		if (p->out == NULL || sa->gen > p->out->gen)
			p->out = sa;
	}
	return 0;
}

int
dp_sa_add(struct dp *dp, const struct child_sa *c)
{
	struct dp_pstate *p;
	struct dp_sa *sa;
	uint32_t idx, s, nx;

	if (c->spi_in == 0 || c->spi_out == 0 || memchr(c->peer, '\0', PEER_NAME_MAX) == NULL ||
	    c->nlocal_ts > CHILD_SA_MAX_TS || c->nremote_ts > CHILD_SA_MAX_TS) {
		log_error("dataplane: sa: bad CHILD SA");
		return -1;
	}
	if ((idx = dp_peer_index(dp, c->peer)) == DP_NONE) {
		log_error("dataplane: peer=%s: SA for an unknown peer", c->peer);
		return -1;
	}
	if (dp->peers[idx].cfg.closed) {
		log_error("dataplane: peer=%s: SA refused, the peer is closed", c->peer);
		return -1;
	}
	if (dp_sa_lookup(dp, c->spi_in) != NULL) {
		log_error("dataplane: peer=%s: inbound SPI %08x already in use", c->peer,
		    c->spi_in);
		return -1;
	}
	sa = xcalloc(1, sizeof(*sa));
	if (esp_in_init(&sa->in, c->spi_in, c->key_in, c->esn, dp->cfg.replay_window) == -1 ||
	    esp_out_init(&sa->out, c->spi_out, c->key_out, c->esn) == -1) {
		log_error("dataplane: peer=%s: cipher setup failed", c->peer);
		if (sa->in.ctx != NULL)
			esp_in_wipe(&sa->in);
		dp_sa_destroy(sa);
		return -1;
	}
	sa->peer = idx;
	memcpy(sa->peer_name, c->peer, PEER_NAME_MAX);
	sa->ike_sa_id = c->ike_sa_id;
	sa->gen = ++dp->sa_gen;
	memcpy(sa->local_ts, c->local_ts, sizeof(sa->local_ts));
	memcpy(sa->remote_ts, c->remote_ts, sizeof(sa->remote_ts));
	sa->nlocal_ts = c->nlocal_ts;
	sa->nremote_ts = c->nremote_ts;
	sa->local_addr = c->local_addr;
	sa->peer_addr = c->peer_addr;
	sa->local_port = c->local_port != 0 ? c->local_port : dp->cfg.natt_port;
	sa->peer_port = c->peer_port != 0 ? c->peer_port : 4500;
	dp->now_valid = false;
	sa->last_ms = sa->last_tx_ms = dp_now(dp);
	dp_spi_insert(dp, sa);

	/* outbound switches to the new SA at once (rekey); the old inbound SA
	 * stays until dp_sa_del */
	p = &dp->peers[idx];
	p->out = sa;
	p->nsas++;
	p->last_ms = sa->last_ms;
	p->need_pending = false;
	log_info("dataplane: peer=%s sa in=%08x out=%08x%s%s added", c->peer, c->spi_in,
	    c->spi_out, c->esn ? " esn" : "", c->replaces_spi_in ? " (rekey)" : "");

	/* the on-demand queue goes out through the new SA, in order */
	s = p->qhead;
	p->qhead = p->qtail = DP_NONE;
	p->qlen = 0;
	for (; s != DP_NONE; s = nx) {
		nx = dp->qnext[s];
		dp_lan_inject(dp, dp->qdata + (size_t)s * dp->qslot, dp->qlens[s]);
		dp->st.tun_rx--;	/* counted when it was read */
		OPENSSL_cleanse(dp->qdata + (size_t)s * dp->qslot, dp->qlens[s]);
		dp->qnext[s] = dp->qfree;
		dp->qfree = s;
	}
	dp_flush(dp);
	return 0;
}

int
dp_sa_del(struct dp *dp, uint32_t spi_in)
{
	struct dp_sa *sa, *best = NULL;
	struct dp_pstate *p;
	size_t i;

	if ((sa = dp_sa_lookup(dp, spi_in)) == NULL)
		return -1;
	/* packets of this SA may still wait in the arena: send them first */
	dp_flush(dp);
	dp_spi_remove(dp, sa);
	if (sa->peer != DP_NONE) {
		p = &dp->peers[sa->peer];
		p->nsas--;
		if (p->out == sa) {
			for (i = 0; i < dp->spicap; i++) {
				struct dp_sa *o = dp->spitab[i];

				if (o != NULL && o->peer == sa->peer &&
				    (best == NULL || o->gen > best->gen))
					best = o;
			}
			p->out = best;
		}
	}
	log_info("dataplane: peer=%s sa in=%08x out=%08x removed, keys wiped",
	    sa->peer_name, sa->in.spi, sa->out.spi);
	dp_sa_destroy(sa);
	return 0;
}

void
dp_sa_failed(struct dp *dp, const char *peer)
{
	uint32_t idx = dp_peer_index(dp, peer);

	if (idx != DP_NONE)
		dp_queue_drop_all(dp, &dp->peers[idx], DP_DROP_NO_SA);
}

int
dp_send_ike(struct dp *dp, const struct ipaddr *src, uint16_t sport,
    const struct ipaddr *dst, uint16_t dport, const uint8_t *msg, size_t len)
{
	struct dp_wan_pkt w;
	size_t off = 0;

	(void)src;	/* the socket is bound to the WAN address */
	if (len > 65535 - 8 - 4)
		return -1;
	/* RFC 3948 §2.2: the non-ESP marker on port 4500 */
	if (sport == dp->cfg.natt_port || dport == dp->cfg.natt_port) {
		memset(dp->ike_buf, 0, 4);
		off = 4;
	}
	memcpy(dp->ike_buf + off, msg, len);
	w.data = dp->ike_buf;
	w.len = len + off;
	w.dst = *dst;
	w.dport = dport;
	w.sport = sport;
	dp->st.ike_tx++;
	if (dp->io->wan_send(dp->io_st, &w, 1) != 0) {
		dp->st.drops[DP_DROP_TX]++;
		return -1;
	}
	dp->st.udp_tx++;
	return 0;
}

uint64_t
dp_peer_idle_ms(struct dp *dp, const char *peer)
{
	uint32_t idx = dp_peer_index(dp, peer);
	uint64_t now;

	if (idx == DP_NONE || dp->peers[idx].nsas == 0)
		return UINT64_MAX;
	dp->now_valid = false;
	now = dp_now(dp);
	return now > dp->peers[idx].last_ms ? now - dp->peers[idx].last_ms : 0;
}

size_t
dp_list_sas(struct dp *dp, struct dp_sa_info *out, size_t max)
{
	size_t i, n = 0;
	uint64_t now;

	dp->now_valid = false;
	now = dp_now(dp);
	for (i = 0; i < dp->spicap && n < max; i++) {
		struct dp_sa *sa = dp->spitab[i];

		if (sa == NULL)
			continue;
		memcpy(out[n].peer, sa->peer_name, PEER_NAME_MAX);
		out[n].spi_in = sa->in.spi;
		out[n].spi_out = sa->out.spi;
		out[n].esn = sa->in.esn;
		out[n].pkts_in = sa->pkts_in;
		out[n].pkts_out = sa->pkts_out;
		out[n].bytes_in = sa->bytes_in;
		out[n].bytes_out = sa->bytes_out;
		out[n].idle_ms = now > sa->last_ms ? now - sa->last_ms : 0;
		n++;
	}
	return n;
}

void
dp_get_stats(struct dp *dp, struct dp_stats *st)
{
	*st = dp->st;
}
