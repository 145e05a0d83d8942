#!/bin/bash
# odvpn pki: init, issue-device, show, fingerprint, verify, revoke, crl — the
# produced files checked with openssl as an independent verifier, and bad
# input refused with exit 2 (usage) or 1 (failure) and a message.
. "$(dirname "$0")/../lib.sh"

ODVPN=$ODVPN_BUILD/odvpn
D=$T_DIR/pki
K=$T_DIR/device-ks

# run CMD..., keep stdout in $OUT, stderr in $ERR, exit status in $RC
run() {
	"$@" >"$T_DIR/out" 2>"$T_DIR/err"
	RC=$?
	OUT=$(cat "$T_DIR/out")
	ERR=$(cat "$T_DIR/err")
}
contains() { case "$1" in *"$2"*) return 0 ;; esac; return 1; }
mode() { stat -c %a "$1"; }
quiet() { "$@" >/dev/null 2>&1; }
ossl_fp() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f
}

# --- help and usage ---------------------------------------------------------
run "$ODVPN" pki --help
check_eq "pki --help exits 0" 0 "$RC"
check "pki --help lists issue-device" contains "$OUT" "issue-device --dir D --device-id ID --keystore K"
run "$ODVPN" pki
check_eq "pki without a command exits 2" 2 "$RC"
run "$ODVPN" pki frobnicate
check_eq "unknown pki command exits 2" 2 "$RC"
check "unknown pki command is named" contains "$ERR" 'unknown command "frobnicate"'
for sub in init issue-device show fingerprint verify revoke crl; do
	run "$ODVPN" pki $sub --help
	check_eq "pki $sub --help exits 0" 0 "$RC"
done

# --- init -----------------------------------------------------------------------
run "$ODVPN" pki init
check_eq "init without --dir exits 2" 2 "$RC"
check "init without --dir says so" contains "$ERR" "--dir is required"
run "$ODVPN" pki init --dir "$D" --alg p521
check_eq "init --alg p521 exits 2" 2 "$RC"
check "init --alg p521 names the choices" contains "$ERR" "p256, p384, rsa3072"
run "$ODVPN" pki init --dir "$D" --bogus
check_eq "init with an unknown option exits 2" 2 "$RC"
run "$ODVPN" pki init --dir "$D" extra
check_eq "init with a stray argument exits 2" 2 "$RC"
run "$ODVPN" pki init --dir "$D" --center-name "bad name!"
check_eq "init with an invalid center name fails" 1 "$RC"
check "invalid center name is explained" contains "$ERR" "neither a DNS name nor an IP address"
check_fails "a failed init leaves no root behind" test -e "$D/root.crt.pem"

run "$ODVPN" pki init --dir "$D" --center-name center.test --center-name 127.0.0.1 \
	--admin alice
check_eq "init exits 0" 0 "$RC"
[ "$RC" = 0 ] || diag "$ERR"
FP=$(printf '%s\n' "$OUT" | tail -n 1)
for f in root.crt.pem device-ca.crt.pem service-ca.crt.pem center.crt.pem \
	center-chain.pem admin.crt.pem root.crl.pem device-ca.crl.pem service-ca.crl.pem \
	root.sha256 index.txt; do
	check "init wrote $f" test -s "$D/$f"
done
check_eq "private key store is 0700" 700 "$(mode "$D/private")"
for k in root device-ca service-ca center admin; do
	check_eq "private/$k.key.pem is 0600" 600 "$(mode "$D/private/$k.key.pem")"
done
check_eq "printed fingerprint is the root's SHA-256 (openssl)" "$(ossl_fp "$D/root.crt.pem")" "$FP"
check_eq "root.sha256 holds the same fingerprint" "$FP" "$(cat "$D/root.sha256")"
check "root key is ECDSA P-256 by default" \
	bash -c "openssl x509 -in '$D/root.crt.pem' -noout -text | grep -q 'NIST CURVE: P-256'"

# openssl as an independent verifier of what init made
check "openssl verifies the device CA under the root" \
	quiet openssl verify -CAfile "$D/root.crt.pem" "$D/device-ca.crt.pem"
check "openssl verifies the service CA under the root" \
	quiet openssl verify -CAfile "$D/root.crt.pem" "$D/service-ca.crt.pem"
check "openssl verifies the center certificate" \
	quiet openssl verify -CAfile "$D/root.crt.pem" -untrusted "$D/service-ca.crt.pem" \
	-purpose sslserver "$D/center.crt.pem"
check "openssl verifies the admin certificate" \
	quiet openssl verify -CAfile "$D/root.crt.pem" -untrusted "$D/service-ca.crt.pem" \
	-purpose sslclient "$D/admin.crt.pem"
check "openssl verifies the service CA CRL signature" \
	quiet openssl crl -in "$D/service-ca.crl.pem" -noout -CAfile "$D/service-ca.crt.pem"
check "center certificate names center.test and 127.0.0.1" \
	bash -c "openssl x509 -in '$D/center.crt.pem' -noout -ext subjectAltName | \
	grep -q 'DNS:center.test, IP Address:127.0.0.1'"
check "admin certificate is CN=alice" \
	bash -c "openssl x509 -in '$D/admin.crt.pem' -noout -subject | grep -q 'CN = alice'"
check "center key matches the center certificate" \
	test "$(openssl x509 -in "$D/center.crt.pem" -noout -pubkey)" = \
	"$(openssl pkey -in "$D/private/center.key.pem" -pubout)"

# an existing PKI is not overwritten without --force
run "$ODVPN" pki init --dir "$D"
check_eq "second init without --force fails" 1 "$RC"
check "second init mentions --force" contains "$ERR" "--force"
check_eq "root unchanged after refused init" "$FP" "$(ossl_fp "$D/root.crt.pem")"

# --- issue-device ------------------------------------------------------------------
run "$ODVPN" pki issue-device --dir "$D" --device-id clinic-01
check_eq "issue-device without --keystore exits 2" 2 "$RC"
run "$ODVPN" pki issue-device --dir "$D" --device-id "Clinic_01" --keystore "$K"
check_eq "issue-device with an invalid device id exits 2" 2 "$RC"
check "invalid device id is explained" contains "$ERR" "not a valid device id"
check_fails "no key store created for an invalid id" test -e "$K"
run "$ODVPN" pki issue-device --dir "$T_DIR/nowhere" --device-id clinic-01 --keystore "$K"
check_eq "issue-device from a missing PKI fails" 1 "$RC"

run "$ODVPN" pki issue-device --dir "$D" --device-id clinic-01 --keystore "file:$K"
check_eq "issue-device exits 0" 0 "$RC"
[ "$RC" = 0 ] || diag "$ERR"
check_eq "device key store is 0700" 700 "$(mode "$K")"
check_eq "device key is 0600" 600 "$(mode "$K/device.key.pem")"
check "device certificate is in the key store" test -s "$K/device.crt.pem"
check "root certificate is in the key store" cmp -s "$K/root.crt.pem" "$D/root.crt.pem"
check "openssl verifies the device certificate (tier 1)" \
	quiet openssl verify -CAfile "$D/root.crt.pem" -untrusted "$D/device-ca.crt.pem" \
	-purpose sslclient "$K/device.crt.pem"
check "device key matches its certificate" \
	test "$(openssl x509 -in "$K/device.crt.pem" -noout -pubkey)" = \
	"$(openssl pkey -in "$K/device.key.pem" -pubout)"
check "no device key was written into the PKI directory" \
	bash -c "! ls '$D/private' | grep -q '^device\.key'"
run "$ODVPN" pki issue-device --dir "$D" --device-id clinic-01 --keystore "$K"
check_eq "second issue-device into the same store fails" 1 "$RC"
check "second issue-device mentions --force" contains "$ERR" "--force"
SERIAL=$(openssl x509 -in "$K/device.crt.pem" -noout -serial | sed 's/.*=//' | tr A-F a-f)

# --- show / fingerprint / verify -----------------------------------------------------
run "$ODVPN" pki show --cert "$K/device.crt.pem"
check_eq "show exits 0" 0 "$RC"
check "show names the tier" contains "$OUT" "device (tier 1: enrolment and renewal only)"
check "show prints the subject" contains "$OUT" "CN = clinic-01"
check "show prints the serial" contains "$OUT" "$SERIAL"
check "show prints validity" contains "$OUT" "valid:"
run "$ODVPN" pki show --cert "$D/center.crt.pem"
check "show lists the center's names" contains "$OUT" "DNS:center.test IP:127.0.0.1"
run "$ODVPN" pki show
check_eq "show without --cert exits 2" 2 "$RC"
run "$ODVPN" pki show --cert "$T_DIR/absent.pem"
check_eq "show of a missing file exits 1" 1 "$RC"
check "show of a missing file says why" contains "$ERR" "No such file"
echo "not a certificate" >"$T_DIR/junk.pem"
run "$ODVPN" pki show --cert "$T_DIR/junk.pem"
check_eq "show of garbage exits 1" 1 "$RC"
check "show of garbage says why" contains "$ERR" "not a certificate"

run "$ODVPN" pki fingerprint --cert "$D/root.crt.pem"
check_eq "fingerprint equals init's" "$FP" "$OUT"
run "$ODVPN" pki fingerprint --cert "$D/root.crt.pem" --colons
check_eq "fingerprint --colons equals openssl's" \
	"$(openssl x509 -in "$D/root.crt.pem" -noout -fingerprint -sha256 | sed 's/.*=//' | tr A-F a-f)" \
	"$OUT"
openssl x509 -in "$D/root.crt.pem" -outform DER -out "$T_DIR/root.der"
run "$ODVPN" pki fingerprint --cert "$T_DIR/root.der"
check_eq "fingerprint reads DER too" "$FP" "$OUT"

run "$ODVPN" pki verify --dir "$D" --cert "$K/device.crt.pem" --role device --identity clinic-01 \
	--pin "$(echo "$FP" | tr a-f A-F)"
check_eq "verify accepts the device certificate as device" 0 "$RC"
run "$ODVPN" pki verify --dir "$D" --cert "$K/device.crt.pem" --role service
check_eq "verify refuses the device certificate as service" 1 "$RC"
check "tier refusal carries a reason" contains "$ERR" "has role device"
run "$ODVPN" pki verify --dir "$D" --cert "$D/admin.crt.pem" --role device
check_eq "verify refuses the admin certificate as device" 1 "$RC"
run "$ODVPN" pki verify --dir "$D" --cert "$D/center.crt.pem" --role center --identity center.test
check_eq "verify accepts the center for its name" 0 "$RC"
run "$ODVPN" pki verify --dir "$D" --cert "$D/center.crt.pem" --role center --identity other.test
check_eq "verify refuses the center for another name" 1 "$RC"
run "$ODVPN" pki verify --dir "$D" --cert "$K/device.crt.pem" --pin 00112233
check_eq "verify with a malformed pin fails" 1 "$RC"
run "$ODVPN" pki verify --dir "$D" --cert "$K/device.crt.pem" --role tier3
check_eq "verify --role tier3 exits 2" 2 "$RC"

# --- revoke / crl ------------------------------------------------------------------------
run "$ODVPN" pki revoke --dir "$D" --serial "$SERIAL" --reason sleepy
check_eq "revoke with an unknown reason exits 2" 2 "$RC"
run "$ODVPN" pki revoke --dir "$D" --serial "xyz"
check_eq "revoke with a non-hex serial exits 2" 2 "$RC"
run "$ODVPN" pki revoke --dir "$D" --serial 0abc
check_eq "revoke of a serial not issued here fails" 1 "$RC"
run "$ODVPN" pki revoke --dir "$D" --serial "$SERIAL" --reason keyCompromise
check_eq "revoke exits 0" 0 "$RC"
check "revoke names the device CA's CRL" contains "$OUT" "device-ca CRL, number 2"
run "$ODVPN" pki verify --dir "$D" --cert "$K/device.crt.pem" --role device
check_eq "verify refuses the revoked device certificate" 1 "$RC"
check "revocation refusal says revoked" contains "$ERR" "revoked (keyCompromise)"
check_fails "openssl also finds it revoked on the CRL" \
	quiet openssl verify -crl_check -CAfile "$D/root.crt.pem" -untrusted "$D/device-ca.crt.pem" \
	-CRLfile "$D/device-ca.crl.pem" "$K/device.crt.pem"
check "the CRL lists the serial" \
	bash -c "openssl crl -in '$D/device-ca.crl.pem' -noout -text | grep -qi 'Serial Number: $SERIAL'"
run "$ODVPN" pki crl --dir "$D" --ca device
check_eq "crl re-sign exits 0" 0 "$RC"
check "re-signed CRL has number 3" \
	bash -c "openssl crl -in '$D/device-ca.crl.pem' -noout -crlnumber | grep -qE '=(0x)?0*3$'"
check "re-signed CRL still lists the serial" \
	bash -c "openssl crl -in '$D/device-ca.crl.pem' -noout -text | grep -qi '$SERIAL'"

# a manufacture with --force replaces the revoked device's key and certificate
run "$ODVPN" pki issue-device --dir "$D" --device-id clinic-01 --keystore "$K" --force
check_eq "issue-device --force exits 0" 0 "$RC"
run "$ODVPN" pki verify --dir "$D" --cert "$K/device.crt.pem" --role device
check_eq "the re-issued device certificate verifies" 0 "$RC"

# --- key compromise of the device CA: re-key it, re-manufacture -----------------------
run "$ODVPN" pki rekey-ca --dir "$D" --ca root
check_eq "rekey-ca --ca root exits 2" 2 "$RC"
cp "$K/device.crt.pem" "$T_DIR/old-device.crt.pem"
run "$ODVPN" pki rekey-ca --dir "$D" --ca device
check_eq "rekey-ca --ca device exits 0" 0 "$RC"
check "rekey-ca keeps the root pin" contains "$OUT" "$FP"
check_eq "root unchanged by rekey-ca" "$FP" "$(ossl_fp "$D/root.crt.pem")"
run "$ODVPN" pki verify --dir "$D" --cert "$T_DIR/old-device.crt.pem" --role device
check_eq "a device certificate of the old device CA is refused" 1 "$RC"
check_fails "openssl agrees the old device certificate is orphaned" \
	quiet openssl verify -CAfile "$D/root.crt.pem" -untrusted "$D/device-ca.crt.pem" \
	"$T_DIR/old-device.crt.pem"
check "the root CRL revokes the old device CA" \
	bash -c "openssl crl -in '$D/root.crl.pem' -noout -text | grep -q 'CA Compromise'"
run "$ODVPN" pki issue-device --dir "$D" --device-id clinic-01 --keystore "$K" --force
check_eq "re-manufacture under the new device CA exits 0" 0 "$RC"
check "openssl verifies the re-manufactured device certificate" \
	quiet openssl verify -CAfile "$D/root.crt.pem" -untrusted "$D/device-ca.crt.pem" \
	"$K/device.crt.pem"
run "$ODVPN" pki rekey-ca --dir "$D" --ca service --reason superseded
check_eq "rekey-ca --ca service exits 0" 0 "$RC"
check "openssl verifies the re-issued center certificate" \
	quiet openssl verify -CAfile "$D/root.crt.pem" -untrusted "$D/service-ca.crt.pem" \
	"$D/center.crt.pem"
check "center-chain.pem carries the new service CA" \
	bash -c "tail -n +2 '$D/center-chain.pem' | sed -n '/BEGIN/,\$p' | cmp -s - '$D/service-ca.crt.pem'"

# --- other algorithms ----------------------------------------------------------------
run "$ODVPN" pki init --dir "$T_DIR/p384" --alg p384
check_eq "init --alg p384 exits 0" 0 "$RC"
check "P-384 PKI signs with ecdsa-with-SHA384" \
	bash -c "openssl x509 -in '$T_DIR/p384/service-ca.crt.pem' -noout -text | \
	grep -q 'ecdsa-with-SHA384'"
check "openssl verifies the P-384 center certificate" \
	quiet openssl verify -CAfile "$T_DIR/p384/root.crt.pem" -untrusted "$T_DIR/p384/service-ca.crt.pem" \
	"$T_DIR/p384/center.crt.pem"
run "$ODVPN" pki init --dir "$T_DIR/rsa" --alg rsa3072
check_eq "init --alg rsa3072 exits 0" 0 "$RC"
check "RSA PKI keys are 3072 bits" \
	bash -c "openssl x509 -in '$T_DIR/rsa/root.crt.pem' -noout -text | grep -q '(3072 bit)'"
run "$ODVPN" pki issue-device --dir "$T_DIR/rsa" --device-id lab-1 --keystore "$T_DIR/rsa-ks"
check_eq "issue-device under the RSA PKI exits 0" 0 "$RC"
check "openssl verifies the RSA device certificate" \
	quiet openssl verify -CAfile "$T_DIR/rsa/root.crt.pem" -untrusted "$T_DIR/rsa/device-ca.crt.pem" \
	"$T_DIR/rsa-ks/device.crt.pem"

# --force replaces a PKI (new root)
run "$ODVPN" pki init --dir "$T_DIR/p384" --force
check_eq "init --force exits 0" 0 "$RC"
check "init --force made a P-256 root this time" \
	bash -c "openssl x509 -in '$T_DIR/p384/root.crt.pem' -noout -text | grep -q 'NIST CURVE: P-256'"

t_done
