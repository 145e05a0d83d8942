# shellcheck shell=bash
# Shared parts of the benchmarks (sourced by bench/throughput.sh and
# bench/managed.sh): a two-namespace "WAN", processes started by PID, the
# first-packet probe, and the peers odvpn is compared with (Nebula and
# wireguard-go) brought up the same way in every benchmark.
#
# The caller sets before sourcing:
#   ROOT   the source tree          TMP    a scratch directory it removes
#   P      its namespace prefix (short: interface names are 15 characters)
# and gets NA=$P-a and NB=$P-b joined by a veth pair, 10.77.0.1 <-> 10.77.0.2.
# Every process started through bg_ns is in PIDS and killed by PID in
# bench_kill; cleanup also removes NA and NB (the caller may redefine cleanup
# to remove more, as long as it kills PIDS and removes those two).

NA=$P-a NB=$P-b
PIDS=()

bench_kill() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	PIDS=()
}

cleanup() {
	bench_kill
	ip netns del "$NA" 2>/dev/null
	ip netns del "$NB" 2>/dev/null
}

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
	for _ in $(seq 100); do
		ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# first_packet NS_SEND NS_RECV ADDR: ms from sending one datagram into a tunnel
# that does not exist yet to its delivery, or "lost"
first_packet() {
	local out=$TMP/fp.$RANDOM pid
	ip netns exec "$2" python3 "$ROOT/bench/firstpacket.py" recv "$3" 9999 "$out.ms" \
	    >"$out.ready" 2>&1 &
	pid=$!
	for _ in $(seq 100); do grep -q ready "$out.ready" 2>/dev/null && break; sleep 0.05; done
	ip netns exec "$1" python3 "$ROOT/bench/firstpacket.py" send "$3" 9999
	wait "$pid"
	cat "$out.ms" 2>/dev/null || echo lost
}

median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }

# nebula_up: Nebula in NA (10.79.0.1) and NB (10.79.0.2), certificates made once
# per run; returns when both have their address (the tunnel itself is made by
# the first packet)
nebula_up() {
	local d=$TMP/nebula n
	mkdir -p "$d"
	[ -f "$d/ca.crt" ] ||
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
	for _ in $(seq 50); do
		ip -n "$NA" addr show neb0 2>/dev/null | grep -q 10.79.0.1 &&
		    ip -n "$NB" addr show neb0 2>/dev/null | grep -q 10.79.0.2 && break
		sleep 0.1
	done
}

# wg_go_up: wireguard-go in NA (10.80.0.1) and NB (10.80.0.2), fresh keys; no
# handshake has happened when it returns
wg_go_up() {
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
}
