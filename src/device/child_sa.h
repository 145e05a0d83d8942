/*
 * What the IKE engine hands the data plane when a CHILD SA pair is made
 * (IKE_AUTH or CREATE_CHILD_SA). Shared contract between src/device/ike/ (producer)
 * and src/device/esp/ + dataplane (consumer).
 *
 * Ownership: the producer fills a struct on its stack, calls the consumer, and
 * wipes it (OPENSSL_cleanse) when the call returns. The consumer copies what it
 * needs into its own SA state and never keeps a pointer to this struct.
 */
#ifndef ODVPN_DEVICE_CHILD_SA_H
#define ODVPN_DEVICE_CHILD_SA_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/addr.h"

#define CHILD_SA_MAX_TS		8
#define CHILD_SA_KEYLEN		36	/* AES-256 key (32) || salt (4), RFC 4106 §8.1 */
#define PEER_NAME_MAX		64

struct child_sa {
	char		peer[PEER_NAME_MAX];	/* the daemon's name for the peer */
	uint64_t	ike_sa_id;		/* engine's id of the parent IKE SA, for logs */
	uint32_t	spi_in;			/* SPI we chose: peer sends to us with it */
	uint32_t	spi_out;		/* SPI the peer chose: we send with it */
	uint8_t		key_in[CHILD_SA_KEYLEN];	/* decrypts what arrives with spi_in */
	uint8_t		key_out[CHILD_SA_KEYLEN];	/* encrypts what we send with spi_out */
	bool		esn;			/* 64-bit extended sequence numbers negotiated */
	struct ipaddr	local_addr;		/* outer addresses and UDP ports (RFC 3948) */
	struct ipaddr	peer_addr;
	uint16_t	local_port;
	uint16_t	peer_port;
	/* negotiated traffic selectors, as prefixes (ranges that are not prefixes are
	 * narrowed to the largest prefix inside them by the engine) */
	struct prefix	local_ts[CHILD_SA_MAX_TS];
	size_t		nlocal_ts;
	struct prefix	remote_ts[CHILD_SA_MAX_TS];
	size_t		nremote_ts;
	/* rekey: non-zero when this SA replaces the one with this inbound SPI. The old
	 * inbound SA stays valid until the engine removes it; outbound switches now. */
	uint32_t	replaces_spi_in;
	uint64_t	lifetime_ms;		/* hard lifetime; the engine rekeys before it */
};

#endif
