/*
 * The real packet I/O of the data plane: TUN on the LAN side, UDP 500/4500 on the
 * WAN side, on libevent, single-threaded. Where the system calls go:
 *
 *  TUN read   one read() per super-packet: with IFF_VNET_HDR + TSO the kernel
 *             hands us up to 64 KB of one TCP flow, which we segment ourselves
 *             straight into the core's arena (off_tso_segment).
 *  UDP send   sendmmsg(); consecutive ESP packets to one peer of one size go as
 *             one UDP_SEGMENT (GSO) message: one call sends hundreds of packets.
 *  UDP recv   recvmmsg() with UDP_GRO: one message may carry many datagrams of
 *             one size, split here by the gso_size control message.
 *  TUN write  consecutive segments of one TCP flow are coalesced into one
 *             super-packet (virtio-net GSO header) and written with one writev()
 *             straight from the decrypted datagrams (no copy).
 *
 * Each readable event handles a bounded batch, then dp_flush: the loop stays
 * fair between the two directions.
 */
#include <errno.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>

#include "device/dp_io.h"
#include "device/net/net.h"
#include "device/net/offload.h"
#include "lib/log.h"
#include "lib/util.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT	103
#endif
#ifndef UDP_GRO
#define UDP_GRO		104
#endif

#define SYS_RX_BATCH		32
#define SYS_RX_BUFSZ		65536
#define SYS_RX_ROUNDS		4	/* recvmmsg calls per event */
#define SYS_TUN_READS		64	/* TUN reads per event */
#define SYS_TX_MSGS		1024
#define SYS_GSO_SEGS		64	/* UDP_MAX_SEGMENTS of older kernels */
#define SYS_GSO_BYTES		65000
#define SYS_GRO_LOOKBACK	8	/* open groups searched for a flow */
#define SYS_NONE		UINT32_MAX

struct sys_sock {
	struct sysio	*io;
	int		 fd;
	sa_family_t	 af;
	uint16_t	 port;
	struct ipaddr	 local;
	bool		 gro, gso;
	struct event	*ev;
};

struct sys_grp {
	uint32_t	head, tail;
	size_t		total;
	unsigned	n;
	bool		open;
};

struct sysio {
	struct dp		*dp;
	struct dp_config	 cfg;
	int			 tun_fd, ifindex;
	bool			 vnet, tun_gso_ok;
	struct event		*tun_ev;
	struct sys_sock		 socks[4];
	size_t			 nsocks;
	struct nl_sock		*nl;
	uint8_t			*gso_buf;	/* a TSO super-packet being segmented */

	uint8_t			*rxbuf;
	struct mmsghdr		 rmsg[SYS_RX_BATCH];
	struct iovec		 riov[SYS_RX_BATCH];
	struct sockaddr_storage	 rname[SYS_RX_BATCH];
	uint8_t			 rctl[SYS_RX_BATCH][CMSG_SPACE(sizeof(int))];

	struct mmsghdr		 smsg[SYS_TX_MSGS];
	struct iovec		 siov[SYS_TX_MSGS];
	struct sockaddr_storage	 sname[SYS_TX_MSGS];
	uint8_t			 sctl[SYS_TX_MSGS][CMSG_SPACE(sizeof(uint16_t))];
	size_t			 snseg[SYS_TX_MSGS];

	struct off_tcp		 gtcp[DP_IO_BATCH_MAX];
	bool			 gok[DP_IO_BATCH_MAX];
	uint32_t		 gnext[DP_IO_BATCH_MAX];
	struct sys_grp		 grp[DP_IO_BATCH_MAX];
	struct iovec		 wiov[OFF_GRO_MAX_SEGS + 2];
	uint8_t			 whdr[VNET_HDR_LEN];
	bool			 warned_gso;
};

/* --- LAN side --- */

static void
sys_tun_read(evutil_socket_t fd, short what, void *arg)
{
	struct sysio *io = arg;
	struct vnet_hdr h;
	uint8_t *slot;
	size_t room, len, i;
	uint64_t reads = 0;
	ssize_t n;
	int k, seg;

	for (k = 0; k < SYS_TUN_READS; k++) {
		slot = dp_lan_slot(io->dp, &room);
		if (!io->vnet) {
			if ((n = read(fd, slot, room)) < 0)
				break;
			reads++;
			dp_lan_input(io->dp, (size_t)n);
			continue;
		}
		/* the header lands in the ESP head room in front of the slot; a
		 * read never exceeds 64 KB (what gso_buf holds) */
		if ((n = read(fd, slot - VNET_HDR_LEN, MIN(room, 65535) + VNET_HDR_LEN)) < 0)
			break;
		reads++;
		if (n < VNET_HDR_LEN)
			continue;
		vnet_hdr_get(slot - VNET_HDR_LEN, &h);
		len = (size_t)n - VNET_HDR_LEN;
		if ((h.gso_type & ~VNET_GSO_ECN) == VNET_GSO_NONE) {
			if (off_csum_complete(slot, len, &h) == -1)
				len = 0;	/* counted malformed by the core */
			dp_lan_input(io->dp, len);
			continue;
		}
		/* a super-packet: copy it aside, segment it into the arena */
		memcpy(io->gso_buf, slot, len);
		for (i = 0;; i++) {
			slot = dp_lan_slot(io->dp, &room);
			seg = off_tso_segment(io->gso_buf, len, &h, i, slot, room);
			if (seg <= 0) {
				if (seg < 0 && i == 0)
					dp_lan_input(io->dp, 0);
				break;
			}
			dp_lan_input(io->dp, (size_t)seg);
		}
	}
	if (k < SYS_TUN_READS && errno != EAGAIN && errno != EINTR)
		log_warn("tun: read: %s", strerror(errno));
	dp_count_syscalls(io->dp, reads + (k < SYS_TUN_READS), 0, 0, 0);
	dp_flush(io->dp);
}

static void
sys_tun_write_one(struct sysio *io, struct iovec *iov, int n, uint64_t *writes)
{
	(*writes)++;
	if (writev(io->tun_fd, iov, n) == -1 && errno != EAGAIN)
		log_debug("tun: write: %s", strerror(errno));
}

static void
sys_lan_write(void *st, struct dp_lan_pkt *p, size_t n)
{
	struct sysio *io = st;
	struct sys_grp *g;
	struct vnet_hdr h;
	size_t i, ng = 0, gi, hl;
	uint64_t writes = 0;
	uint32_t k;
	int niov;

	if (!io->vnet) {
		for (i = 0; i < n; i++) {
			io->wiov[0] = (struct iovec){ p[i].data, p[i].len };
			sys_tun_write_one(io, io->wiov, 1, &writes);
		}
		goto out;
	}
	/* group: each packet joins the open group of its TCP flow if it continues it */
	for (i = 0; i < n; i++) {
		io->gnext[i] = SYS_NONE;
		io->gok[i] = io->tun_gso_ok && off_gro_parse(p[i].data, p[i].len, &io->gtcp[i]);
		if (io->gok[i]) {
			for (gi = ng; gi-- > 0 && gi + SYS_GRO_LOOKBACK >= ng;) {
				g = &io->grp[gi];
				if (!g->open || !off_gro_same_flow(p[g->head].data,
				    &io->gtcp[g->head], p[i].data, &io->gtcp[i]))
					continue;
				if (off_gro_can_append(p[g->head].data, &io->gtcp[g->head],
				    p[g->tail].data, &io->gtcp[g->tail], p[i].data,
				    &io->gtcp[i], g->total, g->n)) {
					io->gnext[g->tail] = (uint32_t)i;
					g->tail = (uint32_t)i;
					g->total += io->gtcp[i].payload;
					g->n++;
					if (io->gtcp[i].payload < io->gtcp[g->head].payload ||
					    (io->gtcp[i].flags & 0x08))
						g->open = false;
					goto next;
				}
				g->open = false;
				break;
			}
		}
		io->grp[ng++] = (struct sys_grp){ .head = (uint32_t)i, .tail = (uint32_t)i,
		    .total = p[i].len, .n = 1, .open = io->gok[i] };
next:		;
	}
	for (gi = 0; gi < ng; gi++) {
		g = &io->grp[gi];
		memset(&h, 0, sizeof(h));
		if (g->n > 1) {
			off_gro_finish(p[g->head].data, &io->gtcp[g->head], g->total,
			    io->gtcp[g->tail].flags & 0x08, &h);
			hl = h.hdr_len;
		} else
			hl = p[g->head].len;
		vnet_hdr_put(io->whdr, &h);
		io->wiov[0] = (struct iovec){ io->whdr, VNET_HDR_LEN };
		io->wiov[1] = (struct iovec){ p[g->head].data, g->n > 1 ? p[g->head].len : hl };
		niov = 2;
		for (k = io->gnext[g->head]; k != SYS_NONE; k = io->gnext[k]) {
			size_t off = (size_t)io->gtcp[k].iphlen + io->gtcp[k].thlen;

			io->wiov[niov++] = (struct iovec){ p[k].data + off, io->gtcp[k].payload };
		}
		sys_tun_write_one(io, io->wiov, niov, &writes);
	}
out:
	dp_count_syscalls(io->dp, 0, writes, 0, 0);
}

/* --- WAN side --- */

static struct sys_sock *
sys_sock_for(struct sysio *io, uint16_t port, sa_family_t af)
{
	size_t i;

	for (i = 0; i < io->nsocks; i++)
		if (io->socks[i].port == port && io->socks[i].af == af)
			return &io->socks[i];
	return NULL;
}

static void
sys_udp_read(evutil_socket_t fd, short what, void *arg)
{
	struct sys_sock *s = arg;
	struct sysio *io = s->io;
	struct cmsghdr *cm;
	struct ipaddr src;
	uint16_t sport;
	size_t len, off, seg;
	uint64_t calls = 0;
	int i, n, r, gso;

	for (r = 0; r < SYS_RX_ROUNDS; r++) {
		for (i = 0; i < SYS_RX_BATCH; i++) {
			io->riov[i] = (struct iovec){ io->rxbuf + (size_t)i * SYS_RX_BUFSZ,
			    SYS_RX_BUFSZ };
			io->rmsg[i].msg_hdr = (struct msghdr){
				.msg_name = &io->rname[i], .msg_namelen = sizeof(io->rname[i]),
				.msg_iov = &io->riov[i], .msg_iovlen = 1,
				.msg_control = io->rctl[i], .msg_controllen = sizeof(io->rctl[i]) };
		}
		n = recvmmsg(fd, io->rmsg, SYS_RX_BATCH, MSG_DONTWAIT, NULL);
		calls++;
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			struct msghdr *mh = &io->rmsg[i].msg_hdr;

			if (mh->msg_flags & MSG_TRUNC ||
			    ipaddr_from_sockaddr((struct sockaddr *)mh->msg_name, &src,
			    &sport) == -1)
				continue;
			gso = 0;
			for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm))
				if (cm->cmsg_level == IPPROTO_UDP && cm->cmsg_type == UDP_GRO)
					memcpy(&gso, CMSG_DATA(cm), sizeof(gso));
			len = io->rmsg[i].msg_len;
			seg = gso > 0 ? (size_t)gso : len;
			for (off = 0; off < len || len == 0; off += seg) {
				dp_wan_input(io->dp, &src, sport, &s->local, s->port,
				    (uint8_t *)io->riov[i].iov_base + off, MIN(seg, len - off));
				if (len == 0)
					break;
			}
		}
		dp_flush(io->dp);
		if (n < SYS_RX_BATCH)
			break;
	}
	dp_count_syscalls(io->dp, 0, 0, calls, 0);
}

static bool
sys_gso_next(const struct dp_wan_pkt *a, const struct dp_wan_pkt *b, size_t seg)
{
	return a->len == seg && b->len <= seg && b->data == a->data + a->len &&
	    b->sport == a->sport && b->dport == a->dport && ipaddr_eq(&b->dst, &a->dst);
}

static size_t
sys_wan_send(void *st, const struct dp_wan_pkt *p, size_t n)
{
	struct sysio *io = st;
	struct sys_sock *s;
	struct cmsghdr *cm;
	size_t i = 0, j, m, total, seg, sent, refused = 0;
	uint64_t calls = 0;
	uint16_t seg16;
	int r;

	while (i < n) {
		if ((s = sys_sock_for(io, p[i].sport, p[i].dst.af)) == NULL) {
			refused++;
			i++;
			continue;
		}
		for (m = 0; i < n && m < SYS_TX_MSGS && p[i].sport == s->port &&
		    p[i].dst.af == s->af; m++, i = j + 1) {
			j = i;
			total = seg = p[i].len;
			if (s->gso)
				while (j + 1 < n && j + 1 - i < SYS_GSO_SEGS &&
				    total + p[j + 1].len <= SYS_GSO_BYTES &&
				    sys_gso_next(&p[j], &p[j + 1], seg))
					total += p[++j].len;
			io->siov[m] = (struct iovec){ (void *)(uintptr_t)p[i].data, total };
			io->smsg[m].msg_hdr = (struct msghdr){
				.msg_name = &io->sname[m],
				.msg_namelen = ipaddr_to_sockaddr(&p[i].dst, p[i].dport,
				    &io->sname[m]),
				.msg_iov = &io->siov[m], .msg_iovlen = 1 };
			io->snseg[m] = j - i + 1;
			if (j > i) {
				io->smsg[m].msg_hdr.msg_control = io->sctl[m];
				io->smsg[m].msg_hdr.msg_controllen = sizeof(io->sctl[m]);
				cm = CMSG_FIRSTHDR(&io->smsg[m].msg_hdr);
				cm->cmsg_level = IPPROTO_UDP;
				cm->cmsg_type = UDP_SEGMENT;
				cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
				seg16 = (uint16_t)seg;
				memcpy(CMSG_DATA(cm), &seg16, sizeof(seg16));
			}
		}
		for (sent = 0; sent < m;) {
			r = sendmmsg(s->fd, io->smsg + sent, (unsigned)(m - sent), 0);
			calls++;
			if (r > 0) {
				sent += (size_t)r;
				continue;
			}
			if (errno == EINTR)
				continue;
			/* this message is lost; a device without checksum offload
			 * refuses GSO with EIO: fall back to one datagram each */
			if (errno == EIO && io->snseg[sent] > 1 && s->gso) {
				s->gso = false;
				log_warn("udp port %u: UDP GSO refused: sending "
				    "datagrams one by one", s->port);
			} else if (!io->warned_gso) {
				io->warned_gso = true;
				log_warn("udp port %u: send: %s", s->port, strerror(errno));
			}
			refused += io->snseg[sent];
			sent++;
		}
	}
	dp_count_syscalls(io->dp, 0, 0, 0, calls);
	return refused;
}

static int
sys_route(void *st, bool add, const struct prefix *pf)
{
	struct sysio *io = st;

	return route_change(io->nl, io->ifindex, pf, add);
}

static uint64_t
sys_now(void *st)
{
	return now_mono_ms();
}

static void
sys_close(void *st)
{
	struct sysio *io = st;
	size_t i;

	if (io == NULL)
		return;
	for (i = 0; i < io->nsocks; i++) {
		if (io->socks[i].ev != NULL)
			event_free(io->socks[i].ev);
		close(io->socks[i].fd);
	}
	if (io->tun_ev != NULL)
		event_free(io->tun_ev);
	if (io->tun_fd != -1)
		close(io->tun_fd);
	route_close(io->nl);
	free(io->gso_buf);
	free(io->rxbuf);
	free(io);
}

static int
sys_add_sock(struct sysio *io, struct event_base *base, const struct ipaddr *addr,
    sa_family_t af, uint16_t port)
{
	struct sys_sock *s = &io->socks[io->nsocks];

	if ((s->fd = udp_open(addr, af, port, &s->gro)) == -1)
		return -1;
	s->io = io;
	s->af = addr->af != 0 ? addr->af : af;
	s->port = port;
	s->local = *addr;
	if (addr->af == 0)
		s->local.af = af;
	s->gso = !io->cfg.no_offload;
	if (io->cfg.no_offload && s->gro) {
		int zero = 0;

		(void)setsockopt(s->fd, IPPROTO_UDP, UDP_GRO, &zero, sizeof(zero));
		s->gro = false;
	}
	s->ev = event_new(base, s->fd, EV_READ | EV_PERSIST, sys_udp_read, s);
	event_add(s->ev, NULL);
	io->nsocks++;
	return 0;
}

static void *
sys_open(void *io_arg, struct dp *dp, struct event_base *base, const struct dp_config *cfg)
{
	struct sysio *io = xcalloc(1, sizeof(*io));
	char name[16];
	sa_family_t fams[2] = { AF_INET, AF_INET6 };
	size_t f, nf;

	io->dp = dp;
	io->cfg = *cfg;
	io->tun_fd = -1;
	memcpy(name, cfg->tun_name, sizeof(name));
	name[15] = '\0';
	if ((io->tun_fd = tun_open(name, !cfg->no_offload, &io->vnet)) == -1 ||
	    (io->ifindex = tun_up(name, cfg->mtu)) == -1)
		goto fail;
	io->tun_gso_ok = io->vnet;
	io->nl = route_open();
	/* one WAN address, or both families on the wildcard (IPv6 optional) */
	nf = cfg->wan_addr.af != 0 ? 1 : 2;
	for (f = 0; f < nf; f++) {
		if (sys_add_sock(io, base, &cfg->wan_addr, fams[f], cfg->ike_port) == -1 ||
		    sys_add_sock(io, base, &cfg->wan_addr, fams[f], cfg->natt_port) == -1) {
			if (f == 0)
				goto fail;
			log_warn("udp: no IPv6 sockets: IPv4 outer only");
		}
	}
	io->gso_buf = xmalloc(65536);
	io->rxbuf = xmalloc((size_t)SYS_RX_BATCH * SYS_RX_BUFSZ);
	io->tun_ev = event_new(base, io->tun_fd, EV_READ | EV_PERSIST, sys_tun_read, io);
	event_add(io->tun_ev, NULL);
	log_info("dataplane: tun %s ifindex %d mtu %d, offloads %s", name, io->ifindex,
	    cfg->mtu, io->vnet ? "TSO/GRO + UDP GSO/GRO" : "off");
	return io;
fail:
	sys_close(io);
	return NULL;
}

const struct dp_io_ops dp_io_sys = {
	.name = "tun+udp",
	.open = sys_open,
	.close = sys_close,
	.lan_write = sys_lan_write,
	.wan_send = sys_wan_send,
	.route = sys_route,
	.now_ms = sys_now,
};
