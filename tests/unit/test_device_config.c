/* odvpnd configuration: accepted files, and each kind of mistake refused with a
 * message that names the field. Also the control socket's request/reply cycle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "device/config.h"
#include "device/control.h"
#include "lib/util.h"

#define BASE_HEAD \
	"{\"device_id\":\"clinic-01\",\"keystore\":\"/tmp/ks\",\"wan_address\":\"192.0.2.1\"," \
	"\"lan_prefixes\":[\"10.1.0.0/24\"]"

static int
parse(const char *text, struct devcfg *cfg, char *err)
{
	return devcfg_parse(text, strlen(text), cfg, err, 256);
}

static void
test_minimal_defaults(void **state)
{
	struct devcfg cfg;
	char err[256];

	assert_int_equal(parse(BASE_HEAD "}", &cfg, err), 0);
	assert_string_equal(cfg.device_id, "clinic-01");
	assert_string_equal(cfg.ike.local_id, "clinic-01");
	assert_int_equal(cfg.dp.ike_port, 500);
	assert_int_equal(cfg.dp.natt_port, 4500);
	assert_int_equal(cfg.dp.mtu, 1400);
	assert_int_equal(cfg.idle_timeout_s, 300);
	assert_int_equal(cfg.ike.dh_groups[0], 19);
	assert_true(cfg.ike.esn);
	assert_int_equal(cfg.npeers, 0);
	devcfg_free(&cfg);
}

static void
test_peer_with_rules(void **state)
{
	struct devcfg cfg;
	char err[256];
	const struct devcfg_peer *p;

	assert_int_equal(parse(BASE_HEAD ",\"idle_timeout_s\":5,\"peers\":[{\"name\":\"hospital\","
	    "\"address\":\"192.0.2.2\",\"prefixes\":[\"10.2.0.0/24\",\"fd00:2::/64\"],"
	    "\"rules\":[{\"proto\":\"tcp\",\"ports\":\"443\",\"direction\":\"out\"},"
	    "{\"proto\":\"icmp\"}]}],\"ike\":{\"dh_groups\":[\"x25519\"],\"esn\":false}}",
	    &cfg, err), 0);
	assert_int_equal(cfg.npeers, 1);
	p = devcfg_peer_by_name(&cfg, "hospital");
	assert_non_null(p);
	assert_ptr_equal(devcfg_peer_by_id(&cfg, "hospital"), p);
	assert_int_equal(p->ike.port, 4500);
	assert_int_equal(p->dp.nremote, 2);
	assert_int_equal(p->ike.nremote_ts, 2);
	assert_int_equal(p->ike.nlocal_ts, 1);	/* defaults to lan_prefixes */
	assert_int_equal(p->dp.nrules, 2);
	assert_int_equal(p->dp.rules[0].proto, 6);
	assert_int_equal(p->dp.rules[0].port_lo, 443);
	assert_int_equal(p->dp.rules[0].port_hi, 443);
	assert_int_equal(p->dp.rules[0].dir, DP_DIR_OUT);
	assert_int_equal(p->dp.rules[1].proto, 1);
	assert_int_equal(p->dp.rules[1].dir, DP_DIR_BOTH);
	assert_true(p->on_demand);
	assert_int_equal(cfg.ike.dh_groups[0], 31);
	assert_int_equal(cfg.ike.dh_groups[1], 0);
	assert_false(cfg.ike.esn);
	devcfg_free(&cfg);
}

static void
expect_error(const char *text, const char *needle)
{
	struct devcfg cfg;
	char err[256];

	assert_int_equal(parse(text, &cfg, err), -1);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
	assert_null(cfg.peers);
}

static void
test_mistakes_are_named(void **state)
{
	expect_error("{", "line 1");
	expect_error(BASE_HEAD ",\"colour\":1}", "unknown field \"colour\"");
	expect_error("{\"device_id\":\"x\"}", "missing field");
	expect_error(BASE_HEAD ",\"mtu\":100}", "\"mtu\"");
	expect_error(BASE_HEAD ",\"wan_address\":\"nowhere\"}", "wan_address");
	expect_error("{\"device_id\":\"c\",\"keystore\":\"/k\",\"wan_address\":\"192.0.2.1\","
	    "\"lan_prefixes\":[\"10.1.0.1/24\"]}", "host bits");
	expect_error(BASE_HEAD ",\"peers\":[{\"name\":\"h\",\"address\":\"192.0.2.2\"}]}",
	    "peers[0]");
	expect_error(BASE_HEAD ",\"peers\":[{\"name\":\"h\",\"address\":\"192.0.2.2\","
	    "\"prefixes\":[\"10.2.0.0/24\"],\"rules\":[{\"proto\":\"sctpx\"}]}]}",
	    "peers[0].rules[0]");
	expect_error(BASE_HEAD ",\"peers\":[{\"name\":\"h\",\"address\":\"192.0.2.2\","
	    "\"prefixes\":[\"10.2.0.0/24\"],\"rules\":[{\"proto\":\"icmp\",\"ports\":\"80\"}]}]}",
	    "needs \"proto\" tcp or udp");
	expect_error(BASE_HEAD ",\"peers\":[{\"name\":\"h\",\"address\":\"192.0.2.2\","
	    "\"prefixes\":[\"10.2.0.0/24\"],\"rules\":[{\"proto\":\"tcp\",\"ports\":\"90-80\"}]}]}",
	    "\"ports\"");
	expect_error(BASE_HEAD ",\"peers\":[{\"name\":\"h\",\"address\":\"192.0.2.2\","
	    "\"prefixes\":[\"10.2.0.0/24\"]},{\"name\":\"h\",\"address\":\"192.0.2.3\","
	    "\"prefixes\":[\"10.3.0.0/24\"]}]}", "used twice");
	expect_error(BASE_HEAD ",\"peers\":[{\"name\":\"h\",\"address\":\"192.0.2.2\","
	    "\"prefixes\":[\"10.2.0.0/24\"],\"local_prefixes\":[\"10.9.0.0/24\"]}]}",
	    "inside lan_prefixes");
	expect_error(BASE_HEAD ",\"ike\":{\"dh_groups\":[\"modp1024\"]}}", "dh_groups");
	expect_error(BASE_HEAD ",\"natt_port\":500}", "natt_port");
	expect_error(BASE_HEAD ",\"device_id\":\"dup\"}", "line");	/* duplicate key */
}

/* ---- control socket ---- */

struct ctl_fixture {
	struct event_base	*base;
	char			 path[108];
	struct ctl_conn		*deferred;
	int			 gone;
};

static json_t *
handle(void *arg, struct ctl_conn *c, const json_t *req)
{
	struct ctl_fixture *f = arg;
	const char *cmd = json_string_value(json_object_get(req, "cmd"));

	if (strcmp(cmd, "echo") == 0)
		return json_pack("{s:b, s:O}", "ok", 1, "req", (json_t *)req);
	if (strcmp(cmd, "later") == 0) {
		f->deferred = c;
		return NULL;
	}
	return control_error("unknown %s", cmd);
}

static void
gone(void *arg, struct ctl_conn *c)
{
	struct ctl_fixture *f = arg;

	f->gone++;
	if (f->deferred == c)
		f->deferred = NULL;
}

struct call_args {
	const char	*path;
	const char	*req;
	json_t		*reply;
	char		 err[256];
};

static void *
caller(void *arg)
{
	struct call_args *a = arg;
	json_t *req = json_loads(a->req, 0, NULL);

	a->reply = control_call(a->path, req, 3000, a->err, sizeof(a->err));
	json_decref(req);
	return NULL;
}

/* run the loop until the caller thread finishes */
static json_t *
roundtrip(struct ctl_fixture *f, const char *req, bool release_deferred, char *err)
{
	struct call_args a = { .path = f->path, .req = req };
	struct timeval tick = { 0, 10000 };
	pthread_t t;
	int spins = 0;

	pthread_create(&t, NULL, caller, &a);
	for (;;) {
		event_base_loopexit(f->base, &tick);
		event_base_dispatch(f->base);
		if (release_deferred && f->deferred != NULL) {
			control_reply(f->deferred, json_pack("{s:b, s:s}", "ok", 1, "v", "done"));
			f->deferred = NULL;
		}
		if (pthread_tryjoin_np(t, NULL) == 0)
			break;
		assert_true(++spins < 500);
	}
	if (err != NULL)
		strcpy(err, a.err);
	return a.reply;
}

static void
test_control_roundtrip(void **state)
{
	struct ctl_fixture f = { 0 };
	const struct control_ops ops = { .arg = &f, .handle = handle, .gone = gone };
	struct control *ctl;
	json_t *r;
	char err[256];

	f.base = event_base_new();
	xsnprintf(f.path, sizeof(f.path), "/tmp/odvpn-ctl-test.%d.sock", (int)getpid());
	ctl = control_new(f.base, f.path, &ops, err, sizeof(err));
	assert_non_null(ctl);

	r = roundtrip(&f, "{\"cmd\":\"echo\",\"x\":1}", false, NULL);
	assert_non_null(r);
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);

	r = roundtrip(&f, "{\"cmd\":\"nope\"}", false, NULL);
	assert_false(json_is_true(json_object_get(r, "ok")));
	assert_string_equal(json_string_value(json_object_get(r, "error")), "unknown nope");
	json_decref(r);

	r = roundtrip(&f, "{\"nocmd\":1}", false, NULL);
	assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "\"cmd\""));
	json_decref(r);

	r = roundtrip(&f, "{\"cmd\":\"later\"}", true, NULL);
	assert_string_equal(json_string_value(json_object_get(r, "v")), "done");
	json_decref(r);

	/* a second daemon on the same socket is refused while the first lives */
	assert_null(control_new(f.base, f.path, &ops, err, sizeof(err)));
	assert_non_null(strstr(err, "another odvpnd"));

	control_free(ctl);
	assert_int_not_equal(access(f.path, F_OK), 0);
	r = roundtrip(&f, "{\"cmd\":\"echo\"}", false, err);
	assert_null(r);
	assert_non_null(strstr(err, "cannot reach odvpnd"));
	event_base_free(f.base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_peer_with_rules),
		cmocka_unit_test(test_mistakes_are_named),
		cmocka_unit_test(test_control_roundtrip),
	};

	return cmocka_run_group_tests_name("device_config", tests, NULL, NULL);
}
