/*
 * The packet-I/O seam of the data plane: two implementations, the real one
 * (TUN + UDP sockets on libevent, with batching and offloads: dp_io_sys.c) and
 * an in-memory one for tests and fuzzing (dp_io_mem.c).
 *
 * Direction of calls:
 *   I/O -> core: dp_lan_slot/dp_lan_input (one inner packet from the LAN),
 *                dp_wan_input (one UDP datagram), then dp_flush at the end of a
 *                batch; the core may flush earlier by itself.
 *   core -> I/O: lan_write / wan_send with everything produced since the last
 *                flush, in order. The packets point into the I/O layer's receive
 *                buffers or the core's arena and are valid only during the call.
 */
#ifndef ODVPN_DEVICE_DP_IO_H
#define ODVPN_DEVICE_DP_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device/dataplane.h"

/* a decrypted inner packet for the LAN (mutable: the I/O may coalesce headers) */
struct dp_lan_pkt {
	uint8_t		*data;
	size_t		 len;
};

/* an ESP-in-UDP (or IKE) datagram for the WAN */
struct dp_wan_pkt {
	const uint8_t	*data;
	size_t		 len;
	struct ipaddr	 dst;
	uint16_t	 dport;
	uint16_t	 sport;		/* our port: selects the socket (500 or 4500) */
};

/* most packets the core hands over in one lan_write / wan_send */
#define DP_IO_BATCH_MAX	2048

struct dp_io_ops {
	const char *name;
	/* io_arg: the caller's (dp_new_io); returns the I/O state or NULL */
	void	*(*open)(void *io_arg, struct dp *, struct event_base *,
		    const struct dp_config *);
	void	 (*close)(void *st);
	void	 (*lan_write)(void *st, struct dp_lan_pkt *, size_t n);
	/* returns how many were refused by the kernel (counted DP_DROP_TX) */
	size_t	 (*wan_send)(void *st, const struct dp_wan_pkt *, size_t n);
	int	 (*route)(void *st, bool add, const struct prefix *);
	uint64_t (*now_ms)(void *st);
};

extern const struct dp_io_ops dp_io_sys;
extern const struct dp_io_ops dp_io_mem;

struct dp *dp_new_io(struct event_base *, const struct dp_config *, const struct dp_ops *,
	    const struct dp_io_ops *, void *io_arg);

/* where the I/O layer writes the next inner packet from the LAN; *room >= 65535 */
uint8_t	*dp_lan_slot(struct dp *, size_t *room);
/* process the packet of len bytes just written at dp_lan_slot() */
void	 dp_lan_input(struct dp *, size_t len);
/* copy pkt into the slot and process it (tests, fuzzing); -1 if too long */
int	 dp_lan_inject(struct dp *, const uint8_t *pkt, size_t len);
/* one UDP datagram (payload) received on our port dport; data is modified in
 * place (decryption) and must stay valid until the next dp_flush */
void	 dp_wan_input(struct dp *, const struct ipaddr *src, uint16_t sport,
	    const struct ipaddr *dst, uint16_t dport, uint8_t *data, size_t len);
/* hand everything produced so far to the I/O layer */
void	 dp_flush(struct dp *);
/* the periodic work the event loop runs every second (queue time-outs, NAT
 * keepalives); tests call it after moving the in-memory clock */
void	 dp_timer_run(struct dp *);
/* the I/O layer's system-call counters (dp_stats) */
void	 dp_count_syscalls(struct dp *, uint64_t tun_reads, uint64_t tun_writes,
	    uint64_t udp_recv, uint64_t udp_send);

/* --- the in-memory I/O: what the core produced, for tests to inspect --- */
#define DP_MEMIO_MAX	512
#define DP_MEMIO_PKT	2048

struct dp_memio_pkt {
	uint8_t		data[DP_MEMIO_PKT];
	size_t		len;
	struct ipaddr	dst;		/* WAN only */
	uint16_t	dport, sport;
};

struct dp_memio {
	struct dp_memio_pkt lan[DP_MEMIO_MAX];	/* written to the TUN */
	size_t		nlan;
	struct dp_memio_pkt wan[DP_MEMIO_MAX];	/* sent on UDP */
	size_t		nwan;
	size_t		overflow;		/* outputs beyond DP_MEMIO_MAX, or too long */
	struct prefix	routes[64];		/* routes currently installed */
	size_t		nroutes;
	uint64_t	now_ms;			/* the clock the core sees */
	size_t		refuse_sends;		/* refuse this many next sends (DP_DROP_TX) */
};

#endif
