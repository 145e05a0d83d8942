/*
 * IKEv2 payload codecs (RFC 7296 §3, RFC 7383 §2.5). Syntax only: one parse and
 * one build function per payload, no protocol decisions.
 *
 * Parsing reads through struct rbuf only and never trusts a length before
 * checking it against what is left. Parsed payloads borrow the message memory
 * (pointers into the datagram or the decrypted plaintext): a struct ike_msg is
 * valid only as long as those buffers are.
 *
 * Building appends to a struct ike_chain: a wbuf plus the bookkeeping to link
 * each payload's Next Payload field to the one that follows it.
 */
#ifndef ODVPN_DEVICE_IKE_PLD_H
#define ODVPN_DEVICE_IKE_PLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device/ike/ike_iana.h"
#include "lib/addr.h"
#include "lib/buf.h"

#define IKE_MAX_PROPS		16
#define IKE_MAX_XFORMS		48
#define IKE_MAX_TS		16
#define IKE_MAX_NOTIFY		32
#define IKE_MAX_CERTS		8
#define IKE_MAX_CERTREQ		8
#define IKE_MAX_DELETE		8
#define IKE_MAX_SPI		8
#define IKE_NONCE_MIN		16	/* RFC 7296 §2.10 */
#define IKE_NONCE_MAX		256

struct ike_hdr {
	uint8_t		spi_i[8];
	uint8_t		spi_r[8];
	uint8_t		next;		/* first payload */
	uint8_t		version;
	uint8_t		exchange;
	uint8_t		flags;
	uint32_t	msgid;
	uint32_t	length;
};

struct ike_xform {
	uint8_t		type;		/* IKE_XF_* */
	uint16_t	id;
	uint16_t	keylen;		/* Key Length attribute in bits, 0 if absent */
	bool		bad_attr;	/* an attribute we do not know: unusable */
};

struct ike_prop {
	uint8_t		num;
	uint8_t		proto;		/* IKE_PROTO_* */
	uint8_t		spi_size;
	uint8_t		spi[IKE_MAX_SPI];
	size_t		nxf;
	struct ike_xform xf[IKE_MAX_XFORMS];
	bool		truncated;	/* more transforms than we keep: unusable */
};

struct ike_pl_sa {
	size_t		nprop;
	struct ike_prop	prop[IKE_MAX_PROPS];
};

struct ike_pl_ke {
	uint16_t	group;
	const uint8_t	*data;
	size_t		len;
};

struct ike_pl_id {
	uint8_t		type;		/* IKE_ID_* */
	const uint8_t	*data;
	size_t		len;
	/* ID Type | RESERVED | data: the "RestOfIDPayload" signed in AUTH (§2.15) */
	const uint8_t	*body;
	size_t		bodylen;
};

/* CERT (kind = encoding), CERTREQ (encoding), AUTH (method), Nonce, Vendor ID */
struct ike_pl_blob {
	uint8_t		kind;
	const uint8_t	*data;
	size_t		len;
};

struct ike_pl_notify {
	uint8_t		proto;
	uint8_t		spi_size;
	uint8_t		spi[IKE_MAX_SPI];
	uint16_t	type;		/* IKE_N_* */
	const uint8_t	*data;
	size_t		len;
};

struct ike_pl_delete {
	uint8_t		proto;
	uint8_t		spi_size;
	uint16_t	nspi;
	const uint8_t	*spis;		/* nspi * spi_size octets */
};

struct ike_ts {
	uint8_t		type;		/* IKE_TS_IPV4_ADDR_RANGE or _IPV6_ */
	uint8_t		proto;		/* 0 = any */
	uint16_t	sport, eport;
	struct ipaddr	start, end;
};

struct ike_pl_ts {
	size_t		n;
	struct ike_ts	ts[IKE_MAX_TS];
	size_t		nskipped;	/* selectors of types we do not know */
};

/* SK (RFC 7296 §3.14) or SKF (RFC 7383 §2.5) as found in a datagram */
struct ike_pl_sk {
	bool		frag;
	uint8_t		next;		/* first inner payload (0 in later fragments) */
	uint16_t	frag_num, frag_total;
	size_t		aad_len;	/* octets from the IKE header to the IV */
	const uint8_t	*body;		/* IV || ciphertext || ICV */
	size_t		bodylen;
};

/* presence bits for payloads that may appear once */
#define IKE_PBIT(type)	(1u << ((type) - 32))

struct ike_msg {
	struct ike_hdr	 hdr;
	const uint8_t	*raw;		/* the datagram (the signed octets of IKE_SA_INIT) */
	size_t		 rawlen;
	uint32_t	 present;	/* IKE_PBIT() of each payload seen */
	struct ike_pl_sa sa;
	struct ike_pl_ke ke;
	struct ike_pl_blob nonce;
	struct ike_pl_id idi, idr;
	struct ike_pl_blob auth;
	struct ike_pl_ts tsi, tsr;
	struct ike_pl_sk sk;
	struct ike_pl_blob cert[IKE_MAX_CERTS];
	size_t		 ncert;
	struct ike_pl_blob certreq[IKE_MAX_CERTREQ];
	size_t		 ncertreq;
	struct ike_pl_notify notify[IKE_MAX_NOTIFY];
	size_t		 nnotify;
	struct ike_pl_delete del[IKE_MAX_DELETE];
	size_t		 ndel;
	size_t		 nvendor;
	uint8_t		 unknown_critical;	/* first unknown critical payload type */
	const char	*err;			/* why parsing failed */
};

/* the 28-octet header; checks only the syntax (length field vs datagram) */
int	ike_pld_hdr_parse(struct rbuf *, struct ike_hdr *);
int	ike_pld_hdr_build(struct wbuf *, const struct ike_hdr *);

/*
 * Walk a payload chain starting with type first. Outside encryption (inner =
 * false) SK/SKF ends the chain and must be last; inside, they are refused.
 * Unknown payloads are skipped; the first unknown one with the critical bit is
 * recorded in msg->unknown_critical. -1 with msg->err set when malformed.
 */
int	ike_pld_parse_chain(struct ike_msg *, uint8_t first, struct rbuf *, bool inner);
/* header and outer chain of a whole datagram */
int	ike_msg_parse(struct ike_msg *, const uint8_t *, size_t);
bool	ike_msg_has(const struct ike_msg *, uint8_t type);
const struct ike_pl_notify *ike_msg_notify(const struct ike_msg *, uint16_t type);
/* the first error notify (type < 16384), or NULL */
const struct ike_pl_notify *ike_msg_error(const struct ike_msg *);

/* notification data with a defined layout (RFC 7296 §3.10.1, RFC 7427 §4) */
int	ike_pld_notify_group(const struct ike_pl_notify *, uint16_t *group);
unsigned ike_pld_notify_hashes(const struct ike_pl_notify *);	/* mask of 1 << n */
/* the i-th SPI of an ESP/AH Delete payload (i < nspi) */
uint32_t ike_pld_delete_spi(const struct ike_pl_delete *, uint16_t i);

/* one parser per payload: r covers the payload body (after the generic header) */
int	ike_pld_sa_parse(struct rbuf *, struct ike_pl_sa *);
int	ike_pld_ke_parse(struct rbuf *, struct ike_pl_ke *);
int	ike_pld_id_parse(struct rbuf *, struct ike_pl_id *);
int	ike_pld_blob_parse(struct rbuf *, struct ike_pl_blob *, bool has_kind,
	    size_t reserved);
int	ike_pld_notify_parse(struct rbuf *, struct ike_pl_notify *);
int	ike_pld_delete_parse(struct rbuf *, struct ike_pl_delete *);
int	ike_pld_ts_parse(struct rbuf *, struct ike_pl_ts *);
int	ike_pld_sk_parse(struct rbuf *, struct ike_pl_sk *, bool frag);

struct ike_chain {
	struct wbuf	w;
	uint8_t		first;		/* type of the first payload, 0 if empty */
	size_t		last;		/* offset of the last payload header */
	bool		any;
};

void	ike_chain_init(struct ike_chain *, uint8_t *buf, size_t cap);
/* each returns 0, or -1 when the buffer is full (sticky in c->w.bad) */
int	ike_pld_sa_build(struct ike_chain *, const struct ike_pl_sa *);
int	ike_pld_ke_build(struct ike_chain *, uint16_t group, const uint8_t *, size_t);
int	ike_pld_id_build(struct ike_chain *, uint8_t pltype, uint8_t idtype,
	    const uint8_t *, size_t);
int	ike_pld_cert_build(struct ike_chain *, uint8_t pltype, uint8_t enc,
	    const uint8_t *, size_t);
int	ike_pld_auth_build(struct ike_chain *, uint8_t method, const uint8_t *, size_t);
int	ike_pld_nonce_build(struct ike_chain *, const uint8_t *, size_t);
int	ike_pld_notify_build(struct ike_chain *, uint8_t proto, const uint8_t *spi,
	    uint8_t spi_size, uint16_t type, const uint8_t *, size_t);
int	ike_pld_delete_build(struct ike_chain *, uint8_t proto, uint8_t spi_size,
	    uint16_t nspi, const uint8_t *spis);
int	ike_pld_vendor_build(struct ike_chain *, const uint8_t *, size_t);
int	ike_pld_ts_build(struct ike_chain *, uint8_t pltype, const struct ike_pl_ts *);
/* any payload with an opaque body (tests, unknown types) */
int	ike_pld_raw_build(struct ike_chain *, uint8_t type, uint8_t flags,
	    const uint8_t *, size_t);

#endif
