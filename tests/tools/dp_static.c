/*
 * dp_static: the real data plane (TUN + UDP, dp_new) with one manually keyed SA
 * pair, for tests and benchmarks before and apart from IKE. Test-only: keys come
 * from the command line.
 *
 *   dp_static --tun odvpn0 --wan 10.9.0.1 --local 10.1.0.0/24 \
 *       --peer b --peer-addr 10.9.0.2 --remote 10.2.0.0/24 \
 *       --spi-in 1001 --spi-out 2002 --key-in HEX72 --key-out HEX72 \
 *       [--esn] [--mtu 1400] [--window 1024] [--rule tcp:5201:out]... \
 *       [--on-demand] [--no-offload] [--stats FILE] [--log-level debug]
 *
 * --on-demand installs the SA only when the data plane asks for one (need_sa),
 * a few ms later, as IKE would. --stats rewrites FILE (JSON) five times a second.
 * Rules: PROTO:PORTS:DIR with PROTO tcp|udp|icmp|icmp6|any|<number>, PORTS
 * N or N-M or empty, DIR in|out|both.
 *
 *   dp_static --micro [SECONDS]
 *
 * measures ESP encapsulation and decapsulation (AES-256-GCM, replay window) in
 * one core, packets per second and Gbit/s of inner data, for a few sizes
 * (bench/esp_micro.sh).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "device/dataplane.h"
#include "device/esp/esp.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "lib/util.h"

static struct dp *g_dp;
static struct child_sa g_sa;
static struct event_base *g_base;
static const char *g_stats;

static void
usage(void)
{
	fprintf(stderr, "usage: dp_static --tun NAME --wan ADDR --local PFX --peer NAME "
	    "--peer-addr ADDR --remote PFX --spi-in HEX --spi-out HEX --key-in HEX "
	    "--key-out HEX [--esn] [--mtu N] [--window N] [--rule P:PORTS:DIR] "
	    "[--on-demand] [--no-offload] [--stats FILE] [--log-level L]\n");
	exit(2);
}

static void
die(const char *what, const char *arg)
{
	fprintf(stderr, "dp_static: %s: %s\n", what, arg);
	exit(2);
}

static void
parse_prefix(const char *s, struct prefix *p)
{
	char err[128];

	if (prefix_parse(s, p, err, sizeof(err)) == -1)
		die(err, s);
}

static uint32_t
parse_spi(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 16);
	if (errno != 0 || *end != '\0' || v == 0 || v > UINT32_MAX)
		die("bad SPI (hex, non-zero)", s);
	return (uint32_t)v;
}

static void
parse_rule(const char *s, struct dp_rule *r)
{
	char buf[64], *proto, *ports, *dir, *dash, *end;
	unsigned long lo, hi;

	if (strlen(s) >= sizeof(buf))
		die("rule too long", s);
	strcpy(buf, s);
	proto = buf;
	if ((ports = strchr(proto, ':')) == NULL || (dir = strchr(ports + 1, ':')) == NULL)
		die("rule is PROTO:PORTS:DIR", s);
	*ports++ = '\0';
	*dir++ = '\0';
	memset(r, 0, sizeof(*r));
	if (strcmp(proto, "tcp") == 0)
		r->proto = 6;
	else if (strcmp(proto, "udp") == 0)
		r->proto = 17;
	else if (strcmp(proto, "icmp") == 0)
		r->proto = 1;
	else if (strcmp(proto, "icmp6") == 0)
		r->proto = 58;
	else if (strcmp(proto, "any") == 0)
		r->proto = 0;
	else {
		lo = strtoul(proto, &end, 10);
		if (*end != '\0' || lo > 255)
			die("bad protocol", s);
		r->proto = (uint8_t)lo;
	}
	if (*ports != '\0') {
		lo = strtoul(ports, &end, 10);
		hi = lo;
		if (*end == '-') {
			dash = end + 1;
			hi = strtoul(dash, &end, 10);
		}
		if (*end != '\0' || lo > 65535 || hi > 65535 || lo > hi || hi == 0)
			die("bad ports", s);
		r->port_lo = (uint16_t)lo;
		r->port_hi = (uint16_t)hi;
	}
	if (strcmp(dir, "in") == 0)
		r->dir = DP_DIR_IN;
	else if (strcmp(dir, "out") == 0)
		r->dir = DP_DIR_OUT;
	else if (strcmp(dir, "both") == 0)
		r->dir = DP_DIR_BOTH;
	else
		die("bad direction", s);
}

static void
write_stats(evutil_socket_t fd, short ev, void *arg)
{
	struct dp_stats st;
	struct dp_sa_info sa[4];
	char tmp[4096];
	size_t i, n;
	FILE *f;

	if (g_stats == NULL)
		return;
	dp_get_stats(g_dp, &st);
	n = dp_list_sas(g_dp, sa, nitems(sa));
	if (xsnprintf(tmp, sizeof(tmp), "%s.tmp", g_stats) == -1 ||
	    (f = fopen(tmp, "w")) == NULL)
		return;
	fprintf(f, "{\"tun_rx\":%llu,\"tun_tx\":%llu,\"udp_rx\":%llu,\"udp_tx\":%llu,"
	    "\"ike_rx\":%llu,\"keepalive_rx\":%llu,\"queued\":%llu,\"tun_reads\":%llu,"
	    "\"tun_writes\":%llu,\"udp_recv_calls\":%llu,\"udp_send_calls\":%llu,"
	    "\"drops\":{", (unsigned long long)st.tun_rx, (unsigned long long)st.tun_tx,
	    (unsigned long long)st.udp_rx, (unsigned long long)st.udp_tx,
	    (unsigned long long)st.ike_rx, (unsigned long long)st.keepalive_rx,
	    (unsigned long long)st.queued, (unsigned long long)st.tun_reads,
	    (unsigned long long)st.tun_writes, (unsigned long long)st.udp_recv_calls,
	    (unsigned long long)st.udp_send_calls);
	for (i = 0; i < DP_DROP__COUNT; i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", dp_drop_name((enum dp_drop)i),
		    (unsigned long long)st.drops[i]);
	fprintf(f, "},\"sas\":[");
	for (i = 0; i < n; i++)
		fprintf(f, "%s{\"peer\":\"%s\",\"spi_in\":\"%08x\",\"pkts_in\":%llu,"
		    "\"pkts_out\":%llu}", i ? "," : "", sa[i].peer, sa[i].spi_in,
		    (unsigned long long)sa[i].pkts_in, (unsigned long long)sa[i].pkts_out);
	fprintf(f, "]}\n");
	fclose(f);
	rename(tmp, g_stats);
}

static void
install_sa(evutil_socket_t fd, short ev, void *arg)
{
	if (dp_sa_add(g_dp, &g_sa) == -1)
		log_error("dp_static: SA install failed");
}

static void
on_need_sa(void *arg, const char *peer)
{
	struct timeval tv = { 0, 5000 };

	log_info("dp_static: peer=%s needs an SA: installing the static one", peer);
	event_base_once(g_base, -1, EV_TIMEOUT, install_sa, NULL, &tv);
}

static void
on_drop(void *arg, enum dp_drop why, const char *peer, const uint8_t *pkt, size_t len)
{
	log_info("dp_static: drop %s peer=%s (%zu bytes)", dp_drop_name(why),
	    peer != NULL ? peer : "-", len);
}

static double
micro_secs(void)
{
	return (double)now_mono_ms() / 1000.0;
}

static int
micro(double secs)
{
	static const size_t sizes[] = { 64, 512, 1400 };
	static uint8_t pkts[4096][1500 + ESP_OVERHEAD_MAX], scratch[1500 + ESP_OVERHEAD_MAX];
	static size_t lens[4096];
	uint8_t key[ESP_KEYMAT_LEN];
	struct esp_out o;
	struct esp_in in;
	struct esp_inner res;
	size_t si, i, len;
	uint64_t n;
	double t0, t;

	memset(key, 0x5c, sizeof(key));
	printf("# ESP AES-256-GCM, one core, %.1f s per figure\n", secs);
	printf("%-6s %14s %10s %14s %10s\n", "size", "encap pkt/s", "Gbit/s",
	    "decap pkt/s", "Gbit/s");
	for (si = 0; si < nitems(sizes); si++) {
		size_t sz = sizes[si];

		esp_out_init(&o, 1, key, true);
		esp_in_init(&in, 1, key, true, 0);
		memset(scratch, 0x45, sizeof(scratch));
		n = 0;
		t0 = micro_secs();
		do {
			for (i = 0; i < 1024; i++)
				esp_encap(&o, scratch, sizeof(scratch), sz, 4, &len);
			n += 1024;
		} while ((t = micro_secs() - t0) < secs);
		printf("%-6zu %14.0f %10.2f", sz, (double)n / t, (double)n * sz * 8 / t / 1e9);
		for (i = 0; i < nitems(pkts); i++) {
			memset(pkts[i] + ESP_HEAD_LEN, 0x45, sz);
			esp_encap(&o, pkts[i], sizeof(pkts[i]), sz, 4, &lens[i]);
		}
		n = 0;
		t0 = micro_secs();
		do {
			/* decap works in place: copy each one first (as a receive would) */
			for (i = 0; i < nitems(pkts); i++) {
				memcpy(scratch, pkts[i], lens[i]);
				in.top = 0;	/* let the same numbers in again */
				memset(in.bitmap, 0, in.nblocks * sizeof(uint64_t));
				if (esp_decap(&in, scratch, lens[i], &res) != ESP_OK)
					return 1;
			}
			n += nitems(pkts);
		} while ((t = micro_secs() - t0) < secs);
		printf(" %14.0f %10.2f\n", (double)n / t, (double)n * sz * 8 / t / 1e9);
		esp_out_wipe(&o);
		esp_in_wipe(&in);
	}
	return 0;
}

static void
on_signal(evutil_socket_t sig, short ev, void *arg)
{
	event_base_loopbreak(g_base);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tun", required_argument, NULL, 't' },
		{ "wan", required_argument, NULL, 'w' },
		{ "local", required_argument, NULL, 'l' },
		{ "peer", required_argument, NULL, 'p' },
		{ "peer-addr", required_argument, NULL, 'a' },
		{ "remote", required_argument, NULL, 'r' },
		{ "spi-in", required_argument, NULL, 'i' },
		{ "spi-out", required_argument, NULL, 'o' },
		{ "key-in", required_argument, NULL, 'I' },
		{ "key-out", required_argument, NULL, 'O' },
		{ "esn", no_argument, NULL, 'e' },
		{ "mtu", required_argument, NULL, 'm' },
		{ "window", required_argument, NULL, 'W' },
		{ "rule", required_argument, NULL, 'R' },
		{ "on-demand", no_argument, NULL, 'd' },
		{ "no-offload", no_argument, NULL, 'n' },
		{ "stats", required_argument, NULL, 's' },
		{ "log-level", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	struct dp_config cfg;
	struct dp_peer peer;
	struct dp_ops ops = { .need_sa = on_need_sa, .drop_event = on_drop };
	struct event *sigs[2], *tick;
	struct timeval tv = { 0, 200000 };
	enum log_level ll = LL_INFO;
	bool on_demand = false, have_keys = false;
	int c, rc = 1;

	if (argc >= 2 && strcmp(argv[1], "--micro") == 0)
		return micro(argc >= 3 ? atof(argv[2]) : 1.0);
	memset(&cfg, 0, sizeof(cfg));
	memset(&peer, 0, sizeof(peer));
	memset(&g_sa, 0, sizeof(g_sa));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (strlen(optarg) >= sizeof(cfg.tun_name))
				die("interface name too long", optarg);
			strcpy(cfg.tun_name, optarg);
			break;
		case 'w':
			if (ipaddr_parse(optarg, &cfg.wan_addr) == -1)
				die("bad address", optarg);
			g_sa.local_addr = cfg.wan_addr;
			break;
		case 'l':
			if (cfg.nlocal >= DP_MAX_PREFIX)
				die("too many", "--local");
			parse_prefix(optarg, &cfg.local[cfg.nlocal]);
			g_sa.local_ts[g_sa.nlocal_ts++] = cfg.local[cfg.nlocal++];
			break;
		case 'p':
			if (strlen(optarg) >= PEER_NAME_MAX)
				die("peer name too long", optarg);
			strcpy(peer.name, optarg);
			strcpy(g_sa.peer, optarg);
			break;
		case 'a':
			if (ipaddr_parse(optarg, &g_sa.peer_addr) == -1)
				die("bad address", optarg);
			break;
		case 'r':
			if (peer.nremote >= DP_MAX_PREFIX)
				die("too many", "--remote");
			parse_prefix(optarg, &peer.remote[peer.nremote]);
			g_sa.remote_ts[g_sa.nremote_ts++] = peer.remote[peer.nremote++];
			break;
		case 'i':
			g_sa.spi_in = parse_spi(optarg);
			break;
		case 'o':
			g_sa.spi_out = parse_spi(optarg);
			break;
		case 'I':
		case 'O':
			if (hex_decode(optarg, c == 'I' ? g_sa.key_in : g_sa.key_out,
			    CHILD_SA_KEYLEN) != CHILD_SA_KEYLEN)
				die("key must be 72 hex digits (key || salt)", "--key");
			have_keys = true;
			break;
		case 'e':
			g_sa.esn = true;
			break;
		case 'm':
			cfg.mtu = atoi(optarg);
			break;
		case 'W':
			cfg.replay_window = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'R':
			if (peer.nrules >= DP_MAX_RULES)
				die("too many", "--rule");
			parse_rule(optarg, &peer.rules[peer.nrules++]);
			break;
		case 'd':
			on_demand = true;
			break;
		case 'n':
			cfg.no_offload = true;
			break;
		case 's':
			g_stats = optarg;
			break;
		case 'L':
			if (log_level_parse(optarg, &ll) == -1)
				die("bad log level", optarg);
			break;
		default:
			usage();
		}
	}
	if (cfg.nlocal == 0 || peer.name[0] == '\0' || peer.nremote == 0 ||
	    g_sa.peer_addr.af == 0 || g_sa.spi_in == 0 || g_sa.spi_out == 0 || !have_keys)
		usage();
	log_init("dp_static", ll, false);
	signal(SIGPIPE, SIG_IGN);
	g_base = event_base_new();
	if ((g_dp = dp_new(g_base, &cfg, &ops)) == NULL ||
	    dp_set_peers(g_dp, &peer, 1) == -1)
		goto out;
	if (!on_demand && dp_sa_add(g_dp, &g_sa) == -1)
		goto out;
	sigs[0] = evsignal_new(g_base, SIGTERM, on_signal, NULL);
	sigs[1] = evsignal_new(g_base, SIGINT, on_signal, NULL);
	event_add(sigs[0], NULL);
	event_add(sigs[1], NULL);
	tick = event_new(g_base, -1, EV_PERSIST, write_stats, NULL);
	event_add(tick, &tv);
	write_stats(-1, 0, NULL);
	printf("dp_static: ready\n");
	fflush(stdout);
	event_base_dispatch(g_base);
	write_stats(-1, 0, NULL);
	event_free(tick);
	event_free(sigs[0]);
	event_free(sigs[1]);
	rc = 0;
out:
	dp_free(g_dp);
	OPENSSL_cleanse(&g_sa, sizeof(g_sa));
	if (g_base != NULL)
		event_base_free(g_base);
	return rc;
}
