#!/bin/bash
# odvpnd against strongSwan 5.9.8 charon (kernel-libipsec), whole daemons, LAN host
# to LAN host, certificates from odvpn's own PKI (REQ-VPN-3):
#
#   host-s 10.221.1.2 ── charon 10.221.1.1 | 192.0.2.101 ══ 192.0.2.102 | 10.221.2.1 odvpnd ── host-o 10.221.2.2
#
# odvpnd as initiator (on demand, from host-o's first packet) and as responder
# (swanctl --initiate); ping and a TCP transfer both ways; CHILD rekeys by either
# side (odvpnd's own from its child_rekey_s timer) and an IKE rekey by charon,
# each followed by traffic; Delete from either side seen by the other.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/charon.inc"

if ! charon_available; then
	echo "1..0 # SKIP strongSwan charon/swanctl not installed"
	exit 0
fi
ODVPN=$ODVPN_BUILD/odvpn
ODVPND=$ODVPN_BUILD/odvpnd
REKEY=12	# odvpnd's child_rekey_s: its own rekey is seen within the test

HS=$(netns_add hs) GS=$(netns_add gs) GO=$(netns_add go) HO=$(netns_add ho)
link() {	# link NS1 IF1 ADDR1 NS2 IF2 ADDR2
	ip link add "$T_PFX-x" type veth peer name "$T_PFX-y"
	ip link set "$T_PFX-x" netns "$1" && ip -n "$1" link set "$T_PFX-x" name "$2"
	ip link set "$T_PFX-y" netns "$4" && ip -n "$4" link set "$T_PFX-y" name "$5"
	ip -n "$1" addr add "$3" dev "$2" && ip -n "$1" link set "$2" up
	ip -n "$4" addr add "$6" dev "$5" && ip -n "$4" link set "$5" up
}
link "$HS" lan0 10.221.1.2/24 "$GS" lan0 10.221.1.1/24
link "$GS" wan0 192.0.2.101/24 "$GO" wan0 192.0.2.102/24
link "$GO" lan0 10.221.2.1/24 "$HO" lan0 10.221.2.2/24
ip -n "$HS" route add default via 10.221.1.1
ip -n "$HO" route add default via 10.221.2.1
ip netns exec "$GS" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$GO" sysctl -qw net.ipv4.ip_forward=1

# --- one PKI: charon's certificate is a service certificate like any device's
D=$T_DIR
check "odvpn PKI made; service certificates for gw-s.test (charon) and gw-o.test (odvpnd)" \
    sh -c "$ODVPN pki init --dir $D/pki >/dev/null && \
    $ODVPN pki issue-service --dir $D/pki --device-id gw-s.test --keystore $D/ks-s >/dev/null && \
    $ODVPN pki issue-service --dir $D/pki --device-id gw-o.test --keystore $D/ks-o >/dev/null"

charon_conf "$D/charon"
cp "$D/pki/root.crt.pem" "$D/pki/service-ca.crt.pem" "$CH_DIR/swanctl/x509ca/"
cp "$D/ks-s/service.crt.pem" "$CH_DIR/swanctl/x509/gw-s.crt.pem"
cp "$D/ks-s/service.key.pem" "$CH_DIR/swanctl/pkcs8/gw-s.key.pem"
cat >"$CH_DIR/swanctl/swanctl.conf" <<CONF
connections {
	ss {
		version = 2
		local_addrs = 192.0.2.101
		remote_addrs = 192.0.2.102
		proposals = aes256gcm16-prfsha256-ecp256
		encap = yes
		local {
			auth = pubkey
			certs = gw-s.crt.pem
			id = gw-s.test
		}
		remote {
			auth = pubkey
			id = gw-o.test
		}
		children {
			net {
				local_ts = 10.221.1.0/24
				remote_ts = 10.221.2.0/24
				esp_proposals = aes256gcm16-ecp256,aes256gcm16
			}
		}
	}
}
CONF
cat >"$D/o.json" <<JSON
{
  "device_id": "gw-o.test",
  "keystore": "$D/ks-o",
  "control_socket": "$D/o.sock",
  "idle_timeout_s": 0,
  "lan_prefixes": ["10.221.2.0/24"],
  "wan_address": "192.0.2.102",
  "ike": { "child_rekey_s": $REKEY, "retransmit_base_ms": 300 },
  "peers": [ { "name": "gw-s", "id": "gw-s.test", "address": "192.0.2.101",
               "prefixes": ["10.221.1.0/24"] } ]
}
JSON

check "charon starts" charon_start "$GS"
check "swanctl loads the connection and our PKI's certificates" \
    sh -c "STRONGSWAN_CONF=$CH_DIR/strongswan.conf SWANCTL_DIR=$CH_DIR/swanctl swanctl --load-all >$D/load.log 2>&1"
ip netns exec "$GO" "$ODVPND" --config "$D/o.json" >"$D/odvpnd.log" 2>&1 &
T_PIDS+=($!)
check "odvpnd starts" wait_for 5 test -S "$D/o.sock"

nsping() { local ns=$1; shift; ip netns exec "$ns" ping "$@" >/dev/null 2>&1; }
ost() { "$ODVPN" status --json --socket "$D/o.sock"; }
o_children() { ost | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["child_sas"]))'; }
o_log_count() { grep -cE "$1" "$D/odvpnd.log"; }

# --- odvpnd initiates on demand
check "host-o -> host-s: first ping answered (odvpnd initiates on demand)" \
    nsping "$HO" -c 1 -W 5 10.221.1.2
check "charon: IKE SA established, CHILD SA installed in UDP" charon_established
check "charon selected AES_GCM_16_256/PRF_HMAC_SHA2_256/ECP_256, no ESN (libipsec)" \
    sh -c "grep -q 'selected proposal: IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/ECP_256' $CH_DIR/charon.log && \
    grep -q 'selected proposal: ESP:AES_GCM_16_256/NO_EXT_SEQ' $CH_DIR/charon.log"
check "charon verified odvpnd's service certificate chain and ECDSA signature" \
    charon_log_has "authentication of 'gw-o.test' with ECDSA_WITH_SHA256_DER successful"
check "odvpnd verified charon's service certificate" \
    grep -q "peer=gw-s: tunnel up in" "$D/odvpnd.log"
check "host-s -> host-o ping through the tunnel" nsping "$HS" -c 2 -i 0.2 -W 2 10.221.2.2

ip netns exec "$HS" iperf3 -s -1 -p 5201 >"$D/iperf-s.log" 2>&1 &
T_PIDS+=($!)
wait_for 3 sh -c "ip netns exec $HS ss -ltn | grep -q :5201"
check "TCP transfer host-o -> host-s (iperf3, 2 s)" \
    sh -c "ip netns exec $HO iperf3 -c 10.221.1.2 -p 5201 -t 2 >$D/iperf-o.log 2>&1"

# --- rekeys
n=$(o_log_count "CHILD SA rekeyed")
check "charon: swanctl --rekey --child" sh -c "STRONGSWAN_CONF=$CH_DIR/strongswan.conf swanctl --rekey --child net >/dev/null 2>&1"
check "odvpnd installed charon's rekeyed CHILD SA" \
    wait_for 5 sh -c "[ \$(grep -c 'CHILD SA rekeyed' $D/odvpnd.log) -gt $n ]"
check "charon rekeyed with a DH exchange (PFS)" \
    charon_log_has "CREATE_CHILD_SA request [0-9]+ \[ N\(REKEY_SA\) SA No KE TSi TSr \]"
check "ping after charon's CHILD rekey" nsping "$HO" -c 2 -i 0.2 -W 2 10.221.1.2
check "charon: swanctl --rekey --ike" sh -c "STRONGSWAN_CONF=$CH_DIR/strongswan.conf swanctl --rekey --ike ss >/dev/null 2>&1"
check "charon logged its IKE SA rekeyed" wait_for 5 charon_log_has "IKE_SA ss\[[0-9]+\] rekeyed between"
check "ping after charon's IKE rekey" nsping "$HS" -c 2 -i 0.2 -W 2 10.221.2.2
n=$(grep -c "parsed CREATE_CHILD_SA request" "$CH_DIR/charon.log")
check "odvpnd rekeys the CHILD SA itself within child_rekey_s ($REKEY s)" \
    wait_for $((REKEY + 8)) sh -c "[ \$(grep -c 'parsed CREATE_CHILD_SA request' $CH_DIR/charon.log) -gt $n ]"
check "charon installed odvpnd's rekeyed CHILD SA" \
    wait_for 5 sh -c "grep -q 'CHILD_SA net{[0-9]*} established' $CH_DIR/charon.log"
check "ping after odvpnd's CHILD rekey" nsping "$HO" -c 2 -i 0.2 -W 2 10.221.1.2

# --- delete from odvpnd
check "odvpn disconnect gw-s" sh -c "$ODVPN disconnect gw-s --socket $D/o.sock >/dev/null"
check "charon saw the Delete: no SA left" wait_for 5 charon_no_sa
check_eq "odvpnd holds no CHILD SA" 0 "$(o_children)"

# --- charon initiates, odvpnd responds
check "charon: swanctl --initiate" sh -c "STRONGSWAN_CONF=$CH_DIR/strongswan.conf swanctl --initiate --child net >/dev/null 2>&1"
check "odvpnd is the responder and the tunnel is up" \
    wait_for 5 grep -q "peer=gw-s: tunnel up (peer initiated)" "$D/odvpnd.log"
check "host-s -> host-o ping through charon's SA" nsping "$HS" -c 2 -i 0.2 -W 2 10.221.2.2
ip netns exec "$HO" iperf3 -s -1 -p 5202 >"$D/iperf-o2.log" 2>&1 &
T_PIDS+=($!)
wait_for 3 sh -c "ip netns exec $HO ss -ltn | grep -q :5202"
check "TCP transfer host-s -> host-o" \
    sh -c "ip netns exec $HS iperf3 -c 10.221.2.2 -p 5202 -t 2 >$D/iperf-s2.log 2>&1"

# --- delete from charon
check "charon: swanctl --terminate --ike" sh -c "STRONGSWAN_CONF=$CH_DIR/strongswan.conf swanctl --terminate --ike ss >/dev/null 2>&1"
check "odvpnd saw the Delete (deleted by peer)" wait_for 5 grep -q "IKE SA down (deleted by peer)" "$D/odvpnd.log"
check_eq "odvpnd holds no CHILD SA, keys wiped" 0 "$(o_children)"
check "odvpnd dropped no ESP packet as bad ICV or malformed" \
    sh -c "$ODVPN status --json --socket $D/o.sock | python3 -c 'import json,sys; d=json.load(sys.stdin)[\"dataplane\"][\"drops\"]; sys.exit(d[\"bad-icv\"] + d[\"malformed\"])'"
if [ "$T_FAILED" -gt 0 ]; then
	echo "# --- odvpnd log"; tail -n 40 "$D/odvpnd.log" | sed 's/^/# /'
	echo "# --- charon log"; tail -n 40 "$CH_DIR/charon.log" | sed 's/^/# /'
fi
t_done
