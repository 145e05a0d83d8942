#!/bin/bash
# odvpnd end to end, three sites in network namespaces (issue: the data plane).
#
# Site a is a hub whose operator declared an umbrella LAN (10.0.0.0/8): it has
# tunnels to b and c. Site b (mis)believes c's LAN is reachable through a — the
# relay attempt a must refuse (REQ-POL-1). a only permits ICMP and TCP/5201 with c.
#
# Checks: on-demand set-up from the first packet (none lost), traffic both ways
# (IPv4, IPv6, TCP), two peers at once, explicit disconnect/connect seen on both
# sides, relay refused and logged, rule violation dropped, replayed and tampered
# ESP dropped, malformed IKE dropped with the daemon still serving, idle teardown
# with keys wiped (visible in odvpn status), clean shutdown.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sites.inc"

IDLE=6
sites_topology a b c
check "PKI made and three devices manufactured and given service certificates" sites_pki a b c

site_config a $IDLE "[$(site_peer_json b), $(site_peer_json c "" \
    '[{"proto":"icmp"},{"proto":"icmpv6"},{"proto":"tcp","ports":"5201","direction":"out"}]')]" \
    '["10.0.0.0/8","fd00:1::/64"]'
site_config b $IDLE "[$(site_peer_json a ',"10.3.0.0/24"')]"
site_config c $IDLE "[$(site_peer_json a)]"
check "odvpnd --check accepts the three configurations" \
    sh -c "$ODVPND --config $T_DIR/a.json --check && $ODVPND --config $T_DIR/b.json --check \
    && $ODVPND --config $T_DIR/c.json --check >/dev/null"
for x in a b c; do
	check "odvpnd starts at site $x" site_start $x
done

check_eq "site a lists its two peers, both idle" "idle idle" \
    "$(ctl a peers --json | jget peers.0.state) $(ctl a peers --json | jget peers.1.state)"

# --- on demand: the very first packet goes through (queued while IKE runs)
t0=$(ms_now)
check "first ping host-a -> host-b answered (tunnel made on demand, nothing lost)" \
    in_host a ping -c 1 -W 5 10.2.0.2
diag "first packet to answer through a new tunnel: $(( $(ms_now) - t0 )) ms"
check_eq "site a has one IKE SA, with site-b" "site-b" "$(status_json a | jget ike_sas.0.peer)"
check_eq "site b sees the CHILD SA too" "1" "$(status_json b | jget child_sas len)"
check "ping host-b -> host-a (other direction)" in_host b ping -c 2 -i 0.2 -W 2 10.1.0.2
check "IPv6 inner traffic host-a -> host-b" in_host a ping -6 -c 2 -i 0.2 -W 3 fd00:2::2

in_host b iperf3 -s -1 -p 5201 >"$T_DIR/iperf-b.log" 2>&1 &
T_PIDS+=($!)
wait_for 3 in_host b sh -c 'ss -ltn | grep -q :5201'
check "TCP transfer host-a -> host-b through the tunnel" \
    sh -c "ip netns exec $T_PFX-host-a iperf3 -c 10.2.0.2 -p 5201 -t 2 >$T_DIR/iperf-a.log 2>&1"

# --- two peers at once
check "host-a reaches host-c while the tunnel to b is up" in_host a ping -c 1 -W 5 10.3.0.2
check_eq "site a holds two IKE SAs at once" "2" "$(status_json a | jget ike_sas len)"

# --- explicit disconnect, seen on both sides, and explicit connect
check "odvpn disconnect site-c at a" ctl a disconnect site-c
wait_for 3 sh -c "[ \"\$($ODVPN status --json --socket $T_DIR/c.sock | jget child_sas len)\" = 0 ]"
check_eq "site c saw the Delete: no CHILD SA left" "0" "$(status_json c | jget child_sas len)"
check "site a lists the closed SA as keys wiped (administrator request)" \
    sh -c "$ODVPN status --socket $T_DIR/a.sock | grep -q 'administrator request'"
check "odvpn connect site-c brings it back and reports the set-up time" \
    sh -c "$ODVPN connect site-c --socket $T_DIR/a.sock | grep -q 'is up'"

# --- relay: b sends to c's LAN through a; a must not forward it into its tunnel to c
relay_before=$(status_json a | jget dataplane.drops.relay)
in_host b ping -c 3 -i 0.2 -W 1 10.3.0.2 >/dev/null 2>&1
check_fails "host-b cannot reach host-c through site a" in_host b ping -c 1 -W 1 10.3.0.2
relay_after=$(status_json a | jget dataplane.drops.relay)
check "site a counted the relay attempt as dropped ($relay_before -> $relay_after)" \
    test "$relay_after" -gt "$relay_before"
check "site a logged the relay drop" grep -q "relay" "$T_DIR/a.log"

# --- rules: a permits only ICMP and TCP/5201 opened by a toward c
in_host a iperf3 -s -1 -p 5201 >"$T_DIR/iperf-a-srv.log" 2>&1 &
T_PIDS+=($!)
rule_before=$(status_json a | jget dataplane.drops.rule)
check_fails "host-c cannot open TCP/5201 toward host-a (direction out only)" \
    in_host c timeout 3 iperf3 -c 10.1.0.2 -p 5201 -t 1
check "site a counted the rule violation" \
    test "$(status_json a | jget dataplane.drops.rule)" -gt "$rule_before"

# --- replayed and tampered ESP
in_gw a timeout 5 tcpdump -i wan0 -c 1 -w "$T_DIR/esp.pcap" --immediate-mode \
    'src 192.0.2.2 and udp dst port 4500 and udp[8:4] != 0' >/dev/null 2>&1 &
T_PIDS+=($!)
cap=$!
sleep 0.5
in_host b ping -c 1 -W 2 10.1.0.2 >/dev/null
wait $cap
replay_before=$(status_json a | jget dataplane.drops.replay)
check "re-sent a captured ESP packet from b to a" \
    in_gw b python3 "$ODVPN_ROOT/tests/tools/pcap_replay.py" "$T_DIR/esp.pcap"
sleep 0.3
check "site a dropped the replayed ESP packet (replay counter)" \
    test "$(status_json a | jget dataplane.drops.replay)" -gt "$replay_before"
icv_before=$(status_json a | jget dataplane.drops.bad-icv)
# a fresh sequence number (so the window lets it through to the ICV check) and one
# ciphertext byte flipped
check "sent the captured ESP packet tampered (sequence number and ciphertext)" \
    in_gw b python3 "$ODVPN_ROOT/tests/tools/pcap_replay.py" "$T_DIR/esp.pcap" --flip 4 --flip 20
sleep 0.3
check "site a dropped the tampered ESP packet (ICV counter)" \
    test "$(status_json a | jget dataplane.drops.bad-icv)" -gt "$icv_before"

# --- malformed IKE: dropped and counted, the daemon keeps serving
mal_before=$(status_json a | jget ike.dropped_malformed)
in_gw b python3 - <<'PY'
import os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
junk = [b"\x00" * 3, os.urandom(27), b"\xff" * 28, os.urandom(200),
        bytes(8) + bytes(8) + b"\x21\x20\x22\x08" + bytes(4) + b"\xff\xff\xff\xff"]
for j in junk:
    s.sendto(j, ("192.0.2.1", 500))
    s.sendto(b"\x00\x00\x00\x00" + j, ("192.0.2.1", 4500))
PY
sleep 0.3
check "site a counted the malformed IKE messages" \
    test "$(status_json a | jget ike.dropped_malformed)" -gt "$mal_before"
check "site a still answers after malformed input (new tunnel to c)" \
    sh -c "$ODVPN disconnect site-c --socket $T_DIR/a.sock >/dev/null; sleep 0.5; \
    ip netns exec $T_PFX-host-a ping -c 1 -W 5 10.3.0.2 >/dev/null"

# --- revocation (REQ-PKI-5): c's service certificate revoked; a re-reads its CRL
serial_c=$(openssl x509 -in "$T_DIR/ks-c/service.crt.pem" -noout -serial | cut -d= -f2)
check "the tunnel a-c is up before the revocation" in_host a ping -c 1 -W 5 10.3.0.2
check "odvpn pki revoke: c's service certificate on the service CA's CRL" \
    sh -c "$ODVPN pki revoke --dir $T_DIR/pki --serial $serial_c --ca service \
    --reason keyCompromise >/dev/null"
t0=$(ms_now)
kill -HUP "$PID_a"
wait_for 5 eval '[ "$(child_count a site-c)" = 0 ]'
diag "revocation to tunnel gone at site a: $(( $(ms_now) - t0 )) ms (SIGHUP, CRL re-read)"
check "site a closed its tunnel to c: certificate revoked" \
    grep -qi "peer=site-c: certificate $serial_c revoked, closing the tunnel" "$T_DIR/a.log"
check_fails "host-a can no longer reach host-c" in_host a ping -c 1 -W 3 10.3.0.2
check "site a refused the new handshake with c (revoked)" \
    sh -c "grep 'peer=site-c: handshake refused' $T_DIR/a.log | grep -q 'is revoked'"
check_eq "and holds no SA with c" 0 "$(child_count a site-c)"

# --- idle teardown: no traffic for IDLE seconds -> Delete, keys wiped
wait_for $((IDLE * 3)) sh -c "[ \"\$($ODVPN status --json --socket $T_DIR/a.sock | jget child_sas len)\" = 0 ]"
check_eq "site a closed every idle tunnel" "0" "$(status_json a | jget child_sas len)"
check_eq "site a has no IKE SA left" "0" "$(status_json a | jget ike_sas len)"
check "odvpn status shows the idle SAs as closed with keys wiped" \
    sh -c "$ODVPN status --socket $T_DIR/a.sock | grep -A20 'keys wiped' | grep -q 'idle timeout'"
check_eq "site b saw the Delete (no SA left)" "0" "$(status_json b | jget child_sas len)"
check "after idle teardown the next packet brings the tunnel back" \
    in_host a ping -c 1 -W 5 10.2.0.2

# --- shutdown: Delete to peers, exit 0
check "SIGTERM stops odvpnd at site a" site_stop a
wait_for 3 sh -c "[ \"\$($ODVPN status --json --socket $T_DIR/b.sock | jget child_sas len)\" = 0 ]"
check_eq "site b saw a's shutdown Delete" "0" "$(status_json b | jget child_sas len)"
if [ "$T_FAILED" -gt 0 ]; then
	for x in a b c; do echo "# --- log of site $x"; tail -n 40 "$T_DIR/$x.log" | sed 's/^/# /'; done
fi
t_done
