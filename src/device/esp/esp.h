/*
 * ESP (RFC 4303) in tunnel mode with AES-GCM-16 and a 256-bit key (RFC 4106),
 * one struct per SA direction. Sans-I/O: bytes in, bytes out, no allocation per
 * packet, no logging.
 *
 * Wire layout produced and accepted (RFC 4303 §2, RFC 4106 §3-§6):
 *
 *   0      4      8             16                 16+n        +pad  +1   +2      +16
 *   | SPI  | Seq  | IV (8 bytes) | inner IP packet  | 1,2,3..  | padlen | nh | ICV |
 *                  \____________ encrypted: inner || pad || padlen || nh ________/
 *
 * The IV is the 64-bit sequence counter (unique per key, RFC 4106 §3); the nonce is
 * salt(4) || IV(8); the AAD is SPI || Seq (32-bit) or SPI || Seqh || Seql (ESN,
 * RFC 4106 §5). Padding brings inner||pad||2 to a multiple of 4.
 */
#ifndef ODVPN_DEVICE_ESP_ESP_H
#define ODVPN_DEVICE_ESP_ESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define ESP_HDR_LEN		8	/* SPI + sequence number */
#define ESP_IV_LEN		8
#define ESP_HEAD_LEN		(ESP_HDR_LEN + ESP_IV_LEN)	/* inner packet starts here */
#define ESP_ICV_LEN		16
#define ESP_KEY_LEN		32
#define ESP_SALT_LEN		4
#define ESP_KEYMAT_LEN		(ESP_KEY_LEN + ESP_SALT_LEN)
/* most an encapsulation adds to an inner packet: head, 3 pad, padlen, nh, ICV */
#define ESP_OVERHEAD_MAX	(ESP_HEAD_LEN + 3 + 2 + ESP_ICV_LEN)
#define ESP_NH_IPV4		4
#define ESP_NH_IPV6		41
#define ESP_NH_NONE		59	/* dummy packet, RFC 4303 §2.6 */
#define ESP_REPLAY_DEFAULT	1024
#define ESP_REPLAY_MAX		65536
/* RFC 4303 §3.3.3: a sender never cycles its counter; the engine should rekey
 * well before. The data plane asks for a rekey once this many remain. */
#define ESP_SEQ_SOFT_MARGIN	(1ULL << 24)

enum esp_status {
	ESP_OK = 0,
	ESP_ERR_MALFORMED,	/* too short, bad padding, bad next header */
	ESP_ERR_REPLAY,		/* duplicate, or older than the window */
	ESP_ERR_ICV,		/* authentication failed: nothing else is believed */
	ESP_ERR_SEQ_EXHAUSTED,	/* the sender would have to wrap: rekey */
	ESP_ERR_ROOM,		/* output does not fit */
};

/* outbound direction of an SA */
struct esp_out {
	EVP_CIPHER_CTX	*ctx;		/* keyed once in esp_out_init */
	uint8_t		 salt[ESP_SALT_LEN];
	uint32_t	 spi;		/* host order */
	bool		 esn;
	uint64_t	 seq;		/* last sequence number used; 0 = none yet */
	uint64_t	 seq_max;	/* UINT32_MAX, or UINT64_MAX with ESN */
};

/* inbound direction of an SA, with its anti-replay window (RFC 4303 §3.4.3,
 * Appendix A). The window is a ring of 64-bit blocks (one spare block so that a
 * whole W bits are always available after a slide). */
struct esp_in {
	EVP_CIPHER_CTX	*ctx;
	uint8_t		 salt[ESP_SALT_LEN];
	uint32_t	 spi;
	bool		 esn;
	uint64_t	 top;		/* T: highest authenticated sequence number */
	uint32_t	 wsize;		/* W in packets, a multiple of 64 */
	uint32_t	 nblocks;	/* wsize / 64 + 1 */
	uint64_t	*bitmap;	/* nblocks words, owned */
};

/* what esp_decap found */
struct esp_inner {
	uint8_t		*pkt;		/* inner packet, in place inside the input */
	size_t		 len;
	uint8_t		 next_header;
	uint64_t	 seq;		/* full (inferred) sequence number */
};

/*
 * keymat is the 36 bytes of RFC 4106 §8.1 (key || salt); it is not kept (the
 * cipher context holds the expanded key). 0 or -1 (OpenSSL failure).
 */
int	esp_out_init(struct esp_out *, uint32_t spi, const uint8_t *keymat, bool esn);
void	esp_out_wipe(struct esp_out *);
/* window: packets, rounded up to a multiple of 64, 64..ESP_REPLAY_MAX; 0 = default */
int	esp_in_init(struct esp_in *, uint32_t spi, const uint8_t *keymat, bool esn,
	    uint32_t window);
void	esp_in_wipe(struct esp_in *);

/*
 * Encapsulate in place. The inner packet of inner_len bytes is already at
 * buf + ESP_HEAD_LEN; buf has room for cap bytes. On ESP_OK *outlen is the ESP
 * packet length (the UDP payload). Uses the next sequence number; on
 * ESP_ERR_SEQ_EXHAUSTED nothing is sent and the SA must be replaced.
 */
enum esp_status esp_encap(struct esp_out *, uint8_t *buf, size_t cap,
	    size_t inner_len, uint8_t next_header, size_t *outlen);
/* sequence numbers left before exhaustion */
uint64_t esp_out_left(const struct esp_out *);

/*
 * Decapsulate in place: cheap window check, then ICV check and decryption, then
 * window update, in that order (RFC 4303 §3.4.3). pkt starts at the SPI (the
 * caller found the SA by it). On ESP_OK *inner points into pkt.
 */
enum esp_status esp_decap(struct esp_in *, uint8_t *pkt, size_t len,
	    struct esp_inner *);

/* the window on its own (exposed for tests); seq is the full 64-bit number */
uint64_t esp_replay_infer(const struct esp_in *, uint32_t seql);
bool	esp_replay_check(const struct esp_in *, uint64_t seq);
void	esp_replay_update(struct esp_in *, uint64_t seq);

const char *esp_status_name(enum esp_status);

#endif
