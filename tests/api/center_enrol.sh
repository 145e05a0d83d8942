#!/bin/bash
# odvpn-center: enrolment and renewal (SPEC §3 step 3), and who may call what:
# TLS 1.3 only by default, a client certificate on every endpoint, the role of
# that certificate checked per endpoint (REQ-CTR-2, REQ-PKI-3).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/center_lib.inc"

pki_make || { not_ok "odvpn pki init"; t_done; exit 1; }
center_start
check "center answers the administrator" center_alive

adm org add hosp --kind large_institution >/dev/null
adm site add hosp-main --org hosp --prefix 10.1.0.0/24 --wan 192.0.2.1 >/dev/null
adm site add hosp-annex --org hosp --prefix 10.3.0.0/24 --suspended >/dev/null
check "device registered by its tier-1 certificate" dev_make hosp-01 hosp-main
check_eq "registered device starts as registered" registered \
    "$(adm --json device show hosp-01 | jq -r .status)"

check_eq "enrolment with the registered tier-1 certificate" 201 "$(dev_enroll hosp-01)"
serial=$(jq -r .serial "$T_DIR/enroll-hosp-01.json")
check "service certificate is a tier-2 certificate for the device" \
    quiet "$ODVPN" pki verify --dir "$PKI" --cert "$T_DIR/svc-hosp-01.crt" --role service \
    --identity hosp-01
check_eq "enrolment answer carries root, chain and CRL" "true true true" \
    "$(jq -r '[(.root|startswith("-----BEGIN CERT")), (.chain|length==1),
    (.crl|startswith("-----BEGIN X509 CRL"))] | map(tostring) | join(" ")' \
    "$T_DIR/enroll-hosp-01.json")"
check_eq "device enrolled with that serial" "enrolled $serial" \
    "$(adm --json device show hosp-01 | jq -r '"\(.status) \(.service_serial)"')"
check_eq "enrolment recorded in the audit trail" device.enrolled \
    "$(adm --json audit --device hosp-01 --kind device.enrolled | jq -r '.events[0].kind')"

# an unregistered device (valid tier-1 certificate of the same PKI)
"$ODVPN" pki issue-device --dir "$PKI" --device-id stray-01 --keystore "$T_DIR/ks-stray-01" \
    >/dev/null 2>&1
check_eq "unregistered device refused" 403 "$(dev_enroll stray-01)"
check "refusal names the reason" grep -q "not registered" "$T_DIR/enroll-stray-01.json"

# a device of a suspended site
dev_make annex-01 hosp-annex
check_eq "device of a suspended site refused" 403 "$(dev_enroll annex-01)"
check "refusal says suspended" grep -q suspended "$T_DIR/enroll-annex-01.json"

# the same device id with another tier-1 certificate (a clone or a swap)
"$ODVPN" pki issue-device --dir "$PKI" --device-id hosp-01 --keystore "$T_DIR/ks-clone" \
    >/dev/null 2>&1
mv "$T_DIR/ks-hosp-01" "$T_DIR/ks-real"
mv "$T_DIR/ks-clone" "$T_DIR/ks-hosp-01"
cp "$T_DIR/svc-hosp-01.crt" "$T_DIR/svc-keep.crt"
cp "$T_DIR/svc-hosp-01.key" "$T_DIR/svc-keep.key"
check_eq "fingerprint mismatch refused" 403 "$(dev_enroll hosp-01)"
check "refusal says fingerprint" grep -q fingerprint "$T_DIR/enroll-hosp-01.json"
rm -rf "$T_DIR/ks-hosp-01"
mv "$T_DIR/ks-real" "$T_DIR/ks-hosp-01"
mv "$T_DIR/svc-keep.crt" "$T_DIR/svc-hosp-01.crt"
mv "$T_DIR/svc-keep.key" "$T_DIR/svc-hosp-01.key"

# bad CSRs: garbage, and a CSR for another identity
code=$(t1curl hosp-01 -o "$T_DIR/out" -w '%{http_code}' -X POST \
    -d '{"csr":"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}' \
    "$URL/v1/enroll")
check_eq "garbage CSR refused with 400" 400 "$code"
check "garbage CSR error says CSR" grep -q CSR "$T_DIR/out"
csr_make other hosp-02
code=$(jq -n --rawfile c "$T_DIR/svc-other.csr" '{csr: $c}' | t1curl hosp-01 -o "$T_DIR/out" \
    -w '%{http_code}' -X POST --data-binary @- "$URL/v1/enroll")
check_eq "CSR for another device id refused" 400 "$code"

# renewal: with the service certificate, and with the tier-1 certificate
csr_make renew hosp-01
code=$(jq -n --rawfile c "$T_DIR/svc-renew.csr" '{csr: $c}' | t2curl hosp-01 \
    -o "$T_DIR/renew.json" -w '%{http_code}' -X POST --data-binary @- "$URL/v1/renew")
check_eq "renewal with the service certificate" 201 "$code"
check "renewal gives a new serial" test "$(jq -r .serial "$T_DIR/renew.json")" != "$serial"
code=$(jq -n --rawfile c "$T_DIR/svc-renew.csr" '{csr: $c}' | t1curl hosp-01 \
    -o "$T_DIR/renew.json" -w '%{http_code}' -X POST --data-binary @- "$URL/v1/renew")
check_eq "renewal with the tier-1 certificate" 201 "$code"

# TLS: 1.3 only by default; no client certificate, no service
check_fails "TLS 1.2 refused by default" curl -s --cacert "$PKI/root.crt.pem" --tls-max 1.2 \
    --cert "$PKI/admin.crt.pem" --key "$PKI/private/admin.key.pem" "$URL/v1/admin/status"
check "TLS 1.3 accepted" curl -sf --cacert "$PKI/root.crt.pem" --tlsv1.3 \
    --cert "$PKI/admin.crt.pem" --key "$PKI/private/admin.key.pem" -o /dev/null \
    "$URL/v1/admin/status"
check_fails "no client certificate refused" curl -sf --cacert "$PKI/root.crt.pem" \
    -o /dev/null "$URL/v1/admin/status"
check_fails "no client certificate refused on enrolment too" curl -sf \
    --cacert "$PKI/root.crt.pem" -o /dev/null -X POST -d '{}' "$URL/v1/enroll"
# a certificate from another PKI
"$ODVPN" pki init --dir "$T_DIR/other-pki" >/dev/null 2>&1
check_fails "certificate of a foreign PKI refused" curl -sf --cacert "$PKI/root.crt.pem" \
    --cert "$T_DIR/other-pki/admin.crt.pem" --key "$T_DIR/other-pki/private/admin.key.pem" \
    -o /dev/null "$URL/v1/admin/status"

# wrong tier for the endpoint: 403 with a reason, and nothing changes
check_eq "tier-1 certificate on a service endpoint refused" 403 \
    "$(t1curl hosp-01 -o "$T_DIR/out" -w '%{http_code}' "$URL/v1/config?wait=0")"
check "the refusal explains the tiers" grep -q "tier-1" "$T_DIR/out"
check_eq "tier-2 certificate on enrolment refused" 403 \
    "$(jq -n --rawfile c "$T_DIR/svc-renew.csr" '{csr: $c}' | t2curl hosp-01 -o "$T_DIR/out" \
    -w '%{http_code}' -X POST --data-binary @- "$URL/v1/enroll")"
check_eq "tier-1 device certificate on an admin endpoint refused" 403 \
    "$(t1curl hosp-01 -o /dev/null -w '%{http_code}' "$URL/v1/admin/orgs")"
check_eq "tier-2 device certificate on an admin endpoint refused" 403 \
    "$(t2curl hosp-01 -o /dev/null -w '%{http_code}' -X POST -d '{"name":"x","kind":"vendor"}' \
    "$URL/v1/admin/orgs")"
check_eq "admin certificate on a device endpoint refused" 403 \
    "$(acurl GET "/v1/config?wait=0")"
check_eq "no organisation was created by the refused request" 1 \
    "$(adm --json org list | jq '.orgs | length')"

# TLS 1.2 when enabled: only ECDHE + AES-GCM
center_stop
center_config '"tls12": true'
center_start
check "TLS 1.2 accepted when enabled" curl -sf --cacert "$PKI/root.crt.pem" --tls-max 1.2 \
    --cert "$PKI/admin.crt.pem" --key "$PKI/private/admin.key.pem" -o /dev/null \
    "$URL/v1/admin/status"
check_fails "TLS 1.2 without ECDHE+AES-GCM refused" curl -sf --cacert "$PKI/root.crt.pem" \
    --tls-max 1.2 --ciphers ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA256 \
    --cert "$PKI/admin.crt.pem" --key "$PKI/private/admin.key.pem" -o /dev/null \
    "$URL/v1/admin/status"
suite=$(echo | openssl s_client -connect 127.0.0.1:$PORT -tls1_2 -CAfile "$PKI/root.crt.pem" \
    -cert "$PKI/admin.crt.pem" -key "$PKI/private/admin.key.pem" 2>/dev/null |
    sed -n 's/^ *Cipher *: *//p' | head -1)
case $suite in
ECDHE-*-AES*-GCM-SHA*) ok "TLS 1.2 negotiates $suite" ;;
*) not_ok "TLS 1.2 negotiates an ECDHE+AES-GCM suite (got [$suite])" ;;
esac
check "center stops cleanly on SIGTERM" center_stop
t_done
