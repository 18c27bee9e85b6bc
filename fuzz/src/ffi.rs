//! `ffi_calls`: the C ABI (`ffi/`, `ffi/include/avlplus.h`) called as a C caller would, with
//! hostile arguments.
//!
//! The input picks a case (an honest batch), a hash id (valid, unknown or zero), a limits
//! preset with overrides (any field number, any value), then the arguments of
//! `avlplus_verify`, `avlplus_verify_lookup` and `avlplus_verify_value`: the root (honest,
//! cut, random, NULL with or without a length), the proof (honest or the fuzzer's bytes), the
//! operations (the case's, wire-encoded, or raw bytes), and the size of every output buffer
//! (none, too small, exact, large; NULL with length 0).
//!
//! Must hold: no call returns `AVLPLUS_RESULT_PANIC`; a failed call leaves every output
//! untouched (`INSUFFICIENT_SIZE` writes only the `needed` sizes, and a retry with them
//! succeeds); a successful call's outputs decode; and with the default limits and SHA-256
//! (the cases' hash), the ABI agrees with the Rust verifier exactly: the same acceptance,
//! the same new root, the same results.

use std::ptr::{null, null_mut};

use avlplus::wire::{decode_results, encode_operations, WireLimits};
use avlplus::{Limits, RootDigest, Sha256, Verifier};
use avlplus_ffi::{
    avlplus_limits, avlplus_limits_free, avlplus_limits_new, avlplus_limits_set, avlplus_result,
    avlplus_verifier, avlplus_verifier_free, avlplus_verifier_new, avlplus_verify,
    avlplus_verify_lookup, avlplus_verify_value,
};

use crate::cases::cases;
use crate::input::Input;

const SENTINEL: u8 = 0xA5;
const UNSET: usize = 0x5A5A_5A5A;

/// An argument byte string: NULL (with a length that may lie) or a buffer.
struct Arg {
    bytes: Option<Vec<u8>>,
    len: usize,
}

impl Arg {
    fn of(bytes: Vec<u8>) -> Self {
        Arg {
            len: bytes.len(),
            bytes: Some(bytes),
        }
    }

    fn ptr(&self) -> *const u8 {
        self.bytes.as_ref().map_or(null(), |b| b.as_ptr())
    }

    fn is_null_with_length(&self) -> bool {
        self.bytes.is_none() && self.len > 0
    }
}

/// One byte string argument, chosen by the input around `honest`.
fn arg(input: &mut Input, honest: &[u8]) -> Arg {
    match input.byte() % 8 {
        0..=3 => Arg::of(honest.to_vec()),
        4 => {
            let n = input.below(honest.len().saturating_add(1));
            Arg::of(honest[..n].to_vec())
        }
        5 => {
            let n = input.below(64);
            Arg::of(input.bytes(n).to_vec())
        }
        6 => Arg {
            bytes: None,
            len: 0,
        },
        _ => Arg {
            bytes: None,
            len: 1 + input.below(64),
        },
    }
}

/// An output buffer length: none, short, exact (as far as the fuzzer guesses) or large.
fn out_len(input: &mut Input) -> usize {
    match input.byte() % 6 {
        0 => 0,
        1 => 1,
        2 => 32,
        3 => 33,
        4 => input.below(256),
        _ => 1 << 16,
    }
}

/// A limit override value: small, around the defaults, or extreme.
fn limit_value(input: &mut Input) -> usize {
    match input.byte() % 6 {
        0 => 0,
        1 => 1,
        2 => input.below(256),
        3 => input.below(1 << 16) << 8,
        4 => usize::MAX,
        _ => usize::MAX >> input.below(64),
    }
}

/// The verifier, or the code its construction returned (and nothing written).
fn make_verifier(input: &mut Input) -> (Result<*mut avlplus_verifier, avlplus_result>, bool) {
    let preset = match input.byte() % 4 {
        0 | 1 => 0,
        2 => 1,
        _ => u32::from(input.byte()),
    };
    let mut limits: *mut avlplus_limits = null_mut();
    // SAFETY: `&mut limits` is valid for one pointer write.
    let code = unsafe { avlplus_limits_new(preset, &mut limits) };
    assert_ne!(code, avlplus_result::Panic);
    if code != avlplus_result::Ok {
        assert!(limits.is_null(), "limits_new failed but wrote its output");
        return (Err(code), false);
    }
    let mut default = preset == 0;
    for _ in 0..input.below(4) {
        let field = u32::from(input.byte() % 10);
        let value = limit_value(input);
        // SAFETY: `limits` is a live handle made above.
        let code = unsafe { avlplus_limits_set(limits, field, value) };
        assert_ne!(code, avlplus_result::Panic);
        default &= code != avlplus_result::Ok;
    }
    let hash = match input.byte() % 5 {
        0..=2 => 1,
        3 => 2,
        _ => u32::from(input.byte()),
    };
    let mut verifier: *mut avlplus_verifier = null_mut();
    let limits_arg = if input.byte().is_multiple_of(16) {
        null()
    } else {
        limits.cast_const()
    };
    // SAFETY: `limits_arg` is NULL or the live handle above; `&mut verifier` is writable.
    let code = unsafe { avlplus_verifier_new(hash, limits_arg, &mut verifier) };
    // SAFETY: `limits` is live and freed once; the verifier keeps no reference to it.
    unsafe { avlplus_limits_free(limits) };
    assert_ne!(code, avlplus_result::Panic);
    if code != avlplus_result::Ok {
        assert!(
            verifier.is_null(),
            "verifier_new failed but wrote its output"
        );
        return (Err(code), false);
    }
    (Ok(verifier), default && hash == 1)
}

/// `ffi_calls`: see the module docs.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let case = &cases()[input.below(cases().len())];
    let (root, _) = case.root(input.byte());
    let (verifier, comparable) = make_verifier(&mut input);
    let Ok(verifier) = verifier else { return };

    let root = arg(&mut input, &root.to_bytes());
    let proof = if input.bool() {
        let n = input.below(4096);
        Arg::of(input.bytes(n).to_vec())
    } else {
        arg(&mut input, &case.proof)
    };
    let ops = arg(&mut input, &encode_operations(&case.ops));
    block(&mut input, verifier, &root, &proof, &ops, comparable);

    // The wallet's calls, with the case's first key (their proofs are of other batches here,
    // so mostly errors: the point is that none panics and none writes on failure).
    let key = case
        .ops
        .first()
        .map(|op| op.key().to_vec())
        .unwrap_or_default();
    let key = arg(&mut input, &key);
    lookup(&mut input, verifier, &root, &proof, &key);
    let expected = arg(&mut input, b"1");
    // SAFETY: every pointer is NULL or valid for its length; the handle is live.
    let code = unsafe {
        avlplus_verify_value(
            verifier,
            root.ptr(),
            root.len,
            proof.ptr(),
            proof.len,
            key.ptr(),
            key.len,
            expected.ptr(),
            expected.len,
        )
    };
    assert_ne!(code, avlplus_result::Panic);
    if root.is_null_with_length() || proof.is_null_with_length() || key.is_null_with_length() {
        assert_eq!(code, avlplus_result::NullParameter);
    }
    // SAFETY: made by `avlplus_verifier_new`, freed once.
    unsafe { avlplus_verifier_free(verifier) };
}

fn block(
    input: &mut Input,
    verifier: *mut avlplus_verifier,
    root: &Arg,
    proof: &Arg,
    ops: &Arg,
    comparable: bool,
) {
    let mut root_out = vec![SENTINEL; out_len(input)];
    let mut results_out = vec![SENTINEL; out_len(input)];
    let (mut root_needed, mut results_needed) = (UNSET, UNSET);
    let call = |root_out: &mut Vec<u8>,
                results_out: &mut Vec<u8>,
                root_needed: &mut usize,
                results_needed: &mut usize| {
        // SAFETY: every input pointer is NULL or valid for its length, every output valid for
        // its length (a Vec's pointer is non-NULL even when empty); the handle is live.
        unsafe {
            avlplus_verify(
                verifier,
                root.ptr(),
                root.len,
                proof.ptr(),
                proof.len,
                ops.ptr(),
                ops.len,
                root_out.as_mut_ptr(),
                root_out.len(),
                root_needed,
                results_out.as_mut_ptr(),
                results_out.len(),
                results_needed,
            )
        }
    };
    let mut code = call(
        &mut root_out,
        &mut results_out,
        &mut root_needed,
        &mut results_needed,
    );
    assert_ne!(code, avlplus_result::Panic);
    if code == avlplus_result::InsufficientSize {
        assert!(root_out.iter().chain(&results_out).all(|&b| b == SENTINEL));
        assert!(root_needed > root_out.len() || results_needed > results_out.len());
        root_out = vec![SENTINEL; root_needed];
        results_out = vec![SENTINEL; results_needed];
        code = call(
            &mut root_out,
            &mut results_out,
            &mut root_needed,
            &mut results_needed,
        );
        assert_eq!(
            code,
            avlplus_result::Ok,
            "a retry with the needed sizes failed"
        );
    } else if code != avlplus_result::Ok {
        assert!(root_out.iter().chain(&results_out).all(|&b| b == SENTINEL));
        assert_eq!((root_needed, results_needed), (UNSET, UNSET));
    }
    if root.is_null_with_length() || proof.is_null_with_length() || ops.is_null_with_length() {
        assert_eq!(code, avlplus_result::NullParameter);
    }
    let abi = (code == avlplus_result::Ok).then(|| {
        assert_eq!(root_needed, RootDigest::LEN);
        let new_root = RootDigest::from_bytes(&root_out[..root_needed]).expect("a root");
        let results = decode_results(&results_out[..results_needed], &WireLimits::DEFAULT)
            .expect("the results decode");
        (new_root, results)
    });
    if !comparable {
        return;
    }
    // The same question to the Rust verifier, when every argument is something it takes.
    let (Some(root), Some(proof), Some(ops)) = (&root.bytes, &proof.bytes, &ops.bytes) else {
        return;
    };
    let Some(root) = RootDigest::from_bytes(root) else {
        assert!(abi.is_none(), "a malformed root was accepted");
        return;
    };
    let Ok(ops) = avlplus::wire::decode_operations(ops, &WireLimits::from(&Limits::DEFAULT)) else {
        assert!(abi.is_none(), "malformed operations were accepted");
        return;
    };
    let rust = Verifier::<Sha256>::new().verify(&root, proof, &ops);
    match (rust, abi) {
        (Ok(v), Some((new_root, results))) => {
            assert_eq!(v.new_root, new_root);
            assert_eq!(v.results, results);
        }
        (Err(_), None) => {}
        (rust, abi) => panic!("Rust verifier {rust:?}, C ABI {abi:?}"),
    }
}

fn lookup(input: &mut Input, verifier: *mut avlplus_verifier, root: &Arg, proof: &Arg, key: &Arg) {
    let mut value_out = vec![SENTINEL; out_len(input)];
    let mut needed = UNSET;
    let mut found = false;
    let null_found = input.byte().is_multiple_of(16);
    // SAFETY: every input pointer is NULL or valid for its length, `value_out` for its
    // length, `found` NULL or valid; the handle is live.
    let code = unsafe {
        avlplus_verify_lookup(
            verifier,
            root.ptr(),
            root.len,
            proof.ptr(),
            proof.len,
            key.ptr(),
            key.len,
            if null_found { null_mut() } else { &mut found },
            value_out.as_mut_ptr(),
            value_out.len(),
            &mut needed,
        )
    };
    assert_ne!(code, avlplus_result::Panic);
    match code {
        avlplus_result::Ok => assert!(needed <= value_out.len()),
        avlplus_result::InsufficientSize => {
            assert!(needed > value_out.len());
            assert!(value_out.iter().all(|&b| b == SENTINEL));
        }
        _ => {
            assert!(value_out.iter().all(|&b| b == SENTINEL));
            assert_eq!(needed, UNSET);
            assert!(!found);
        }
    }
}
