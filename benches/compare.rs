//! avlplus against `ergo_avltree_rust` 0.1.1, in memory, on identical work in one process.
//!
//! ```text
//! cargo bench --no-default-features --features std --bench compare            # full, ~30 min
//! cargo bench --no-default-features --features std --bench compare -- --quick # ~1 min
//!     [--json PATH] [--png PATH] [--reps N] [--n COUNT] [--no-memory]
//! # one library alone, for a profiler (n = 10^5, 32-byte values, 1024-insert batches);
//! # `cargo bench ... --bench compare --no-run` prints the binary's path
//! perf record --call-graph dwarf BINARY --profile prove|verify [sha256|blake3|ergo [ITERATIONS [inserts|lookups|updates [BATCH]]]]
//! ```
//!
//! (`--no-default-features --features std` keeps RocksDB out of the build; this benchmark
//! does not use it.)
//!
//! Method:
//! - One seeded generator (`common/pair.rs`) makes every step: 32-byte random keys, values of
//!   8, 32 or 128 bytes. Each library gets the same steps as its own operations, built before
//!   any clock starts. Three trees are kept in step: avlplus with SHA-256 (its default),
//!   avlplus with BLAKE3, and ergo (which hashes with BLAKE2b-256).
//! - For each tree size n, a tree of n keys is built in 50k-key batches (unmeasured). Then for
//!   each repetition and each batch size B, every workload runs once, in this order: lookups
//!   and updates of existing keys, inserts of new keys, removes of existing keys, "mixed" (a
//!   quarter each of lookups, updates, inserts and removes) and "ins+upd" (the paper's
//!   workload: half inserts, half updates). Operations within a batch are shuffled; all of
//!   them succeed. A repetition of a workload is `max(1, T / B)` batches (T = 2048; quick
//!   mode: 1024); after each one the trees are brought back to n keys by unmeasured removes
//!   or inserts.
//! - Prover time: avlplus `Tree::apply` (apply, new root, proof bytes); ergo
//!   `perform_one_operation` for each operation, `generate_proof` and `digest` (ergo computes
//!   new labels lazily, in `digest`). Verifier time: avlplus `Verifier::verify`; ergo
//!   `BatchAVLVerifier::new` (decodes the proof and checks the old digest), then
//!   `perform_one_operation` for each operation and `digest`. After the clocks stop, every
//!   result and root is compared: each verifier against its prover, and the libraries against
//!   each other (lookup results).
//! - Time is the benchmark thread's on-CPU time (`CLOCK_THREAD_CPUTIME_ID`) on 64-bit Linux,
//!   else wall time: on a shared machine a thread also waits for a core, and that wait is no
//!   library's work. The JSON keeps wall-clock figures too.
//! - Throughput is ops/s of one repetition; the tables give the median over repetitions (5 by
//!   default, at most 3 at B = 16384 and 2 at B = 2^17, whose repetitions run for seconds;
//!   quick mode: 3), and ratios are medians of ours over medians of theirs from the same
//!   run. Proof bytes per op are totals over all repetitions (they do not depend on timing).
//! - Memory: for each n and value size, a fresh child process (this binary with
//!   `--child-memory`) reads VmRSS from /proc/self/status, builds a tree of n keys with one
//!   library in 4096-key batches, and reads VmRSS and VmHWM again. "RSS/key" is the growth
//!   of VmRSS over n; "peak/key" the growth of VmHWM (which includes build buffers and what
//!   the allocator kept) over n. The two differ little when build buffers are small.
//! - The hashing floor: a fourth tree, avlplus with BLAKE3 behind a hasher that counts its
//!   calls, runs every batch after the clocks stop (its proofs must equal the BLAKE3 tree's);
//!   the counts are the same for both hashes. Each kind of call (internal node, leaf with a
//!   32-byte key and next key, value of the run's size, other) is timed alone in a loop of
//!   dependent calls, best of five, before each (n, value size). An operation's floor is its
//!   calls times those costs; "x floor" is its measured time over that floor.

#[path = "common/pair.rs"]
#[allow(dead_code)] // the proof-size breakdown is for examples/compare_ergo.rs
mod pair;
#[path = "common/plot.rs"]
mod plot;

use std::cell::Cell as Counter;
use std::fmt::Write as _;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use avlplus::{BatchProof, Blake3, Digest, Limits, Operation, Sha256, Tree, TreeHasher, Verifier};
use ergo_avltree_rust::authenticated_tree_ops::AuthenticatedTreeOps;
use ergo_avltree_rust::batch_avl_prover::BatchAVLProver;
use ergo_avltree_rust::batch_avl_verifier::BatchAVLVerifier;
use ergo_avltree_rust::batch_node::SerializedAdProof;
use ergo_avltree_rust::operation::{ADDigest, ADValue};

use pair::{
    ergo_build, ergo_found, ergo_ops, ergo_prover, ergo_tree, inserts, ours_found, ours_ops,
    ErgoOp, Key, SplitMix64, Step, BUILD_CHUNK, KEY_LEN, PAPER,
};

// ---------------------------------------------------------------------------------------------
// The hashing floor: how many hash calls of each kind an operation makes (counted on an
// unmeasured replica tree), times what one call costs alone.

thread_local! {
    /// Calls of `TreeHasher::internal`, `leaf`, `value` and `hash` (anything else) on this
    /// thread, through [`Counting`].
    static HASH_CALLS: Counter<HashCalls> = const { Counter::new(HashCalls([0; 4])) };
}

/// Hash calls by kind: internal, leaf, value, other.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct HashCalls([u64; 4]);

impl HashCalls {
    fn now() -> Self {
        HASH_CALLS.with(Counter::get)
    }

    fn since(self, start: HashCalls) -> HashCalls {
        HashCalls(std::array::from_fn(|i| self.0[i] - start.0[i]))
    }

    fn add(&mut self, other: HashCalls) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }

    /// Nanoseconds these calls take at `cost` nanoseconds per call of each kind.
    fn ns(&self, cost: &HashCost) -> f64 {
        self.0.iter().zip(cost.0).map(|(&n, c)| n as f64 * c).sum()
    }
}

fn count(kind: usize) {
    HASH_CALLS.with(|c| {
        let mut calls = c.get();
        calls.0[kind] += 1;
        c.set(calls);
    });
}

/// `H`, counting its calls: the same digests, so its proofs and roots are `H`'s.
struct Counting<H>(PhantomData<fn() -> H>);

impl<H: TreeHasher> TreeHasher for Counting<H> {
    const NAME: &'static str = H::NAME;

    fn hash(parts: &[&[u8]]) -> Digest {
        count(3);
        H::hash(parts)
    }
    fn empty() -> Digest {
        count(3);
        H::empty()
    }
    fn value(value: &[u8]) -> Digest {
        count(2);
        H::value(value)
    }
    fn leaf(key: &[u8], next: Option<&[u8]>, value_digest: &Digest) -> Digest {
        count(1);
        H::leaf(key, next, value_digest)
    }
    fn internal(balance: i8, left: &Digest, right: &Digest) -> Digest {
        count(0);
        H::internal(balance, left, right)
    }
}

/// Nanoseconds per call of `f`, best of five loops.
fn best_ns(d: &mut Digest, mut f: impl FnMut(&mut Digest)) -> f64 {
    const CALLS: u32 = 20_000;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let clock = Stopwatch::start();
        for _ in 0..CALLS {
            f(d);
        }
        best = best.min(clock.stop().secs() * 1e9 / f64::from(CALLS));
    }
    best
}

/// Nanoseconds of one call of each kind, alone in a loop (the floor no tree code can go
/// under): an internal node, a leaf with a key and a next key of the benchmark's length, a
/// value of `value_len` bytes, and a 64-byte `hash`.
#[derive(Clone, Copy, Debug)]
struct HashCost([f64; 4]);

impl HashCost {
    fn measure<H: TreeHasher>(value_len: usize) -> Self {
        let key = [0x5a; KEY_LEN];
        let mut value = vec![0xa5; value_len];
        let mut d: Digest = [7; 32];
        // Each call depends on the last, so none is skipped or overlapped.
        let cost = [
            best_ns(&mut d, |d| *d = H::internal(0, d, &key)),
            best_ns(&mut d, |d| *d = H::leaf(&key, Some(&key), d)),
            best_ns(&mut d, |d| {
                if let Some(b) = value.first_mut() {
                    *b ^= d[0];
                }
                *d = H::value(&value)
            }),
            best_ns(&mut d, |d| *d = H::hash(&[&d[..], &key])),
        ];
        std::hint::black_box(d);
        HashCost(cost)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Workload {
    Lookups,
    Updates,
    Inserts,
    Removes,
    Mixed,
    InsUpd,
}

const WORKLOADS: [Workload; 6] = [
    Workload::Lookups,
    Workload::Updates,
    Workload::Inserts,
    Workload::Removes,
    Workload::Mixed,
    Workload::InsUpd,
];

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Lookups => "lookups",
            Workload::Updates => "updates",
            Workload::Inserts => "inserts",
            Workload::Removes => "removes",
            Workload::Mixed => "mixed",
            Workload::InsUpd => "ins+upd",
        }
    }
}

/// The three trees, in the order of every per-library array below.
const LIBS: [&str; 3] = ["avlplus SHA-256", "avlplus BLAKE3", "ergo"];
const SHA: usize = 0;
const B3: usize = 1;
const ERGO: usize = 2;

struct Config {
    quick: bool,
    ns: Vec<usize>,
    value_lens: Vec<usize>,
    reps: usize,
    /// Operations per repetition of a workload at small batch sizes.
    target_ops: usize,
    memory: bool,
    json: PathBuf,
    png: PathBuf,
}

impl Config {
    /// Repetitions at batch size `batch`: fewer for the large batches, whose single
    /// repetition already runs for seconds.
    fn reps_for(&self, batch: usize) -> usize {
        match batch {
            b if b >= 1 << 17 => self.reps.min(2),
            b if b >= 16384 => self.reps.min(3),
            _ => self.reps,
        }
    }

    fn sizes(&self, n: usize) -> Vec<usize> {
        if self.quick {
            return vec![1, 128, 1024];
        }
        let mut s = vec![1, 16, 128, 1024, 16384];
        if n >= 1_000_000 {
            s.push(1 << 17);
        }
        s
    }
}

fn parse_args() -> Config {
    let mut quick = false;
    let mut n = None;
    let mut reps = None;
    let mut memory = true;
    let mut json = PathBuf::from("target/compare.json");
    let mut png = PathBuf::from("target/compare.png");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut count = |what: &str| {
            args.next()
                .and_then(|v| v.replace('_', "").parse::<usize>().ok())
                .filter(|&v| v > 0)
                .unwrap_or_else(|| usage(&format!("{what} needs a positive count")))
        };
        match a.as_str() {
            "--quick" => quick = true,
            "--n" => n = Some(count("--n")),
            "--reps" => reps = Some(count("--reps")),
            "--no-memory" => memory = false,
            "--json" => {
                json = args
                    .next()
                    .unwrap_or_else(|| usage("--json needs a path"))
                    .into()
            }
            "--png" => {
                png = args
                    .next()
                    .unwrap_or_else(|| usage("--png needs a path"))
                    .into()
            }
            "--bench" => {} // appended by `cargo bench`
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let ns = match (n, quick) {
        (Some(n), _) => vec![n],
        (None, true) => vec![100_000],
        (None, false) => vec![100_000, 1_000_000],
    };
    Config {
        quick,
        ns,
        value_lens: vec![8, 32, 128],
        reps: reps.unwrap_or(if quick { 3 } else { 5 }),
        target_ops: if quick { 1024 } else { 2048 },
        memory,
        json,
        png,
    }
}

fn usage(msg: &str) -> ! {
    if !msg.is_empty() {
        eprintln!("compare: {msg}");
    }
    eprintln!(
        "usage: cargo bench --no-default-features --features std --bench compare -- \
         [--quick] [--n COUNT] [--reps N] [--no-memory] [--json PATH] [--png PATH]\n       \
         BINARY --profile prove|verify [sha256|blake3|ergo [ITERATIONS [inserts|lookups|updates [BATCH]]]]"
    );
    std::process::exit(if msg.is_empty() { 0 } else { 2 })
}

/// The keys present in all three trees, and the generator of steps on them.
struct Keys {
    rng: SplitMix64,
    present: Vec<Key>,
    value_len: usize,
    /// Cycles the kinds of the mixed workload across batches (so that B = 1 mixes too).
    mixed_turn: usize,
}

impl Keys {
    fn fresh(&mut self, count: usize) -> Vec<Step> {
        let steps = inserts(&mut self.rng, count, self.value_len);
        self.present.extend(steps.iter().filter_map(|s| match s {
            Step::Insert(k, _) => Some(*k),
            _ => None,
        }));
        steps
    }

    /// Takes `count` distinct present keys out of the present set.
    fn take(&mut self, count: usize) -> Vec<Key> {
        (0..count)
            .map(|_| {
                let i = self.rng.below(self.present.len());
                self.present.swap_remove(i)
            })
            .collect()
    }

    fn existing(&mut self) -> Key {
        self.present[self.rng.below(self.present.len())]
    }

    fn updates(&mut self, count: usize) -> Vec<Step> {
        (0..count)
            .map(|_| Step::Update(self.existing(), self.rng.value(self.value_len)))
            .collect()
    }

    fn lookups(&mut self, count: usize) -> Vec<Step> {
        (0..count).map(|_| Step::Lookup(self.existing())).collect()
    }

    /// One batch of `size` steps of `workload`. Keys removed by the batch are taken out of the
    /// present set before updates and lookups pick theirs, so every step succeeds in any
    /// order.
    fn batch(&mut self, workload: Workload, size: usize) -> Vec<Step> {
        let mut steps = match workload {
            Workload::Lookups => self.lookups(size),
            Workload::Updates => self.updates(size),
            Workload::Inserts => self.fresh(size),
            Workload::Removes => self.take(size).into_iter().map(Step::Remove).collect(),
            Workload::Mixed => {
                // Kinds in turn: insert, remove, update, lookup.
                let mut counts = [0usize; 4];
                for i in 0..size {
                    counts[(self.mixed_turn + i) % 4] += 1;
                }
                self.mixed_turn = (self.mixed_turn + size) % 4;
                let mut steps: Vec<Step> =
                    self.take(counts[1]).into_iter().map(Step::Remove).collect();
                steps.extend(self.updates(counts[2]));
                steps.extend(self.lookups(counts[3]));
                steps.extend(self.fresh(counts[0]));
                steps
            }
            Workload::InsUpd => {
                let ins = size / 2 + (size % 2) * self.rng.below(2);
                let mut steps = self.updates(size - ins);
                steps.extend(self.fresh(ins));
                steps
            }
        };
        self.rng.shuffle(&mut steps);
        steps
    }
}

/// Wall time and the benchmark thread's on-CPU time of one measured stretch.
#[derive(Clone, Copy)]
struct Elapsed {
    wall: f64,
    /// From the scheduler's own accounting; `None` where the kernel does not report it.
    cpu: Option<f64>,
}

impl Elapsed {
    /// The time throughput is computed from: on-CPU time where known. On a shared machine the
    /// thread waits for a core while other jobs run; that wait is not work of either library.
    fn secs(&self) -> f64 {
        self.cpu.unwrap_or(self.wall)
    }
}

struct Stopwatch {
    wall: Instant,
    cpu: Option<u64>,
}

impl Stopwatch {
    fn start() -> Self {
        Stopwatch {
            cpu: clock_cpu_ns(),
            wall: Instant::now(),
        }
    }

    fn stop(&self) -> Elapsed {
        let wall = self.wall.elapsed().as_secs_f64();
        let cpu = match (self.cpu, clock_cpu_ns()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1e9),
            _ => None,
        };
        Elapsed { wall, cpu }
    }
}

/// Nanoseconds this thread has run on a CPU (`CLOCK_THREAD_CPUTIME_ID`, through rustix's safe
/// wrapper). Unlike `/proc/thread-self/schedstat`, which the kernel updates only at scheduler
/// ticks (4 ms on the project's VM), this clock is exact to the call.
#[cfg(target_os = "linux")]
fn thread_cpu_ns() -> Option<u64> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    let secs = u64::try_from(t.tv_sec).ok()?;
    let nanos = u64::try_from(t.tv_nsec).ok()?;
    Some(secs * 1_000_000_000 + nanos)
}

/// Wall time only where the thread clock is not wired up.
#[cfg(not(target_os = "linux"))]
fn thread_cpu_ns() -> Option<u64> {
    None
}

/// The benchmark thread's on-CPU time, unless a library runs part of its work on another
/// thread (`AVLPLUS_SEAL_THREADS=2`): then every library is timed by the wall clock.
fn clock_cpu_ns() -> Option<u64> {
    if two_thread_seal() {
        None
    } else {
        thread_cpu_ns()
    }
}

/// `AVLPLUS_SEAL_THREADS=2`: the tree seals large batches on two threads (reported apart
/// from the single-thread figures).
fn two_thread_seal() -> bool {
    // Read once: the stopwatch asks at every start and stop, inside the timed stretch.
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("AVLPLUS_SEAL_THREADS").is_ok_and(|t| t == "2"))
}

/// A new tree as the run measures it. Boxed, as ergo's prover is behind its own pointers.
fn new_tree<H: TreeHasher>() -> Box<Tree<H>> {
    let mut tree = Box::new(Tree::empty());
    tree.seal_on_two_threads(two_thread_seal());
    tree
}

/// One avlplus tree with its verifier.
struct Ours<H: TreeHasher> {
    tree: Box<Tree<H>>,
    verifier: Verifier<H>,
}

impl<H: TreeHasher> Ours<H> {
    fn new() -> Self {
        Ours {
            tree: new_tree(),
            verifier: Verifier::with_limits(Limits::default()),
        }
    }

    fn unproven(&mut self, steps: &[Step]) {
        let results = self
            .tree
            .apply_unproven(&ours_ops(steps))
            .expect("avlplus unproven batch");
        ours_found(steps, &results);
    }

    /// Timed: proves every batch. Returns seconds and the proofs.
    #[inline(never)] // a profiler selects the measured work by this frame
    fn prove(&mut self, batches: &[Vec<Operation>]) -> (Elapsed, Vec<BatchProof>) {
        let clock = Stopwatch::start();
        let proofs: Vec<BatchProof> = batches
            .iter()
            .map(|ops| self.tree.apply(ops).expect("avlplus batch"))
            .collect();
        (clock.stop(), proofs)
    }

    /// Timed: verifies every proof; then checks results and roots against the prover's.
    #[inline(never)] // a profiler selects the measured work by this frame
    fn verify(&self, batches: &[Vec<Operation>], proofs: &[BatchProof]) -> Elapsed {
        let clock = Stopwatch::start();
        let verified: Vec<_> = batches
            .iter()
            .zip(proofs)
            .map(|(ops, p)| {
                self.verifier
                    .verify(&p.old_root, p.proof.as_bytes(), ops)
                    .expect("avlplus proof verifies")
            })
            .collect();
        let secs = clock.stop();
        for (v, p) in verified.iter().zip(proofs) {
            assert_eq!(v.results, p.results);
            assert_eq!(v.new_root, p.new_root);
        }
        secs
    }
}

/// One ergo prover batch: what its verifier needs and what it must reproduce.
struct ErgoBatch {
    old: ADDigest,
    proof: SerializedAdProof,
    new: ADDigest,
    results: Vec<Option<ADValue>>,
}

struct Ergo {
    prover: BatchAVLProver,
    value_len: usize,
    digest: ADDigest,
}

impl Ergo {
    fn new(value_len: usize) -> Self {
        let prover = ergo_prover(value_len);
        let digest = prover.digest().expect("ergo digest");
        Ergo {
            prover,
            value_len,
            digest,
        }
    }

    /// Unproven work (ergo has no such path: the proof is made and dropped).
    fn unproven(&mut self, steps: &[Step]) {
        let ops = ergo_ops(steps);
        let results: Vec<_> = ops
            .iter()
            .map(|op| self.prover.perform_one_operation(op).expect("ergo op"))
            .collect();
        ergo_found(steps, &results);
        self.prover.generate_proof();
        self.digest = self.prover.digest().expect("ergo digest");
    }

    fn build(&mut self, steps: &[Step]) {
        ergo_build(&mut self.prover, steps);
        self.digest = self.prover.digest().expect("ergo digest");
    }

    /// Timed: performs and proves every batch, new digest included.
    #[inline(never)] // a profiler selects the measured work by this frame
    fn prove(&mut self, batches: &[Vec<ErgoOp>]) -> (Elapsed, Vec<ErgoBatch>) {
        let clock = Stopwatch::start();
        let mut out = Vec::with_capacity(batches.len());
        for ops in batches {
            let results: Vec<_> = ops
                .iter()
                .map(|op| self.prover.perform_one_operation(op).expect("ergo op"))
                .collect();
            let proof = self.prover.generate_proof();
            let new = self.prover.digest().expect("ergo digest");
            let old = std::mem::replace(&mut self.digest, new.clone());
            out.push(ErgoBatch {
                old,
                proof,
                new,
                results,
            });
        }
        (clock.stop(), out)
    }

    /// Timed: verifies every proof; then checks results and digests against the prover's.
    #[inline(never)] // a profiler selects the measured work by this frame
    fn verify(&self, batches: &[Vec<ErgoOp>], proofs: &[ErgoBatch]) -> Elapsed {
        let clock = Stopwatch::start();
        let replayed: Vec<_> = batches
            .iter()
            .zip(proofs)
            .map(|(ops, p)| {
                let tree = ergo_tree(self.value_len);
                let mut v = BatchAVLVerifier::new(&p.old, &p.proof, tree, None, None)
                    .expect("ergo verifier accepts the proof");
                let results: Vec<_> = ops
                    .iter()
                    .map(|op| v.perform_one_operation(op).expect("ergo verifier op"))
                    .collect();
                (results, v.digest())
            })
            .collect();
        let secs = clock.stop();
        for ((results, digest), p) in replayed.iter().zip(proofs) {
            assert_eq!(results, &p.results);
            assert_eq!(digest.as_ref(), Some(&p.new));
        }
        secs
    }
}

/// Measurements of one (n, value size, workload, batch size).
struct Cell {
    n: usize,
    value_len: usize,
    workload: Workload,
    batch: usize,
    batches_per_rep: usize,
    /// Ops/s of each repetition, per library (from on-CPU time where known).
    prove: [Vec<f64>; 3],
    verify: [Vec<f64>; 3],
    /// The same from wall time.
    prove_wall: [Vec<f64>; 3],
    verify_wall: [Vec<f64>; 3],
    /// Proof bytes over all repetitions, per library.
    bytes: [u64; 3],
    ops: u64,
    /// Hash calls of all repetitions' batches, proving and verifying (the same for both
    /// hashes: they depend only on the trees and the operations).
    hashes: [HashCalls; 2],
    /// What one hash call costs, SHA-256 and BLAKE3, measured before this (n, value size).
    cost: [HashCost; 2],
}

impl Cell {
    fn prove_med(&self, lib: usize) -> f64 {
        median(&self.prove[lib])
    }
    fn verify_med(&self, lib: usize) -> f64 {
        median(&self.verify[lib])
    }
    fn bytes_per_op(&self, lib: usize) -> f64 {
        self.bytes[lib] as f64 / self.ops as f64
    }
    /// Hash calls per operation of each kind, proving (`phase` 0) or verifying (1).
    fn hashes_per_op(&self, phase: usize) -> [f64; 4] {
        self.hashes[phase].0.map(|n| n as f64 / self.ops as f64)
    }
    /// Measured time per operation over the hashing floor (the same hash calls alone), for
    /// `lib` (SHA or B3) proving (`phase` 0) or verifying (1).
    fn over_floor(&self, lib: usize, phase: usize) -> f64 {
        let floor_ns = self.hashes[phase].ns(&self.cost[lib]) / self.ops as f64;
        let med = if phase == 0 {
            self.prove_med(lib)
        } else {
            self.verify_med(lib)
        };
        1e9 / med / floor_ns
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        l if l % 2 == 1 => s[l / 2],
        l => (s[l / 2 - 1] + s[l / 2]) / 2.0,
    }
}

/// Builds the three trees for (n, value size) and runs every workload and batch size.
fn run_config(cfg: &Config, n: usize, value_len: usize, cells: &mut Vec<Cell>) {
    let start = Instant::now();
    let seed = 0x0C04_DA2E_u64 ^ ((n as u64) << 8) ^ ((value_len as u64) << 40);
    let mut keys = Keys {
        rng: SplitMix64(seed),
        present: Vec::with_capacity(n + n / 2),
        value_len,
        mixed_turn: 0,
    };
    let cost = [
        HashCost::measure::<Sha256>(value_len),
        HashCost::measure::<Blake3>(value_len),
    ];
    let mut sha = Ours::<Sha256>::new();
    let mut b3 = Ours::<Blake3>::new();
    let mut counted = Ours::<Counting<Blake3>>::new();
    let mut ergo = Ergo::new(value_len);
    let mut built = 0;
    while built < n {
        let steps = keys.fresh(BUILD_CHUNK.min(n - built));
        sha.unproven(&steps);
        b3.unproven(&steps);
        counted.unproven(&steps);
        ergo.build(&steps);
        built += steps.len();
    }
    eprintln!(
        "n={n} v={value_len}: built 3 trees in {:.1}s",
        start.elapsed().as_secs_f64()
    );

    let sizes = cfg.sizes(n);
    let first = cells.len();
    for &batch in &sizes {
        for workload in WORKLOADS {
            cells.push(Cell {
                n,
                value_len,
                workload,
                batch,
                batches_per_rep: (cfg.target_ops / batch).max(1),
                prove: Default::default(),
                verify: Default::default(),
                prove_wall: Default::default(),
                verify_wall: Default::default(),
                bytes: [0; 3],
                ops: 0,
                hashes: Default::default(),
                cost,
            });
        }
    }
    for rep in 0..cfg.reps {
        for cell in cells[first..].iter_mut() {
            if rep >= cfg.reps_for(cell.batch) {
                continue;
            }
            run_cell(cell, &mut keys, &mut sha, &mut b3, &mut counted, &mut ergo);
            // Back to n keys, unmeasured, so that every cell starts at n.
            let len = keys.present.len();
            let steps: Vec<Step> = if len > n {
                keys.take(len - n).into_iter().map(Step::Remove).collect()
            } else {
                keys.fresh(n - len)
            };
            if !steps.is_empty() {
                sha.unproven(&steps);
                b3.unproven(&steps);
                counted.unproven(&steps);
                ergo.unproven(&steps);
            }
            assert_eq!(keys.present.len(), n);
        }
        eprintln!(
            "n={n} v={value_len}: repetition {}/{} done at {:.1}s",
            rep + 1,
            cfg.reps,
            start.elapsed().as_secs_f64()
        );
    }
    for c in &cells[first..] {
        eprintln!(
            "  {:>7} B={:<6} prove {:>9.0} {:>9.0} {:>9.0} ops/s  verify {:>9.0} {:>9.0} \
             {:>9.0} ops/s  {:>6.1} {:>6.1} B/op",
            c.workload.name(),
            c.batch,
            c.prove_med(SHA),
            c.prove_med(B3),
            c.prove_med(ERGO),
            c.verify_med(SHA),
            c.verify_med(B3),
            c.verify_med(ERGO),
            c.bytes_per_op(SHA),
            c.bytes_per_op(ERGO),
        );
    }
}

/// One repetition of one cell on all three trees.
fn run_cell(
    cell: &mut Cell,
    keys: &mut Keys,
    sha: &mut Ours<Sha256>,
    b3: &mut Ours<Blake3>,
    counted: &mut Ours<Counting<Blake3>>,
    ergo: &mut Ergo,
) {
    let steps: Vec<Vec<Step>> = (0..cell.batches_per_rep)
        .map(|_| keys.batch(cell.workload, cell.batch))
        .collect();
    let ops: Vec<Vec<Operation>> = steps.iter().map(|s| ours_ops(s)).collect();
    let eops: Vec<Vec<ErgoOp>> = steps.iter().map(|s| ergo_ops(s)).collect();
    let count = (cell.batches_per_rep * cell.batch) as f64;

    let (t_sha, p_sha) = sha.prove(&ops);
    let (t_b3, p_b3) = b3.prove(&ops);
    let (t_ergo, p_ergo) = ergo.prove(&eops);
    let v_sha = sha.verify(&ops, &p_sha);
    let v_b3 = b3.verify(&ops, &p_b3);
    let v_ergo = ergo.verify(&eops, &p_ergo);
    // Unmeasured: the same batches on the counting replica, for the hashing floor.
    let start = HashCalls::now();
    let (_, p_counted) = counted.prove(&ops);
    let proved = HashCalls::now();
    counted.verify(&ops, &p_counted);
    cell.hashes[0].add(proved.since(start));
    cell.hashes[1].add(HashCalls::now().since(proved));
    for (c, b) in p_counted.iter().zip(&p_b3) {
        assert_eq!(
            c.proof.as_bytes(),
            b.proof.as_bytes(),
            "the replica diverged"
        );
    }

    for (i, s) in steps.iter().enumerate() {
        let found = ours_found(s, &p_sha[i].results);
        assert_eq!(p_b3[i].results, p_sha[i].results);
        assert_eq!(
            found,
            ergo_found(s, &p_ergo[i].results),
            "the libraries disagree on lookups"
        );
    }
    let sum = |p: &[BatchProof]| p.iter().map(|b| b.proof.len() as u64).sum::<u64>();
    cell.bytes[SHA] += sum(&p_sha);
    cell.bytes[B3] += sum(&p_b3);
    cell.bytes[ERGO] += p_ergo.iter().map(|b| b.proof.len() as u64).sum::<u64>();
    cell.ops += count as u64;
    for (lib, (tp, tv)) in [(t_sha, v_sha), (t_b3, v_b3), (t_ergo, v_ergo)]
        .into_iter()
        .enumerate()
    {
        cell.prove[lib].push(count / tp.secs());
        cell.verify[lib].push(count / tv.secs());
        cell.prove_wall[lib].push(count / tp.wall);
        cell.verify_wall[lib].push(count / tv.wall);
    }
}

/// Memory of one library's tree of n keys, measured in a child process.
struct Memory {
    n: usize,
    value_len: usize,
    /// (RSS growth, VmHWM growth) in bytes per key: avlplus, ergo.
    per_key: [(f64, f64); 2],
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The child: builds one tree, prints `rss_before rss_after hwm_after` in KiB.
fn child_memory(lib: &str, n: usize, value_len: usize) {
    let mut rng = SplitMix64(0x3E3_u64 ^ (n as u64) ^ ((value_len as u64) << 40));
    let before = status_kib("VmRSS:");
    let mut sha = None;
    let mut ergo = None;
    match lib {
        "avlplus" => sha = Some(Ours::<Sha256>::new()),
        "ergo" => ergo = Some(Ergo::new(value_len)),
        _ => usage("--child-memory needs avlplus or ergo"),
    }
    // Small build batches: the allocator keeps what a batch's buffers (steps, operations,
    // results) freed, and with 50k-key batches that residue is ~15% of a 10^5-key tree.
    const CHUNK: usize = 4096;
    let mut built = 0;
    while built < n {
        let steps = inserts(&mut rng, CHUNK.min(n - built), value_len);
        if let Some(t) = &mut sha {
            t.unproven(&steps);
        }
        if let Some(e) = &mut ergo {
            e.build(&steps);
        }
        built += steps.len();
    }
    let after = status_kib("VmRSS:");
    let hwm = status_kib("VmHWM:");
    println!("{before} {after} {hwm}");
    if let Some(bytes) = sha
        .as_ref()
        .map(|t| avlplus::__internal::heap_bytes(&t.tree))
    {
        // What the rest of the growth is not: the arena's own slots and strings.
        eprintln!(
            "arena engine: {} B/key in its slots and strings",
            bytes / n.max(1)
        );
    }
    // Keep the trees alive until measured.
    drop((sha, ergo));
}

fn measure_memory(n: usize, value_len: usize) -> Option<Memory> {
    let exe = std::env::current_exe().ok()?;
    let mut per_key = [(0.0, 0.0); 2];
    for (i, lib) in ["avlplus", "ergo"].into_iter().enumerate() {
        let out = Command::new(&exe)
            .args([
                "--child-memory",
                lib,
                &n.to_string(),
                &value_len.to_string(),
            ])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Vec<f64> = text
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        if !out.status.success() || v.len() != 3 {
            eprintln!("compare: memory child for {lib} failed: {text}");
            return None;
        }
        per_key[i] = (
            (v[1] - v[0]) * 1024.0 / n as f64,
            (v[2] - v[0]) * 1024.0 / n as f64,
        );
    }
    eprintln!(
        "n={n} v={value_len}: memory per key avlplus {:.0} B (peak {:.0}), ergo {:.0} B \
         (peak {:.0})",
        per_key[0].0, per_key[0].1, per_key[1].0, per_key[1].1
    );
    Some(Memory {
        n,
        value_len,
        per_key,
    })
}

/// One target of issues 4 and 11 and whether this run meets it.
struct Target {
    what: String,
    measured: f64,
    bound: f64,
    /// true: measured must be at least bound; false: at most.
    at_least: bool,
}

impl Target {
    fn holds(&self) -> bool {
        if self.at_least {
            self.measured >= self.bound
        } else {
            self.measured <= self.bound
        }
    }
}

/// The workloads issue 11's speed targets name.
const TARGET_WORKLOADS: [Workload; 5] = [
    Workload::Inserts,
    Workload::Lookups,
    Workload::Updates,
    Workload::Removes,
    Workload::Mixed,
];

fn targets(cells: &[Cell], mem: &[Memory]) -> Vec<Target> {
    let mut t = Vec::new();
    // Issue 11: for each n measured, 32-byte values, the worst ratio over the named
    // workloads, at batches of 1024 (prover 3x, verifier 2.5x) and of 1 and 16 (2x).
    for n in [100_000, 1_000_000] {
        let exp = if n == 100_000 { 5 } else { 6 };
        for (lib, hash) in [(SHA, "SHA-256"), (B3, "BLAKE3")] {
            for (side, big) in [("prover", 3.0), ("verifier", 2.5)] {
                for (batches, bound) in [(&[1024][..], big), (&[1, 16][..], 2.0)] {
                    let named = |c: &&Cell| {
                        c.n == n
                            && c.value_len == 32
                            && batches.contains(&c.batch)
                            && TARGET_WORKLOADS.contains(&c.workload)
                    };
                    // The batch sizes this run has (quick mode has no 16).
                    let sizes: Vec<String> = batches
                        .iter()
                        .filter(|&&b| cells.iter().filter(named).any(|c| c.batch == b))
                        .map(|b| b.to_string())
                        .collect();
                    let worst = cells
                        .iter()
                        .filter(named)
                        .map(|c| {
                            let r = if side == "prover" {
                                c.prove_med(lib) / c.prove_med(ERGO)
                            } else {
                                c.verify_med(lib) / c.verify_med(ERGO)
                            };
                            (r, c)
                        })
                        .min_by(|a, b| a.0.total_cmp(&b.0));
                    if let Some((r, c)) = worst {
                        t.push(Target {
                            what: format!(
                                "{side} {hash}, n=10^{exp}, 32 B values, B={}, vs ergo \
                                 (worst: {} B={})",
                                sizes.join("/"),
                                c.workload.name(),
                                c.batch
                            ),
                            measured: r,
                            bound,
                            at_least: true,
                        });
                    }
                }
            }
        }
    }
    // Issue 11: the BLAKE3 engine within 2x of its hashing floor at batches of 1024.
    for (phase, side) in [(0, "prover"), (1, "verifier")] {
        let worst = cells
            .iter()
            .filter(|c| c.value_len == 32 && c.batch == 1024 && c.workload != Workload::Lookups)
            .map(|c| (c.over_floor(B3, phase), c))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((r, c)) = worst {
            t.push(Target {
                what: format!(
                    "{side} BLAKE3 time over its hashing floor, 32 B values, B=1024 \
                     (worst: n={} {})",
                    c.n,
                    c.workload.name()
                ),
                measured: r,
                bound: 2.0,
                at_least: false,
            });
        }
    }
    // Issue 11: memory per key.
    for m in mem.iter().filter(|m| m.value_len == 32) {
        t.push(Target {
            what: format!("memory per key (RSS), n={}, 32 B values, vs ergo", m.n),
            measured: m.per_key[0].0 / m.per_key[1].0,
            bound: 0.35,
            at_least: false,
        });
    }
    // Issue 4: proof bytes.
    let worst = |filter: &dyn Fn(&Cell) -> bool| {
        cells
            .iter()
            .filter(|c| filter(c))
            .map(|c| (c.bytes_per_op(SHA) / c.bytes_per_op(ERGO), c))
            .max_by(|a, b| a.0.total_cmp(&b.0))
    };
    if let Some((r, c)) = worst(&|_| true) {
        t.push(Target {
            what: format!(
                "proof bytes, every workload (worst: n={} v={} {} B={})",
                c.n,
                c.value_len,
                c.workload.name(),
                c.batch
            ),
            measured: r,
            bound: 1.0,
            at_least: false,
        });
    }
    if let Some((r, c)) = worst(&|c| c.workload == Workload::Updates && c.value_len == 128) {
        t.push(Target {
            what: format!(
                "proof bytes, updates with 128 B values (worst: n={} B={})",
                c.n, c.batch
            ),
            measured: r,
            bound: 0.7,
            at_least: false,
        });
    }
    t
}

/// The CPU, its core count and whether it has SHA-NI (SHA-256 speed depends on it).
fn cpu() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let sha_ni = info
        .lines()
        .any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "sha_ni"));
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    format!(
        "{model}, {cores} cores, SHA-NI {}",
        if sha_ni { "yes" } else { "no" }
    )
}

/// The avlplus revision measured (`git describe --always --dirty`), if git can tell.
fn revision() -> String {
    Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The 1, 5 and 15 minute load averages: other work on the machine skews every timing.
fn load() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn kops(x: f64) -> String {
    format!("{:.0}k", x / 1000.0)
}

fn table(cells: &[Cell]) -> String {
    let mut s = String::new();
    s.push_str(
        "| n | value B | workload | batch | prove SHA | prove B3 | prove ergo | SHA/ergo | B3/ergo \
         | verify SHA | verify B3 | verify ergo | SHA/ergo | B3/ergo | proof B/op ours | ergo \
         | ours/ergo |\n",
    );
    s.push_str("|---:|---:|:---|---:|");
    s.push_str(&"---:|".repeat(13));
    s.push('\n');
    for c in cells {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {} | {} | {} | {:.2} | {:.2} \
             | {:.1} | {:.1} | {:.3} |",
            c.n,
            c.value_len,
            c.workload.name(),
            c.batch,
            kops(c.prove_med(SHA)),
            kops(c.prove_med(B3)),
            kops(c.prove_med(ERGO)),
            c.prove_med(SHA) / c.prove_med(ERGO),
            c.prove_med(B3) / c.prove_med(ERGO),
            kops(c.verify_med(SHA)),
            kops(c.verify_med(B3)),
            kops(c.verify_med(ERGO)),
            c.verify_med(SHA) / c.verify_med(ERGO),
            c.verify_med(B3) / c.verify_med(ERGO),
            c.bytes_per_op(SHA),
            c.bytes_per_op(ERGO),
            c.bytes_per_op(SHA) / c.bytes_per_op(ERGO),
        );
    }
    s
}

fn memory_table(mem: &[Memory]) -> String {
    let mut s = String::from(
        "| n | value B | avlplus RSS/key | ergo RSS/key | ours/ergo | avlplus peak/key \
         | ergo peak/key |\n|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in mem {
        let _ = writeln!(
            s,
            "| {} | {} | {:.0} | {:.0} | {:.2} | {:.0} | {:.0} |",
            m.n,
            m.value_len,
            m.per_key[0].0,
            m.per_key[1].0,
            m.per_key[0].0 / m.per_key[1].0,
            m.per_key[0].1,
            m.per_key[1].1
        );
    }
    s
}

/// Hash calls per operation and each engine's time over its hashing floor (the same calls
/// alone), 32-byte values.
fn floor_table(cells: &[Cell]) -> String {
    let mut s = String::from(
        "## Distance to the hashing floor\n\nThe hashing floor of an operation is the time of \
         its hash calls alone (counted on an unmeasured BLAKE3 replica of the tree: the calls \
         do not depend on the hash), each call timed in a loop of its own: internal node, leaf \
         (32-byte key and next key), value, other. x floor = measured time per operation over \
         that floor; the rest is walking, proof encoding or decoding, and allocation. 32-byte \
         values.\n\n",
    );
    if let Some(c) = cells.iter().find(|c| c.value_len == 32) {
        for (lib, name) in [(SHA, "SHA-256"), (B3, "BLAKE3")] {
            let [i, l, v, o] = c.cost[lib].0;
            let _ = writeln!(
                s,
                "{name}: {i:.0} ns per internal node, {l:.0} per leaf, {v:.0} per value \
                 ({} bytes), {o:.0} per other call.\n",
                c.value_len
            );
        }
    }
    s.push_str(
        "| n | workload | batch | prove: internal, leaf, value hashes/op | SHA x floor | B3 x floor \
         | verify: internal, leaf, value hashes/op | SHA x floor | B3 x floor |\n\
         |---:|:---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for c in cells.iter().filter(|c| c.value_len == 32) {
        let calls = |phase: usize| {
            let h = c.hashes_per_op(phase);
            format!("{:.1}, {:.1}, {:.1}", h[0], h[1], h[2])
        };
        // Lookups hash nothing when proving: no floor.
        let over = |lib: usize, phase: usize| match c.over_floor(lib, phase) {
            x if x.is_finite() => format!("{x:.2}"),
            _ => "-".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.n,
            c.workload.name(),
            c.batch,
            calls(0),
            over(SHA, 0),
            over(B3, 0),
            calls(1),
            over(SHA, 1),
            over(B3, 1),
        );
    }
    s
}

/// 3.0, 2.5, 0.35: at least one decimal, at most two.
fn bound(x: f64) -> String {
    let s = format!("{x:.2}");
    match s.strip_suffix('0') {
        Some(t) if !t.ends_with('.') => t.to_string(),
        _ => s.strip_suffix("00").map_or(s.clone(), |t| format!("{t}0")),
    }
}

fn target_table(ts: &[Target]) -> String {
    let mut s = String::from("| target | measured | bound | holds |\n|:---|---:|---:|:---|\n");
    for t in ts {
        let _ = writeln!(
            s,
            "| {} | {:.2}x | {} {}x | {} |",
            t.what,
            t.measured,
            if t.at_least { ">=" } else { "<=" },
            bound(t.bound),
            if t.holds() { "yes" } else { "NO" }
        );
    }
    s
}

fn json_f64(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "null".into()
    }
}

fn json_list(v: &[f64]) -> String {
    let items: Vec<String> = v.iter().map(|&x| json_f64(x)).collect();
    format!("[{}]", items.join(", "))
}

fn json_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c if (c as u32) < 0x20 => format!("\\u{:04x}", c as u32).chars().collect(),
            c => vec![c],
        })
        .collect()
}

fn json(cfg: &Config, cells: &[Cell], mem: &[Memory], ts: &[Target], machine: &str) -> String {
    let mut s = String::from("{\n");
    let _ = writeln!(
        s,
        "  \"mode\": \"{}\",\n  \"machine\": \"{}\",\n  \"max_repetitions\": {},\n  \
         \"libraries\": [\"avlplus SHA-256\", \"avlplus BLAKE3\", \"ergo_avltree_rust 0.1.1\"],",
        if cfg.quick { "quick" } else { "full" },
        json_escape(machine),
        cfg.reps
    );
    s.push_str("  \"cells\": [\n");
    for (i, c) in cells.iter().enumerate() {
        let mut libs = Vec::new();
        for (lib, name) in LIBS.iter().enumerate() {
            libs.push(format!(
                "\"{name}\": {{\"prove_ops_per_s\": {}, \"verify_ops_per_s\": {}, \
                 \"proof_bytes_per_op\": {}, \"prove_reps\": {}, \"verify_reps\": {}, \
                 \"prove_wall_reps\": {}, \"verify_wall_reps\": {}}}",
                json_f64(c.prove_med(lib)),
                json_f64(c.verify_med(lib)),
                json_f64(c.bytes_per_op(lib)),
                json_list(&c.prove[lib]),
                json_list(&c.verify[lib]),
                json_list(&c.prove_wall[lib]),
                json_list(&c.verify_wall[lib]),
            ));
        }
        let _ = write!(
            s,
            "    {{\"n\": {}, \"value_bytes\": {}, \"workload\": \"{}\", \"batch\": {}, \
             \"batches_per_rep\": {}, \"reps\": {}, \"ops\": {}, {}, \"ratio_prove_sha\": {}, \
             \"ratio_prove_blake3\": {}, \"ratio_verify_sha\": {}, \"ratio_verify_blake3\": {}, \
             \"ratio_bytes\": {}, \"prove_hashes_per_op\": {}, \"verify_hashes_per_op\": {}, \
             \"prove_over_floor_sha\": {}, \"prove_over_floor_blake3\": {}, \
             \"verify_over_floor_sha\": {}, \"verify_over_floor_blake3\": {}}}",
            c.n,
            c.value_len,
            c.workload.name(),
            c.batch,
            c.batches_per_rep,
            c.prove[SHA].len(),
            c.ops,
            libs.join(", "),
            json_f64(c.prove_med(SHA) / c.prove_med(ERGO)),
            json_f64(c.prove_med(B3) / c.prove_med(ERGO)),
            json_f64(c.verify_med(SHA) / c.verify_med(ERGO)),
            json_f64(c.verify_med(B3) / c.verify_med(ERGO)),
            json_f64(c.bytes_per_op(SHA) / c.bytes_per_op(ERGO)),
            json_list(&c.hashes_per_op(0)),
            json_list(&c.hashes_per_op(1)),
            json_f64(c.over_floor(SHA, 0)),
            json_f64(c.over_floor(B3, 0)),
            json_f64(c.over_floor(SHA, 1)),
            json_f64(c.over_floor(B3, 1)),
        );
        s.push_str(if i + 1 < cells.len() { ",\n" } else { "\n" });
    }
    s.push_str("  ],\n  \"memory\": [\n");
    for (i, m) in mem.iter().enumerate() {
        let _ = write!(
            s,
            "    {{\"n\": {}, \"value_bytes\": {}, \"avlplus_rss_per_key\": {}, \
             \"ergo_rss_per_key\": {}, \"avlplus_peak_per_key\": {}, \"ergo_peak_per_key\": {}}}",
            m.n,
            m.value_len,
            json_f64(m.per_key[0].0),
            json_f64(m.per_key[1].0),
            json_f64(m.per_key[0].1),
            json_f64(m.per_key[1].1),
        );
        s.push_str(if i + 1 < mem.len() { ",\n" } else { "\n" });
    }
    s.push_str("  ],\n  \"targets\": [\n");
    for (i, t) in ts.iter().enumerate() {
        let _ = write!(
            s,
            "    {{\"target\": \"{}\", \"measured\": {}, \"bound\": {}, \"at_least\": {}, \
             \"holds\": {}}}",
            json_escape(&t.what),
            json_f64(t.measured),
            json_f64(t.bound),
            t.at_least,
            t.holds()
        );
        s.push_str(if i + 1 < ts.len() { ",\n" } else { "\n" });
    }
    s.push_str("  ]\n}\n");
    s
}

/// Proof bytes per operation of the paper's workload against batch size: the largest n run,
/// 8-byte values.
fn chart(cells: &[Cell]) -> plot::Chart {
    let n = cells
        .iter()
        .filter(|c| c.value_len == 8)
        .map(|c| c.n)
        .max()
        .unwrap_or(0);
    let rows: Vec<&Cell> = cells
        .iter()
        .filter(|c| c.n == n && c.value_len == 8 && c.workload == Workload::InsUpd)
        .collect();
    let series = |lib: usize| -> Vec<(f64, f64)> {
        rows.iter()
            .map(|c| (c.batch as f64, c.bytes_per_op(lib)))
            .collect()
    };
    let n_text = match n {
        1_000_000 => "10^6".to_string(),
        100_000 => "10^5".to_string(),
        n => n.to_string(),
    };
    plot::Chart {
        title: "Proof bytes per operation vs batch size".into(),
        subtitle: format!(
            "32-byte keys, 8-byte values, half inserts / half updates; here n = {n_text}"
        ),
        x_label: "batch size (operations per proof, log scale)".into(),
        y_label: "proof bytes per operation".into(),
        series: vec![
            plot::Series {
                name: "avlplus".into(),
                color: plot::BLUE,
                marker: plot::Marker::Square,
                points: series(SHA),
            },
            plot::Series {
                name: "ergo_avltree_rust 0.1.1".into(),
                color: plot::RED,
                marker: plot::Marker::Diamond,
                points: series(ERGO),
            },
            plot::Series {
                name: "paper (ePrint 2016/994), n = 10^6".into(),
                color: plot::GRAY,
                marker: plot::Marker::Cross,
                points: PAPER.iter().map(|&(b, y)| (b as f64, y)).collect(),
            },
        ],
    }
}

fn write_file(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(path, bytes) {
        Ok(()) => eprintln!("wrote {}", path.display()),
        Err(e) => {
            eprintln!("compare: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}

/// `--profile prove|verify [sha256|blake3|ergo [ITERATIONS [inserts|lookups|updates [BATCH]]]]`:
/// one library alone, n = 10^5, 32-byte values, batches of BATCH operations (1024 by default;
/// inserts by default), for a profiler. The measured work runs in `Ours::prove`, `Ours::verify`, `Ergo::prove` and
/// `Ergo::verify`, which are never inlined, so that a profiler can select them (callgrind:
/// `--toggle-collect='compare::Ours<*>::prove'` — a looser pattern such as `*Ours*prove*` also
/// matches `Ours::unproven`; perf: keep the stacks that contain them). After an insert batch
/// the tree goes back to n keys by unproven removes, outside those functions. Verification
/// replays the same 8 proofs `ITERATIONS` times.
fn profile(phase: &str, lib: &str, iterations: usize, workload: Workload, batch: usize) {
    let (n, value_len) = (100_000, 32);
    let mut keys = Keys {
        rng: SplitMix64(0x9F0F),
        present: Vec::with_capacity(n + batch),
        value_len,
        mixed_turn: 0,
    };
    let mut sha = (lib == "sha256").then(Ours::<Sha256>::new);
    let mut b3 = (lib == "blake3").then(Ours::<Blake3>::new);
    let mut ergo = (lib == "ergo").then(|| Ergo::new(value_len));
    let mut built = 0;
    while built < n {
        let steps = keys.fresh(BUILD_CHUNK.min(n - built));
        sha.iter_mut().for_each(|t| t.unproven(&steps));
        b3.iter_mut().for_each(|t| t.unproven(&steps));
        ergo.iter_mut().for_each(|t| t.build(&steps));
        built += steps.len();
    }
    let proving = phase == "prove";
    let rounds = if proving { iterations } else { 8 };
    let (mut p_sha, mut p_b3, mut p_ergo) = (Vec::new(), Vec::new(), Vec::new());
    let start = Instant::now();
    for _ in 0..rounds {
        let steps = keys.batch(workload, batch);
        let ops = [ours_ops(&steps)];
        let eops = [ergo_ops(&steps)];
        if let Some(t) = &mut sha {
            p_sha.push((t.prove(&ops).1, ops.clone()));
        }
        if let Some(t) = &mut b3 {
            p_b3.push((t.prove(&ops).1, ops.clone()));
        }
        if let Some(t) = &mut ergo {
            p_ergo.push((t.prove(&eops).1, eops.clone()));
        }
        if workload != Workload::Inserts {
            continue; // lookups and updates leave n keys
        }
        let back: Vec<Step> = keys.take(batch).into_iter().map(Step::Remove).collect();
        sha.iter_mut().for_each(|t| t.unproven(&back));
        b3.iter_mut().for_each(|t| t.unproven(&back));
        ergo.iter_mut().for_each(|t| t.unproven(&back));
    }
    if !proving {
        for _ in 0..iterations {
            for (p, ops) in &p_sha {
                sha.as_ref().map(|t| t.verify(ops, p));
            }
            for (p, ops) in &p_b3 {
                b3.as_ref().map(|t| t.verify(ops, p));
            }
            for (p, ops) in &p_ergo {
                ergo.as_ref().map(|t| t.verify(ops, p));
            }
        }
    }
    eprintln!(
        "profile {phase} {lib}: {:.1}s",
        start.elapsed().as_secs_f64()
    );
}

fn main() {
    // `cargo bench` appends `--bench`.
    let raw: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    if raw.get(1).map(String::as_str) == Some("--profile") {
        let iterations = raw.get(4).and_then(|v| v.parse().ok()).unwrap_or(64);
        let lib = raw.get(3).map_or("sha256", String::as_str);
        let workload = match raw.get(5).map(String::as_str) {
            None | Some("inserts") => Some(Workload::Inserts),
            Some("lookups") => Some(Workload::Lookups),
            Some("updates") => Some(Workload::Updates),
            Some(_) => None,
        };
        let batch = match raw.get(6) {
            None => Some(1024),
            Some(b) => b.parse().ok().filter(|b| *b > 0),
        };
        match (raw.get(2).map(String::as_str), workload, batch) {
            (Some(p @ ("prove" | "verify")), Some(w), Some(b))
                if ["sha256", "blake3", "ergo"].contains(&lib) =>
            {
                profile(p, lib, iterations, w, b)
            }
            _ => usage(
                "--profile prove|verify [sha256|blake3|ergo [ITERATIONS [inserts|lookups|updates [BATCH]]]]",
            ),
        }
        return;
    }
    if raw.get(1).map(String::as_str) == Some("--child-memory") {
        let num = |i: usize| raw.get(i).and_then(|v| v.parse::<usize>().ok());
        match (raw.get(2), num(3), num(4)) {
            (Some(lib), Some(n), Some(v)) => child_memory(lib, n, v),
            _ => usage("--child-memory LIB N VALUE_LEN"),
        }
        return;
    }
    let cfg = parse_args();
    let cpu = format!("avlplus {}; {}", revision(), cpu());
    let load_start = load();
    eprintln!("{cpu}; load average at start {load_start}");
    let start = Instant::now();

    let mut mem = Vec::new();
    if cfg.memory {
        for &n in &cfg.ns {
            for &v in &cfg.value_lens {
                mem.extend(measure_memory(n, v));
            }
        }
    }
    let mut cells = Vec::new();
    for &n in &cfg.ns {
        for &v in &cfg.value_lens {
            run_config(&cfg, n, v, &mut cells);
        }
    }
    let ts = targets(&cells, &mem);
    let wall = start.elapsed().as_secs_f64();

    println!("# avlplus vs ergo_avltree_rust 0.1.1, in memory\n");
    println!(
        "{cpu}; load average {load_start} at start, {} at end; {} mode, up to {} \
         repetitions; {wall:.0} s.\n",
        load(),
        if cfg.quick { "quick" } else { "full" },
        cfg.reps
    );
    println!(
        "Throughput in operations per second (k = 1000), median over repetitions, from {}; \
         prove = apply + new root + proof bytes; verify = decode + replay + new root. SHA = avlplus \
         with SHA-256 (default), B3 = avlplus with BLAKE3, ergo hashes with BLAKE2b-256. \
         Speed ratios are ours/ergo (higher is better); the proof-size ratio is ours/ergo \
         (lower is better). Proof bytes are the same for both avlplus hashes.\n",
        if two_thread_seal() {
            "wall-clock time (AVLPLUS_SEAL_THREADS=2: the arena engine seals large batches on \
             two threads, and a second thread's time is not the benchmark thread's)"
        } else if clock_cpu_ns().is_some() {
            "the benchmark thread's on-CPU time (CLOCK_THREAD_CPUTIME_ID: time spent waiting \
             for a core while other jobs run is not counted; wall-clock figures are in the JSON)"
        } else {
            "wall-clock time"
        }
    );
    println!("{}", table(&cells));
    if !mem.is_empty() {
        println!(
            "## Memory per key\n\nBytes per key of a tree of n keys built in a fresh process: \
             RSS = VmRSS growth, peak = VmHWM growth (includes build buffers).\n"
        );
        println!("{}", memory_table(&mem));
    }
    println!("{}", floor_table(&cells));
    println!("## Targets (issues 11 and 4)\n");
    println!("{}", target_table(&ts));
    if cells.iter().any(|c| c.bytes[SHA] != c.bytes[B3]) {
        println!("note: avlplus proof sizes differ between SHA-256 and BLAKE3 in some rows\n");
    }

    let machine = format!(
        "{cpu}; load average {load_start} at start, {} at end",
        load()
    );
    write_file(
        &cfg.json,
        json(&cfg, &cells, &mem, &ts, &machine).as_bytes(),
    );
    write_file(&cfg.png, &plot::render(&chart(&cells)));
    eprintln!("total {:.1}s", start.elapsed().as_secs_f64());
}
