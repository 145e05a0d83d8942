#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>

#include "device/control.h"
#include "device/daemon.h"
#include "device/daemon_int.h"
#include "device/dataplane.h"
#include "device/ike/ike.h"
#include "device/policy/flow.h"
#include "lib/log.h"
#include "lib/util.h"
#include "pki/keystore.h"
#include "pki/pki.h"

struct peer_state *
peer_state(struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->cfg.npeers; i++)
		if (strcmp(d->cfg.peers[i].ike.name, name) == 0)
			return &d->ps[i];
	return NULL;
}

void
waiters_reply(struct peer_state *p, bool ok, const char *error)
{
	uint64_t took = now_mono_ms() - p->connect_ms;

	for (size_t i = 0; i < p->nwaiters; i++) {
		if (ok)
			control_reply(p->waiters[i], json_pack("{s:b, s:s, s:s, s:I}",
			    "ok", 1, "peer", p->cfg->ike.name, "state", "up",
			    "setup_ms", (json_int_t)took));
		else
			control_reply(p->waiters[i], control_error("peer %s: %s",
			    p->cfg->ike.name, error));
	}
	p->nwaiters = 0;
}

/* ---- the IKE timer: the engine says when it next needs to run ---------- */

void
ike_schedule(struct daemon *d)
{
	uint64_t ms = ike_tick(d->ike);
	struct timeval tv;

	if (ms > 1000)
		ms = 1000;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(d->ike_timer, &tv);
}

static void
ike_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	ike_schedule(arg);
}

static void
retry_arm(struct daemon *d, unsigned ms)
{
	struct timeval tv = { 0, (suseconds_t)ms * 1000 };

	evtimer_add(d->retry_timer, &tv);
}

/* ---- IKE engine → daemon ------------------------------------------------ */

static uint64_t
op_now_ms(void *arg)
{
	return now_mono_ms();
}

static void
op_random(void *arg, void *buf, size_t n)
{
	if (RAND_bytes(buf, (int)n) != 1) {
		log_error("RNG failure: refusing to continue");
		abort();
	}
}

static void
op_send(void *arg, const struct ipaddr *src, uint16_t sport, const struct ipaddr *dst,
    uint16_t dport, const uint8_t *msg, size_t len)
{
	struct daemon *d = arg;

	dp_send_ike(d->dp, src, sport, dst, dport, msg, len);
}

static int
op_sign(void *arg, int md_nid, const uint8_t *tbs, size_t tbslen, uint8_t *sig,
    size_t *siglen)
{
	struct daemon *d = arg;
	enum keystore_sig type;
	enum pki_hash hash;
	struct pki_err err;

	switch (md_nid) {
	case NID_sha256:	hash = PKI_HASH_SHA256; break;
	case NID_sha384:	hash = PKI_HASH_SHA384; break;
	case NID_sha512:	hash = PKI_HASH_SHA512; break;
	default:
		log_warn("ike: signature hash nid %d not supported", md_nid);
		return -1;
	}
	type = d->key_alg == PKI_ALG_RSA3072 ? KEYSTORE_SIG_RSA_PSS : KEYSTORE_SIG_ECDSA;
	if (keystore_sign(d->key, hash, type, tbs, tbslen, sig, siglen, &err) == -1) {
		log_error("ike: signing with the service key failed: %s", err.msg);
		return -1;
	}
	return 0;
}

static int
op_verify_peer(void *arg, X509 *cert, STACK_OF(X509) *untrusted, const char *peer_id,
    char *err, size_t errlen)
{
	struct daemon *d = arg;
	const struct devcfg_peer *pc = devcfg_peer_by_id(&d->cfg, peer_id);
	struct pki_verify_opts opts = {
		.roles = PKI_ROLE_BIT(PKI_ROLE_SERVICE),
		.identity = peer_id,
		.chain = untrusted,
	};
	struct peer_state *p;
	struct pki_err perr;

	char serial[PKI_SERIAL_HEX_MAX];

	if (pki_verify(d->trust, cert, &opts, NULL, &perr) == -1) {
		xsnprintf(err, errlen, "%s", perr.msg);
		return -1;
	}
	if (pki_cert_serial(cert, serial) == 0 && managed_revoked(d, serial)) {
		xsnprintf(err, errlen, "certificate %s is revoked (the center's list)", serial);
		return -1;
	}
	if (pc != NULL && (p = peer_state(d, pc->ike.name)) != NULL)
		pki_cert_serial(cert, p->cert_serial);
	return 0;
}

static const struct ike_peer *
op_find_peer(void *arg, const char *peer_id, const struct ipaddr *from)
{
	struct daemon *d = arg;
	const struct devcfg_peer *pc = devcfg_peer_by_id(&d->cfg, peer_id);

	/* a closed peer (managed mode: no grant in force toward us) is refused */
	if (pc != NULL && pc->dp.closed) {
		log_warn("peer=%s: IKE from %s refused: no grant in force between us",
		    pc->ike.name, peer_id);
		return NULL;
	}
	return pc == NULL ? NULL : &pc->ike;
}

static void
op_child_up(void *arg, const struct child_sa *sa)
{
	struct daemon *d = arg;
	struct peer_state *p = peer_state(d, sa->peer);
	char ts_l[ADDR_STRLEN], ts_r[ADDR_STRLEN];

	if (p != NULL && p->cert_serial[0] != '\0' && managed_revoked(d, p->cert_serial)) {
		/* a CHILD SA (a rekey, or one on an older IKE SA) of a peer whose
		 * certificate has been revoked since: never installed */
		log_warn("peer=%s: CHILD SA refused: certificate %s is revoked", sa->peer,
		    p->cert_serial);
		/* not from inside the engine's callback: from the retry timer */
		p->kill_pending = true;
		retry_arm(d, 0);
		return;
	}
	if (dp_sa_add(d->dp, sa) == -1) {
		log_error("peer=%s: could not install CHILD SA %08x/%08x", sa->peer,
		    sa->spi_in, sa->spi_out);
		return;
	}
	prefix_format(&sa->local_ts[0], ts_l, sizeof(ts_l));
	prefix_format(&sa->remote_ts[0], ts_r, sizeof(ts_r));
	if (p == NULL)
		return;
	p->nchild++;
	if (sa->replaces_spi_in != 0) {
		log_info("peer=%s: CHILD SA rekeyed, spi in %08x out %08x replaces %08x",
		    sa->peer, sa->spi_in, sa->spi_out, sa->replaces_spi_in);
		return;
	}
	if (p->connecting)
		log_info("peer=%s: tunnel up in %llu ms, spi in %08x out %08x, %s === %s%s",
		    sa->peer, (unsigned long long)(now_mono_ms() - p->connect_ms),
		    sa->spi_in, sa->spi_out, ts_l, ts_r, sa->esn ? ", ESN" : "");
	else
		log_info("peer=%s: tunnel up (peer initiated), spi in %08x out %08x, %s === %s%s",
		    sa->peer, sa->spi_in, sa->spi_out, ts_l, ts_r, sa->esn ? ", ESN" : "");
	managed_event(d, "sa_up", sa->peer, p->connecting ? "initiated" : "peer initiated",
	    json_pack("{s:s, s:s, s:s, s:I}", "local_ts", ts_l, "remote_ts", ts_r, "serial",
	    p->cert_serial, "setup_ms", (json_int_t)(p->connecting ?
	    now_mono_ms() - p->connect_ms : 0)));
	p->connecting = false;
	if (p->up_ms == 0)
		p->up_ms = now_mono_ms();
	waiters_reply(p, true, NULL);
}

static void
op_child_down(void *arg, const char *peer, uint32_t spi_in, uint32_t spi_out,
    const char *reason)
{
	struct daemon *d = arg;
	struct peer_state *p = peer_state(d, peer);
	struct closed_sa *h = &d->history[d->nhistory++ % HISTORY_MAX];
	struct dp_sa_info sas[64];
	size_t n = dp_list_sas(d->dp, sas, nitems(sas));

	/* the tunnel's totals, for the audit trail's flow summary */
	for (size_t i = 0; p != NULL && i < n; i++) {
		if (sas[i].spi_in != spi_in)
			continue;
		p->bytes_in += sas[i].bytes_in;
		p->bytes_out += sas[i].bytes_out;
		p->pkts_in += sas[i].pkts_in;
		p->pkts_out += sas[i].pkts_out;
	}
	dp_sa_del(d->dp, spi_in);
	xsnprintf(h->peer, sizeof(h->peer), "%s", peer);
	h->spi_in = spi_in;
	h->spi_out = spi_out;
	xsnprintf(h->reason, sizeof(h->reason), "%s", reason);
	h->when = now_wall_s();
	log_info("peer=%s: CHILD SA %08x/%08x removed (%s), keys wiped", peer, spi_in,
	    spi_out, reason);
	if (p == NULL) {
		/* its peer is gone (grant withdrawn): the tunnel's end still counts */
		dp_flows_end(d->dp, peer);
		managed_event(d, "sa_down", peer, reason, NULL);
		return;
	}
	if (p->nchild > 0)
		p->nchild--;
	if (p->nchild == 0) {
		dp_flows_end(d->dp, peer);
		managed_event(d, "sa_down", peer, reason, json_pack("{s:I, s:I, s:I, s:I, s:I}",
		    "bytes_in", (json_int_t)p->bytes_in, "bytes_out", (json_int_t)p->bytes_out,
		    "packets_in", (json_int_t)p->pkts_in, "packets_out", (json_int_t)p->pkts_out,
		    "up_s", (json_int_t)(p->up_ms ? (now_mono_ms() - p->up_ms) / 1000 : 0)));
		p->bytes_in = p->bytes_out = p->pkts_in = p->pkts_out = 0;
		p->up_ms = 0;
		xsnprintf(p->last_down, sizeof(p->last_down), "%s", reason);
	}
}

static void
op_event(void *arg, enum ike_event ev, const char *peer, const char *detail)
{
	struct daemon *d = arg;
	struct peer_state *p = peer == NULL ? NULL : peer_state(d, peer);
	const char *who = peer != NULL ? peer : "?";

	switch (ev) {
	case IKE_EV_SA_UP:
		log_info("peer=%s: IKE SA established (%s)", who, detail);
		break;
	case IKE_EV_REKEYED:
		log_info("peer=%s: rekeyed (%s)", who, detail);
		break;
	case IKE_EV_SA_DOWN:
		log_info("peer=%s: IKE SA down (%s)", who, detail);
		if (p != NULL) {
			if (p->connecting)
				dp_sa_failed(d->dp, peer);
			p->connecting = false;
			xsnprintf(p->last_down, sizeof(p->last_down), "%s", detail);
			waiters_reply(p, false, detail);
		}
		break;
	case IKE_EV_AUTH_FAILED:
		log_warn("peer=%s: handshake refused: %s", who, detail);
		managed_event(d, "ike_refused", who, detail, NULL);
		if (p != NULL && p->connecting && p->opened_ms != 0 &&
		    now_mono_ms() - p->opened_ms < GRANT_RACE_MS && p->retries < GRANT_RETRIES) {
			/* the grant may not have reached the peer yet: again shortly,
			 * the queued packets wait */
			p->connecting = false;
			p->retries++;
			p->retry_ms = now_mono_ms() + GRANT_RETRY_DELAY_MS;
			retry_arm(d, GRANT_RETRY_DELAY_MS);
			log_info("peer=%s: granted %llu ms ago, the peer may not know yet: "
			    "trying again in %d ms", who, (unsigned long long)(now_mono_ms() -
			    p->opened_ms), GRANT_RETRY_DELAY_MS);
			break;
		}
		if (p != NULL) {
			if (p->connecting)
				dp_sa_failed(d->dp, peer);
			p->connecting = false;
			xsnprintf(p->last_down, sizeof(p->last_down), "refused: %s", detail);
			waiters_reply(p, false, detail);
		}
		break;
	case IKE_EV_NEGOTIATION_FAILED:
		log_warn("peer=%s: negotiation failed: %s", who, detail);
		if (p != NULL) {
			if (p->connecting)
				dp_sa_failed(d->dp, peer);
			p->connecting = false;
			xsnprintf(p->last_down, sizeof(p->last_down), "failed: %s", detail);
			waiters_reply(p, false, detail);
		}
		break;
	}
	if (d->stopping && ev == IKE_EV_SA_DOWN) {
		struct ike_sa_info info;

		if (ike_list(d->ike, &info, 1) == 0)
			event_base_loopbreak(d->base);
	}
}

/* ---- data plane → daemon ------------------------------------------------ */

void
peer_connect(struct daemon *d, struct peer_state *p, const char *why)
{
	if (p->connecting || p->up_ms != 0 || d->stopping)
		return;
	p->connecting = true;
	p->connect_ms = now_mono_ms();
	log_info("peer=%s: starting IKE (%s)", p->cfg->ike.name, why);
	if (ike_connect(d->ike, &p->cfg->ike) == -1) {
		p->connecting = false;
		dp_sa_failed(d->dp, p->cfg->ike.name);
		log_warn("peer=%s: could not start IKE", p->cfg->ike.name);
		waiters_reply(p, false, "could not start IKE");
	}
	ike_schedule(d);
}

static void
op_need_sa(void *arg, const char *peer)
{
	struct daemon *d = arg;
	struct peer_state *p = peer_state(d, peer);

	if (p == NULL)
		return;
	if (p->cfg->dp.closed) {
		/* no grant yet: apply, even toward a site that has to call us */
		managed_need_grant(d, peer, NULL);
		return;
	}
	if (!p->cfg->on_demand)
		return;
	peer_connect(d, p, "on demand: first packet queued");
}

static void
op_ike_input(void *arg, const struct ipaddr *src, uint16_t sport, const struct ipaddr *dst,
    uint16_t dport, const uint8_t *msg, size_t len)
{
	struct daemon *d = arg;

	ike_input(d->ike, src, sport, dst, dport, msg, len);
	ike_schedule(d);
}

static void
op_drop_event(void *arg, enum dp_drop why, const char *peer, const uint8_t *pkt, size_t len)
{
	char src[ADDR_STRLEN] = "?", dst[ADDR_STRLEN] = "?";
	struct ipaddr a;

	/* enough of the inner header to say who tried what; the rest is counted */
	memset(&a, 0, sizeof(a));
	if (len >= 20 && pkt[0] >> 4 == 4) {
		a.af = AF_INET;
		memcpy(a.a, pkt + 12, 4);
		ipaddr_format(&a, src, sizeof(src));
		memcpy(a.a, pkt + 16, 4);
		ipaddr_format(&a, dst, sizeof(dst));
	} else if (len >= 40 && pkt[0] >> 4 == 6) {
		a.af = AF_INET6;
		memcpy(a.a, pkt + 8, 16);
		ipaddr_format(&a, src, sizeof(src));
		memcpy(a.a, pkt + 24, 16);
		ipaddr_format(&a, dst, sizeof(dst));
	}
	log_warn("policy drop: %s, peer=%s, %s -> %s", dp_drop_name(why),
	    peer != NULL ? peer : "-", src, dst);
	managed_event(arg, "policy_drop", peer, dp_drop_name(why),
	    json_pack("{s:s, s:s}", "src", src, "dst", dst));
}

/* a flow through a tunnel ended: the device's log, and the center's audit trail */
static void
op_flow_end(void *arg, const struct flow *f)
{
	struct daemon *d = arg;
	const struct ipaddr *src = f->opened_out ? &f->local : &f->remote;
	const struct ipaddr *dst = f->opened_out ? &f->remote : &f->local;
	uint16_t sport = f->opened_out ? f->lport : f->rport;
	uint16_t dport = f->opened_out ? f->rport : f->lport;
	char s[ADDR_STRLEN], t[ADDR_STRLEN];

	ipaddr_format(src, s, sizeof(s));
	ipaddr_format(dst, t, sizeof(t));
	log_info("flow: peer=%s proto %u %s:%u -> %s:%u, %llu bytes out, %llu in, %llu s",
	    f->peer, f->proto, s, sport, t, dport, (unsigned long long)f->bytes_out,
	    (unsigned long long)f->bytes_in,
	    (unsigned long long)((f->last_ms - f->start_ms) / 1000));
	managed_flow(d, f, s, t, sport, dport);
}

/* the data plane is running out of sequence numbers on an SA: rekey it now */
static void
op_rekey_needed(void *arg, const char *peer, uint32_t spi_in)
{
	struct daemon *d = arg;

	log_info("peer=%s: SA %08x close to sequence-number exhaustion, rekeying", peer,
	    spi_in);
	if (ike_rekey(d->ike, peer, false) == -1)
		log_warn("peer=%s: rekey could not start", peer);
	ike_schedule(d);
}

/* ---- connections retried after a grant race ----------------------------- */

static void
retry_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	uint64_t now = now_mono_ms();

	for (size_t i = 0; i < d->cfg.npeers; i++) {
		struct peer_state *p = &d->ps[i];

		if (p->kill_pending) {
			p->kill_pending = false;
			ike_disconnect(d->ike, p->cfg->ike.name, "peer certificate revoked");
			ike_schedule(d);
		}
		if (p->retry_ms == 0)
			continue;
		if (now < p->retry_ms) {
			retry_arm(d, 20);
			continue;
		}
		p->retry_ms = 0;
		if (!p->cfg->dp.closed)
			peer_connect(d, p, "retry after a fresh grant");
	}
}

/* ---- idle teardown ------------------------------------------------------ */

static void
idle_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	uint64_t limit = (uint64_t)d->cfg.idle_timeout_s * 1000;

	managed_tick(d);
	for (size_t i = 0; i < d->cfg.npeers && limit > 0; i++) {
		struct peer_state *p = &d->ps[i];
		uint64_t idle;

		if (p->up_ms == 0)
			continue;
		idle = dp_peer_idle_ms(d->dp, p->cfg->ike.name);
		if (idle == UINT64_MAX || idle < limit)
			continue;
		log_info("peer=%s: idle for %llu s, closing the tunnel", p->cfg->ike.name,
		    (unsigned long long)(idle / 1000));
		ike_disconnect(d->ike, p->cfg->ike.name, "idle timeout");
	}
	ike_schedule(d);
}

/* ---- control socket ----------------------------------------------------- */

static json_t *
json_prefixes(const struct prefix *p, size_t n)
{
	json_t *a = json_array();
	char s[ADDR_STRLEN];

	for (size_t i = 0; i < n; i++) {
		prefix_format(&p[i], s, sizeof(s));
		json_array_append_new(a, json_string(s));
	}
	return a;
}

static const char *
peer_state_name(const struct peer_state *p)
{
	if (p->up_ms != 0)
		return "up";
	if (p->connecting)
		return "connecting";
	return "idle";
}

static json_t *
ctl_peers(struct daemon *d)
{
	json_t *peers = json_array();
	char addr[ADDR_STRLEN];

	for (size_t i = 0; i < d->cfg.npeers; i++) {
		const struct peer_state *p = &d->ps[i];
		const struct devcfg_peer *c = p->cfg;

		json_t *o;

		if (c->ike.addr.af != 0)
			ipaddr_format(&c->ike.addr, addr, sizeof(addr));
		else
			xsnprintf(addr, sizeof(addr), "-");
		o = json_pack("{s:s, s:s, s:s, s:i, s:o, s:s, s:b, s:I, s:s}",
		    "name", c->ike.name, "id", c->ike.id, "address", addr, "port", c->ike.port,
		    "prefixes", json_prefixes(c->dp.remote, c->dp.nremote),
		    "state", peer_state_name(p), "on_demand", c->on_demand,
		    "up_s", (json_int_t)(p->up_ms ? (now_mono_ms() - p->up_ms) / 1000 : 0),
		    "last_down", p->last_down);
		managed_peer_status(d, p, o);
		json_array_append_new(peers, o);
	}
	return json_pack("{s:b, s:s, s:o}", "ok", 1, "device", d->cfg.device_id,
	    "peers", peers);
}

static json_t *
ctl_status(struct daemon *d)
{
	struct ike_sa_info ikes[64];
	struct dp_sa_info sas[128];
	struct ike_stats is;
	struct dp_stats ds;
	json_t *jike = json_array(), *jchild = json_array(), *jdrops = json_object();
	json_t *jclosed = json_array();
	size_t n;
	char spi_i[17], spi_r[17];

	n = ike_list(d->ike, ikes, nitems(ikes));
	for (size_t i = 0; i < n; i++) {
		hex_encode(ikes[i].spi_i, 8, spi_i);
		hex_encode(ikes[i].spi_r, 8, spi_r);
		json_array_append_new(jike, json_pack("{s:s, s:I, s:s, s:s, s:s, s:b, s:s, s:i}",
		    "peer", ikes[i].peer, "id", (json_int_t)ikes[i].id, "spi_i", spi_i,
		    "spi_r", spi_r, "state", ikes[i].state, "initiator", ikes[i].initiator,
		    "suite", ikes[i].suite, "children", (int)ikes[i].nchild));
	}
	n = dp_list_sas(d->dp, sas, nitems(sas));
	for (size_t i = 0; i < n; i++) {
		char in[9], out[9];

		xsnprintf(in, sizeof(in), "%08x", sas[i].spi_in);
		xsnprintf(out, sizeof(out), "%08x", sas[i].spi_out);
		json_array_append_new(jchild, json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I}",
		    "peer", sas[i].peer, "spi_in", in, "spi_out", out, "esn", sas[i].esn,
		    "pkts_in", (json_int_t)sas[i].pkts_in, "pkts_out", (json_int_t)sas[i].pkts_out,
		    "bytes_in", (json_int_t)sas[i].bytes_in,
		    "bytes_out", (json_int_t)sas[i].bytes_out,
		    "idle_ms", (json_int_t)sas[i].idle_ms));
	}
	for (size_t k = 0; k < MIN(d->nhistory, (size_t)HISTORY_MAX); k++) {
		const struct closed_sa *h = &d->history[(d->nhistory - 1 - k) % HISTORY_MAX];
		char in[9], out[9];

		xsnprintf(in, sizeof(in), "%08x", h->spi_in);
		xsnprintf(out, sizeof(out), "%08x", h->spi_out);
		json_array_append_new(jclosed, json_pack("{s:s, s:s, s:s, s:s, s:I, s:b}",
		    "peer", h->peer, "spi_in", in, "spi_out", out, "reason", h->reason,
		    "time", (json_int_t)h->when, "keys_wiped", 1));
	}
	ike_get_stats(d->ike, &is);
	dp_get_stats(d->dp, &ds);
	for (int r = 0; r < DP_DROP__COUNT; r++)
		json_object_set_new(jdrops, dp_drop_name((enum dp_drop)r),
		    json_integer((json_int_t)ds.drops[r]));
	json_t *r;

	r = json_pack("{s:b, s:s, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:o}, "
	    "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
	    "ok", 1, "device", d->cfg.device_id, "ike_sas", jike, "child_sas", jchild,
	    "closed", jclosed,
	    "dataplane", "tun_rx", (json_int_t)ds.tun_rx, "tun_tx", (json_int_t)ds.tun_tx,
	    "udp_rx", (json_int_t)ds.udp_rx, "udp_tx", (json_int_t)ds.udp_tx, "drops", jdrops,
	    "ike", "rx", (json_int_t)is.rx, "tx", (json_int_t)is.tx,
	    "retransmits", (json_int_t)is.retransmits,
	    "dropped_malformed", (json_int_t)is.dropped_malformed,
	    "dropped_unknown_spi", (json_int_t)is.dropped_unknown_spi,
	    "dropped_bad_icv", (json_int_t)is.dropped_bad_icv,
	    "dropped_half_open_cap", (json_int_t)is.dropped_half_open_cap,
	    "cookies_sent", (json_int_t)is.cookies_sent, "auth_failed", (json_int_t)is.auth_failed,
	    "sa_up", (json_int_t)is.sa_up, "rekeys", (json_int_t)is.rekeys);
	if (r != NULL && d->m != NULL)
		json_object_set_new(r, "center", managed_status(d));
	return r;
}

static json_t *
ctl_handle(void *arg, struct ctl_conn *c, const json_t *req)
{
	struct daemon *d = arg;
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	json_t *jpeer = json_object_get(req, "peer");
	struct peer_state *p = NULL;

	if (strcmp(cmd, "ping") == 0)
		return json_pack("{s:b}", "ok", 1);
	if (strcmp(cmd, "status") == 0)
		return ctl_status(d);
	if (strcmp(cmd, "peers") == 0)
		return ctl_peers(d);
	if (strcmp(cmd, "connect") != 0 && strcmp(cmd, "disconnect") != 0)
		return control_error("unknown command \"%.40s\" (status, peers, connect, "
		    "disconnect)", cmd);
	if (!json_is_string(jpeer))
		return control_error("\"%s\" needs a string \"peer\"", cmd);
	p = peer_state(d, json_string_value(jpeer));
	if (strcmp(cmd, "connect") == 0 && d->m != NULL && (p == NULL || p->cfg->dp.closed) &&
	    strlen(json_string_value(jpeer)) < PEER_NAME_MAX) {
		/* managed: no grant yet, apply (the center decides, even for a site
		 * we do not know: its refusal is recorded there) */
		managed_need_grant(d, json_string_value(jpeer), c);
		return NULL;
	}
	if (p == NULL)
		return control_error("no peer named \"%.64s\" (see odvpn peers)",
		    json_string_value(jpeer));
	if (strcmp(cmd, "disconnect") == 0) {
		if (p->up_ms == 0 && !p->connecting)
			return control_error("peer %s has no tunnel", p->cfg->ike.name);
		log_info("peer=%s: disconnect requested by the administrator",
		    p->cfg->ike.name);
		managed_event(d, "disconnect", p->cfg->ike.name, "administrator request", NULL);
		ike_disconnect(d->ike, p->cfg->ike.name, "administrator request");
		ike_schedule(d);
		return json_pack("{s:b, s:s, s:s}", "ok", 1, "peer", p->cfg->ike.name,
		    "state", "closing");
	}
	if (p->up_ms != 0)
		return json_pack("{s:b, s:s, s:s, s:I}", "ok", 1, "peer", p->cfg->ike.name,
		    "state", "up", "setup_ms", (json_int_t)0);
	if (p->nwaiters == nitems(p->waiters))
		return control_error("too many clients waiting for peer %s", p->cfg->ike.name);
	p->waiters[p->nwaiters++] = c;
	managed_event(d, "connect", p->cfg->ike.name, "administrator request", NULL);
	peer_connect(d, p, "explicit connect");
	return NULL;
}

static void
ctl_gone(void *arg, struct ctl_conn *c)
{
	struct daemon *d = arg;

	managed_ctl_gone(d, c);
	for (size_t i = 0; i < d->cfg.npeers; i++) {
		struct peer_state *p = &d->ps[i];

		for (size_t k = 0; k < p->nwaiters; k++) {
			if (p->waiters[k] == c) {
				p->waiters[k] = p->waiters[--p->nwaiters];
				return;
			}
		}
	}
}

/* ---- set-up ------------------------------------------------------------- */

int
load_trust(struct daemon *d, char *err, size_t errlen)
{
	struct pki_trust *trust;
	struct pki_err perr;

	if ((trust = pki_trust_new(d->root, &perr)) == NULL ||
	    pki_trust_add_ca(trust, d->service_ca, &perr) == -1)
		goto fail;
	if (d->cfg.crl[0] != '\0') {
		X509_CRL *crl;

		if (pki_crl_load(d->cfg.crl, &crl, &perr) == -1)
			goto fail;
		if (pki_trust_add_crl(trust, crl, &perr) == -1) {
			X509_CRL_free(crl);
			goto fail;
		}
		X509_CRL_free(crl);
	}
	pki_trust_free(d->trust);
	d->trust = trust;
	return 0;
fail:
	pki_trust_free(trust);
	xsnprintf(err, errlen, "trust: %s", perr.msg);
	return -1;
}

static int
load_identity(struct daemon *d, char *err, size_t errlen)
{
	struct pki_verify_opts opts = {
		.roles = PKI_ROLE_BIT(PKI_ROLE_SERVICE),
		.identity = d->cfg.device_id,
	};
	struct pki_err perr;

	if (keystore_open(d->cfg.keystore, 0, &d->ks, &perr) == -1 ||
	    keystore_key_load(d->ks, PKI_LABEL_SERVICE, &d->key, &perr) == -1 ||
	    keystore_cert_load(d->ks, PKI_LABEL_SERVICE, &d->cert, &perr) == -1 ||
	    keystore_cert_load(d->ks, PKI_LABEL_ROOT, &d->root, &perr) == -1 ||
	    keystore_cert_load(d->ks, PKI_LABEL_SERVICE_CA, &d->service_ca, &perr) == -1) {
		xsnprintf(err, errlen, "key store %s: %s", d->cfg.keystore, perr.msg);
		return -1;
	}
	d->key_alg = keystore_key_alg(d->key);
	if (load_trust(d, err, errlen) == -1)
		return -1;
	/* our own certificate must be one a peer will accept for our id */
	if (pki_verify(d->trust, d->cert, &opts, NULL, &perr) == -1) {
		xsnprintf(err, errlen, "our service certificate is not usable for \"%s\": %s",
		    d->cfg.device_id, perr.msg);
		return -1;
	}
	return 0;
}

struct daemon *
daemon_new(struct event_base *base, struct devcfg *cfg, char *err, size_t errlen)
{
	struct daemon *d = xcalloc(1, sizeof(*d));
	struct dp_peer *dpeers = NULL;
	const struct ike_ops iops = {
		.arg = d, .now_ms = op_now_ms, .random = op_random, .send = op_send,
		.sign = op_sign, .verify_peer = op_verify_peer, .find_peer = op_find_peer,
		.child_up = op_child_up, .child_down = op_child_down, .event = op_event,
	};
	const struct dp_ops dops = {
		.arg = d, .need_sa = op_need_sa, .ike_input = op_ike_input,
		.drop_event = op_drop_event, .rekey_needed = op_rekey_needed,
		.flow_end = op_flow_end,
	};
	const struct control_ops cops = { .arg = d, .handle = ctl_handle, .gone = ctl_gone };
	struct timeval idle_tv = { 0, IDLE_CHECK_MS * 1000 };

	d->base = base;
	d->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	d->ps = xcalloc(d->cfg.npeers, sizeof(*d->ps));
	for (size_t i = 0; i < d->cfg.npeers; i++)
		d->ps[i].cfg = &d->cfg.peers[i];
	if (load_identity(d, err, errlen) == -1)
		goto fail;
	d->cfg.ike.cert = d->cert;
	d->cfg.ike.cas = sk_X509_new_null();
	sk_X509_push(d->cfg.ike.cas, d->root);
	if ((d->ike = ike_new(&d->cfg.ike, &iops)) == NULL) {
		xsnprintf(err, errlen, "IKE engine could not start");
		goto fail;
	}
	if ((d->dp = dp_new(base, &d->cfg.dp, &dops)) == NULL) {
		xsnprintf(err, errlen, "data plane could not start (TUN %s, UDP %u/%u on the "
		    "WAN address): see the log above", d->cfg.dp.tun_name, d->cfg.dp.ike_port,
		    d->cfg.dp.natt_port);
		goto fail;
	}
	dpeers = xcalloc(d->cfg.npeers, sizeof(*dpeers));
	for (size_t i = 0; i < d->cfg.npeers; i++)
		dpeers[i] = d->cfg.peers[i].dp;
	if (dp_set_peers(d->dp, dpeers, d->cfg.npeers) == -1) {
		xsnprintf(err, errlen, "could not install the routes of the peers");
		goto fail;
	}
	free(dpeers);
	dpeers = NULL;
	if ((d->ctl = control_new(base, d->cfg.control_socket, &cops, err, errlen)) == NULL)
		goto fail;
	d->ike_timer = evtimer_new(base, ike_timer_cb, d);
	d->idle_timer = event_new(base, -1, EV_PERSIST, idle_timer_cb, d);
	d->retry_timer = evtimer_new(base, retry_timer_cb, d);
	evtimer_add(d->idle_timer, &idle_tv);
	ike_schedule(d);
	log_info("device=%s: ready, %zu peer(s), WAN UDP %u/%u, TUN %s", d->cfg.device_id,
	    d->cfg.npeers, d->cfg.dp.ike_port, d->cfg.dp.natt_port, d->cfg.dp.tun_name);
	return d;
fail:
	free(dpeers);
	daemon_free(d);
	return NULL;
}

void
daemon_reload_crl(struct daemon *d)
{
	X509_CRL *crl = NULL;
	struct pki_err perr;
	char err[256];

	if (load_trust(d, err, sizeof(err)) == -1) {
		log_error("CRL reload failed, keeping the previous one: %s", err);
		return;
	}
	log_info("CRL reloaded from %s", d->cfg.crl[0] ? d->cfg.crl : "(none)");
	if (d->cfg.crl[0] == '\0' || pki_crl_load(d->cfg.crl, &crl, &perr) == -1)
		return;
	/* tunnels already up were authenticated before: close those now revoked */
	for (size_t i = 0; i < d->cfg.npeers; i++) {
		struct peer_state *p = &d->ps[i];

		if (p->cert_serial[0] == '\0' || (p->up_ms == 0 && !p->connecting))
			continue;
		if (pki_crl_lookup(crl, p->cert_serial, NULL) == 1) {
			log_warn("peer=%s: certificate %s revoked, closing the tunnel",
			    p->cfg->ike.name, p->cert_serial);
			ike_disconnect(d->ike, p->cfg->ike.name, "peer certificate revoked");
		}
	}
	X509_CRL_free(crl);
	ike_schedule(d);
}

/* the same IKE identity and selectors: an SA made for the old may stay */
static bool
peer_same_sa(const struct devcfg_peer *a, const struct devcfg_peer *b)
{
	return strcmp(a->ike.id, b->ike.id) == 0 &&
	    a->ike.nlocal_ts == b->ike.nlocal_ts && a->ike.nremote_ts == b->ike.nremote_ts &&
	    memcmp(a->ike.local_ts, b->ike.local_ts, a->ike.nlocal_ts *
	    sizeof(a->ike.local_ts[0])) == 0 &&
	    memcmp(a->ike.remote_ts, b->ike.remote_ts, a->ike.nremote_ts *
	    sizeof(a->ike.remote_ts[0])) == 0;
}

int
daemon_set_peers(struct daemon *d, struct devcfg_peer *peers, size_t n)
{
	struct peer_state *ps = xcalloc(n > 0 ? n : 1, sizeof(*ps));
	struct dp_peer *dpeers = xcalloc(n > 0 ? n : 1, sizeof(*dpeers));
	struct devcfg_peer *old = d->cfg.peers;
	struct peer_state *ops = d->ps;
	size_t on = d->cfg.npeers, i, k;
	char (*gone)[PEER_NAME_MAX] = xcalloc(on > 0 ? on : 1, sizeof(*gone));
	const char **why = xcalloc(on > 0 ? on : 1, sizeof(*why));
	size_t ngone = 0;

	for (i = 0; i < n; i++) {
		ps[i].cfg = &peers[i];
		ps[i].opened_ms = peers[i].dp.closed ? 0 : now_mono_ms();
		dpeers[i] = peers[i].dp;
	}
	/* the data plane first: if it refuses the table, nothing changes anywhere */
	if (dp_set_peers(d->dp, dpeers, n) == -1) {
		log_error("the data plane refused the new peer table: the previous one "
		    "stays in force");
		free(dpeers);
		free(ps);
		free(peers);
		free(gone);
		free(why);
		return -1;
	}
	free(dpeers);
	/* state carried over by name; which peers' SAs must go */
	for (k = 0; k < on; k++) {
		struct peer_state *o = &ops[k];

		for (i = 0; i < n; i++)
			if (strcmp(peers[i].ike.name, o->cfg->ike.name) == 0)
				break;
		if (i < n) {
			struct peer_state keep = *o;

			keep.cfg = &peers[i];
			if (o->cfg->dp.closed && !peers[i].dp.closed) {
				keep.opened_ms = now_mono_ms();
				keep.retries = 0;
			}
			ps[i] = keep;
		}
		/*
		 * Every SA of a peer that is gone, closed or changed goes, whatever
		 * its state: an IKE SA without CHILD SAs included (it could carry a
		 * CREATE_CHILD_SA later without its certificate being checked again).
		 */
		if (i == n || peers[i].dp.closed)
			why[ngone] = "grant withdrawn";
		else if (!peer_same_sa(&peers[i], o->cfg))
			why[ngone] = "grant changed";
		else
			continue;
		xsnprintf(gone[ngone++], PEER_NAME_MAX, "%s", o->cfg->ike.name);
		if (i == n)
			waiters_reply(o, false, "the grant was withdrawn");
	}
	d->cfg.peers = peers;
	d->cfg.npeers = n;
	d->ps = ps;
	free(old);
	free(ops);
	for (k = 0; k < ngone; k++)
		if (ike_disconnect(d->ike, gone[k], why[k]) == 0)
			log_warn("peer=%s: %s, closing the tunnel", gone[k], why[k]);
	free(gone);
	free(why);
	ike_schedule(d);
	return 0;
}

int
daemon_reload_identity(struct daemon *d, char *err, size_t errlen)
{
	struct pki_verify_opts opts = {
		.roles = PKI_ROLE_BIT(PKI_ROLE_SERVICE),
		.identity = d->cfg.device_id,
	};
	struct keystore_key *key = NULL;
	X509 *cert = NULL, *ca = NULL;
	struct pki_err perr;

	if (keystore_key_load(d->ks, PKI_LABEL_SERVICE, &key, &perr) == -1 ||
	    keystore_cert_load(d->ks, PKI_LABEL_SERVICE, &cert, &perr) == -1 ||
	    keystore_cert_load(d->ks, PKI_LABEL_SERVICE_CA, &ca, &perr) == -1) {
		xsnprintf(err, errlen, "key store %s: %s", d->cfg.keystore, perr.msg);
		goto fail;
	}
	{
		EVP_PKEY *pub = keystore_key_public(key);
		bool match = pub != NULL && EVP_PKEY_eq(pub, X509_get0_pubkey(cert)) == 1;

		EVP_PKEY_free(pub);
		if (!match) {
			xsnprintf(err, errlen, "the service key and certificate in the key "
			    "store do not match (a renewal in progress?)");
			goto fail;
		}
	}
	X509_free(d->service_ca);
	d->service_ca = ca;
	ca = NULL;
	if (load_trust(d, err, errlen) == -1)
		goto fail;
	if (pki_verify(d->trust, cert, &opts, NULL, &perr) == -1) {
		xsnprintf(err, errlen, "the new service certificate is not usable: %s",
		    perr.msg);
		goto fail;
	}
	if (ike_set_cert(d->ike, cert) == -1) {
		xsnprintf(err, errlen, "the new service certificate has an unusable key");
		goto fail;
	}
	keystore_key_free(d->key);
	d->key = key;
	d->key_alg = keystore_key_alg(key);
	X509_free(d->cert);
	d->cert = cert;
	return 0;
fail:
	keystore_key_free(key);
	X509_free(cert);
	X509_free(ca);
	return -1;
}

static void
stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	event_base_loopbreak(d->base);
}

void
daemon_stop(struct daemon *d)
{
	struct timeval tv = { STOP_GRACE_MS / 1000, (STOP_GRACE_MS % 1000) * 1000 };
	struct ike_sa_info info;

	if (d->stopping) {
		event_base_loopbreak(d->base);
		return;
	}
	d->stopping = true;
	if (ike_list(d->ike, &info, 1) == 0) {
		event_base_loopbreak(d->base);
		return;
	}
	log_info("stopping: deleting every SA");
	for (size_t i = 0; i < d->cfg.npeers; i++)
		ike_disconnect(d->ike, d->cfg.peers[i].ike.name, "device shutting down");
	ike_schedule(d);
	d->stop_timer = evtimer_new(d->base, stop_timer_cb, d);
	evtimer_add(d->stop_timer, &tv);
}

void
daemon_free(struct daemon *d)
{
	if (d == NULL)
		return;
	managed_free(d);
	for (size_t i = 0; i < d->cfg.npeers; i++)
		waiters_reply(&d->ps[i], false, "odvpnd is stopping");
	control_free(d->ctl);
	if (d->ike_timer != NULL)
		event_free(d->ike_timer);
	if (d->idle_timer != NULL)
		event_free(d->idle_timer);
	if (d->retry_timer != NULL)
		event_free(d->retry_timer);
	if (d->stop_timer != NULL)
		event_free(d->stop_timer);
	if (d->ike != NULL)
		ike_free(d->ike);
	if (d->dp != NULL)
		dp_free(d->dp);
	sk_X509_free(d->cfg.ike.cas);
	pki_trust_free(d->trust);
	X509_free(d->cert);
	X509_free(d->root);
	X509_free(d->service_ca);
	keystore_key_free(d->key);
	keystore_close(d->ks);
	devcfg_free(&d->cfg);
	free(d->ps);
	free(d);
}
