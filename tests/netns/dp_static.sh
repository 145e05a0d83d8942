#!/bin/bash
# The real data plane end to end, before IKE: two gateways running
# tests/tools/dp_static (one manually keyed SA pair), each with a LAN host, and a
# WAN link between them.
#
#   hA 10.1.0.2 fd01::2 -- gwA 10.1.0.1 | 10.9.0.1 ==WAN== 10.9.0.2 | 10.2.0.1 gwB -- hB 10.2.0.2 fd02::2
#
# gwA installs its SA on demand (as with IKE: the first packet waits in the
# queue); gwB's peer entry wrongly claims 10.3.0.0/24 behind gwA, which lets hB
# try a relay. gwA's rules: ICMP/ICMPv6 both ways, TCP 5001 both ways.
# Checks: ping both ways (the first one on demand), IPv6, TCP both ways with the
# data intact, a replayed and a tampered ESP packet dropped and counted, a relay
# attempt dropped and counted, traffic outside the rules dropped and counted.
T_PFX=${T_PFX:-odp$(printf '%x' $(( ($$ + RANDOM) % 4096 )))}
. "$(dirname "$0")/../lib.sh"

DPS=$ODVPN_BUILD/tests/tools/dp_static
[ -x "$DPS" ] || { echo "1..0 # SKIP $DPS not built"; exit 0; }
KAB=$(printf '1%.0s' $(seq 64))cafe0001
KBA=$(printf '2%.0s' $(seq 64))cafe0002

# netns_add in this shell (not in $(...)), so that lib.sh removes them on exit
for n in ha ga gb hb; do netns_add "$n" >/dev/null; done
HA=$T_PFX-ha GA=$T_PFX-ga GB=$T_PFX-gb HB=$T_PFX-hb
link() {	# link NS1 IF1 NS2 IF2
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
	ip -n "$1" link set "$2" up; ip -n "$3" link set "$4" up
}
link "$HA" "$T_PFX-a0" "$GA" "$T_PFX-a1"
link "$GA" "$T_PFX-w0" "$GB" "$T_PFX-w1"
link "$GB" "$T_PFX-b1" "$HB" "$T_PFX-b0"
ip -n "$HA" addr add 10.1.0.2/24 dev "$T_PFX-a0"
ip -n "$HA" addr add fd01::2/64 dev "$T_PFX-a0" nodad
ip -n "$GA" addr add 10.1.0.1/24 dev "$T_PFX-a1"
ip -n "$GA" addr add fd01::1/64 dev "$T_PFX-a1" nodad
ip -n "$GA" addr add 10.9.0.1/24 dev "$T_PFX-w0"
ip -n "$GB" addr add 10.9.0.2/24 dev "$T_PFX-w1"
ip -n "$GB" addr add 10.2.0.1/24 dev "$T_PFX-b1"
ip -n "$GB" addr add fd02::1/64 dev "$T_PFX-b1" nodad
ip -n "$HB" addr add 10.2.0.2/24 dev "$T_PFX-b0"
ip -n "$HB" addr add fd02::2/64 dev "$T_PFX-b0" nodad
ip -n "$HA" route add default via 10.1.0.1
ip -n "$HA" -6 route add default via fd01::1
ip -n "$HB" route add default via 10.2.0.1
ip -n "$HB" -6 route add default via fd02::1
for ns in "$GA" "$GB"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
done

bg ip netns exec "$GA" "$DPS" --tun odp0 --wan 10.9.0.1 --local 10.1.0.0/24 \
    --local fd01::/64 --peer gwb --peer-addr 10.9.0.2 --remote 10.2.0.0/24 \
    --remote fd02::/64 --spi-in b0b0b0b0 --spi-out a0a0a0a0 --key-in "$KBA" \
    --key-out "$KAB" --rule icmp::both --rule icmp6::both --rule tcp:5001:both \
    --on-demand --stats "$T_DIR/ga.json" >"$T_DIR/ga.log" 2>&1
bg ip netns exec "$GB" "$DPS" --tun odp0 --wan 10.9.0.2 --local 10.2.0.0/24 \
    --local fd02::/64 --peer gwa --peer-addr 10.9.0.1 --remote 10.1.0.0/24 \
    --remote fd01::/64 --remote 10.3.0.0/24 --spi-in a0a0a0a0 --spi-out b0b0b0b0 \
    --key-in "$KAB" --key-out "$KBA" --stats "$T_DIR/gb.json" >"$T_DIR/gb.log" 2>&1

# stat FILE PATH: a counter from a gateway's stats file, e.g. drops.replay
stat() {
	python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d=d[k]
print(d)' "$1" "$2" 2>/dev/null || echo -1
}
# the stats file is rewritten 5 times a second: poll it
stat_is() { [ "$(stat "$1" "$2")" = "$3" ]; }
stat_ge() { [ "$(stat "$1" "$2")" -ge "$3" ]; }
stat_becomes() { wait_for 5 stat_is "$@"; }

check "both gateways up with routes via the TUN" wait_for 5 sh -c \
    "ip -n $GA route show 10.2.0.0/24 | grep -q odp0 && ip -n $GB route show 10.3.0.0/24 | grep -q odp0"
check_eq "gwA has no SA before traffic (on demand)" "[]" "$(stat "$T_DIR/ga.json" sas)"

# 1. on demand: the very first packet is queued, the SA installed, the packet sent
check "first ping hA -> hB succeeds through an on-demand SA" \
    ip netns exec "$HA" ping -c1 -W3 10.2.0.2
check "gwA queued the first packet while the SA was made" \
    wait_for 5 stat_ge "$T_DIR/ga.json" queued 1
check "ping hB -> hA" ip netns exec "$HB" ping -c2 -i0.2 -W2 10.1.0.2
check "IPv6 inner: ping hA -> hB" ip netns exec "$HA" ping -6 -c2 -i0.2 -W2 fd02::2
check "IPv6 inner: ping hB -> hA" ip netns exec "$HB" ping -6 -c2 -i0.2 -W2 fd01::2

# 2. TCP both ways, data intact
head -c 3000000 /dev/urandom >"$T_DIR/blob"
want=$(sha256sum <"$T_DIR/blob" | cut -d' ' -f1)
tcp_xfer() {	# tcp_xfer SRV_NS SRV_ADDR CLI_NS: send the blob from client to server
	rm -f "$T_DIR/got"
	ip netns exec "$1" timeout 20 python3 - "$2" "$T_DIR/got" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5001)); s.listen(1)
c, _ = s.accept()
with open(sys.argv[2] + ".tmp", "wb") as f:
    while True:
        b = c.recv(65536)
        if not b: break
        f.write(b)
import os; os.rename(sys.argv[2] + ".tmp", sys.argv[2])
PY
	local srv=$!
	sleep 0.3
	ip netns exec "$3" timeout 20 python3 -c 'import socket,sys
s=socket.create_connection((sys.argv[1],5001)); s.sendall(open(sys.argv[2],"rb").read()); s.close()' "$2" "$T_DIR/blob"
	wait "$srv"
	[ "$(sha256sum <"$T_DIR/got" | cut -d' ' -f1)" = "$want" ]
}
check "TCP hA -> hB, 3 MB intact" tcp_xfer "$HB" 10.2.0.2 "$HA"
check "TCP hB -> hA, 3 MB intact" tcp_xfer "$HA" 10.1.0.2 "$HB"
check "TCP over IPv6 inner, hB -> hA" tcp_xfer "$HA" fd01::2 "$HB"

# 3. a replayed and a tampered ESP packet (captured on the WAN, sent again)
ip netns exec "$GB" tcpdump -i "$T_PFX-w1" -U --immediate-mode -c 1 -w "$T_DIR/esp.pcap" \
    'udp dst port 4500 and src host 10.9.0.1 and udp[8:4] != 0' >/dev/null 2>&1 &
tdpid=$!
sleep 0.5
ip netns exec "$HA" ping -c3 -i0.2 -W1 10.2.0.2 >/dev/null
wait "$tdpid"
inject() {	# inject MODE: resend the captured ESP payload from gwA (MODE replay|tamper)
	ip netns exec "$GA" python3 - "$T_DIR/esp.pcap" "$1" <<'PY'
import socket, struct, sys
d = open(sys.argv[1], "rb").read()
caplen = struct.unpack("<I", d[24 + 8:24 + 12])[0]
frame = d[24 + 16:24 + 16 + caplen]
ip = frame[14:]                      # Ethernet
ihl = (ip[0] & 15) * 4
esp = bytearray(ip[ihl + 8:])        # after the UDP header
if sys.argv[2] == "tamper":
    # a sequence number not seen yet (so the window check passes) on a packet
    # whose authenticated header no longer matches its ICV
    seq = struct.unpack("!I", esp[4:8])[0] + 100000
    esp[4:8] = struct.pack("!I", seq)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(bytes(esp), ("10.9.0.2", 4500))
PY
}
check "an ESP packet was captured on the WAN" test -s "$T_DIR/esp.pcap"
r0=$(stat "$T_DIR/gb.json" drops.replay); i0=$(stat "$T_DIR/gb.json" drops.bad-icv)
inject replay
check "replayed ESP packet dropped and counted (replay)" \
    stat_becomes "$T_DIR/gb.json" drops.replay $((r0 + 1))
inject tamper
check "tampered ESP packet dropped and counted (bad-icv)" \
    stat_becomes "$T_DIR/gb.json" drops.bad-icv $((i0 + 1))

# 4. relay: hB sends to 10.3.0.5 (claimed behind gwA by gwB's careless config);
# gwA decrypts it, sees it is not for its LAN, and drops it
x0=$(stat "$T_DIR/ga.json" drops.relay)
check_fails "relay attempt hB -> 10.3.0.5 gets no answer" \
    ip netns exec "$HB" ping -c2 -i0.2 -W1 10.3.0.5
check "relay attempt dropped and counted at gwA (relay)" \
    stat_becomes "$T_DIR/ga.json" drops.relay $((x0 + 2))
check "the relay attempt was reported to the daemon" grep -q "drop relay peer=gwb" "$T_DIR/ga.log"

# 5. outside the rules: UDP to hA is not in gwA's rules; TCP to another port neither
u0=$(stat "$T_DIR/ga.json" drops.rule)
ip netns exec "$HB" python3 -c 'import socket
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3): s.sendto(b"x", ("10.1.0.2", 9999))'
check "UDP outside gwA's rules dropped and counted (rule)" \
    stat_becomes "$T_DIR/ga.json" drops.rule $((u0 + 3))
check_fails "TCP to a port outside the rules does not connect" \
    ip netns exec "$HB" timeout 3 python3 -c 'import socket
socket.create_connection(("10.1.0.2", 22), timeout=2)' 2>/dev/null
check "... and was counted" wait_for 5 stat_ge "$T_DIR/ga.json" drops.rule $((u0 + 4))
check "hA -> hB still fine afterwards" ip netns exec "$HA" ping -c1 -W2 10.2.0.2

# 6. shutdown removes the routes
kill "${T_PIDS[0]}"
check "gwA's routes removed on exit" wait_for 5 sh -c "! ip -n $GA route show | grep -q odp0"
check_eq "no malformed packets at gwB" 0 "$(stat "$T_DIR/gb.json" drops.malformed)"
check_eq "no replay drops at gwB beyond the one injected" $((r0 + 1)) \
    "$(stat "$T_DIR/gb.json" drops.replay)"
t_done
