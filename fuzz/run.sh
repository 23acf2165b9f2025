#!/usr/bin/env bash
# Runs every fuzz target (or those named) for a set time and prints, per target, the
# executions, coverage (libFuzzer's `cov`, edges) and features (`ft`), corpus size and
# whether it crashed, timed out or ran out of memory.
#
#   fuzz/run.sh                 # every target, 60 s each
#   SECONDS_PER_TARGET=300 fuzz/run.sh webhook_shapes
#   JOBS=1 fuzz/run.sh          # libFuzzer workers per target (the machine may be shared)
#
# Needs cargo-fuzz and a nightly toolchain (`cargo +nightly`); builds in release with
# debug assertions and overflow checks (`-O -a`, and the fuzz crate's release profile).
# No sanitizer (`-s none`): the fuzzed code forbids `unsafe`, so AddressSanitizer would
# halve the executions for nothing. Findings land in fuzz/artifacts/<target>/.
set -uo pipefail
cd "$(dirname "$0")"
secs=${SECONDS_PER_TARGET:-60}
jobs=${JOBS:-1}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(webhook_raw webhook_shapes frame_codec knowledge signed_request
                                     audit_export)

./seed.sh >/dev/null
cargo +nightly fuzz build -O -a -s none >/dev/null || exit 1

declare -A dict=([webhook_raw]=dict/json.dict [frame_codec]=dict/json.dict
                 [signed_request]=dict/json.dict [knowledge]=dict/toml.dict
                 [audit_export]=dict/json.dict)
declare -A max_len=([webhook_raw]=65536 [webhook_shapes]=65536 [knowledge]=65536
                    [frame_codec]=16384 [signed_request]=4096 [audit_export]=65536)
mkdir -p logs
printf '%-15s %6s %12s %8s %8s %8s %8s  %s\n' target secs execs exec/s cov ft corpus result
for t in "${targets[@]}"; do
    log=logs/$t.log
    args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="${max_len[$t]:-4096}"
          -print_final_stats=1)
    [ -n "${dict[$t]:-}" ] && args+=(-dict="${dict[$t]}")
    [ "$jobs" -gt 1 ] && args+=(-fork="$jobs")
    cargo +nightly fuzz run -O -a -s none "$t" "corpus/$t" -- "${args[@]}" >"$log" 2>&1
    status=$?
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    execs=$(grep -oP 'stat::number_of_executed_units:\s*\K[0-9]+' "$log" | tail -1)
    rate=$(grep -oP 'stat::average_exec_per_sec:\s*\K[0-9]+' "$log" | tail -1)
    cov=$(grep -oP 'cov: \K[0-9]+' <<<"$last")
    ft=$(grep -oP 'ft: \K[0-9]+' <<<"$last")
    corp=$(grep -oP 'corp: \K[0-9]+' <<<"$last")
    result=ok
    grep -q 'ERROR: libFuzzer: timeout' "$log" && result=TIMEOUT
    grep -q -E 'out-of-memory|malloc limit' "$log" && result=OOM
    grep -q -E 'panicked at|deadly signal' "$log" && result=CRASH
    [ $status -ne 0 ] && [ "$result" = ok ] && result="exit $status"
    printf '%-15s %6s %12s %8s %8s %8s %8s  %s\n' "$t" "$secs" "${execs:-?}" "${rate:-?}" \
        "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
done
