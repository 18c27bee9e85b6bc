//! avlplus and `ergo_avltree_rust` 0.1.1 side by side: one seeded workload, its steps turned
//! into each library's operations, each library's build path, and readers that split each
//! library's proof bytes into their parts.
//!
//! Shared by `benches/compare.rs` and `examples/compare_ergo.rs`, which include this file with
//! `#[path]` (a file directly in `benches/` or `examples/` would be built as a target of its
//! own).
//!
//! Keys are 32 random bytes, never the all-0x00 or all-0xFF keys (ergo's sentinels). Ergo's
//! tree is built for fixed-length values (`Some(value_len)`), which keeps a 4-byte length out
//! of each of its leaves in proofs: the setting that favours it.

use avlplus::proof::{decode, DecodeLimits};
use avlplus::{OpResult, Operation, Outcome};
use ergo_avltree_rust::batch_avl_prover::BatchAVLProver;
use ergo_avltree_rust::batch_node::{AVLTree, Node, NodeHeader};
use ergo_avltree_rust::operation::{ADKey, ADValue, Digest32, KeyValue};

pub type ErgoOp = ergo_avltree_rust::operation::Operation;

pub const KEY_LEN: usize = 32;
pub const DIGEST_LEN: usize = 32;
/// Keys inserted per batch while building an initial tree.
pub const BUILD_CHUNK: usize = 50_000;

/// The paper's figure (Reyzin, Meshkov, Chepurnoy, Ivanov, FC 2017, ePrint 2016/994): n = 10^6,
/// 32-byte keys, 8-byte values, half inserts / half updates, proof bytes per modification by
/// batch size.
pub const PAPER: [(usize, f64); 7] = [
    (1, 770.0),
    (16, 600.0),
    (128, 500.0),
    (1024, 390.0),
    (2000, 355.0),
    (16384, 252.0),
    (131072, 148.0),
];

/// SplitMix64 (Steele, Lea, Flood 2014): small, seedable, good enough for workloads.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-40 for our `n`).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }

    pub fn key(&mut self) -> Key {
        loop {
            let mut k = [0u8; KEY_LEN];
            self.fill(&mut k);
            // Ergo's sentinels are the all-zero and all-0xFF keys.
            if k != [0u8; KEY_LEN] && k != [0xFF; KEY_LEN] {
                return k;
            }
        }
    }

    pub fn value(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.fill(&mut v);
        v
    }

    /// Fisher-Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

pub type Key = [u8; KEY_LEN];

/// One operation of a workload, independent of either library.
pub enum Step {
    Insert(Key, Vec<u8>),
    Update(Key, Vec<u8>),
    Lookup(Key),
    Remove(Key),
}

/// `count` inserts of fresh random keys.
pub fn inserts(rng: &mut SplitMix64, count: usize, value_len: usize) -> Vec<Step> {
    (0..count)
        .map(|_| Step::Insert(rng.key(), rng.value(value_len)))
        .collect()
}

pub fn ours_ops(steps: &[Step]) -> Vec<Operation> {
    steps
        .iter()
        .map(|s| match s {
            Step::Insert(k, v) => Operation::insert(k, v),
            Step::Update(k, v) => Operation::update(k, v),
            Step::Lookup(k) => Operation::lookup(k),
            Step::Remove(k) => Operation::remove(k),
        })
        .collect()
}

pub fn ergo_ops(steps: &[Step]) -> Vec<ErgoOp> {
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
            Step::Remove(k) => ErgoOp::Remove(ADKey::copy_from_slice(k)),
        })
        .collect()
}

/// Checks avlplus's results against the steps (every step is meant to succeed) and returns
/// the values the lookups found.
pub fn ours_found(steps: &[Step], results: &[OpResult]) -> Vec<Vec<u8>> {
    assert_eq!(steps.len(), results.len());
    let mut found = Vec::new();
    for (step, result) in steps.iter().zip(results) {
        match (step, result) {
            (Step::Insert(..), Ok(Outcome::Inserted))
            | (Step::Update(..), Ok(Outcome::Updated))
            | (Step::Remove(_), Ok(Outcome::Removed)) => {}
            (Step::Lookup(_), Ok(Outcome::Found(v))) => found.push(v.to_vec()),
            (_, other) => panic!("avlplus: unexpected result {other:?}"),
        }
    }
    found
}

/// Checks ergo's results (old values) against the steps and returns the values the lookups
/// found.
pub fn ergo_found(steps: &[Step], results: &[Option<ADValue>]) -> Vec<Vec<u8>> {
    assert_eq!(steps.len(), results.len());
    let mut found = Vec::new();
    for (step, result) in steps.iter().zip(results) {
        match (step, result) {
            (Step::Insert(..), None) | (Step::Update(..), Some(_)) | (Step::Remove(_), Some(_)) => {
            }
            (Step::Lookup(_), Some(v)) => found.push(v.to_vec()),
            (_, other) => panic!("ergo: unexpected result {other:?}"),
        }
    }
    found
}

fn label_only(digest: &Digest32) -> Node {
    Node::LabelOnly(NodeHeader::new(Some(*digest), None))
}

/// An empty ergo tree description for `value_len`-byte values (also what its verifier needs).
pub fn ergo_tree(value_len: usize) -> AVLTree {
    AVLTree::new(label_only, KEY_LEN, Some(value_len))
}

/// An empty ergo prover. Collecting changed nodes (for storage) does not change proofs; it is
/// left off.
pub fn ergo_prover(value_len: usize) -> BatchAVLProver {
    BatchAVLProver::new(ergo_tree(value_len), false)
}

/// Inserts `steps` into an ergo prover; the proof, which ergo cannot skip, is discarded.
pub fn ergo_build(prover: &mut BatchAVLProver, steps: &[Step]) {
    for op in ergo_ops(steps) {
        let r = prover.perform_one_operation(&op);
        assert!(matches!(r, Ok(None)), "ergo build insert failed");
    }
    prover.generate_proof();
}

/// Where the bytes of a library's proofs go (totals over the measured batches).
#[derive(Clone, Copy, Default)]
pub struct Breakdown {
    pub total: u64,
    /// Labels of cut subtrees.
    pub hashes: u64,
    /// Leaf keys and next keys.
    pub keys: u64,
    /// Values sent in full.
    pub values: u64,
    /// Value digests sent instead of values (avlplus only).
    pub value_digests: u64,
    /// Header, node tags, balances (ergo: one byte per node; avlplus: shape bits).
    pub structure: u64,
    /// Direction bits.
    pub directions: u64,
    pub stubs: u64,
    pub internal: u64,
    pub leaves: u64,
    pub withheld: u64,
}

impl Breakdown {
    pub fn add(&mut self, o: &Breakdown) {
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
pub fn ours_breakdown(bytes: &[u8], value_len: usize) -> Breakdown {
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
pub fn ergo_breakdown(bytes: &[u8], value_len: usize) -> Breakdown {
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
