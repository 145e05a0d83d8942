# Shared helpers for the shell-level tests (api, netns, interop). Source it.
# Speaks TAP: each check prints "ok N - desc" or "not ok N - desc".
# Namespaces and processes made here carry this run's unique prefix and are
# removed on exit; only processes started here are killed, by PID.

set -u
ODVPN_ROOT=${ODVPN_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
ODVPN_BUILD=${ODVPN_BUILD:-$ODVPN_ROOT/build}
T_N=0
T_FAILED=0
T_PIDS=()
T_NETNS=()
# short and unique: interface names are limited to 15 characters
T_PFX=${T_PFX:-ov$(printf '%x' $(( ($$ + RANDOM) % 4096 )))}
T_DIR=$(mktemp -d /tmp/odvpn-test.XXXXXX)

ok()	{ T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
not_ok() { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $*"; }
diag()	{ echo "# $*"; }

# check DESC CMD...: passes when CMD exits 0
check() {
	local desc=$1; shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# check_fails DESC CMD...: passes when CMD exits non-zero
check_fails() {
	local desc=$1; shift
	if "$@"; then not_ok "$desc"; else ok "$desc"; fi
}

# check_eq DESC EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; diag "expected [$2] got [$3]"; fi
}

# bg CMD...: start CMD in the background and remember its PID for cleanup
bg() {
	"$@" &
	T_PIDS+=($!)
	LAST_PID=$!
}

# wait_for SECONDS CMD...: poll CMD every 50 ms until it succeeds
wait_for() {
	local limit=$1; shift
	local end=$(( $(date +%s%N) / 1000000 + limit * 1000 ))
	while [ $(( $(date +%s%N) / 1000000 )) -lt $end ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

ms_now() { echo $(( $(date +%s%N) / 1000000 )); }

# netns_add NAME: create $T_PFX-NAME and print its name. Registered in a file, so
# it is removed at exit even when called inside $(...)
netns_add() {
	local ns=$T_PFX-$1
	ip netns add "$ns" || return 1
	echo "$ns" >>"$T_DIR/.netns"
	ip -n "$ns" link set lo up
	echo "$ns"
}

t_cleanup() {
	local p ns
	for p in "${T_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${T_PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null
	done
	for ns in "${T_NETNS[@]}" $(cat "$T_DIR/.netns" 2>/dev/null); do
		ip netns del "$ns" 2>/dev/null
	done
	if [ "${KEEP_TEST_DIR:-0}" = 1 ] || [ "$T_FAILED" -gt 0 ]; then
		echo "# test files kept in $T_DIR"
	else
		rm -rf "$T_DIR"
	fi
}
trap t_cleanup EXIT

# t_done: print the TAP plan at the end (plan-at-end is valid TAP)
t_done() {
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
}
