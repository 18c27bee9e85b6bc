#!/usr/bin/env bash
# Runs every fuzz target for N seconds each (default 60):
#
#   fuzz/run.sh [seconds]            e.g. fuzz/run.sh 600 for a longer run
#   FUZZ_TARGETS="decode_proof verify_mutated" fuzz/run.sh 30
#
# Needs a nightly toolchain and cargo-fuzz; without nightly it says so and exits 0 (the
# stable test suite still replays the committed corpus: `cd fuzz && cargo test`). cargo-fuzz
# is installed if missing. Exits non-zero as soon as a target finds a crash (a panic, an
# accepted dishonest proof, a timeout or an out-of-memory): the input is left in
# fuzz/artifacts/<target>/ and is to be added to tests/adversarial/ once fixed.
#
# The committed corpus (fuzz/corpus/<target>/) is read, never written: new inputs go to a
# scratch directory (FUZZ_NEW_CORPUS to keep them, then `cargo +nightly fuzz cmin` before
# committing). Builds go to their own target directory, never the main build's.
#
# Sanitizer: none by default. The library is `#![forbid(unsafe_code)]`, so AddressSanitizer
# finds nothing that the panics, overflow checks and debug assertions (all on in fuzz builds)
# do not, and it costs 20-40x in executions on the slower targets. FUZZ_SANITIZER=address
# turns it back on.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-${FUZZ_SECONDS:-60}}"
targets="${FUZZ_TARGETS:-decode_proof verify_arbitrary verify_mutated model_ops decode_node store_bytes ffi_calls}"
sanitizer="${FUZZ_SANITIZER:-none}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/avlplus-fuzz-target}"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: no nightly toolchain (rustup toolchain install nightly); fuzzing skipped"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    if ! cargo install cargo-fuzz --locked; then
        echo "fuzz: cargo-fuzz could not be installed; fuzzing skipped"
        exit 0
    fi
fi

cargo +nightly fuzz build --sanitizer "$sanitizer"

scratch="${FUZZ_NEW_CORPUS:-}"
if [ -z "$scratch" ]; then
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
fi
logs="$(mktemp -d)"
status=0
for t in $targets; do
    mkdir -p "$scratch/$t" "corpus/$t"
    echo "== fuzz $t for ${seconds}s"
    if ! cargo +nightly fuzz run --sanitizer "$sanitizer" "$t" "$scratch/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$logs/$t.log" 2>&1; then
        status=1
        grep -E "panicked|ERROR|SUMMARY|Test unit written" "$logs/$t.log" || tail -40 "$logs/$t.log"
        echo "fuzz: $t FAILED (log: $logs/$t.log)"
        continue
    fi
    grep -E "^#[0-9]+[[:space:]]+DONE" "$logs/$t.log" | tail -1 || true
    grep -E "^Done [0-9]+ runs" "$logs/$t.log" || true
done
if [ "$status" -eq 0 ]; then
    rm -rf "$logs"
else
    echo "fuzz: crashing inputs are in fuzz/artifacts/; logs in $logs"
fi
exit "$status"
