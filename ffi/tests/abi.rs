//! The C ABI from Rust: the numbers and messages of the result codes, the error mapping, the
//! output conventions, sharing a handle between threads, and random blocks verified through
//! the ABI against the Rust verifier.

use std::ffi::CStr;
use std::ptr;

use avlplus::wire::{decode_results, encode_operations, WireError, WireLimits};
use avlplus::{
    Blake3, DecodeError, Limits, Operation, OperationError, Outcome, RootDigest, Sha256, Tree,
    TreeHasher, Verifier, VerifyError,
};
use avlplus_ffi::*;
use quickcheck::{Arbitrary, Gen, QuickCheck};

/// Every code and its number, forever.
const PINNED: &[(avlplus_result, u32)] = {
    use avlplus_result::*;
    &[
        (Ok, 0),
        (NullParameter, 1),
        (InsufficientSize, 2),
        (Panic, 3),
        (InvalidParameter, 4),
        (InvalidRoot, 5),
        (ValueMismatch, 6),
        (UnexpectedError, 7),
        (TooManyOperations, 100),
        (OperationKeyTooLong, 101),
        (OperationValueTooLong, 102),
        (RootMismatch, 103),
        (HeightMismatch, 104),
        (Incomplete, 105),
        (ValueWithheld, 106),
        (WrongLeaf, 107),
        (DirectionsExhausted, 108),
        (UnusedDirections, 109),
        (Malformed, 110),
        (ProofTooLong, 200),
        (ProofTruncated, 201),
        (ProofUnsupportedVersion, 202),
        (ProofBadVarint, 203),
        (ProofTooManyNodes, 204),
        (ProofTooMuchMemory, 205),
        (ProofMalformedShape, 206),
        (ProofTooDeep, 207),
        (ProofKeyTooLong, 208),
        (ProofValueTooLong, 209),
        (ProofNonZeroPadding, 210),
        (ProofNonCanonicalWidth, 211),
        (ProofUnorderedLeaves, 212),
        (WireTruncated, 300),
        (WireUnsupportedVersion, 301),
        (WireBadVarint, 302),
        (WireTooManyItems, 303),
        (WireCountExceedsInput, 304),
        (WireBadTag, 305),
        (WireKeyTooLong, 306),
        (WireValueTooLong, 307),
        (WireTrailingBytes, 308),
    ]
};

#[test]
fn every_code_keeps_its_number() {
    assert_eq!(avlplus_result::ALL.len(), PINNED.len());
    for ((code, number), listed) in PINNED.iter().zip(avlplus_result::ALL) {
        assert_eq!(*code as u32, *number, "{code:?}");
        assert_eq!(code, listed);
        assert_eq!(avlplus_result::from_u32(*number), Some(*code));
    }
    assert_eq!(avlplus_result::from_u32(8), None);
}

fn message(code: u32) -> String {
    // SAFETY: avlplus_result_message returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(avlplus_result_message(code)) }
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn every_code_has_its_own_message() {
    let unknown = message(9999);
    assert_eq!(unknown, "unknown result code");
    let mut seen = std::collections::HashSet::new();
    for (code, number) in PINNED {
        let m = message(*number);
        assert!(!m.is_empty() && m != unknown, "{code:?}");
        assert!(seen.insert(m.clone()), "{code:?} shares its message {m:?}");
    }
    for n in [8, 99, 111, 213, 309, u32::MAX] {
        assert_eq!(message(n), unknown);
    }
}

#[test]
fn every_error_variant_has_its_code() {
    use avlplus_result as R;
    let decode = [
        (DecodeError::TooLong, R::ProofTooLong),
        (DecodeError::Truncated, R::ProofTruncated),
        (
            DecodeError::UnsupportedVersion(9),
            R::ProofUnsupportedVersion,
        ),
        (DecodeError::BadVarint, R::ProofBadVarint),
        (DecodeError::TooManyNodes, R::ProofTooManyNodes),
        (DecodeError::TooMuchMemory, R::ProofTooMuchMemory),
        (DecodeError::MalformedShape, R::ProofMalformedShape),
        (DecodeError::TooDeep, R::ProofTooDeep),
        (DecodeError::KeyTooLong, R::ProofKeyTooLong),
        (DecodeError::ValueTooLong, R::ProofValueTooLong),
        (DecodeError::NonZeroPadding, R::ProofNonZeroPadding),
        (DecodeError::NonCanonicalWidth, R::ProofNonCanonicalWidth),
        (DecodeError::UnorderedLeaves, R::ProofUnorderedLeaves),
    ];
    for (e, code) in decode {
        assert_eq!(R::from(e), code, "{e:?}");
        assert_eq!(R::from(VerifyError::Decode(e)), code, "{e:?}");
    }
    let op = |error| VerifyError::Operation { index: 3, error };
    let verify = [
        (VerifyError::TooManyOperations, R::TooManyOperations),
        (op(OperationError::KeyTooLong), R::OperationKeyTooLong),
        (op(OperationError::ValueTooLong), R::OperationValueTooLong),
        (VerifyError::RootMismatch, R::RootMismatch),
        (VerifyError::HeightMismatch, R::HeightMismatch),
        (VerifyError::Incomplete, R::Incomplete),
        (VerifyError::ValueWithheld, R::ValueWithheld),
        (VerifyError::WrongLeaf, R::WrongLeaf),
        (VerifyError::DirectionsExhausted, R::DirectionsExhausted),
        (VerifyError::UnusedDirections, R::UnusedDirections),
        (VerifyError::Malformed, R::Malformed),
    ];
    for (e, code) in verify {
        assert_eq!(R::from(e), code, "{e:?}");
    }
    let too_long = |error| WireError::TooLong { index: 0, error };
    let wire = [
        (WireError::Truncated, R::WireTruncated),
        (WireError::UnsupportedVersion(2), R::WireUnsupportedVersion),
        (WireError::BadVarint, R::WireBadVarint),
        (WireError::TooManyItems, R::WireTooManyItems),
        (WireError::CountExceedsInput, R::WireCountExceedsInput),
        (WireError::BadTag { index: 1, tag: 9 }, R::WireBadTag),
        (too_long(OperationError::KeyTooLong), R::WireKeyTooLong),
        (too_long(OperationError::ValueTooLong), R::WireValueTooLong),
        (WireError::TrailingBytes, R::WireTrailingBytes),
    ];
    for (e, code) in wire {
        assert_eq!(R::from(e), code, "{e:?}");
    }
    // Every code of the three error groups is some variant's.
    let mapped: std::collections::HashSet<u32> = decode
        .iter()
        .map(|c| c.1 as u32)
        .chain(verify.iter().map(|c| c.1 as u32))
        .chain(wire.iter().map(|c| c.1 as u32))
        .collect();
    for (code, number) in PINNED.iter().filter(|(_, n)| *n >= 100) {
        assert!(mapped.contains(number), "{code:?} is no variant's code");
    }
}

// ---------------------------------------------------------------------------------------------
// Safe wrappers.

struct Handle(*mut avlplus_verifier);

impl Handle {
    fn new(hash: avlplus_hash, preset: avlplus_preset) -> Self {
        let mut limits = ptr::null_mut();
        let mut v = ptr::null_mut();
        // SAFETY: valid out pointers; the limits handle is freed once, after use.
        unsafe {
            assert_eq!(
                avlplus_limits_new(preset as u32, &mut limits),
                avlplus_result::Ok
            );
            assert_eq!(
                avlplus_verifier_new(hash as u32, limits, &mut v),
                avlplus_result::Ok
            );
            avlplus_limits_free(limits);
        }
        Handle(v)
    }

    fn get(&self) -> &avlplus_verifier {
        // SAFETY: a live handle from avlplus_verifier_new.
        unsafe { &*self.0 }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: made by avlplus_verifier_new, freed once.
        unsafe { avlplus_verifier_free(self.0) };
    }
}

/// The outputs of one `avlplus_verify` call, with buffers of the given sizes, prefilled.
#[derive(Debug, PartialEq)]
struct Call {
    code: avlplus_result,
    new_root: Vec<u8>,
    new_root_needed: usize,
    results: Vec<u8>,
    results_needed: usize,
}

const FILL: u8 = 0xa5;
const NOT_SET: usize = 0x5a5a;

fn verify_with(
    v: &avlplus_verifier,
    root: &[u8],
    proof: &[u8],
    ops: &[u8],
    sizes: (usize, usize),
) -> Call {
    let mut new_root = vec![FILL; sizes.0];
    let mut results = vec![FILL; sizes.1];
    let (mut nr, mut rs) = (NOT_SET, NOT_SET);
    // SAFETY: every pointer is valid for its length; outputs overlap nothing.
    let code = unsafe {
        avlplus_verify(
            v,
            root.as_ptr(),
            root.len(),
            proof.as_ptr(),
            proof.len(),
            ops.as_ptr(),
            ops.len(),
            new_root.as_mut_ptr(),
            new_root.len(),
            &mut nr,
            results.as_mut_ptr(),
            results.len(),
            &mut rs,
        )
    };
    Call {
        code,
        new_root,
        new_root_needed: nr,
        results,
        results_needed: rs,
    }
}

/// Verifies with buffers of the sizes asked for: a size query first, then the call.
fn verify(
    v: &avlplus_verifier,
    root: &[u8],
    proof: &[u8],
    ops: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), avlplus_result> {
    let query = verify_with(v, root, proof, ops, (0, 0));
    if query.code != avlplus_result::InsufficientSize {
        assert_eq!(
            query.new_root_needed, NOT_SET,
            "needed set on {:?}",
            query.code
        );
        return Err(query.code);
    }
    let call = verify_with(
        v,
        root,
        proof,
        ops,
        (query.new_root_needed, query.results_needed),
    );
    assert_eq!(call.code, avlplus_result::Ok);
    assert_eq!(call.new_root_needed, call.new_root.len());
    assert_eq!(call.results_needed, call.results.len());
    Ok((call.new_root, call.results))
}

fn block() -> (Tree, RootDigest, Vec<Operation>, Vec<u8>) {
    let mut tree: Tree = Tree::new();
    let ops: Vec<Operation> = (0u32..50)
        .map(|i| Operation::insert(i.to_be_bytes(), vec![i as u8; 1 + i as usize % 40]))
        .collect();
    tree.apply_unproven(&ops).unwrap();
    let root = tree.root();
    let block = vec![
        Operation::lookup(7u32.to_be_bytes()),
        Operation::update(8u32.to_be_bytes(), b"eight"),
        Operation::remove(9u32.to_be_bytes()),
        Operation::insert(b"new", b"value"),
        Operation::insert(7u32.to_be_bytes(), b"again"),
    ];
    let proof = tree.prove(&block).unwrap().proof.into_bytes();
    (tree, root, block, proof)
}

#[test]
fn insufficient_size_then_retry() {
    let (tree, root, ops, proof) = block();
    let h = Handle::new(avlplus_hash::Sha256, avlplus_preset::Default);
    let (root, wire) = (root.to_bytes(), encode_operations(&ops));
    let expected = tree.prove(&ops).unwrap();
    let (new_root, results) = verify(h.get(), &root, &proof, &wire).unwrap();
    assert_eq!(new_root, expected.new_root.to_bytes());
    assert_eq!(
        decode_results(&results, &WireLimits::DEFAULT).unwrap(),
        expected.results
    );
    // One byte short on either output: both needed sizes set, no byte written.
    for sizes in [(33, results.len() - 1), (32, results.len()), (0, 0)] {
        let call = verify_with(h.get(), &root, &proof, &wire, sizes);
        assert_eq!(call.code, avlplus_result::InsufficientSize, "{sizes:?}");
        assert_eq!(
            (call.new_root_needed, call.results_needed),
            (33, results.len())
        );
        assert!(call
            .new_root
            .iter()
            .chain(&call.results)
            .all(|b| *b == FILL));
    }
    // Larger buffers than needed: only the needed bytes are written.
    let call = verify_with(h.get(), &root, &proof, &wire, (40, results.len() + 5));
    assert_eq!(call.code, avlplus_result::Ok);
    assert_eq!(&call.new_root[..33], new_root);
    assert!(call.new_root[33..].iter().all(|b| *b == FILL));
    assert_eq!(&call.results[..results.len()], results);
    assert!(call.results[results.len()..].iter().all(|b| *b == FILL));
}

#[test]
fn outputs_untouched_on_failure() {
    let (_, root, ops, proof) = block();
    let h = Handle::new(avlplus_hash::Sha256, avlplus_preset::Phone);
    let (root, wire) = (root.to_bytes(), encode_operations(&ops));
    let mut forged = proof.clone();
    let last = forged.len() - 1;
    forged[last] ^= 0x80;
    let mut wrong_root = root;
    wrong_root[0] ^= 1;
    let mut trailing = wire.clone();
    trailing.push(0);
    type Case<'a> = (&'a [u8], &'a [u8], &'a [u8], avlplus_result);
    let cases: [Case<'_>; 6] = [
        (&root, &forged, &wire, avlplus_result::UnusedDirections),
        (&wrong_root, &proof, &wire, avlplus_result::RootMismatch),
        (&root[..32], &proof, &wire, avlplus_result::InvalidRoot),
        (&root, &proof, &trailing, avlplus_result::WireTrailingBytes),
        (&root, &proof, &[], avlplus_result::WireTruncated),
        (&root, &[], &wire, avlplus_result::ProofTruncated),
    ];
    for (r, p, o, expected) in cases {
        let call = verify_with(h.get(), r, p, o, (33, 4096));
        assert_eq!(call.code, expected);
        assert_eq!(
            (call.new_root_needed, call.results_needed),
            (NOT_SET, NOT_SET)
        );
        assert!(call
            .new_root
            .iter()
            .chain(&call.results)
            .all(|b| *b == FILL));
    }
    // NULL pointers.
    let (mut nr, mut rs) = (NOT_SET, NOT_SET);
    let mut out = [FILL; 64];
    // SAFETY: the non-NULL pointers are valid for their lengths.
    let null = |v: *const avlplus_verifier, nr: *mut usize, rs: *mut usize, out: *mut u8| unsafe {
        avlplus_verify(
            v,
            root.as_ptr(),
            33,
            proof.as_ptr(),
            proof.len(),
            wire.as_ptr(),
            wire.len(),
            out,
            33,
            nr,
            out.wrapping_add(33),
            31,
            rs,
        )
    };
    assert_eq!(
        null(ptr::null(), &mut nr, &mut rs, out.as_mut_ptr()),
        avlplus_result::NullParameter
    );
    assert_eq!(
        null(h.get(), ptr::null_mut(), &mut rs, out.as_mut_ptr()),
        avlplus_result::NullParameter
    );
    assert_eq!(
        null(h.get(), &mut nr, ptr::null_mut(), out.as_mut_ptr()),
        avlplus_result::NullParameter
    );
    assert_eq!(
        null(h.get(), &mut nr, &mut rs, ptr::null_mut()),
        avlplus_result::NullParameter
    );
    assert_eq!((nr, rs), (NOT_SET, NOT_SET));
    assert!(out.iter().all(|b| *b == FILL));
}

#[test]
fn lookup_and_value() {
    let (tree, root, _, _) = block();
    let h = Handle::new(avlplus_hash::Sha256, avlplus_preset::Default);
    let root = root.to_bytes();
    for (key, value) in [
        (7u32.to_be_bytes().to_vec(), Some(vec![7u8; 8])),
        (b"absent".to_vec(), None),
    ] {
        let proof = tree
            .prove(&[Operation::lookup(&key)])
            .unwrap()
            .proof
            .into_bytes();
        let mut found = false;
        let mut needed = NOT_SET;
        let mut buf = vec![FILL; 64];
        // SAFETY: every pointer is valid for its length.
        let code = unsafe {
            avlplus_verify_lookup(
                h.get(),
                root.as_ptr(),
                33,
                proof.as_ptr(),
                proof.len(),
                key.as_ptr(),
                key.len(),
                &mut found,
                buf.as_mut_ptr(),
                buf.len(),
                &mut needed,
            )
        };
        assert_eq!(code, avlplus_result::Ok);
        assert_eq!(found, value.is_some());
        assert_eq!(needed, value.as_ref().map_or(0, Vec::len));
        if let Some(v) = &value {
            assert_eq!(&buf[..v.len()], v);
        }
        // SAFETY: every non-NULL pointer is valid for its length.
        let check = |expected: Option<&[u8]>| unsafe {
            avlplus_verify_value(
                h.get(),
                root.as_ptr(),
                33,
                proof.as_ptr(),
                proof.len(),
                key.as_ptr(),
                key.len(),
                expected.map_or(ptr::null(), <[u8]>::as_ptr),
                expected.map_or(0, <[u8]>::len),
            )
        };
        assert_eq!(check(value.as_deref()), avlplus_result::Ok);
        assert_eq!(check(Some(b"other")), avlplus_result::ValueMismatch);
        assert_eq!(
            check(if value.is_some() { None } else { Some(b"") }),
            avlplus_result::ValueMismatch
        );
    }
}

#[test]
fn limits_handle_reads_the_presets() {
    for (preset, limits) in [
        (avlplus_preset::Default, Limits::DEFAULT),
        (avlplus_preset::Phone, Limits::PHONE),
    ] {
        let mut l = ptr::null_mut();
        // SAFETY: valid out pointers; freed once.
        unsafe {
            assert_eq!(
                avlplus_limits_new(preset as u32, &mut l),
                avlplus_result::Ok
            );
            for (field, value) in [
                (avlplus_limit::MaxProofBytes, limits.max_proof_bytes),
                (avlplus_limit::MaxOperations, limits.max_operations),
                (avlplus_limit::MaxDepth, limits.max_depth),
                (avlplus_limit::MaxMemoryBytes, limits.max_memory_bytes),
                (avlplus_limit::MaxKeyLen, limits.sizes.max_key_len),
                (avlplus_limit::MaxValueLen, limits.sizes.max_value_len),
            ] {
                let mut got = 0;
                assert_eq!(
                    avlplus_limits_get(l, field as u32, &mut got),
                    avlplus_result::Ok
                );
                assert_eq!(got, value, "{field:?}");
                assert_eq!(avlplus_limits_set(l, field as u32, 5), avlplus_result::Ok);
                assert_eq!(
                    avlplus_limits_get(l, field as u32, &mut got),
                    avlplus_result::Ok
                );
                assert_eq!(got, 5);
            }
            assert_eq!(
                avlplus_limits_set(l, 6, 1),
                avlplus_result::InvalidParameter
            );
            avlplus_limits_free(l);
        }
    }
    let mut l = ptr::dangling_mut::<avlplus_limits>();
    // SAFETY: a valid out pointer.
    assert_eq!(
        unsafe { avlplus_limits_new(2, &mut l) },
        avlplus_result::InvalidParameter
    );
    assert_eq!(l, ptr::dangling_mut(), "out written on failure");
}

#[test]
fn abi_version_is_the_header_constant() {
    assert_eq!(avlplus_abi_version(), AVLPLUS_ABI_VERSION);
}

#[test]
fn two_threads_share_one_handle() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let (tree, root, ops, proof) = block();
    let h = Handle::new(avlplus_hash::Sha256, avlplus_preset::Phone);
    let shared: &avlplus_verifier = h.get();
    send_sync(shared);
    let (root, wire) = (root.to_bytes(), encode_operations(&ops));
    let expected = tree.prove(&ops).unwrap();
    let mut forged = proof.clone();
    forged[5] ^= 1;
    std::thread::scope(|s| {
        let honest = s.spawn(|| {
            (0..200)
                .map(|_| verify(shared, &root, &proof, &wire))
                .collect::<Vec<_>>()
        });
        let hostile = s.spawn(|| {
            (0..200)
                .map(|_| verify(shared, &root, &forged, &wire))
                .collect::<Vec<_>>()
        });
        for r in honest.join().unwrap() {
            let (new_root, results) = r.unwrap();
            assert_eq!(new_root, expected.new_root.to_bytes());
            assert_eq!(
                decode_results(&results, &WireLimits::DEFAULT).unwrap(),
                expected.results
            );
        }
        let first = hostile.join().unwrap();
        assert!(first.iter().all(|r| r.is_err() && *r == first[0]));
    });
}

// ---------------------------------------------------------------------------------------------
// Random trees and blocks: the ABI gives what the Rust verifier gives.

#[derive(Clone, Debug)]
struct Case {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    ops: Vec<Operation>,
    /// Which proof byte to damage (none when `None`).
    damage: Option<(usize, u8)>,
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        let key = |g: &mut Gen| vec![u8::arbitrary(g) % 64; 1 + usize::from(u8::arbitrary(g) % 3)];
        let value = |g: &mut Gen| vec![u8::arbitrary(g); usize::from(u8::arbitrary(g) % 48)];
        let n = usize::arbitrary(g) % 60;
        let entries = (0..n).map(|_| (key(g), value(g))).collect();
        let ops = (0..1 + usize::arbitrary(g) % 12)
            .map(|_| {
                let (k, v) = (key(g), value(g));
                match u8::arbitrary(g) % 6 {
                    0 => Operation::lookup(k),
                    1 => Operation::insert(k, v),
                    2 => Operation::update(k, v),
                    3 => Operation::upsert(k, v),
                    4 => Operation::remove(k),
                    _ => Operation::remove_if_present(k),
                }
            })
            .collect();
        let damage =
            bool::arbitrary(g).then(|| (usize::arbitrary(g), 1u8 << (u8::arbitrary(g) % 8)));
        Case {
            entries,
            ops,
            damage,
        }
    }
}

fn abi_equals_rust<H: TreeHasher>(case: &Case, hash: avlplus_hash) -> bool {
    let mut tree = Tree::<H>::empty();
    let upserts: Vec<Operation> = case
        .entries
        .iter()
        .map(|(k, v)| Operation::upsert(k, v))
        .collect();
    tree.apply_unproven(&upserts).unwrap();
    let root = tree.root();
    let mut proof = tree.prove(&case.ops).unwrap().proof.into_bytes();
    if let Some((at, mask)) = case.damage {
        let len = proof.len();
        proof[at % len] ^= mask;
    }
    let rust = Verifier::<H>::with_limits(Limits::PHONE).verify(&root, &proof, &case.ops);
    let h = Handle::new(hash, avlplus_preset::Phone);
    let abi = verify(
        h.get(),
        &root.to_bytes(),
        &proof,
        &encode_operations(&case.ops),
    );
    match (rust, abi) {
        (Ok(v), Ok((new_root, results))) => {
            new_root == v.new_root.to_bytes()
                && decode_results(&results, &WireLimits::DEFAULT).unwrap() == v.results
                && results == avlplus::wire::encode_results(&v.results)
        }
        (Err(e), Err(code)) => code == avlplus_result::from(e),
        _ => false,
    }
}

#[test]
fn abi_results_equal_the_rust_verifiers() {
    fn prop(case: Case) -> bool {
        abi_equals_rust::<Sha256>(&case, avlplus_hash::Sha256)
            && abi_equals_rust::<Blake3>(&case, avlplus_hash::Blake3)
    }
    QuickCheck::new()
        .tests(300)
        .quickcheck(prop as fn(Case) -> bool);
}

#[test]
fn found_values_come_back() {
    // One deterministic block reading values of every length class.
    let mut tree: Tree = Tree::new();
    let entries: Vec<Operation> = [0usize, 1, 32, 33, 300]
        .iter()
        .map(|n| Operation::insert(n.to_be_bytes(), vec![*n as u8; *n]))
        .collect();
    tree.apply_unproven(&entries).unwrap();
    let ops: Vec<Operation> = [0usize, 1, 32, 33, 300]
        .iter()
        .map(|n| Operation::lookup(n.to_be_bytes()))
        .collect();
    let proof = tree.prove(&ops).unwrap().proof.into_bytes();
    let h = Handle::new(avlplus_hash::Sha256, avlplus_preset::Default);
    let (_, results) = verify(
        h.get(),
        &tree.root().to_bytes(),
        &proof,
        &encode_operations(&ops),
    )
    .unwrap();
    let results = decode_results(&results, &WireLimits::DEFAULT).unwrap();
    for (r, n) in results.iter().zip([0usize, 1, 32, 33, 300]) {
        assert_eq!(r, &Ok(Outcome::Found(vec![n as u8; n].into())));
    }
}
