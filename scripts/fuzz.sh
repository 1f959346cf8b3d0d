#!/usr/bin/env bash
# Runs every cargo-fuzz target (or those named) for SECONDS each, one after another, and
# prints executions and findings per target. Needs the nightly toolchain and cargo-fuzz
# (`rustup toolchain install nightly`, `cargo install cargo-fuzz`).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      default 600 s each, every target
#   FUZZ_JOBS=2 scripts/fuzz.sh 600            two targets at a time (one per core)
#
# The corpus grows in fuzz/corpus/<target> (seeded from tests/fixtures by fuzz/seeds.txt);
# a crash is left in fuzz/artifacts/<target>/ and the script exits 1 at the end. Copy it into
# fuzz/regressions/<target>/ with the fix: `cargo test --test fuzz_corpus` replays it.
# Logs: fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
mapfile -t all < <(sed -n 's/^    ("\([a-z0-9_]*\)", .*/\1/p' src/fuzzing.rs)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

cd fuzz
mkdir -p logs corpus
cargo +nightly fuzz build -O >/dev/null 2>logs/build.log || {
    cat logs/build.log
    exit 1
}
# Run copies of the binaries, so that editing the crate meanwhile changes nothing mid-run.
bin=target/fuzz-run-$$
mkdir -p "$bin"
for t in "${targets[@]}"; do cp "target/x86_64-unknown-linux-gnu/release/$t" "$bin/"; done
trap 'rm -rf "$bin"' EXIT
jobs=${FUZZ_JOBS:-1}
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- ../src ../fuzz || echo ' (with local changes)'), $seconds s per target, $jobs at a time, $(date -u +%FT%TZ)"

# One target: seeds and past crashes into its corpus, then the run; prints its row and
# leaves "ok" or "CRASH" in logs/<target>.result.
fuzz_one() {
    local t=$1 regex result=ok execs rate
    mkdir -p "corpus/$t" "artifacts/$t"
    regex=$(awk -v t="$t" '$1 == t { print $2 }' seeds.txt)
    if [ -n "$regex" ]; then
        (cd ../tests/fixtures && find . -type f -regextype posix-extended -regex "\./($regex)" -printf '%P\n') |
            while read -r f; do cp "../tests/fixtures/$f" "corpus/$t/seed-${f//\//_}"; done
    fi
    for r in "regressions/$t"/*; do [ -f "$r" ] && cp "$r" "corpus/$t/"; done
    "$bin/$t" "corpus/$t" -max_total_time="$seconds" -print_final_stats=1 -max_len=65536 \
        -rss_limit_mb=1024 -artifact_prefix="artifacts/$t/" >"logs/$t.log" 2>&1 || result=CRASH
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "logs/$t.log" | tail -1)
    printf '%-22s %8s %14s %10s %s\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "$result"
    echo "$result" >"logs/$t.result"
}

printf '%-22s %8s %14s %10s %s\n' target seconds executions exec/s result
# A target that fails before its run (a copy, say) leaves no result: it counts as failed.
for t in "${targets[@]}"; do rm -f "logs/$t.result"; done
running=0
for t in "${targets[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    fuzz_one "$t" &
    running=$((running + 1))
done
wait
failed=()
for t in "${targets[@]}"; do
    [ "$(cat "logs/$t.result" 2>/dev/null)" = ok ] || failed+=("$t")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/)"
    exit 1
fi
