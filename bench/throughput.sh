#!/bin/bash
# Throughput and first-packet latency, side by side in one run, between two
# network namespaces joined by a veth pair, through
#   veth          the bare link (the ceiling)
#   odvpn         odvpnd: IKEv2 on demand, then ESP-in-UDP with AES-256-GCM
#   odvpn-static  odvpn's data plane alone with a manually keyed SA (not by default)
#   nebula        Nebula (Debian package)
#   wg-go         wireguard-go (Debian package) configured with wg
# For each tunnel:
#   first packet  one UDP datagram sent before any tunnel exists; the time until it
#                 is delivered on the far side (bench/firstpacket.py). odvpn: the
#                 median of 5 fresh tunnels (odvpn disconnect between); peers: one
#                 fresh start each.
#   throughput    iperf3, TCP, one stream, 10 s, median of 3.
# Prints each figure and the ratios odvpn/peer (throughput: higher is better;
# latency: peer/odvpn, so above 1 means odvpn is faster too).
#
#   bench/throughput.sh                 everything
#   bench/throughput.sh veth odvpn      some of them
#   SECONDS_PER_RUN=5 RUNS=1 bench/throughput.sh odvpn
#
# Needs root; makes namespaces named odpb<pid>-*, removes them at the end.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${ODVPN_BUILD:-$ROOT/build}
DUR=${SECONDS_PER_RUN:-10}
RUNS=${RUNS:-3}
SYSTEMS=${*:-veth odvpn nebula wg-go}
P=odpb$(( $$ % 10000 ))
TMP=$(mktemp -d /tmp/odvpn-bench.XXXXXX)
. "$ROOT/bench/lib.sh"	# NA NB PIDS cleanup topo bg_ns wait_ping first_packet median
declare -A RESULT LAT

trap 'cleanup; rm -rf "$TMP"' EXIT

# measure NAME ADDR: iperf3 from NA to a server on ADDR in NB; RESULT[NAME] is
# the median Gbit/s of RUNS runs (not in a subshell: the server's PID must be
# remembered for cleanup)
measure() {
	local name=$1 addr=$2 r vals=() v
	bg_ns "$NB" "$TMP/iperf3-server.log" iperf3 -s -B "$addr"
	sleep 0.3
	for r in $(seq "$RUNS"); do
		v=$(ip netns exec "$NA" iperf3 -c "$addr" -t "$DUR" -J 2>/dev/null |
		    python3 -c 'import json,sys
try: print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))
except Exception: print("0")')
		vals+=("$v")
	done
	RESULT[$name]=$(printf '%s\n' "${vals[@]}" | sort -g | sed -n "$(( (RUNS + 1) / 2 ))p")
}

KEY_AB=$(printf 'a%.0s' $(seq 72))
KEY_BA=$(printf 'b%.0s' $(seq 72))

# the odvpn legs: TUN addresses 10.78.1.1 / 10.78.2.1 are inside each side's
# protected prefix (the namespaces have no LAN interface of their own)
tun_addrs() {	# tun_addrs NS_A NS_B TUN
	local a=$1 b=$2 tun=$3
	for _ in $(seq 50); do
		ip -n "$a" link show "$tun" >/dev/null 2>&1 &&
		    ip -n "$b" link show "$tun" >/dev/null 2>&1 && break
		sleep 0.1
	done
	ip -n "$a" addr add 10.78.1.1/32 dev "$tun"
	ip -n "$b" addr add 10.78.2.1/32 dev "$tun"
	ip -n "$a" route replace 10.78.2.0/24 dev "$tun" src 10.78.1.1
	ip -n "$b" route replace 10.78.1.0/24 dev "$tun" src 10.78.2.1
}

# odvpn-static: the data plane with a manually keyed SA pair (tests/tools/dp_static)
odvpn_static_up() {
	local a=$1 b=$2 extra=${ODVPN_EXTRA:-}
	# shellcheck disable=SC2086
	bg_ns "$a" "$TMP/odvpn-a.log" "$BUILD/tests/tools/dp_static" --tun odb0 \
	    --wan 10.77.0.1 --local 10.78.1.0/24 --peer b --peer-addr 10.77.0.2 \
	    --remote 10.78.2.0/24 --spi-in 1001 --spi-out 2002 \
	    --key-in "$KEY_BA" --key-out "$KEY_AB" $extra
	# shellcheck disable=SC2086
	bg_ns "$b" "$TMP/odvpn-b.log" "$BUILD/tests/tools/dp_static" --tun odb0 \
	    --wan 10.77.0.2 --local 10.78.2.0/24 --peer a --peer-addr 10.77.0.1 \
	    --remote 10.78.1.0/24 --spi-in 2002 --spi-out 1001 \
	    --key-in "$KEY_AB" --key-out "$KEY_BA" $extra
	tun_addrs "$a" "$b" odb0
}

# odvpn: full odvpnd at each end, certificates from odvpn pki, tunnel on demand
odvpn_up() {
	local a=$1 b=$2 x me peer n
	if [ ! -d "$TMP/pki" ]; then
		"$BUILD/odvpn" pki init --dir "$TMP/pki" >/dev/null || return 1
		for x in a b; do
			"$BUILD/odvpn" pki issue-service --dir "$TMP/pki" --device-id "bench-$x" \
			    --keystore "$TMP/ks-$x" >/dev/null || return 1
		done
	fi
	for x in a b; do
		[ $x = a ] && { me=1; peer=b; n=2; } || { me=2; peer=a; n=1; }
		cat >"$TMP/$x.json" <<EOT
{ "device_id": "bench-$x", "keystore": "$TMP/ks-$x", "control_socket": "$TMP/$x.sock",
  "log_level": "warn", "idle_timeout_s": 0, "tun": "odb0",
  "lan_prefixes": ["10.78.$me.0/24"], "wan_address": "10.77.0.$me",
  "peers": [ { "name": "$peer", "id": "bench-$peer", "address": "10.77.0.$n",
               "prefixes": ["10.78.$n.0/24"] } ] }
EOT
		rm -f "$TMP/$x.sock"
	done
	bg_ns "$a" "$TMP/odvpn-a.log" "$BUILD/odvpnd" --config "$TMP/a.json"
	bg_ns "$b" "$TMP/odvpn-b.log" "$BUILD/odvpnd" --config "$TMP/b.json"
	tun_addrs "$a" "$b" odb0
}
[ -n "${ODVPN_CMD:-}" ] && eval "odvpn_up() { $ODVPN_CMD; }"

run_veth() {
	topo
	measure veth 10.77.0.2
}

run_odvpn() {
	local lats=() i
	topo
	odvpn_up "$NA" "$NB" || { RESULT[odvpn]=0; return; }
	for _ in $(seq 50); do [ -S "$TMP/a.sock" ] && [ -S "$TMP/b.sock" ] && break; sleep 0.1; done
	for i in 1 2 3 4 5; do
		lats+=("$(first_packet "$NA" "$NB" 10.78.2.1)")
		"$BUILD/odvpn" disconnect b --socket "$TMP/a.sock" >/dev/null 2>&1
		for _ in $(seq 50); do
			"$BUILD/odvpn" status --json --socket "$TMP/b.sock" 2>/dev/null |
			    grep -q '"child_sas": \[\]' && break
			sleep 0.05
		done
	done
	LAT[odvpn]=$(median "${lats[@]}")
	wait_ping "$NA" 10.78.2.1 || { echo "odvpn: tunnel did not come up" >&2; cat "$TMP"/odvpn-*.log >&2; RESULT[odvpn]=0; return; }
	measure odvpn 10.78.2.1
}

run_odvpn_static() {
	topo
	odvpn_static_up "$NA" "$NB"
	LAT[odvpn-static]=$(first_packet "$NA" "$NB" 10.78.2.1)
	wait_ping "$NA" 10.78.2.1 || { echo "odvpn-static: tunnel did not come up" >&2; RESULT[odvpn-static]=0; return; }
	measure odvpn-static 10.78.2.1
}

run_nebula() {
	command -v nebula >/dev/null || { RESULT[nebula]=-; return; }
	topo
	nebula_up
	LAT[nebula]=$(first_packet "$NA" "$NB" 10.79.0.2)
	wait_ping "$NA" 10.79.0.2 || { echo "nebula: no tunnel" >&2; RESULT[nebula]=0; return; }
	measure nebula 10.79.0.2
}

run_wg_go() {
	command -v wireguard-go >/dev/null || { RESULT[wg-go]=-; return; }
	topo
	wg_go_up
	LAT[wg-go]=$(first_packet "$NA" "$NB" 10.80.0.2)
	wait_ping "$NA" 10.80.0.2 || { echo "wireguard-go: no tunnel" >&2; RESULT[wg-go]=0; return; }
	measure wg-go 10.80.0.2
}

echo "# iperf3 TCP, 1 stream, ${DUR}s, median of $RUNS; first packet: one UDP datagram"
echo "# into a tunnel not yet made; $(nproc) cores; $(uname -r)"
printf '%-13s %12s %16s\n' system throughput "first packet"
for s in $SYSTEMS; do
	case $s in
	veth) run_veth ;;
	odvpn) run_odvpn ;;
	odvpn-static) run_odvpn_static ;;
	nebula) run_nebula ;;
	wg-go) run_wg_go ;;
	*) echo "unknown system $s" >&2; continue ;;
	esac
	cleanup
	l=${LAT[$s]:-}
	case $l in ''|lost) ;; *) l="$l ms" ;; esac
	printf '%-13s %7s Gbit/s %16s\n' "$s" "${RESULT[$s]}" "${l:--}"
done
if [ -n "${RESULT[odvpn]:-}" ]; then
	echo "# ratios: throughput odvpn/peer; first packet peer/odvpn (above 1: odvpn ahead)"
	for s in veth nebula wg-go odvpn-static; do
		v=${RESULT[$s]:-}
		case $v in ''|-|0|0.00) continue ;; esac
		l=""
		case "${LAT[$s]:-}/${LAT[odvpn]:-}" in
		*lost*|/*|*/) ;;
		*) l=$(python3 -c "print('%.2f' % (${LAT[$s]}/${LAT[odvpn]}))") ;;
		esac
		printf 'odvpn/%-12s throughput %6.2f   first packet %s\n' "$s" \
		    "$(python3 -c "print(${RESULT[odvpn]}/$v)")" "${l:--}"
	done
fi
