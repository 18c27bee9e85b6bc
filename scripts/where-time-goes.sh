#!/usr/bin/env bash
# Where an operation's instructions go: callgrind on one library of the compare benchmark
# (n = 10^5, 32-byte values, batches of 1024 unless BATCH says), each function's own
# instructions put in one of hashing, allocation (malloc, free, copies, reference counts),
# proof (encoding or decoding), walk (zipper, operations, key compares), seal (labelling
# outside the hash calls) and other, per operation. Instruction counts are exact and
# repeatable on a noisy machine; time also depends on cache misses, which they do not show
# (the benchmark's hashing-floor table does).
#
#   scripts/where-time-goes.sh prove|verify [blake3|sha256|ergo] [inserts|lookups|updates] [ITERATIONS [BATCH]]
#
# prove: ITERATIONS batches of BATCH (default 2 and 1024); verify: 8 proofs of BATCH operations,
# verified ITERATIONS times. Needs valgrind (scripts/setup.sh installs it). Under valgrind
# SHA-256 runs its software rounds (valgrind does not emulate SHA-NI).
set -euo pipefail
cd "$(dirname "$0")/.."

phase=${1:-}
lib=${2:-blake3}
workload=${3:-inserts}
iterations=${4:-2}
batch=${5:-1024}
case "$phase" in prove|verify) ;; *) sed -n '2,14p' "$0" >&2; exit 2 ;; esac
case "$lib" in
  blake3|sha256) frame="compare::Ours<*>::$phase" ;;
  ergo) frame="compare::Ergo::$phase" ;;
  *) echo "unknown library $lib" >&2; exit 2 ;;
esac
if [ "$phase" = prove ]; then ops=$((iterations * batch)); else ops=$((iterations * 8 * batch)); fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/avlplus-target}"
bin=$(cargo bench --no-default-features --features std --bench compare --no-run --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*compare[^"]*\)".*/\1/p' | tail -1)
[ -x "$bin" ] || { echo "could not build the compare benchmark" >&2; exit 1; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="$frame" \
  "$bin" --profile "$phase" "$lib" "$iterations" "$workload" "$batch" >/dev/null 2>&1
callgrind_annotate --inclusive=no --threshold=100 "$out" | python3 -c '
import re, sys
ops = int(sys.argv[1])
rules = [
    # Functions without a symbol are the hash crates assembly (BLAKE3 compression).
    ("hashing", r"\?\?\?:0x|blake3|blake2|sha2|TreeHasher|hash::concat|Blake2b|digest"),
    ("allocation", r"malloc|free|unlink_chunk|memmove|memcpy|memset|Arc|drop_in_place|__rdl|__rust_(alloc|dealloc|realloc)|realloc|RawVec|alloc::|Rc<"),
    ("proof", r"proof::|decode|encode|varint|BitReader|BitWriter|Reader|PayloadNeed|Arena::push|Prune|serialize|SerializedAdProof|HashMap|hashbrown|LabelHasher|visit|read_value"),
    ("seal", r"seal|digest_of|label"),
    ("walk", r"zipper|ops::|memcmp|Walker|direction|perform_one_operation|authenticated_tree_ops|batch_avl|insert_at|remove|lookup|compare|tree::arena::|tree::commit::reachable|tree::batch::"),
]
totals = {name: 0 for name, _ in rules}
totals["other"] = 0
for line in sys.stdin:
    m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)", line)
    if not m or "PROGRAM TOTALS" in m.group(2):
        continue
    n, fn = int(m.group(1).replace(",", "")), m.group(2)
    for name, pattern in rules:
        if re.search(pattern, fn):
            totals[name] += n
            break
    else:
        totals["other"] += n
total = sum(totals.values())
print(f"{ops} operations, {total / ops:,.0f} instructions per operation")
for name, n in totals.items():
    print(f"  {name:<10} {n / ops:>9,.0f}  {100 * n / max(total, 1):5.1f}%")
' "$ops"
