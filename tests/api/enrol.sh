#!/bin/bash
# odvpn enrol: the device side of enrolment (SPEC §3 step 3, REQ-PKI-2..4)
# against a real center on loopback. The key store it leaves must be one odvpnd
# can use: the service certificate verifies as tier 2 for the device id, and an
# odvpnd started on it (in a namespace of this run) loads its identity.
# this test's namespace (for odvpnd) carries the enrolment/demo prefix
T_PFX=odemo$(printf '%x' $(( ($$ + RANDOM) % 65536 )))
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/center_lib.inc"

pki_make || { not_ok "odvpn pki init"; t_done; exit 1; }
center_start
check "center answers the administrator" center_alive
PIN=$(cat "$PKI/root.sha256")

adm org add hosp --kind large_institution >/dev/null
adm org add lab --kind small_institution >/dev/null
adm site add hosp-main --org hosp --prefix 10.1.0.0/24 --wan 192.0.2.1 >/dev/null
adm site add lab-main --org lab --prefix 10.3.0.0/24 --wan 192.0.2.3 >/dev/null
adm site add hosp-annex --org hosp --prefix 10.4.0.0/24 --suspended >/dev/null
check "device hosp-01 manufactured and registered" dev_make hosp-01 hosp-main

KS=$T_DIR/ks-hosp-01
enrol() { "$ODVPN" enrol --center "$URL" "$@"; }
# the labels of a file key store, sorted: what "nothing installed" compares
ks_list() { (cd "$1" && ls | sort | tr '\n' ' '); }

# --- enrolment
check "odvpn enrol with the right pin" \
    sh -c "'$ODVPN' enrol --center '$URL' --pin '$PIN' --keystore '$KS' >'$T_DIR/enrol.out' 2>&1"
check "it says where the CRL went" grep -q "CRL written to *$KS/service-ca.crl.pem" "$T_DIR/enrol.out"
check "service key, certificate, service CA and CRL are in the key store" \
    test -f "$KS/service.key.pem" -a -f "$KS/service.crt.pem" -a -f "$KS/service-ca.crt.pem" \
    -a -f "$KS/service-ca.crl.pem"
check_eq "the service key is private to its owner" 600 "$(stat -c %a "$KS/service.key.pem")"
check "no staging key left behind" test ! -e "$KS/service-new.key.pem"
check "odvpn pki verify: a tier-2 service certificate for hosp-01" \
    quiet "$ODVPN" pki verify --dir "$PKI" --cert "$KS/service.crt.pem" --role service \
    --identity hosp-01 --pin "$PIN"
check_fails "it is refused as a tier-1 certificate" \
    quiet "$ODVPN" pki verify --dir "$PKI" --cert "$KS/service.crt.pem" --role device
check "the stored CRL is the service CA's, signed by it" \
    quiet openssl crl -in "$KS/service-ca.crl.pem" -noout -CAfile "$KS/service-ca.crt.pem"
serial=$(openssl x509 -in "$KS/service.crt.pem" -noout -serial | cut -d= -f2 | tr A-F a-f |
    sed 's/^0*//')
check_eq "the center records the device enrolled with that serial" "enrolled $serial" \
    "$(adm --json device show hosp-01 | jq -r '"\(.status) \(.service_serial)"')"
check "the device's key never left the store: the certificate is for the stored key" \
    sh -c "[ \"\$(openssl pkey -in '$KS/service.key.pem' -pubout)\" = \
    \"\$(openssl x509 -in '$KS/service.crt.pem' -noout -pubkey)\" ]"
check_fails "enrolling again without --renew is refused" \
    quiet enrol --pin "$PIN" --keystore "$KS"

# odvpnd loads the identity from this key store (in a namespace of this run)
ns=$(netns_add enrol 2>/dev/null)
if [ -n "$ns" ]; then
	ip -n "$ns" addr add 192.0.2.1/24 dev lo
	cat >"$T_DIR/odvpnd.json" <<JSON
{"device_id": "hosp-01", "keystore": "$KS", "crl": "$KS/service-ca.crl.pem",
 "control_socket": "$T_DIR/odvpnd.sock", "lan_prefixes": ["10.1.0.0/24"],
 "wan_address": "192.0.2.1", "peers": []}
JSON
	ip netns exec "$ns" env ASAN_OPTIONS=detect_leaks=0 "$BIN/odvpnd" \
	    --config "$T_DIR/odvpnd.json" >"$T_DIR/odvpnd.log" 2>&1 &
	T_PIDS+=($!)
	dpid=$!
	check "odvpnd starts on the enrolled key store (its service certificate verified)" \
	    wait_for 10 test -S "$T_DIR/odvpnd.sock"
	check "odvpn status answers for device hosp-01" \
	    sh -c "'$ODVPN' status --socket '$T_DIR/odvpnd.sock' | grep -q 'device hosp-01'"
	kill "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null
else
	not_ok "a network namespace for odvpnd"
fi

# --- renewal replaces the service key and certificate
old_key=$(openssl pkey -in "$KS/service.key.pem" -pubout)
check "odvpn enrol --renew" \
    sh -c "'$ODVPN' enrol --center '$URL' --pin '$PIN' --keystore '$KS' --renew >'$T_DIR/renew.out' 2>&1"
check "it says renewed" grep -q "service certificate renewed" "$T_DIR/renew.out"
new_serial=$(openssl x509 -in "$KS/service.crt.pem" -noout -serial | cut -d= -f2 | tr A-F a-f |
    sed 's/^0*//')
check "the certificate was replaced (new serial)" test "$new_serial" != "$serial"
check "the key was replaced (a fresh key)" \
    test "$(openssl pkey -in "$KS/service.key.pem" -pubout)" != "$old_key"
check "the new certificate is for the new key" \
    sh -c "[ \"\$(openssl pkey -in '$KS/service.key.pem' -pubout)\" = \
    \"\$(openssl x509 -in '$KS/service.crt.pem' -noout -pubkey)\" ]"
check "the renewed certificate verifies as tier 2 for hosp-01" \
    quiet "$ODVPN" pki verify --dir "$PKI" --cert "$KS/service.crt.pem" --role service \
    --identity hosp-01
check_eq "the center knows the new serial" "$new_serial" \
    "$(adm --json device show hosp-01 | jq -r .service_serial)"
check_eq "the renewal is in the audit trail" device.renewed \
    "$(adm --json audit --device hosp-01 --kind device.renewed | jq -r '.events[0].kind')"

# --- wrong pin: refused, nothing installed
WRONG=$(echo "$PIN" | tr 0-9a-f 1-9a-f0)
before=$(ks_list "$KS")
sum_before=$(cat "$KS"/*.pem | sha256sum)
check_fails "a wrong pin is refused (root already in the key store)" \
    sh -c "'$ODVPN' enrol --center '$URL' --pin '$WRONG' --keystore '$KS' --renew >'$T_DIR/out' 2>&1"
check "the refusal names the pin" grep -q "pinned fingerprint" "$T_DIR/out"
check_eq "the key store is unchanged" "$before $sum_before" \
    "$(ks_list "$KS") $(cat "$KS"/*.pem | sha256sum)"

# a device that was given only the pin (no root in its store): the answer's
# root is pinned before anything is believed or installed
check "device lab-01 manufactured and registered" dev_make lab-01 lab-main
KL=$T_DIR/ks-lab-01
rm -f "$KL/root.crt.pem"
before=$(ks_list "$KL")
check_fails "a wrong pin is refused on first contact" \
    sh -c "'$ODVPN' enrol --center '$URL' --pin '$WRONG' --keystore '$KL' >'$T_DIR/out' 2>&1"
check "the refusal names the center's root and the pin" \
    grep -q "center's root certificate does not match the pinned fingerprint" "$T_DIR/out"
check_eq "nothing installed: no service key, certificate, root or CRL" "$before" \
    "$(ks_list "$KL")"
check "with the right pin the same device enrols" \
    quiet enrol --pin "$PIN" --keystore "$KL" --device-id lab-01
check "the root it pinned is now in its key store" \
    cmp -s "$KL/root.crt.pem" "$PKI/root.crt.pem"
check "lab-01's service certificate verifies" \
    quiet "$ODVPN" pki verify --dir "$PKI" --cert "$KL/service.crt.pem" --role service \
    --identity lab-01
check_fails "--device-id that is not the key store's device is refused" \
    quiet enrol --pin "$PIN" --keystore "$KL" --device-id hosp-01 --renew

# --- refusals by the center, its reason verbatim
"$ODVPN" pki issue-device --dir "$PKI" --device-id stray-01 --keystore "$T_DIR/ks-stray" \
    >/dev/null 2>&1
before=$(ks_list "$T_DIR/ks-stray")
check_fails "an unregistered device is refused" \
    sh -c "'$ODVPN' enrol --center '$URL' --pin '$PIN' --keystore '$T_DIR/ks-stray' >'$T_DIR/out' 2>&1"
check "with the center's reason" grep -q 'device "stray-01" is not registered (HTTP 403)' \
    "$T_DIR/out"
check_eq "and nothing installed" "$before" "$(ks_list "$T_DIR/ks-stray")"

check "device annex-01 registered to a suspended site" dev_make annex-01 hosp-annex
check_fails "a device of a suspended site is refused" \
    sh -c "'$ODVPN' enrol --center '$URL' --pin '$PIN' --keystore '$T_DIR/ks-annex-01' >'$T_DIR/out' 2>&1"
check "with the center's reason" \
    grep -q 'site "hosp-annex" or its organisation "hosp" is suspended' "$T_DIR/out"
check "no service key in its store" test ! -e "$T_DIR/ks-annex-01/service.key.pem"
adm org set lab --status suspended >/dev/null
check_fails "renewal refused once the lab's organisation is suspended" \
    sh -c "'$ODVPN' enrol --center '$URL' --pin '$PIN' --keystore '$KL' --renew >'$T_DIR/out' 2>&1"
check "with the center's reason" grep -q 'organisation "lab" is suspended' "$T_DIR/out"
adm org set lab --status active >/dev/null

# --- the center is not there / not who it claims to be
check_fails "an unreachable center is a clear error" \
    sh -c "'$ODVPN' enrol --center https://127.0.0.1:1 --pin '$PIN' --keystore '$T_DIR/ks-stray' \
    --timeout 5 >'$T_DIR/out' 2>&1"
check "it says it cannot reach the center" grep -q "cannot reach the center" "$T_DIR/out"
# a key store whose root (and pin) belong to another PKI: the real center's TLS
# certificate does not chain to it, so the handshake itself is refused
"$ODVPN" pki init --dir "$T_DIR/other-pki" >/dev/null 2>&1
cp -r "$KL" "$T_DIR/ks-other"
cp "$T_DIR/other-pki/root.crt.pem" "$T_DIR/ks-other/root.crt.pem"
before=$(ks_list "$T_DIR/ks-other")
check_fails "a center that does not chain to the key store's root is refused" \
    sh -c "'$ODVPN' enrol --center '$URL' --pin '$(cat "$T_DIR/other-pki/root.sha256")' \
    --keystore '$T_DIR/ks-other' --renew >'$T_DIR/out' 2>&1"
check "it says the center is not trusted" grep -q "is not trusted" "$T_DIR/out"
check_eq "and nothing changed" "$before" "$(ks_list "$T_DIR/ks-other")"
check_eq "bad usage exits 2" 2 "$("$ODVPN" enrol --pin "$PIN" >/dev/null 2>&1; echo $?)"

check "center stops cleanly on SIGTERM" center_stop
t_done
