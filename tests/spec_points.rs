//! The places where `docs/proof-format.md` and the library once disagreed (issue 9), one test
//! per point, each named after the section it pins. When one fails, the code and the spec
//! have drifted apart again: decide which is right and change the other.
//!
//! - §8.2's printed labels are checked by `tests/fixtures.rs`
//!   (`spec_examples_quote_the_committed_proofs`), with the other worked examples.
//! - The memory figures of `docs/security.md` §2.3 and §4 are measured by `tests/bounds.rs`,
//!   which has the counting allocator.

use avlplus::proof::{decode, DecodeError, DecodeLimits};
use avlplus::{
    Blake3, Limits, Operation, Outcome, RootDigest, Sha256, Tree, TreeHasher, Verifier, VerifyError,
};

fn verifier<H: TreeHasher>() -> Verifier<H> {
    Verifier::new()
}

fn tree_of<H: TreeHasher>(keys: impl IntoIterator<Item = u32>) -> Tree<H> {
    let mut tree = Tree::<H>::empty();
    let ops: Vec<Operation> = keys
        .into_iter()
        .map(|k| Operation::insert(k.to_be_bytes(), k.to_le_bytes()))
        .collect();
    tree.apply_unproven(&ops).unwrap();
    tree
}

/// §6.4, §6.6: removing the last key leaves the canonical empty root `H(0x02) || 0x00`, on
/// the prover and on the verifier, whether the tree was one leaf or was emptied by the batch.
#[test]
fn s6_6_an_emptied_tree_has_the_canonical_empty_root() {
    fn run<H: TreeHasher>() {
        let empty = RootDigest::empty::<H>();
        let mut expected = H::empty().to_vec();
        expected.push(0);
        assert_eq!(empty.to_bytes().to_vec(), expected);
        for n in [1u32, 2, 3, 7, 16] {
            let mut tree = tree_of::<H>(0..n);
            let ops: Vec<Operation> = (0..n).map(|k| Operation::remove(k.to_be_bytes())).collect();
            let batch = tree.apply(&ops).unwrap();
            assert_eq!(batch.new_root, empty, "{n} keys");
            assert_eq!(tree.root(), empty, "{n} keys");
            let v = verifier::<H>()
                .verify(&batch.old_root, batch.proof.as_bytes(), &ops)
                .unwrap();
            assert_eq!(v.new_root, empty, "{n} keys");
            // Refilled, it is the same tree as one built from scratch.
            let again = [Operation::insert(b"k", b"v")];
            tree.apply(&again).unwrap();
            let mut fresh = Tree::<H>::empty();
            fresh.apply(&again).unwrap();
            assert_eq!(tree.root(), fresh.root());
        }
    }
    run::<Sha256>();
    run::<Blake3>();
}

/// §6.1 step 4: a trusted height that the proof contradicts is refused, so the height a
/// batch computes from is always the tree's own. This is what made §6.4's "removing the only
/// leaf leaves height 0" and §6.6's `H(02) || 00` true under any trusted height: a one-leaf
/// tree claimed at height 3, or the empty tree claimed at height 5, is refused.
#[test]
fn s6_1_a_trusted_height_the_proof_contradicts_is_refused() {
    let v = verifier::<Sha256>();
    // One leaf, trusted at height 3: the leaf at the root says 0.
    let mut one = tree_of::<Sha256>([1]);
    let ops = [Operation::remove(1u32.to_be_bytes())];
    let batch = one.prove(&ops).unwrap();
    assert_eq!(batch.old_root.height, 0);
    let claimed = RootDigest {
        height: 3,
        ..batch.old_root
    };
    assert_eq!(
        v.verify(&claimed, batch.proof.as_bytes(), &ops),
        Err(VerifyError::HeightMismatch)
    );
    assert_eq!(
        v.verify(&batch.old_root, batch.proof.as_bytes(), &ops)
            .unwrap()
            .new_root,
        RootDigest::empty::<Sha256>()
    );
    one.apply(&ops).unwrap();

    // The empty tree, trusted at height 5: only the empty proof matches its label, and the
    // empty tree's height is 0.
    let empty = Tree::<Sha256>::empty();
    let ops = [Operation::insert(b"a", b"1"), Operation::lookup(b"a")];
    let batch = empty.prove(&ops).unwrap();
    assert_eq!(batch.proof.as_bytes(), [1, 0, 0, 0]);
    let claimed = RootDigest {
        height: 5,
        ..batch.old_root
    };
    assert_eq!(
        v.verify(&claimed, batch.proof.as_bytes(), &ops),
        Err(VerifyError::HeightMismatch)
    );

    // 1000 keys: every lookup's path gives the height, too high or too low is refused (too
    // low already while decoding when the proof is deeper than the claim).
    let big = tree_of::<Sha256>(0..1000);
    let ops = [Operation::lookup(500u32.to_be_bytes())];
    let batch = big.prove(&ops).unwrap();
    let tree = decode(batch.proof.as_bytes(), &DecodeLimits::DEFAULT).unwrap();
    assert_eq!(tree.height(), Some(usize::from(batch.old_root.height)));
    for (height, error) in [
        (batch.old_root.height + 1, VerifyError::HeightMismatch),
        (u8::MAX, VerifyError::HeightMismatch),
        (
            batch.old_root.height - 1,
            VerifyError::Decode(DecodeError::TooDeep),
        ),
    ] {
        let claimed = RootDigest {
            height,
            ..batch.old_root
        };
        assert_eq!(
            v.verify(&claimed, batch.proof.as_bytes(), &ops),
            Err(error),
            "{height}"
        );
    }
}

/// §6.1 step 4, the one case without a path: an empty batch on a non-empty tree is proved by
/// the root alone, as a stub. Nothing in it bears on the height, and nothing is computed from
/// it: the new root is the trusted digest, returned as given.
#[test]
fn s6_1_a_proof_without_an_expanded_path_leaves_the_trusted_digest_as_it_is() {
    let tree = tree_of::<Sha256>(0..10);
    let batch = tree.prove(&[]).unwrap();
    let decoded = decode(batch.proof.as_bytes(), &DecodeLimits::DEFAULT).unwrap();
    assert_eq!(decoded.height(), None);
    assert_eq!(decoded.stats().stubs, 1);
    for height in [0, batch.old_root.height, 200] {
        let claimed = RootDigest {
            height,
            ..batch.old_root
        };
        let v = verifier::<Sha256>()
            .verify(&claimed, batch.proof.as_bytes(), &[])
            .unwrap();
        assert_eq!(v.new_root, claimed);
    }
}

/// §3: the empty tree's only proof is the proof with no nodes. A single stub labelled
/// `H(0x02)` passes a naive root check against the empty root; it is `RootMismatch`, for an
/// empty batch and for any operation (not `Incomplete`).
#[test]
fn s3_a_stub_labelled_like_the_empty_tree_is_not_a_proof_of_it() {
    fn run<H: TreeHasher>() {
        let empty = RootDigest::empty::<H>();
        let mut stub = vec![avlplus::proof::VERSION, 1, 0, 0, 0b0];
        stub.extend_from_slice(&H::empty());
        // The bytes are a well-formed proof (one stub)...
        assert_eq!(
            decode(&stub, &DecodeLimits::DEFAULT).unwrap().stats().stubs,
            1
        );
        // ...of no tree: refused whatever the batch.
        for ops in [
            vec![],
            vec![Operation::lookup(b"a")],
            vec![Operation::insert(b"a", b"1")],
        ] {
            assert_eq!(
                verifier::<H>().verify(&empty, &stub, &ops),
                Err(VerifyError::RootMismatch),
                "{ops:?}"
            );
        }
        // The empty proof is accepted.
        let v = verifier::<H>()
            .verify(&empty, &[avlplus::proof::VERSION, 0, 0, 0], &[])
            .unwrap();
        assert_eq!(v.new_root, empty);
    }
    run::<Sha256>();
    run::<Blake3>();
}

/// §6.4: removing `X`, whose search last went right at `T`, walks from `T` *left* once into
/// `T`'s left subtree and then right to the predecessor `P`; the search path itself already
/// reaches `X` (`T` right once, then left). In a perfect tree of 16 leaves, removing the
/// 9th key (the leftmost of the root's right subtree, `T` = the root) expands the 4 internal
/// nodes down to `X`, and the root's left child and the 2 nodes on its right spine down to
/// the 8th key: 7 internal nodes and 2 leaves, nothing else but stubs.
#[test]
fn s6_4_the_predecessor_walk_goes_left_once_then_right() {
    let tree = tree_of::<Sha256>(0..16);
    assert_eq!(tree.root().height, 4);
    let ops = [Operation::remove(8u32.to_be_bytes())];
    let batch = tree.prove(&ops).unwrap();
    let stats = decode(batch.proof.as_bytes(), &DecodeLimits::DEFAULT)
        .unwrap()
        .stats();
    assert_eq!((stats.internal, stats.leaves), (7, 2), "{stats:?}");
    // The predecessor's value is not read: shipped in full only because it is short.
    assert_eq!(stats.withheld_values, 0);
    verifier::<Sha256>()
        .verify(&batch.old_root, batch.proof.as_bytes(), &ops)
        .unwrap();
}

/// §7 (informative, what this prover sends): a leaf's value goes in full when it is shorter
/// than 32 bytes, or when its digest equals the digest of a pre-state value that a lookup of
/// the batch returned. The rule is by digest, not by leaf: so `lookup(a)` returning `v` also
/// ships the value of a leaf `b` the batch only updates, if `b`'s old value is `v` too. With
/// a different old value, `b`'s value is withheld.
#[test]
fn s7_values_are_shipped_by_digest_of_a_returned_value() {
    let value = [0x42u8; 40];
    for (b_value, withheld) in [(value, 0), ([0x43u8; 40], 1)] {
        let mut tree = Tree::<Sha256>::empty();
        tree.apply_unproven(&[
            Operation::insert(b"a", value),
            Operation::insert(b"b", b_value),
            Operation::insert(b"c", value),
        ])
        .unwrap();
        let ops = [Operation::lookup(b"a"), Operation::update(b"b", b"new")];
        let batch = tree.prove(&ops).unwrap();
        assert_eq!(batch.results[0], Ok(Outcome::Found(value[..].into())));
        let stats = decode(batch.proof.as_bytes(), &DecodeLimits::DEFAULT)
            .unwrap()
            .stats();
        assert_eq!(stats.leaves, 2);
        assert_eq!(stats.withheld_values, withheld, "{stats:?}");
        verifier::<Sha256>()
            .verify(&batch.old_root, batch.proof.as_bytes(), &ops)
            .unwrap();
    }
    // A value the batch itself wrote is never "returned from the pre-state": a lookup after
    // an update ships nothing extra, and the pre-state value is withheld.
    let mut tree = Tree::<Sha256>::empty();
    tree.apply_unproven(&[Operation::insert(b"a", value)])
        .unwrap();
    let ops = [Operation::update(b"a", [7u8; 40]), Operation::lookup(b"a")];
    let batch = tree.prove(&ops).unwrap();
    let stats = decode(batch.proof.as_bytes(), &DecodeLimits::DEFAULT)
        .unwrap()
        .stats();
    assert_eq!((stats.leaves, stats.withheld_values), (1, 1));
}

/// §5.2, `src/proof/decode.rs`: the node cap is `ops × (8 H + 4) + 1` tokens with
/// `H = height + 2 + bits(ops)`, i.e. `4 H + 2` nodes per operation with at most two tokens
/// each, plus one. Three operations at a trusted height of 10: `H = 14`, cap 349. A count of
/// 349 gets past the count check (these bytes are then 349 stubs: not one tree), 350 does not.
#[test]
fn s5_2_the_node_cap_is_4h_plus_2_nodes_per_operation() {
    let ops = [
        Operation::lookup(b"a"),
        Operation::lookup(b"b"),
        Operation::lookup(b"c"),
    ];
    let root = RootDigest {
        label: [9; 32],
        height: 10,
    };
    for (count, expected) in [
        (349u16, DecodeError::MalformedShape),
        (350, DecodeError::TooManyNodes),
    ] {
        let mut proof = vec![avlplus::proof::VERSION];
        proof.extend_from_slice(&[(count as u8 & 0x7f) | 0x80, (count >> 7) as u8, 0, 0]);
        // Zero bits: a run of stubs.
        proof.resize(1 << 16, 0);
        assert_eq!(
            verifier::<Sha256>().verify(&root, &proof, &ops),
            Err(VerifyError::Decode(expected)),
            "{count}"
        );
    }
}

/// §2.3: a root digest is written as 66 hex digits; `Display` writes them and `FromStr`
/// reads them back (either case), refusing any other length or a non-digit with its place.
#[test]
fn s2_3_root_digests_are_66_hex_digits() {
    use avlplus::hash::ParseRootError;
    let tree = tree_of::<Sha256>(0..100);
    let root = tree.root();
    let text = root.to_string();
    assert_eq!(text.len(), 66);
    assert_eq!(text, root.to_hex());
    assert_eq!(text.parse::<RootDigest>(), Ok(root));
    assert_eq!(text.to_uppercase().parse::<RootDigest>(), Ok(root));
    assert_eq!(
        text[..64].parse::<RootDigest>(),
        Err(ParseRootError::Length(64))
    );
    assert_eq!(
        format!("{text}0").parse::<RootDigest>(),
        Err(ParseRootError::Length(67))
    );
    assert_eq!(
        format!(" {}", &text[1..]).parse::<RootDigest>(),
        Err(ParseRootError::Digit(0))
    );
    assert_eq!(
        format!("0x{}", &text[2..]).parse::<RootDigest>(),
        Err(ParseRootError::Digit(1))
    );
    // Not a panic on text that is not ASCII.
    assert_eq!(
        format!("é{}", &text[2..]).parse::<RootDigest>(),
        Err(ParseRootError::Digit(0))
    );
}

/// `Verifier::<H>::new()` for every hash, with the default limits; `Verifier::new()` where
/// the type says which (the default parameter is SHA-256).
#[test]
fn verifiers_are_made_for_either_hash() {
    let sha: Verifier = Verifier::new();
    assert_eq!(*sha.limits(), Limits::DEFAULT);
    let mut tree = Tree::<Blake3>::empty();
    let ops = [Operation::insert(b"k", b"v"), Operation::lookup(b"k")];
    let batch = tree.apply(&ops).unwrap();
    let v = Verifier::<Blake3>::new()
        .verify(&batch.old_root, batch.proof.as_bytes(), &ops)
        .unwrap();
    assert_eq!(v.new_root, tree.root());
    // The SHA-256 verifier refuses the BLAKE3 proof on its root.
    assert_eq!(
        sha.verify(&batch.old_root, batch.proof.as_bytes(), &ops),
        Err(VerifyError::RootMismatch)
    );
}
