/*
 * Internals of the IKEv2 engine shared by its files (not for the daemon):
 * the engine, IKE SA and CHILD SA state, and the functions each file exports
 * to the others. File prefixes: ike_sa_ (SA table), ike_msg_ (message I/O),
 * ike_frag_ (fragments), ike_keys_ (key schedule), ike_prop_ (proposals),
 * ike_ts_ (selectors), ike_cookie_ (cookies), ike_init_, ike_auth_, ike_child_,
 * ike_info_ (one per exchange).
 *
 * Memory: SAs and children are heap objects owned by the engine. An SA that
 * must go is marked dead (ike_sa_kill) and freed by ike_sa_reap() at the end of
 * the entry point that killed it, so no handler ever sees a freed SA. Every
 * free path wipes key material with OPENSSL_cleanse.
 */
#ifndef ODVPN_DEVICE_IKE_LOCAL_H
#define ODVPN_DEVICE_IKE_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto/dh.h"
#include "crypto/prf.h"
#include "device/ike/ike.h"
#include "device/ike/ike_pld.h"

#define IKE_NONCE_LEN		32	/* what we send */
#define IKE_SPI_LEN		8
#define IKE_ENC_MAX		36	/* AES-256 key + GCM salt */
#define IKE_MSG_MAX		65535
#define IKE_BUILD_MAX		16384	/* our own messages before encryption */
#define IKE_MAX_FRAGS		64
#define IKE_HASH_SIZE		256
#define IKE_COOKIE_MAX		64
#define IKE_MAX_CAS		8
#define IKE_HALF_OPEN_MS	30000	/* a responder SA must authenticate in this */
#define IKE_REASS_MS		30000
#define IKE_COOKIE_ROTATE_MS	120000
#define IKE_REKEYED_GRACE_MS	30000	/* replaced SAs wait this long for the peer's delete */
#define IKE_RETRY_LATER_MS	10000	/* after TEMPORARY_FAILURE */
#define IKE_INIT_RETRIES	3	/* COOKIE / INVALID_KE round trips */

/* the negotiated algorithms of an IKE SA or CHILD SA proposal */
struct ike_suite {
	uint8_t		prop_num;
	uint16_t	encr_bits;	/* AES-GCM-16 key length */
	uint16_t	prf;
	uint16_t	dh;		/* 0: none */
	bool		esn;
	uint8_t		spi[IKE_MAX_SPI];
	uint8_t		spi_size;
};

struct ike_keys {
	int		prf;
	size_t		prflen;
	size_t		enclen;		/* AES key octets; + 4 salt in sk_e* */
	uint8_t		sk_d[PRF_MAX_LEN];
	uint8_t		sk_pi[PRF_MAX_LEN];
	uint8_t		sk_pr[PRF_MAX_LEN];
	uint8_t		sk_ei[IKE_ENC_MAX];
	uint8_t		sk_er[IKE_ENC_MAX];
};

/* one datagram of a message we may have to send again */
struct ike_pkt {
	struct ike_pkt	*next;
	size_t		 len;
	uint8_t		 data[];
};

struct ike_out {
	struct ike_pkt	*pkts;		/* the message, or its fragments in order */
	uint32_t	 msgid;
	bool		 active;
	unsigned	 tries;
	uint64_t	 next_ms;	/* requests: next retransmission */
};

struct ike_reass {
	bool		 active;
	uint32_t	 msgid;
	uint16_t	 total, nrecv;
	uint8_t		 first_next;
	uint64_t	 deadline_ms;
	size_t		 bytes;
	uint8_t		*frag[IKE_MAX_FRAGS];
	size_t		 fraglen[IKE_MAX_FRAGS];
};

enum ike_child_state {
	CHILD_INSTALLED,
	CHILD_REKEYING,		/* our rekey request is out */
	CHILD_REKEYED,		/* replaced; waits for removal */
	CHILD_DELETING,		/* our delete request is out or queued */
};

struct ike_child {
	struct ike_child *next;
	uint32_t	 spi_in, spi_out;
	uint8_t		 key_in[CHILD_SA_KEYLEN];
	uint8_t		 key_out[CHILD_SA_KEYLEN];
	bool		 esn;
	bool		 installed;	/* child_up was called */
	enum ike_child_state state;
	struct prefix	 lts[CHILD_SA_MAX_TS], rts[CHILD_SA_MAX_TS];
	size_t		 nlts, nrts;
	uint64_t	 created_ms, rekey_ms, expire_ms, remove_ms;
	bool		 pend_rekey, pend_delete;
};

enum ike_sa_state {
	IKE_ST_INIT_SENT,	/* initiator: IKE_SA_INIT request out */
	IKE_ST_AUTH_SENT,	/* initiator: IKE_AUTH request out */
	IKE_ST_HALF_OPEN,	/* responder: IKE_SA_INIT answered, IKE_AUTH awaited */
	IKE_ST_ESTABLISHED,
	IKE_ST_REKEYED,		/* replaced by a rekey; waits for its delete */
	IKE_ST_DELETING,	/* our Delete is out or queued */
	IKE_ST_DEAD,		/* to be reaped */
};

enum ike_req_kind {
	REQ_NONE,
	REQ_INIT,
	REQ_AUTH,
	REQ_CHILD,		/* CREATE_CHILD_SA for a CHILD SA (rekey if old_spi) */
	REQ_REKEY_IKE,
	REQ_DELETE_CHILD,
	REQ_DELETE_IKE,
	REQ_LIVENESS,
	REQ_NOTIFY,		/* fire and forget (AUTHENTICATION_FAILED) */
};

/* what the outstanding request is about; owned by its SA */
struct ike_req_ctx {
	enum ike_req_kind kind;
	uint32_t	 old_spi;	/* REQ_CHILD: spi_in being replaced (0 = new);
					 * REQ_DELETE_CHILD: spi_in being deleted */
	struct ike_child *child;	/* REQ_CHILD/REQ_AUTH: the child being made */
	struct ike_sa	*new_sa;	/* REQ_REKEY_IKE: the SA being made (not in table) */
	struct dh	*dh;		/* REQ_CHILD with PFS */
	uint8_t		 nonce[IKE_NONCE_LEN];
	unsigned	 ke_retries;
	bool		 pfs_flipped;	/* REQ_CHILD: retried with the other PFS choice */
	/* simultaneous rekey (RFC 7296 §2.8.1, §2.8.2): the peer rekeyed the same
	 * SA while this request was out; its exchange's lowest nonce and result */
	bool		 collision;
	uint8_t		 coll_nonce[IKE_NONCE_MAX];
	size_t		 coll_nonce_len;
	uint32_t	 coll_child_spi;	/* CHILD: the peer's new child (our spi_in) */
	uint64_t	 coll_sa_id;		/* IKE: the peer-made new IKE SA */
};

#define PEND_DELETE_IKE		0x01
#define PEND_REKEY_IKE		0x02
#define PEND_LIVENESS		0x04

struct ike_engine;

struct ike_sa {
	struct ike_sa	*next;		/* engine list */
	struct ike_sa	*hnext;		/* hash chain by our SPI */
	struct ike_engine *eng;
	uint64_t	 id;
	bool		 in_table;
	struct ike_peer	 peer;		/* initiator: from ike_connect; responder: after AUTH */
	bool		 peer_known;
	bool		 initiator;	/* original initiator of this IKE SA */
	enum ike_sa_state state;
	bool		 was_up;	/* reached ESTABLISHED */
	bool		 quiet;		/* replaced by rekey: no SA_DOWN when it goes */
	bool		 half_open;	/* counted in eng->half_open */
	uint8_t		 spi_i[IKE_SPI_LEN], spi_r[IKE_SPI_LEN];
	struct ipaddr	 laddr, raddr;
	uint16_t	 lport, rport;
	struct ike_suite suite;
	struct dh	*dh;
	uint8_t		 ni[IKE_NONCE_MAX], nr[IKE_NONCE_MAX];
	size_t		 nilen, nrlen;
	bool		 have_keys;
	struct ike_keys	 keys;
	uint8_t		*init_req, *init_resp;	/* RealMessage1/2 for AUTH (§2.15) */
	size_t		 init_req_len, init_resp_len;
	unsigned	 peer_hashes;	/* SIGNATURE_HASH_ALGORITHMS mask */
	bool		 peer_frag;
	bool		 peer_natt;	/* peer sent NAT detection notifies */
	uint8_t		 cookie[IKE_COOKIE_MAX];
	size_t		 cookie_len;
	unsigned	 init_retries;
	uint32_t	 msgid_next;	/* our next request */
	uint32_t	 msgid_peer;	/* the peer's next request */
	struct ike_out	 req;
	struct ike_req_ctx ctx;
	struct ike_out	 resp;		/* last response, for retransmitted requests */
	bool		 resp_valid;
	struct ike_reass reass[2];	/* [0] requests, [1] responses */
	uint64_t	 iv_ctr;
	unsigned	 pending;
	struct ike_child *children;
	uint64_t	 created_ms, established_ms, rekey_ms, expire_ms, last_rx_ms;
	uint64_t	 deadline_ms;	/* half-open and replaced SAs */
	char		 suite_name[64];
};

struct ike_engine {
	struct ike_config cfg;
	struct ike_ops	 ops;
	struct ike_sa	*sas;
	struct ike_sa	*hash[IKE_HASH_SIZE];
	uint64_t	 next_id;
	struct ike_stats stats;
	unsigned	 half_open;
	uint8_t		*cert_der;
	size_t		 cert_der_len;
	EVP_PKEY	*pubkey;	/* our certificate's key: chooses the signature */
	uint8_t		 ca_hash[IKE_MAX_CAS][20];
	size_t		 nca;
	uint8_t		 cookie_secret[2][32];
	uint8_t		 cookie_version;
	uint64_t	 cookie_rotated_ms;
	uint8_t		 natd_fake[4];	/* hashed as our source: forces UDP encap */
};

/* ike.c */
uint64_t ike_now(struct ike_engine *);
void	 ike_random(struct ike_engine *, void *, size_t);
void	 ike_event(struct ike_engine *, enum ike_event, const char *peer, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
const char *ike_sa_peer_name(const struct ike_sa *);

/* ike_sa.c: SA table and CHILD SAs */
struct ike_sa *ike_sa_new(struct ike_engine *, bool initiator);
void	 ike_sa_insert(struct ike_sa *);	/* into the table under our SPI */
struct ike_sa *ike_sa_lookup(struct ike_engine *, const uint8_t *our_spi, bool we_initiated);
struct ike_sa *ike_sa_lookup_half_open(struct ike_engine *, const uint8_t *spi_i,
	    const struct ipaddr *, uint16_t port);
struct ike_sa *ike_sa_by_id(struct ike_engine *, uint64_t);
void	 ike_sa_kill(struct ike_sa *, const char *reason);
void	 ike_sa_reap(struct ike_engine *);
void	 ike_sa_free(struct ike_sa *);
void	 ike_sa_set_established(struct ike_sa *);
void	 ike_sa_schedule(struct ike_sa *);	/* rekey/expiry times after (re)keying */
void	 ike_sa_adopt_children(struct ike_sa *to, struct ike_sa *from);
void	 ike_sa_clear_ctx(struct ike_sa *);
uint32_t ike_child_alloc_spi(struct ike_engine *);
struct ike_child *ike_child_new(void);
void	 ike_child_free(struct ike_child *);
void	 ike_child_insert(struct ike_sa *, struct ike_child *);
struct ike_child *ike_child_by_in(struct ike_sa *, uint32_t spi_in);
struct ike_child *ike_child_by_out(struct ike_sa *, uint32_t spi_out);
/* hand the child to the data plane (child_up); replaces: old spi_in or 0 */
void	 ike_child_install(struct ike_sa *, struct ike_child *, uint32_t replaces);
/* child_down (if installed) and free */
void	 ike_child_remove(struct ike_sa *, struct ike_child *, const char *reason);
void	 ike_child_schedule(struct ike_sa *, struct ike_child *);
void	 ike_sa_kick(struct ike_sa *);		/* start a pending request if idle */

/* ike_msg.c: message I/O */
int	 ike_msg_send_request(struct ike_sa *, uint8_t exchange, const struct ike_chain *);
int	 ike_msg_send_response(struct ike_sa *, uint8_t exchange, uint32_t msgid,
	    const struct ike_chain *);
/* IKE_SA_INIT: unencrypted; stored in out when not NULL */
int	 ike_msg_send_plain(struct ike_engine *, const struct ike_hdr *,
	    const struct ike_chain *, const struct ipaddr *src, uint16_t sport,
	    const struct ipaddr *dst, uint16_t dport, struct ike_out *out,
	    uint8_t **copy, size_t *copylen);
void	 ike_msg_xmit(struct ike_sa *, const struct ike_out *);
void	 ike_out_clear(struct ike_out *);
/* 1: complete, m's inner payloads parsed, *plain owned by the caller;
 * 0: fragment kept, wait; -1: bad ICV; -2: malformed (m->err) */
int	 ike_msg_decrypt(struct ike_sa *, struct ike_msg *, uint8_t **plain,
	    size_t *plainlen);
/* the ICV of one SK/SKF datagram is right (retransmitted requests) */
bool	 ike_msg_authentic(struct ike_sa *, const struct ike_msg *);
void	 ike_msg_request_done(struct ike_sa *);

/* ike_frag.c */
int	 ike_frag_store(struct ike_reass *, uint32_t msgid, const struct ike_pl_sk *,
	    const uint8_t *plain, size_t len, uint64_t now, uint8_t **out,
	    size_t *outlen, uint8_t *first);
bool	 ike_frag_seen(const struct ike_reass *, uint32_t msgid, uint16_t num,
	    uint16_t total);
void	 ike_frag_clear(struct ike_reass *);
/* split plain into chunks so each datagram fits the MTU: returns chunk size */
size_t	 ike_frag_chunk(const struct ike_sa *, size_t mtu);

/* ike_keys.c */
int	 ike_keys_derive(struct ike_keys *, int prf, size_t enclen, int old_prf,
	    const uint8_t *old_skd, const uint8_t *gir, size_t girlen,
	    const uint8_t *ni, size_t nilen, const uint8_t *nr, size_t nrlen,
	    const uint8_t spi_i[8], const uint8_t spi_r[8]);
int	 ike_keys_child(const struct ike_keys *, const uint8_t *gir, size_t girlen,
	    const uint8_t *ni, size_t nilen, const uint8_t *nr, size_t nrlen,
	    uint8_t i2r[CHILD_SA_KEYLEN], uint8_t r2i[CHILD_SA_KEYLEN]);
void	 ike_keys_wipe(struct ike_keys *);
/* §2.15 signed octets: msg | nonce | prf(SK_p, RestOfIDPayload); caller frees */
int	 ike_keys_auth_octets(const struct ike_keys *, bool of_initiator,
	    const uint8_t *msg, size_t msglen, const uint8_t *nonce, size_t noncelen,
	    const uint8_t *idbody, size_t idlen, uint8_t **out, size_t *outlen);
int	 ike_keys_natd(const uint8_t spi_i[8], const uint8_t spi_r[8],
	    const uint8_t *addr, size_t addrlen, uint16_t port, uint8_t out[20]);

/* ike_prop.c */
void	 ike_prop_ike(const struct ike_engine *, struct ike_prop *, int first_dh,
	    const uint8_t *spi, uint8_t spi_size);
void	 ike_prop_esp(const struct ike_engine *, struct ike_prop *, uint32_t spi,
	    int dh);
int	 ike_prop_select_ike(const struct ike_engine *, const struct ike_pl_sa *,
	    uint16_t ke_group, struct ike_suite *);
int	 ike_prop_select_esp(const struct ike_engine *, const struct ike_pl_sa *,
	    bool allow_dh, uint16_t ke_group, struct ike_suite *);
int	 ike_prop_check(const struct ike_pl_sa *resp, const struct ike_prop *ours,
	    struct ike_suite *);
/* the single-proposal answer for a chosen suite */
void	 ike_prop_answer(struct ike_pl_sa *, uint8_t proto, const struct ike_suite *,
	    const uint8_t *spi, uint8_t spi_size);
void	 ike_suite_name(const struct ike_suite *, char *, size_t);

/* ike_ts.c */
void	 ike_ts_from_prefixes(const struct prefix *, size_t, struct ike_pl_ts *);
int	 ike_ts_narrow(const struct ike_pl_ts *proposed, const struct prefix *allowed,
	    size_t nallowed, struct prefix *out, size_t *nout);
int	 ike_ts_accept(const struct ike_pl_ts *answer, const struct prefix *proposed,
	    size_t nproposed, struct prefix *out, size_t *nout);

/* ike_cookie.c */
void	 ike_cookie_rotate(struct ike_engine *, uint64_t now);
size_t	 ike_cookie_make(struct ike_engine *, const uint8_t *ni, size_t nilen,
	    const struct ipaddr *, const uint8_t spi_i[8], uint8_t *out);
bool	 ike_cookie_check(struct ike_engine *, const uint8_t *cookie, size_t len,
	    const uint8_t *ni, size_t nilen, const struct ipaddr *, const uint8_t spi_i[8]);

/* ike_init.c */
int	 ike_init_start(struct ike_sa *);
void	 ike_init_request(struct ike_engine *, struct ike_msg *, const struct ipaddr *src,
	    uint16_t sport, const struct ipaddr *dst, uint16_t dport);
void	 ike_init_response(struct ike_sa *, struct ike_msg *, const struct ipaddr *src,
	    const struct ipaddr *dst);

/* ike_auth.c */
int	 ike_auth_start(struct ike_sa *);
void	 ike_auth_request(struct ike_sa *, struct ike_msg *);
void	 ike_auth_response(struct ike_sa *, struct ike_msg *);

/* ike_child.c: CREATE_CHILD_SA */
int	 ike_child_rekey_start(struct ike_sa *, struct ike_child *);
int	 ike_child_ike_rekey_start(struct ike_sa *);
void	 ike_child_request(struct ike_sa *, struct ike_msg *);
void	 ike_child_response(struct ike_sa *, struct ike_msg *);
/* the CHILD SA of an IKE_AUTH or CREATE_CHILD_SA answer, keys from SK_d */
int	 ike_child_make(struct ike_sa *, struct ike_child *, bool we_initiated,
	    const uint8_t *gir, size_t girlen, const uint8_t *ni, size_t nilen,
	    const uint8_t *nr, size_t nrlen);

/* ike_info.c: INFORMATIONAL */
int	 ike_info_delete_ike(struct ike_sa *);
int	 ike_info_delete_child(struct ike_sa *, struct ike_child *);
int	 ike_info_liveness(struct ike_sa *);
void	 ike_info_notify(struct ike_sa *, uint16_t type);
void	 ike_info_request(struct ike_sa *, struct ike_msg *);
void	 ike_info_response(struct ike_sa *, struct ike_msg *);

/* a response carrying just one notify (errors to requests) */
void	 ike_respond_notify(struct ike_sa *, const struct ike_msg *, uint16_t type,
	    const uint8_t *data, size_t len);

#endif
