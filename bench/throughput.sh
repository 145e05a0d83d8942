#!/bin/bash
# Data-plane throughput, side by side in one run: iperf3 (TCP, one stream, 10 s,
# median of 3) between two network namespaces joined by a veth pair, through
#   veth      the bare link (the ceiling)
#   odvpn     odvpn's data plane (ESP-in-UDP, AES-256-GCM)
#   nebula    Nebula (Debian package)
#   wg-go     wireguard-go (Debian package) configured with wg
# and prints each figure and the ratios odvpn/peer.
#
#   bench/throughput.sh                 everything
#   bench/throughput.sh veth odvpn      some of them
#   SECONDS_PER_RUN=5 RUNS=1 bench/throughput.sh odvpn
#
# The odvpn leg runs tests/tools/dp_static (a manually keyed SA pair) unless
# ODVPN_CMD is set: then it is a function body run as `odvpn_up NS_A NS_B` to
# start full odvpnd instead (see odvpn_up below). Needs root; makes namespaces
# named odpb<pid>-*, removes them at the end.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${ODVPN_BUILD:-$ROOT/build}
DUR=${SECONDS_PER_RUN:-10}
RUNS=${RUNS:-3}
SYSTEMS=${*:-veth odvpn nebula wg-go}
P=odpb$(( $$ % 10000 ))
NA=$P-a NB=$P-b
TMP=$(mktemp -d /tmp/odvpn-bench.XXXXXX)
PIDS=()
declare -A RESULT

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	PIDS=()
	ip netns del "$NA" 2>/dev/null
	ip netns del "$NB" 2>/dev/null
}
trap 'cleanup; rm -rf "$TMP"' EXIT

# two namespaces, veth 10.77.0.1 <-> 10.77.0.2 (the "WAN")
topo() {
	cleanup
	ip netns add "$NA" && ip netns add "$NB"
	ip link add "$P-va" netns "$NA" type veth peer name "$P-vb" netns "$NB"
	ip -n "$NA" addr add 10.77.0.1/24 dev "$P-va"
	ip -n "$NB" addr add 10.77.0.2/24 dev "$P-vb"
	ip -n "$NA" link set lo up; ip -n "$NB" link set lo up
	ip -n "$NA" link set "$P-va" up; ip -n "$NB" link set "$P-vb" up
}

bg_ns() {	# bg_ns NS LOG CMD...: start CMD in NS, remember its PID
	local ns=$1 log=$2; shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	PIDS+=($!)
}

wait_ping() {	# wait_ping NS ADDR: until the tunnel passes a ping (10 s)
	local i
	for i in $(seq 100); do
		ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

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

# the odvpn leg: a data plane in each namespace. TUN addresses 10.78.1.1 / 10.78.2.1
# are inside each side's protected prefix.
odvpn_up() {
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
	for _ in $(seq 50); do
		ip -n "$a" link show odb0 >/dev/null 2>&1 &&
		    ip -n "$b" link show odb0 >/dev/null 2>&1 && break
		sleep 0.1
	done
	ip -n "$a" addr add 10.78.1.1/32 dev odb0
	ip -n "$b" addr add 10.78.2.1/32 dev odb0
	ip -n "$a" route replace 10.78.2.0/24 dev odb0 src 10.78.1.1
	ip -n "$b" route replace 10.78.1.0/24 dev odb0 src 10.78.2.1
}
[ -n "${ODVPN_CMD:-}" ] && eval "odvpn_up() { $ODVPN_CMD; }"

run_veth() {
	topo
	measure veth 10.77.0.2
}

run_odvpn() {
	topo
	odvpn_up "$NA" "$NB"
	wait_ping "$NA" 10.78.2.1 || { echo "odvpn: tunnel did not come up" >&2; cat "$TMP"/odvpn-*.log >&2; RESULT[odvpn]=0; return; }
	measure odvpn 10.78.2.1
}

run_nebula() {
	command -v nebula >/dev/null || { RESULT[nebula]=-; return; }
	topo
	local d=$TMP/nebula n
	mkdir -p "$d"
	( cd "$d" && nebula-cert ca -name bench >/dev/null &&
	  nebula-cert sign -name a -ip 10.79.0.1/24 -out-crt a.crt -out-key a.key >/dev/null &&
	  nebula-cert sign -name b -ip 10.79.0.2/24 -out-crt b.crt -out-key b.key >/dev/null )
	for n in a b; do
		cat >"$d/$n.yml" <<EOT
pki: { ca: $d/ca.crt, cert: $d/$n.crt, key: $d/$n.key }
static_host_map:
  "10.79.0.1": ["10.77.0.1:4242"]
  "10.79.0.2": ["10.77.0.2:4242"]
lighthouse: { am_lighthouse: false }
listen: { host: 0.0.0.0, port: 4242 }
punchy: { punch: false }
tun: { dev: neb0, mtu: 1400 }
logging: { level: warning }
firewall:
  outbound: [ { port: any, proto: any, host: any } ]
  inbound: [ { port: any, proto: any, host: any } ]
EOT
	done
	bg_ns "$NA" "$d/a.log" nebula -config "$d/a.yml"
	bg_ns "$NB" "$d/b.log" nebula -config "$d/b.yml"
	wait_ping "$NA" 10.79.0.2 || { echo "nebula: no tunnel" >&2; RESULT[nebula]=0; return; }
	measure nebula 10.79.0.2
}

run_wg_go() {
	command -v wireguard-go >/dev/null || { RESULT[wg-go]=-; return; }
	topo
	local ka kb pa pb ia=wga$$ ib=wgb$$
	ka=$(wg genkey); kb=$(wg genkey)
	pa=$(echo "$ka" | wg pubkey); pb=$(echo "$kb" | wg pubkey)
	echo "$ka" >"$TMP/wa.key"; echo "$kb" >"$TMP/wb.key"
	# two interface names: the control sockets (/var/run/wireguard/NAME.sock)
	# are not per namespace. Foreground (-f) so that the PID we keep is the
	# daemon's; the variable lets it run on a kernel with WireGuard built in.
	bg_ns "$NA" "$TMP/wg-a.log" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
	    wireguard-go -f "$ia"
	bg_ns "$NB" "$TMP/wg-b.log" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
	    wireguard-go -f "$ib"
	for _ in $(seq 50); do
		ip -n "$NA" link show "$ia" >/dev/null 2>&1 &&
		    ip -n "$NB" link show "$ib" >/dev/null 2>&1 &&
		    [ -S /var/run/wireguard/$ia.sock ] && [ -S /var/run/wireguard/$ib.sock ] && break
		sleep 0.1
	done
	ip netns exec "$NA" wg set "$ia" private-key "$TMP/wa.key" listen-port 51820 \
	    peer "$pb" endpoint 10.77.0.2:51820 allowed-ips 10.80.0.2/32
	ip netns exec "$NB" wg set "$ib" private-key "$TMP/wb.key" listen-port 51820 \
	    peer "$pa" endpoint 10.77.0.1:51820 allowed-ips 10.80.0.1/32
	ip -n "$NA" addr add 10.80.0.1/24 dev "$ia"; ip -n "$NB" addr add 10.80.0.2/24 dev "$ib"
	ip -n "$NA" link set "$ia" mtu 1400 up; ip -n "$NB" link set "$ib" mtu 1400 up
	wait_ping "$NA" 10.80.0.2 || { echo "wireguard-go: no tunnel" >&2; RESULT[wg-go]=0; return; }
	measure wg-go 10.80.0.2
}

echo "# iperf3 TCP, 1 stream, ${DUR}s, median of $RUNS; $(nproc) cores; $(uname -r)"
for s in $SYSTEMS; do
	case $s in
	veth) run_veth ;;
	odvpn) run_odvpn ;;
	nebula) run_nebula ;;
	wg-go) run_wg_go ;;
	*) echo "unknown system $s" >&2; continue ;;
	esac
	cleanup
	printf '%-8s %8s Gbit/s\n' "$s" "${RESULT[$s]}"
done
if [ -n "${RESULT[odvpn]:-}" ]; then
	for s in veth nebula wg-go; do
		v=${RESULT[$s]:-}
		case $v in ''|-|0|0.00) continue ;; esac
		printf 'odvpn/%-7s %6.2f\n' "$s" "$(python3 -c "print(${RESULT[odvpn]}/$v)")"
	done
fi
