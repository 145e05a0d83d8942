#!/bin/bash
# Managed mode (odvpnd enrolled at odvpn-center), measured in one run:
#   first packet, no grant   one UDP datagram from a LAN host toward the partner
#                            site with no grant: the device files an application,
#                            the center grants, the grant is pushed, IKE runs, the
#                            queued datagram is delivered (bench/firstpacket.py)
#   first packet, grant held the grant is in force but the tunnel was closed
#                            (odvpn disconnect): only IKE runs
#   wg-go, nebula            their first packet as bench/throughput.sh measures
#                            it (fresh daemons each trial), for the ratios
#   withdrawal, revocation   how long until the tunnel is gone at the responder
#                            (hosp) after `odvpn admin grant withdraw ID` /
#                            `odvpn admin revoke serial S` (the initiator's
#                            service certificate): from the command's start to
#                            the CHILD SA missing from hosp's status (polled every
#                            5 ms), and from the center's log line of the request
#                            (written once the change is committed) to hosp's
#                            log line removing the CHILD SA (same clock)
# Each figure is the median (min-max) of N fresh trials. A trial that did not go
# the intended way (not exactly one application granted; an application when the
# grant was held; no tunnel to begin with) is left out and counted as flagged; a
# datagram that never arrives (10 s) is left out and counted as lost, with what
# the devices logged about it.
#
#   bench/managed.sh [--trials N]        (default 5)
#
# Topology: a center (192.0.2.100) and two sites on one bridge, each site a
# gateway running odvpnd (configuration: key store, center URL and root
# fingerprint, control socket; nothing else) and a LAN host:
#   hosp  10.1.0.0/24  gw 192.0.2.1  host 10.1.0.2  (responder)
#   clin  10.2.0.0/24  gw 192.0.2.2  host 10.2.0.2  (sends the first packet)
# The datagram crosses two LAN hops more than in throughput.sh (host -> gw on
# each side; tens of microseconds).
#
# Needs root; makes namespaces named obm<hex>-*, removes them and kills what it
# started (by PID) at the end. Never part of the test suite.
# shellcheck disable=SC2317 # functions run through wait_until
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
BUILD=${ODVPN_BUILD:-$ROOT/build}
ODVPN=$BUILD/odvpn ODVPND=$BUILD/odvpnd CENTER=$BUILD/odvpn-center
TRIALS=5
while [ $# -gt 0 ]; do
	case $1 in
	--trials) TRIALS=${2:-}; shift 2 ;;
	--trials=*) TRIALS=${1#*=}; shift ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: bench/managed.sh [--trials N]" >&2; exit 2 ;;
	esac
done
case $TRIALS in ''|*[!0-9]*|0) echo "--trials needs a number above 0" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "bench/managed.sh needs root (network namespaces)" >&2; exit 2; }
for f in "$ODVPN" "$ODVPND" "$CENTER"; do
	[ -x "$f" ] || { echo "$f missing: make -j2 first" >&2; exit 2; }
done

P=obm$(printf '%04x' $(( ($$ + RANDOM) % 65536 )))
TMP=$(mktemp -d /tmp/odvpn-bench-managed.XXXXXX)
. "$ROOT/bench/lib.sh"	# NA NB PIDS bench_kill topo bg_ns first_packet median nebula_up wg_go_up
C_IP=192.0.2.100
C_URL=https://$C_IP:8443
declare -A LAT RANGE FLAG LOST

cleanup() {	# every process started here (by PID), every namespace $P-*
	local ns
	bench_kill
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-"); do
		ip netns del "$ns"
	done
}
trap 'cleanup; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

ms_now() { echo $(( $(date +%s%N) / 1000000 )); }

wait_until() {	# wait_until SECONDS CMD...: poll CMD every 20 ms
	local end=$(( $(ms_now) + $1 * 1000 )); shift
	while [ "$(ms_now)" -lt $end ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.02
	done
	return 1
}

# summarise NAME VALUE...: LAT[NAME] the median of the numeric VALUEs, RANGE[NAME]
# their min-max, LOST[NAME] how many were "lost" (the datagram never arrived),
# FLAG[NAME] how many were anything else (the trial went another way)
summarise() {
	local name=$1 v ok=() bad=0 lost=0; shift
	for v in "$@"; do
		case $v in
		lost) lost=$((lost + 1)) ;;
		''|*[!0-9.-]*|*?-*|-) bad=$((bad + 1)) ;;
		*) ok+=("$v") ;;
		esac
	done
	FLAG[$name]=$bad LOST[$name]=$lost
	if [ ${#ok[@]} -eq 0 ]; then LAT[$name]=-; RANGE[$name]=-; return; fi
	LAT[$name]=$(median "${ok[@]}")
	RANGE[$name]="$(printf '%s\n' "${ok[@]}" | sort -g | head -1)-$(printf '%s\n' "${ok[@]}" | sort -g | tail -1)"
}

# ---- the peers, as bench/throughput.sh measures them ------------------------

run_peer() {	# run_peer NAME UP_FN ADDR
	local name=$1 up=$2 addr=$3 vals=()
	command -v "${name/wg-go/wireguard-go}" >/dev/null || { LAT[$name]=-; return; }
	for _ in $(seq "$TRIALS"); do
		topo
		$up
		vals+=("$(first_packet "$NA" "$NB" "$addr")")
	done
	cleanup
	echo "# $name first packet (ms): ${vals[*]}" >&2
	summarise "$name" "${vals[@]}"
}

# ---- managed mode: center + hosp + clin -------------------------------------

in_ns() { local ns=$P-$1; shift; ip netns exec "$ns" "$@"; }
adm() { in_ns center "$ODVPN" admin --pki "$TMP/pki" --center "$C_URL" "$@"; }
ctl() { local x=$1; shift; "$ODVPN" "$@" --socket "$TMP/$x.sock"; }

managed_topology() {
	local x n
	ip netns add "$P-inet"
	ip -n "$P-inet" link set lo up
	ip -n "$P-inet" link add br0 type bridge
	ip -n "$P-inet" link set br0 up
	for x in center a b; do
		case $x in center) n=100 ;; a) n=1 ;; b) n=2 ;; esac
		ip netns add "$P-$x"
		ip -n "$P-$x" link set lo up
		ip link add "${P}w$x" type veth peer name "${P}W$x"
		ip link set "${P}W$x" netns "$P-$x"
		ip -n "$P-$x" link set "${P}W$x" name wan0
		ip link set "${P}w$x" netns "$P-inet"
		ip -n "$P-inet" link set "${P}w$x" master br0 up
		ip -n "$P-$x" addr add "192.0.2.$n/24" dev wan0
		ip -n "$P-$x" link set wan0 up
		[ $x = center ] && continue
		ip netns add "$P-h$x"
		ip -n "$P-h$x" link set lo up
		ip link add "${P}l$x" type veth peer name "${P}L$x"
		ip link set "${P}L$x" netns "$P-h$x"
		ip -n "$P-h$x" link set "${P}L$x" name lan0
		ip link set "${P}l$x" netns "$P-$x"
		ip -n "$P-$x" link set "${P}l$x" name lan0
		ip -n "$P-$x" addr add "10.$n.0.1/24" dev lan0
		ip -n "$P-$x" link set lan0 up
		ip -n "$P-h$x" addr add "10.$n.0.2/24" dev lan0
		ip -n "$P-h$x" link set lan0 up
		ip -n "$P-h$x" route add default via "10.$n.0.1"
		in_ns "$x" sysctl -qw net.ipv4.ip_forward=1
	done
}

managed_up() {
	local x pin
	managed_topology
	"$ODVPN" pki init --dir "$TMP/pki" --center-name "$C_IP" >"$TMP/pki.log" 2>&1 || return 1
	cat >"$TMP/center.json" <<JSON
{"listen": "$C_IP", "port": 8443, "database": "$TMP/center.db",
 "pki_dir": "$TMP/pki", "log_level": "debug", "longpoll_timeout_s": 30}
JSON
	# debug: the center logs each admin request once it is committed, with its
	# result; the withdrawal's start is read from that line
	bg_ns "$P-center" "$TMP/center.log" "$CENTER" --config "$TMP/center.json"
	wait_until 20 adm status >/dev/null || return 1
	{
		adm org add hospco --kind large_institution &&
		adm org add clinco --kind small_institution &&
		adm site add hosp --org hospco --prefix 10.1.0.0/24 --wan 192.0.2.1 &&
		adm site add clin --org clinco --prefix 10.2.0.0/24 --wan 192.0.2.2 &&
		adm group add A && adm group member add A hosp && adm group member add A clin &&
		adm rule add --proto udp --both && adm rule add --proto icmp --both
	} >>"$TMP/admin.log" 2>&1 || return 1
	pin=$("$ODVPN" pki fingerprint --cert "$TMP/pki/root.crt.pem") || return 1
	for x in a b; do
		"$ODVPN" pki issue-device --dir "$TMP/pki" --device-id "site-$x" \
		    --keystore "$TMP/ks-$x" >>"$TMP/pki.log" 2>&1 &&
		adm device add "site-$x" --site "$([ $x = a ] && echo hosp || echo clin)" \
		    --cert "$TMP/ks-$x/device.crt.pem" >>"$TMP/admin.log" 2>&1 || return 1
		# the whole configuration of a managed device
		cat >"$TMP/$x.json" <<JSON
{ "keystore": "$TMP/ks-$x",
  "center": { "url": "$C_URL", "root_fingerprint": "$pin" },
  "control_socket": "$TMP/$x.sock" }
JSON
		bg_ns "$P-$x" "$TMP/$x.log" "$ODVPND" --config "$TMP/$x.json"
	done
	wait_until 20 test -S "$TMP/a.sock" && wait_until 20 test -S "$TMP/b.sock" &&
	    wait_until 10 peer_is b hosp granted False && wait_until 10 peer_is a clin granted False
}

# peer_is SITE PEER FIELD VALUE: a field of PEER in `odvpn peers --json` at SITE
# (booleans as Python prints them; application: its decision)
peer_is() {
	[ "$(ctl "$1" peers --json | python3 -c 'import json,sys
for p in json.load(sys.stdin)["peers"]:
    if p["name"] == sys.argv[1]:
        v = p.get(sys.argv[2])
        print(v.get("decision") if isinstance(v, dict) else v)' "$2" "$3")" = "$4" ]
}

no_child() {	# no_child SITE PEER
	ctl "$1" status --json | python3 -c 'import json,sys
sys.exit(any(c["peer"] == sys.argv[1] for c in json.load(sys.stdin)["child_sas"]))' "$2"
}
has_child() { ! no_child "$@"; }

idle_both() {	# no tunnel, both ends idle
	no_child a clin && no_child b hosp && peer_is a clin state idle && peer_is b hosp state idle
}

active_grants() {	# ids of the grants in force between clin and hosp
	adm --json grant list --status active --site clin | python3 -c 'import json,sys
for g in json.load(sys.stdin)["grants"]:
    if {g["initiator"], g["responder"]} == {"clin", "hosp"}: print(g["id"])'
}

count() { grep -c -- "$2" "$1"; }	# count FILE TEXT

# tunnel_up: a grant in force and a tunnel between clin and hosp (a ping from
# clin's LAN brings both, through an application if needed)
tunnel_up() {
	wait_until 10 in_ns hb ping -c 1 -W 1 10.1.0.2 >/dev/null &&
	    wait_until 5 has_child a clin && wait_until 5 has_child b hosp
}

# log_delta CENTER_FROM DEV_LOG DEV_FROM CENTER_RE DEV_RE: ms from the first line
# matching CENTER_RE in the center's log (from line CENTER_FROM) to the first
# line matching DEV_RE in DEV_LOG (from line DEV_FROM), or "nolog"
log_delta() {
	python3 - "$TMP/center.log" "$@" <<'EOF'
import re, sys
from datetime import datetime, timezone
def first(path, start, rx):
    with open(path, errors="replace") as f:
        for i, line in enumerate(f):
            if i >= start and re.search(rx, line):
                ts = line.split(" ", 1)[0].rstrip("Z")
                return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%f").replace(
                    tzinfo=timezone.utc).timestamp() * 1e3
    return None
c = first(sys.argv[1], int(sys.argv[2]), sys.argv[5])
d = first(sys.argv[3], int(sys.argv[4]), sys.argv[6])
print("nolog" if c is None or d is None else "%.0f" % (d - c))
EOF
}
lines() { wc -l <"$1"; }

# (a) no grant: every trial starts with the grants withdrawn and both ends idle
trial_no_grant() {
	local g apps grants lat a0 b0
	for g in $(active_grants); do adm grant withdraw "$g" >/dev/null 2>&1; done
	if ! { wait_until 5 peer_is b hosp granted False &&
	    wait_until 5 peer_is a clin granted False && wait_until 5 idle_both; }; then
		echo "flagged: not idle before the trial" >&2; echo flagged; return
	fi
	apps=$(count "$TMP/b.log" "peer=hosp: no grant: applying")
	grants=$(count "$TMP/b.log" "peer=hosp: application granted")
	b0=$(lines "$TMP/b.log") a0=$(lines "$TMP/a.log")
	lat=$(first_packet "$P-hb" "$P-ha" 10.1.0.2)
	if [ "$lat" = lost ]; then
		echo "lost: the no-grant datagram; what the devices logged meanwhile:" >&2
		{ tail -n +$((a0 + 1)) "$TMP/a.log" | sed 's/^/#   hosp /'
		  tail -n +$((b0 + 1)) "$TMP/b.log" | sed 's/^/#   clin /'; } |
		    grep -E "refused|failed|drop" | cut -c1-160 >&2
	fi
	wait_until 2 test "$(count "$TMP/b.log" "peer=hosp: application granted")" != "$grants"
	if [ "$(count "$TMP/b.log" "peer=hosp: no grant: applying")" != $((apps + 1)) ] ||
	    [ "$(count "$TMP/b.log" "peer=hosp: application granted")" != $((grants + 1)) ]; then
		echo "flagged: no-grant trial without exactly one application granted ($lat ms)" >&2
		lat=flagged
	fi
	echo "$lat"
}

# (b) grant held: the tunnel closed by odvpn disconnect, the grant still in force
trial_grant_held() {
	local apps ups lat
	[ -n "$(active_grants)" ] || tunnel_up
	ctl b disconnect hosp >/dev/null 2>&1
	if ! { wait_until 5 idle_both && peer_is b hosp granted True; }; then
		echo "flagged: not idle with the grant held before the trial" >&2; echo flagged; return
	fi
	apps=$(count "$TMP/b.log" "peer=hosp: no grant: applying")
	ups=$(count "$TMP/b.log" "peer=hosp: tunnel up in")
	lat=$(first_packet "$P-hb" "$P-ha" 10.1.0.2)
	if [ "$(count "$TMP/b.log" "peer=hosp: no grant: applying")" != "$apps" ] ||
	    [ "$(count "$TMP/b.log" "peer=hosp: tunnel up in")" != $((ups + 1)) ]; then
		echo "flagged: grant-held trial filed an application or made no tunnel ($lat ms)" >&2
		lat=flagged
	fi
	echo "$lat"
}

# (c) withdrawal / (d) revocation: prints "CMD_TO_GONE CENTER_TO_DEVICE CMD_MS"
trial_cut() {
	local kind=$1 c0 a0 out gone cmd_ms re arg delta
	tunnel_up || { echo "flagged: no tunnel before the $kind trial" >&2; echo "x x x"; return; }
	if [ "$kind" = withdraw ]; then
		arg=$(active_grants | head -1)
		re="POST /v1/admin/grants/$arg/withdraw by .*: 200"
		set -- grant withdraw "$arg"
	else
		arg=$(ctl b status --json | python3 -c 'import json,sys
print(json.load(sys.stdin)["center"]["service_serial"])')
		re="POST /v1/admin/revocations by .*: 201"
		set -- revoke serial "$arg"
	fi
	c0=$(lines "$TMP/center.log") a0=$(lines "$TMP/a.log")
	out=$(python3 "$ROOT/bench/sa_gone.py" "$TMP/a.sock" clin ip netns exec "$P-center" \
	    "$ODVPN" admin --pki "$TMP/pki" --center "$C_URL" "$@") ||
	    { echo "flagged: $kind $arg: $out" >&2; echo "x x x"; return; }
	read -r _ gone cmd_ms <<<"$out"
	delta=$(log_delta "$c0" "$TMP/a.log" "$a0" "$re" "peer=clin: CHILD SA .* removed")
	echo "$gone $delta $cmd_ms"
	if [ "$kind" = revoke ]; then
		# clin is refused by the center, closes everything and gets a new
		# service certificate with its tier-1 certificate
		wait_until 20 serial_changed "$arg" ||
		    echo "flagged: clin did not renew after the revocation of $arg" >&2
	fi
}
serial_changed() {
	local s
	s=$(ctl b status --json | python3 -c 'import json,sys
c = json.load(sys.stdin)["center"]; print(c["service_serial"] if c["reachable"] else "")')
	[ -n "$s" ] && [ "$s" != "$1" ]
}

run_managed() {
	local nog=() held=() wg=() wc=() wm=() rg=() rc=() rm_=() a b c
	managed_up || { echo "managed mode did not come up; logs in $TMP" >&2
		tail -5 "$TMP"/*.log >&2; return 1; }
	for _ in $(seq "$TRIALS"); do nog+=("$(trial_no_grant)"); done
	for _ in $(seq "$TRIALS"); do held+=("$(trial_grant_held)"); done
	for _ in $(seq "$TRIALS"); do
		read -r a b c <<<"$(trial_cut withdraw)"; wg+=("$a"); wc+=("$b"); wm+=("$c")
	done
	for _ in $(seq "$TRIALS"); do
		read -r a b c <<<"$(trial_cut revoke)"; rg+=("$a"); rc+=("$b"); rm_+=("$c")
	done
	{
		echo "# managed, no grant (ms): ${nog[*]}"
		echo "# managed, grant held (ms): ${held[*]}"
		echo "# withdrawal: command -> gone (ms): ${wg[*]}; center -> device log: ${wc[*]}; command ran: ${wm[*]}"
		echo "# revocation: command -> gone (ms): ${rg[*]}; center -> device log: ${rc[*]}; command ran: ${rm_[*]}"
		grep -h "tunnel up in" "$TMP/b.log" | sed 's/^/# clin: /' | tail -3
	} >&2
	summarise nogrant "${nog[@]}"
	summarise held "${held[@]}"
	summarise wd-cmd "${wg[@]}"; summarise wd-center "${wc[@]}"; summarise wd-ran "${wm[@]}"
	summarise rv-cmd "${rg[@]}"; summarise rv-center "${rc[@]}"; summarise rv-ran "${rm_[@]}"
	if [ -n "${KEEP_LOGS:-}" ]; then cp "$TMP"/*.log "$KEEP_LOGS"/ 2>/dev/null; fi
	cleanup
}

T0=$(ms_now)
RC=0
run_peer wg-go wg_go_up 10.80.0.2
run_peer nebula nebula_up 10.79.0.2
run_managed || RC=1

row() {	# row LABEL KEY
	local f=""
	[ "${LOST[$2]:-0}" -gt 0 ] && f=" ${LOST[$2]} lost"
	[ "${FLAG[$2]:-0}" -gt 0 ] && f="$f ${FLAG[$2]} flagged"
	printf '%-34s %9s ms %13s%s\n' "$1" "${LAT[$2]:--}" "${RANGE[$2]:--}" "$f"
}
ratio() {	# ratio PEER KEY: peer / managed figure (above 1: managed ahead)
	case "${LAT[$1]:--}/${LAT[$2]:--}" in
	*-*) echo - ;;
	*) python3 -c "print('%.2f' % (${LAT[$1]}/${LAT[$2]}))" ;;
	esac
}
echo "# odvpn managed mode; first packet: one UDP datagram into a tunnel not yet made"
echo "# median (min-max) of $TRIALS trials; $(nproc) cores; $(uname -r); $(( ($(ms_now) - T0) / 1000 )) s"
printf '%-34s %12s %13s\n' "figure" median min-max
row "first packet, no grant (managed)" nogrant
row "first packet, grant held (managed)" held
row "first packet, wg-go" wg-go
row "first packet, nebula" nebula
row "withdrawal: command -> SA gone" wd-cmd
row "withdrawal: center log -> device" wd-center
row "withdrawal: command ran" wd-ran
row "revocation: command -> SA gone" rv-cmd
row "revocation: center log -> device" rv-center
row "revocation: command ran" rv-ran
echo "# ratios, first packet peer/managed (above 1: managed ahead)"
for s in wg-go nebula; do
	printf 'managed/%-7s  no grant %6s   grant held %6s\n' "$s" "$(ratio "$s" nogrant)" \
	    "$(ratio "$s" held)"
done
exit $RC
