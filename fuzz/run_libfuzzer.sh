#!/bin/sh
# fuzz/run_libfuzzer.sh BINARY SEEDS WORKDIR: one bounded libFuzzer run, the
# tests of suite 'fuzzrun' (fuzz/meson.build, -Dfuzzing=true; .ci/run's fuzz
# configuration runs them).
#
# libFuzzer writes every new input into its first corpus directory, so it
# gets a fresh copy of the seeds under WORKDIR, never the repository's.
# CFUT_FUZZ_SECONDS (default 60) bounds the run. Prints libFuzzer's seed and
# its final "Done N runs in S second(s)" line; on a crash, a leak, a timeout
# or an out-of-memory, the end of its log and the reproducer it saved (replay
# it with `BINARY FILE`), and exits with libFuzzer's non-zero status.
set -eu

bin=$1 seeds=$2 work=$3
secs=${CFUT_FUZZ_SECONDS:-60}

rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp "$seeds"/* "$work/corpus/"

rc=0
# libFuzzer's own failure status is 77, which meson reads as "skipped":
# every failure must say 1 instead.
"$bin" "$work/corpus" -max_total_time="$secs" -timeout=25 -print_final_stats=1 \
    -error_exitcode=1 -timeout_exitcode=1 \
    -artifact_prefix="$work/artifacts/" >"$work/log" 2>&1 </dev/null || rc=$?
[ "$rc" -ne 77 ] || rc=1

name=$(basename "$bin")
grep -m1 'Seed: ' "$work/log" | sed "s|^|$name: |" || true
if done=$(grep 'Done [0-9]* runs' "$work/log"); then
    echo "$done" | sed "s|^|$name: |"
else
    echo "$name: no 'Done N runs' line"
    [ "$rc" -ne 0 ] || rc=1
fi
if [ "$rc" -ne 0 ]; then
    echo "$name: FAILED (status $rc); the end of $work/log:"
    tail -n 80 "$work/log"
    for f in "$work"/artifacts/*; do
        [ -e "$f" ] && echo "$name: reproducer: $f"
    done
fi
exit "$rc"
