/*
 * The IKEv2 engine (RFC 7296), sans-I/O: datagrams and timer ticks in; datagrams,
 * CHILD SA installs/removals and events out, through struct ike_ops. Clock and RNG
 * are injected, so two engines can run against each other inside one test process.
 *
 * One engine holds every IKE SA of a device (many peers at once, REQ-VPN-5).
 * It never touches sockets, files or private keys: signing goes through ops->sign
 * (the key store), certificate validation through ops->verify_peer (the PKI).
 *
 * DRAFT CONTRACT between the IKE work and the daemon (src/device/main.c, daemon.c).
 * Fields may be added; meanings of existing ones stay.
 */
#ifndef ODVPN_DEVICE_IKE_IKE_H
#define ODVPN_DEVICE_IKE_IKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "device/child_sa.h"
#include "lib/addr.h"

#define IKE_ID_MAX		256
#define IKE_PORT		500
#define IKE_NATT_PORT		4500

/* what the daemon knows about one peer (static config now, a center grant later) */
struct ike_peer {
	char		name[PEER_NAME_MAX];	/* the daemon's name: logs, callbacks */
	char		id[IKE_ID_MAX];		/* the peer's IKE identity (ID_FQDN), also
						 * required as a dNSName SAN in its certificate */
	struct ipaddr	addr;			/* peer WAN address */
	uint16_t	port;			/* IKE_NATT_PORT unless configured */
	struct prefix	local_ts[CHILD_SA_MAX_TS];	/* what we protect toward this peer */
	size_t		nlocal_ts;
	struct prefix	remote_ts[CHILD_SA_MAX_TS];	/* what the peer protects */
	size_t		nremote_ts;
};

/* zero numeric fields take the defaults listed in docs/IKE.md */
struct ike_config {
	char		 local_id[IKE_ID_MAX];	/* our ID_FQDN; in our certificate's SAN */
	X509		*cert;			/* our service certificate (engine takes a reference) */
	STACK_OF(X509)	*cas;			/* trust anchors: CERTREQ hashes (SHA-1 of SPKI);
						 * read in ike_new only, no reference kept */
	int		 dh_groups[4];		/* preference order, 0-terminated; default 19, 31, 20 */
	bool		 esn;			/* offer ESN (and no-ESN) for CHILD SAs */
	uint32_t	 ike_rekey_s;		/* default 4 h */
	uint32_t	 child_rekey_s;		/* default 1 h */
	uint32_t	 liveness_s;		/* empty INFORMATIONAL after this idle time; 0 off */
	uint32_t	 retransmit_base_ms;	/* first retransmission after this; doubles */
	uint32_t	 retransmit_tries;	/* then the SA is dead */
	size_t		 fragment_mtu;		/* RFC 7383: fragment messages above this IP size */
	unsigned	 cookie_threshold;	/* half-open SAs before COOKIEs are demanded */
	unsigned	 max_half_open;		/* hard cap: beyond it IKE_SA_INIT is dropped */
	/* added fields */
	bool		 child_pfs;		/* CHILD rekeys carry a KE of the IKE SA's group */
};

enum ike_event {
	IKE_EV_SA_UP,		/* IKE SA established */
	IKE_EV_SA_DOWN,		/* IKE SA gone (delete, timeout, failure) */
	IKE_EV_AUTH_FAILED,	/* peer failed authentication or was refused */
	IKE_EV_REKEYED,		/* IKE or CHILD SA rekeyed */
	IKE_EV_NEGOTIATION_FAILED,
};

struct ike_ops {
	void	*arg;
	uint64_t (*now_ms)(void *arg);			/* monotonic */
	void	(*random)(void *arg, void *buf, size_t n);
	/* msg is a whole IKE message; the I/O layer adds the non-ESP marker when
	 * either port is 4500 (RFC 3948 §2.2). src->af == 0 (an initiator before its
	 * first answer): the I/O layer picks the source address. */
	void	(*send)(void *arg, const struct ipaddr *src, uint16_t sport,
		    const struct ipaddr *dst, uint16_t dport, const uint8_t *msg, size_t len);
	/* sign tbs with our service key (RFC 7427: ECDSA DER or RSA-PSS with MGF1
	 * of the same hash and salt length = hash length, as crypto/sig.h).
	 * *siglen: capacity in, signature length out. 0 = ok, -1 = failed */
	int	(*sign)(void *arg, int md_nid, const uint8_t *tbs, size_t tbslen,
		    uint8_t *sig, size_t *siglen);
	/* chain to the trust anchor, tier-2 profile, not revoked, SAN contains
	 * peer_id. 0 = accept; -1 = refuse with a reason in err */
	int	(*verify_peer)(void *arg, X509 *cert, STACK_OF(X509) *untrusted,
		    const char *peer_id, char *err, size_t errlen);
	/* responder: the peer config for an authenticated-to-be identity, or NULL to
	 * refuse (no grant / unknown peer). Pointer valid until the call returns. */
	const struct ike_peer *(*find_peer)(void *arg, const char *peer_id,
		    const struct ipaddr *from);
	void	(*child_up)(void *arg, const struct child_sa *);
	void	(*child_down)(void *arg, const char *peer, uint32_t spi_in,
		    uint32_t spi_out, const char *reason);
	void	(*event)(void *arg, enum ike_event, const char *peer, const char *detail);
};

struct ike_engine;

struct ike_engine *ike_new(const struct ike_config *, const struct ike_ops *);
void	ike_free(struct ike_engine *);		/* wipes every key; sends nothing */

/* added: our certificate for SAs set up from now on (a renewed service
 * certificate; the key behind ops->sign must change at the same moment). SAs
 * already up are not touched. 0, or -1 if the certificate is unusable */
int	ike_set_cert(struct ike_engine *, X509 *);
/* added: the crypto policy pushed by the center, for SAs set up from now on */
struct ike_policy {
	int		dh_groups[4];		/* 0-terminated, at least one */
	bool		esn;
	bool		child_pfs;
	uint32_t	ike_rekey_s;		/* 0: unchanged */
	uint32_t	child_rekey_s;
};
int	ike_set_policy(struct ike_engine *, const struct ike_policy *);
/* one received datagram, non-ESP marker already removed */
void	ike_input(struct ike_engine *, const struct ipaddr *src, uint16_t sport,
	    const struct ipaddr *dst, uint16_t dport, const uint8_t *msg, size_t len);

/* bring up an IKE SA and its CHILD SA to peer; no-op if up or being set up */
int	ike_connect(struct ike_engine *, const struct ike_peer *);
/* INFORMATIONAL Delete to the peer, then remove its SAs (keys wiped) */
int	ike_disconnect(struct ike_engine *, const char *peer, const char *reason);

/* run due timers (retransmit, rekey, liveness, expiry); returns ms until the next */
uint64_t ike_tick(struct ike_engine *);

/* added: rekey now (the IKE SA, or every CHILD SA) of peer; -1 if not up */
int	ike_rekey(struct ike_engine *, const char *peer, bool ike_sa);

struct ike_sa_info {
	char		peer[PEER_NAME_MAX];
	uint64_t	id;
	uint8_t		spi_i[8], spi_r[8];
	bool		initiator;
	const char	*state;		/* "connecting", "established", "deleting" */
	uint64_t	established_ms;
	char		suite[64];	/* e.g. "AES_GCM_16_256/PRF_HMAC_SHA2_256/ECP_256" */
	unsigned	nchild;
};
size_t	ike_list(struct ike_engine *, struct ike_sa_info *, size_t max);

struct ike_stats {
	uint64_t	rx, tx, retransmits;
	uint64_t	dropped_malformed, dropped_unknown_spi, dropped_bad_icv;
	uint64_t	dropped_half_open_cap, cookies_sent, auth_failed;
	uint64_t	sa_up, sa_down, rekeys;
	/* added fields */
	uint64_t	dropped_msgid;		/* outside the window, or no request out */
	uint64_t	dropped_unexpected;	/* valid, but not in this state */
	uint64_t	dropped_fragment;	/* duplicate/stale/over-limit fragments */
	uint64_t	responses_resent;	/* answers to retransmitted requests */
	uint64_t	invalid_ke_sent, fragments_tx, fragments_rx;
	uint64_t	child_up, child_down;
};
void	ike_get_stats(struct ike_engine *, struct ike_stats *);

#endif
