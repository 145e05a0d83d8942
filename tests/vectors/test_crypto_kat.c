/*
 * Known-answer tests for src/crypto: AES-GCM (the GCM specification's test
 * cases 2, 13, 14, 16), PRF HMAC-SHA2 (RFC 4868 §2.7.1), prf+ (RFC 7296 §2.13,
 * checked block by block), ECDH groups 19 and 20 (RFC 5903 §8), X25519
 * (RFC 7748 §5.2, §6.1) with the RFC 6989 / RFC 8031 rejections, and the
 * RFC 7427 AlgorithmIdentifiers and signatures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "crypto/aead.h"
#include "crypto/dh.h"
#include "crypto/hash.h"
#include "crypto/prf.h"
#include "crypto/sig.h"
#include "lib/util.h"

/* hex with optional spaces, into a static-size buffer */
static size_t
unhex(const char *s, uint8_t *out, size_t cap)
{
	char clean[1024];
	size_t n = 0;
	int r;

	for (; *s; s++)
		if (*s != ' ' && n + 1 < sizeof(clean))
			clean[n++] = *s;
	clean[n] = '\0';
	r = hex_decode(clean, out, cap);
	assert_true(r >= 0);
	return (size_t)r;
}

static void
gcm_case(const char *k, const char *iv, const char *pt, const char *aad, const char *ct,
    const char *tag)
{
	uint8_t key[32], nonce[12], p[64], a[32], c[64], t[16], out[64], icv[16], back[64];
	size_t kl = unhex(k, key, sizeof(key)), pl = unhex(pt, p, sizeof(p));
	size_t al = unhex(aad, a, sizeof(a));

	unhex(iv, nonce, sizeof(nonce));
	assert_int_equal(unhex(ct, c, sizeof(c)), pl);
	unhex(tag, t, sizeof(t));
	assert_int_equal(aead_gcm_seal(key, kl, nonce, a, al, p, pl, out, icv), 0);
	assert_memory_equal(out, c, pl);
	assert_memory_equal(icv, t, 16);
	assert_int_equal(aead_gcm_open(key, kl, nonce, a, al, c, pl, t, back), 0);
	assert_memory_equal(back, p, pl);
	/* any flipped bit fails the ICV */
	t[15] ^= 0x80;
	assert_int_equal(aead_gcm_open(key, kl, nonce, a, al, c, pl, t, back), -1);
	t[15] ^= 0x80;
	if (al > 0) {
		a[0] ^= 1;
		assert_int_equal(aead_gcm_open(key, kl, nonce, a, al, c, pl, t, back), -1);
	}
}

static void
test_gcm(void **state)
{
	/* GCM spec test case 2 (AES-128) */
	gcm_case("00000000000000000000000000000000", "000000000000000000000000",
	    "00000000000000000000000000000000", "",
	    "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf");
	/* test case 13 and 14 (AES-256) */
	gcm_case("0000000000000000000000000000000000000000000000000000000000000000",
	    "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b");
	gcm_case("0000000000000000000000000000000000000000000000000000000000000000",
	    "000000000000000000000000", "00000000000000000000000000000000", "",
	    "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919");
	/* test case 16 (AES-256 with associated data) */
	gcm_case("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	    "cafebabefacedbaddecaf888",
	    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	    "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	    "76fc6ece0f4e1768cddf8853bb2d551b");
}

/* RFC 4106/5282: nonce = salt (last 4 octets of the key material) || IV */
static void
test_gcm_salted(void **state)
{
	uint8_t km[36], iv[8], pt[20] = "salted nonce test...", ct[20], icv[16], back[20];
	uint8_t nonce[12], ct2[20], icv2[16];

	for (size_t i = 0; i < sizeof(km); i++)
		km[i] = (uint8_t)i;
	memset(iv, 0xa5, sizeof(iv));
	assert_int_equal(aead_seal_salted(km, 32, iv, NULL, 0, pt, sizeof(pt), ct, icv), 0);
	memcpy(nonce, km + 32, 4);
	memcpy(nonce + 4, iv, 8);
	assert_int_equal(aead_gcm_seal(km, 32, nonce, NULL, 0, pt, sizeof(pt), ct2, icv2), 0);
	assert_memory_equal(ct, ct2, sizeof(ct));
	assert_memory_equal(icv, icv2, sizeof(icv));
	assert_int_equal(aead_open_salted(km, 32, iv, NULL, 0, ct, sizeof(ct), icv, back), 0);
	assert_memory_equal(back, pt, sizeof(pt));
	km[35] ^= 1;	/* another salt is another nonce */
	assert_int_equal(aead_open_salted(km, 32, iv, NULL, 0, ct, sizeof(ct), icv, back), -1);
	assert_int_equal(aead_gcm_seal(km, 24, nonce, NULL, 0, pt, 1, ct, icv), -1);
}

static void
prf_case(const char *key, const char *data, const char *h256, const char *h384)
{
	uint8_t k[160], d[64], want[64], got[64];
	size_t kl = unhex(key, k, sizeof(k));
	struct crypto_iov in = { d, unhex(data, d, sizeof(d)) };

	unhex(h256, want, sizeof(want));
	assert_int_equal(prf_compute(PRF_HMAC_SHA2_256, k, kl, &in, 1, got), 0);
	assert_memory_equal(got, want, 32);
	unhex(h384, want, sizeof(want));
	assert_int_equal(prf_compute(PRF_HMAC_SHA2_384, k, kl, &in, 1, got), 0);
	assert_memory_equal(got, want, 48);
}

static void
test_prf_rfc4868(void **state)
{
	prf_case("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
	    "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
	    "faea9ea9076ede7f4af152e8b2fa9cb6");
	prf_case("4a656665",
	    "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	    "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
	    "8e2240ca5e69e2c78b3239ecfab21649");
	prf_case("0102030405060708090a0b0c0d0e0f10111213141516171819",
	    "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
	    "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
	    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
	    "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e"
	    "6801dd23c4a7d679ccf8a386c674cffb");
	/* PRF-5: a key longer than the block size is hashed first */
	prf_case("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaa",
	    "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a"
	    "65204b6579202d2048617368204b6579204669727374",
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
	    "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
	    "0c2ef6ab4030fe8296248df163f44952");
	assert_int_equal(prf_len(99), 0);
}

/* prf+ (K, S) = T1 | T2 | T3, T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n) */
static void
test_prf_plus(void **state)
{
	static const uint8_t key[] = "prf+ key", s1[] = "seed-", s2[] = "part two";
	struct crypto_iov seed[2] = { { s1, 5 }, { s2, 8 } };
	uint8_t out[80], t[3][32], c;
	struct crypto_iov in[4];

	assert_int_equal(prf_plus(PRF_HMAC_SHA2_256, key, 8, seed, 2, out, sizeof(out)), 0);
	c = 1;
	in[0] = seed[0], in[1] = seed[1], in[2] = (struct crypto_iov){ &c, 1 };
	assert_int_equal(prf_compute(PRF_HMAC_SHA2_256, key, 8, in, 3, t[0]), 0);
	for (int n = 1; n < 3; n++) {
		c = (uint8_t)(n + 1);
		in[0] = (struct crypto_iov){ t[n - 1], 32 };
		in[1] = seed[0], in[2] = seed[1], in[3] = (struct crypto_iov){ &c, 1 };
		assert_int_equal(prf_compute(PRF_HMAC_SHA2_256, key, 8, in, 4, t[n]), 0);
	}
	assert_memory_equal(out, t[0], 32);
	assert_memory_equal(out + 32, t[1], 32);
	assert_memory_equal(out + 64, t[2], 16);
	/* at most 255 blocks */
	assert_int_equal(prf_plus(PRF_HMAC_SHA2_256, key, 8, seed, 2, out, 255 * 32 + 1), -1);
}

static void
ecdh_case(int group, const char *i, const char *gix, const char *giy, const char *r,
    const char *grx, const char *gry, const char *girx)
{
	uint8_t priv[48], pi[96], pr[96], want[48], got[48], pub[96];
	size_t coord = group == DH_ECP_256 ? 32 : 48, n;
	struct dh *di, *dr;

	unhex(gix, pi, sizeof(pi));
	unhex(giy, pi + coord, coord);
	unhex(grx, pr, sizeof(pr));
	unhex(gry, pr + coord, coord);
	unhex(girx, want, sizeof(want));
	assert_non_null(di = dh_new_private(group, priv, unhex(i, priv, sizeof(priv))));
	assert_non_null(dr = dh_new_private(group, priv, unhex(r, priv, sizeof(priv))));
	assert_int_equal(dh_pub_len(group), 2 * coord);
	/* the KE payload data: x || y, no format octet (RFC 5903 §7) */
	assert_int_equal(dh_public(di, pub, 2 * coord), 0);
	assert_memory_equal(pub, pi, 2 * coord);
	assert_int_equal(dh_public(dr, pub, 2 * coord), 0);
	assert_memory_equal(pub, pr, 2 * coord);
	/* the shared secret is the x-coordinate, both ways */
	assert_int_equal(dh_derive(di, pr, 2 * coord, got, sizeof(got), &n), 0);
	assert_int_equal(n, coord);
	assert_memory_equal(got, want, coord);
	assert_int_equal(dh_derive(dr, pi, 2 * coord, got, sizeof(got), &n), 0);
	assert_memory_equal(got, want, coord);
	/* RFC 6989 §2.3: a point off the curve, the wrong length, or garbage fail */
	pr[2 * coord - 1] ^= 1;
	assert_int_equal(dh_derive(di, pr, 2 * coord, got, sizeof(got), &n), -1);
	pr[2 * coord - 1] ^= 1;
	assert_int_equal(dh_derive(di, pr, 2 * coord - 1, got, sizeof(got), &n), -1);
	memset(pub, 0, sizeof(pub));	/* (0, 0) is not on the curve */
	assert_int_equal(dh_derive(di, pub, 2 * coord, got, sizeof(got), &n), -1);
	memset(pub, 0xff, sizeof(pub));	/* coordinates above p */
	assert_int_equal(dh_derive(di, pub, 2 * coord, got, sizeof(got), &n), -1);
	dh_free(di);
	dh_free(dr);
}

static void
test_ecdh_rfc5903(void **state)
{
	ecdh_case(DH_ECP_256,
	    "C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433",
	    "DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180",
	    "5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3",
	    "C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53",
	    "D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63",
	    "56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB",
	    "D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE");
	ecdh_case(DH_ECP_384,
	    "099F3C70 34D4A2C6 99884D73 A375A67F 7624EF7C 6B3C0F16 0647B674 14DCE655"
	    "E35B5380 41E649EE 3FAEF896 783AB194",
	    "667842D7 D180AC2C DE6F74F3 7551F557 55C7645C 20EF73E3 1634FE72 B4C55EE6"
	    "DE3AC808 ACB4BDB4 C88732AE E95F41AA",
	    "9482ED1F C0EEB9CA FC498462 5CCFC23F 65032149 E0E144AD A0241815 35A0F38E"
	    "EB9FCFF3 C2C947DA E69B4C63 4573A81C",
	    "41CB0779 B4BDB85D 47846725 FBEC3C94 30FAB46C C8DC5060 855CC9BD A0AA2942"
	    "E0308312 916B8ED2 960E4BD5 5A7448FC",
	    "E558DBEF 53EECDE3 D3FCCFC1 AEA08A89 A987475D 12FD950D 83CFA417 32BC509D"
	    "0D1AC43A 0336DEF9 6FDA41D0 774A3571",
	    "DCFBEC7A ACF31964 72169E83 8430367F 66EEBE3C 6E70C416 DD5F0C68 759DD1FF"
	    "F83FA401 42209DFF 5EAAD96D B9E6386C",
	    "11187331 C279962D 93D60424 3FD592CB 9D0A926F 422E4718 7521287E 7156C5C4"
	    "D6031355 69B9E9D0 9CF5D4A2 70F59746");
}

static void
x25519_case(const char *scalar, const char *u, const char *out)
{
	uint8_t k[32], pu[32], want[32], got[32];
	size_t n;
	struct dh *d;

	unhex(scalar, k, sizeof(k));
	unhex(u, pu, sizeof(pu));
	unhex(out, want, sizeof(want));
	assert_non_null(d = dh_new_private(DH_CURVE25519, k, 32));
	assert_int_equal(dh_derive(d, pu, 32, got, sizeof(got), &n), 0);
	assert_int_equal(n, 32);
	assert_memory_equal(got, want, 32);
	dh_free(d);
}

static void
test_x25519_rfc7748(void **state)
{
	uint8_t a[32], pub[32], want[32], zero[32] = { 0 }, one[32] = { 1 }, got[32];
	size_t n;
	struct dh *d;

	x25519_case("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
	    "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
	    "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
	x25519_case("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
	    "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
	    "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
	/* §6.1: Alice and Bob */
	x25519_case("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
	    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
	    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	x25519_case("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
	    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
	    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, 32);
	unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", want, 32);
	assert_non_null(d = dh_new_private(DH_CURVE25519, a, 32));
	assert_int_equal(dh_public(d, pub, 32), 0);
	assert_memory_equal(pub, want, 32);
	/* RFC 8031 §2: low-order points give an all-zero secret: refused */
	assert_int_equal(dh_derive(d, zero, 32, got, sizeof(got), &n), -1);
	assert_int_equal(dh_derive(d, one, 32, got, sizeof(got), &n), -1);
	assert_int_equal(dh_derive(d, want, 31, got, sizeof(got), &n), -1);
	dh_free(d);
}

static void
test_dh_fresh_keys_agree(void **state)
{
	static const int groups[] = { DH_ECP_256, DH_ECP_384, DH_CURVE25519 };

	for (size_t g = 0; g < nitems(groups); g++) {
		struct dh *x = dh_new(groups[g]), *y = dh_new(groups[g]);
		uint8_t px[96], py[96], sx[48], sy[48];
		size_t n = dh_pub_len(groups[g]), lx, ly;

		assert_non_null(x);
		assert_non_null(y);
		assert_int_equal(dh_public(x, px, n), 0);
		assert_int_equal(dh_public(y, py, n), 0);
		assert_int_equal(dh_derive(x, py, n, sx, sizeof(sx), &lx), 0);
		assert_int_equal(dh_derive(y, px, n, sy, sizeof(sy), &ly), 0);
		assert_int_equal(lx, ly);
		assert_memory_equal(sx, sy, lx);
		dh_free(x);
		dh_free(y);
	}
	assert_null(dh_new(14));
	assert_false(dh_supported(2));
}

static void
test_sig_algids_rfc7427(void **state)
{
	static const uint8_t ecdsa256[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
	    0x3d, 0x04, 0x03, 0x02 };
	uint8_t pss256[72], out[SIG_ALGID_MAX];
	size_t n;
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);

	unhex("3046 0609 2a86 4886 f70d 0101 0a30 39a0 0f30 0d06 0960 8648 0165 0304 0201 0500"
	    "a11c 301a 0609 2a86 4886 f70d 0101 0830 0d06 0960 8648 0165 0304 0201 0500 a203"
	    "0201 20a3 0302 0101", pss256, sizeof(pss256));
	assert_int_equal(sig_algid(ec, NID_sha256, out, sizeof(out), &n), 0);
	assert_int_equal(n, sizeof(ecdsa256));
	assert_memory_equal(out, ecdsa256, n);
	assert_int_equal(sig_algid(rsa, NID_sha256, out, sizeof(out), &n), 0);
	assert_int_equal(n, 72);
	assert_memory_equal(out, pss256, 72);
	assert_int_equal(sig_choose_md(ec, 0), NID_sha256);
	assert_int_equal(sig_choose_md(ec, 1u << SIG_HASH_SHA2_384), NID_sha384);
	assert_int_equal(sig_choose_md(ec, 1u << SIG_HASH_SHA1), NID_undef);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
}

static void
sign_verify(EVP_PKEY *key, int md)
{
	static const uint8_t tbs[] = "InitiatorSignedOctets";
	uint8_t algid[SIG_ALGID_MAX], sig[SIG_MAX];
	size_t alen, slen = sizeof(sig);
	char err[128];

	assert_int_equal(sig_algid(key, md, algid, sizeof(algid), &alen), 0);
	assert_int_equal(sig_sign(key, md, tbs, sizeof(tbs), sig, &slen), 0);
	assert_int_equal(sig_verify(key, algid, alen, sig, slen, tbs, sizeof(tbs), err,
	    sizeof(err)), 0);
	/* another message, a damaged signature, a damaged AlgorithmIdentifier */
	assert_int_equal(sig_verify(key, algid, alen, sig, slen, tbs, sizeof(tbs) - 1, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "signature does not verify");
	sig[slen / 2] ^= 1;
	assert_int_equal(sig_verify(key, algid, alen, sig, slen, tbs, sizeof(tbs), err,
	    sizeof(err)), -1);
	sig[slen / 2] ^= 1;
	assert_int_equal(sig_verify(key, algid, alen - 1, sig, slen, tbs, sizeof(tbs), err,
	    sizeof(err)), -1);
	assert_string_equal(err, "malformed AlgorithmIdentifier");
}

static void
test_sig_roundtrip(void **state)
{
	EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	static const uint8_t sha1rsa[] = { 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
	    0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00 };
	uint8_t algid[SIG_ALGID_MAX], sig[SIG_MAX];
	size_t alen, slen = sizeof(sig);
	char err[128];

	sign_verify(p256, NID_sha256);
	sign_verify(p384, NID_sha384);
	sign_verify(rsa, NID_sha256);
	sign_verify(rsa, NID_sha512);
	/* an ECDSA AlgorithmIdentifier with an RSA key is refused */
	assert_int_equal(sig_algid(p256, NID_sha256, algid, sizeof(algid), &alen), 0);
	assert_int_equal(sig_sign(rsa, NID_sha256, algid, 4, sig, &slen), 0);
	assert_int_equal(sig_verify(rsa, algid, alen, sig, slen, algid, 4, err, sizeof(err)), -1);
	/* SHA-1 is refused outright (RFC 8247) */
	assert_int_equal(sig_verify(rsa, sha1rsa, sizeof(sha1rsa), sig, slen, algid, 4, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "unsupported signature algorithm");
	EVP_PKEY_free(p256);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(rsa);
}

/* a PKCS#1 v1.5 signature made by OpenSSL directly verifies under sha256WithRSA */
static void
test_sig_rsa_pkcs1_verify(void **state)
{
	static const uint8_t algid[] = { 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
	    0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00 };
	static const uint8_t tbs[] = "octets";
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint8_t sig[512];
	size_t slen = sizeof(sig);
	char err[128];

	assert_int_equal(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, rsa), 1);
	assert_int_equal(EVP_DigestSign(m, sig, &slen, tbs, sizeof(tbs)), 1);
	assert_int_equal(sig_verify(rsa, algid, sizeof(algid), sig, slen, tbs, sizeof(tbs), err,
	    sizeof(err)), 0);
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(rsa);
}

static void
test_hashes(void **state)
{
	/* SHA-1("abc") (FIPS 180) */
	uint8_t want[20], got[20];
	struct crypto_iov in = { "abc", 3 };

	unhex("a9993e364706816aba3e25717850c26c9cd0d89d", want, sizeof(want));
	assert_int_equal(hash_sha1(&in, 1, got), 0);
	assert_memory_equal(got, want, 20);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gcm),
		cmocka_unit_test(test_gcm_salted),
		cmocka_unit_test(test_prf_rfc4868),
		cmocka_unit_test(test_prf_plus),
		cmocka_unit_test(test_ecdh_rfc5903),
		cmocka_unit_test(test_x25519_rfc7748),
		cmocka_unit_test(test_dh_fresh_keys_agree),
		cmocka_unit_test(test_sig_algids_rfc7427),
		cmocka_unit_test(test_sig_roundtrip),
		cmocka_unit_test(test_sig_rsa_pkcs1_verify),
		cmocka_unit_test(test_hashes),
	};

	return cmocka_run_group_tests_name("crypto_kat", tests, NULL, NULL);
}
