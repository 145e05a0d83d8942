/*
 * odvpn pki: create the two-tier PKI, manufacture devices, inspect, verify and
 * revoke certificates (SPEC REQ-PKI-1..5, docs/PKI.md). Exit codes: 0 done,
 * 1 the operation failed, 2 bad usage.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli/cli.h"
#include "lib/util.h"
#include "pki/keystore.h"
#include "pki/pki.h"

#define MAX_CENTER_NAMES	16

struct pki_sub {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*synopsis;
	const char	*help;
};

static int	pki_usage(const char *sub, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

static const struct pki_sub *sub_lookup(const char *);

static int
pki_usage(const char *sub, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "odvpn pki %s: ", sub);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: odvpn pki %s\n", sub_lookup(sub)->synopsis);
	fprintf(stderr, "'odvpn pki %s --help' explains the options.\n", sub);
	return 2;
}

static int
pki_fail(const char *sub, const struct pki_err *err)
{
	fprintf(stderr, "odvpn pki %s: %s\n", sub, err->msg[0] != '\0' ? err->msg :
	    "failed");
	return 1;
}

static int
sub_help(const char *sub)
{
	const struct pki_sub *s = sub_lookup(sub);

	printf("usage: odvpn pki %s\n\n%s", s->synopsis, s->help);
	return 0;
}

static const char *
fmt_time(int64_t t, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)xsnprintf(buf, cap, "?");
	return buf;
}

/* getopt_long over argv with argv[0] = the sub-command; -1 on a usage error */
#define OPT_HELP	'h'

static int
parse_ca(const char *s, enum pki_role *out)
{
	if (strcmp(s, "root") == 0)
		*out = PKI_ROLE_ROOT;
	else if (strcmp(s, "device") == 0 || strcmp(s, "device-ca") == 0)
		*out = PKI_ROLE_DEVICE_CA;
	else if (strcmp(s, "service") == 0 || strcmp(s, "service-ca") == 0)
		*out = PKI_ROLE_SERVICE_CA;
	else
		return -1;
	return 0;
}

/* ---- init ----------------------------------------------------------- */

static int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "alg", required_argument, NULL, 'a' },
		{ "center-name", required_argument, NULL, 'c' },
		{ "admin", required_argument, NULL, 'A' },
		{ "org", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *names[MAX_CENTER_NAMES];
	struct pki_init_opts o = { .alg = PKI_ALG_P256 };
	struct pki_err err = { "" };
	const char *dir = NULL;
	char fp[PKI_FP_HEX_MAX], path[4096];
	struct pki_dir *d;
	size_t nnames = 0;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'a':
			if (pki_alg_parse(optarg, &o.alg) == -1)
				return pki_usage(argv[0], "unknown --alg \"%s\" (p256, p384, "
				    "rsa3072)", optarg);
			break;
		case 'c':
			if (nnames == MAX_CENTER_NAMES)
				return pki_usage(argv[0], "at most %d --center-name",
				    MAX_CENTER_NAMES);
			names[nnames++] = optarg;
			break;
		case 'A':
			o.admin_name = optarg;
			break;
		case 'o':
			o.org = optarg;
			break;
		case 'f':
			o.force = true;
			break;
		case OPT_HELP:
			return sub_help(argv[0]);
		default:
			return pki_usage(argv[0], "unknown or incomplete option \"%s\"",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return pki_usage(argv[0], "unexpected argument \"%s\"", argv[optind]);
	if (dir == NULL)
		return pki_usage(argv[0], "--dir is required");
	o.center_names = names;
	o.ncenter_names = nnames;
	if (pki_dir_init(dir, &o, &err) == -1 || pki_dir_load(dir, &d, &err) == -1)
		return pki_fail(argv[0], &err);
	if (pki_fingerprint_hex(d->root, false, fp) == -1) {
		pki_dir_free(d);
		return 1;
	}
	printf("PKI created in %s (%s)\n", dir, pki_alg_name(o.alg));
	printf("  root CA          %s/%s\n", dir, PKI_FILE_ROOT);
	printf("  device CA        %s/%s   (tier 1 issuer)\n", dir, PKI_FILE_DEVICE_CA);
	printf("  service CA       %s/%s  (tier 2 issuer, run by the center)\n", dir,
	    PKI_FILE_SERVICE_CA);
	printf("  center TLS       %s/%s, chain %s/%s\n", dir, PKI_FILE_CENTER, dir,
	    PKI_FILE_CENTER_CHAIN);
	printf("  administrator    %s/%s\n", dir, PKI_FILE_ADMIN);
	printf("  CRLs             %s/{%s,%s,%s}\n", dir, PKI_FILE_ROOT_CRL,
	    PKI_FILE_DEVICE_CRL, PKI_FILE_SERVICE_CRL);
	(void)xsnprintf(path, sizeof(path), "%s/%s", dir, PKI_DIR_PRIVATE);
	printf("  private keys     %s/ (key store, files 0600)\n", path);
	printf("root SHA-256 fingerprint (pin this on every device):\n%s\n", fp);
	pki_dir_free(d);
	return 0;
}

/* ---- issue-device / issue-service ----------------------------------- */

/*
 * Both make a key inside a device's key store and a certificate for it:
 * issue-device the tier-1 device certificate (manufacture), issue-service the
 * tier-2 service certificate from a CSR, as enrolment would (standalone
 * operation without a center).
 */
static int
cmd_issue(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "device-id", required_argument, NULL, 'i' },
		{ "keystore", required_argument, NULL, 'k' },
		{ "alg", required_argument, NULL, 'a' },
		{ "days", required_argument, NULL, 'D' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	bool service = strcmp(argv[0], "issue-service") == 0, force = false;
	const char *dir = NULL, *id = NULL, *ksuri = NULL;
	enum pki_alg alg = PKI_ALG_NONE;
	struct pki_err err = { "" };
	char serial[PKI_SERIAL_HEX_MAX], t[32], *end;
	struct keystore *ks = NULL;
	struct pki_dir *d = NULL;
	int64_t lifetime = 0;
	X509 *cert = NULL;
	int c, r = 1;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'k':
			ksuri = optarg;
			break;
		case 'a':
			if (service)
				return pki_usage(argv[0], "--alg is the service CA's for a "
				    "service key");
			if (pki_alg_parse(optarg, &alg) == -1)
				return pki_usage(argv[0], "unknown --alg \"%s\" (p256, p384, "
				    "rsa3072)", optarg);
			break;
		case 'D':
			lifetime = strtoll(optarg, &end, 10) * PKI_DAY;
			if (!service || *optarg == '\0' || *end != '\0' || lifetime <= 0 ||
			    lifetime > 3650 * PKI_DAY)
				return pki_usage(argv[0], "--days (issue-service only) must be "
				    "1 to 3650");
			break;
		case 'f':
			force = true;
			break;
		case OPT_HELP:
			return sub_help(argv[0]);
		default:
			return pki_usage(argv[0], "unknown or incomplete option \"%s\"",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return pki_usage(argv[0], "unexpected argument \"%s\"", argv[optind]);
	if (dir == NULL || id == NULL || ksuri == NULL)
		return pki_usage(argv[0], "--dir, --device-id and --keystore are required");
	if (!pki_device_id_valid(id))
		return pki_usage(argv[0], "\"%s\" is not a valid device id (lower-case host "
		    "name: letters, digits, '-' and '.', at most 64 characters)", id);
	if (pki_dir_load(dir, &d, &err) == -1 ||
	    keystore_open(ksuri, KEYSTORE_CREATE, &ks, &err) == -1 ||
	    (service ? pki_dir_issue_service(d, ks, id, lifetime, force, &cert, &err) :
	    pki_dir_issue_device(d, ks, id, alg, force, &cert, &err)) == -1) {
		r = pki_fail(argv[0], &err);
		goto out;
	}
	(void)pki_cert_serial(cert, serial);
	printf("device %s: %s key generated inside key store %s (label \"%s\")\n", id,
	    service ? "service" : "device", ksuri, service ? PKI_LABEL_SERVICE :
	    PKI_LABEL_DEVICE);
	printf("device %s: %s certificate serial %s, valid until %s\n", id,
	    service ? "tier-2 service" : "tier-1", serial,
	    fmt_time(pki_cert_not_after(cert), t, sizeof(t)));
	r = 0;
out:
	X509_free(cert);
	keystore_close(ks);
	pki_dir_free(d);
	return r;
}

/* ---- show / fingerprint --------------------------------------------- */

static const char *
role_blurb(enum pki_role r)
{
	switch (r) {
	case PKI_ROLE_DEVICE:
		return "device (tier 1: enrolment and renewal only)";
	case PKI_ROLE_SERVICE:
		return "service (tier 2: IKE and control channel)";
	case PKI_ROLE_CENTER:
		return "center (TLS server)";
	case PKI_ROLE_ADMIN:
		return "admin (administrator TLS client)";
	case PKI_ROLE_ROOT:
		return "root CA (accreditation authority)";
	case PKI_ROLE_DEVICE_CA:
		return "device CA (issues tier 1)";
	case PKI_ROLE_SERVICE_CA:
		return "service CA (issues tier 2, center, admin)";
	default:
		return "none (not an odvpn profile)";
	}
}

static void
print_name(const char *label, const X509_NAME *n)
{
	char buf[512];
	BIO *b = BIO_new(BIO_s_mem());
	int len;

	if (b == NULL)
		return;
	X509_NAME_print_ex(b, n, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
	len = BIO_read(b, buf, sizeof(buf) - 1);
	buf[len > 0 ? len : 0] = '\0';
	printf("%-12s %s\n", label, buf);
	BIO_free(b);
}

static void
print_san(X509 *x)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);

	if (gens == NULL)
		return;
	printf("%-12s", "names:");
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *p;
		int len;

		if (g->type == GEN_DNS) {
			p = ASN1_STRING_get0_data(g->d.dNSName);
			len = ASN1_STRING_length(g->d.dNSName);
			printf(" DNS:%.*s", len, (const char *)p);
		} else if (g->type == GEN_IPADD) {
			char ip[INET6_ADDRSTRLEN];

			p = ASN1_STRING_get0_data(g->d.iPAddress);
			len = ASN1_STRING_length(g->d.iPAddress);
			if (inet_ntop(len == 4 ? AF_INET : AF_INET6, p, ip, sizeof(ip)) ==
			    NULL || (len != 4 && len != 16))
				(void)xsnprintf(ip, sizeof(ip), "?");
			printf(" IP:%s", ip);
		} else
			printf(" (type %d)", g->type);
	}
	printf("\n");
	GENERAL_NAMES_free(gens);
}

static int
one_cert_opt(int argc, char **argv, const char **file, bool *colons)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "colons", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*file = optarg;
			break;
		case 'C':
			if (colons == NULL)
				return pki_usage(argv[0], "unknown option \"--colons\"");
			*colons = true;
			break;
		case OPT_HELP:
			(void)sub_help(argv[0]);
			return 0;
		default:
			return pki_usage(argv[0], "unknown or incomplete option \"%s\"",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return pki_usage(argv[0], "unexpected argument \"%s\"", argv[optind]);
	if (*file == NULL)
		return pki_usage(argv[0], "--cert is required");
	return -1;	/* go on */
}

static int
cmd_show(int argc, char **argv)
{
	struct pki_err err = { "" };
	const char *file = NULL;
	char serial[PKI_SERIAL_HEX_MAX], fp[PKI_FP_HEX_MAX], t1[32], t2[32];
	enum pki_alg alg;
	X509 *x;
	int r;

	if ((r = one_cert_opt(argc, argv, &file, NULL)) != -1)
		return r;
	if (pki_cert_load(file, &x, &err) == -1)
		return pki_fail(argv[0], &err);
	print_name("subject:", X509_get_subject_name(x));
	print_name("issuer:", X509_get_issuer_name(x));
	printf("%-12s %s\n", "role:", role_blurb(pki_cert_role(x)));
	if (pki_cert_serial(x, serial) == -1)
		(void)xsnprintf(serial, sizeof(serial), "(malformed)");
	printf("%-12s %s\n", "serial:", serial);
	printf("%-12s %s .. %s\n", "valid:",
	    fmt_time(pki_cert_not_before(x), t1, sizeof(t1)),
	    fmt_time(pki_cert_not_after(x), t2, sizeof(t2)));
	if (X509_get0_pubkey(x) != NULL &&
	    pki_key_allowed(X509_get0_pubkey(x), &alg, NULL) == 0)
		printf("%-12s %s\n", "key:", pki_alg_name(alg));
	else
		printf("%-12s %s\n", "key:", "(not an allowed key type)");
	print_san(x);
	(void)pki_fingerprint_hex(x, true, fp);
	printf("%-12s %s\n", "sha256:", fp);
	X509_free(x);
	return 0;
}

static int
cmd_fingerprint(int argc, char **argv)
{
	struct pki_err err = { "" };
	const char *file = NULL;
	char fp[PKI_FP_HEX_MAX];
	bool colons = false;
	X509 *x;
	int r;

	if ((r = one_cert_opt(argc, argv, &file, &colons)) != -1)
		return r;
	if (pki_cert_load(file, &x, &err) == -1)
		return pki_fail(argv[0], &err);
	(void)pki_fingerprint_hex(x, colons, fp);
	printf("%s\n", fp);
	X509_free(x);
	return 0;
}

/* ---- verify --------------------------------------------------------- */

static int
cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "cert", required_argument, NULL, 'c' },
		{ "role", required_argument, NULL, 'r' },
		{ "identity", required_argument, NULL, 'i' },
		{ "pin", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct pki_verify_opts vo = { 0 };
	struct pki_err err = { "" };
	const char *dir = NULL, *file = NULL, *pin = NULL;
	struct pki_trust *t = NULL;
	struct pki_dir *d = NULL;
	STACK_OF(X509) *certs = NULL;
	enum pki_role role;
	uint8_t *buf = NULL;
	size_t len;
	char cn[PKI_NAME_MAX];
	X509 *leaf;
	int c, r = 1;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'c':
			file = optarg;
			break;
		case 'r':
			if (pki_role_parse(optarg, &role) == -1 || role > PKI_ROLE_ADMIN)
				return pki_usage(argv[0], "unknown --role \"%s\" (device, "
				    "service, center, admin)", optarg);
			vo.roles |= PKI_ROLE_BIT(role);
			break;
		case 'i':
			vo.identity = optarg;
			break;
		case 'p':
			pin = optarg;
			break;
		case OPT_HELP:
			return sub_help(argv[0]);
		default:
			return pki_usage(argv[0], "unknown or incomplete option \"%s\"",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return pki_usage(argv[0], "unexpected argument \"%s\"", argv[optind]);
	if (dir == NULL || file == NULL)
		return pki_usage(argv[0], "--dir and --cert are required");
	if (vo.roles == 0)
		vo.roles = PKI_ROLE_BIT(PKI_ROLE_DEVICE) | PKI_ROLE_BIT(PKI_ROLE_SERVICE) |
		    PKI_ROLE_BIT(PKI_ROLE_CENTER) | PKI_ROLE_BIT(PKI_ROLE_ADMIN);
	if (file_read_all(file, PKI_INPUT_MAX, &buf, &len) == -1) {
		fprintf(stderr, "odvpn pki %s: %s: cannot read\n", argv[0], file);
		return 1;
	}
	/* the first certificate is the leaf, any others are its chain */
	if (pki_certs_parse(buf, len, &certs, &err) == -1 ||
	    pki_dir_load(dir, &d, &err) == -1 ||
	    (pin != NULL && pki_pin_check(d->root, pin, &err) == -1) ||
	    pki_dir_trust(d, &t, &err) == -1)
		goto fail;
	leaf = sk_X509_shift(certs);
	vo.chain = certs;
	r = pki_verify(t, leaf, &vo, &role, &err);
	if (r == 0) {
		(void)pki_cert_cn(leaf, cn, sizeof(cn));
		printf("ok: %s certificate %s\n", pki_role_name(role), cn);
	}
	X509_free(leaf);
	if (r == -1)
		goto fail;
	goto out;
fail:
	r = pki_fail(argv[0], &err);
out:
	free(buf);
	sk_X509_pop_free(certs, X509_free);
	pki_trust_free(t);
	pki_dir_free(d);
	return r;
}

/* ---- revoke / crl --------------------------------------------------- */

static int
cmd_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "serial", required_argument, NULL, 's' },
		{ "ca", required_argument, NULL, 'c' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	enum pki_crl_reason reason = PKI_REASON_UNSPECIFIED;
	enum pki_role ca = PKI_ROLE_NONE, used;
	struct pki_err err = { "" };
	const char *dir = NULL, *serial = NULL;
	char canon[PKI_SERIAL_HEX_MAX];
	struct pki_dir *d;
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 's':
			serial = optarg;
			break;
		case 'c':
			if (parse_ca(optarg, &ca) == -1)
				return pki_usage(argv[0], "unknown --ca \"%s\" (root, device, "
				    "service)", optarg);
			break;
		case 'r':
			if (pki_crl_reason_parse(optarg, &reason) == -1)
				return pki_usage(argv[0], "unknown --reason \"%s\" (e.g. "
				    "keyCompromise, cACompromise, superseded, "
				    "cessationOfOperation)", optarg);
			break;
		case OPT_HELP:
			return sub_help(argv[0]);
		default:
			return pki_usage(argv[0], "unknown or incomplete option \"%s\"",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return pki_usage(argv[0], "unexpected argument \"%s\"", argv[optind]);
	if (dir == NULL || serial == NULL)
		return pki_usage(argv[0], "--dir and --serial are required");
	if (pki_serial_parse(serial, canon, &err) == -1)
		return pki_usage(argv[0], "%s", err.msg);
	if (pki_dir_load(dir, &d, &err) == -1)
		return pki_fail(argv[0], &err);
	r = pki_dir_revoke(d, canon, ca, reason, &used, &err);
	if (r == 0)
		printf("serial %s revoked (%s) on the %s CRL, number %llu\n", canon,
		    pki_crl_reason_name(reason), pki_role_name(used),
		    (unsigned long long)pki_crl_number(used == PKI_ROLE_ROOT ? d->root_crl :
		    used == PKI_ROLE_DEVICE_CA ? d->device_crl : d->service_crl));
	else
		r = pki_fail(argv[0], &err);
	pki_dir_free(d);
	return r;
}

static int
cmd_crl(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "ca", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	static const enum pki_role all[] = { PKI_ROLE_ROOT, PKI_ROLE_DEVICE_CA,
	    PKI_ROLE_SERVICE_CA };
	enum pki_role ca = PKI_ROLE_NONE;
	struct pki_err err = { "" };
	const char *dir = NULL;
	struct pki_dir *d;
	int c, r = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'c':
			if (parse_ca(optarg, &ca) == -1)
				return pki_usage(argv[0], "unknown --ca \"%s\" (root, device, "
				    "service)", optarg);
			break;
		case OPT_HELP:
			return sub_help(argv[0]);
		default:
			return pki_usage(argv[0], "unknown or incomplete option \"%s\"",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return pki_usage(argv[0], "unexpected argument \"%s\"", argv[optind]);
	if (dir == NULL)
		return pki_usage(argv[0], "--dir is required");
	if (pki_dir_load(dir, &d, &err) == -1)
		return pki_fail(argv[0], &err);
	for (size_t i = 0; i < nitems(all) && r == 0; i++) {
		if (ca != PKI_ROLE_NONE && ca != all[i])
			continue;
		if (pki_dir_crl_refresh(d, all[i], &err) == -1)
			r = pki_fail(argv[0], &err);
		else
			printf("%s CRL re-signed\n", pki_role_name(all[i]));
	}
	pki_dir_free(d);
	return r;
}

static int
cmd_rekey_ca(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "ca", required_argument, NULL, 'c' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	enum pki_crl_reason reason = PKI_REASON_CA_COMPROMISE;
	enum pki_role ca = PKI_ROLE_NONE;
	struct pki_err err = { "" };
	const char *dir = NULL;
	char serial[PKI_SERIAL_HEX_MAX], fp[PKI_FP_HEX_MAX];
	struct pki_dir *d;
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'c':
			if (parse_ca(optarg, &ca) == -1 || ca == PKI_ROLE_ROOT)
				return pki_usage(argv[0], "--ca must be device or service (a "
				    "new root is a new PKI: pki init --force)");
			break;
		case 'r':
			if (pki_crl_reason_parse(optarg, &reason) == -1)
				return pki_usage(argv[0], "unknown --reason \"%s\" (e.g. "
				    "cACompromise, superseded)", optarg);
			break;
		case OPT_HELP:
			return sub_help(argv[0]);
		default:
			return pki_usage(argv[0], "unknown or incomplete option \"%s\"",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return pki_usage(argv[0], "unexpected argument \"%s\"", argv[optind]);
	if (dir == NULL || ca == PKI_ROLE_NONE)
		return pki_usage(argv[0], "--dir and --ca are required");
	if (pki_dir_load(dir, &d, &err) == -1)
		return pki_fail(argv[0], &err);
	if ((r = pki_dir_rekey_ca(d, ca, reason, &err)) == 0) {
		X509 *x = ca == PKI_ROLE_DEVICE_CA ? d->device_ca : d->service_ca;

		(void)pki_cert_serial(x, serial);
		(void)pki_fingerprint_hex(d->root, false, fp);
		printf("%s re-keyed: new certificate serial %s; the old one is revoked (%s) "
		    "on the root CRL\n", pki_role_name(ca), serial, pki_crl_reason_name(reason));
		if (ca == PKI_ROLE_SERVICE_CA)
			printf("center and admin certificates re-issued; restart the center, "
			    "devices re-enrol for new service certificates\n");
		else
			printf("every device certificate must be re-issued (pki issue-device "
			    "--force)\n");
		printf("root unchanged (pin stays %s)\n", fp);
	} else
		r = pki_fail(argv[0], &err);
	pki_dir_free(d);
	return r;
}

/* ---- dispatch ------------------------------------------------------- */

static const struct pki_sub subs[] = {
	{ "init", cmd_init,
	  "init --dir D [--alg p256|p384|rsa3072] [--center-name NAME ...] [--admin NAME] "
	  "[--org ORG] [--force]",
	  "Create the root CA, the device CA (tier 1), the service CA (tier 2), the\n"
	  "center's TLS certificate, an administrator certificate, empty CRLs, and a\n"
	  "file key store D/private holding their private keys. Prints the root's\n"
	  "SHA-256 fingerprint, which every device pins.\n\n"
	  "  --dir D            directory to create the PKI in\n"
	  "  --alg A            p256 (default), p384 or rsa3072, for every key\n"
	  "  --center-name N    DNS name or IP address of the center (repeatable;\n"
	  "                     default: localhost and 127.0.0.1)\n"
	  "  --admin NAME       CN of the administrator certificate (default: admin)\n"
	  "  --org ORG          organisation (O) in every subject (default: odvpn)\n"
	  "  --force            replace an existing PKI in D (its keys are deleted)\n" },
	{ "issue-device", cmd_issue,
	  "issue-device --dir D --device-id ID --keystore K [--alg A] [--force]",
	  "Manufacture a device: generate its key inside key store K (created if\n"
	  "missing) and issue its tier-1 device certificate from the device CA of D.\n"
	  "K then holds the key and certificate (label \"device\"), the device CA and\n"
	  "the root certificate.\n\n"
	  "  --dir D            PKI directory (from pki init)\n"
	  "  --device-id ID     lower-case host name, at most 64 characters\n"
	  "  --keystore K       key store: file:/path or a directory path\n"
	  "  --alg A            p256, p384 or rsa3072 (default: the device CA's)\n"
	  "  --force            replace a device key already in K\n" },
	{ "issue-service", cmd_issue,
	  "issue-service --dir D --device-id ID --keystore K [--days N] [--force]",
	  "Standalone operation, without a center: generate a service key inside key\n"
	  "store K, make a CSR from it and have the service CA of D issue the tier-2\n"
	  "service certificate for device ID (the same profile enrolment gives). K then\n"
	  "holds the service key and certificate (label \"service\"), the service CA and\n"
	  "the root certificate: what odvpnd needs for IKE.\n\n"
	  "  --dir D            PKI directory (from pki init)\n"
	  "  --device-id ID     the device's id (its IKE identity)\n"
	  "  --keystore K       key store: file:/path or a directory path\n"
	  "  --days N           validity (default 30)\n"
	  "  --force            replace a service key already in K\n" },
	{ "show", cmd_show,
	  "show --cert F",
	  "Print a certificate's subject, issuer, role (tier), serial, validity, key,\n"
	  "names and SHA-256 fingerprint. F is PEM or DER.\n" },
	{ "fingerprint", cmd_fingerprint,
	  "fingerprint --cert F [--colons]",
	  "Print the SHA-256 fingerprint of a certificate (lower-case hex), the value\n"
	  "devices pin for the root.\n\n"
	  "  --colons           separate octets with ':'\n" },
	{ "verify", cmd_verify,
	  "verify --dir D --cert F [--role R ...] [--identity ID] [--pin FP]",
	  "Verify a certificate (F: PEM, leaf first, optional chain after it) with\n"
	  "the product's verifier against the PKI in D: chain to the root, role of\n"
	  "leaf and issuing CA, validity, CRLs, identity.\n\n"
	  "  --role R           device, service, center or admin (repeatable;\n"
	  "                     default: any)\n"
	  "  --identity ID      expected device id / center name / admin name\n"
	  "  --pin FP           also check D's root against this fingerprint\n" },
	{ "revoke", cmd_revoke,
	  "revoke --dir D --serial S [--ca root|device|service] [--reason R]",
	  "Revoke a certificate by serial: add it to the CRL of the CA that issued it\n"
	  "(found in D/index.txt, or named with --ca) and re-sign that CRL. Service\n"
	  "certificates are normally revoked through the center.\n\n"
	  "  --reason R         RFC 5280 reason: keyCompromise, cACompromise,\n"
	  "                     affiliationChanged, superseded, cessationOfOperation,\n"
	  "                     certificateHold, privilegeWithdrawn, unspecified (default)\n" },
	{ "rekey-ca", cmd_rekey_ca,
	  "rekey-ca --dir D --ca device|service [--reason R]",
	  "Replace a tier CA whose key is compromised (or due for rotation): its key\n"
	  "is deleted and a new one generated, the root issues a new CA certificate,\n"
	  "its CRL starts empty, and the old CA is revoked on the root's CRL. For the\n"
	  "service CA the center and admin certificates are re-issued. Everything the\n"
	  "old CA issued stops verifying. The root, and so the devices' pin, stay.\n\n"
	  "  --reason R         cACompromise (default) or superseded\n" },
	{ "crl", cmd_crl,
	  "crl --dir D [--ca root|device|service]",
	  "Re-sign the CRLs of D (or of one CA) with fresh dates and the next number,\n"
	  "before their nextUpdate passes.\n" },
};

static const struct pki_sub *
sub_lookup(const char *name)
{
	for (size_t i = 0; i < nitems(subs); i++)
		if (strcmp(subs[i].name, name) == 0)
			return &subs[i];
	return &subs[0];
}

static void
pki_help(FILE *f)
{
	fprintf(f, "usage: odvpn pki <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < nitems(subs); i++)
		fprintf(f, "  %s\n", subs[i].synopsis);
	fprintf(f, "\n'odvpn pki <command> --help' explains a command.\n");
}

int
cmd_pki(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "odvpn pki: a command is required\n");
		pki_help(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		pki_help(stdout);
		return 0;
	}
	for (size_t i = 0; i < nitems(subs); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "odvpn pki: unknown command \"%s\"\n", argv[1]);
	pki_help(stderr);
	return 2;
}
