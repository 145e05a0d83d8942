#!/bin/bash
# The managed mesh end to end (SPEC §3): a center and three sites in network
# namespaces; odvpnd in managed mode at each site enrols itself, follows the
# center's configuration document, applies for connections on demand and
# closes tunnels when the center revokes or withdraws.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sites.inc"
. "$(dirname "$0")/managed.inc"

sites_topology a b c
center_topology
check "PKI made" sh -c "$ODVPN pki init --dir $T_DIR/pki --center-name $C_IP >$T_DIR/pki-init.log 2>&1"
check "center starts" center_up
check "organisations, sites, groups and rules registered" m_register
for x in a b c; do
	check "device site-$x manufactured and registered" m_device $x
	m_config $x
done
for x in a b c; do
	check "odvpnd at site $x enrols itself and starts (managed)" m_start $x
done
check_eq "site a's service certificate is issued by the center" "enrolled" \
    "$(adm --json device show site-a | jget status)"
check_eq "site a knows two sites (b and c), none granted yet" "false false" \
    "$(peer_field a clin granted) $(peer_field a lab granted)"
check_eq "site b knows one site (a): b and c share no group" "1" \
    "$(ctl b peers --json | jget peers len)"

t0=$(ms_now)
check "first ping clin -> hosp answered: application, grant, tunnel, on demand" \
    in_host b ping -c 1 -W 5 10.1.0.2
diag "managed first packet (application + grant + IKE): $(( $(ms_now) - t0 )) ms"
check_eq "site b holds a grant toward hosp" "true" "$(peer_field b hosp granted)"
check_eq "site a learned the grant by push" "true" "$(peer_field a clin granted)"
check "ping lab -> hosp answered" in_host c ping -c 1 -W 5 10.1.0.2
check_fails "clin cannot reach lab: no common group" in_host b ping -c 1 -W 2 10.3.0.2
check_fails "odvpn connect lab at clin is refused" ctl b connect lab
check "the center recorded the denial with its reason" audit_has connection.denied "share no group"

t0=$(ms_now)
adm revoke device site-c >/dev/null 2>&1
check "hosp closes the tunnel with the revoked lab within 1 s" \
    wait_for 1 no_child a lab
diag "revocation propagation: $(( $(ms_now) - t0 )) ms"
check_fails "lab can no longer reach hosp" in_host c ping -c 1 -W 2 10.1.0.2
[ -n "${DEBUG_STOP:-}" ] && { adm --json audit > $T_DIR/audit.json; ctl a status --json > $T_DIR/a-status.json; }
t_done
