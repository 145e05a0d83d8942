#!/bin/bash
# odvpn-center: bad input anywhere gets a clear 4xx JSON error, the stored state
# stays exactly as it was, and the server keeps serving (REQ-CTR-5).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/center_lib.inc"

pki_make || { not_ok "odvpn pki init"; t_done; exit 1; }
center_start

setup() {
	adm org add hosp --kind large_institution &&
	adm site add hosp-main --org hosp --prefix 10.1.0.0/24 &&
	adm site add annex --org hosp --prefix 10.5.0.0/24 &&
	adm group add A && adm group member add A hosp-main &&
	dev_make hosp-01 hosp-main
}
check "initial state" quiet setup
check_eq "device enrolled" 201 "$(dev_enroll hosp-01)"
base=$(state)

# expect DESC CODE METHOD PATH [BODY]: the administrator sends it; the answer is
# CODE with a JSON {"error": "..."} body, and the state is unchanged
expect() {
	local desc=$1 want=$2 code err
	shift 2
	code=$(acurl "$@")
	err=$(jq -r '.error | select(type == "string")' "$T_DIR/out" 2>/dev/null)
	if [ "$code" = "$want" ] && [ -n "$err" ]; then
		ok "$desc: $code \"$err\""
	else
		not_ok "$desc"
		diag "expected $want with {\"error\"}, got $code: $(head -c 300 "$T_DIR/out")"
	fi
	check "  ... state unchanged" test "$(state)" = "$base"
}

expect "malformed JSON" 400 POST /v1/admin/orgs '{"name":'
expect "JSON that is not an object" 400 POST /v1/admin/orgs '["hosp", "vendor"]'
expect "unknown field" 400 POST /v1/admin/orgs '{"name":"x","kind":"vendor","colour":"red"}'
expect "wrong type" 400 POST /v1/admin/orgs '{"name":"x","kind":5}'
expect "missing required field" 400 POST /v1/admin/orgs '{"kind":"vendor"}'
expect "value outside its set" 400 POST /v1/admin/orgs '{"name":"x","kind":"hospital"}'
expect "name with a path in it" 400 POST /v1/admin/orgs '{"name":"../etc","kind":"vendor"}'
expect "duplicate key" 400 POST /v1/admin/orgs '{"name":"x","name":"y","kind":"vendor"}'
expect "NUL inside a string" 400 POST /v1/admin/orgs '{"name":"x\u0000y","kind":"vendor"}'
expect "invalid UTF-8" 400 POST /v1/admin/orgs "$(printf '{"name":"x\xff\xfe","kind":"vendor"}')"
expect "empty body" 400 POST /v1/admin/orgs ''
expect "duplicate name" 409 POST /v1/admin/orgs '{"name":"hosp","kind":"vendor"}'
expect "body over the limit (16 KiB)" 413 POST /v1/admin/orgs \
    "{\"name\":\"x\",\"kind\":\"vendor\",\"description\":\"$(head -c 20000 /dev/zero | tr '\0' a)\"}"
expect "unknown organisation" 404 GET /v1/admin/orgs/nobody
expect "unknown id in a body" 400 POST /v1/admin/sites \
    '{"name":"s2","org":"nobody","prefixes":["10.2.0.0/24"]}'
expect "prefix with host bits set" 400 POST /v1/admin/sites \
    '{"name":"s2","org":"hosp","prefixes":["10.2.0.1/24"]}'
expect "overlapping prefixes in one site" 400 POST /v1/admin/sites \
    '{"name":"s2","org":"hosp","prefixes":["10.2.0.0/16","10.2.3.0/24"]}'
expect "zone outside the site" 400 POST /v1/admin/sites \
    '{"name":"s2","org":"hosp","prefixes":["10.2.0.0/24"],"zones":[{"name":"z","prefixes":["10.3.0.0/24"]}]}'
adm group member add A annex >/dev/null && base=$(state)
expect "prefix clashing with a group member" 409 PATCH /v1/admin/sites/annex \
    '{"prefixes":["10.1.0.0/25"]}'
expect "bad WAN address" 400 PATCH /v1/admin/sites/annex '{"wan":"not-an-ip"}'
expect "port out of range" 400 PATCH /v1/admin/sites/annex '{"wan_port":70000}'
expect "bad fingerprint" 400 POST /v1/admin/devices \
    '{"id":"d-2","site":"annex","fingerprint":"abcd"}'
expect "certificate that is not PEM" 400 POST /v1/admin/devices \
    '{"id":"d-2","site":"annex","certificate":"hello"}'
expect "second device for a site" 409 POST /v1/admin/devices \
    "{\"id\":\"d-2\",\"site\":\"hosp-main\",\"fingerprint\":\"$(printf 'ab%.0s' $(seq 32))\"}"
expect "device id that is no host name" 400 POST /v1/admin/devices \
    "{\"id\":\"Bad_ID\",\"site\":\"annex\",\"fingerprint\":\"$(printf 'ab%.0s' $(seq 32))\"}"
expect "ports without tcp/udp" 400 POST /v1/admin/rules '{"proto":"any","ports":"443"}'
expect "port range upside down" 400 POST /v1/admin/rules '{"proto":"tcp","ports":"500-400"}'
expect "unknown protocol" 400 POST /v1/admin/rules '{"proto":"carrier-pigeon"}'
expect "bad hours" 400 POST /v1/admin/rules '{"proto":"tcp","window":{"hours":"18:00-08:00"}}'
expect "bad day" 400 POST /v1/admin/rules '{"window":{"days":["monday"]}}'
expect "window ending before it starts" 400 POST /v1/admin/rules \
    '{"window":{"from":2000000000,"until":1000000000}}'
expect "auto_approve on a provider rule" 400 POST /v1/admin/rules '{"auto_approve":false}'
expect "selector naming an unknown site" 400 POST /v1/admin/rules '{"src":{"site":"nowhere"}}'
expect "connection to itself" 400 POST /v1/admin/connections \
    '{"initiator":"hosp-main","responder":"hosp-main"}'
expect "connection to an unknown site" 404 POST /v1/admin/connections \
    '{"initiator":"hosp-main","responder":"atlantis"}'
expect "unknown grant" 404 POST /v1/admin/grants/999/approve
expect "grant id that is not a number" 404 GET /v1/admin/grants/abc
expect "revoking an unknown serial" 404 POST /v1/admin/revocations '{"serial":"0123abcd"}'
expect "revoking with an unknown reason" 400 POST /v1/admin/revocations \
    '{"device":"hosp-01","reason":"bored"}'
expect "revoking both a device and a serial" 400 POST /v1/admin/revocations \
    '{"device":"hosp-01","serial":"01"}'
expect "malformed query parameter" 400 GET '/v1/admin/audit?limit=ten'
expect "query parameter out of range" 400 GET '/v1/admin/audit?limit=0'
expect "unknown grant status filter" 400 GET '/v1/admin/grants?status=maybe'
expect "unknown endpoint" 404 GET /v1/admin/teapot
expect "method not allowed" 405 PUT /v1/admin/orgs '{}'
expect "deleting an organisation that still has sites" 409 DELETE /v1/admin/orgs/hosp
expect "deleting an enrolled device" 409 DELETE /v1/admin/devices/hosp-01
expect "nesting beyond the parser's depth" 400 POST /v1/admin/orgs \
    "$(printf '[%.0s' $(seq 3000))$(printf ']%.0s' $(seq 3000))"

# far over the limit: refused before it is read (libevent's own 413)
head -c 2000000 /dev/zero | tr '\0' a >"$T_DIR/huge"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/root.crt.pem" \
    --cert "$PKI/admin.crt.pem" --key "$PKI/private/admin.key.pem" \
    -X POST --data-binary @"$T_DIR/huge" "$URL/v1/admin/orgs")
check_eq "a 2 MB body is refused with 413" 413 "$code"
check "  ... state unchanged" test "$(state)" = "$base"

# device endpoints: bad events and a bad CSR
dexpect() {
	local desc=$1 want=$2 path=$3 body=$4 code
	code=$(t2curl hosp-01 -o "$T_DIR/out" -w '%{http_code}' -X POST --data-binary "$body" \
	    "$URL$path")
	if [ "$code" = "$want" ] && jq -e '.error | strings' "$T_DIR/out" >/dev/null 2>&1; then
		ok "$desc: $code $(jq -c .error "$T_DIR/out")"
	else
		not_ok "$desc"; diag "got $code: $(head -c 300 "$T_DIR/out")"
	fi
	check "  ... state unchanged" test "$(state)" = "$base"
}
dexpect "event of an unknown kind" 400 /v1/events '{"events":[{"kind":"party","time_ms":1}]}'
dexpect "flow event without its flow" 400 /v1/events '{"events":[{"kind":"flow","time_ms":1}]}'
dexpect "one bad event spoils the batch" 400 /v1/events \
    '{"events":[{"kind":"sa_up","time_ms":1,"peer":"x"},{"kind":"flow","time_ms":1,"flow":{"src":"nope","dst":"10.0.0.1","proto":6,"bytes_in":0,"bytes_out":0,"start_ms":1,"end_ms":2}}]}'
dexpect "empty event list" 400 /v1/events '{"events":[]}'
dexpect "renewal with a CSR that is not one" 400 /v1/renew '{"csr":"MIIB"}'
dexpect "connection application naming both peer forms" 400 /v1/connections \
    '{"peer":"annex","peer_device":"hosp-01"}'

# and the server is still serving, and a good request still works
check "center process alive" center_alive
code=$(t2curl hosp-01 -o "$T_DIR/out" -w '%{http_code}' -X POST \
    -d '{"events":[{"kind":"sa_up","time_ms":1700000000000,"peer":"annex"}]}' "$URL/v1/events")
check_eq "a good event upload after all that" 201 "$code"
check_eq "and it is in the audit trail" device.sa_up \
    "$(adm --json audit --device hosp-01 --kind device. | jq -r '.events[-1].kind')"
# clock discipline (REQ-AUD-4): the center's time, and an alert on a skewed device
t_local=$(( $(date +%s%N) / 1000000 ))
t_center=$(t2curl hosp-01 "$URL/v1/time" | jq -r .time_ms)
check "GET /v1/time gives the center's clock in ms" \
    test "$(( t_center - t_local ))" -gt -5000 -a "$(( t_center - t_local ))" -lt 5000
code=$(t2curl hosp-01 -o "$T_DIR/out" -w '%{http_code}' -X POST -d '{"events":[
    {"kind":"clock","time_ms":1700000000000,"offset_ms":-12},
    {"kind":"clock","time_ms":1700000000001,"offset_ms":5000}]}' "$URL/v1/events")
check_eq "clock events accepted" 201 "$code"
check_eq "a small offset is recorded without alert, a large one with" "null true" \
    "$(adm --json audit --device hosp-01 --kind device.clock |
    jq -r '[.events[].detail.alert] | map(tostring) | join(" ")')"
check "odvpn admin shows server errors verbatim and exits 1" \
    grep -q 'organisation "hosp" already exists' <<<"$(adm org add hosp --kind vendor 2>&1)"
adm org add hosp --kind vendor >/dev/null 2>&1
check_eq "  ... exit status 1" 1 $?
adm org add 2>/dev/null
check_eq "odvpn admin bad usage exits 2" 2 $?
check "center stops cleanly" center_stop
t_done
