#!/bin/bash
# odvpn demo (SPEC §6), run as a user would: every step must end with its ✓,
# the exit status must be 0, and nothing it made may outlive it — neither its
# namespaces nor its processes (also when interrupted with Ctrl-C).
. "$(dirname "$0")/../lib.sh"

ODVPN=$ODVPN_BUILD/odvpn
OUT=$T_DIR/demo.out
D=$T_DIR/demo

# leftovers of one demo run, found by the names it printed
run_prefix() { sed -n 's/.*namespace(s) \(odemo[0-9a-f]*\)-\* removed.*/\1/p' "$1"; }
run_dir() { sed -n 's/^Working directory D=\([^ ]*\) .*/\1/p' "$1"; }
ns_left() { ip netns list | awk '{print $1}' | grep -c "^$1-" ; }
# its daemons name the working directory; its helpers are "odvpn demo" itself
procs_left() { { pgrep -f -- "$1/"; pgrep -fx -- "$ODVPN demo.*"; } | grep -c .; }

"$ODVPN" demo --dir "$D" --keep-dir >"$OUT" 2>&1
rc=$?
check_eq "odvpn demo exits 0" 0 "$rc"
for n in $(seq 1 12); do
	check "step $n ends with ✓" grep -q "^✓ Step $n: " "$OUT"
done
check "no step ends with ✗" sh -c "! grep -q '^✗' '$OUT'"
check "the summary says every step behaved" grep -q "^All 12 steps behaved" "$OUT"
check "the denial names the reason: no common group" \
    grep -q "denied: sites clinic and lab share no group" "$OUT"
check "the denial is shown from the audit trail" grep -q "connection.denied" "$OUT"
check "step 5 says the configuration comes from the grants" \
    grep -q "configured from grant" "$OUT"
check "the first packet through a new tunnel was answered" \
    grep -q "the very first packet was answered" "$OUT"
check "the relay attempt was refused at both places" \
    grep -qE "^✓ Step 9: relay refused: at the clinic \(selectors narrowed, [1-9][0-9]* dropped\), at the hospital \(no-relay, [1-9][0-9]* dropped\)" "$OUT"

line=$(grep -m1 "revocation to tunnel gone at the hospital:" "$OUT")
check "the revocation time is measured and shown" test -n "$line"
ms=$(echo "$line" | sed -n 's/.*hospital: \([0-9]*\) ms.*/\1/p')
diag "$line"
# REQ-PKI-5: "within seconds"; the demo's target is < 1 s. Bound 5 s: a loaded
# 2-core CI machine must not fail this, a broken push-and-teardown path must.
check "the tunnel fell within seconds of the revocation (${ms:-?} ms < 5000 ms)" \
    test "${ms:-99999}" -lt 5000

# what the demo configured is what the center granted, nothing more
check_eq "the clinic's device was given one peer, the hospital's server only" \
    'hospital ["10.1.0.10/32"]' \
    "$(jq -c -r '.peers[] | "\(.name) \(.prefixes)"' "$D/clinic/odvpnd.json" 2>/dev/null)"
check_eq "the hospital's device was given the clinic and the lab" "clinic lab" \
    "$(jq -r '[.peers[].name] | sort | join(" ")' "$D/hospital/odvpnd.json" 2>/dev/null)"
check_eq "the lab's device may open TCP 443 only" '[{"direction":"out","proto":"tcp","local":"10.3.0.10/32","remote":"10.1.0.10/32","ports":"443"}]' \
    "$(jq -c '.peers[0].rules' "$D/lab/odvpnd.json" 2>/dev/null)"
check "each device's log was kept with --keep-dir" \
    test -s "$D/hospital/odvpnd.log" -a -s "$D/clinic/odvpnd.log" -a -s "$D/lab/odvpnd.log"

pfx=$(run_prefix "$OUT")
check "the run named its namespaces ($pfx-*)" test -n "$pfx"
check_eq "no $pfx namespace is left" 0 "$(ns_left "${pfx:-odemo-none}")"
check_eq "no process of the run is left" 0 "$(procs_left "$D")"

# Ctrl-C in the middle: everything is removed all the same, exit 130
"$ODVPN" demo >"$T_DIR/int.out" 2>&1 &
demo_pid=$!
T_PIDS+=("$demo_pid")
wait_for 60 grep -q "^✓ Step 6: " "$T_DIR/int.out"
kill -INT "$demo_pid"
wait "$demo_pid"
rc=$?
check_eq "interrupted with Ctrl-C (SIGINT), the demo exits 130" 130 "$rc"
check "it says so" grep -q "^Interrupted" "$T_DIR/int.out"
pfx=$(run_prefix "$T_DIR/int.out")
dir=$(run_dir "$T_DIR/int.out")
check "it cleaned up ($pfx-*)" test -n "$pfx"
check_eq "no $pfx namespace is left after Ctrl-C" 0 "$(ns_left "${pfx:-odemo-none}")"
check_eq "no process of the interrupted run is left" 0 "$(procs_left "${dir:-/nonexistent}")"
check "its working directory is gone" test -n "$dir" -a ! -e "$dir"

check_eq "bad usage exits 2" 2 "$("$ODVPN" demo --no-such-option >/dev/null 2>&1; echo $?)"
if [ "$T_FAILED" -gt 0 ]; then
	sed 's/^/# /' "$OUT" | tail -n 120
fi
t_done
