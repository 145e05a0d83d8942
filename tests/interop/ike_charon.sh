#!/bin/bash
# odvpn's IKEv2 engine (tests/tools/ike_peer) against strongSwan 5.9.8 charon with
# kernel-libipsec, in two network namespaces. Both directions of every exchange:
# handshake, CHILD and IKE rekey, delete, IKE fragmentation, refusal of an
# unknown identity. The CHILD SA keys are proven with ESP traffic: a ping from
# charon's LAN is answered by ike_peer through the tunnel, and ike_peer's own
# ping is answered by charon's kernel, so both key directions must agree.
#
# charon is run as strongswan-5.9.8-libipsec-notes.md describes: its own
# strongswan.conf with an explicit load list (kdf; kernel-libipsec before
# kernel-netlink), a private /run through unshare --mount, swanctl over its own
# vici socket.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/charon.inc"

PEER=$ODVPN_BUILD/tests/tools/ike_peer
D=$T_DIR
NA=10.210.0.1 NB=10.210.0.2		# WAN: charon, ike_peer
LANA=10.211.1.0/24 LANB=10.211.2.0/24	# protected prefixes
HOSTA=10.211.1.1 HOSTB=10.211.2.1

if ! charon_available || [ ! -x "$PEER" ]; then
	echo "1..0 # SKIP charon, swanctl or $PEER missing"
	exit 0
fi

cmd() { echo "$*" >&7; }
peer_has() { grep -qE "$1" "$D/peer.log"; }
peer_count() { grep -cE "$1" "$D/peer.log"; }
charon_has() { grep -qE "$1" "$D/charon.log"; }
mark() { MARK=$(wc -l <"$D/charon.log"); }
charon_since_mark() { tail -n +"$((MARK + 1))" "$D/charon.log" | grep -qE "$1"; }
sas() { sw --list-sas 2>/dev/null; }
charon_up() { sas | grep -q ESTABLISHED && sas | grep -q "INSTALLED, TUNNEL-in-UDP"; }
charon_none() { ! sas | grep -q "ss:"; }
ping_a_to_b() { ip netns exec "$A" ping -c 1 -W 2 -I $HOSTA $HOSTB >/dev/null 2>&1; }
latest_spi_in() { grep CHILD_UP "$D/peer.log" | tail -1 | sed 's/.*spi_in=\([0-9a-f]*\).*/\1/'; }

# --- certificates: ECDSA P-256, SAN DNS names, openssl CLI ---
make_certs() {
	cat >"$D/ca.cnf" <<-CNF
	[req]
	prompt=no
	distinguished_name=dn
	x509_extensions=v3_ca
	[dn]
	O=odvpn-interop
	CN=odvpn interop root
	[v3_ca]
	basicConstraints=critical,CA:TRUE
	keyUsage=critical,keyCertSign,cRLSign
	subjectKeyIdentifier=hash
	CNF
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -pkeyopt ec_param_enc:named_curve -out "$D/ca.key" 2>/dev/null || return 1
	openssl req -x509 -new -config "$D/ca.cnf" -key "$D/ca.key" -sha256 -days 7 \
	    -set_serial 0x"$(openssl rand -hex 8)" -out "$D/ca.crt" || return 1
	for n in a b; do
		cat >"$D/$n.cnf" <<-CNF
		[req]
		prompt=no
		distinguished_name=dn
		[dn]
		O=odvpn-interop
		CN=gw-$n.test
		[ee]
		basicConstraints=CA:FALSE
		keyUsage=critical,digitalSignature
		extendedKeyUsage=serverAuth,clientAuth
		subjectAltName=DNS:gw-$n.test
		subjectKeyIdentifier=hash
		authorityKeyIdentifier=keyid
		CNF
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		    -pkeyopt ec_param_enc:named_curve -out "$D/$n.key" 2>/dev/null || return 1
		openssl req -new -config "$D/$n.cnf" -key "$D/$n.key" -out "$D/$n.csr" || return 1
		openssl x509 -req -in "$D/$n.csr" -CA "$D/ca.crt" -CAkey "$D/ca.key" \
		    -set_serial 0x"$(openssl rand -hex 8)" -days 7 -sha256 -extfile "$D/$n.cnf" \
		    -extensions ee -out "$D/$n.crt" 2>/dev/null || return 1
	done
	openssl verify -CAfile "$D/ca.crt" "$D/a.crt" "$D/b.crt" >/dev/null
}

# $1 = charon's dpd_delay (liveness checks from charon when idle that long),
# $2 = its ESP proposals (default: with or without PFS)
write_swanctl_conf() {
	local esp=${2:-aes256gcm16-ecp256,aes256gcm16}
	cp "$D/ca.crt" "$D/swanctl/x509ca/"
	cp "$D/a.crt" "$D/swanctl/x509/"
	cp "$D/a.key" "$D/swanctl/private/"
	cat >"$D/swanctl/swanctl.conf" <<-CONF
	connections {
		ss {
			version = 2
			local_addrs = $NA
			remote_addrs = $NB
			proposals = aes256gcm16-prfsha256-ecp256
			encap = yes
			dpd_delay = $1
			local {
				auth = pubkey
				certs = a.crt
				id = gw-a.test
			}
			remote {
				auth = pubkey
				id = gw-b.test
			}
			children {
				net {
					local_ts = $LANA
					remote_ts = $LANB
					esp_proposals = $esp
				}
			}
		}
	}
	CONF
}

# ike_peer in namespace B; extra flags in "$@"; commands through fd 7
start_peer() {
	[ -p "$D/cmd" ] || mkfifo "$D/cmd"
	exec 7<>"$D/cmd"
	: >"$D/peer.log"
	# an asynchronous command gets /dev/null as stdin unless it redirects itself
	bg bash -c 'exec "$@" <"$0"' "$D/cmd" ip netns exec "$B" "$PEER" --local-id gw-b.test \
	    --cert "$D/b.crt" --key "$D/b.key" --ca "$D/ca.crt" --bind $NB --peer-id gw-a.test \
	    --peer-addr $NA --peer-name charon --local-ts $LANB --remote-ts $LANA --esn \
	    "$@" >>"$D/peer.log" 2>>"$D/peer.err"
	PEER_PID=$LAST_PID
	wait_for 5 peer_has READY
}

stop_peer() {
	cmd quit
	for _ in $(seq 1 40); do kill -0 "$PEER_PID" 2>/dev/null || break; sleep 0.05; done
	kill "$PEER_PID" 2>/dev/null
	exec 7>&-
	cat "$D/peer.log" >>"$D/peer.all.log"
}

check "certificates made with openssl (ECDSA P-256, SAN DNS)" make_certs
charon_conf "$D" 0
write_swanctl_conf 60s

# not $(netns_add ...): a subshell would not record the namespace for cleanup
netns_add ss >/dev/null
netns_add ov >/dev/null
A=$T_PFX-ss
B=$T_PFX-ov
ip link add "$T_PFX-va" type veth peer name "$T_PFX-vb"
ip link set "$T_PFX-va" netns "$A"
ip link set "$T_PFX-vb" netns "$B"
ip -n "$A" addr add $NA/24 dev "$T_PFX-va"
ip -n "$A" addr add $HOSTA/24 dev "$T_PFX-va"	# libipsec routes need a LAN source
ip -n "$B" addr add $NB/24 dev "$T_PFX-vb"
ip -n "$A" link set "$T_PFX-va" up
ip -n "$B" link set "$T_PFX-vb" up

check "charon starts (vici socket up)" charon_start "$A"
check "swanctl loads the connection" sh -c "STRONGSWAN_CONF=$D/strongswan.conf \
    SWANCTL_DIR=$D/swanctl swanctl --load-all >$D/swanctl-load.log 2>&1"
check "ike_peer starts (PFS on CHILD rekeys)" start_peer --pfs

# --- ike_peer initiates ---
cmd connect
check "ike_peer initiates: CHILD SA up at ike_peer" wait_for 10 peer_has "^CHILD_UP .*esn=0"
check "ike_peer initiates: IKE SA and CHILD SA established at charon" wait_for 5 charon_up
check "charon selected AES_GCM_16_256/PRF_HMAC_SHA2_256/ECP_256 and no ESN" \
    sh -c "grep -q 'selected proposal: IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/ECP_256' $D/charon.log && \
    grep -q 'selected proposal: ESP:AES_GCM_16_256/NO_EXT_SEQ' $D/charon.log"
check "charon authenticated us with RFC 7427 ECDSA-SHA256" \
    charon_has "authentication of 'gw-b.test' with ECDSA_WITH_SHA256_DER successful"
check "charon saw forced NAT-T (IKE_AUTH on 4500)" charon_has "received packet: from $NB\[4500\]"
check "ping charon LAN -> ike_peer LAN answered through the tunnel" ping_a_to_b
check "ike_peer decrypted charon's ESP" peer_has "^ESP_OK .*icmp-echo-request"
cmd ping $HOSTB $HOSTA
check "ike_peer's ESP ping answered by charon" wait_for 3 peer_has "^ESP_OK .*icmp-echo-reply"

# --- charon rekeys the CHILD SA (with PFS) and the IKE SA ---
old=$(latest_spi_in)
check "charon: swanctl --rekey --child" sh -c "STRONGSWAN_CONF=$D/strongswan.conf swanctl --rekey --child net >/dev/null 2>&1"
check "CHILD rekey by charon seen by ike_peer (new SA replaces old)" \
    wait_for 5 peer_has "^CHILD_UP .*replaces=$old"
check "old CHILD SA deleted by charon" wait_for 5 peer_has "^CHILD_DOWN .*spi_in=$old .*deleted by peer"
check "charon rekeyed with a DH exchange (PFS)" charon_has "CREATE_CHILD_SA request [0-9]+ \[ N\(REKEY_SA\) SA No KE TSi TSr \]"
check "traffic flows on the rekeyed CHILD SA" ping_a_to_b
check "ESP arrives on the new SPI" peer_has "^ESP_OK spi=$(latest_spi_in) "
check "charon: swanctl --rekey --ike" sh -c "STRONGSWAN_CONF=$D/strongswan.conf swanctl --rekey --ike ss >/dev/null 2>&1"
check "IKE rekey by charon seen by ike_peer" wait_for 5 peer_has "^EVENT REKEYED .*IKE SA"
check "one IKE SA left at charon after its IKE rekey" sh -c "[ \$(STRONGSWAN_CONF=$D/strongswan.conf swanctl --list-sas | grep -c '^ss:') = 1 ]"
check "traffic flows after charon's IKE rekey" ping_a_to_b

# --- ike_peer rekeys ---
old=$(latest_spi_in)
cmd rekey-child
check "CHILD rekey by ike_peer completes" wait_for 5 peer_has "^CHILD_DOWN .*spi_in=$old .*reason=deleted$"
check "charon installed the CHILD SA ike_peer made" sh -c "STRONGSWAN_CONF=$D/strongswan.conf swanctl --list-sas | grep -q 'out $(latest_spi_in)'"
check "traffic flows on ike_peer's rekeyed CHILD SA" ping_a_to_b
n=$(peer_count "^EVENT REKEYED .*IKE SA")
cmd rekey-ike
check "IKE rekey by ike_peer completes" wait_for 5 sh -c "[ \$(grep -c '^EVENT REKEYED .*IKE SA' $D/peer.log) -gt $n ]"
check "charon rekeyed its IKE SA" charon_has "IKE_SA ss\[[0-9]+\] rekeyed between"
check "traffic flows after ike_peer's IKE rekey" ping_a_to_b

# --- delete from ike_peer ---
cmd disconnect
check "delete from ike_peer: SA down at ike_peer" wait_for 5 peer_has "^EVENT SA_DOWN"
check "delete from ike_peer: charon has no SA left" wait_for 5 charon_none

# --- charon initiates ---
check "charon: swanctl --initiate" sh -c "STRONGSWAN_CONF=$D/strongswan.conf swanctl --initiate --child net >/dev/null 2>&1"
check "charon initiates: ike_peer is responder and up" wait_for 5 peer_has "^EVENT SA_UP .*responder"
check "charon initiates: established at charon" charon_up
check "traffic flows on charon's SA" ping_a_to_b
n=$(peer_count "^CHILD_UP")
cmd rekey-child
check "CHILD rekey by ike_peer as IKE responder" wait_for 5 sh -c "[ \$(grep -c '^CHILD_UP' $D/peer.log) -gt $n ]"
check "traffic flows afterwards" ping_a_to_b

# --- delete from charon ---
check "charon: swanctl --terminate --ike" sh -c "STRONGSWAN_CONF=$D/strongswan.conf swanctl --terminate --ike ss >/dev/null 2>&1"
check "delete from charon seen by ike_peer" wait_for 5 peer_has "^EVENT SA_DOWN .*deleted by peer"
check "ike_peer has no CHILD SA left" sh -c "[ \$(grep -c '^CHILD_UP' $D/peer.log) = \$(grep -c '^CHILD_DOWN' $D/peer.log) ]"
check "ike_peer dropped nothing as malformed" sh -c "echo stats >&7; sleep 0.3; grep '^STATS' $D/peer.log | tail -1 | grep -q 'malformed=0 .*bad_icv=0'"
stop_peer

# --- ike_peer starts on port 4500 and offers Curve25519 first: INVALID_KE ---
check "ike_peer restarts (peer port 4500, DH 31 before 19, liveness 1 s)" \
    start_peer --peer-port 4500 --dh 31,19 --liveness 1
mark
cmd connect
check "after INVALID_KE_PAYLOAD, ike_peer retries with ECP_256: CHILD SA up" \
    wait_for 10 peer_has "^CHILD_UP"
check "charon answered INVALID_KE_PAYLOAD" charon_has "unacceptable, requesting ECP_256"
check "IKE_SA_INIT reached charon on port 4500 (non-ESP marker)" sh -c \
    "grep -A1 'received packet: from $NB\[4500\]' $D/charon.log | grep -q 'parsed IKE_SA_INIT request'"
check "traffic flows" ping_a_to_b
check "our liveness check (empty INFORMATIONAL) answered by charon" \
    wait_for 5 charon_since_mark "parsed INFORMATIONAL request [0-9]+ \[ \]"
check "still up after liveness checks" charon_up
cmd disconnect
check "deleted" wait_for 5 charon_none
stop_peer

# --- IKE fragmentation (RFC 7383) both ways: 576-octet datagrams; charon DPD ---
charon_conf "$D" 576
write_swanctl_conf 1s
sw --reload-settings >/dev/null 2>&1
sw --load-conns >/dev/null 2>&1
check "ike_peer restarts with --fragment-mtu 576" start_peer --fragment-mtu 576
mark
cmd connect
check "fragmented IKE_AUTH: CHILD SA up at ike_peer" wait_for 10 peer_has "^CHILD_UP"
check "charon reassembled our fragments" charon_since_mark "reassembled fragmented IKE message"
check "charon fragmented its answer" charon_since_mark "splitting IKE message .* into [0-9]+ fragments"
check "traffic flows after a fragmented handshake" ping_a_to_b
check "charon's DPD (empty INFORMATIONAL) answered by ike_peer" \
    wait_for 5 charon_since_mark "parsed INFORMATIONAL response [0-9]+ \[ \]"
cmd disconnect
wait_for 5 charon_none
stop_peer

# --- charon demands PFS, ike_peer is configured without: its rekey retries with PFS ---
write_swanctl_conf 60s aes256gcm16-ecp256
sw --load-conns >/dev/null 2>&1
check "ike_peer restarts without --pfs" start_peer
cmd connect
check "CHILD SA up (IKE_AUTH carries no KE either way)" wait_for 10 peer_has "^CHILD_UP"
old=$(latest_spi_in)
cmd rekey-child
check "rekey refused without PFS, retried with PFS: new CHILD SA" \
    wait_for 5 peer_has "^CHILD_UP .*replaces=$old"
check "the retry is ike_peer's doing" grep -q "retrying with PFS" "$D/peer.err"
check "traffic flows on the PFS-rekeyed CHILD SA" ping_a_to_b
cmd disconnect
wait_for 5 charon_none
stop_peer
write_swanctl_conf 60s
sw --load-conns >/dev/null 2>&1

# --- ike_peer refuses an identity it does not know ---
charon_conf "$D" 0
sw --reload-settings >/dev/null 2>&1
check "ike_peer restarts expecting another identity" start_peer --peer-id gw-x.test
sw --initiate --child net >/dev/null 2>&1
check "ike_peer refuses charon's unknown identity" wait_for 5 peer_has "^EVENT AUTH_FAILED .*unknown identity gw-a.test"
check "charon got AUTHENTICATION_FAILED" charon_has "received AUTHENTICATION_FAILED notify error"
check "no SA at charon after the refusal" charon_none
stop_peer

t_done
