/*
 * TUN offloads (IFF_VNET_HDR): the virtio-net header, checksums, splitting a TSO
 * super-packet read from the TUN into MSS-sized TCP segments, and coalescing
 * consecutive TCP segments of one flow into one super-packet for a single TUN
 * write (receive-side GRO). Pure functions over caller buffers; no allocation.
 *
 * The virtio-net header is in host byte order (we never set TUNSETVNETBE/LE).
 */
#ifndef ODVPN_DEVICE_NET_OFFLOAD_H
#define ODVPN_DEVICE_NET_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VNET_HDR_LEN		10
#define VNET_F_NEEDS_CSUM	1	/* VIRTIO_NET_HDR_F_NEEDS_CSUM */
#define VNET_GSO_NONE		0
#define VNET_GSO_TCPV4		1
#define VNET_GSO_UDP		3
#define VNET_GSO_TCPV6		4
#define VNET_GSO_UDP_L4		5
#define VNET_GSO_ECN		0x80
#define OFF_GRO_MAX_SEGS	64

struct vnet_hdr {
	uint8_t		flags;
	uint8_t		gso_type;
	uint16_t	hdr_len;
	uint16_t	gso_size;
	uint16_t	csum_start;
	uint16_t	csum_offset;
};

void	vnet_hdr_get(const uint8_t *, struct vnet_hdr *);
void	vnet_hdr_put(uint8_t *, const struct vnet_hdr *);

/* ones'-complement sum, unfolded; and its 16-bit fold (not complemented) */
uint32_t off_csum_add(const uint8_t *, size_t, uint32_t sum);
uint16_t off_csum_fold(uint32_t sum);
/* sum of the TCP/UDP pseudo-header of an IPv4/IPv6 packet for a transport length */
uint32_t off_pseudo_sum(const uint8_t *ip, uint8_t proto, size_t l4len);

/* finish a VNET_F_NEEDS_CSUM checksum in place; -1 if the offsets are bad */
int	off_csum_complete(uint8_t *pkt, size_t len, const struct vnet_hdr *);

/*
 * Segment i of a TCP super-packet (gso_type TCPV4/TCPV6) into out: headers
 * copied and fixed (IPv4 length, id, header checksum; IPv6 payload length; TCP
 * sequence, flags, full checksum). Returns the segment length; 0 when i is past
 * the last segment; -1 if the packet is not a segmentable TCP packet or out is
 * too small.
 */
int	off_tso_segment(const uint8_t *pkt, size_t len, const struct vnet_hdr *,
	    size_t i, uint8_t *out, size_t room);

/* a TCP segment as GRO sees it */
struct off_tcp {
	uint8_t		af;		/* 4 or 6 */
	uint8_t		iphlen;		/* 20 or 40: no IPv4 options, no IPv6 ext headers */
	uint8_t		thlen;
	uint8_t		flags;		/* TCP flags byte */
	uint32_t	seq;
	size_t		payload;	/* bytes after the TCP header */
};

/* true if pkt is a TCP segment GRO may coalesce (plain ACK or ACK|PSH, data) */
bool	off_gro_parse(const uint8_t *pkt, size_t len, struct off_tcp *);
/* same connection (addresses and ports) */
bool	off_gro_same_flow(const uint8_t *a, const struct off_tcp *ta,
	    const uint8_t *b, const struct off_tcp *tb);
/*
 * May cand follow last in the group that head starts (total bytes so far, nseg
 * segments)? Headers must agree except lengths, id, checksums and sequence; cand
 * continues last's sequence; every segment but the last is head's payload size.
 */
bool	off_gro_can_append(const uint8_t *head, const struct off_tcp *th,
	    const uint8_t *last, const struct off_tcp *tl,
	    const uint8_t *cand, const struct off_tcp *tc, size_t total, unsigned nseg);
/*
 * Turn head into the header of a super-packet of total bytes (head's headers
 * plus every payload), flags_or OR-ed into its TCP flags (PSH of the last), and
 * fill the virtio-net header for a TUN write (NEEDS_CSUM + TCPV4/6 GSO).
 */
void	off_gro_finish(uint8_t *head, const struct off_tcp *th, size_t total,
	    uint8_t flags_or, struct vnet_hdr *);

#endif
