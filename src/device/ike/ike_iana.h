/*
 * IKEv2 code points (IANA "Internet Key Exchange Version 2 (IKEv2) Parameters"),
 * each list written once: the enums and the name tables used by the logs are
 * generated from it. Only what the engine uses or must recognise is listed.
 */
#ifndef ODVPN_DEVICE_IKE_IANA_H
#define ODVPN_DEVICE_IKE_IANA_H

#include <stdint.h>

#define IKE_EXCHANGE_LIST(X)			\
	X(IKE_SA_INIT,		34)		\
	X(IKE_AUTH,		35)		\
	X(CREATE_CHILD_SA,	36)		\
	X(INFORMATIONAL,	37)

/* RFC 7296 §3.2, RFC 7383 §2.5 */
#define IKE_PAYLOAD_LIST(X)			\
	X(NONE,			0)		\
	X(SA,			33)		\
	X(KE,			34)		\
	X(IDi,			35)		\
	X(IDr,			36)		\
	X(CERT,			37)		\
	X(CERTREQ,		38)		\
	X(AUTH,			39)		\
	X(NONCE,		40)		\
	X(NOTIFY,		41)		\
	X(DELETE,		42)		\
	X(VENDOR,		43)		\
	X(TSi,			44)		\
	X(TSr,			45)		\
	X(SK,			46)		\
	X(CP,			47)		\
	X(EAP,			48)		\
	X(SKF,			53)

/* RFC 7296 §3.10.1 and later RFCs (the ones charon sends are tolerated) */
#define IKE_NOTIFY_LIST(X)				\
	X(UNSUPPORTED_CRITICAL_PAYLOAD,	1)		\
	X(INVALID_IKE_SPI,		4)		\
	X(INVALID_MAJOR_VERSION,	5)		\
	X(INVALID_SYNTAX,		7)		\
	X(INVALID_MESSAGE_ID,		9)		\
	X(INVALID_SPI,			11)		\
	X(NO_PROPOSAL_CHOSEN,		14)		\
	X(INVALID_KE_PAYLOAD,		17)		\
	X(AUTHENTICATION_FAILED,	24)		\
	X(SINGLE_PAIR_REQUIRED,		34)		\
	X(NO_ADDITIONAL_SAS,		35)		\
	X(INTERNAL_ADDRESS_FAILURE,	36)		\
	X(FAILED_CP_REQUIRED,		37)		\
	X(TS_UNACCEPTABLE,		38)		\
	X(INVALID_SELECTORS,		39)		\
	X(TEMPORARY_FAILURE,		43)		\
	X(CHILD_SA_NOT_FOUND,		44)		\
	X(INITIAL_CONTACT,		16384)		\
	X(SET_WINDOW_SIZE,		16385)		\
	X(ADDITIONAL_TS_POSSIBLE,	16386)		\
	X(IPCOMP_SUPPORTED,		16387)		\
	X(NAT_DETECTION_SOURCE_IP,	16388)		\
	X(NAT_DETECTION_DESTINATION_IP,	16389)		\
	X(COOKIE,			16390)		\
	X(USE_TRANSPORT_MODE,		16391)		\
	X(HTTP_CERT_LOOKUP_SUPPORTED,	16392)		\
	X(REKEY_SA,			16393)		\
	X(ESP_TFC_PADDING_NOT_SUPPORTED, 16394)		\
	X(NON_FIRST_FRAGMENTS_ALSO,	16395)		\
	X(MOBIKE_SUPPORTED,		16396)		\
	X(MULTIPLE_AUTH_SUPPORTED,	16404)		\
	X(REDIRECT_SUPPORTED,		16406)		\
	X(EAP_ONLY_AUTHENTICATION,	16417)		\
	X(CHILDLESS_IKEV2_SUPPORTED,	16418)		\
	X(IKEV2_MESSAGE_ID_SYNC_SUPPORTED, 16420)	\
	X(IKEV2_FRAGMENTATION_SUPPORTED, 16430)		\
	X(SIGNATURE_HASH_ALGORITHMS,	16431)

/* Transform types and the IDs of each we implement (RFC 7296 §3.3.2) */
#define IKE_XFORM_TYPE_LIST(X)			\
	X(ENCR,			1)		\
	X(PRF,			2)		\
	X(INTEG,		3)		\
	X(DH,			4)		\
	X(ESN,			5)

#define IKE_ENCR_LIST(X)			\
	X(AES_CBC,		12)		\
	X(AES_GCM_8,		18)		\
	X(AES_GCM_12,		19)		\
	X(AES_GCM_16,		20)		\
	X(CHACHA20_POLY1305,	28)

#define IKE_PRF_LIST(X)				\
	X(HMAC_SHA1,		2)		\
	X(HMAC_SHA2_256,	5)		\
	X(HMAC_SHA2_384,	6)		\
	X(HMAC_SHA2_512,	7)

#define IKE_DH_LIST(X)				\
	X(NONE,			0)		\
	X(MODP_2048,		14)		\
	X(ECP_256,		19)		\
	X(ECP_384,		20)		\
	X(ECP_521,		21)		\
	X(CURVE_25519,		31)		\
	X(CURVE_448,		32)

#define IKE_GEN(prefix, name, value)	prefix##name = value,
#define IKE_GEN_EXCH(n, v)	IKE_GEN(IKE_X_, n, v)
#define IKE_GEN_PLD(n, v)	IKE_GEN(IKE_PL_, n, v)
#define IKE_GEN_NOTIFY(n, v)	IKE_GEN(IKE_N_, n, v)
#define IKE_GEN_XFT(n, v)	IKE_GEN(IKE_XF_, n, v)
#define IKE_GEN_ENCR(n, v)	IKE_GEN(IKE_ENCR_, n, v)
#define IKE_GEN_PRF(n, v)	IKE_GEN(IKE_PRF_, n, v)
#define IKE_GEN_DH(n, v)	IKE_GEN(IKE_DH_, n, v)

enum ike_exchange	{ IKE_EXCHANGE_LIST(IKE_GEN_EXCH) };
enum ike_payload	{ IKE_PAYLOAD_LIST(IKE_GEN_PLD) };
enum ike_notify		{ IKE_NOTIFY_LIST(IKE_GEN_NOTIFY) };
enum ike_xform_type	{ IKE_XFORM_TYPE_LIST(IKE_GEN_XFT) };
enum ike_encr		{ IKE_ENCR_LIST(IKE_GEN_ENCR) };
enum ike_prf		{ IKE_PRF_LIST(IKE_GEN_PRF) };
enum ike_dh		{ IKE_DH_LIST(IKE_GEN_DH) };

/* smaller registries */
#define IKE_HDR_LEN		28
#define IKE_VERSION		0x20	/* major 2, minor 0 */
#define IKE_FLAG_INITIATOR	0x08
#define IKE_FLAG_VERSION	0x10
#define IKE_FLAG_RESPONSE	0x20
#define IKE_PLD_CRITICAL	0x80

#define IKE_PROTO_IKE		1
#define IKE_PROTO_AH		2
#define IKE_PROTO_ESP		3

#define IKE_ATTR_KEY_LENGTH	14
#define IKE_ATTR_TV		0x8000

#define IKE_ESN_NO		0
#define IKE_ESN_YES		1

#define IKE_ID_IPV4_ADDR	1
#define IKE_ID_FQDN		2
#define IKE_ID_RFC822_ADDR	3
#define IKE_ID_IPV6_ADDR	5
#define IKE_ID_DER_ASN1_DN	9
#define IKE_ID_KEY_ID		11

#define IKE_CERT_X509_SIG	4

#define IKE_AUTH_RSA_SIG	1
#define IKE_AUTH_PSK		2
#define IKE_AUTH_DSS_SIG	3
#define IKE_AUTH_ECDSA_256	9
#define IKE_AUTH_ECDSA_384	10
#define IKE_AUTH_ECDSA_521	11
#define IKE_AUTH_DIGITAL_SIG	14	/* RFC 7427 */

#define IKE_TS_IPV4_ADDR_RANGE	7
#define IKE_TS_IPV6_ADDR_RANGE	8

const char	*ike_exchange_name(unsigned);
const char	*ike_payload_name(unsigned);
const char	*ike_notify_name(unsigned);
const char	*ike_xform_type_name(unsigned);
const char	*ike_encr_name(unsigned);
const char	*ike_prf_name(unsigned);
const char	*ike_dh_name(unsigned);

#endif
