//! The persistent workload: a RocksDB store of N keys, 1000-operation mixed blocks (inserts,
//! updates, removes, lookups) each with a proof and a synced commit, under a memory budget.
//!
//! ```text
//! cargo bench --bench persistent                       # 10^6 keys, 64 blocks
//! cargo bench --bench persistent -- --keys 10000000    # 10^7 keys
//! cargo bench --bench persistent -- --keys 10000000 --dir /data/avl --budget 256 --blocks 200
//! ```
//!
//! Phases, each reported:
//! 1. build (skipped when `--dir` already holds the store): keys inserted in ascending order in
//!    large unproven batches with buffered durability, as a node syncing from a snapshot would;
//! 2. in a fresh child process, so that its peak RSS is the steady state's alone: open the
//!    store, time the first proven lookup, then run the blocks and report operations per
//!    second, the median block, peak RSS (VmHWM) and disk bytes per key.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use avlplus::store::{Durability, NotAStore, RocksStore, StoreConfig, StoreError};
use avlplus::{Operation, Sha256, Tree, Verifier};

struct Args {
    keys: u64,
    blocks: usize,
    warmup: usize,
    batch: usize,
    budget_mib: usize,
    dir: Option<PathBuf>,
    child: bool,
}

fn parse() -> Args {
    let mut a = Args {
        keys: 1_000_000,
        blocks: 64,
        warmup: 32,
        batch: 1000,
        budget_mib: 256,
        dir: None,
        child: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut num = || -> u64 {
            it.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or_else(|| usage())
        };
        match flag.as_str() {
            "--keys" => a.keys = num(),
            "--blocks" => a.blocks = num() as usize,
            "--warmup" => a.warmup = num() as usize,
            "--batch" => a.batch = num() as usize,
            "--budget" => a.budget_mib = num() as usize,
            "--dir" => a.dir = Some(PathBuf::from(it.next().unwrap_or_else(|| usage()))),
            "--child" => a.child = true,
            "--bench" => {} // passed by `cargo bench`
            _ => usage(),
        }
    }
    a
}

fn usage() -> ! {
    eprintln!(
        "usage: persistent [--keys N] [--blocks N] [--warmup N] [--batch N] [--budget MiB] \
         [--dir PATH]"
    );
    std::process::exit(2)
}

/// splitmix64.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn bytes32(&mut self) -> [u8; 32] {
        let mut k = [0u8; 32];
        for c in k.chunks_exact_mut(8) {
            c.copy_from_slice(&self.next().to_le_bytes());
        }
        k
    }
}

/// The `i`-th key of the initial state: ascending in `i`, spread uniformly over the key
/// space, the rest of its bytes pseudo-random.
fn initial_key(i: u64, n: u64) -> [u8; 32] {
    let mut k = Rng(i ^ 0x5EED).bytes32();
    let step = u64::MAX / n.max(1);
    k[..8].copy_from_slice(&(i * step).to_be_bytes());
    k
}

fn config(budget_mib: usize, durability: Durability) -> StoreConfig {
    StoreConfig::DEFAULT
        .keep_versions(8)
        .durability(durability)
        .memory_budget(budget_mib << 20)
}

fn dir_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn build(dir: &Path, a: &Args) {
    let cfg = config(a.budget_mib, Durability::Buffered);
    let (store, mut tree): (Arc<RocksStore>, Tree) = match RocksStore::open(dir) {
        Ok(store) => {
            let store = Arc::new(store);
            let tree = Tree::open_store(store.clone(), cfg).expect("open tree");
            (store, tree)
        }
        Err(StoreError::NotAStore(NotAStore::NoSuchPath | NotAStore::Empty)) => {
            let store = Arc::new(RocksStore::create(dir).expect("create store"));
            let tree = Tree::create_store(store.clone(), cfg).expect("create tree");
            (store, tree)
        }
        Err(e) => panic!("open store: {e}"),
    };
    if tree.version() > 0 {
        println!(
            "build:   store exists at version {}, skipped",
            tree.version()
        );
        return;
    }
    let started = Instant::now();
    let chunk = 50_000u64;
    let mut i = 0;
    while i < a.keys {
        let end = (i + chunk).min(a.keys);
        let ops: Vec<Operation> = (i..end)
            .map(|j| Operation::insert(initial_key(j, a.keys), j.to_le_bytes()))
            .collect();
        tree.apply_unproven(&ops).expect("build batch");
        i = end;
    }
    store.flush().expect("flush");
    let t = started.elapsed();
    println!(
        "build:   {} keys in {:.1} s ({:.0} inserts/s), height {}",
        a.keys,
        t.as_secs_f64(),
        a.keys as f64 / t.as_secs_f64(),
        tree.root().height
    );
}

fn run(dir: &Path, a: &Args) {
    let started = Instant::now();
    let store = Arc::new(RocksStore::open(dir).expect("open store"));
    let mut tree =
        Tree::<Sha256>::open_store(store.clone(), config(a.budget_mib, Durability::Sync))
            .expect("open");
    let opened = started.elapsed();
    let probe = [Operation::lookup(initial_key(a.keys / 3, a.keys))];
    let first = tree.prove(&probe).expect("first lookup");
    let first_lookup = started.elapsed();
    Verifier::<Sha256>::new()
        .verify(&tree.root(), first.proof.as_bytes(), &probe)
        .expect("first proof verifies");
    println!(
        "open:    {:.1} ms to open, {:.1} ms to the first proven lookup ({} B proof)",
        opened.as_secs_f64() * 1e3,
        first_lookup.as_secs_f64() * 1e3,
        first.proof.len()
    );

    let mut rng = Rng(0xB10C);
    let present = a.keys; // keys 0..n of the initial stream; removed ones are tolerated
    let mut times = Vec::with_capacity(a.blocks);
    let mut proof_bytes = 0usize;
    let mut total = Instant::now();
    for block in 0..a.warmup + a.blocks {
        if block == a.warmup {
            // Steady state from here: the cache holds what the budget allows.
            if a.warmup > 0 {
                let cold = total.elapsed();
                println!(
                    "warm-up: {} blocks from a cold cache, {:.0} ops/s",
                    a.warmup,
                    (a.warmup * a.batch) as f64 / cold.as_secs_f64()
                );
            }
            times.clear();
            proof_bytes = 0;
            total = Instant::now();
        }
        let ops: Vec<Operation> = (0..a.batch)
            .map(|_| {
                let existing = initial_key(rng.next() % present.max(1), a.keys);
                match rng.next() % 4 {
                    0 => Operation::insert(rng.bytes32(), rng.next().to_le_bytes()),
                    1 => Operation::upsert(existing, rng.next().to_le_bytes()),
                    2 => Operation::remove_if_present(existing),
                    _ => Operation::lookup(existing),
                }
            })
            .collect();
        let t = Instant::now();
        let batch = tree.apply(&ops).expect("block");
        times.push(t.elapsed());
        proof_bytes += batch.proof.len();
    }
    let elapsed = total.elapsed();
    times.sort();
    let median = times
        .get(times.len() / 2)
        .copied()
        .unwrap_or(Duration::ZERO);
    let ops = (a.blocks * a.batch) as f64;
    let disk = dir_bytes(dir);
    println!(
        "blocks:  {} x {} mixed ops with proof and synced commit: {:.0} ops/s overall, \
         median block {:.1} ms ({:.0} ops/s), {:.0} proof B/op",
        a.blocks,
        a.batch,
        ops / elapsed.as_secs_f64(),
        median.as_secs_f64() * 1e3,
        a.batch as f64 / median.as_secs_f64(),
        proof_bytes as f64 / ops
    );
    println!(
        "memory:  budget {} MiB, nodes held {:.0} MiB, peak RSS {:.0} MiB",
        a.budget_mib,
        tree.loaded_bytes() as f64 / (1 << 20) as f64,
        peak_rss_mib()
    );
    println!(
        "disk:    {:.0} MiB, {:.0} bytes per key (store.disk_bytes: {:.0} MiB live SST)",
        disk as f64 / (1 << 20) as f64,
        disk as f64 / a.keys as f64,
        store.disk_bytes() as f64 / (1 << 20) as f64
    );
}

fn main() {
    let a = parse();
    let (dir, temporary) = match &a.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("avlplus-bench-{}-{}", a.keys, std::process::id())),
            true,
        ),
    };
    if a.child {
        run(&dir, &a);
        return;
    }
    println!(
        "persistent workload: {} keys, budget {} MiB, store {}",
        a.keys,
        a.budget_mib,
        dir.display()
    );
    build(&dir, &a);
    let status = Command::new(std::env::current_exe().expect("exe"))
        .args([
            "--child",
            "--keys",
            &a.keys.to_string(),
            "--blocks",
            &a.blocks.to_string(),
            "--warmup",
            &a.warmup.to_string(),
            "--batch",
            &a.batch.to_string(),
            "--budget",
            &a.budget_mib.to_string(),
            "--dir",
            &dir.display().to_string(),
        ])
        .status()
        .expect("run child");
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    std::process::exit(status.code().unwrap_or(1));
}
