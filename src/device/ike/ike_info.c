/*
 * INFORMATIONAL (RFC 7296 §1.4): Delete of the IKE SA or of CHILD SAs, liveness
 * checks (an empty request, §2.4), and error notifies.
 *
 *   HDR, SK { [N,] [D,] ... }  -->  <--  HDR, SK { [N,] [D,] ... }
 *
 * A CHILD SA Delete carries the sender's inbound SPI; the answer carries ours
 * for the same pairs, except those we are deleting ourselves (§1.4.1).
 */
#include <string.h>

#include "device/ike/ike_local.h"
#include "lib/log.h"
#include "lib/util.h"

int
ike_info_delete_ike(struct ike_sa *sa)
{
	uint8_t buf[64];
	struct ike_chain c;

	while (sa->children != NULL)
		ike_child_remove(sa, sa->children, "IKE SA deleted");
	sa->state = IKE_ST_DELETING;
	ike_sa_clear_ctx(sa);
	ike_chain_init(&c, buf, sizeof(buf));
	ike_pld_delete_build(&c, IKE_PROTO_IKE, 0, 0, NULL);
	sa->ctx.kind = REQ_DELETE_IKE;
	log_info("ike sa=%llu peer=%s: deleting IKE SA", (unsigned long long)sa->id,
	    ike_sa_peer_name(sa));
	if (ike_msg_send_request(sa, IKE_X_INFORMATIONAL, &c) == -1) {
		ike_sa_kill(sa, "deleted");
		return -1;
	}
	return 0;
}

int
ike_info_delete_child(struct ike_sa *sa, struct ike_child *child)
{
	uint8_t buf[64], spi[4];
	struct ike_chain c;

	store_be32(spi, child->spi_in);
	child->state = CHILD_DELETING;
	ike_sa_clear_ctx(sa);
	ike_chain_init(&c, buf, sizeof(buf));
	ike_pld_delete_build(&c, IKE_PROTO_ESP, 4, 1, spi);
	sa->ctx.kind = REQ_DELETE_CHILD;
	sa->ctx.old_spi = child->spi_in;
	if (ike_msg_send_request(sa, IKE_X_INFORMATIONAL, &c) == -1) {
		ike_child_remove(sa, child, "deleted");
		ike_sa_clear_ctx(sa);
		return -1;
	}
	return 0;
}

int
ike_info_liveness(struct ike_sa *sa)
{
	struct ike_chain c;

	ike_sa_clear_ctx(sa);
	ike_chain_init(&c, NULL, 0);
	sa->ctx.kind = REQ_LIVENESS;
	return ike_msg_send_request(sa, IKE_X_INFORMATIONAL, &c);
}

/* fire and forget: the caller is about to drop the SA */
void
ike_info_notify(struct ike_sa *sa, uint16_t type)
{
	uint8_t buf[64];
	struct ike_chain c;

	if (sa->req.active)
		return;
	ike_chain_init(&c, buf, sizeof(buf));
	ike_pld_notify_build(&c, 0, NULL, 0, type, NULL, 0);
	sa->ctx.kind = REQ_NOTIFY;
	ike_msg_send_request(sa, IKE_X_INFORMATIONAL, &c);
}

void
ike_info_request(struct ike_sa *sa, struct ike_msg *m)
{
	struct ike_engine *e = sa->eng;
	uint8_t buf[4 + 4 + 4 * 64], spis[4 * 64];
	uint16_t nspis = 0;
	bool delete_ike = false;
	const struct ike_pl_notify *n;
	struct ike_chain c;

	for (size_t i = 0; i < m->ndel; i++) {
		const struct ike_pl_delete *d = &m->del[i];

		if (d->proto == IKE_PROTO_IKE) {
			delete_ike = true;
			continue;
		}
		if (d->proto != IKE_PROTO_ESP)
			continue;
		for (uint16_t j = 0; j < d->nspi; j++) {
			struct ike_child *child = ike_child_by_out(sa,
			    ike_pld_delete_spi(d, j));

			if (child == NULL)
				continue;
			if (child->state != CHILD_DELETING && nspis < 64)
				store_be32(spis + 4 * nspis++, child->spi_in);
			ike_child_remove(sa, child, "deleted by peer");
		}
	}
	ike_chain_init(&c, buf, sizeof(buf));
	if (delete_ike) {
		ike_msg_send_response(sa, IKE_X_INFORMATIONAL, m->hdr.msgid, &c);
		if (sa->ctx.kind == REQ_REKEY_IKE && sa->ctx.collision) {
			/* the peer finished its rekey first (§2.8.2): its SA carries on */
			struct ike_sa *nsa = ike_sa_by_id(e, sa->ctx.coll_sa_id);

			if (nsa != NULL) {
				ike_sa_adopt_children(nsa, sa);
				sa->quiet = true;
			}
		}
		log_info("ike sa=%llu peer=%s: IKE SA deleted by peer", (unsigned long long)sa->id,
		    ike_sa_peer_name(sa));
		ike_sa_kill(sa, "deleted by peer");
		return;
	}
	if (nspis > 0)
		ike_pld_delete_build(&c, IKE_PROTO_ESP, 4, nspis, spis);
	ike_msg_send_response(sa, IKE_X_INFORMATIONAL, m->hdr.msgid, &c);
	if ((n = ike_msg_notify(m, IKE_N_AUTHENTICATION_FAILED)) != NULL) {
		/* §2.21.2: the initiator did not accept our authentication */
		e->stats.auth_failed++;
		ike_event(e, IKE_EV_AUTH_FAILED, ike_sa_peer_name(sa),
		    "the peer refused our authentication");
		ike_sa_kill(sa, "peer refused our authentication");
	} else if ((n = ike_msg_error(m)) != NULL)
		log_info("ike sa=%llu: peer reports %s", (unsigned long long)sa->id,
		    ike_notify_name(n->type));
}

void
ike_info_response(struct ike_sa *sa, struct ike_msg *m)
{
	struct ike_child *child;

	switch (sa->ctx.kind) {
	case REQ_DELETE_IKE:
	case REQ_NOTIFY:
		ike_sa_kill(sa, "deleted");
		break;
	case REQ_DELETE_CHILD:
		if ((child = ike_child_by_in(sa, sa->ctx.old_spi)) != NULL)
			ike_child_remove(sa, child, "deleted");
		break;
	default:
		break;
	}
	ike_sa_clear_ctx(sa);
}
