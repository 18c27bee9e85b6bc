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

use avlplus::{Tree, Verifier};
use ergo_avltree_rust::authenticated_tree_ops::AuthenticatedTreeOps;
use ergo_avltree_rust::batch_avl_prover::BatchAVLProver;
use ergo_avltree_rust::batch_avl_verifier::BatchAVLVerifier;
use ergo_avltree_rust::operation::ADDigest;

#[path = "../benches/common/pair.rs"]
#[allow(dead_code)] // the benchmark uses more of it than this example
mod pair;

use pair::{
    ergo_breakdown, ergo_build, ergo_found, ergo_ops, ergo_prover, ergo_tree, ours_breakdown,
    ours_found, ours_ops, Breakdown, Key, SplitMix64, Step, BUILD_CHUNK, PAPER,
};

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
        let steps = pair::inserts(&mut self.rng, count, self.value_len);
        self.present.extend(steps.iter().filter_map(|s| match s {
            Step::Insert(k, _) => Some(*k),
            _ => None,
        }));
        steps
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
        self.rng.shuffle(&mut steps);
        steps
    }
}

struct Ours {
    tree: Tree,
    verifier: Verifier,
}

impl Ours {
    fn build(&mut self, steps: &[Step]) {
        let results = self
            .tree
            .apply_unproven(&ours_ops(steps))
            .expect("avlplus build batch");
        ours_found(steps, &results);
    }

    /// Proves and verifies one batch; returns its breakdown and the lookup results.
    fn run(&mut self, steps: &[Step], value_len: usize) -> (Breakdown, Vec<Vec<u8>>) {
        let ops = ours_ops(steps);
        let old_root = self.tree.root();
        let batch = self.tree.apply(&ops).expect("avlplus batch");
        let found = ours_found(steps, &batch.results);
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

struct Ergo {
    prover: BatchAVLProver,
    value_len: usize,
}

impl Ergo {
    fn new(value_len: usize) -> Self {
        Ergo {
            prover: ergo_prover(value_len),
            value_len,
        }
    }

    fn build(&mut self, steps: &[Step]) {
        ergo_build(&mut self.prover, steps);
    }

    fn digest(&self) -> ADDigest {
        self.prover.digest().expect("ergo digest")
    }

    /// Proves one batch and replays it with ergo's verifier; returns its breakdown and the
    /// lookup results.
    fn run(&mut self, steps: &[Step]) -> (Breakdown, Vec<Vec<u8>>) {
        let ops = ergo_ops(steps);
        let old_digest = self.digest();
        let results: Vec<_> = ops
            .iter()
            .map(|op| {
                self.prover
                    .perform_one_operation(op)
                    .unwrap_or_else(|e| panic!("ergo prover: {e}"))
            })
            .collect();
        let found = ergo_found(steps, &results);
        let proof = self.prover.generate_proof();
        let mut verifier =
            BatchAVLVerifier::new(&old_digest, &proof, ergo_tree(self.value_len), None, None)
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
