/*
 * ike_peer: a test-only driver that runs the IKE engine over real UDP sockets
 * (ports 500 and 4500, RFC 3948 non-ESP marker on 4500) with a static config
 * from flags, so the engine can be tried against strongSwan. It prints one
 * line per CHILD SA install/removal and per engine event, for scripts to grep:
 *
 *   READY
 *   EVENT SA_UP peer=charon detail=...
 *   CHILD_UP peer=charon spi_in=c1a2b3c4 spi_out=... esn=0 replaces=00000000
 *   CHILD_DOWN peer=charon spi_in=... spi_out=... reason=...
 *   ESP_OK spi=... seq=... inner=icmp-echo-request|icmp-echo-reply|other
 *   ESP_BAD spi=...          (ICV failure)
 *
 * To prove the CHILD SA keys against the peer's, it decrypts ESP-in-UDP with
 * the keys the engine handed out and answers ICMP echo requests through the
 * tunnel (so a ping from the peer's LAN succeeds only if both directions'
 * keys agree). Commands on stdin: connect, disconnect, rekey-child, rekey-ike,
 * ping SRC DST, stats, quit.
 *
 * Not product code: no privilege separation, one peer, minimal ESP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/aead.h"
#include "crypto/rng.h"
#include "crypto/sig.h"
#include "device/ike/ike.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"

#define MAX_CHILD	16

struct esp_sa {
	struct child_sa	 c;
	uint32_t	 seq_out;
};

static struct {
	struct ike_engine *eng;
	struct ike_peer	 peer;
	struct ipaddr	 bind;
	int		 fd500, fd4500;
	EVP_PKEY	*key;
	X509_STORE	*store;
	struct esp_sa	 sa[MAX_CHILD];
	size_t		 nsa;
	unsigned long	 esp_ok, esp_bad, esp_unknown, keepalives;
	volatile sig_atomic_t stop;
} G;

static uint64_t
p_now(void *arg)
{
	return now_mono_ms();
}

static void
p_random(void *arg, void *buf, size_t n)
{
	rng_bytes(buf, n);
}

static void
udp_send(uint16_t sport, const struct ipaddr *dst, uint16_t dport, const uint8_t *p,
    size_t len, bool marker)
{
	struct sockaddr_storage ss;
	socklen_t sl = ipaddr_to_sockaddr(dst, dport, &ss);
	uint8_t buf[65536 + 4];
	int fd = sport == IKE_NATT_PORT ? G.fd4500 : G.fd500;
	size_t off = 0;

	if (len > 65536)
		return;
	if (marker) {
		memset(buf, 0, 4);	/* RFC 3948 §2.2 non-ESP marker */
		off = 4;
	}
	memcpy(buf + off, p, len);
	if (sendto(fd, buf, len + off, 0, (struct sockaddr *)&ss, sl) < 0)
		fprintf(stderr, "sendto: %s\n", strerror(errno));
}

static void
p_send(void *arg, const struct ipaddr *src, uint16_t sport, const struct ipaddr *dst,
    uint16_t dport, const uint8_t *msg, size_t len)
{
	udp_send(sport, dst, dport, msg, len, sport == IKE_NATT_PORT || dport == IKE_NATT_PORT);
}

static int
p_sign(void *arg, int md, const uint8_t *tbs, size_t tbslen, uint8_t *sig, size_t *siglen)
{
	return sig_sign(G.key, md, tbs, tbslen, sig, siglen);
}

static int
p_verify(void *arg, X509 *cert, STACK_OF(X509) *untrusted, const char *peer_id,
    char *err, size_t errlen)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;

	X509_STORE_CTX_init(ctx, G.store, cert, untrusted);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		snprintf(err, errlen, "untrusted certificate: %s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	if (ok != 1)
		return -1;
	if (X509_check_host(cert, peer_id, 0, 0, NULL) != 1) {
		snprintf(err, errlen, "certificate does not name %s", peer_id);
		return -1;
	}
	return 0;
}

static const struct ike_peer *
p_find_peer(void *arg, const char *id, const struct ipaddr *from)
{
	return strcmp(id, G.peer.id) == 0 ? &G.peer : NULL;
}

static void
p_child_up(void *arg, const struct child_sa *c)
{
	char l[ADDR_STRLEN], r[ADDR_STRLEN];

	prefix_format(&c->local_ts[0], l, sizeof(l));
	prefix_format(&c->remote_ts[0], r, sizeof(r));
	printf("CHILD_UP peer=%s spi_in=%08x spi_out=%08x esn=%d replaces=%08x local_ts=%s "
	    "remote_ts=%s\n", c->peer, c->spi_in, c->spi_out, c->esn, c->replaces_spi_in, l, r);
	if (G.nsa < MAX_CHILD) {
		G.sa[G.nsa].c = *c;
		G.sa[G.nsa].seq_out = 0;
		G.nsa++;
	}
}

static void
p_child_down(void *arg, const char *peer, uint32_t spi_in, uint32_t spi_out,
    const char *reason)
{
	printf("CHILD_DOWN peer=%s spi_in=%08x spi_out=%08x reason=%s\n", peer, spi_in, spi_out,
	    reason);
	for (size_t i = 0; i < G.nsa; i++)
		if (G.sa[i].c.spi_in == spi_in) {
			OPENSSL_cleanse(&G.sa[i], sizeof(G.sa[i]));
			G.sa[i] = G.sa[--G.nsa];
			break;
		}
}

static void
p_event(void *arg, enum ike_event ev, const char *peer, const char *detail)
{
	static const char *names[] = { "SA_UP", "SA_DOWN", "AUTH_FAILED", "REKEYED",
	    "NEGOTIATION_FAILED" };

	printf("EVENT %s peer=%s detail=%s\n", (unsigned)ev < 5 ? names[ev] : "?", peer, detail);
}

/* --- a minimal ESP (RFC 4303 / 4106) to prove the keys --- */

static uint16_t
cksum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static struct esp_sa *
sa_for(const struct ipaddr *dst)
{
	/* the newest SA whose remote selectors cover dst */
	for (size_t i = G.nsa; i-- > 0;)
		for (size_t j = 0; j < G.sa[i].c.nremote_ts; j++)
			if (prefix_contains(&G.sa[i].c.remote_ts[j], dst))
				return &G.sa[i];
	return NULL;
}

static void
esp_send(struct esp_sa *s, const uint8_t *ip, size_t len)
{
	uint8_t pkt[2048], *iv, *ct;
	size_t pad = (4 - (len + 2) % 4) % 4, ctlen = len + pad + 2;
	uint32_t seq = ++s->seq_out;
	struct wbuf w;

	if (len > 1400)
		return;
	wbuf_init(&w, pkt, sizeof(pkt));
	wbuf_put_u32(&w, s->c.spi_out);
	wbuf_put_u32(&w, seq);
	wbuf_reserve(&w, AEAD_GCM_IV, &iv);
	store_be64(iv, seq);
	wbuf_reserve(&w, ctlen, &ct);
	memcpy(ct, ip, len);
	for (size_t i = 0; i < pad; i++)
		ct[len + i] = (uint8_t)(i + 1);
	ct[len + pad] = (uint8_t)pad;
	ct[len + pad + 1] = 4;		/* next header: IPv4 */
	wbuf_put_zero(&w, AEAD_GCM_ICV);
	if (w.bad || aead_seal_salted(s->c.key_out, 32, iv, pkt, 8, ct, ctlen, ct,
	    pkt + w.len - AEAD_GCM_ICV) == -1)
		return;
	udp_send(IKE_NATT_PORT, &s->c.peer_addr, s->c.peer_port, pkt, w.len, false);
}

/* an IPv4 ICMP echo packet from src to dst */
static size_t
icmp_echo(uint8_t *p, const struct ipaddr *src, const struct ipaddr *dst, uint8_t type,
    uint16_t ident, uint16_t seq, const uint8_t *data, size_t dlen)
{
	size_t len = 20 + 8 + dlen;

	memset(p, 0, len);
	p[0] = 0x45;
	store_be16(p + 2, (uint16_t)len);
	p[8] = 64;
	p[9] = 1;
	memcpy(p + 12, src->a, 4);
	memcpy(p + 16, dst->a, 4);
	store_be16(p + 10, cksum(p, 20));
	p[20] = type;
	store_be16(p + 24, ident);
	store_be16(p + 26, seq);
	memcpy(p + 28, data, dlen);
	store_be16(p + 22, cksum(p + 20, 8 + dlen));
	return len;
}

static const char *
inner_kind(const uint8_t *p, size_t n)
{
	if (n < 28 || (p[0] >> 4) != 4 || p[9] != 1)
		return "other";
	return p[20] == 8 ? "icmp-echo-request" : p[20] == 0 ? "icmp-echo-reply" : "icmp";
}

static void
esp_input(const uint8_t *p, size_t n)
{
	struct rbuf r;
	uint32_t spi, seq;
	const uint8_t *iv, *ct;
	uint8_t pt[2048], padlen, nh;
	size_t ctlen, inner;
	struct esp_sa *s = NULL;

	rbuf_init(&r, p, n);
	if (rbuf_get_u32(&r, &spi) == -1 || rbuf_get_u32(&r, &seq) == -1 ||
	    rbuf_get_ptr(&r, &iv, AEAD_GCM_IV) == -1 ||
	    rbuf_left(&r) < AEAD_GCM_ICV + 2 || rbuf_left(&r) - AEAD_GCM_ICV > sizeof(pt))
		return;
	ctlen = rbuf_left(&r) - AEAD_GCM_ICV;
	rbuf_get_ptr(&r, &ct, ctlen);
	for (size_t i = 0; i < G.nsa; i++)
		if (G.sa[i].c.spi_in == spi)
			s = &G.sa[i];
	if (s == NULL) {
		G.esp_unknown++;
		printf("ESP_UNKNOWN spi=%08x\n", spi);
		return;
	}
	/* AAD: SPI || sequence number (RFC 4106 §5; high bits 0 with ESN here) */
	{
		uint8_t aad[12];
		size_t aadlen = 8;

		memcpy(aad, p, 4);
		if (s->c.esn) {
			memset(aad + 4, 0, 4);
			memcpy(aad + 8, p + 4, 4);
			aadlen = 12;
		} else
			memcpy(aad + 4, p + 4, 4);
		if (aead_open_salted(s->c.key_in, 32, iv, aad, aadlen, ct, ctlen,
		    ct + ctlen, pt) == -1) {
			G.esp_bad++;
			printf("ESP_BAD spi=%08x seq=%u\n", spi, seq);
			return;
		}
	}
	padlen = pt[ctlen - 2];
	nh = pt[ctlen - 1];
	if ((size_t)padlen + 2 > ctlen)
		return;
	inner = ctlen - 2 - padlen;
	G.esp_ok++;
	printf("ESP_OK spi=%08x seq=%u nh=%u inner=%s\n", spi, seq, nh, inner_kind(pt, inner));
	/* answer pings to our side of the tunnel, through the tunnel */
	if (nh == 4 && strcmp(inner_kind(pt, inner), "icmp-echo-request") == 0) {
		struct ipaddr src = { .af = AF_INET }, dst = { .af = AF_INET };
		uint8_t reply[1500];
		size_t rl, iplen = load_be16(pt + 2), hl = (size_t)(pt[0] & 0x0f) * 4;
		struct esp_sa *out;

		if (iplen > inner || hl != 20 || iplen < 28)
			return;
		memcpy(src.a, pt + 16, 4);
		memcpy(dst.a, pt + 12, 4);
		rl = icmp_echo(reply, &src, &dst, 0, load_be16(pt + 24), load_be16(pt + 26),
		    pt + 28, iplen - 28);
		if ((out = sa_for(&dst)) != NULL)
			esp_send(out, reply, rl);
	}
}

static void
udp_input(int fd, uint16_t lport)
{
	uint8_t buf[65536];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct ipaddr src;
	uint16_t sport;
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);

	if (n <= 0 || ipaddr_from_sockaddr((struct sockaddr *)&ss, &src, &sport) == -1)
		return;
	if (lport == IKE_PORT) {
		ike_input(G.eng, &src, sport, &G.bind, lport, buf, (size_t)n);
		return;
	}
	if (n == 1 && buf[0] == 0xff) {
		G.keepalives++;
		return;
	}
	if (n >= 4 && load_be32(buf) == 0)
		ike_input(G.eng, &src, sport, &G.bind, lport, buf + 4, (size_t)n - 4);
	else if (n >= 8)
		esp_input(buf, (size_t)n);
}

static int
udp_open(const struct ipaddr *a, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl = ipaddr_to_sockaddr(a, port, &ss);
	int fd = socket(a->af, SOCK_DGRAM, 0), on = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		fprintf(stderr, "bind port %u: %s\n", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void
command(char *line)
{
	char a[64], b[64];

	line[strcspn(line, "\r\n")] = '\0';
	if (strcmp(line, "connect") == 0)
		printf("CMD connect rc=%d\n", ike_connect(G.eng, &G.peer));
	else if (strcmp(line, "disconnect") == 0)
		printf("CMD disconnect rc=%d\n", ike_disconnect(G.eng, G.peer.name, "operator"));
	else if (strcmp(line, "rekey-child") == 0)
		printf("CMD rekey-child rc=%d\n", ike_rekey(G.eng, G.peer.name, false));
	else if (strcmp(line, "rekey-ike") == 0)
		printf("CMD rekey-ike rc=%d\n", ike_rekey(G.eng, G.peer.name, true));
	else if (sscanf(line, "ping %63s %63s", a, b) == 2) {
		struct ipaddr src, dst;
		struct esp_sa *s;
		uint8_t pkt[128];
		static const uint8_t data[16] = "odvpn ike_peer..";

		if (ipaddr_parse(a, &src) == -1 || ipaddr_parse(b, &dst) == -1 ||
		    src.af != AF_INET || (s = sa_for(&dst)) == NULL) {
			printf("CMD ping rc=-1\n");
			return;
		}
		esp_send(s, pkt, icmp_echo(pkt, &src, &dst, 8, 0x6f64, 1, data, sizeof(data)));
		printf("CMD ping rc=0 spi=%08x\n", s->c.spi_out);
	} else if (strcmp(line, "stats") == 0) {
		struct ike_stats st;
		struct ike_sa_info info[8];
		size_t n = ike_list(G.eng, info, 8);

		ike_get_stats(G.eng, &st);
		printf("STATS rx=%llu tx=%llu retransmits=%llu malformed=%llu unknown_spi=%llu "
		    "bad_icv=%llu sa_up=%llu sa_down=%llu rekeys=%llu esp_ok=%lu esp_bad=%lu "
		    "ike_sas=%zu\n", (unsigned long long)st.rx, (unsigned long long)st.tx,
		    (unsigned long long)st.retransmits,
		    (unsigned long long)st.dropped_malformed,
		    (unsigned long long)st.dropped_unknown_spi,
		    (unsigned long long)st.dropped_bad_icv, (unsigned long long)st.sa_up,
		    (unsigned long long)st.sa_down, (unsigned long long)st.rekeys, G.esp_ok,
		    G.esp_bad, n);
		for (size_t i = 0; i < n; i++)
			printf("IKE_SA id=%llu peer=%s state=%s initiator=%d suite=%s children=%u\n",
			    (unsigned long long)info[i].id, info[i].peer, info[i].state,
			    info[i].initiator, info[i].suite, info[i].nchild);
	} else if (strcmp(line, "quit") == 0)
		G.stop = 1;
	else if (line[0] != '\0')
		printf("CMD unknown\n");
}

static void
on_signal(int sig)
{
	G.stop = 1;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ike_peer --local-id ID --cert PEM --key PEM --ca PEM --bind ADDR\n"
	    "  --peer-id ID --peer-addr ADDR [--peer-port 500] [--peer-name NAME]\n"
	    "  --local-ts PFX --remote-ts PFX [--initiate] [--esn] [--pfs]\n"
	    "  [--dh 19,31,20] [--fragment-mtu N] [--child-rekey S] [--ike-rekey S]\n"
	    "  [--liveness S] [--debug]\n");
	exit(2);
}

static X509 *
load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "local-id", required_argument, NULL, 'i' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "bind", required_argument, NULL, 'b' },
		{ "peer-id", required_argument, NULL, 'I' },
		{ "peer-addr", required_argument, NULL, 'A' },
		{ "peer-port", required_argument, NULL, 'P' },
		{ "peer-name", required_argument, NULL, 'N' },
		{ "local-ts", required_argument, NULL, 'l' },
		{ "remote-ts", required_argument, NULL, 'r' },
		{ "initiate", no_argument, NULL, 'x' },
		{ "esn", no_argument, NULL, 'e' },
		{ "pfs", no_argument, NULL, 'p' },
		{ "dh", required_argument, NULL, 'd' },
		{ "fragment-mtu", required_argument, NULL, 'f' },
		{ "child-rekey", required_argument, NULL, 'C' },
		{ "ike-rekey", required_argument, NULL, 'K' },
		{ "liveness", required_argument, NULL, 'L' },
		{ "debug", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	struct ike_config cfg;
	struct ike_ops ops = {
		.now_ms = p_now, .random = p_random, .send = p_send, .sign = p_sign,
		.verify_peer = p_verify, .find_peer = p_find_peer, .child_up = p_child_up,
		.child_down = p_child_down, .event = p_event,
	};
	const char *certf = NULL, *keyf = NULL, *caf = NULL;
	bool initiate = false, debug = false, stdin_open = true;
	char cmdbuf[512];
	size_t cmdlen = 0;
	STACK_OF(X509) *cas;
	X509 *cert, *ca;
	char err[128];
	FILE *f;
	int o;

	memset(&cfg, 0, sizeof(cfg));
	memset(&G.peer, 0, sizeof(G.peer));
	snprintf(G.peer.name, sizeof(G.peer.name), "peer");
	G.peer.port = IKE_PORT;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'i':
			snprintf(cfg.local_id, sizeof(cfg.local_id), "%s", optarg);
			break;
		case 'c':
			certf = optarg;
			break;
		case 'k':
			keyf = optarg;
			break;
		case 'a':
			caf = optarg;
			break;
		case 'b':
			if (ipaddr_parse(optarg, &G.bind) == -1)
				usage();
			break;
		case 'I':
			snprintf(G.peer.id, sizeof(G.peer.id), "%s", optarg);
			break;
		case 'A':
			if (ipaddr_parse(optarg, &G.peer.addr) == -1)
				usage();
			break;
		case 'P':
			G.peer.port = (uint16_t)atoi(optarg);
			break;
		case 'N':
			snprintf(G.peer.name, sizeof(G.peer.name), "%s", optarg);
			break;
		case 'l':
			if (G.peer.nlocal_ts == CHILD_SA_MAX_TS || prefix_parse(optarg,
			    &G.peer.local_ts[G.peer.nlocal_ts++], err, sizeof(err)) == -1)
				usage();
			break;
		case 'r':
			if (G.peer.nremote_ts == CHILD_SA_MAX_TS || prefix_parse(optarg,
			    &G.peer.remote_ts[G.peer.nremote_ts++], err, sizeof(err)) == -1)
				usage();
			break;
		case 'x':
			initiate = true;
			break;
		case 'e':
			cfg.esn = true;
			break;
		case 'p':
			cfg.child_pfs = true;
			break;
		case 'd': {
			char *s = optarg, *end;

			for (size_t n = 0; n < 3 && *s; n++) {
				cfg.dh_groups[n] = (int)strtol(s, &end, 10);
				s = *end == ',' ? end + 1 : end;
			}
			break;
		}
		case 'f':
			cfg.fragment_mtu = (size_t)atoi(optarg);
			break;
		case 'C':
			cfg.child_rekey_s = (uint32_t)atoi(optarg);
			break;
		case 'K':
			cfg.ike_rekey_s = (uint32_t)atoi(optarg);
			break;
		case 'L':
			cfg.liveness_s = (uint32_t)atoi(optarg);
			break;
		case 'D':
			debug = true;
			break;
		default:
			usage();
		}
	}
	if (certf == NULL || keyf == NULL || caf == NULL || G.bind.af == 0 ||
	    G.peer.id[0] == '\0' || cfg.local_id[0] == '\0' || G.peer.addr.af == 0)
		usage();
	log_init("ike_peer", debug ? LL_DEBUG : LL_INFO, false);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((cert = load_cert(certf)) == NULL || (ca = load_cert(caf)) == NULL ||
	    (f = fopen(keyf, "r")) == NULL) {
		fprintf(stderr, "cannot load certificates or key\n");
		return 1;
	}
	G.key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (G.key == NULL)
		return 1;
	G.store = X509_STORE_new();
	X509_STORE_add_cert(G.store, ca);
	cas = sk_X509_new_null();
	sk_X509_push(cas, ca);
	cfg.cert = cert;
	cfg.cas = cas;
	if ((G.eng = ike_new(&cfg, &ops)) == NULL) {
		fprintf(stderr, "ike_new failed\n");
		return 1;
	}
	if ((G.fd500 = udp_open(&G.bind, IKE_PORT)) < 0 ||
	    (G.fd4500 = udp_open(&G.bind, IKE_NATT_PORT)) < 0)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("READY\n");
	if (initiate)
		printf("CMD connect rc=%d\n", ike_connect(G.eng, &G.peer));
	while (!G.stop) {
		struct pollfd pfd[3] = {
			{ G.fd500, POLLIN, 0 }, { G.fd4500, POLLIN, 0 }, { 0, POLLIN, 0 },
		};
		uint64_t wait = ike_tick(G.eng);
		int n = poll(pfd, stdin_open ? 3 : 2, wait > 1000 ? 1000 : (int)wait);

		if (n < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN)
			udp_input(G.fd500, IKE_PORT);
		if (pfd[1].revents & POLLIN)
			udp_input(G.fd4500, IKE_NATT_PORT);
		if (stdin_open && (pfd[2].revents & (POLLIN | POLLHUP))) {
			/* read(2), not stdio: poll must see every unread line */
			ssize_t r = read(0, cmdbuf + cmdlen, sizeof(cmdbuf) - 1 - cmdlen);
			char *nl;

			if (r <= 0) {
				stdin_open = false;	/* EOF: run on until signalled */
				continue;
			}
			cmdlen += (size_t)r;
			cmdbuf[cmdlen] = '\0';
			while ((nl = strchr(cmdbuf, '\n')) != NULL) {
				*nl = '\0';
				command(cmdbuf);
				cmdlen -= (size_t)(nl + 1 - cmdbuf);
				memmove(cmdbuf, nl + 1, cmdlen + 1);
			}
			if (cmdlen == sizeof(cmdbuf) - 1)
				cmdlen = 0;	/* an overlong line: dropped */
		}
	}
	ike_free(G.eng);
	OPENSSL_cleanse(G.sa, sizeof(G.sa));
	EVP_PKEY_free(G.key);
	X509_STORE_free(G.store);
	sk_X509_free(cas);
	X509_free(cert);
	X509_free(ca);
	close(G.fd500);
	close(G.fd4500);
	printf("EXIT\n");
	return 0;
}
