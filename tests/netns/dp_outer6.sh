#!/bin/bash
# ESP-in-UDP over an IPv6 WAN (REQ-VPN-7, "IPv6 outer desirable"): two gateways
# with dp_static, the WAN link IPv6 only, IPv4 and IPv6 inner traffic.
#
#   gwA 10.1.0.1/32 fd01::1 (on the TUN) | fd09::1 ==WAN== fd09::2 | gwB 10.2.0.1/32 fd02::1
T_PFX=${T_PFX:-odp$(printf '%x' $(( ($$ + RANDOM) % 4096 )))}
. "$(dirname "$0")/../lib.sh"

DPS=$ODVPN_BUILD/tests/tools/dp_static
[ -x "$DPS" ] || { echo "1..0 # SKIP $DPS not built"; exit 0; }
KAB=$(printf '3%.0s' $(seq 64))cafe0003
KBA=$(printf '4%.0s' $(seq 64))cafe0004

# netns_add in this shell (not in $(...)), so that lib.sh removes them on exit
netns_add ga >/dev/null; netns_add gb >/dev/null
GA=$T_PFX-ga GB=$T_PFX-gb
ip link add "$T_PFX-w0" netns "$GA" type veth peer name "$T_PFX-w1" netns "$GB"
ip -n "$GA" addr add fd09::1/64 dev "$T_PFX-w0" nodad
ip -n "$GB" addr add fd09::2/64 dev "$T_PFX-w1" nodad
ip -n "$GA" link set "$T_PFX-w0" up; ip -n "$GB" link set "$T_PFX-w1" up

bg ip netns exec "$GA" "$DPS" --tun odp6 --wan fd09::1 --local 10.1.0.0/24 \
    --local fd01::/64 --peer gwb --peer-addr fd09::2 --remote 10.2.0.0/24 \
    --remote fd02::/64 --spi-in 6b6b --spi-out 6a6a --key-in "$KBA" --key-out "$KAB" \
    --esn --stats "$T_DIR/ga.json" >"$T_DIR/ga.log" 2>&1
bg ip netns exec "$GB" "$DPS" --tun odp6 --wan fd09::2 --local 10.2.0.0/24 \
    --local fd02::/64 --peer gwa --peer-addr fd09::1 --remote 10.1.0.0/24 \
    --remote fd01::/64 --spi-in 6a6a --spi-out 6b6b --key-in "$KAB" --key-out "$KBA" \
    --esn --stats "$T_DIR/gb.json" >"$T_DIR/gb.log" 2>&1
check "both TUNs up" wait_for 5 sh -c \
    "ip -n $GA link show odp6 >/dev/null && ip -n $GB link show odp6 >/dev/null"
# the gateways' own addresses inside their protected prefixes, on the TUN
ip -n "$GA" addr add 10.1.0.1/32 dev odp6; ip -n "$GA" addr add fd01::1/128 dev odp6 nodad
ip -n "$GB" addr add 10.2.0.1/32 dev odp6; ip -n "$GB" addr add fd02::1/128 dev odp6 nodad
ip -n "$GA" route replace 10.2.0.0/24 dev odp6 src 10.1.0.1
ip -n "$GA" route replace fd02::/64 dev odp6 src fd01::1
ip -n "$GB" route replace 10.1.0.0/24 dev odp6 src 10.2.0.1
ip -n "$GB" route replace fd01::/64 dev odp6 src fd02::1

check "IPv4 inner over IPv6 outer, A -> B" ip netns exec "$GA" ping -c2 -i0.2 -W2 10.2.0.1
check "IPv6 inner over IPv6 outer, B -> A" ip netns exec "$GB" ping -6 -c2 -i0.2 -W2 fd01::1
ip netns exec "$GB" tcpdump -i "$T_PFX-w1" -U --immediate-mode -c 1 -nn \
    'ip6 and udp dst port 4500' >"$T_DIR/cap.txt" 2>/dev/null &
tdpid=$!
sleep 0.5
ip netns exec "$GA" ping -c2 -i0.2 -W1 10.2.0.1 >/dev/null
wait "$tdpid"
check "on the WAN: ESP in UDP/4500 over IPv6" grep -q "fd09::1.4500 > fd09::2.4500" "$T_DIR/cap.txt"
bg ip netns exec "$GB" iperf3 -s -1 -B 10.2.0.1 >"$T_DIR/iperf3-s.log" 2>&1
sleep 0.3
tcp_run() { ip netns exec "$GA" iperf3 -c 10.2.0.1 -t 2 >"$T_DIR/iperf3.log" 2>&1; }
check "TCP (iperf3, 2 s) over the IPv6 WAN" tcp_run
check_eq "no drops at gwB except link chatter" "0 0 0 0" "$(python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))["drops"]
print(d["malformed"], d["bad-icv"], d["replay"], d["relay"])' "$T_DIR/gb.json")"
t_done
