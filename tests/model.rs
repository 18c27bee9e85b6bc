//! The prover, the verifier and a reopened tree against a `BTreeMap` model.

use std::collections::BTreeMap;
use std::sync::Arc;

use avlplus::store::{MemoryStore, StoreConfig};
use avlplus::{Blake3, Failure, OpResult, Operation, Outcome, Sha256, Tree, TreeHasher, Verifier};
use quickcheck::{Arbitrary, Gen, QuickCheck};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn model_apply(model: &mut Model, op: &Operation) -> OpResult {
    let key = op.key().to_vec();
    let present = model.contains_key(&key);
    match op {
        Operation::Lookup(_) => Ok(match model.get(&key) {
            Some(v) => Outcome::Found(v[..].into()),
            None => Outcome::NotFound,
        }),
        Operation::Insert(_, v) if !present => {
            model.insert(key, v.to_vec());
            Ok(Outcome::Inserted)
        }
        Operation::Insert(..) => Err(Failure::KeyExists),
        Operation::Update(_, v) if present => {
            model.insert(key, v.to_vec());
            Ok(Outcome::Updated)
        }
        Operation::Update(..) => Err(Failure::KeyMissing),
        Operation::Upsert(_, v) => {
            model.insert(key, v.to_vec());
            Ok(if present {
                Outcome::Updated
            } else {
                Outcome::Inserted
            })
        }
        Operation::Remove(_) if present => {
            model.remove(&key);
            Ok(Outcome::Removed)
        }
        Operation::Remove(_) => Err(Failure::KeyMissing),
        Operation::RemoveIfPresent(_) => Ok(match model.remove(&key) {
            Some(_) => Outcome::Removed,
            None => Outcome::NotFound,
        }),
    }
}

/// An operation on a small key space, so that hits, misses and failures all happen.
#[derive(Clone, Debug)]
struct Op(Operation);

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Self {
        let key_space = *g.choose(&[2u8, 8, 40, 200]).unwrap_or(&8);
        let k = u8::arbitrary(g) % key_space;
        // Keys of varying length, including the empty key.
        let key: Vec<u8> = match k % 5 {
            0 => vec![],
            1 => vec![k],
            _ => vec![k; (k % 7) as usize + 1],
        };
        let key = if k.is_multiple_of(5) && k != 0 {
            vec![k, 0]
        } else {
            key
        };
        let vlen = *g.choose(&[0usize, 1, 8, 31, 32, 33, 128]).unwrap_or(&8);
        let value: Vec<u8> = (0..vlen).map(|i| (i as u8) ^ u8::arbitrary(g)).collect();
        Op(match u8::arbitrary(g) % 9 {
            0 | 1 => Operation::insert(&key, &value),
            2 => Operation::update(&key, &value),
            3 | 4 => Operation::upsert(&key, &value),
            5 => Operation::remove(&key),
            6 => Operation::remove_if_present(&key),
            _ => Operation::lookup(&key),
        })
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        Box::new(std::iter::empty())
    }
}

fn entries<H: TreeHasher>(tree: &Tree<H>) -> Model {
    tree.entries()
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

/// Runs `batches` through a stored tree, the model and the verifier; checks everything.
fn check_batches<H: TreeHasher>(batches: &[Vec<Op>]) -> bool {
    let store = Arc::new(MemoryStore::new());
    let config = StoreConfig::DEFAULT.keep_versions(3);
    let mut tree = Tree::<H>::create_store(store.clone(), config).unwrap();
    let verifier = Verifier::<H>::with_limits(Default::default());
    let mut model = Model::new();
    for batch in batches {
        let ops: Vec<Operation> = batch.iter().map(|o| o.0.clone()).collect();

        // What-if first: it must leave no trace.
        let root_before = tree.root();
        let what_if = tree.prove(&ops).unwrap();
        assert_eq!(tree.root(), root_before);

        let expected: Vec<OpResult> = ops.iter().map(|op| model_apply(&mut model, op)).collect();
        let applied = tree.apply(&ops).unwrap();
        assert_eq!(applied.results, expected, "results differ from the model");
        assert_eq!(
            what_if, applied,
            "what-if proof differs from the applied one"
        );
        assert_eq!(applied.old_root, root_before);
        assert_eq!(applied.new_root, tree.root());

        let audit = tree.audit().unwrap();
        assert_eq!(audit.leaves, model.len());
        assert_eq!(tree.len(), model.len() as u64);
        assert_eq!(tree.is_empty(), model.is_empty());
        assert_eq!(entries(&tree), model);

        let verified = verifier
            .verify(&applied.old_root, applied.proof.as_bytes(), &ops)
            .unwrap();
        assert_eq!(verified.results, applied.results);
        assert_eq!(verified.new_root, applied.new_root);

        // Re-encoding a decoded proof gives the same bytes.
        let decoded =
            avlplus::proof::decode(applied.proof.as_bytes(), &Default::default()).unwrap();
        assert_eq!(decoded.encode::<H>(), applied.proof.as_bytes());

        // A tree reopened from the store by its root answers the same.
        let reopened = Tree::<H>::open_store(store.clone(), config).unwrap();
        assert_eq!(reopened.root(), tree.root());
        assert_eq!(reopened.len(), model.len() as u64);
        let probe: Vec<Operation> = model
            .keys()
            .take(5)
            .map(Operation::lookup)
            .chain(std::iter::once(Operation::lookup(b"\xff\xff absent")))
            .collect();
        let a = reopened.prove(&probe).unwrap();
        let b = tree.prove(&probe).unwrap();
        assert_eq!(a, b);

        // Reads without a proof: get, contains_key, iter and range agree with the model, on
        // the live tree and on the reopened one (which loads as it goes).
        for t in [&tree, &reopened] {
            for op in &ops {
                let k = op.key();
                assert_eq!(t.get(k).unwrap().as_deref(), model.get(k).map(|v| &v[..]));
                assert_eq!(t.contains_key(k).unwrap(), model.contains_key(k));
            }
            assert_eq!(t.get(b"\xff\xff absent").unwrap(), None);
            let all: Vec<(Vec<u8>, Vec<u8>)> = t
                .iter()
                .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                .collect();
            let want: Vec<(Vec<u8>, Vec<u8>)> =
                model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            assert_eq!(all, want);
            // Ranges bounded by keys present and absent, inclusive and exclusive.
            let bounds: Vec<Vec<u8>> = ops
                .iter()
                .map(|o| o.key().to_vec())
                .chain([vec![], vec![0x80], vec![0xff; 3]])
                .collect();
            for (i, a) in bounds.iter().enumerate().take(6) {
                let b = &bounds[(i * 7 + 3) % bounds.len()];
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                let got: Vec<Vec<u8>> = t
                    .range(lo.as_slice()..hi.as_slice())
                    .map(|e| e.unwrap().0.to_vec())
                    .collect();
                let want: Vec<Vec<u8>> = model
                    .range(lo.clone()..hi.clone())
                    .map(|(k, _)| k.clone())
                    .collect();
                assert_eq!(got, want, "range {lo:?}..{hi:?}");
                let got: Vec<Vec<u8>> = t
                    .range(lo.as_slice()..=hi.as_slice())
                    .map(|e| e.unwrap().0.to_vec())
                    .collect();
                let want: Vec<Vec<u8>> = model
                    .range(lo.clone()..=hi.clone())
                    .map(|(k, _)| k.clone())
                    .collect();
                assert_eq!(got, want, "range {lo:?}..={hi:?}");
                let got: Vec<Vec<u8>> = t
                    .range::<&[u8], _>((
                        std::ops::Bound::Excluded(lo.as_slice()),
                        std::ops::Bound::Unbounded,
                    ))
                    .map(|e| e.unwrap().0.to_vec())
                    .collect();
                let want: Vec<Vec<u8>> = model
                    .range((
                        std::ops::Bound::Excluded(lo.clone()),
                        std::ops::Bound::Unbounded,
                    ))
                    .map(|(k, _)| k.clone())
                    .collect();
                assert_eq!(got, want, "range ({lo:?}..");
            }
        }
    }
    true
}

fn prop_sha256(batches: Vec<Vec<Op>>) -> bool {
    check_batches::<Sha256>(&batches)
}

fn prop_blake3(batches: Vec<Vec<Op>>) -> bool {
    check_batches::<Blake3>(&batches)
}

#[test]
fn model_sha256() {
    QuickCheck::new()
        .tests(300)
        .rng(Gen::new(60))
        .quickcheck(prop_sha256 as fn(Vec<Vec<Op>>) -> bool);
}

#[test]
fn model_blake3() {
    QuickCheck::new()
        .tests(100)
        .rng(Gen::new(40))
        .quickcheck(prop_blake3 as fn(Vec<Vec<Op>>) -> bool);
}

#[test]
fn remove_down_to_empty_and_back() {
    let mut ops: Vec<Op> = (0..50u8).map(|i| Op(Operation::insert([i], [i]))).collect();
    let mut batches = vec![ops.clone()];
    ops = (0..50u8)
        .rev()
        .map(|i| Op(Operation::remove([i])))
        .collect();
    batches.push(ops);
    batches.push(vec![Op(Operation::insert(b"x", b"y"))]);
    batches.push(vec![
        Op(Operation::remove(b"x")),
        Op(Operation::lookup(b"x")),
    ]);
    assert!(check_batches::<Sha256>(&batches));
}

#[test]
fn sequential_and_large_batches() {
    let ins: Vec<Op> = (0..2000u32)
        .map(|i| Op(Operation::insert(i.to_be_bytes(), i.to_le_bytes())))
        .collect();
    let mixed: Vec<Op> = (0..2000u32)
        .map(|i| {
            let k = (i * 7919 % 2500).to_be_bytes();
            Op(match i % 4 {
                0 => Operation::remove_if_present(k),
                1 => Operation::upsert(k, [1; 40]),
                2 => Operation::lookup(k),
                _ => Operation::remove(k),
            })
        })
        .collect();
    assert!(check_batches::<Sha256>(&[ins, mixed]));
}
