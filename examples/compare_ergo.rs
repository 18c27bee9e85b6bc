//! Side-by-side proof sizes: avlplus against `ergo_avltree_rust` 0.1.1, the Rust port of the
//! AVL+ prover of Reyzin, Meshkov, Chepurnoy and Ivanov (FC 2017, ePrint 2016/994).
//!
//! ```text
//! cargo run --release --example compare_ergo -- [--quick] [--n 100000] [--json out.json]
//! ```
//!
//! Both libraries get the same bytes from one seeded PRNG: 32-byte random keys (never the
//! all-0x00 or all-0xFF keys, which are ergo's sentinels), values of 8 or 128 bytes. A tree of
//! `n` keys is built first (avlplus without proofs, ergo with proofs that are discarded), then
//! batches of size B of the paper's workload (half inserts of new keys, half updates of
//! existing keys, in random order) are proven by both. Every avlplus proof is replayed by
//! `avlplus::Verifier` and its new root compared; every ergo proof is replayed by ergo's
//! `BatchAVLVerifier` and its digest compared. "lookups" and "updates" rows run a single kind
//! of operation on existing keys.
//!
//! Known differences, reported as they are: ergo's update returns the old value, so its proof
//! always ships the leaf's value; avlplus modifications return no old value, so a leaf whose
//! value is at least 32 bytes and is not read ships only the value's digest. Ergo's tree also
//! holds one sentinel leaf more than avlplus's. Ergo hashes with BLAKE2b-256, avlplus here with
//! SHA-256; both labels are 32 bytes, so proof sizes do not depend on the hash.

use std::fmt::Write as _;
use std::time::Instant;

use avlplus::proof::{decode, DecodeLimits};
use avlplus::{Operation, Outcome, Tree, Verifier};
use ergo_avltree_rust::authenticated_tree_ops::AuthenticatedTreeOps;
use ergo_avltree_rust::batch_avl_prover::BatchAVLProver;
use ergo_avltree_rust::batch_avl_verifier::BatchAVLVerifier;
use ergo_avltree_rust::batch_node::{AVLTree, Node, NodeHeader};
use ergo_avltree_rust::operation::{ADDigest, ADKey, ADValue, Digest32, KeyValue};

type ErgoOp = ergo_avltree_rust::operation::Operation;

const KEY_LEN: usize = 32;
const DIGEST_LEN: usize = 32;
/// Keys inserted per batch while building the initial tree.
const BUILD_CHUNK: usize = 50_000;

/// The paper's figure: n = 10^6, 32-byte keys, 8-byte values, half inserts / half updates,
/// proof bytes per modification by batch size.
const PAPER: [(usize, f64); 7] = [
    (1, 770.0),
    (16, 600.0),
    (128, 500.0),
    (1024, 390.0),
    (2000, 355.0),
    (16384, 252.0),
    (131072, 148.0),
];

/// SplitMix64 (Steele, Lea, Flood 2014): small, seedable, good enough for workloads.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-40 for our `n`).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }

    fn key(&mut self) -> Key {
        loop {
            let mut k = [0u8; KEY_LEN];
            self.fill(&mut k);
            // Ergo's sentinels are the all-zero and all-0xFF keys.
            if k != [0u8; KEY_LEN] && k != [0xFF; KEY_LEN] {
                return k;
            }
        }
    }

    fn value(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.fill(&mut v);
        v
    }
}

type Key = [u8; KEY_LEN];

/// One operation of a workload, independent of either library.
enum Step {
    Insert(Key, Vec<u8>),
    Update(Key, Vec<u8>),
    Lookup(Key),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    /// Half inserts of new keys, half updates of existing keys, shuffled (the paper's).
    Mixed,
    /// Lookups of existing keys.
    Lookups,
    /// Updates of existing keys.
    Updates,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Mixed => "ins+upd",
            Workload::Lookups => "lookups",
            Workload::Updates => "updates",
        }
    }
}

/// The keys present in both trees and the generator of new operations on them.
struct Keys {
    rng: SplitMix64,
    present: Vec<Key>,
    value_len: usize,
}

impl Keys {
    fn inserts(&mut self, count: usize) -> Vec<Step> {
        (0..count)
            .map(|_| {
                let k = self.rng.key();
                self.present.push(k);
                Step::Insert(k, self.rng.value(self.value_len))
            })
            .collect()
    }

    /// Batch number `index` of `size` operations of `workload`.
    fn batch(&mut self, workload: Workload, size: usize, index: usize) -> Vec<Step> {
        // Keys chosen for updates and lookups exist before the batch starts.
        let existing = self.present.len();
        let mut steps: Vec<Step> = match workload {
            Workload::Mixed => {
                // Odd sizes alternate the extra operation, so B = 1 is half inserts overall.
                let inserts = (size + index % 2) / 2;
                let mut steps = Vec::with_capacity(size);
                for _ in inserts..size {
                    let k = self.present[self.rng.below(existing)];
                    steps.push(Step::Update(k, self.rng.value(self.value_len)));
                }
                steps.extend(self.inserts(inserts));
                steps
            }
            Workload::Updates => (0..size)
                .map(|_| {
                    let k = self.present[self.rng.below(existing)];
                    Step::Update(k, self.rng.value(self.value_len))
                })
                .collect(),
            Workload::Lookups => (0..size)
                .map(|_| Step::Lookup(self.present[self.rng.below(existing)]))
                .collect(),
        };
        // Fisher-Yates.
        for i in (1..steps.len()).rev() {
            let j = self.rng.below(i + 1);
            steps.swap(i, j);
        }
        steps
    }
}

/// Where the bytes of a library's proofs go (totals over the measured batches).
#[derive(Clone, Copy, Default)]
struct Breakdown {
    total: u64,
    /// Labels of cut subtrees.
    hashes: u64,
    /// Leaf keys and next keys.
    keys: u64,
    /// Values sent in full.
    values: u64,
    /// Value digests sent instead of values (avlplus only).
    value_digests: u64,
    /// Header, node tags, balances (ergo: one byte per node; avlplus: shape bits).
    structure: u64,
    /// Direction bits.
    directions: u64,
    stubs: u64,
    internal: u64,
    leaves: u64,
    withheld: u64,
}

impl Breakdown {
    fn add(&mut self, o: &Breakdown) {
        self.total += o.total;
        self.hashes += o.hashes;
        self.keys += o.keys;
        self.values += o.values;
        self.value_digests += o.value_digests;
        self.structure += o.structure;
        self.directions += o.directions;
        self.stubs += o.stubs;
        self.internal += o.internal;
        self.leaves += o.leaves;
        self.withheld += o.withheld;
    }
}

/// Splits an avlplus proof into its parts (format v1, see `src/proof/mod.rs`).
fn ours_breakdown(bytes: &[u8], value_len: usize) -> Breakdown {
    let stats = decode(bytes, &DecodeLimits::default())
        .expect("avlplus proof decodes")
        .stats();
    // Version byte, then three LEB128 varints: node count, key width, value width.
    let mut header = 1;
    for _ in 0..3 {
        while bytes[header] & 0x80 != 0 {
            header += 1;
        }
        header += 1;
    }
    let shape_bits = stats.stubs + 3 * stats.internal + 5 * stats.leaves;
    let full = stats.leaves - stats.withheld_values;
    let mut b = Breakdown {
        total: bytes.len() as u64,
        hashes: (DIGEST_LEN * stats.stubs) as u64,
        values: (value_len * full) as u64,
        value_digests: (DIGEST_LEN * stats.withheld_values) as u64,
        structure: (header + shape_bits.div_ceil(8)) as u64,
        directions: stats.direction_bytes as u64,
        stubs: stats.stubs as u64,
        internal: stats.internal as u64,
        leaves: stats.leaves as u64,
        withheld: stats.withheld_values as u64,
        ..Breakdown::default()
    };
    b.keys = b.total - b.hashes - b.values - b.value_digests - b.structure - b.directions;
    b
}

/// Splits an ergo proof into its parts: post-order nodes, each behind a one-byte tag (3: label,
/// 2: leaf, else an internal node's balance), an end byte (4), then the direction bits.
fn ergo_breakdown(bytes: &[u8], value_len: usize) -> Breakdown {
    let mut b = Breakdown {
        total: bytes.len() as u64,
        ..Breakdown::default()
    };
    let mut i = 0;
    let mut previous_leaf = false;
    loop {
        let tag = bytes[i];
        i += 1;
        b.structure += 1;
        match tag {
            4 => break,
            3 => {
                b.stubs += 1;
                b.hashes += DIGEST_LEN as u64;
                i += DIGEST_LEN;
                previous_leaf = false;
            }
            2 => {
                b.leaves += 1;
                let keys = if previous_leaf { KEY_LEN } else { 2 * KEY_LEN };
                b.keys += keys as u64;
                b.values += value_len as u64;
                i += keys + value_len;
                previous_leaf = true;
            }
            _ => b.internal += 1,
        }
    }
    b.directions = (bytes.len() - i) as u64;
    b
}

struct Ours {
    tree: Tree,
    verifier: Verifier,
}

impl Ours {
    fn ops(steps: &[Step]) -> Vec<Operation> {
        steps
            .iter()
            .map(|s| match s {
                Step::Insert(k, v) => Operation::insert(k, v),
                Step::Update(k, v) => Operation::update(k, v),
                Step::Lookup(k) => Operation::lookup(k),
            })
            .collect()
    }

    fn build(&mut self, steps: &[Step]) {
        let results = self
            .tree
            .apply_unproven(&Self::ops(steps))
            .expect("avlplus build batch");
        assert!(results.iter().all(|r| *r == Ok(Outcome::Inserted)));
    }

    /// Proves and verifies one batch; returns its breakdown and the lookup results.
    fn run(&mut self, steps: &[Step], value_len: usize) -> (Breakdown, Vec<Vec<u8>>) {
        let ops = Self::ops(steps);
        let old_root = self.tree.root();
        let batch = self.tree.apply(&ops).expect("avlplus batch");
        let mut found = Vec::new();
        for (step, result) in steps.iter().zip(&batch.results) {
            match (step, result) {
                (Step::Insert(..), Ok(Outcome::Inserted)) => {}
                (Step::Update(..), Ok(Outcome::Updated)) => {}
                (Step::Lookup(_), Ok(Outcome::Found(v))) => found.push(v.to_vec()),
                (_, other) => panic!("avlplus: unexpected result {other:?}"),
            }
        }
        let verified = self
            .verifier
            .verify(&old_root, batch.proof.as_bytes(), &ops)
            .expect("avlplus proof verifies");
        assert_eq!(verified.results, batch.results);
        assert_eq!(verified.new_root, batch.new_root);
        assert_eq!(verified.new_root, self.tree.root());
        (ours_breakdown(batch.proof.as_bytes(), value_len), found)
    }
}

fn label_only(digest: &Digest32) -> Node {
    Node::LabelOnly(NodeHeader::new(Some(*digest), None))
}

struct Ergo {
    prover: BatchAVLProver,
    value_len: usize,
}

impl Ergo {
    fn new(value_len: usize) -> Self {
        let tree = AVLTree::new(label_only, KEY_LEN, Some(value_len));
        // Collecting changed nodes (for storage) does not change proofs; it is left off.
        Ergo {
            prover: BatchAVLProver::new(tree, false),
            value_len,
        }
    }

    fn ops(steps: &[Step]) -> Vec<ErgoOp> {
        let kv = |k: &Key, v: &[u8]| KeyValue {
            key: ADKey::copy_from_slice(k),
            value: ADValue::copy_from_slice(v),
        };
        steps
            .iter()
            .map(|s| match s {
                Step::Insert(k, v) => ErgoOp::Insert(kv(k, v)),
                Step::Update(k, v) => ErgoOp::Update(kv(k, v)),
                Step::Lookup(k) => ErgoOp::Lookup(ADKey::copy_from_slice(k)),
            })
            .collect()
    }

    fn build(&mut self, steps: &[Step]) {
        for op in Self::ops(steps) {
            let r = self.prover.perform_one_operation(&op);
            assert!(matches!(r, Ok(None)), "ergo build insert failed");
        }
        self.prover.generate_proof();
    }

    fn digest(&self) -> ADDigest {
        self.prover.digest().expect("ergo digest")
    }

    /// Proves one batch and replays it with ergo's verifier; returns its breakdown and the
    /// lookup results.
    fn run(&mut self, steps: &[Step]) -> (Breakdown, Vec<Vec<u8>>) {
        let ops = Self::ops(steps);
        let old_digest = self.digest();
        let mut results = Vec::with_capacity(ops.len());
        let mut found = Vec::new();
        for (step, op) in steps.iter().zip(&ops) {
            let r = self
                .prover
                .perform_one_operation(op)
                .unwrap_or_else(|e| panic!("ergo prover: {e}"));
            match (step, &r) {
                (Step::Insert(..), None) | (Step::Update(..), Some(_)) => {}
                (Step::Lookup(_), Some(v)) => found.push(v.to_vec()),
                (_, other) => panic!("ergo: unexpected result {other:?}"),
            }
            results.push(r);
        }
        let proof = self.prover.generate_proof();
        let tree = AVLTree::new(label_only, KEY_LEN, Some(self.value_len));
        let mut verifier = BatchAVLVerifier::new(&old_digest, &proof, tree, None, None)
            .unwrap_or_else(|e| panic!("ergo verifier rejects the proof: {e}"));
        for (op, expected) in ops.iter().zip(&results) {
            let r = verifier
                .perform_one_operation(op)
                .unwrap_or_else(|e| panic!("ergo verifier: {e}"));
            assert_eq!(&r, expected);
        }
        assert_eq!(verifier.digest(), Some(self.digest()));
        (ergo_breakdown(&proof, self.value_len), found)
    }
}

struct Row {
    n: usize,
    value_len: usize,
    workload: Workload,
    batch: usize,
    batches: usize,
    /// Keys in the tree when the row started (mixed rows grow the tree as they run).
    start_keys: usize,
    ours: Breakdown,
    ergo: Breakdown,
}

impl Row {
    fn ops(&self) -> u64 {
        (self.batch * self.batches) as u64
    }
    fn per_op(&self, bytes: u64) -> f64 {
        bytes as f64 / self.ops() as f64
    }
    fn ratio(&self) -> f64 {
        self.ours.total as f64 / self.ergo.total as f64
    }
}

struct Config {
    quick: bool,
    ns: Vec<usize>,
    json: Option<String>,
}

fn parse_args() -> Config {
    let mut quick = false;
    let mut n = None;
    let mut json = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--n" => {
                let v = args.next().and_then(|v| v.parse::<usize>().ok());
                n = Some(
                    v.filter(|&v| v > 0)
                        .unwrap_or_else(|| usage("--n needs a count")),
                );
            }
            "--json" => json = Some(args.next().unwrap_or_else(|| usage("--json needs a path"))),
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let ns = match (n, quick) {
        (Some(n), _) => vec![n],
        (None, true) => vec![100_000],
        (None, false) => vec![100_000, 1_000_000],
    };
    Config { quick, ns, json }
}

fn usage(msg: &str) -> ! {
    if !msg.is_empty() {
        eprintln!("compare_ergo: {msg}");
    }
    eprintln!(
        "usage: cargo run --release --example compare_ergo -- [--quick] [--n COUNT] [--json PATH]"
    );
    std::process::exit(if msg.is_empty() { 0 } else { 2 })
}

/// How many batches of `size` to measure: enough for `target` operations, at least `min`.
fn batch_count(size: usize, target: usize, min: usize) -> usize {
    target.div_ceil(size).max(min)
}

fn run_config(cfg: &Config, n: usize, value_len: usize, rows: &mut Vec<Row>) {
    let start = Instant::now();
    let seed = 0xA71_u64 ^ ((n as u64) << 8) ^ ((value_len as u64) << 40);
    let mut keys = Keys {
        rng: SplitMix64(seed),
        present: Vec::with_capacity(n + n / 2),
        value_len,
    };
    let mut ours = Ours {
        tree: Tree::new(),
        verifier: Verifier::new(),
    };
    let mut ergo = Ergo::new(value_len);

    let mut built = 0;
    while built < n {
        let chunk = BUILD_CHUNK.min(n - built);
        let steps = keys.inserts(chunk);
        ours.build(&steps);
        ergo.build(&steps);
        built += chunk;
    }
    eprintln!(
        "n={n} v={value_len}: built in {:.1}s",
        start.elapsed().as_secs_f64()
    );

    let (target, min) = if cfg.quick { (2048, 2) } else { (16384, 3) };
    let mut plan: Vec<(Workload, usize)> =
        vec![(Workload::Lookups, 1024), (Workload::Updates, 1024)];
    let mut sizes = vec![1, 16, 128, 1024, 16384];
    if !cfg.quick && n >= 1_000_000 {
        sizes.push(131_072);
    }
    plan.extend(sizes.into_iter().map(|b| (Workload::Mixed, b)));

    for (workload, size) in plan {
        let t = Instant::now();
        let batches = batch_count(size, target, min);
        let mut row = Row {
            n,
            value_len,
            workload,
            batch: size,
            batches,
            start_keys: keys.present.len(),
            ours: Breakdown::default(),
            ergo: Breakdown::default(),
        };
        let (mut t_ours, mut t_ergo) = (0.0, 0.0);
        for index in 0..batches {
            let steps = keys.batch(workload, size, index);
            let t0 = Instant::now();
            let (b_ours, found_ours) = ours.run(&steps, value_len);
            let t1 = Instant::now();
            let (b_ergo, found_ergo) = ergo.run(&steps);
            t_ours += (t1 - t0).as_secs_f64();
            t_ergo += t1.elapsed().as_secs_f64();
            assert_eq!(found_ours, found_ergo, "the libraries disagree on lookups");
            row.ours.add(&b_ours);
            row.ergo.add(&b_ergo);
        }
        eprintln!(
            "n={n} v={value_len} {} B={size}: {batches} batches, {:.2} vs {:.2} B/op \
             ({:.1}s; prove+verify avlplus {t_ours:.1}s, ergo {t_ergo:.1}s)",
            workload.name(),
            row.per_op(row.ours.total),
            row.per_op(row.ergo.total),
            t.elapsed().as_secs_f64()
        );
        rows.push(row);
    }
    eprintln!(
        "n={n} v={value_len}: done in {:.1}s",
        start.elapsed().as_secs_f64()
    );
}

fn main_table(rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str("| n | value bytes | workload | batch size | avlplus B/op | ergo B/op | ratio |\n");
    s.push_str("|---:|---:|:---|---:|---:|---:|---:|\n");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.3} |",
            r.n,
            r.value_len,
            r.workload.name(),
            r.batch,
            r.per_op(r.ours.total),
            r.per_op(r.ergo.total),
            r.ratio()
        );
    }
    s
}

fn breakdown_table(rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str(
        "| n | value bytes | workload | batch size | batches | keys at start | lib | total \
         | hashes | keys | values | value digests | structure | directions | stubs | internal \
         | leaves | withheld |\n",
    );
    s.push_str("|---:|---:|:---|---:|---:|---:|:---|");
    s.push_str(&"---:|".repeat(11));
    s.push('\n');
    for r in rows {
        for (lib, b) in [("avlplus", &r.ours), ("ergo", &r.ergo)] {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {lib} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} \
                 | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} |",
                r.n,
                r.value_len,
                r.workload.name(),
                r.batch,
                r.batches,
                r.start_keys,
                r.per_op(b.total),
                r.per_op(b.hashes),
                r.per_op(b.keys),
                r.per_op(b.values),
                r.per_op(b.value_digests),
                r.per_op(b.structure),
                r.per_op(b.directions),
                r.per_op(b.stubs),
                r.per_op(b.internal),
                r.per_op(b.leaves),
                r.per_op(b.withheld),
            );
        }
    }
    s
}

fn paper_table(rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str(
        "Paper (ePrint 2016/994), n = 10^6, 32-byte keys, 8-byte values, half inserts / half \
         updates, proof bytes per operation:\n\n",
    );
    s.push_str("| batch size | paper B/op | ergo B/op (here) | avlplus B/op (here) |\n");
    s.push_str("|---:|---:|---:|---:|\n");
    for (size, paper) in PAPER {
        let here = rows.iter().find(|r| {
            r.n == 1_000_000 && r.value_len == 8 && r.workload == Workload::Mixed && r.batch == size
        });
        let (ergo, ours) = match here {
            Some(r) => (
                format!("{:.1}", r.per_op(r.ergo.total)),
                format!("{:.1}", r.per_op(r.ours.total)),
            ),
            None => ("-".into(), "-".into()),
        };
        let _ = writeln!(s, "| {size} | ~{paper:.0} | {ergo} | {ours} |");
    }
    s
}

fn json_breakdown(b: &Breakdown, r: &Row) -> String {
    format!(
        "{{\"bytes_per_op\": {:.3}, \"total_bytes\": {}, \"hashes\": {}, \"keys\": {}, \
         \"values\": {}, \"value_digests\": {}, \"structure\": {}, \"directions\": {}, \
         \"stubs\": {}, \"internal\": {}, \"leaves\": {}, \"withheld\": {}}}",
        r.per_op(b.total),
        b.total,
        b.hashes,
        b.keys,
        b.values,
        b.value_digests,
        b.structure,
        b.directions,
        b.stubs,
        b.internal,
        b.leaves,
        b.withheld
    )
}

fn json(rows: &[Row]) -> String {
    let mut s = String::from("[\n");
    for (i, r) in rows.iter().enumerate() {
        let _ = write!(
            s,
            "  {{\"n\": {}, \"value_bytes\": {}, \"workload\": \"{}\", \"batch_size\": {}, \
             \"batches\": {}, \"keys_at_start\": {}, \"ops\": {}, \"ratio\": {:.4}, \
             \"avlplus\": {}, \"ergo\": {}}}",
            r.n,
            r.value_len,
            r.workload.name(),
            r.batch,
            r.batches,
            r.start_keys,
            r.ops(),
            r.ratio(),
            json_breakdown(&r.ours, r),
            json_breakdown(&r.ergo, r)
        );
        s.push_str(if i + 1 < rows.len() { ",\n" } else { "\n" });
    }
    s.push_str("]\n");
    s
}

fn main() {
    let cfg = parse_args();
    let start = Instant::now();
    let mut rows = Vec::new();
    for &n in &cfg.ns {
        for value_len in [8, 128] {
            run_config(&cfg, n, value_len, &mut rows);
        }
    }

    println!("# avlplus vs ergo_avltree_rust 0.1.1: proof bytes per operation\n");
    println!(
        "32-byte random keys; every avlplus proof verified by avlplus::Verifier, every ergo \
         proof by ergo's BatchAVLVerifier. ratio = avlplus / ergo. n is the tree size after \
         the build; rows run in the order shown and the ins+upd rows grow the tree (see \
         \"keys at start\" below).\n"
    );
    println!("{}", main_table(&rows));
    println!("## Where the bytes go (per operation)\n");
    println!(
        "hashes: labels of cut subtrees; keys: leaf keys and next keys; values: values in full; \
         value digests: 32-byte digests of withheld values (avlplus); structure: header and \
         shape bits (avlplus) or one tag/balance byte per node (ergo); stubs .. withheld: node \
         counts per operation.\n"
    );
    println!("{}", breakdown_table(&rows));
    println!("{}", paper_table(&rows));
    eprintln!("total {:.1}s", start.elapsed().as_secs_f64());

    if let Some(path) = &cfg.json {
        if let Err(e) = std::fs::write(path, json(&rows)) {
            eprintln!("compare_ergo: cannot write {path}: {e}");
            std::process::exit(1);
        }
        eprintln!("wrote {path}");
    }
}
