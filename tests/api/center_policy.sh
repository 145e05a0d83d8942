#!/bin/bash
# odvpn-center: connection applications (接続申請) end to end. Groups gate every
# connection (REQ-GRP-1); the effective policy is provider ∩ initiator's
# organisation ∩ responder's organisation (REQ-CON-2); a grant reaches both
# devices with the flows per direction (REQ-CON-3); decisions are audited
# (REQ-CON-1).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/center_lib.inc"

pki_make || { not_ok "odvpn pki init"; t_done; exit 1; }
center_start

setup() {
	adm org add hosp --kind large_institution &&
	adm org add clinicco --kind small_institution &&
	adm org add labco --kind small_institution &&
	adm org add ctvendor --kind vendor &&
	adm site add hosp-main --org hosp --prefix 10.1.0.0/24 --zone imaging=10.1.0.128/25 \
	    --wan 192.0.2.1 &&
	adm site add clinic --org clinicco --prefix 10.2.0.0/24 --wan 192.0.2.2 &&
	adm site add lab --org labco --prefix 10.3.0.0/24 --wan 192.0.2.3 --wan-port 4501 &&
	adm site add vendor --org ctvendor --prefix 10.4.0.0/24 &&
	adm group add A --description "hospital, lab, vendor" &&
	adm group add B --description "hospital, clinic" &&
	adm group member add A hosp-main && adm group member add A lab &&
	adm group member add A vendor &&
	adm group member add B hosp-main && adm group member add B clinic &&
	dev_make hosp-01 hosp-main && dev_make clinic-01 clinic && dev_make lab-01 lab &&
	dev_make vendor-01 vendor
}
check "organisations, sites, groups and devices set up with odvpn admin" quiet setup
for d in hosp-01 clinic-01 lab-01; do
	check_eq "device $d enrolled" 201 "$(dev_enroll $d)"
done

# decision: prints "decision|reason|flows as from:src>dst/proto/ports;…"
apply() {
	adm --json connect "$1" "$2" | jq -r '[.decision, .reason,
	    ((.grant.flows // []) | map("\(.from):\(.src)>\(.dst)/\(.proto)/\(.ports // "*")")
	    | join(";"))] | join("|")'
}

r=$(apply clinic lab)
check_eq "no common group: denied" denied "${r%%|*}"
check "reason names the missing group" grep -q "share no group" <<<"$r"
check_fails "odvpn admin connect exits 1 when denied" quiet adm connect clinic lab

r=$(apply hosp-main lab)
check_eq "common group but no provider rule: denied" denied "${r%%|*}"
check "reason: the provider permits nothing" grep -q "provider's rules permit no" <<<"$r"

check "provider rule: any tcp both ways" quiet adm rule add --proto tcp --both \
    --description "provider baseline"
r=$(apply hosp-main lab)
check_eq "provider only (orgs without rules defer): both directions, whole LANs" \
    "granted|initiator:10.1.0.0/24>10.3.0.0/24/tcp/*;responder:10.3.0.0/24>10.1.0.0/24/tcp/*" \
    "$(cut -d'|' -f1,3 <<<"$r")"

check "responder org rule: hospital to one lab host, https" quiet adm rule add --owner labco \
    --src org=hosp --dst site=lab,prefix=10.3.0.10/32 --proto tcp --ports 443
r=$(apply hosp-main lab)
check_eq "provider ∩ responder org: one flow, one direction" \
    "granted|initiator:10.1.0.0/24>10.3.0.10/32/tcp/443" "$(cut -d'|' -f1,3 <<<"$r")"

check "initiator org rule: only the imaging zone, ports 400-500" quiet adm rule add --owner hosp \
    --src zone=imaging --proto tcp --ports 400-500
r=$(apply hosp-main lab)
check_eq "provider ∩ initiator org ∩ responder org" \
    "granted|initiator:10.1.0.128/25>10.3.0.10/32/tcp/443" "$(cut -d'|' -f1,3 <<<"$r")"
gid=$(adm --json grant list --site lab --status active | jq -r '.grants[0].id')
check_eq "the newer grant superseded the older ones" 1 \
    "$(adm --json grant list --site lab --status active | jq '.grants | length')"

check "vendor org rule: udp only" quiet adm rule add --owner ctvendor --proto udp --both
r=$(apply hosp-main vendor)
check_eq "empty intersection: denied" denied "${r%%|*}"
check "reason names the organisation that closed it" grep -q "organisation ctvendor" <<<"$r"

# the grant as both devices see it
doc_l=$(config_of lab-01)
check_eq "responder device sees the grant as responder, flow inbound" \
    "responder|hosp-main|hosp-01|in|10.3.0.10/32|10.1.0.128/25|6|443|443" \
    "$(jq -r --argjson id "$gid" '.grants[] | select(.id == $id) | [.role, .peer_site,
    .peer_ike_id, .rules[0].dir, .rules[0].local, .rules[0].remote, .rules[0].proto,
    .rules[0].port_lo, .rules[0].port_hi] | map(tostring) | join("|")' <<<"$doc_l")"
doc_h=$(config_of hosp-01)
check_eq "initiator device sees it as initiator, outbound, with the peer endpoint" \
    "initiator|lab-01|192.0.2.3|4501|out|10.1.0.128/25|10.3.0.10/32" \
    "$(jq -r --argjson id "$gid" '.grants[] | select(.id == $id) | [.role, .peer_device,
    .peer_endpoint.address, .peer_endpoint.port, .rules[0].dir, .local_ts[0],
    .remote_ts[0]] | map(tostring) | join("|")' <<<"$doc_h")"
check_eq "directory of the hospital: every site of groups A and B" "clinic lab vendor" \
    "$(jq -r '[.peers[].site] | join(" ")' <<<"$doc_h")"
check_eq "directory of the clinic: only the hospital (group B)" "hosp-main" \
    "$(jq -r '[.peers[].site] | join(" ")' <<<"$(config_of clinic-01)")"

# a device applies itself (tier-2); the hospital's rule only opens flows from its
# imaging zone, so the clinic's grant permits inbound flows only
code=$(t2curl clinic-01 -o "$T_DIR/apply.json" -w '%{http_code}' -X POST \
    -d '{"peer": "hosp-main"}' "$URL/v1/connections")
check_eq "device application answered" "200 granted" "$code $(jq -r .decision "$T_DIR/apply.json")"
check_eq "clinic's view: inbound from the imaging zone" "initiator|in|10.2.0.0/24|10.1.0.128/25" \
    "$(config_of clinic-01 | jq -r '.grants[0] | [.role, .rules[0].dir, .rules[0].local,
    .rules[0].remote] | join("|")')"
code=$(t2curl clinic-01 -o "$T_DIR/apply.json" -w '%{http_code}' -X POST \
    -d '{"peer": "lab"}' "$URL/v1/connections")
check_eq "device application outside its groups: denied" "200 denied" \
    "$code $(jq -r .decision "$T_DIR/apply.json")"

# approval by the responder organisation
adm org set labco --auto-approve no >/dev/null
r=$(apply hosp-main lab)
check_eq "responder organisation without auto-approve: pending" pending "${r%%|*}"
pid=$(adm --json grant list --site lab --status pending | jq -r '.grants[0].id')
check_eq "a pending grant is not in the devices' configuration" 0 \
    "$(config_of lab-01 | jq --argjson id "$pid" '[.grants[] | select(.id == $id)] | length')"
check "odvpn admin grant approve" quiet adm grant approve "$pid"
check_eq "approved grant is active and pushed to the device" 1 \
    "$(config_of lab-01 | jq --argjson id "$pid" '[.grants[] | select(.id == $id)] | length')"
check_fails "approving twice is refused" quiet adm grant approve "$pid"

# withdrawal; leaving the group withdraws what depended on it
check "odvpn admin grant withdraw" quiet adm grant withdraw "$pid" --reason "maintenance over"
check_eq "withdrawn grant is gone from the device" 0 \
    "$(config_of lab-01 | jq '.grants | length')"
check "group member removal" quiet adm group member del B clinic
check_eq "grants between sites without a common group are withdrawn" "0 withdrawn" \
    "$(adm --json grant list --site clinic --status active | jq '.grants | length') $(adm --json \
    grant list --site clinic | jq -r '.grants[0].status')"
check_eq "and the reason says why" "site clinic left group B" \
    "$(adm --json grant list --site clinic | jq -r '.grants[0].reason')"

# time windows: a rule that has not begun yet permits nothing
adm rule del "$(adm --json rule list --owner ctvendor | jq -r '.rules[0].id')" >/dev/null
now=$(date +%s)
check "vendor rule in a window starting in an hour" quiet adm rule add --owner ctvendor \
    --proto tcp --both --from $((now + 3600)) --until $((now + 7200))
r=$(apply hosp-main vendor)
check_eq "rule outside its time window: denied" denied "${r%%|*}"
adm rule del "$(adm --json rule list --owner ctvendor | jq -r '.rules[0].id')" >/dev/null
check "vendor rule in a window open now" quiet adm rule add --owner ctvendor \
    --proto tcp --both --from $((now - 60)) --until $((now + 1800))
check_eq "inside the window: granted, and the grant ends with the window" \
    "granted $((now + 1800))" \
    "$(adm --json connect hosp-main vendor | jq -r '"\(.decision) \(.grant.not_after)"')"

# the audit trail has every decision, and the chain verifies
check_eq "denials are in the audit trail with their reason" "true" \
    "$(adm --json audit --kind connection.denied | jq '[.events[].detail.reason] |
    any(test("share no group"))')"
check "grants are in the audit trail" test "$(adm --json audit --kind grant. |
    jq '.events | length')" -ge 5
check "odvpn admin audit verify" quiet adm audit verify
check "human-readable grant list" grep -q "INITIATOR" <<<"$(adm grant list)"

# the rest of the administrator's life cycle
adm org set labco --auto-approve no >/dev/null
r=$(apply hosp-main lab)
pid=$(adm --json grant list --site lab --status pending | jq -r '.grants[0].id')
check "a pending grant can be denied" quiet adm grant deny "$pid" --reason "not today"
check_eq "and says so" "denied not today" \
    "$(adm --json grant show "$pid" | jq -r '"\(.status) \(.reason)"')"
adm org set labco --auto-approve yes >/dev/null
check_eq "granted again once auto-approve is back" granted "$(apply hosp-main lab | cut -d'|' -f1)"
check "suspending the responder's organisation" quiet adm org set labco --status suspended
check_eq "withdraws its grants" 0 \
    "$(adm --json grant list --site lab --status active | jq '.grants | length')"
check_eq "and the lab's device sees its site suspended, with no peers" "suspended 0" \
    "$(config_of lab-01 | jq -r '"\(.site.status) \(.peers | length)"')"
check_eq "a suspended organisation's site cannot connect" denied \
    "$(apply hosp-main lab | cut -d'|' -f1)"
adm org set labco --status active >/dev/null
check "revoke the vendor device" quiet adm revoke device vendor-01
check "then delete it" quiet adm device del vendor-01
check "then remove the vendor site from its group" quiet adm group member del A vendor
check_fails "the vendor organisation cannot go while it has a site" \
    quiet adm org del ctvendor
check "delete the vendor site" quiet adm site del vendor
for id in $(adm --json rule list --owner ctvendor | jq -r '.rules[].id'); do
	adm rule del "$id" >/dev/null
done
check "delete the vendor organisation" quiet adm org del ctvendor
check_eq "gone" 404 "$(acurl GET /v1/admin/orgs/ctvendor)"
check_fails "a group with members cannot be deleted" quiet adm group del A
check "an empty group can" quiet sh -c "'$ODVPN' admin --pki '$PKI' --center '$URL' group add C &&
    '$ODVPN' admin --pki '$PKI' --center '$URL' group del C"
check "center still up" center_alive
check "center stops cleanly" center_stop
t_done
