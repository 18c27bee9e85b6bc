//! A full node and a light client, side by side.
//!
//! The full node builds a state of random keys in a node store, then applies blocks of mixed
//! operations, producing one proof per block. The light client holds only the genesis root:
//! for each block it replays the operations on the proof, checks that it gets the full node's
//! results, and moves its trusted root to the verified new root. A tampered proof and a
//! what-if proof are shown at the end.
//!
//! ```text
//! cargo run --release --example demo                 # 100k keys, 20 blocks of 1000 ops
//! cargo run --release --example demo -- --quick      # 10k keys, 5 blocks (CI smoke run)
//! ```
//!
//! Every result, root and count is also checked against a plain `HashMap` model of the state,
//! and the process exits with status 1 on any disagreement: the demo is a test, not a show.

use std::collections::HashMap;
use std::process::exit;
use std::sync::Arc;
use std::time::{Duration, Instant};

use avlplus::store::{MemoryStore, StoreBackend, StoreConfig, StoreError};
use avlplus::{
    Failure, OpResult, Operation, Outcome, RootDigest, Sha256, Tree, TreeError, Verifier,
};

const USAGE: &str = "usage: demo [--keys N] [--blocks N] [--block-size N] [--seed N] \
     [--dir PATH | --memory] [--quick] [--help]";

/// Keys inserted per batch while the genesis state is built.
const GENESIS_CHUNK: usize = 10_000;

type Key = [u8; 32];
type Value = [u8; 32];

// ---------------------------------------------------------------------------------------------
// Configuration

struct Config {
    keys: usize,
    blocks: usize,
    block_size: usize,
    seed: u64,
    /// Where the RocksDB store lives; a fresh temporary directory when `None`.
    #[cfg_attr(not(feature = "rocksdb"), allow(dead_code))]
    dir: Option<std::path::PathBuf>,
    /// Keep the state in memory instead of RocksDB.
    #[cfg_attr(not(feature = "rocksdb"), allow(dead_code))]
    memory: bool,
}

fn parse_args() -> Config {
    let mut keys = None;
    let mut blocks = None;
    let mut block_size = None;
    let mut seed = None;
    let mut quick = false;
    let mut dir = None;
    let mut memory = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        match flag.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                exit(0);
            }
            "--quick" => quick = true,
            "--memory" => memory = true,
            "--dir" => match inline.or_else(|| args.next()) {
                Some(path) => dir = Some(std::path::PathBuf::from(path)),
                None => {
                    eprintln!("--dir needs a path\n{USAGE}");
                    exit(2);
                }
            },
            "--keys" | "--blocks" | "--block-size" | "--seed" => {
                let value = inline.or_else(|| args.next()).unwrap_or_default();
                let Ok(n) = value.replace('_', "").parse::<u64>() else {
                    eprintln!("{flag} needs a non-negative integer, got {value:?}\n{USAGE}");
                    exit(2);
                };
                let slot = match flag.as_str() {
                    "--keys" => &mut keys,
                    "--blocks" => &mut blocks,
                    "--block-size" => &mut block_size,
                    _ => &mut seed,
                };
                *slot = Some(n);
            }
            _ => {
                eprintln!("unknown argument {arg:?}\n{USAGE}");
                exit(2);
            }
        }
    }
    // `--quick` changes the defaults; explicit flags win whatever their order.
    let (default_keys, default_blocks) = if quick { (10_000, 5) } else { (100_000, 20) };
    let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    Config {
        keys: keys.map_or(default_keys, to_usize),
        blocks: blocks.map_or(default_blocks, to_usize),
        block_size: block_size.map_or(1000, to_usize),
        seed: seed.unwrap_or(42),
        dir,
        memory,
    }
}

// ---------------------------------------------------------------------------------------------
// The full node's store: the one place that decides where nodes live.

/// Opens the full node's store: RocksDB in `--dir` or a fresh temporary directory (removed at
/// exit), or memory with `--memory` (or when built without the `rocksdb` feature).
fn open_store(config: &Config) -> (Arc<dyn StoreBackend>, String, Option<std::path::PathBuf>) {
    #[cfg(feature = "rocksdb")]
    if !config.memory {
        let (path, temporary) = match &config.dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let dir = std::env::temp_dir().join(format!("avlplus-demo-{}", std::process::id()));
                (dir.clone(), Some(dir))
            }
        };
        use avlplus::store::{NotAStore, RocksStore};
        // An existing store is opened; a missing or empty directory gets a new one.
        let opened = match RocksStore::open(&path) {
            Err(StoreError::NotAStore(NotAStore::NoSuchPath | NotAStore::Empty)) => {
                RocksStore::create(&path)
            }
            other => other,
        };
        return match opened {
            Ok(store) => (
                Arc::new(store),
                format!("RocksDB at {}", path.display()),
                temporary,
            ),
            Err(e) => fail(format!("opening RocksDB at {}: {e}", path.display())),
        };
    }
    let _ = config;
    (
        Arc::new(MemoryStore::new()),
        "in memory (MemoryStore)".to_string(),
        None,
    )
}

/// The store settings the demo runs with: sync every commit, keep 8 versions.
fn store_config() -> StoreConfig {
    StoreConfig::DEFAULT.keep_versions(8)
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness (splitmix64: tiny, seedable, good enough for test data)

struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn bytes32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_exact_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        out
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is irrelevant for test data.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------------
// The model: what the state must be, kept without any tree

/// The live keys (a vector, for uniform picks and O(1) removal) and their values.
struct Model {
    keys: Vec<Key>,
    values: HashMap<Key, Value>,
}

#[derive(Default, Clone, Copy)]
struct Mix {
    inserts: usize,
    updates: usize,
    removes: usize,
    hits: usize,
    misses: usize,
    failing: usize,
}

impl Mix {
    fn add(&mut self, other: &Mix) {
        self.inserts += other.inserts;
        self.updates += other.updates;
        self.removes += other.removes;
        self.hits += other.hits;
        self.misses += other.misses;
        self.failing += other.failing;
    }
}

impl Model {
    fn fresh_key(&self, rng: &mut SplitMix64) -> Key {
        loop {
            let key = rng.bytes32();
            if !self.values.contains_key(&key) {
                return key;
            }
        }
    }

    fn insert(&mut self, key: Key, value: Value) {
        self.keys.push(key);
        self.values.insert(key, value);
    }

    /// A block of `n` operations and the results the model expects for them.
    ///
    /// Roughly: 30% inserts of new keys, 25% updates and 10% removes of existing keys, 20%
    /// lookups of present keys, 14% lookups of absent keys, 1% operations that must fail
    /// (insert of a present key, update or remove of an absent one).
    fn block(&mut self, rng: &mut SplitMix64, n: usize) -> (Vec<Operation>, Vec<OpResult>, Mix) {
        let mut ops = Vec::with_capacity(n);
        let mut expected = Vec::with_capacity(n);
        let mut mix = Mix::default();
        for _ in 0..n {
            let roll = rng.below(100);
            // Operations on an existing key fall back to an insert while the state is empty.
            let roll = if self.keys.is_empty() && (30..85).contains(&roll) {
                0
            } else {
                roll
            };
            let (op, result) = match roll {
                0..30 => {
                    let (key, value) = (self.fresh_key(rng), rng.bytes32());
                    self.insert(key, value);
                    mix.inserts += 1;
                    (Operation::insert(key, value), Ok(Outcome::Inserted))
                }
                30..55 => {
                    let key = self.keys[rng.below(self.keys.len())];
                    let value = rng.bytes32();
                    self.values.insert(key, value);
                    mix.updates += 1;
                    (Operation::update(key, value), Ok(Outcome::Updated))
                }
                55..65 => {
                    let key = self.keys.swap_remove(rng.below(self.keys.len()));
                    self.values.remove(&key);
                    mix.removes += 1;
                    (Operation::remove(key), Ok(Outcome::Removed))
                }
                65..85 => {
                    let key = self.keys[rng.below(self.keys.len())];
                    let value = self.values[&key];
                    mix.hits += 1;
                    (
                        Operation::lookup(key),
                        Ok(Outcome::Found(Arc::from(&value[..]))),
                    )
                }
                85..99 => {
                    mix.misses += 1;
                    (
                        Operation::lookup(self.fresh_key(rng)),
                        Ok(Outcome::NotFound),
                    )
                }
                _ => {
                    mix.failing += 1;
                    match (rng.below(3), self.keys.is_empty()) {
                        (0, false) => {
                            let key = self.keys[rng.below(self.keys.len())];
                            (
                                Operation::insert(key, rng.bytes32()),
                                Err(Failure::KeyExists),
                            )
                        }
                        (1, _) => (
                            Operation::update(self.fresh_key(rng), rng.bytes32()),
                            Err(Failure::KeyMissing),
                        ),
                        _ => (
                            Operation::remove(self.fresh_key(rng)),
                            Err(Failure::KeyMissing),
                        ),
                    }
                }
            };
            ops.push(op);
            expected.push(result);
        }
        (ops, expected, mix)
    }
}

// ---------------------------------------------------------------------------------------------
// Output helpers

/// Prints why the demo disagrees with itself and exits with status 1.
fn fail(message: impl std::fmt::Display) -> ! {
    println!();
    println!("FAILED: {message}");
    exit(1)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn per_second(count: usize, d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs == 0.0 {
        return "-".into();
    }
    grouped((count as f64 / secs).round() as u64)
}

/// `1234567` -> `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[mid]
    } else {
        (xs[mid - 1] + xs[mid]) / 2.0
    }
}

fn short(root: &RootDigest) -> String {
    let hex = root.to_hex();
    format!("{}…/h{}", &hex[..12], root.height)
}

/// Index of the first result that differs, for the error message.
fn first_difference(a: &[OpResult], b: &[OpResult]) -> String {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => format!("operation {i}: {:?} vs {:?}", a[i], b[i]),
        None => format!("{} results vs {}", a.len(), b.len()),
    }
}

// ---------------------------------------------------------------------------------------------

struct BlockRow {
    ops: usize,
    proof_bytes: usize,
    prove: Duration,
    verify: Duration,
}

fn main() {
    let config = parse_args();
    let mut rng = SplitMix64(config.seed);
    let (store, store_name, temporary) = open_store(&config);

    println!("avlplus demo: a full node and a light client");
    println!(
        "  {} keys, {} blocks of {} operations, seed {}, SHA-256, store {}",
        grouped(config.keys as u64),
        config.blocks,
        config.block_size,
        config.seed,
        store_name
    );
    println!();

    // --- Full node: genesis state -------------------------------------------------------------
    let mut model = Model {
        keys: Vec::with_capacity(config.keys),
        values: HashMap::with_capacity(config.keys),
    };
    let created = match Tree::create_store(Arc::clone(&store), store_config()) {
        Err(TreeError::Store(StoreError::AlreadyExists)) => {
            Tree::open_store(Arc::clone(&store), store_config())
        }
        other => other,
    };
    let mut full_node: Tree = match created {
        Ok(tree) => tree,
        Err(e) => fail(format!("opening the store: {e}")),
    };
    let started = Instant::now();
    let mut remaining = config.keys;
    while remaining > 0 {
        let n = remaining.min(GENESIS_CHUNK);
        let mut chunk = Vec::with_capacity(n);
        for _ in 0..n {
            let (key, value) = (model.fresh_key(&mut rng), rng.bytes32());
            model.insert(key, value);
            chunk.push(Operation::insert(key, value));
        }
        match full_node.apply_unproven(&chunk) {
            Ok(results) if results.iter().all(|r| *r == Ok(Outcome::Inserted)) => {}
            Ok(_) => fail("a genesis insert of a fresh key did not report Inserted"),
            Err(e) => fail(format!("genesis batch rejected: {e}")),
        }
        remaining -= n;
    }
    let genesis_time = started.elapsed();
    let genesis = full_node.root();
    println!(
        "full node:    genesis state of {} keys built in {:.0} ms ({} inserts/s)",
        grouped(config.keys as u64),
        ms(genesis_time),
        per_second(config.keys, genesis_time)
    );

    // A restart: drop the tree and reopen it from the store at the committed root. The blocks
    // below then load nodes from the store as they reach them.
    drop(full_node);
    let started = Instant::now();
    let mut full_node: Tree = match Tree::open_store(Arc::clone(&store), store_config()) {
        Ok(tree) => tree,
        Err(e) => fail(format!("reopening the store at the genesis root: {e}")),
    };
    if full_node.root() != genesis {
        fail("the reopened store's head is not the genesis root");
    }
    println!(
        "full node:    restarted from the store at root {} in {:.2} ms",
        short(&genesis),
        ms(started.elapsed())
    );

    // --- Light client: holds one root, nothing else -------------------------------------------
    let light_client = Verifier::<Sha256>::new();
    let mut trusted_root = genesis;
    println!(
        "light client: trusts only the genesis root {}",
        genesis.to_hex()
    );
    println!();

    // --- Blocks -------------------------------------------------------------------------------
    println!(
        "{:>5} {:>6} {:>11} {:>7} {:>10} {:>10}  new root (verified)",
        "block", "ops", "proof bytes", "B/op", "prove ms", "verify ms"
    );
    let mut rows = Vec::with_capacity(config.blocks);
    let mut total_mix = Mix::default();
    // Block 1 is kept to tamper with later: its operations, proof and starting root.
    let mut kept: Option<(Vec<Operation>, Vec<u8>, RootDigest)> = None;
    for number in 1..=config.blocks {
        let (ops, expected, mix) = model.block(&mut rng, config.block_size);
        total_mix.add(&mix);

        let started = Instant::now();
        let batch = match full_node.apply(&ops) {
            Ok(batch) => batch,
            Err(e) => fail(format!("block {number}: full node rejected the block: {e}")),
        };
        let prove = started.elapsed();

        let started = Instant::now();
        let verified = light_client.verify(&trusted_root, batch.proof.as_bytes(), &ops);
        let verify = started.elapsed();

        let verified = match verified {
            Ok(v) => v,
            Err(e) => fail(format!(
                "block {number}: light client rejected an honest proof: {e}"
            )),
        };
        if batch.old_root != trusted_root {
            fail(format!(
                "block {number}: proof starts from a root the light client does not trust"
            ));
        }
        if verified.results != batch.results {
            fail(format!(
                "block {number}: light client and full node disagree on results ({})",
                first_difference(&verified.results, &batch.results)
            ));
        }
        if batch.results != expected {
            fail(format!(
                "block {number}: full node disagrees with the model ({})",
                first_difference(&batch.results, &expected)
            ));
        }
        if verified.new_root != batch.new_root || batch.new_root != full_node.root() {
            fail(format!(
                "block {number}: roots disagree: light client {}, full node {}",
                verified.new_root,
                full_node.root()
            ));
        }
        trusted_root = verified.new_root;

        let proof_bytes = batch.proof.len();
        println!(
            "{:>5} {:>6} {:>11} {:>7.1} {:>10.2} {:>10.2}  {}",
            number,
            ops.len(),
            grouped(proof_bytes as u64),
            proof_bytes as f64 / ops.len().max(1) as f64,
            ms(prove),
            ms(verify),
            short(&trusted_root)
        );
        if kept.is_none() && !batch.proof.is_empty() {
            kept = Some((ops.clone(), batch.proof.into_bytes(), batch.old_root));
        }
        rows.push(BlockRow {
            ops: ops.len(),
            proof_bytes,
            prove,
            verify,
        });
    }

    // --- Summary ------------------------------------------------------------------------------
    let total_ops: usize = rows.iter().map(|r| r.ops).sum();
    let total_bytes: usize = rows.iter().map(|r| r.proof_bytes).sum();
    let total_prove: Duration = rows.iter().map(|r| r.prove).sum();
    let total_verify: Duration = rows.iter().map(|r| r.verify).sum();
    println!("{}", "-".repeat(75));
    println!(
        "{:>5} {:>6} {:>11} {:>7.1} {:>10.2} {:>10.2}  (totals)",
        "all",
        grouped(total_ops as u64),
        grouped(total_bytes as u64),
        total_bytes as f64 / total_ops.max(1) as f64,
        ms(total_prove),
        ms(total_verify)
    );
    println!();
    println!(
        "operations:   {} inserts, {} updates, {} removes, {} lookups of present keys, \
         {} of absent keys, {} failing by design",
        total_mix.inserts,
        total_mix.updates,
        total_mix.removes,
        total_mix.hits,
        total_mix.misses,
        total_mix.failing
    );
    println!(
        "full node:    median {:.2} ms per block, {} ops/s proven and applied",
        median(rows.iter().map(|r| ms(r.prove)).collect()),
        per_second(total_ops, total_prove)
    );
    println!(
        "light client: median {:.2} ms per block, {} ops/s verified",
        median(rows.iter().map(|r| ms(r.verify)).collect()),
        per_second(total_ops, total_verify)
    );
    println!(
        "roots:        light client and full node agree after {} blocks: {}",
        rows.len(),
        trusted_root.to_hex()
    );

    // The full node's state, checked node by node against the model.
    match full_node.audit() {
        Ok(audit) if audit.leaves == model.values.len() => println!(
            "audit:        {} keys, {} internal nodes, height {}; every label recomputed",
            grouped(audit.leaves as u64),
            grouped(audit.internal as u64),
            audit.height
        ),
        Ok(audit) => fail(format!(
            "the tree holds {} keys, the model {}",
            audit.leaves,
            model.values.len()
        )),
        Err(e) => fail(format!("audit of the full node's tree failed: {e:?}")),
    }

    // --- A tampered proof ---------------------------------------------------------------------
    println!();
    match kept {
        None => println!("tampering:    skipped (no block was applied)"),
        Some((ops, proof, root)) => {
            println!(
                "tampering:    block 1's proof ({} bytes), one byte flipped, replayed against its root",
                grouped(proof.len() as u64)
            );
            let positions = [
                ("first byte (version)", 0),
                ("middle byte", proof.len() / 2),
                ("last byte", proof.len() - 1),
            ];
            for (name, at) in positions {
                let mut bad = proof.clone();
                bad[at] ^= 0x01;
                match light_client.verify(&root, &bad, &ops) {
                    Err(e) => println!("  {name:<22} at {at:>6}: rejected: {e} ({e:?})"),
                    Ok(v) => fail(format!(
                        "a proof with byte {at} flipped was accepted (new root {})",
                        v.new_root
                    )),
                }
            }
            // The untouched proof still verifies: the rejections above are the flip's doing.
            if let Err(e) = light_client.verify(&root, &proof, &ops) {
                fail(format!(
                    "the untouched proof of block 1 no longer verifies: {e}"
                ));
            }
        }
    }

    // --- A what-if proof ----------------------------------------------------------------------
    println!();
    let mut what_if_ops = Vec::new();
    for key in model.keys.iter().take(3) {
        what_if_ops.push(Operation::remove(key));
    }
    what_if_ops.push(Operation::insert(model.fresh_key(&mut rng), rng.bytes32()));
    let before = full_node.root();
    let what_if = match full_node.prove(&what_if_ops) {
        Ok(b) => b,
        Err(e) => fail(format!("what-if proof failed: {e}")),
    };
    if full_node.root() != before {
        fail("a what-if proof changed the full node's root");
    }
    let verified = match light_client.verify(&trusted_root, what_if.proof.as_bytes(), &what_if_ops)
    {
        Ok(v) => v,
        Err(e) => fail(format!("light client rejected the what-if proof: {e}")),
    };
    if verified.results != what_if.results || verified.new_root != what_if.new_root {
        fail("light client and full node disagree on the what-if proof");
    }
    // The first key was removed only in the what-if: the full node must still hold it.
    if let Some(key) = model.keys.first() {
        match full_node.get(key) {
            Ok(Some(v)) if model.values.get(key).is_some_and(|m| m[..] == v[..]) => {}
            Ok(_) => fail("a key removed only in a what-if proof changed in the full node"),
            Err(e) => fail(format!("reading the full node after the what-if: {e}")),
        }
    }
    println!(
        "what-if:      {} ops proven without applying ({} bytes, verified by the light client)",
        what_if_ops.len(),
        grouped(what_if.proof.len() as u64)
    );
    println!(
        "              would move the root to {}; the full node's root is still {}",
        short(&what_if.new_root),
        short(&full_node.root())
    );
    println!();
    println!("all checks passed");
    drop(full_node);
    drop(store);
    if let Some(dir) = temporary {
        let _ = std::fs::remove_dir_all(dir);
    }
}
