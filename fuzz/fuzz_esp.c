/*
 * libFuzzer: the data plane's WAN input (RFC 3948 demux, ESP decapsulation,
 * replay window, inner-packet policy) and LAN input over arbitrary bytes.
 *
 * The first byte picks the path:
 *   0  raw UDP payload on port 4500 (demux, SPI lookup, decap of garbage)
 *   1  raw UDP payload on port 500 (IKE hand-off)
 *   2  raw packet from the LAN (parse, policy, queue)
 *   3  the rest is an inner packet, sealed with the receiver's real keys, so the
 *      fuzzer reaches the checks after the ICV (inner parse, no-relay, selectors,
 *      rules); the second byte, if any, perturbs the sequence number.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "device/dataplane.h"
#include "device/dp_io.h"
#include "device/esp/esp.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const uint8_t key_in[36] = { 7, 7, 7 }, key_out[36] = { 9, 9, 9 };

static struct event_base *base;
static struct dp_memio *io;
static struct dp *dp;
static struct esp_out sealer;
static uint8_t buf[70000];

static void
ike_input(void *arg, const struct ipaddr *src, uint16_t sport, const struct ipaddr *dst,
    uint16_t dport, const uint8_t *msg, size_t len)
{
	static volatile uint8_t sink;
	size_t i;

	for (i = 0; i < len; i++)	/* touch every byte: ASan checks the bounds */
		sink = (uint8_t)(sink ^ msg[i]);
}

static void
setup(void)
{
	struct dp_config cfg = { .mtu = 1400, .queue_per_peer = 16, .replay_window = 128 };
	struct dp_ops ops = { .ike_input = ike_input };
	struct dp_peer p;
	struct child_sa c;
	char err[64];

	log_init("fuzz_esp", LL_ERROR, false);
	base = event_base_new();
	io = calloc(1, sizeof(*io));
	prefix_parse("10.1.0.0/24", &cfg.local[cfg.nlocal++], err, sizeof(err));
	prefix_parse("fd01::/64", &cfg.local[cfg.nlocal++], err, sizeof(err));
	dp = dp_new_io(base, &cfg, &ops, &dp_io_mem, io);
	memset(&p, 0, sizeof(p));
	strcpy(p.name, "x");
	prefix_parse("10.2.0.0/24", &p.remote[p.nremote++], err, sizeof(err));
	prefix_parse("fd02::/64", &p.remote[p.nremote++], err, sizeof(err));
	p.rules[p.nrules++] = (struct dp_rule){ .proto = 6, .port_lo = 22, .port_hi = 80,
	    .dir = DP_DIR_IN };
	p.rules[p.nrules++] = (struct dp_rule){ .proto = 1, .dir = DP_DIR_BOTH };
	dp_set_peers(dp, &p, 1);
	memset(&c, 0, sizeof(c));
	strcpy(c.peer, "x");
	c.spi_in = 0x100;
	c.spi_out = 0x200;
	memcpy(c.key_in, key_in, 36);
	memcpy(c.key_out, key_out, 36);
	ipaddr_parse("192.0.2.2", &c.peer_addr);
	c.local_ts[c.nlocal_ts++] = cfg.local[0];
	c.local_ts[c.nlocal_ts++] = cfg.local[1];
	c.remote_ts[c.nremote_ts++] = p.remote[0];
	c.remote_ts[c.nremote_ts++] = p.remote[1];
	dp_sa_add(dp, &c);
	esp_out_init(&sealer, 0x100, key_in, false);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipaddr src, dst;
	size_t len;

	if (dp == NULL)
		setup();
	if (size < 1 || size > 65000)
		return 0;
	memset(&src, 0, sizeof(src));
	src.af = AF_INET;
	dst = src;
	switch (data[0] % 4) {
	case 0:
	case 1:
		memcpy(buf, data + 1, size - 1);
		dp_wan_input(dp, &src, 4500, &dst, data[0] % 4 == 0 ? 4500 : 500, buf, size - 1);
		break;
	case 2:
		dp_lan_inject(dp, data + 1, size - 1);
		break;
	case 3:
		if (size < 2)
			return 0;
		/* a sequence number near the window edges now and then */
		if (data[1] < 16)
			sealer.seq += data[1] * 100;
		else if (data[1] < 32 && sealer.seq > 200)
			sealer.seq -= 150;
		memcpy(buf + ESP_HEAD_LEN, data + 2, size - 2);
		if (esp_encap(&sealer, buf, sizeof(buf), size - 2,
		    size > 2 && (data[2] >> 4) == 6 ? 41 : data[1] & 1 ? 59 : 4, &len) == ESP_OK)
			dp_wan_input(dp, &src, 4500, &dst, 4500, buf, len);
		break;
	}
	dp_flush(dp);
	io->nlan = io->nwan = 0;
	return 0;
}
