/* Names for the IANA code points of ike_iana.h, generated from the same lists. */
#include <stddef.h>

#include "device/ike/ike_iana.h"

struct ike_name {
	unsigned	 value;
	const char	*name;
};

#define IKE_NAME(n, v)	{ v, #n },

static const struct ike_name exchange_names[] = { IKE_EXCHANGE_LIST(IKE_NAME) };
static const struct ike_name payload_names[] = { IKE_PAYLOAD_LIST(IKE_NAME) };
static const struct ike_name notify_names[] = { IKE_NOTIFY_LIST(IKE_NAME) };
static const struct ike_name xform_type_names[] = { IKE_XFORM_TYPE_LIST(IKE_NAME) };
static const struct ike_name encr_names[] = { IKE_ENCR_LIST(IKE_NAME) };
static const struct ike_name prf_names[] = { IKE_PRF_LIST(IKE_NAME) };
static const struct ike_name dh_names[] = { IKE_DH_LIST(IKE_NAME) };

static const char *
lookup(const struct ike_name *t, size_t n, unsigned v)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].value == v)
			return t[i].name;
	return "UNKNOWN";
}

#define IKE_NAME_FN(fn, table)						\
const char *								\
fn(unsigned v)								\
{									\
	return lookup(table, sizeof(table) / sizeof(table[0]), v);	\
}

IKE_NAME_FN(ike_exchange_name, exchange_names)
IKE_NAME_FN(ike_payload_name, payload_names)
IKE_NAME_FN(ike_notify_name, notify_names)
IKE_NAME_FN(ike_xform_type_name, xform_type_names)
IKE_NAME_FN(ike_encr_name, encr_names)
IKE_NAME_FN(ike_prf_name, prf_names)
IKE_NAME_FN(ike_dh_name, dh_names)
