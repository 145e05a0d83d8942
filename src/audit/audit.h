/*
 * Audit records (SPEC REQ-AUD-1, REQ-AUD-3), shared by the center and the devices.
 *
 * A record is append-only and hash-chained: each carries the SHA-256 of the
 * record before it, and its own hash covers every field plus that link, so
 * changing, removing or reordering any record breaks every hash after it.
 * audit_hash() defines the one canonical encoding; a store (the center's SQL
 * table, or the JSON-lines file below) only keeps the fields and the two hashes.
 *
 * Canonical encoding hashed by audit_hash (all integers big-endian):
 *   "odvpn-audit-v1" NUL
 *   u64 seq, i64 time_ms
 *   for each of kind, actor, org, site, device, detail:
 *       u8 present (0/1), then if present: u32 length, the bytes
 *   i64 grant
 *   prev[32]
 *
 * Signed checkpoints over the chain head are a later step (REQ-AUD-3).
 */
#ifndef ODVPN_AUDIT_AUDIT_H
#define ODVPN_AUDIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_HASH_LEN		32
#define AUDIT_HASH_HEX		(2 * AUDIT_HASH_LEN + 1)
#define AUDIT_KIND_MAX		64
#define AUDIT_LINE_MAX		(64 * 1024)	/* one JSON line in a file log */

/*
 * One record. Strings are borrowed from the caller; NULL means absent (hashed as
 * absent, which differs from the empty string). detail is a JSON object in
 * compact text form, as stored (the hash is over these exact bytes).
 */
struct audit_rec {
	uint64_t	 seq;			/* 1, 2, 3… within one chain */
	int64_t		 time_ms;		/* wall clock, Unix epoch, UTC */
	const char	*kind;			/* "grant.issued", "device.sa_up", … */
	const char	*actor;			/* "admin:<CN>", "device:<id>", "center" */
	const char	*org;
	const char	*site;
	const char	*device;
	int64_t		 grant;			/* 0: none */
	const char	*detail;
	uint8_t		 prev[AUDIT_HASH_LEN];	/* hash of record seq-1; zero for seq 1 */
};

/* the record's hash over the canonical encoding above */
void	audit_hash(const struct audit_rec *, uint8_t out[AUDIT_HASH_LEN]);

/*
 * Chain verification, one record at a time in seq order. Start with
 * audit_verify_init; audit_verify_next checks the record follows the previous one
 * (seq + 1, prev equal to its hash) and that hash is the record's true hash
 * (CRYPTO_memcmp). 0 accepts; -1 refuses with a reason in err.
 */
struct audit_verifier {
	uint64_t	next_seq;
	uint8_t		prev[AUDIT_HASH_LEN];
	uint64_t	count;
};

void	audit_verify_init(struct audit_verifier *);
int	audit_verify_next(struct audit_verifier *, const struct audit_rec *,
	    const uint8_t hash[AUDIT_HASH_LEN], char *err, size_t errlen);

/*
 * A chain kept as a JSON-lines file (a device's local trail), one record per
 * line: {"seq":…,"time_ms":…,"kind":…,"actor":…,["org"…,"site"…,"device"…,
 * "grant"…,]"detail":{…},"prev":"hex","hash":"hex"}.
 * audit_log_open verifies the whole file and continues its chain; append fills
 * rec->seq and rec->prev, writes the line with one write(2) and fsyncs.
 */
struct audit_log;

struct audit_log *audit_log_open(const char *path, char *err, size_t errlen);
void	audit_log_close(struct audit_log *);
/* rec->seq and rec->prev are set here; hash_out (may be NULL) receives the hash */
int	audit_log_append(struct audit_log *, struct audit_rec *,
	    uint8_t hash_out[AUDIT_HASH_LEN], char *err, size_t errlen);
uint64_t audit_log_count(const struct audit_log *);
/* verify a file; *count (may be NULL) receives the number of good records */
int	audit_log_verify(const char *path, uint64_t *count, char *err, size_t errlen);

#endif
