#!/bin/bash
# odvpn-center: push and persistence. A revocation reaches a connected device by
# long-poll in under 1 s (REQ-CTR-3, REQ-PKI-5), changes that matter to a device
# wake it and others do not, and a restart loses nothing (REQ-CTR-4).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/center_lib.inc"

pki_make || { not_ok "odvpn pki init"; t_done; exit 1; }
center_start

setup() {
	adm org add hosp --kind large_institution &&
	adm org add labco --kind small_institution &&
	adm org add other --kind vendor &&
	adm site add hosp-main --org hosp --prefix 10.1.0.0/24 --wan 192.0.2.1 &&
	adm site add lab --org labco --prefix 10.3.0.0/24 --wan 192.0.2.3 &&
	adm group add A && adm group member add A hosp-main && adm group member add A lab &&
	adm rule add --proto tcp --both &&
	dev_make hosp-01 hosp-main && dev_make lab-01 lab
}
check "set up two sites in one group" quiet setup
check_eq "both devices enrolled" "201 201" "$(dev_enroll hosp-01) $(dev_enroll lab-01)"
check_eq "connection granted" granted "$(adm --json connect lab hosp-main | jq -r .decision)"
hosp_serial=$(jq -r .serial "$T_DIR/enroll-hosp-01.json")

waiters() { adm --json status | jq -r .waiters; }
waiters_are() { [ "$(waiters)" = "$1" ]; }

# long_poll ID SINCE WAIT: start a long-poll in the background; its status line
# and body land in $T_DIR/poll-ID.{code,json}
long_poll() {
	rm -f "$T_DIR/poll-$1.code" "$T_DIR/poll-$1.json"
	( t2curl "$1" -o "$T_DIR/poll-$1.json" -w '%{http_code}' \
	    "$URL/v1/config?since=$2&wait=$3" >"$T_DIR/poll-$1.code.tmp";
	  mv "$T_DIR/poll-$1.code.tmp" "$T_DIR/poll-$1.code" ) &
	POLL_PID=$!
}
poll_done() { [ -f "$T_DIR/poll-$1.code" ]; }

v_lab=$(config_of lab-01 | jq .version)
v_hosp=$(config_of hosp-01 | jq .version)
check "a device's configuration has a version" test "$v_lab" -ge 1
check_eq "asking with the current version and wait=0 answers at once, same version" \
    "$v_lab" "$(config_of lab-01 "since=$v_lab" | jq .version)"

# a long-poll with nothing new times out with the same document
long_poll lab-01 "$v_lab" 1
wait "$POLL_PID"
check_eq "long-poll without a change ends after its wait, same version" "200 $v_lab" \
    "$(cat "$T_DIR/poll-lab-01.code") $(jq .version "$T_DIR/poll-lab-01.json")"

# a change that does not concern the lab does not wake it
long_poll lab-01 "$v_lab" 20
check "the lab's long-poll is parked" wait_for 10 waiters_are 1
adm site add elsewhere --org other --prefix 10.9.0.0/24 >/dev/null
check_eq "an unrelated change leaves it parked" 1 "$(waiters)"
# a change the lab can see (its peer's WAN address) wakes it
adm site set hosp-main --wan 198.51.100.7 >/dev/null
check "a relevant change wakes it" wait_for 5 poll_done lab-01
check_eq "with the new peer endpoint and a new version" "198.51.100.7 $((v_lab + 1))" \
    "$(jq -r '"\(.peers[0].endpoint.address) \(.version)"' "$T_DIR/poll-lab-01.json")"
v_lab=$(jq .version "$T_DIR/poll-lab-01.json")
v_hosp=$(config_of hosp-01 | jq .version)

# revocation while both devices are connected
long_poll lab-01 "$v_lab" 20
lab_pid=$POLL_PID
long_poll hosp-01 "$v_hosp" 20
check "both devices parked" wait_for 10 waiters_are 2
t0=$(ms_now)
code=$(acurl POST /v1/admin/revocations \
    '{"device": "hosp-01", "reason": "keyCompromise"}')
wait "$lab_pid"
t1=$(ms_now)
check_eq "revocation accepted" 201 "$code"
# REQ-CTR-3 asks for under 1 s from the change to the device; the push itself
# takes milliseconds, the rest is the revocation request (TLS handshake, ASan)
elapsed=$((t1 - t0))
diag "revocation -> push at the peer device: ${elapsed} ms (bound 1000 ms)"
check "push arrived in under 1 s (${elapsed} ms)" test "$elapsed" -lt 1000
check_eq "the peer's new document lists the revoked serial" true \
    "$(jq --arg s "$hosp_serial" '.revoked_serials | index($s) != null' \
    "$T_DIR/poll-lab-01.json")"
check_eq "and no longer holds the grant" 0 "$(jq '.grants | length' "$T_DIR/poll-lab-01.json")"
check_eq "and the peer is listed without a device" null \
    "$(jq -r '.peers[0].device' "$T_DIR/poll-lab-01.json")"
crl_serial=$(jq -r .crl "$T_DIR/poll-lab-01.json" | openssl crl -noout -text 2>/dev/null |
    sed -n 's/^ *Serial Number: *//p' | tr 'A-F' 'a-f' | sed 's/^0*//')
check_eq "the pushed CRL revokes the serial" "${hosp_serial#0}" "$crl_serial"
check "the revoked device's own long-poll is answered" wait_for 5 poll_done hosp-01
check_eq "with 403: its certificate is revoked" 403 "$(cat "$T_DIR/poll-hosp-01.code")"
# the trust set of the TLS layer took the new CRL: the handshake itself fails
check_eq "the revoked service certificate is refused from now on (handshake)" 000 \
    "$(t2curl hosp-01 -o /dev/null -w '%{http_code}' "$URL/v1/config?wait=0")"
check_eq "a revoked device cannot enrol again" 403 "$(dev_enroll hosp-01)"

# key compromise of one service certificate: revoke the serial, re-enrol with a
# fresh key through the tier-1 certificate
lab_serial=$(jq -r .serial "$T_DIR/enroll-lab-01.json")
check "revoke one service certificate by serial" quiet adm revoke serial "$lab_serial" \
    --reason keyCompromise
check_eq "the device may enrol again with a fresh key" 201 "$(dev_enroll lab-01)"
check "and is enrolled with the new serial" test "$(adm --json device show lab-01 |
    jq -r .service_serial)" = "$(jq -r .serial "$T_DIR/enroll-lab-01.json")"
check_eq "both serials are on the CRL" 2 "$(adm --json revoke list | jq '.revocations | length')"

# restart: nothing is lost
v_before=$(config_of lab-01 | jq .version)
crl_before=$(adm --json crl | jq .number)
before=$(adm --json export | jq -S .)
check "center stops cleanly on SIGTERM" center_stop
center_start
check "center restarts on the same store" center_alive
after=$(adm --json export | jq -S .)
check "the whole stored state survived the restart" test "$before" = "$after"
check_eq "the device's configuration version survived" "$v_before" \
    "$(config_of lab-01 | jq .version)"
check_eq "the CRL survived" "$crl_before" "$(adm --json crl | jq .number)"
check_eq "the revoked device stays revoked" 000 \
    "$(t2curl hosp-01 -o /dev/null -w '%{http_code}' "$URL/v1/config?wait=0")"
check "the audit chain verifies after the restart" quiet adm audit verify
check_eq "audit holds both revocations" "1 1" \
    "$(adm --json audit --kind device.revoked | jq '.events | length') $(adm --json audit \
    --kind cert.revoked | jq '.events | length')"
# revoked in the PKI directory while the center was down: taken over at start
lab_serial=$(jq -r .serial "$T_DIR/enroll-lab-01.json")
center_stop
quiet "$ODVPN" pki revoke --dir "$PKI" --serial "$lab_serial" --ca service --reason keyCompromise
center_start
check_eq "a serial revoked in the PKI directory meanwhile is taken over" "pki-directory" \
    "$(adm --json revoke list | jq -r --arg s "$lab_serial" '.revocations[] |
    select(.serial == $s) | .actor')"
check_eq "the device is back to registered (it must enrol again)" registered \
    "$(adm --json device show lab-01 | jq -r .status)"
check_eq "and refused in the handshake" 000 \
    "$(t2curl lab-01 -o /dev/null -w '%{http_code}' "$URL/v1/config?wait=0")"
check "center stops cleanly" center_stop
t_done
