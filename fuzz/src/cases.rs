//! Fixed honest batches that the verification targets attack: a pre-state built by a real
//! prover, a batch, its honest proof and answer, and the other roots of the same chain (every
//! earlier version and the state after the batch), each with the honest answer for the same
//! batch there.
//!
//! Built once per process (`OnceLock`): the targets only read them.

use std::sync::OnceLock;

use avlplus::{Digest, Operation, RootDigest, Sha256, Tree, Verified, Verifier};

use crate::format::{self, Model};

/// One honest batch and what surrounds it.
#[derive(Debug)]
pub struct Case {
    /// A short name, for failure messages.
    pub name: &'static str,
    /// The batch.
    pub ops: Vec<Operation>,
    /// The trusted root the proof belongs to.
    pub root: RootDigest,
    /// The honest proof.
    pub proof: Vec<u8>,
    /// The honest proof as tokens.
    pub model: Model,
    /// The honest answer.
    pub honest: Verified,
    /// Other roots of the chain (earlier versions, then the state after the batch), each with
    /// what a prover answers for `ops` there.
    pub others: Vec<(RootDigest, Verified)>,
    /// Labels of every node of every proof of this chain (for forged references).
    pub labels: Vec<Digest>,
}

impl Case {
    /// The trusted root and honest answer selected by `choice` (mostly the case's own).
    pub fn root(&self, choice: u8) -> (&RootDigest, &Verified) {
        match usize::from(choice).checked_sub(224) {
            Some(i) if !self.others.is_empty() => {
                let (r, v) = &self.others[i % self.others.len()];
                (r, v)
            }
            _ => (&self.root, &self.honest),
        }
    }
}

/// A 4-byte big-endian key.
pub fn k32(i: u32) -> Vec<u8> {
    i.to_be_bytes().to_vec()
}

/// A value of `len` bytes derived from `seed`.
pub fn value(len: usize, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (seed as usize).wrapping_mul(31).wrapping_add(i) as u8)
        .collect()
}

fn answer(tree: &Tree, ops: &[Operation]) -> (RootDigest, Verified, Vec<u8>) {
    let batch = tree.prove(ops).expect("honest prove");
    let verified = Verifier::<Sha256>::new()
        .verify(&batch.old_root, batch.proof.as_bytes(), ops)
        .expect("honest proof verifies");
    assert_eq!(verified.results, batch.results);
    assert_eq!(verified.new_root, batch.new_root);
    (batch.old_root, verified, batch.proof.into_bytes())
}

fn build(name: &'static str, setup: Vec<Vec<Operation>>, ops: Vec<Operation>) -> Case {
    let mut tree = Tree::new();
    let mut others = Vec::new();
    let mut labels = Vec::new();
    let mut note = |proof: &[u8], root: &RootDigest| {
        labels.push(root.label);
        if let Some(m) = format::parse(proof) {
            labels.extend(format::labels::<avlplus::Sha256>(&m.tokens).unwrap_or_default());
        }
    };
    for batch in &setup {
        let (root, verified, proof) = answer(&tree, &ops);
        note(&proof, &root);
        others.push((root, verified));
        tree.apply_unproven(batch).expect("setup batch");
    }
    let (root, honest, proof) = answer(&tree, &ops);
    note(&proof, &root);
    let model = format::parse(&proof).expect("honest proof parses");
    assert_eq!(format::write(&model, format::Fields::default()), proof);
    let mut after = Tree::new();
    for batch in &setup {
        after.apply_unproven(batch).expect("setup batch");
    }
    after.apply_unproven(&ops).expect("the batch itself");
    let (next_root, next, next_proof) = answer(&after, &ops);
    note(&next_proof, &next_root);
    others.push((next_root, next));
    labels.sort_unstable();
    labels.dedup();
    Case {
        name,
        ops,
        root,
        proof,
        model,
        honest,
        others,
        labels,
    }
}

fn all() -> Vec<Case> {
    let fixed: Vec<Operation> = (0..64u32)
        .map(|i| Operation::insert(k32(i * 3), value(8, i)))
        .collect();
    let varied: Vec<Operation> = (0..40u32)
        .map(|i| {
            let len = [0, 8, 33, 128][i as usize % 4];
            Operation::insert(format!("key-{i}"), value(len, i))
        })
        .collect();
    let wide: Vec<Operation> = (0..200u32)
        .map(|i| Operation::insert(k32(i * 2 + 10), value(4, i)))
        .collect();
    vec![
        build(
            "empty",
            vec![],
            vec![
                Operation::insert(b"a", b"1"),
                Operation::lookup(b"a"),
                Operation::lookup(b"b"),
                Operation::upsert(b"b", b"2"),
                Operation::remove(b"a"),
            ],
        ),
        build(
            "one",
            vec![vec![Operation::insert(b"m", b"7")]],
            vec![
                Operation::lookup(b"m"),
                Operation::lookup(b"a"),
                Operation::lookup(b"z"),
                Operation::insert(b"b", b"8"),
                Operation::remove(b"m"),
            ],
        ),
        build(
            "fixed64",
            vec![fixed[..32].to_vec(), fixed[32..].to_vec()],
            vec![
                Operation::lookup(k32(30)),
                Operation::lookup(k32(31)),
                Operation::insert(k32(31), value(8, 99)),
                Operation::insert(k32(32), value(8, 98)),
                Operation::update(k32(60), value(8, 97)),
                Operation::remove(k32(93)),
                Operation::remove(k32(96)),
                Operation::remove_if_present(k32(1000)),
                Operation::upsert(k32(0), value(8, 96)),
                Operation::remove(k32(3)),
            ],
        ),
        build(
            "varied",
            vec![varied],
            vec![
                Operation::lookup("key-1"),
                Operation::lookup("key-3"),
                Operation::lookup("key-22"),
                Operation::lookup("key-5x"),
                Operation::update("key-7", value(128, 7)),
                Operation::remove("key-10"),
                Operation::insert("key-100", value(33, 1)),
                Operation::insert("", b"empty key"),
            ],
        ),
        build(
            "shrink",
            vec![vec![
                Operation::insert(b"x", b"1"),
                Operation::insert(b"y", b"2"),
                Operation::insert(b"z", b"3"),
            ]],
            vec![
                Operation::remove(b"y"),
                Operation::remove(b"x"),
                Operation::lookup(b"z"),
                Operation::remove(b"z"),
                Operation::lookup(b"z"),
            ],
        ),
        build(
            "edges",
            vec![wide],
            vec![
                Operation::lookup(k32(0)),
                Operation::lookup(k32(5000)),
                Operation::insert(k32(1), b"low"),
                Operation::insert(k32(6000), b"high"),
                Operation::remove(k32(10)),
                Operation::remove(k32(408)),
                Operation::lookup(k32(11)),
            ],
        ),
    ]
}

/// The cases, built on first use.
pub fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(all)
}
