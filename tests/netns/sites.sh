# Three-site topology for end-to-end tests (sourced after tests/lib.sh).
#
#   host-a (10.1.0.2) ── gw-a (10.1.0.1 | 192.0.2.1) ──┐
#   host-b (10.2.0.2) ── gw-b (10.2.0.1 | 192.0.2.2) ──┼── inet (bridge) 
#   host-c (10.3.0.2) ── gw-c (10.3.0.1 | 192.0.2.3) ──┘
#
# IPv6 inner too: fd00:N::/64 on each LAN. Each gw runs odvpnd with a key store
# made by `odvpn pki` and a config written by site_config. Everything is under
# $T_DIR; namespaces carry the run's $T_PFX.

ODVPN=$ODVPN_BUILD/odvpn
ODVPND=$ODVPN_BUILD/odvpnd

sites_topology() {
	local inet n x
	inet=$(netns_add inet)
	ip -n "$inet" link add br0 type bridge
	ip -n "$inet" link set br0 up
	for x in "$@"; do
		n=$(site_num "$x")
		netns_add "gw-$x" >/dev/null
		netns_add "host-$x" >/dev/null
		ip link add "${T_PFX}w$x" type veth peer name wan0
		ip link set wan0 netns "$T_PFX-gw-$x"
		ip link set "${T_PFX}w$x" netns "$inet"
		ip -n "$inet" link set "${T_PFX}w$x" master br0 up
		ip -n "$T_PFX-gw-$x" addr add "192.0.2.$n/24" dev wan0
		ip -n "$T_PFX-gw-$x" link set wan0 up
		ip link add "${T_PFX}l$x" type veth peer name lan0
		ip link set lan0 netns "$T_PFX-host-$x"
		ip link set "${T_PFX}l$x" netns "$T_PFX-gw-$x"
		ip -n "$T_PFX-gw-$x" link set "${T_PFX}l$x" name lan0
		ip -n "$T_PFX-gw-$x" addr add "10.$n.0.1/24" dev lan0
		ip -n "$T_PFX-gw-$x" addr add "fd00:$n::1/64" dev lan0 nodad
		ip -n "$T_PFX-gw-$x" link set lan0 up
		ip -n "$T_PFX-host-$x" addr add "10.$n.0.2/24" dev lan0
		ip -n "$T_PFX-host-$x" addr add "fd00:$n::2/64" dev lan0 nodad
		ip -n "$T_PFX-host-$x" link set lan0 up
		ip -n "$T_PFX-host-$x" route add default via "10.$n.0.1"
		ip -n "$T_PFX-host-$x" -6 route add default via "fd00:$n::1"
		ip netns exec "$T_PFX-gw-$x" sysctl -qw net.ipv4.ip_forward=1
		ip netns exec "$T_PFX-gw-$x" sysctl -qw net.ipv6.conf.all.forwarding=1
	done
}

site_num() {
	case $1 in a) echo 1 ;; b) echo 2 ;; c) echo 3 ;; d) echo 4 ;; esac
}

# sites_pki SITE...: a PKI, and per site a key store with device + service certs
sites_pki() {
	local x
	"$ODVPN" pki init --dir "$T_DIR/pki" >"$T_DIR/pki-init.log" 2>&1 || return 1
	for x in "$@"; do
		"$ODVPN" pki issue-device --dir "$T_DIR/pki" --device-id "site-$x" \
		    --keystore "$T_DIR/ks-$x" >>"$T_DIR/pki-init.log" 2>&1 || return 1
		"$ODVPN" pki issue-service --dir "$T_DIR/pki" --device-id "site-$x" \
		    --keystore "$T_DIR/ks-$x" >>"$T_DIR/pki-init.log" 2>&1 || return 1
	done
}

# site_peer_json PEER [EXTRA_PREFIXES_JSON] [RULES_JSON]
site_peer_json() {
	local p=$1 extra=${2:-} rules=${3:-[]} n
	n=$(site_num "$p")
	echo "{\"name\":\"site-$p\",\"address\":\"192.0.2.$n\",\"prefixes\":[\"10.$n.0.0/24\",\"fd00:$n::/64\"$extra],\"rules\":$rules}"
}

# site_config SITE IDLE PEERS_JSON [LAN_PREFIXES_JSON]: write $T_DIR/SITE.json
site_config() {
	local x=$1 idle=$2 peers=$3 n lan
	n=$(site_num "$x")
	lan=${4:-"[\"10.$n.0.0/24\",\"fd00:$n::/64\"]"}
	cat >"$T_DIR/$x.json" <<JSON
{
  "device_id": "site-$x",
  "keystore": "$T_DIR/ks-$x",
  "crl": "$T_DIR/pki/service-ca.crl.pem",
  "control_socket": "$T_DIR/$x.sock",
  "log_level": "${LOG_LEVEL:-info}",
  "idle_timeout_s": $idle,
  "tun": "odvpn0",
  "lan_prefixes": $lan,
  "wan_address": "192.0.2.$n",
  "ike": { "retransmit_base_ms": 200 },
  "peers": $peers
}
JSON
}

site_start() {
	local x=$1
	ip netns exec "$T_PFX-gw-$x" "$ODVPND" --config "$T_DIR/$x.json" \
	    >>"$T_DIR/$x.log" 2>&1 &
	T_PIDS+=($!)
	eval "PID_$x=$!"
	wait_for 5 test -S "$T_DIR/$x.sock"
}

site_stop() {
	local x=$1 pid
	eval "pid=\$PID_$x"
	kill "$pid" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}

ctl() {
	local x=$1; shift
	"$ODVPN" "$@" --socket "$T_DIR/$x.sock"
}

# status_json SITE: odvpn status --json
status_json() {
	ctl "$1" status --json
}

# jq-free JSON reads: python3 is installed by scripts/install-deps.sh
jget() {
	python3 -c 'import json,sys
d=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    d = d[int(k)] if isinstance(d, list) else d.get(k)
    if d is None: break
print(len(d) if isinstance(d,(list,dict)) and sys.argv[2:]==["len"] else d)' "$@"
}

in_host() {
	local x=$1; shift
	ip netns exec "$T_PFX-host-$x" "$@"
}

in_gw() {
	local x=$1; shift
	ip netns exec "$T_PFX-gw-$x" "$@"
}
