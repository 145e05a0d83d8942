/*
 * ESP encapsulation and decapsulation with AES-256-GCM (RFC 4303, RFC 4106).
 * One EVP_CIPHER_CTX per SA direction, keyed once; per packet only the nonce is
 * set. Sequence numbers and the anti-replay window follow RFC 4303 §3.3.3,
 * §3.4.3 and Appendix A.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "device/esp/esp.h"
#include "lib/buf.h"
#include "lib/util.h"

static EVP_CIPHER *
esp_cipher(void)
{
	static EVP_CIPHER *gcm;

	/* fetched once: an implicit fetch per packet would cost a lookup each time */
	if (gcm == NULL)
		gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	return gcm;
}

static EVP_CIPHER_CTX *
esp_ctx_new(const uint8_t *key, int enc)
{
	EVP_CIPHER_CTX *ctx;
	EVP_CIPHER *c = esp_cipher();

	if (c == NULL || (ctx = EVP_CIPHER_CTX_new()) == NULL)
		return NULL;
	if (EVP_CipherInit_ex2(ctx, c, key, NULL, enc, NULL) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int
esp_out_init(struct esp_out *o, uint32_t spi, const uint8_t *keymat, bool esn)
{
	memset(o, 0, sizeof(*o));
	if ((o->ctx = esp_ctx_new(keymat, 1)) == NULL)
		return -1;
	memcpy(o->salt, keymat + ESP_KEY_LEN, ESP_SALT_LEN);
	o->spi = spi;
	o->esn = esn;
	o->seq = 0;
	o->seq_max = esn ? UINT64_MAX : UINT32_MAX;
	return 0;
}

void
esp_out_wipe(struct esp_out *o)
{
	/* EVP_CIPHER_CTX_free clears the expanded key (the provider frees its
	 * context with OPENSSL_clear_free) */
	EVP_CIPHER_CTX_free(o->ctx);
	OPENSSL_cleanse(o, sizeof(*o));
}

int
esp_in_init(struct esp_in *in, uint32_t spi, const uint8_t *keymat, bool esn,
    uint32_t window)
{
	memset(in, 0, sizeof(*in));
	if (window == 0)
		window = ESP_REPLAY_DEFAULT;
	if (window > ESP_REPLAY_MAX)
		window = ESP_REPLAY_MAX;
	window = (window + 63) & ~63U;
	if ((in->ctx = esp_ctx_new(keymat, 0)) == NULL)
		return -1;
	memcpy(in->salt, keymat + ESP_KEY_LEN, ESP_SALT_LEN);
	in->spi = spi;
	in->esn = esn;
	in->top = 0;
	in->wsize = window;
	in->nblocks = window / 64 + 1;
	in->bitmap = xcalloc(in->nblocks, sizeof(uint64_t));
	return 0;
}

void
esp_in_wipe(struct esp_in *in)
{
	EVP_CIPHER_CTX_free(in->ctx);
	free(in->bitmap);
	OPENSSL_cleanse(in, sizeof(*in));
}

uint64_t
esp_out_left(const struct esp_out *o)
{
	return o->seq_max - o->seq;
}

enum esp_status
esp_encap(struct esp_out *o, uint8_t *buf, size_t cap, size_t inner_len,
    uint8_t next_header, size_t *outlen)
{
	uint8_t nonce[ESP_SALT_LEN + ESP_IV_LEN], aad[12];
	size_t padlen, ptlen, total, i, aadlen;
	uint64_t seq;
	int n;

	if (o->seq >= o->seq_max)
		return ESP_ERR_SEQ_EXHAUSTED;
	padlen = (4 - (inner_len + 2) % 4) % 4;
	ptlen = inner_len + padlen + 2;
	total = ESP_HEAD_LEN + ptlen + ESP_ICV_LEN;
	if (inner_len > INT32_MAX || total > cap)
		return ESP_ERR_ROOM;
	seq = ++o->seq;

	store_be32(buf, o->spi);
	store_be32(buf + 4, (uint32_t)seq);
	store_be64(buf + 8, seq);	/* IV: the counter, unique per key */
	for (i = 0; i < padlen; i++)
		buf[ESP_HEAD_LEN + inner_len + i] = (uint8_t)(i + 1);
	buf[ESP_HEAD_LEN + inner_len + padlen] = (uint8_t)padlen;
	buf[ESP_HEAD_LEN + inner_len + padlen + 1] = next_header;

	memcpy(nonce, o->salt, ESP_SALT_LEN);
	memcpy(nonce + ESP_SALT_LEN, buf + 8, ESP_IV_LEN);
	store_be32(aad, o->spi);
	if (o->esn) {
		store_be64(aad + 4, seq);
		aadlen = 12;
	} else {
		store_be32(aad + 4, (uint32_t)seq);
		aadlen = 8;
	}
	if (EVP_EncryptInit_ex2(o->ctx, NULL, NULL, nonce, NULL) != 1 ||
	    EVP_EncryptUpdate(o->ctx, NULL, &n, aad, (int)aadlen) != 1 ||
	    EVP_EncryptUpdate(o->ctx, buf + ESP_HEAD_LEN, &n,
	    buf + ESP_HEAD_LEN, (int)ptlen) != 1 ||
	    EVP_EncryptFinal_ex(o->ctx, buf + ESP_HEAD_LEN + n, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(o->ctx, EVP_CTRL_AEAD_GET_TAG, ESP_ICV_LEN,
	    buf + ESP_HEAD_LEN + ptlen) != 1)
		return ESP_ERR_ROOM;	/* cannot happen with a keyed context */
	*outlen = total;
	return ESP_OK;
}

/*
 * RFC 4303 Appendix A2.2: the high 32 bits of an ESN from the low 32 bits on the
 * wire and the top of the window. Returns 0 (never a valid number) when Seq
 * would fall below the start of the sequence space.
 */
uint64_t
esp_replay_infer(const struct esp_in *in, uint32_t seql)
{
	uint32_t tl = (uint32_t)in->top, th = (uint32_t)(in->top >> 32);
	uint32_t w = in->wsize, bl = tl - w + 1;	/* mod 2^32 */
	uint32_t seqh;

	if (!in->esn)
		return seql;
	if (tl >= w - 1) {			/* Case A */
		if (seql >= bl)
			seqh = th;
		else {
			if (th == UINT32_MAX)
				return 0;
			seqh = th + 1;
		}
	} else {				/* Case B */
		if (seql >= bl) {
			if (th == 0)
				return 0;	/* before the first packet */
			seqh = th - 1;
		} else
			seqh = th;
	}
	return (uint64_t)seqh << 32 | seql;
}

bool
esp_replay_check(const struct esp_in *in, uint64_t seq)
{
	uint64_t bit;

	if (seq == 0)
		return false;	/* never sent (RFC 4303 §3.3.3: the first is 1) */
	if (seq > in->top)
		return true;
	if (in->top - seq >= in->wsize)
		return false;	/* left of the window */
	bit = in->bitmap[(seq >> 6) % in->nblocks] >> (seq & 63);
	return (bit & 1) == 0;
}

void
esp_replay_update(struct esp_in *in, uint64_t seq)
{
	uint64_t blk, top_blk, n;

	if (seq > in->top) {
		top_blk = in->top >> 6;
		blk = seq >> 6;
		n = blk - top_blk;
		if (n > in->nblocks)
			n = in->nblocks;
		/* clear the blocks the window slides onto */
		while (n-- > 0)
			in->bitmap[(blk - n) % in->nblocks] = 0;
		in->top = seq;
	}
	in->bitmap[(seq >> 6) % in->nblocks] |= 1ULL << (seq & 63);
}

enum esp_status
esp_decap(struct esp_in *in, uint8_t *pkt, size_t len, struct esp_inner *out)
{
	uint8_t nonce[ESP_SALT_LEN + ESP_IV_LEN], aad[12];
	const uint8_t *iv, *icv;
	struct rbuf r;
	uint32_t spi, seql;
	uint64_t seq;
	size_t ctlen, aadlen, padlen, i;
	uint8_t *pt, nh;
	int n;

	rbuf_init(&r, pkt, len);
	if (rbuf_get_u32(&r, &spi) == -1 || rbuf_get_u32(&r, &seql) == -1 ||
	    rbuf_get_ptr(&r, &iv, ESP_IV_LEN) == -1)
		return ESP_ERR_MALFORMED;
	/* at least padlen, next header and the ICV */
	if (2 + ESP_ICV_LEN > rbuf_left(&r) || spi != in->spi)
		return ESP_ERR_MALFORMED;
	ctlen = rbuf_left(&r) - ESP_ICV_LEN;
	if (ctlen > INT32_MAX)
		return ESP_ERR_MALFORMED;
	pt = pkt + r.off;
	icv = pt + ctlen;

	/* 1. the cheap check, before any work on unauthenticated input */
	seq = esp_replay_infer(in, seql);
	if (!esp_replay_check(in, seq))
		return ESP_ERR_REPLAY;

	/* 2. ICV (and decryption, in place) */
	memcpy(nonce, in->salt, ESP_SALT_LEN);
	memcpy(nonce + ESP_SALT_LEN, iv, ESP_IV_LEN);
	store_be32(aad, spi);
	if (in->esn) {
		store_be64(aad + 4, seq);
		aadlen = 12;
	} else {
		store_be32(aad + 4, seql);
		aadlen = 8;
	}
	if (EVP_DecryptInit_ex2(in->ctx, NULL, NULL, nonce, NULL) != 1 ||
	    EVP_DecryptUpdate(in->ctx, NULL, &n, aad, (int)aadlen) != 1 ||
	    EVP_DecryptUpdate(in->ctx, pt, &n, pt, (int)ctlen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(in->ctx, EVP_CTRL_AEAD_SET_TAG, ESP_ICV_LEN,
	    (void *)(uintptr_t)icv) != 1 ||
	    EVP_DecryptFinal_ex(in->ctx, pt + n, &n) != 1)
		return ESP_ERR_ICV;

	/* 3. authenticated: now the window moves */
	esp_replay_update(in, seq);

	/* trailer: the sender is authenticated, but its padding may still be bad */
	nh = pt[ctlen - 1];
	padlen = pt[ctlen - 2];
	if (padlen + 2 > ctlen)
		return ESP_ERR_MALFORMED;
	for (i = 0; i < padlen; i++)
		if (pt[ctlen - 2 - padlen + i] != (uint8_t)(i + 1))
			return ESP_ERR_MALFORMED;
	out->pkt = pt;
	out->len = ctlen - 2 - padlen;
	out->next_header = nh;
	out->seq = seq;
	return ESP_OK;
}

const char *
esp_status_name(enum esp_status s)
{
	switch (s) {
	case ESP_OK:			return "ok";
	case ESP_ERR_MALFORMED:		return "malformed";
	case ESP_ERR_REPLAY:		return "replay";
	case ESP_ERR_ICV:		return "bad-icv";
	case ESP_ERR_SEQ_EXHAUSTED:	return "seq-exhausted";
	case ESP_ERR_ROOM:		return "no-room";
	}
	return "?";
}
