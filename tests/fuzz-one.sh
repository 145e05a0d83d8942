#!/bin/bash
# tests/fuzz-one.sh FUZZER SECONDS CORPUS WORKDIR: replay the committed corpus,
# then fuzz for SECONDS more; reports two TAP results.
set -u
fz=$1 secs=$2 corpus=$3 work=$4
echo "1..2"
if "$fz" -runs=0 "$corpus" >"$work.replay.log" 2>&1; then
	echo "ok 1 - $(basename "$fz") replays its corpus ($(ls "$corpus" | wc -l) inputs)"
else
	tail -n 30 "$work.replay.log"
	echo "not ok 1 - $(basename "$fz") replays its corpus"
fi
if "$fz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work/" "$work" "$corpus" >"$work.run.log" 2>&1; then
	echo "ok 2 - $(basename "$fz") ${secs}s random run: $(grep -aoE 'Done [0-9]+ runs' "$work.run.log" | tail -1)"
else
	tail -n 40 "$work.run.log"
	echo "not ok 2 - $(basename "$fz") found a crash (artifacts in $work)"
fi
