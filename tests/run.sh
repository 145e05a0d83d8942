#!/bin/bash
# The whole test suite. Runs every layer and ends with the line "N passed, N failed".
#
#   tests/run.sh                  all layers
#   tests/run.sh unit api         only those layers
#
# Layers (all in CI):
#   unit        cmocka programs tests/*/test_*.c, release build (unit, vectors, exchange)
#   asan        the same programs built with ASan+UBSan
#   api         tests/api/*.sh: a real odvpn-center (ASan build) on loopback
#   netns       tests/netns/*.sh: odvpnd end to end in network namespaces
#   interop     tests/interop/*.sh: odvpnd against strongSwan charon
#   fuzz        each libFuzzer target over its corpus plus a short random run
#
# Every test program speaks TAP ("ok N - name" / "not ok N - name"). A program
# that exits non-zero without reporting a failure, or reports fewer results than
# its plan, counts as failed too: a crash is never a pass.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
export ODVPN_ROOT=$ROOT
LAYERS=${*:-unit asan api netns interop fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
LOGDIR=${ODVPN_TEST_LOGS:-$ROOT/build/test-logs}
mkdir -p "$LOGDIR"

pass=0
fail=0
failures=()
t_start=$SECONDS

# run_tap GROUP TIMEOUT CMD...: run one TAP-speaking program and count its results
run_tap() {
	local group=$1 limit=$2
	shift 2
	local log="$LOGDIR/${group//\//_}.log" t0=$SECONDS rc
	local p=0 f=0 plan=0 line
	timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1 </dev/null
	rc=$?
	while IFS= read -r line; do
		case "$line" in
		"ok "*)		p=$((p + 1)) ;;
		"not ok "*)	f=$((f + 1)); failures+=("$group: ${line#not ok }") ;;
		1..*)		plan=$((plan + ${line#1..})) ;;
		esac
	done < <(grep -aE '^(ok |not ok |1\.\.[0-9]+$)' "$log")
	if [ "$plan" -gt 0 ] && [ $((p + f)) -lt "$plan" ]; then
		failures+=("$group: reported $((p + f)) of $plan planned results")
		f=$((f + plan - p - f))
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		[ "$rc" -eq 124 ] && failures+=("$group: timed out after ${limit}s") \
		    || failures+=("$group: exited with status $rc")
		f=$((f + 1))
	fi
	if [ "$f" -gt 0 ]; then
		echo "--- $group (log: $log), last lines:"
		tail -n 25 "$log" | sed 's/^/    /'
	fi
	printf '%-40s %4d passed, %2d failed  (%ds)\n' "$group" "$p" "$f" $((SECONDS - t0))
	pass=$((pass + p))
	fail=$((fail + f))
}

run_cmocka_layer() {
	local build=$1 tag=$2 t
	export CMOCKA_MESSAGE_OUTPUT=TAP
	for t in $(find "$build/tests" -type f -name 'test_*' -perm -u+x | sort); do
		run_tap "$tag/${t#$build/tests/}" 600 "$t"
	done
}

run_script_layer() {
	local dir=$1 limit=$2 build=$3 t
	for t in $(ls "tests/$dir"/*.sh 2>/dev/null | sort); do
		ODVPN_BUILD=$ROOT/$build run_tap "$dir/$(basename "$t" .sh)" "$limit" "$t"
	done
}

run_fuzz_layer() {
	local f name corpus
	for f in $(find build-fuzz/fuzz -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x 2>/dev/null | sort); do
		name=$(basename "$f")
		corpus=fuzz/corpus/${name#fuzz_}
		mkdir -p "$corpus" "build-fuzz/corpus-work/$name"
		run_tap "fuzz/$name" $((FUZZ_SECONDS + 120)) \
		    tests/fuzz-one.sh "$f" "$FUZZ_SECONDS" "$corpus" "build-fuzz/corpus-work/$name"
	done
}

for layer in $LAYERS; do
	echo "== $layer"
	case $layer in
	unit)		run_cmocka_layer build unit ;;
	asan)		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			    run_cmocka_layer build-asan asan ;;
	api)		run_script_layer api 900 build-asan ;;
	netns)		run_script_layer netns 900 build ;;
	interop)	run_script_layer interop 900 build ;;
	fuzz)		run_fuzz_layer ;;
	*)		echo "unknown layer $layer"; fail=$((fail + 1)) ;;
	esac
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "== failures"
	printf '  %s\n' "${failures[@]}"
fi
echo "== total time $((SECONDS - t_start))s"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
