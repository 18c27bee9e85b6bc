//! Tampering with honest proofs.
//!
//! Every honest proof here comes from a real prover (`Tree::prove`) over a varied pre-state:
//! the empty tree, one key, trees removed down to empty, a few hundred keys; keys of fixed
//! and of varying length; values of 0, 8, 33 and 128 bytes, so that values read by the
//! batch travel in full and the others (32 bytes or longer) as digests; SHA-256 and BLAKE3.
//!
//! The rule for every mutation: the verifier rejects it with a typed error, or, if the
//! mutation happens to be semantically neutral (the same pre-state, only cut or withheld
//! differently), returns exactly the honest results and the honest new root. A panic, or an
//! accepted result or root that differs from the honest one, fails the test with the trusted
//! root, the operations, the mutation and the honest and tampered proofs in hex. Whenever
//! the tampered bytes decode, they must also re-encode to themselves (canonical encoding).
//!
//! Byte-level mutations (bit flips, truncations, appended, inserted and deleted bytes) need
//! no knowledge of the format. Structure-aware ones use the test-side model of proof format v1
//! in `tests/common/proof_format.rs` (the decoded proof tree is crate-private; the adversarial
//! corpus and the fuzz targets use the same model): [`parse_layout`] splits an honest proof
//! into tokens and records where each part sits in the bytes, [`write`] writes tokens back.
//! Every parsed proof is checked first: written back, it gives the same bytes; its labels,
//! recomputed from the public hash functions, give the trusted root; its counts agree with
//! `ProofTree::stats`. The edits then change balances, stub hashes, keys, values, whole
//! subtrees, direction bits and header fields.
//!
//! Beyond the bytes: a proof replayed against another root of the same chain, and a proof
//! replayed with another operation list (reordered, one operation changed, dropped or added),
//! which may only be accepted with exactly what a prover gives for that list on the same
//! pre-state.
//!
//! With `--nocapture` each test prints its counts. `TAMPER_TRACE=1` also lists every accepted
//! tampered input, `TAMPER_TRACE=all` every verdict with its error.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use avlplus::__internal::hex;
use avlplus::proof::{decode, DecodeError, DecodeLimits};
use avlplus::{
    BatchProof, Blake3, Digest, Limits, Operation, RootDigest, Sha256, Tree, TreeHasher, Verified,
    Verifier, VerifyError,
};
use quickcheck::{Arbitrary, Gen, QuickCheck};

mod common;

// The one model of the proof format, shared with tests/adversarial.rs and the fuzz targets.
#[path = "common/proof_format.rs"]
mod format;

use format::{
    get_bit, labels, parse, parse_layout, set_bit, starts, write, Fields, Layout, Model, Tok, Val,
};

// ---------------------------------------------------------------------------------------------
// Randomness for mutation choices (quickcheck supplies the seed).

/// The tests' SplitMix64 (`tests/common`), with the choices the mutations need.
#[derive(Clone, Debug)]
struct Rng(common::Rng);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(common::Rng(seed))
    }

    fn next(&mut self) -> u64 {
        self.0.next()
    }

    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    fn digest(&mut self) -> Digest {
        let mut d = [0u8; 32];
        for b in &mut d {
            *b = self.next() as u8;
        }
        d
    }

    /// Up to `k` distinct indices of `0..n` (all of them when `n <= k`), in order.
    fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        if n <= k {
            return (0..n).collect();
        }
        let mut picked = BTreeSet::new();
        while picked.len() < k {
            picked.insert(self.below(n));
        }
        picked.into_iter().collect()
    }

    /// All of `0..n` if `all`; else `k` of them, the first `head` and the last `tail`, in order.
    fn all_or_sample(
        &mut self,
        n: usize,
        all: bool,
        k: usize,
        head: usize,
        tail: usize,
    ) -> BTreeSet<usize> {
        if all {
            return (0..n).collect();
        }
        let mut picked: BTreeSet<usize> = self.sample(n, k).into_iter().collect();
        picked.extend((0..head).chain(n - tail..n));
        picked
    }

    /// Up to `k` of `items`, in order.
    fn pick<T: Clone>(&mut self, items: &[T], k: usize) -> Vec<T> {
        self.sample(items.len(), k)
            .into_iter()
            .map(|i| items[i].clone())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Honest proofs and the judge.

fn verifier<H: TreeHasher>() -> Verifier<H> {
    Verifier::with_limits(Limits::default())
}

/// A pre-state tree, a batch and the prover's honest proof for it.
struct Honest<H: TreeHasher> {
    name: String,
    setup: Vec<Vec<Operation>>,
    tree: Tree<H>,
    ops: Vec<Operation>,
    batch: BatchProof,
}

impl<H: TreeHasher> Honest<H> {
    fn new(name: impl Into<String>, setup: Vec<Vec<Operation>>, ops: Vec<Operation>) -> Self {
        let mut tree = Tree::<H>::empty();
        for b in &setup {
            tree.apply_unproven(b).unwrap();
        }
        let batch = tree.prove(&ops).unwrap();
        let verified = verifier::<H>()
            .verify(&batch.old_root, batch.proof.as_bytes(), &ops)
            .unwrap();
        assert_eq!(verified.results, batch.results);
        assert_eq!(verified.new_root, batch.new_root);
        Honest {
            name: name.into(),
            setup,
            tree,
            ops,
            batch,
        }
    }

    fn bytes(&self) -> &[u8] {
        self.batch.proof.as_bytes()
    }

    fn expected(&self) -> Verified {
        Verified {
            results: self.batch.results.clone(),
            new_root: self.batch.new_root,
        }
    }

    fn checker(&self, family: &'static str) -> Checker<H> {
        Checker::new(self.name.clone(), family, self.bytes())
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    tried: u64,
    rejected: u64,
    accepted: u64,
}

/// Counts per mutation family, over all tests of this file (printed with `--nocapture`).
static TALLIES: Mutex<BTreeMap<&'static str, Tally>> = Mutex::new(BTreeMap::new());

/// Prints the counts of `family` and checks that it did run and did reject.
fn finish(family: &'static str) {
    let t = TALLIES
        .lock()
        .unwrap()
        .get(family)
        .copied()
        .unwrap_or_default();
    eprintln!(
        "{family}: {} tampered inputs, {} rejected, {} accepted with the allowed answer",
        t.tried, t.rejected, t.accepted
    );
    assert!(t.tried > 0 && t.rejected > 0, "{family}: nothing was tried");
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

/// What a [`Checker`] prints as it goes, from the environment variable `TAMPER_TRACE`:
/// unset, nothing; `all`, every verdict; anything else, every acceptance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trace {
    Off,
    Accepted,
    All,
}

impl Trace {
    fn from_env() -> Self {
        match std::env::var("TAMPER_TRACE").as_deref() {
            Err(_) => Trace::Off,
            Ok("all") => Trace::All,
            Ok(_) => Trace::Accepted,
        }
    }
}

/// Verifies tampered inputs and fails the test on a panic or a wrong acceptance.
struct Checker<H: TreeHasher> {
    name: String,
    family: &'static str,
    /// The honest proof the tampered ones derive from (for the failure report).
    reference: Vec<u8>,
    tally: Tally,
    trace: Trace,
    hasher: std::marker::PhantomData<fn() -> H>,
}

impl<H: TreeHasher> Drop for Checker<H> {
    fn drop(&mut self) {
        if let Ok(mut all) = TALLIES.lock() {
            let t = all.entry(self.family).or_default();
            t.tried += self.tally.tried;
            t.rejected += self.tally.rejected;
            t.accepted += self.tally.accepted;
        }
    }
}

impl<H: TreeHasher> Checker<H> {
    fn new(name: String, family: &'static str, reference: &[u8]) -> Self {
        Checker {
            name,
            family,
            reference: reference.to_vec(),
            tally: Tally::default(),
            trace: Trace::from_env(),
            hasher: std::marker::PhantomData,
        }
    }

    fn fail(
        &self,
        why: &str,
        root: &RootDigest,
        proof: &[u8],
        ops: &[Operation],
        what: &dyn Fn() -> String,
    ) -> ! {
        panic!(
            "{why}\n  case: {} ({})\n  mutation: {}\n  trusted root: {}\n  operations: {:?}\n  \
             honest proof: {}\n  tampered proof: {}",
            self.name,
            H::NAME,
            what(),
            root,
            ops,
            hex(&self.reference),
            hex(proof),
        )
    }

    /// Verifies `proof` for `ops` against `root`. A panic, or an acceptance with anything but
    /// `allowed` (`None`: nothing may be accepted), fails the test. If the bytes decode, they
    /// must re-encode to themselves.
    fn judge(
        &mut self,
        root: &RootDigest,
        proof: &[u8],
        ops: &[Operation],
        allowed: Option<&Verified>,
        what: &dyn Fn() -> String,
    ) -> Result<Verified, VerifyError> {
        self.tally.tried += 1;
        let answer = match catch_unwind(AssertUnwindSafe(|| {
            verifier::<H>().verify(root, proof, ops)
        })) {
            Ok(answer) => answer,
            Err(panic) => self.fail(
                &format!("verifier PANICKED: {}", panic_message(&*panic)),
                root,
                proof,
                ops,
                what,
            ),
        };
        match (&answer, allowed) {
            (Err(e), _) => {
                self.tally.rejected += 1;
                if self.trace == Trace::All {
                    eprintln!("rejected ({e:?}) [{}] {}", self.family, what());
                }
            }
            (Ok(v), Some(a)) if v == a => {
                self.tally.accepted += 1;
                if self.trace != Trace::Off {
                    eprintln!("accepted [{}] {}", self.family, what());
                }
            }
            (Ok(v), _) => self.fail(
                &format!(
                    "tampered input ACCEPTED with results {:?} and new root {}; allowed: {:?}",
                    v.results, v.new_root, allowed
                ),
                root,
                proof,
                ops,
                what,
            ),
        }
        let limits = DecodeLimits::default();
        match catch_unwind(AssertUnwindSafe(|| {
            decode(proof, &limits).map(|t| t.encode::<H>())
        })) {
            Err(panic) => self.fail(
                &format!("decode or re-encode PANICKED: {}", panic_message(&*panic)),
                root,
                proof,
                ops,
                what,
            ),
            Ok(Ok(again)) if again != proof => self.fail(
                &format!(
                    "decode accepted a non-canonical encoding; it re-encodes to {}",
                    hex(&again)
                ),
                root,
                proof,
                ops,
                what,
            ),
            Ok(_) => {}
        }
        answer
    }

    /// Judges `mutated` in place of the honest proof of `h`: only the honest answer may come
    /// back. Unchanged bytes are skipped.
    fn check(&mut self, h: &Honest<H>, mutated: &[u8], what: &dyn Fn() -> String) {
        if mutated != h.bytes() {
            let _answer = self.judge(
                &h.batch.old_root,
                mutated,
                &h.ops,
                Some(&h.expected()),
                what,
            );
        }
    }

    /// Judges `proof` for `h`'s batch where every answer must be a rejection.
    fn must_reject(
        &mut self,
        h: &Honest<H>,
        proof: &[u8],
        what: &dyn Fn() -> String,
    ) -> VerifyError {
        match self.judge(&h.batch.old_root, proof, &h.ops, None, what) {
            Err(e) => e,
            Ok(_) => unreachable!("judge fails on any acceptance here"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Proof format v1: the model in tests/common/proof_format.rs, checked against every honest
// proof before it is edited.

/// Parses the honest proof of `h` and checks the parse against the prover and the decoder.
fn layout<H: TreeHasher>(h: &Honest<H>) -> Layout {
    let bytes = h.bytes();
    let layout = parse_layout(bytes).expect("an honest proof parses");
    assert_eq!(
        write(&layout.model, Fields::default()),
        bytes,
        "test-side writer"
    );
    let tokens = &layout.model.tokens;
    let root = labels::<H>(tokens)
        .unwrap()
        .last()
        .copied()
        .unwrap_or_else(H::empty);
    assert_eq!(root, h.batch.old_root.label, "test-side labels");
    let stats = decode(bytes, &DecodeLimits::default()).unwrap().stats();
    let count = |f: fn(&Tok) -> bool| tokens.iter().filter(|t| f(t)).count();
    assert_eq!(stats.stubs, count(|t| matches!(t, Tok::Stub(_))));
    assert_eq!(stats.internal, count(|t| matches!(t, Tok::Internal(_))));
    assert_eq!(stats.leaves, count(|t| matches!(t, Tok::Leaf { .. })));
    assert_eq!(
        stats.withheld_values,
        count(|t| matches!(
            t,
            Tok::Leaf {
                value: Val::Digest(_),
                ..
            }
        ))
    );
    assert_eq!(stats.direction_bytes, layout.model.directions.len());
    assert_eq!(
        layout.payloads.last().map_or(layout.shape.end, |p| p.end),
        layout.directions
    );
    layout
}

/// Labels of nodes that belong to trees near `h`'s: every node of a few other proofs on the
/// same pre-state and on the post-state, and the post-state root.
fn foreign_labels<H: TreeHasher>(h: &Honest<H>, rng: &mut Rng) -> Vec<Digest> {
    let mut keys: Vec<Vec<u8>> = h.ops.iter().map(|op| op.key().to_vec()).collect();
    keys.extend(
        h.tree
            .entries()
            .unwrap()
            .into_iter()
            .map(|(k, _)| k.to_vec()),
    );
    keys.push(b"\xff\xfe absent".to_vec());
    let keys = rng.pick(&keys, 4);
    let mut post = Tree::<H>::empty();
    for b in h.setup.iter().chain([&h.ops]) {
        post.apply_unproven(b).unwrap();
    }
    let mut out = vec![post.root().label];
    for k in &keys {
        for tree in [&h.tree, &post] {
            let p = tree.prove(&[Operation::lookup(k)]).unwrap();
            out.extend(labels::<H>(&parse(p.proof.as_bytes()).unwrap().tokens).unwrap());
        }
    }
    out.sort();
    out.dedup();
    out
}

// ---------------------------------------------------------------------------------------------
// Mutation families.

/// Every single-bit flip (proofs up to `exhaustive` bytes) or `samples` of them plus every
/// bit of the header and of the last two bytes.
fn bit_flips<H: TreeHasher>(
    c: &mut Checker<H>,
    h: &Honest<H>,
    rng: &mut Rng,
    exhaustive: usize,
    samples: usize,
) {
    let bytes = h.bytes();
    let bits = bytes.len() * 8;
    for bit in rng.all_or_sample(bits, bytes.len() <= exhaustive, samples, 32, 16) {
        let mut m = bytes.to_vec();
        m[bit / 8] ^= 1 << (bit % 8);
        c.check(h, &m, &|| {
            format!("flip bit {} of byte {}", bit % 8, bit / 8)
        });
    }
}

/// Every truncation (up to `exhaustive` bytes) or `samples` plus the shortest and longest 40.
fn truncations<H: TreeHasher>(
    c: &mut Checker<H>,
    h: &Honest<H>,
    rng: &mut Rng,
    exhaustive: usize,
    samples: usize,
) {
    let bytes = h.bytes();
    let n = bytes.len();
    for len in rng.all_or_sample(n, n <= exhaustive, samples, 40, 40) {
        c.check(h, &bytes[..len], &|| format!("truncate to {len} bytes"));
    }
}

/// Extra bytes after the proof, zero and non-zero.
fn appends<H: TreeHasher>(c: &mut Checker<H>, h: &Honest<H>, rng: &mut Rng) {
    let suffixes = [
        vec![0],
        vec![0, 0],
        vec![1],
        vec![0x80],
        vec![0xff],
        vec![0; 32],
        vec![0xff; 33],
        rng.bytes(1),
        rng.bytes(7),
        rng.bytes(40),
    ];
    for s in suffixes {
        let m = [h.bytes(), &s].concat();
        c.check(h, &m, &|| format!("append {}", hex(&s)));
    }
}

/// Single-byte deletions and insertions (0x00, 0xff, random) at every position (up to
/// `exhaustive` bytes) or at `samples` positions, plus 32-byte deletions and insertions.
fn insertions_deletions<H: TreeHasher>(
    c: &mut Checker<H>,
    h: &Honest<H>,
    rng: &mut Rng,
    exhaustive: usize,
    samples: usize,
) {
    let bytes = h.bytes();
    let n = bytes.len();
    let positions = if n < exhaustive {
        (0..=n).collect()
    } else {
        rng.sample(n + 1, samples)
    };
    for &at in &positions {
        if at < n {
            let m = [&bytes[..at], &bytes[at + 1..]].concat();
            c.check(h, &m, &|| format!("delete byte {at}"));
        }
        for b in [0x00, 0xff, rng.next() as u8] {
            let m = [&bytes[..at], &[b][..], &bytes[at..]].concat();
            c.check(h, &m, &|| format!("insert {b:02x} before byte {at}"));
        }
    }
    for at in rng.sample(n + 1, 8) {
        if at + 32 <= n {
            let m = [&bytes[..at], &bytes[at + 32..]].concat();
            c.check(h, &m, &|| format!("delete 32 bytes at {at}"));
        }
        let block = rng.bytes(32);
        let m = [&bytes[..at], &block[..], &bytes[at..]].concat();
        c.check(h, &m, &|| {
            format!("insert 32 random bytes before byte {at}")
        });
    }
}

/// `count` inputs with two to five random byte edits each (flip, overwrite, insert, delete).
fn several_edits<H: TreeHasher>(c: &mut Checker<H>, h: &Honest<H>, rng: &mut Rng, count: usize) {
    for _ in 0..count {
        let mut m = h.bytes().to_vec();
        let mut log = Vec::new();
        for _ in 0..2 + rng.below(4) {
            let at = rng.below(m.len() + 1);
            match (rng.below(4), at < m.len()) {
                (0, true) => {
                    let bit = rng.below(8);
                    m[at] ^= 1 << bit;
                    log.push(format!("flip bit {bit} of byte {at}"));
                }
                (1, true) => {
                    let b = rng.next() as u8;
                    m[at] = b;
                    log.push(format!("byte {at} := {b:02x}"));
                }
                (2, true) => {
                    m.remove(at);
                    log.push(format!("delete byte {at}"));
                }
                _ => {
                    let b = rng.next() as u8;
                    m.insert(at, b);
                    log.push(format!("insert {b:02x} before byte {at}"));
                }
            }
        }
        c.check(h, &m, &|| log.join(", then "));
    }
}

/// Edits of the proof tree: shape codes, stub hashes, subtrees, leaves.
fn structural<H: TreeHasher>(c: &mut Checker<H>, h: &Honest<H>, rng: &mut Rng) {
    let bytes = h.bytes();
    let layout = layout(h);
    let model = &layout.model;
    let tokens = &model.tokens;
    let n = tokens.len();
    let labels = labels::<H>(tokens).unwrap();
    let starts = starts(tokens).unwrap();
    let emit = |c: &mut Checker<H>, tokens: Vec<Tok>, what: String| {
        let m = write(
            &Model {
                tokens,
                directions: model.directions.clone(),
            },
            Fields::default(),
        );
        c.check(h, &m, &|| what.clone());
    };
    let stubs: Vec<usize> = (0..n)
        .filter(|&i| matches!(tokens[i], Tok::Stub(_)))
        .collect();
    let leaves: Vec<usize> = (0..n)
        .filter(|&i| matches!(tokens[i], Tok::Leaf { .. }))
        .collect();
    let internals: Vec<usize> = (0..n)
        .filter(|&i| matches!(tokens[i], Tok::Internal(_)))
        .collect();

    // Shape codes, edited in place: every other balance, and the leaf code (which makes the
    // decoder read two flag bits that belong to the next token).
    for &i in &internals {
        let Tok::Internal(code) = tokens[i] else {
            unreachable!()
        };
        for new in (0..4).filter(|&c| c != code) {
            let mut m = bytes.to_vec();
            let at = layout.shape.start * 8 + layout.token_bits[i] + 1;
            set_bit(&mut m, at, new & 1 == 1);
            set_bit(&mut m, at + 1, new & 2 == 2);
            c.check(h, &m, &|| format!("token {i}: shape code {code} -> {new}"));
        }
    }
    // Leaf flags, edited in place: "has a next key" and "value in full".
    for &i in &leaves {
        for (flag, name) in [(3, "has-next"), (4, "full-value")] {
            let mut m = bytes.to_vec();
            let at = layout.shape.start * 8 + layout.token_bits[i] + flag;
            m[at / 8] ^= 1 << (at % 8);
            c.check(h, &m, &|| format!("token {i}: toggle the {name} flag"));
        }
    }
    // Two stub hashes swapped.
    let mut pairs = Vec::new();
    for (x, &a) in stubs.iter().enumerate() {
        for &b in &stubs[x + 1..] {
            if tokens[a] != tokens[b] {
                pairs.push((a, b));
            }
        }
    }
    for (a, b) in rng.pick(&pairs, 40) {
        let mut t = tokens.clone();
        t.swap(a, b);
        emit(c, t, format!("swap the stub hashes of tokens {a} and {b}"));
    }
    // A stub hash replaced: random, the empty tree, the roots, the label of another node of
    // this proof, a node of another proof on the same tree or on the post-state tree.
    let foreign = foreign_labels(h, rng);
    for i in rng.pick(&stubs, 16) {
        let mut candidates = vec![
            rng.digest(),
            H::empty(),
            h.batch.old_root.label,
            h.batch.new_root.label,
        ];
        candidates.extend(rng.pick(&labels, 4));
        candidates.extend(rng.pick(&foreign, 6));
        for d in candidates {
            let mut t = tokens.clone();
            t[i] = Tok::Stub(d);
            emit(c, t, format!("token {i}: stub hash -> {}", hex(&d)));
        }
    }
    // An expanded subtree cut to a stub with its true label (neutral only if the batch does
    // not need it).
    let expanded: Vec<usize> = (0..n)
        .filter(|&i| !matches!(tokens[i], Tok::Stub(_)))
        .collect();
    for i in rng.pick(&expanded, 40) {
        let mut t = tokens[..starts[i]].to_vec();
        t.push(Tok::Stub(labels[i]));
        t.extend_from_slice(&tokens[i + 1..]);
        emit(c, t, format!("cut the subtree of token {i} to its label"));
    }
    // The two subtrees of an internal node swapped.
    for i in rng.pick(&internals, 24) {
        let (l, r) = (starts[i], starts[i - 1]);
        let mut t = tokens[..l].to_vec();
        t.extend_from_slice(&tokens[r..i]);
        t.extend_from_slice(&tokens[l..r]);
        t.extend_from_slice(&tokens[i..]);
        emit(c, t, format!("swap the children of token {i}"));
    }
    // Two leaves swapped.
    let mut leaf_pairs = Vec::new();
    for (x, &a) in leaves.iter().enumerate() {
        for &b in &leaves[x + 1..] {
            leaf_pairs.push((a, b));
        }
    }
    for (a, b) in rng.pick(&leaf_pairs, 12) {
        let mut t = tokens.clone();
        t.swap(a, b);
        emit(c, t, format!("swap leaves {a} and {b}"));
    }
    // Leaf contents.
    let other_keys: Vec<Vec<u8>> = leaves
        .iter()
        .map(|&i| match &tokens[i] {
            Tok::Leaf { key, .. } => key.clone(),
            _ => unreachable!(),
        })
        .collect();
    for i in rng.pick(&leaves, 16) {
        let Tok::Leaf { key, next, value } = &tokens[i] else {
            unreachable!()
        };
        let mut edits: Vec<(String, Tok)> = Vec::new();
        let leaf = |key: &Vec<u8>, next: &Option<Vec<u8>>, value: &Val| Tok::Leaf {
            key: key.clone(),
            next: next.clone(),
            value: value.clone(),
        };
        let variants = |k: &Vec<u8>| {
            let mut out = vec![[&k[..], &[0]].concat(), Vec::new()];
            if let Some((last, init)) = k.split_last() {
                out.push(init.to_vec());
                out.push([init, &[last.wrapping_add(1)]].concat());
                out.push([init, &[last.wrapping_sub(1)]].concat());
            }
            out
        };
        match value {
            Val::Full(v) => {
                let mut values = vec![[&v[..], &[0]].concat(), rng.bytes(8), rng.bytes(33)];
                if let Some((last, init)) = v.split_last() {
                    values.push(init.to_vec());
                    values.push([init, &[last ^ 1]].concat());
                    values.push(Vec::new());
                }
                for nv in values {
                    edits.push((
                        format!("value -> {}", hex(&nv)),
                        leaf(key, next, &Val::Full(nv)),
                    ));
                }
                edits.push((
                    "value withheld (its true digest)".into(),
                    leaf(key, next, &Val::Digest(H::value(v))),
                ));
                edits.push((
                    "value -> random digest".into(),
                    leaf(key, next, &Val::Digest(rng.digest())),
                ));
            }
            Val::Digest(d) => {
                for nv in [Vec::new(), rng.bytes(8), d.to_vec()] {
                    edits.push((
                        format!("withheld value -> full {}", hex(&nv)),
                        leaf(key, next, &Val::Full(nv)),
                    ));
                }
                for nd in rng.pick(&foreign, 2) {
                    edits.push((
                        format!("value digest -> {}", hex(&nd)),
                        leaf(key, next, &Val::Digest(nd)),
                    ));
                }
            }
        }
        for nk in variants(key).into_iter().chain(rng.pick(&other_keys, 2)) {
            edits.push((format!("key -> {}", hex(&nk)), leaf(&nk, next, value)));
        }
        match next {
            Some(nx) => {
                edits.push(("next key dropped".into(), leaf(key, &None, value)));
                for nn in variants(nx).into_iter().chain([key.clone()]) {
                    edits.push((
                        format!("next key -> {}", hex(&nn)),
                        leaf(key, &Some(nn), value),
                    ));
                }
            }
            None => {
                for nn in [[&key[..], &[0]].concat(), vec![0xff; 4]] {
                    edits.push((
                        format!("next key added: {}", hex(&nn)),
                        leaf(key, &Some(nn), value),
                    ));
                }
            }
        }
        for (what, tok) in edits {
            let mut t = tokens.clone();
            t[i] = tok;
            emit(c, t, format!("leaf token {i}: {what}"));
        }
    }
    // Every value withheld at once (neutral if the batch reads none).
    let withheld: Vec<Tok> = tokens
        .iter()
        .map(|t| match t {
            Tok::Leaf {
                key,
                next,
                value: Val::Full(v),
            } => Tok::Leaf {
                key: key.clone(),
                next: next.clone(),
                value: Val::Digest(H::value(v)),
            },
            t => t.clone(),
        })
        .collect();
    emit(c, withheld, "every value withheld".into());
    // The tree of a larger batch's proof (more nodes expanded, more values in full) with the
    // honest directions: the walks are the same, so at most neutral. The tree of a proof for
    // other keys with the honest directions, and the honest tree with the larger batch's
    // directions.
    let mut extra_keys: Vec<Vec<u8>> = h
        .tree
        .entries()
        .unwrap()
        .into_iter()
        .map(|(k, _)| k.to_vec())
        .collect();
    extra_keys.push(b"\x7f fresh".to_vec());
    for k in rng.pick(&extra_keys, 2) {
        let mut larger = h.ops.clone();
        larger.push(Operation::lookup(&k));
        let other = [Operation::lookup(&k)];
        for (name, ops) in [("a larger batch", &larger[..]), ("a lookup", &other[..])] {
            let p = h.tree.prove(ops).unwrap();
            let theirs = parse(p.proof.as_bytes()).unwrap();
            emit(
                c,
                theirs.tokens.clone(),
                format!(
                    "the tree of {name} of {} with the honest directions",
                    hex(&k)
                ),
            );
            let m = write(
                &Model {
                    tokens: tokens.clone(),
                    directions: theirs.directions.clone(),
                },
                Fields::default(),
            );
            c.check(h, &m, &|| {
                format!(
                    "the directions of {name} of {} with the honest tree",
                    hex(&k)
                )
            });
        }
    }
    // Tokens added or removed.
    if n > 0 {
        emit(c, tokens[..n - 1].to_vec(), "root token dropped".into());
        emit(c, tokens[1..].to_vec(), "first token dropped".into());
        let mut t = tokens.clone();
        t.push(tokens[n - 1].clone());
        emit(c, t, "root token repeated".into());
    }
    let mut t = vec![Tok::Stub(rng.digest())];
    t.extend_from_slice(tokens);
    emit(c, t, "a stub before the first token".into());
    let mut t = tokens.clone();
    t.push(Tok::Stub(rng.digest()));
    emit(c, t, "a stub after the root".into());
    let mut t = tokens.clone();
    t.extend([Tok::Stub(rng.digest()), Tok::Internal(0)]);
    emit(c, t, "the root under a new internal node".into());
}

/// Edits of the direction bytes: every bit flipped, bytes dropped and added, the bit stream
/// shifted.
fn direction_edits<H: TreeHasher>(c: &mut Checker<H>, h: &Honest<H>, rng: &mut Rng) {
    let layout = layout(h);
    let d = &layout.model.directions;
    let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
    for bit in 0..d.len() * 8 {
        let mut e = d.clone();
        e[bit / 8] ^= 1 << (bit % 8);
        variants.push((format!("flip direction bit {bit}"), e));
    }
    if !d.is_empty() {
        variants.push((
            "last direction byte dropped".into(),
            d[..d.len() - 1].to_vec(),
        ));
        variants.push(("first direction byte dropped".into(), d[1..].to_vec()));
        variants.push(("direction bytes dropped".into(), Vec::new()));
        variants.push(("direction bytes doubled".into(), [&d[..], &d[..]].concat()));
        // Shift the bit stream by one: drop the first bit, or put a bit in front.
        let bits = d.len() * 8;
        let mut down = vec![0u8; d.len()];
        for i in 1..bits {
            set_bit(&mut down, i - 1, get_bit(d, i).unwrap());
        }
        variants.push(("first direction bit dropped".into(), down));
        for front in [false, true] {
            let mut up = vec![0u8; d.len() + 1];
            set_bit(&mut up, 0, front);
            for i in 0..bits {
                set_bit(&mut up, i + 1, get_bit(d, i).unwrap());
            }
            if up.last() == Some(&0) {
                up.pop();
            }
            variants.push((
                format!("direction bit {} put in front", u8::from(front)),
                up,
            ));
        }
    }
    for extra in [vec![0], vec![1], vec![0xff], rng.bytes(3)] {
        variants.push((
            format!("direction bytes {} appended", hex(&extra)),
            [&d[..], &extra].concat(),
        ));
    }
    for (what, e) in variants {
        let m = [&h.bytes()[..layout.directions], &e].concat();
        c.check(h, &m, &|| what.clone());
    }
}

/// Edits of the header: version, node count, key and value width fields, non-shortest
/// varints, every header byte plus or minus one.
fn header_edits<H: TreeHasher>(c: &mut Checker<H>, h: &Honest<H>) {
    let bytes = h.bytes();
    let layout = layout(h);
    let model = &layout.model;
    for v in [0u8, 2, 0x7f, 0x81, 0xff] {
        let mut m = bytes.to_vec();
        m[0] = v;
        c.check(h, &m, &|| format!("version -> {v}"));
    }
    let (n, kf, vf) = (
        layout.count.value,
        layout.key_field.value,
        layout.value_field.value,
    );
    let around = |x: u64, more: &[u64]| -> BTreeSet<u64> {
        [x.wrapping_sub(1), x + 1, x + 2, 0, 1, 2, u64::MAX, 1 << 32]
            .into_iter()
            .chain(more.iter().copied())
            .filter(|&y| y != x)
            .collect()
    };
    for count in around(n, &[2 * n, n + 8, 1 << 20]) {
        let m = write(
            model,
            Fields {
                count: Some(count),
                ..Fields::default()
            },
        );
        c.check(h, &m, &|| format!("node count {n} -> {count}"));
    }
    for key_field in around(kf, &[33, 1025, 1026, 1027]) {
        let m = write(
            model,
            Fields {
                key_field: Some(key_field),
                ..Fields::default()
            },
        );
        c.check(h, &m, &|| format!("key width field {kf} -> {key_field}"));
    }
    for value_field in around(vf, &[9, 34, 129, 65537, 65538]) {
        let m = write(
            model,
            Fields {
                value_field: Some(value_field),
                ..Fields::default()
            },
        );
        c.check(h, &m, &|| {
            format!("value width field {vf} -> {value_field}")
        });
    }
    // The same values in a non-shortest form (a trailing zero group).
    for (name, r) in [
        ("node count", &layout.count.at),
        ("key width", &layout.key_field.at),
        ("value width", &layout.value_field.at),
    ] {
        let mut long = bytes[r.clone()].to_vec();
        *long.last_mut().unwrap() |= 0x80;
        long.push(0);
        let m = [&bytes[..r.start], &long, &bytes[r.end..]].concat();
        c.check(h, &m, &|| format!("{name} in non-shortest form"));
    }
    for at in 0..layout.shape.start {
        for delta in [1u8, 0xff] {
            let mut m = bytes.to_vec();
            m[at] = m[at].wrapping_add(delta);
            c.check(h, &m, &|| format!("header byte {at} {:+}", delta as i8));
        }
    }
}

fn op_of_kind(kind: usize, key: &[u8], value: &[u8]) -> Operation {
    match kind {
        0 => Operation::lookup(key),
        1 => Operation::insert(key, value),
        2 => Operation::update(key, value),
        3 => Operation::upsert(key, value),
        4 => Operation::remove(key),
        _ => Operation::remove_if_present(key),
    }
}

/// The honest proof with other operation lists. Accepted only with exactly what the prover
/// gives for that list on the same pre-state; and where the prover's proof for it is the
/// honest proof byte for byte, it must be accepted.
fn other_ops<H: TreeHasher>(c: &mut Checker<H>, h: &Honest<H>, rng: &mut Rng, max: usize) {
    let ops = &h.ops;
    let n = ops.len();
    let mut keys: Vec<Vec<u8>> = ops.iter().map(|op| op.key().to_vec()).collect();
    keys.extend(
        h.tree
            .entries()
            .unwrap()
            .into_iter()
            .map(|(k, _)| k.to_vec()),
    );
    keys.push(b"\x7f fresh".to_vec());
    keys.sort();
    keys.dedup();
    let mut variants: Vec<(String, Vec<Operation>)> = vec![("no operations".into(), vec![])];
    let with = |i: usize, op: Operation| {
        let mut v = ops.clone();
        v[i] = op;
        v
    };
    for i in 0..n {
        let op = &ops[i];
        let value = op.value().map_or_else(|| rng.bytes(8), <[u8]>::to_vec);
        let mut v = ops.clone();
        v.remove(i);
        variants.push((format!("operation {i} dropped"), v));
        let mut v = ops.clone();
        v.insert(i, op.clone());
        variants.push((format!("operation {i} repeated"), v));
        if i + 1 < n {
            let mut v = ops.clone();
            v.swap(i, i + 1);
            variants.push((format!("operations {i} and {} swapped", i + 1), v));
        }
        for kind in 0..6 {
            variants.push((
                format!("operation {i} -> kind {kind}"),
                with(i, op_of_kind(kind, op.key(), &value)),
            ));
        }
        for k in rng.pick(&keys, 3) {
            let changed = match op {
                Operation::Lookup(_) => Operation::lookup(&k),
                Operation::Insert(..) => Operation::insert(&k, &value),
                Operation::Update(..) => Operation::update(&k, &value),
                Operation::Upsert(..) => Operation::upsert(&k, &value),
                Operation::Remove(_) => Operation::remove(&k),
                Operation::RemoveIfPresent(_) => Operation::remove_if_present(&k),
            };
            variants.push((
                format!("operation {i}: key -> {}", hex(&k)),
                with(i, changed),
            ));
        }
        if op.value().is_some() {
            for len in [0, 8, 33] {
                let nv = rng.bytes(len);
                let changed = match op {
                    Operation::Insert(k, _) => Operation::insert(k, &nv),
                    Operation::Update(k, _) => Operation::update(k, &nv),
                    _ => Operation::upsert(op.key(), &nv),
                };
                variants.push((
                    format!("operation {i}: value -> {}", hex(&nv)),
                    with(i, changed),
                ));
            }
        }
    }
    if n >= 2 {
        let mut v = ops.clone();
        v.reverse();
        variants.push(("operations reversed".into(), v));
        let mut v = ops.clone();
        v.rotate_left(1);
        variants.push(("operations rotated".into(), v));
    }
    for k in rng.pick(&keys, 2) {
        let mut v = ops.clone();
        v.push(Operation::lookup(&k));
        variants.push((format!("lookup {} appended", hex(&k)), v));
        let mut v = vec![Operation::insert(&k, rng.bytes(8))];
        v.extend(ops.iter().cloned());
        variants.push((format!("insert {} prepended", hex(&k)), v));
    }
    for (what, other) in rng.pick(&variants, max) {
        if other == *ops {
            continue;
        }
        let what_if = h.tree.prove(&other).unwrap();
        let allowed = Verified {
            results: what_if.results.clone(),
            new_root: what_if.new_root,
        };
        let answer = c.judge(
            &h.batch.old_root,
            h.bytes(),
            &other,
            Some(&allowed),
            &|| what.clone(),
        );
        if let (Err(e), true) = (&answer, what_if.proof.as_bytes() == h.bytes()) {
            c.fail(
                &format!("verifier REJECTED ({e:?}) the prover's own proof for these operations"),
                &h.batch.old_root,
                h.bytes(),
                &other,
                &|| what.clone(),
            );
        }
    }
}

/// Every family at once, exhaustively where the proof is small.
fn every_family<H: TreeHasher>(h: &Honest<H>, rng: &mut Rng, family: &'static str) {
    let mut c = h.checker(family);
    bit_flips(&mut c, h, rng, 2048, 4096);
    truncations(&mut c, h, rng, 4096, 512);
    appends(&mut c, h, rng);
    insertions_deletions(&mut c, h, rng, 1024, 512);
    several_edits(&mut c, h, rng, 512);
    structural(&mut c, h, rng);
    direction_edits(&mut c, h, rng);
    header_edits(&mut c, h);
    other_ops(&mut c, h, rng, usize::MAX);
}

// ---------------------------------------------------------------------------------------------
// Named cases.

fn value(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

fn k32(i: u32) -> Vec<u8> {
    i.to_be_bytes().to_vec()
}

fn corpus<H: TreeHasher>() -> Vec<Honest<H>> {
    use Operation as Op;
    let lens = [0, 8, 33, 128];
    let fill = |n: u32| -> Vec<Operation> {
        (0..n)
            .map(|i| Op::insert(k32(i), value(lens[i as usize % 4], i as u8)))
            .collect()
    };
    vec![
        Honest::new("empty tree, no operations", vec![], vec![]),
        Honest::new(
            "empty tree, mixed",
            vec![],
            vec![
                Op::lookup(b"a"),
                Op::update(b"a", value(8, 1)),
                Op::remove(b"a"),
                Op::remove_if_present(b"a"),
                Op::insert(b"a", value(33, 2)),
                Op::insert(b"a", value(8, 3)),
                Op::lookup(b"a"),
                Op::upsert(b"b", value(128, 4)),
                Op::lookup(b"b"),
            ],
        ),
        Honest::new(
            "single key, reads and failures",
            vec![vec![Op::insert(b"k", value(33, 5))]],
            vec![
                Op::lookup(b"k"),
                Op::lookup(b"j"),
                Op::lookup(b"l"),
                Op::insert(b"k", value(8, 6)),
                Op::update(b"x", value(8, 7)),
                Op::remove(b"x"),
            ],
        ),
        Honest::new(
            "single key, unread long value",
            vec![vec![Op::insert(b"k", value(128, 8))]],
            vec![Op::lookup(b"z"), Op::remove_if_present(b"a")],
        ),
        Honest::new(
            "single key, removed to empty",
            vec![vec![Op::insert(b"k", value(128, 9))]],
            vec![
                Op::remove(b"k"),
                Op::lookup(b"k"),
                Op::remove_if_present(b"k"),
            ],
        ),
        Honest::new(
            "single key, grows",
            vec![vec![Op::insert(b"m", value(0, 10))]],
            vec![
                Op::insert(b"a", value(8, 11)),
                Op::insert(b"z", value(128, 12)),
                Op::update(b"m", value(33, 13)),
                Op::upsert(b"n", value(8, 14)),
            ],
        ),
        Honest::new(
            "three keys, removed down to empty",
            vec![fill(3)],
            vec![
                Op::remove(k32(1)),
                Op::lookup(k32(2)),
                Op::remove_if_present(k32(0)),
                Op::remove(k32(1)),
                Op::remove(k32(2)),
                Op::lookup(k32(0)),
            ],
        ),
        Honest::new(
            "fifty keys, mixed batch",
            vec![fill(50)],
            vec![
                Op::lookup(k32(3)),
                Op::lookup(k32(6)),
                Op::lookup(k32(1000)),
                Op::update(k32(7), value(8, 15)),
                Op::insert(k32(9), value(8, 16)),
                Op::insert(k32(100), value(33, 17)),
                Op::remove(k32(10)),
                Op::remove(k32(1001)),
                Op::upsert(k32(20), value(0, 18)),
                Op::upsert(k32(25), value(128, 19)),
                Op::remove_if_present(k32(30)),
                Op::remove_if_present(k32(31)),
                Op::update(k32(1002), value(8, 20)),
            ],
        ),
        Honest::new(
            "fifty keys, removals that rotate",
            vec![fill(50)],
            (0..12).map(|i| Op::remove(k32(i * 3))).collect(),
        ),
        Honest::new(
            "two hundred keys, sparse batch",
            vec![(0..200)
                .map(|i| Op::insert(k32(i * 2), value(128, i as u8)))
                .collect()],
            vec![
                Op::lookup(k32(14)),
                Op::lookup(k32(15)),
                Op::update(k32(300), value(33, 21)),
                Op::remove(k32(398)),
                Op::insert(k32(0xffff_ffff), value(8, 22)),
                Op::insert(k32(1), value(8, 23)),
            ],
        ),
        Honest::new(
            "keys of varying length",
            vec![vec![
                Op::insert(b"", value(8, 24)),
                Op::insert(b"a", value(33, 25)),
                Op::insert(b"a\x00", value(0, 26)),
                Op::insert(b"ab", value(128, 27)),
                Op::insert(b"b", value(8, 28)),
                Op::insert(b"\xff\xff\xff", value(33, 29)),
            ]],
            vec![
                Op::lookup(b""),
                Op::lookup(b"a\x00"),
                Op::remove(b"a"),
                Op::insert(b"aa", value(8, 30)),
                Op::lookup(b"\xff"),
                Op::upsert(b"\xff\xff\xff\xff", value(128, 31)),
            ],
        ),
    ]
}

fn both_corpora(mut f: impl FnMut(&Honest<Sha256>), mut g: impl FnMut(&Honest<Blake3>)) {
    corpus::<Sha256>().iter().for_each(&mut f);
    corpus::<Blake3>().iter().for_each(&mut g);
}

#[test]
fn corpus_every_mutation() {
    let mut rng = Rng::new(1);
    let mut rng2 = Rng::new(2);
    both_corpora(
        |h| every_family(h, &mut rng, "corpus, every family"),
        |h| every_family(h, &mut rng2, "corpus, every family"),
    );
    finish("corpus, every family");
}

/// The judge itself: an accepted input it does not allow fails the test.
#[test]
#[should_panic(expected = "tampered input ACCEPTED")]
fn judge_fails_on_an_acceptance_it_does_not_allow() {
    let h = &corpus::<Sha256>()[7];
    let mut c = h.checker("judge self-test");
    c.must_reject(h, h.bytes(), &|| "the honest proof itself".into());
}

// The five inputs that made a peer implementation panic, each against every corpus proof.

fn peer_case<H: TreeHasher>(h: &Honest<H>, family: &'static str, rng: &mut Rng) -> bool {
    let bytes = h.bytes();
    let mut c = h.checker(family);
    match family {
        "peer: empty proof" => {
            let e = c.must_reject(h, &[], &|| "empty proof".into());
            assert_eq!(e, VerifyError::Decode(DecodeError::Truncated));
        }
        "peer: random bytes" => {
            for i in 0..200 {
                let len = rng.below(300);
                let mut m = rng.bytes(len);
                // Half of them get past the version byte.
                if i % 2 == 0 && !m.is_empty() {
                    m[0] = avlplus::proof::VERSION;
                }
                c.must_reject(h, &m, &|| "random bytes".into());
            }
        }
        "peer: truncated proof" => {
            for len in 0..bytes.len() {
                c.must_reject(h, &bytes[..len], &|| format!("truncated to {len} bytes"));
            }
        }
        "peer: last byte dropped" => {
            c.must_reject(h, &bytes[..bytes.len() - 1], &|| "last byte dropped".into());
        }
        "peer: direction bytes dropped" => {
            let d = decode(bytes, &DecodeLimits::default())
                .unwrap()
                .stats()
                .direction_bytes;
            if d == 0 {
                return false;
            }
            c.must_reject(h, &bytes[..bytes.len() - d], &|| {
                format!("{d} direction bytes dropped")
            });
        }
        _ => unreachable!(),
    }
    true
}

fn peer(family: &'static str) {
    let mut rng = Rng::new(3);
    let mut ran = 0;
    let mut rng2 = Rng::new(4);
    let mut ran2 = 0;
    both_corpora(
        |h| ran += usize::from(peer_case(h, family, &mut rng)),
        |h| ran2 += usize::from(peer_case(h, family, &mut rng2)),
    );
    assert!(ran > 3 && ran2 > 3);
    finish(family);
}

#[test]
fn peer_empty_proof() {
    peer("peer: empty proof");
}

#[test]
fn peer_random_bytes() {
    peer("peer: random bytes");
}

#[test]
fn peer_truncated_proof() {
    peer("peer: truncated proof");
}

#[test]
fn peer_last_byte_dropped() {
    peer("peer: last byte dropped");
}

#[test]
fn peer_direction_bytes_dropped() {
    peer("peer: direction bytes dropped");
}

/// Each corpus proof in place of every other one (same batch and root as the other).
#[test]
fn proofs_swapped_between_batches() {
    fn run<H: TreeHasher>(corpus: &[Honest<H>]) {
        for a in corpus {
            let mut c = a.checker("proofs swapped between batches");
            for b in corpus {
                c.check(a, b.bytes(), &|| format!("the proof of \"{}\"", b.name));
            }
        }
    }
    run(&corpus::<Sha256>());
    run(&corpus::<Blake3>());
    finish("proofs swapped between batches");
}

/// A SHA-256 proof given to a BLAKE3 verifier, against the BLAKE3 root of the same state,
/// and the other way round. Only the empty tree's proofs are the same bytes under both.
#[test]
fn proofs_swapped_between_hashes() {
    let sha = corpus::<Sha256>();
    let blake = corpus::<Blake3>();
    for (s, b) in sha.iter().zip(&blake) {
        assert_eq!(s.name, b.name);
        let mut c = b.checker("proofs swapped between hashes");
        c.check(b, s.bytes(), &|| {
            "the SHA-256 proof of the same batch".into()
        });
        let mut c = s.checker("proofs swapped between hashes");
        c.check(s, b.bytes(), &|| {
            "the BLAKE3 proof of the same batch".into()
        });
    }
    finish("proofs swapped between hashes");
}

/// The root's height is not covered by the label, but the proof pins it: once the labels
/// match, every expanded node is the trusted tree's, and the balances along a fully expanded
/// path give the tree's exact height (proof-format §6.1, step 4). A wrong trusted height is
/// refused: `HeightMismatch`, or `TooDeep` first when the proof is deeper than the height
/// claimed. Only a proof without such a path (an empty batch on a non-empty tree, whose
/// proof is the root as a stub) says nothing about the height; it is accepted with the
/// trusted digest unchanged as the new root.
#[test]
fn a_wrong_trusted_height_is_refused() {
    /// Counts (accepted, rejected).
    fn run<H: TreeHasher>(h: &Honest<H>, counts: &mut (usize, usize)) {
        let root = h.batch.old_root;
        let implied = decode(h.bytes(), &DecodeLimits::default())
            .unwrap()
            .height();
        if let Some(height) = implied {
            assert_eq!(height, usize::from(root.height), "{}", h.name);
        }
        for height in [root.height.wrapping_sub(1), root.height + 1, 0, 95, u8::MAX] {
            if height == root.height {
                continue;
            }
            let trusted = RootDigest { height, ..root };
            let answer = catch_unwind(AssertUnwindSafe(|| {
                verifier::<H>().verify(&trusted, h.bytes(), &h.ops)
            }))
            .unwrap_or_else(|_| panic!("{}: panic with trusted height {height}", h.name));
            match answer {
                Err(VerifyError::HeightMismatch | VerifyError::Decode(DecodeError::TooDeep)) => {
                    assert!(implied.is_some(), "{}: refused without a path", h.name);
                    counts.1 += 1;
                }
                Ok(v) => {
                    assert_eq!(implied, None, "{}: height {height} accepted", h.name);
                    assert_eq!(v.results, h.batch.results, "{}", h.name);
                    assert_eq!(v.new_root, trusted, "{}", h.name);
                    counts.0 += 1;
                }
                Err(e) => panic!("{}: trusted height {height}: {e:?}", h.name),
            }
        }
    }
    let mut counts = (0, 0);
    let mut counts2 = (0, 0);
    both_corpora(|h| run(h, &mut counts), |h| run(h, &mut counts2));
    eprintln!("wrong heights: sha256 {counts:?}, blake3 {counts2:?} (accepted, refused)");
    assert!(counts.1 > 0 && counts2.1 > 0);
}

// ---------------------------------------------------------------------------------------------
// Random batches.

/// A pre-state (setup batches applied without proofs) and a batch to prove, over a small key
/// space so that hits, misses and failing operations all happen.
#[derive(Clone, Debug)]
struct Scenario {
    blake3: bool,
    setup: Vec<Vec<Operation>>,
    ops: Vec<Operation>,
    seed: u64,
}

fn scenario_key(style: u8, k: u8) -> Vec<u8> {
    match style {
        // One byte: fixed key width.
        0 => vec![k],
        // Four bytes: fixed key width.
        1 => vec![b'k', k, k ^ 0x5a, 0],
        // Varying lengths, the empty key and prefixes of other keys among them.
        _ => match k % 4 {
            0 if k == 0 => vec![],
            0 => vec![k / 4],
            1 => vec![k / 4, 0],
            _ => vec![k / 4; 1 + (k % 5) as usize],
        },
    }
}

impl Arbitrary for Scenario {
    fn arbitrary(g: &mut Gen) -> Self {
        let style = u8::arbitrary(g) % 3;
        let space = *g.choose(&[1u8, 2, 4, 12, 40, 90, 250]).unwrap();
        let fixed_len = *g
            .choose(&[None, Some(0), Some(8), Some(33), Some(128)])
            .unwrap();
        let key = |g: &mut Gen| scenario_key(style, u8::arbitrary(g) % space);
        let value = |g: &mut Gen| {
            let len = fixed_len.unwrap_or_else(|| *g.choose(&[0, 8, 33, 128]).unwrap());
            (0..len).map(|_| u8::arbitrary(g)).collect::<Vec<u8>>()
        };
        let fill = *g.choose(&[0usize, 1, 2, 3, 8, 30, 90, 400]).unwrap();
        let mut setup = vec![(0..fill)
            .map(|_| Operation::upsert(key(g), value(g)))
            .collect::<Vec<_>>()];
        if bool::arbitrary(g) {
            setup.push(
                (0..u8::arbitrary(g) % 6)
                    .map(|_| Operation::remove_if_present(key(g)))
                    .collect(),
            );
        }
        let ops = if u8::arbitrary(g) % 8 == 0 {
            // Everything removed: down to the empty tree, then a few more operations.
            let mut ops: Vec<Operation> = (0..space)
                .map(|k| Operation::remove_if_present(scenario_key(style, k)))
                .collect();
            ops.push(Operation::lookup(key(g)));
            if bool::arbitrary(g) {
                ops.push(Operation::insert(key(g), value(g)));
            }
            ops
        } else {
            (0..u8::arbitrary(g) % 10)
                .map(|_| {
                    let (k, v) = (key(g), value(g));
                    match u8::arbitrary(g) % 9 {
                        0 => Operation::insert(k, v),
                        1 => Operation::update(k, v),
                        2 | 3 => Operation::upsert(k, v),
                        4 => Operation::remove(k),
                        5 => Operation::remove_if_present(k),
                        _ => Operation::lookup(k),
                    }
                })
                .collect()
        };
        Scenario {
            blake3: bool::arbitrary(g),
            setup,
            ops,
            seed: u64::arbitrary(g),
        }
    }
}

impl Scenario {
    fn honest<H: TreeHasher>(&self) -> Honest<H> {
        Honest::new(
            format!("random scenario with setup batches {:?}", self.setup),
            self.setup.clone(),
            self.ops.clone(),
        )
    }

    fn rng(&self) -> Rng {
        Rng::new(self.seed)
    }
}

fn quickcheck(tests: u64, size: usize, prop: fn(Scenario) -> bool) {
    QuickCheck::new()
        .rng(Gen::new(size))
        .tests(tests)
        .quickcheck(prop);
}

/// A test named `$test`: `$tests` random scenarios, each scenario's honest proof (under the
/// scenario's hash) edited by `$edits` with a checker `$c` of the family `$family`.
macro_rules! random_batches {
    ($test:ident, $tests:expr, $family:expr, |$c:ident, $h:ident, $rng:ident| $edits:block) => {
        #[test]
        fn $test() {
            fn run<H: TreeHasher>($h: &Honest<H>, $rng: &mut Rng) {
                let $c = &mut $h.checker($family);
                $edits
            }
            fn prop(s: Scenario) -> bool {
                let mut rng = s.rng();
                if s.blake3 {
                    run(&s.honest::<Blake3>(), &mut rng);
                } else {
                    run(&s.honest::<Sha256>(), &mut rng);
                }
                true
            }
            quickcheck($tests, 100, prop);
            finish($family);
        }
    };
}

random_batches!(
    random_batches_bit_flips,
    250,
    "random: bit flips",
    |c, h, rng| {
        bit_flips(c, h, rng, 256, 1024);
    }
);

random_batches!(
    random_batches_truncations_and_extra_bytes,
    300,
    "random: truncations, appended, inserted, deleted bytes",
    |c, h, rng| {
        truncations(c, h, rng, 512, 256);
        appends(c, h, rng);
        insertions_deletions(c, h, rng, 128, 128);
        several_edits(c, h, rng, 128);
    }
);

random_batches!(
    random_batches_structural_edits,
    400,
    "random: structural, direction and header edits",
    |c, h, rng| {
        structural(c, h, rng);
        direction_edits(c, h, rng);
        header_edits(c, h);
    }
);

random_batches!(
    random_batches_other_operations,
    300,
    "random: other operations",
    |c, h, rng| {
        other_ops(c, h, rng, 40);
    }
);

/// Every proof of a chain replayed against every root of the chain: only its own old root
/// (or an equal one, when a batch changed nothing) accepts it.
#[test]
fn random_chains_other_roots() {
    fn run<H: TreeHasher>(s: &Scenario) {
        let mut chain = s.setup.clone();
        chain.push(s.ops.clone());
        chain.push(s.ops.iter().rev().cloned().collect());
        let mut tree = Tree::<H>::empty();
        let mut roots = vec![tree.root()];
        let mut proven = Vec::new();
        for ops in &chain {
            let batch = tree.apply(ops).unwrap();
            roots.push(batch.new_root);
            proven.push((ops, batch));
        }
        for (i, (ops, batch)) in proven.iter().enumerate() {
            let mut c = Checker::<H>::new(
                format!("chain batch {i} of {chain:?}"),
                "random: other roots",
                batch.proof.as_bytes(),
            );
            let honest = Verified {
                results: batch.results.clone(),
                new_root: batch.new_root,
            };
            for (j, root) in roots.iter().enumerate() {
                if root.label == batch.old_root.label {
                    if *root == batch.old_root {
                        c.judge(root, batch.proof.as_bytes(), ops, Some(&honest), &|| {
                            format!("root {j} (equal to its own)")
                        })
                        .unwrap();
                    }
                    continue;
                }
                let e = c
                    .judge(root, batch.proof.as_bytes(), ops, None, &|| {
                        format!("replayed against root {j}")
                    })
                    .unwrap_err();
                // A proof deeper than the trusted height fails before its root is compared.
                assert!(
                    matches!(
                        e,
                        VerifyError::RootMismatch | VerifyError::Decode(DecodeError::TooDeep)
                    ),
                    "batch {i} against root {j}: {e:?}"
                );
            }
        }
    }
    fn prop(s: Scenario) -> bool {
        if s.blake3 {
            run::<Blake3>(&s);
        } else {
            run::<Sha256>(&s);
        }
        true
    }
    quickcheck(300, 100, prop);
    finish("random: other roots");
}
