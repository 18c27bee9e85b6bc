//! The adversarial corpus: named hostile proofs, each replayed against a named setup and
//! expected to fail with a named error.
//!
//! `tests/adversarial/cases.txt` lists one case per line:
//!
//! ```text
//! file | setup | trusted root | expected | what it attacks
//! ```
//!
//! - *file*: the proof bytes, as one line of hex, in `tests/adversarial/`;
//! - *setup*: a pre-state and a batch, defined in [`setups`] below;
//! - *trusted root*: `old` (the setup's pre-state, the root the batch's proof belongs to),
//!   `new` (the state after the batch: a replay against a newer root), or `v<N>` (an earlier
//!   version of the same chain);
//! - *expected*: the `Debug` form of the `VerifyError`, or `ok` for a control case that must
//!   be accepted with exactly the honest results and new root.
//!
//! The files are built by [`generate`]; `AVLPLUS_REGEN_ADVERSARIAL=1 cargo test --test
//! adversarial` rewrites them and the manifest. Without it, the test checks that every
//! committed file still equals what the generator builds (so that a change of the format or
//! of the setups cannot silently turn a case into something else), then replays every line of
//! the manifest. Lines whose file starts with `fuzz-` are proofs the fuzzers found (see
//! `fuzz/`): the generator keeps them as they are, and they are replayed like the others. A
//! verification target's crash becomes such a case with the proof it produced, replayed
//! against the setup it was found on (the fuzz cases in `fuzz/src/cases.rs`; add the one it
//! needs to [`setups`] if it is not here).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use avlplus::__internal::{from_hex, hex};
use avlplus::{Blake3, Digest, Operation, RootDigest, Sha256, Tree, TreeHasher, Verifier};

// The one model of the proof format, shared with tests/tamper.rs and the fuzz targets; this
// file uses only part of it.
#[allow(dead_code)]
#[path = "common/proof_format.rs"]
mod format;

use format::{Fields, Model, Tok, Val};

// ---------------------------------------------------------------------------------------------
// Setups.

/// A chain of states and a batch on its last one.
struct Setup {
    /// The root of every version: `roots[0]` is the empty tree, the last is the pre-state.
    roots: Vec<RootDigest>,
    /// The root after the batch.
    new: RootDigest,
    ops: Vec<Operation>,
    /// The pre-state tree (for building proofs of other batches).
    tree: Tree,
    /// The honest proof of `ops`.
    proof: Vec<u8>,
}

fn k32(i: u32) -> Vec<u8> {
    i.to_be_bytes().to_vec()
}

fn even_key(i: u32) -> Vec<u8> {
    format!("k{:02}", i * 2).into_bytes()
}

fn build(setup: &[Vec<Operation>], ops: Vec<Operation>) -> Setup {
    let mut tree = Tree::new();
    let mut roots = vec![tree.root()];
    for batch in setup {
        tree.apply_unproven(batch).unwrap();
        roots.push(tree.root());
    }
    let batch = tree.prove(&ops).unwrap();
    Setup {
        roots,
        new: batch.new_root,
        ops,
        tree,
        proof: batch.proof.into_bytes(),
    }
}

/// 64 keys in two batches, values of 8 and 40 bytes (so that unread values travel as
/// digests), and a batch of every kind of operation.
fn fixed64_setup() -> Vec<Vec<Operation>> {
    let ins = |i: u32| {
        let len = if i.is_multiple_of(2) { 8 } else { 40 };
        Operation::insert(k32(i * 3), vec![i as u8; len])
    };
    vec![(0..32).map(ins).collect(), (32..64).map(ins).collect()]
}

fn sixteen_setup() -> Vec<Vec<Operation>> {
    vec![(0..16)
        .map(|i| Operation::insert(even_key(i), [b'v', i as u8]))
        .collect()]
}

/// The named setups.
fn setups() -> BTreeMap<&'static str, Setup> {
    let mut s = BTreeMap::new();
    s.insert(
        "fixed64",
        build(
            &fixed64_setup(),
            vec![
                Operation::lookup(k32(30)),
                Operation::lookup(k32(31)),
                Operation::insert(k32(31), b"new"),
                Operation::update(k32(60), b"changed"),
                Operation::remove(k32(93)),
                Operation::remove_if_present(k32(1000)),
                Operation::upsert(k32(0), b"zero"),
            ],
        ),
    );
    // Sixteen keys k00, k02, ..., k30; the batch reads a present key.
    s.insert(
        "sixteen-lookup",
        build(&sixteen_setup(), vec![Operation::lookup(b"k10")]),
    );
    s.insert(
        "sixteen-remove",
        build(&sixteen_setup(), vec![Operation::remove_if_present(b"k10")]),
    );
    s.insert(
        "empty",
        build(
            &[],
            vec![Operation::insert(b"a", b"1"), Operation::lookup(b"a")],
        ),
    );
    s
}

fn trusted(setup: &Setup, root: &str) -> RootDigest {
    match root {
        "old" => *setup.roots.last().unwrap(),
        "new" => setup.new,
        v => {
            let n: usize = v
                .strip_prefix('v')
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unknown trusted root {v:?}"));
            setup.roots[n]
        }
    }
}

/// The verdict on `bytes`, in the manifest's words: `ok` (only with the honest answer) or
/// the error's `Debug` form.
fn verdict(setup: &Setup, root: &str, bytes: &[u8]) -> String {
    let root_digest = trusted(setup, root);
    match Verifier::<Sha256>::new().verify(&root_digest, bytes, &setup.ops) {
        Ok(v) => {
            let honest = setup.tree.prove(&setup.ops).unwrap();
            assert_eq!(root, "old", "accepted against another root");
            assert_eq!(v.results, honest.results);
            assert_eq!(v.new_root, honest.new_root);
            "ok".to_string()
        }
        Err(e) => format!("{e:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Proof format v1 as tokens (the model in tests/common/proof_format.rs), and what the cases
// below ask of it.

/// Parses an honest proof (panics on anything else).
fn parse(bytes: &[u8]) -> Model {
    format::parse(bytes).expect("an honest proof parses")
}

/// Writes `model` canonically.
fn write(model: &Model) -> Vec<u8> {
    format::write(model, Fields::default())
}

/// The label of every token's subtree.
fn labels(tokens: &[Tok]) -> Vec<Digest> {
    format::labels::<Sha256>(tokens).expect("one post-order tree")
}

/// The index of the first token of every token's subtree.
fn starts(tokens: &[Tok]) -> Vec<usize> {
    format::starts(tokens).expect("one post-order tree")
}

/// The depth of every token (the root's is 0).
fn depths(tokens: &[Tok]) -> Vec<usize> {
    fn go(tokens: &[Tok], st: &[usize], i: usize, d: usize, out: &mut [usize]) {
        out[i] = d;
        if is_internal(&tokens[i]) {
            go(tokens, st, i - 1, d + 1, out);
            go(tokens, st, st[i - 1] - 1, d + 1, out);
        }
    }
    let mut out = vec![0; tokens.len()];
    if !tokens.is_empty() {
        go(tokens, &starts(tokens), tokens.len() - 1, 0, &mut out);
    }
    out
}

fn first(model: &Model, f: impl Fn(&Tok) -> bool) -> usize {
    model.tokens.iter().position(f).expect("no such token")
}

fn is_stub(t: &Tok) -> bool {
    matches!(t, Tok::Stub(_))
}

fn is_internal(t: &Tok) -> bool {
    matches!(t, Tok::Internal(_))
}

fn is_full_leaf(t: &Tok) -> bool {
    matches!(
        t,
        Tok::Leaf {
            value: Val::Full(_),
            ..
        }
    )
}

/// SplitMix64, for the random-bytes case.
fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The generator.

/// One generated case: a manifest line and its bytes.
struct Case {
    file: &'static str,
    setup: &'static str,
    root: &'static str,
    expected: &'static str,
    attack: &'static str,
    bytes: Vec<u8>,
}

/// Builds every generated case from the setups.
fn generate(s: &BTreeMap<&'static str, Setup>) -> Vec<Case> {
    let mut out = Vec::new();
    let mut case = |file, setup, root, expected, attack, bytes| {
        out.push(Case {
            file,
            setup,
            root,
            expected,
            attack,
            bytes,
        })
    };
    let f = &s["fixed64"];
    // The descriptions below rely on these heights.
    assert_eq!((trusted(f, "v1").height, trusted(f, "old").height), (5, 6));
    let honest = f.proof.clone();
    let m = parse(&honest);
    assert_eq!(write(&m), honest, "test-side writer");

    // Controls: the honest proofs, accepted.
    case(
        "honest-fixed64.hex",
        "fixed64",
        "old",
        "ok",
        "control: the honest proof of a mixed batch",
        honest.clone(),
    );
    case(
        "honest-sixteen.hex",
        "sixteen-lookup",
        "old",
        "ok",
        "control: the honest proof of one lookup",
        s["sixteen-lookup"].proof.clone(),
    );
    case(
        "honest-empty.hex",
        "empty",
        "old",
        "ok",
        "control: the honest proof on the empty tree",
        s["empty"].proof.clone(),
    );

    // The five inputs that crash the peer's verifier.
    case(
        "peer-empty.hex",
        "fixed64",
        "old",
        "Decode(Truncated)",
        "peer case 1: an empty proof",
        Vec::new(),
    );
    case(
        "peer-random.hex",
        "fixed64",
        "old",
        "Decode(UnsupportedVersion(193))",
        "peer case 2: random bytes",
        random_bytes(1, 300),
    );
    let mut random_v1 = random_bytes(2, 300);
    random_v1[0] = avlplus::proof::VERSION;
    case(
        "peer-random-v1.hex",
        "fixed64",
        "old",
        "Decode(NonZeroPadding)",
        "peer case 2b: random bytes after a valid version byte",
        random_v1,
    );
    case(
        "peer-truncated.hex",
        "fixed64",
        "old",
        "Decode(Truncated)",
        "peer case 3: the honest proof cut in half",
        honest[..honest.len() / 2].to_vec(),
    );
    case(
        "peer-last-byte-dropped.hex",
        "fixed64",
        "old",
        "DirectionsExhausted",
        "peer case 4: the honest proof without its last byte",
        honest[..honest.len() - 1].to_vec(),
    );
    let mut no_dirs = m.clone();
    no_dirs.directions.clear();
    case(
        "peer-directions-dropped.hex",
        "fixed64",
        "old",
        "DirectionsExhausted",
        "peer case 5: the honest proof without its direction bytes",
        write(&no_dirs),
    );

    // Forged hash references.
    let mut x = m.clone();
    let i = first(&x, is_stub);
    if let Tok::Stub(d) = &mut x.tokens[i] {
        d[0] ^= 1;
    }
    case(
        "forged-stub-hash.hex",
        "fixed64",
        "old",
        "RootMismatch",
        "a cut subtree's hash with one bit flipped",
        write(&x),
    );
    let mut x = m.clone();
    let lbl = labels(&x.tokens);
    let i = first(&x, is_stub);
    let other = (0..x.tokens.len())
        .rev()
        .find(|j| is_internal(&x.tokens[*j]) && *j + 1 < x.tokens.len())
        .unwrap();
    x.tokens[i] = Tok::Stub(lbl[other]);
    case(
        "forged-stub-other-subtree.hex",
        "fixed64",
        "old",
        "RootMismatch",
        "a cut subtree's hash replaced by another subtree's label",
        write(&x),
    );
    let mut x = m.clone();
    let i = first(&x, |t| {
        matches!(
            t,
            Tok::Leaf {
                value: Val::Digest(_),
                ..
            }
        )
    });
    if let Tok::Leaf {
        value: Val::Digest(d),
        ..
    } = &mut x.tokens[i]
    {
        d[31] ^= 0x80;
    }
    case(
        "forged-value-digest.hex",
        "fixed64",
        "old",
        "RootMismatch",
        "a withheld value's digest that is not the value's",
        write(&x),
    );
    // Short values travel in full even when not read; this one is read (lookup of key 30).
    let mut x = m.clone();
    let i = first(
        &x,
        |t| matches!(t, Tok::Leaf { key, .. } if key == &k32(30)),
    );
    if let Tok::Leaf { value, .. } = &mut x.tokens[i] {
        if let Val::Full(v) = value {
            *value = Val::Digest(Sha256::value(v));
        }
    }
    case(
        "withheld-value-that-is-read.hex",
        "fixed64",
        "old",
        "ValueWithheld",
        "a value the batch reads sent as its (true) digest: the hash matches, the value is missing",
        write(&x),
    );
    let mut x = m.clone();
    let i = first(&x, is_full_leaf);
    if let Tok::Leaf {
        value: Val::Full(v),
        ..
    } = &mut x.tokens[i]
    {
        v.push(0);
    }
    case(
        "leaf-value-changed.hex",
        "fixed64",
        "old",
        "RootMismatch",
        "an expanded leaf's value changed (its label is recomputed, never read)",
        write(&x),
    );

    // A child the hash does not cover (the IAVL bug's analogue).
    let mut x = m.clone();
    let st = starts(&x.tokens);
    let i = first(&x, is_internal);
    let copy = x.tokens[st[i]..=i].to_vec();
    x.tokens.extend(copy);
    case(
        "extra-subtree-after-root.hex",
        "fixed64",
        "old",
        "Decode(UnorderedLeaves)",
        "a second tree after the root: tokens outside the hashed tree",
        write(&x),
    );
    let mut x = m.clone();
    x.tokens.insert(0, Tok::Stub([7; 32]));
    case(
        "extra-stub-before-root.hex",
        "fixed64",
        "old",
        "Decode(MalformedShape)",
        "an extra subtree that no internal node joins",
        write(&x),
    );
    // The shallowest cut subtree gets a sibling (a copy of itself), so that the tree stays
    // within the trusted height and only the hash can tell.
    let mut x = m.clone();
    let depth = depths(&x.tokens);
    let i = (0..x.tokens.len())
        .filter(|i| is_stub(&x.tokens[*i]))
        .min_by_key(|i| depth[*i])
        .unwrap();
    let copy = x.tokens[i].clone();
    x.tokens.splice(i + 1..i + 1, [copy, Tok::Internal(0)]);
    case(
        "extra-child-joined.hex",
        "fixed64",
        "old",
        "RootMismatch",
        "a subtree given an extra sibling under a new internal node",
        write(&x),
    );
    let mut x = m.clone();
    x.directions.push(0);
    case(
        "extra-trailing-byte.hex",
        "fixed64",
        "old",
        "UnusedDirections",
        "a trailing byte after the proof (read as unused direction bits)",
        write(&x),
    );
    let mut x = m.clone();
    let last = x.directions.len() - 1;
    x.directions[last] |= 0x80;
    case(
        "directions-nonzero-padding.hex",
        "fixed64",
        "old",
        "UnusedDirections",
        "a direction bit set in the padding",
        write(&x),
    );
    let mut x = m.clone();
    let i = first(&x, is_stub);
    x.tokens[i] = Tok::Leaf {
        key: k32(1),
        next: Some(k32(2)),
        value: Val::Full(b"fake".to_vec()),
    };
    case(
        "stub-expanded-with-fake-content.hex",
        "fixed64",
        "old",
        "Decode(UnorderedLeaves)",
        "a cut subtree replaced by a made-up leaf",
        write(&x),
    );

    // Broken structure and leaf sequence.
    let mut x = m.clone();
    let i = first(&x, is_internal);
    if let Tok::Internal(c) = &mut x.tokens[i] {
        *c = (*c + 1) % 3;
    }
    case(
        "balance-changed.hex",
        "fixed64",
        "old",
        "RootMismatch",
        "an internal node's balance changed",
        write(&x),
    );
    let mut x = m.clone();
    let i = first(&x, is_internal);
    x.tokens[i] = Tok::Internal(3);
    case(
        "internal-as-leaf-code.hex",
        "fixed64",
        "old",
        "Decode(UnorderedLeaves)",
        "an internal node's code set to the leaf code",
        write(&x),
    );
    let mut x = m.clone();
    let i = first(&x, |t| matches!(t, Tok::Leaf { next: Some(_), .. }));
    if let Tok::Leaf { next: Some(n), .. } = &mut x.tokens[i] {
        n.push(0xff);
    }
    case(
        "leaf-next-key-changed.hex",
        "fixed64",
        "old",
        "RootMismatch",
        "a leaf's next key changed: the sorted leaf list broken",
        write(&x),
    );
    let mut x = m.clone();
    let leaves: Vec<usize> = (0..x.tokens.len())
        .filter(|i| matches!(x.tokens[*i], Tok::Leaf { .. }))
        .collect();
    x.tokens.swap(leaves[0], leaves[leaves.len() - 1]);
    case(
        "leaves-swapped.hex",
        "fixed64",
        "old",
        "Decode(UnorderedLeaves)",
        "two leaves swapped: keys out of order",
        write(&x),
    );
    let mut x = m.clone();
    let i = first(&x, is_internal);
    let st = starts(&x.tokens);
    x.tokens
        .splice(st[i]..=i, [Tok::Stub(labels(&m.tokens)[i])]);
    case(
        "needed-subtree-cut.hex",
        "fixed64",
        "old",
        "Incomplete",
        "a subtree the batch reads cut down to its true label",
        write(&x),
    );

    // Absence claimed for a present key: the proof walks to the neighbouring leaf.
    let sixteen = &s["sixteen-lookup"];
    let neighbour = sixteen.tree.prove(&[Operation::lookup(b"k09")]).unwrap();
    case("absence-for-present-key.hex", "sixteen-lookup", "old", "WrongLeaf", "lookup(k10) on a proof that walks to leaf k08 (whose next key is k10), as if k10 were absent", neighbour.proof.as_bytes().to_vec());
    let neighbour = sixteen
        .tree
        .prove(&[Operation::remove_if_present(b"k09")])
        .unwrap();
    case(
        "absence-for-present-key-remove.hex",
        "sixteen-remove",
        "old",
        "WrongLeaf",
        "remove_if_present(k10) on a proof that walks to leaf k08, to leave k10 in place",
        neighbour.proof.as_bytes().to_vec(),
    );
    let mut x = parse(&sixteen.proof);
    let i = first(&x, |t| matches!(t, Tok::Leaf { key, .. } if key == b"k10"));
    if let Tok::Leaf { key, next, .. } = &mut x.tokens[i] {
        *key = b"k09".to_vec();
        *next = Some(b"k11".to_vec());
    }
    case(
        "absence-by-forged-leaf.hex",
        "sixteen-lookup",
        "old",
        "RootMismatch",
        "the leaf for k10 rewritten as k09 -> k11, bracketing k10 as absent",
        write(&x),
    );
    let mut x = parse(&sixteen.proof);
    for d in &mut x.directions {
        *d ^= 0xff;
    }
    case(
        "directions-inverted.hex",
        "sixteen-lookup",
        "old",
        "Incomplete",
        "every direction bit inverted: the walk leaves the expanded path",
        write(&x),
    );

    // A proof for another tree, and replays against other roots.
    let mut other = Tree::new();
    for (n, batch) in fixed64_setup().iter().enumerate() {
        let changed: Vec<Operation> = batch
            .iter()
            .map(|op| Operation::insert(op.key(), [n as u8]))
            .collect();
        other.apply_unproven(&changed).unwrap();
    }
    case(
        "other-tree.hex",
        "fixed64",
        "old",
        "RootMismatch",
        "the honest proof of the same batch on another tree (same keys, other values)",
        other.prove(&f.ops).unwrap().proof.into_bytes(),
    );
    let mut blake = Tree::<Blake3>::empty();
    for batch in fixed64_setup() {
        blake.apply_unproven(&batch).unwrap();
    }
    case(
        "other-hash.hex",
        "fixed64",
        "old",
        "RootMismatch",
        "the honest proof of the same batch and tree under BLAKE3",
        blake.prove(&f.ops).unwrap().proof.into_bytes(),
    );
    case(
        "replay-against-newer-root.hex",
        "fixed64",
        "new",
        "RootMismatch",
        "the honest proof replayed against the root after its own batch",
        honest.clone(),
    );
    case(
        "replay-against-older-root.hex",
        "fixed64",
        "v1",
        "Decode(TooDeep)",
        "the honest proof replayed against an earlier version (lower than the proof is deep)",
        honest.clone(),
    );

    // Header and encoding.
    let mut x = honest.clone();
    x[0] = 2;
    case(
        "unsupported-version.hex",
        "fixed64",
        "old",
        "Decode(UnsupportedVersion(2))",
        "a version byte from the future",
        x,
    );
    case(
        "count-plus-one.hex",
        "fixed64",
        "old",
        "Decode(Truncated)",
        "a node count one higher than the tokens",
        format::write(
            &m,
            Fields {
                count: Some(m.tokens.len() as u64 + 1),
                ..Fields::default()
            },
        ),
    );
    case(
        "count-minus-one.hex",
        "fixed64",
        "old",
        "Decode(NonZeroPadding)",
        "a node count one lower than the tokens (the last token's bits become padding)",
        format::write(
            &m,
            Fields {
                count: Some(m.tokens.len() as u64 - 1),
                ..Fields::default()
            },
        ),
    );
    let mut x = vec![avlplus::proof::VERSION];
    format::put_varint(&mut x, 1 << 40);
    x.extend_from_slice(&[0, 0, 0xff, 0xff]);
    case(
        "count-bomb.hex",
        "fixed64",
        "old",
        "Decode(TooManyNodes)",
        "a node count of 2^40 in a few bytes",
        x,
    );
    case(
        "count-not-shortest.hex",
        "fixed64",
        "old",
        "Decode(BadVarint)",
        "a varint not in shortest form",
        vec![avlplus::proof::VERSION, 0x80, 0x00, 0, 0],
    );
    // One leaf, key length 2^30 against the 1 KiB limit; then a value length 2^30.
    case(
        "key-length-bomb.hex",
        "fixed64",
        "old",
        "Decode(KeyTooLong)",
        "a key claiming 1 GiB in ten bytes",
        vec![1, 1, 0, 0, 0x17, 0x80, 0x80, 0x80, 0x80, 0x04],
    );
    case(
        "value-length-bomb.hex",
        "fixed64",
        "old",
        "Decode(ValueTooLong)",
        "a value claiming 1 GiB in eleven bytes",
        vec![1, 1, 0, 0, 0x17, 0x00, 0x80, 0x80, 0x80, 0x80, 0x04],
    );
    case(
        "shape-nonzero-padding.hex",
        "empty",
        "old",
        "Decode(NonZeroPadding)",
        "a bit set in the shape's padding",
        vec![1, 1, 1, 1, 0x17 | 0x80],
    );
    case(
        "width-not-canonical.hex",
        "empty",
        "old",
        "Decode(NonCanonicalWidth)",
        "a width field given with no item to measure",
        vec![1, 0, 1, 0],
    );
    // A left-leaning chain of 40 internal nodes over cut subtrees (zero hashes).
    let mut bits = vec![false];
    for _ in 0..40 {
        bits.extend([false, true, false, false]);
    }
    let mut x = vec![avlplus::proof::VERSION, 81, 0, 0];
    let mut shape = vec![0u8; bits.len().div_ceil(8)];
    for (i, b) in bits.iter().enumerate() {
        shape[i / 8] |= u8::from(*b) << (i % 8);
    }
    x.extend_from_slice(&shape);
    x.extend(std::iter::repeat_n(0u8, 41 * 32));
    case(
        "depth-bomb.hex",
        "fixed64",
        "old",
        "Decode(TooDeep)",
        "a chain of 40 internal nodes against a tree of height 6",
        x,
    );
    out
}

// ---------------------------------------------------------------------------------------------
// The manifest.

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/adversarial")
}

const HEADER: &str = "\
# Adversarial proofs, replayed by tests/adversarial.rs (see its module docs).
# Rebuild the generated ones: AVLPLUS_REGEN_ADVERSARIAL=1 cargo test --test adversarial
# Files named fuzz-* were found by the fuzzers (fuzz/) and are kept as found.
#
# file | setup | trusted root | expected | what it attacks
";

struct Line {
    file: String,
    setup: String,
    root: String,
    expected: String,
    attack: String,
}

/// Reads the manifest, first rebuilding the generated cases if `AVLPLUS_REGEN_ADVERSARIAL`
/// is set (once per process, before any test reads a file).
fn read_manifest() -> Vec<Line> {
    static REGEN: std::sync::Once = std::sync::Once::new();
    REGEN.call_once(|| {
        if std::env::var_os("AVLPLUS_REGEN_ADVERSARIAL").is_some() {
            regenerate(&generate(&setups()));
        }
    });
    read_manifest_file()
}

fn read_manifest_file() -> Vec<Line> {
    let text =
        std::fs::read_to_string(dir().join("cases.txt")).expect("tests/adversarial/cases.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.splitn(5, '|').map(str::trim).collect();
            assert_eq!(f.len(), 5, "malformed manifest line: {l}");
            Line {
                file: f[0].into(),
                setup: f[1].into(),
                root: f[2].into(),
                expected: f[3].into(),
                attack: f[4].into(),
            }
        })
        .collect()
}

fn read_case(file: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    from_hex(text.trim()).unwrap_or_else(|| panic!("{file}: not hex"))
}

fn regenerate(cases: &[Case]) {
    let kept: Vec<Line> = if dir().join("cases.txt").exists() {
        read_manifest_file()
            .into_iter()
            .filter(|l| l.file.starts_with("fuzz-"))
            .collect()
    } else {
        Vec::new()
    };
    std::fs::create_dir_all(dir()).unwrap();
    let mut manifest = HEADER.to_string();
    for c in cases {
        std::fs::write(dir().join(c.file), hex(&c.bytes) + "\n").unwrap();
        writeln!(
            manifest,
            "{} | {} | {} | {} | {}",
            c.file, c.setup, c.root, c.expected, c.attack
        )
        .unwrap();
    }
    for l in kept {
        writeln!(
            manifest,
            "{} | {} | {} | {} | {}",
            l.file, l.setup, l.root, l.expected, l.attack
        )
        .unwrap();
    }
    std::fs::write(dir().join("cases.txt"), manifest).unwrap();
}

#[test]
fn generated_cases_fail_as_stated() {
    // The generator's own expectations, checked on the bytes it builds (before any file).
    let s = setups();
    let mut wrong = Vec::new();
    for c in generate(&s) {
        let got = verdict(&s[c.setup], c.root, &c.bytes);
        if got != c.expected {
            wrong.push(format!("{}: expected {}, got {got}", c.file, c.expected));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn committed_files_are_what_the_generator_builds() {
    let s = setups();
    let cases = generate(&s);
    let manifest: BTreeMap<String, Line> = read_manifest()
        .into_iter()
        .map(|l| (l.file.clone(), l))
        .collect();
    let mut stale = Vec::new();
    for c in &cases {
        match manifest.get(c.file) {
            None => stale.push(format!("{}: not in the manifest", c.file)),
            Some(l) => {
                if (
                    l.setup.as_str(),
                    l.root.as_str(),
                    l.expected.as_str(),
                    l.attack.as_str(),
                ) != (c.setup, c.root, c.expected, c.attack)
                {
                    stale.push(format!(
                        "{}: manifest line differs from the generator",
                        c.file
                    ));
                }
                if read_case(c.file) != c.bytes {
                    stale.push(format!("{}: file differs from the generator", c.file));
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale adversarial corpus (AVLPLUS_REGEN_ADVERSARIAL=1 rebuilds it):\n{}",
        stale.join("\n")
    );
}

#[test]
fn every_case_in_the_manifest_fails_as_stated() {
    let s = setups();
    let lines = read_manifest();
    assert!(lines.len() >= 40, "only {} cases", lines.len());
    let mut wrong = Vec::new();
    for l in &lines {
        let setup = s
            .get(l.setup.as_str())
            .unwrap_or_else(|| panic!("{}: no setup {}", l.file, l.setup));
        let bytes = read_case(&l.file);
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            verdict(setup, &l.root, &bytes)
        }))
        .unwrap_or_else(|_| "PANIC".to_string());
        if got != l.expected {
            wrong.push(format!(
                "{} ({}): expected {}, got {got}",
                l.file, l.attack, l.expected
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_corpus_covers_every_attack_the_issue_names() {
    let lines = read_manifest();
    let has = |prefix: &str| lines.iter().any(|l| l.file.starts_with(prefix));
    for prefix in [
        "peer-empty",
        "peer-random",
        "peer-truncated",
        "peer-last-byte-dropped",
        "peer-directions-dropped",
        "forged-",
        "extra-",
        "leaf-next-key-changed",
        "absence-for-present-key",
        "other-tree",
        "replay-against-newer-root",
    ] {
        assert!(has(prefix), "no case {prefix}*");
    }
    // Every variant of the errors the corpus is meant to reach appears at least once.
    for expected in [
        "RootMismatch",
        "Incomplete",
        "ValueWithheld",
        "WrongLeaf",
        "DirectionsExhausted",
        "UnusedDirections",
        "Decode(Truncated)",
        "Decode(MalformedShape)",
        "Decode(TooDeep)",
        "Decode(TooManyNodes)",
        "Decode(KeyTooLong)",
        "Decode(ValueTooLong)",
        "Decode(BadVarint)",
        "Decode(NonZeroPadding)",
        "Decode(NonCanonicalWidth)",
    ] {
        assert!(
            lines.iter().any(|l| l.expected == expected),
            "no case expects {expected}"
        );
    }
}
