//! The verifier handle and the entry points that verify.

use avlplus::wire::{decode_operations, encode_results, WireLimits};
use avlplus::{Blake3, Bytes, Limits, Operation, Outcome, RootDigest, Sha256, Verified, Verifier};

use crate::boundary::{guard, input, write_all, Output};
use crate::limits::avlplus_limits;
use crate::result::avlplus_result;

/// The hash functions a tree can use (`avlplus_verifier_new`). 0 is no hash: a zeroed
/// variable is refused rather than taken for SHA-256.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum avlplus_hash {
    /// SHA-256, the default of the library.
    Sha256 = 1,
    /// BLAKE3.
    Blake3 = 2,
}

/// A verifier: a hash and limits. Immutable once made; any number of threads may use one
/// handle at the same time. Free it with `avlplus_verifier_free`.
#[derive(Clone, Copy, Debug)]
pub struct avlplus_verifier {
    inner: Inner,
}

#[derive(Clone, Copy, Debug)]
enum Inner {
    Sha256(Verifier<Sha256>),
    Blake3(Verifier<Blake3>),
}

impl avlplus_verifier {
    fn limits(&self) -> &Limits {
        match &self.inner {
            Inner::Sha256(v) => v.limits(),
            Inner::Blake3(v) => v.limits(),
        }
    }

    fn verify(
        &self,
        root: &RootDigest,
        proof: &[u8],
        ops: &[Operation],
    ) -> Result<Verified, avlplus_result> {
        let verified = match &self.inner {
            Inner::Sha256(v) => v.verify(root, proof, ops),
            Inner::Blake3(v) => v.verify(root, proof, ops),
        };
        Ok(verified?)
    }

    /// Verifies one lookup of `key`: its value, or `None` when the proof shows it absent.
    fn lookup(
        &self,
        root: &[u8],
        proof: &[u8],
        key: &[u8],
    ) -> Result<Option<Bytes>, avlplus_result> {
        let root = RootDigest::from_bytes(root).ok_or(avlplus_result::InvalidRoot)?;
        let verified = self.verify(&root, proof, &[Operation::lookup(key)])?;
        match verified.results.into_iter().next() {
            Some(Ok(Outcome::Found(value))) => Ok(Some(value)),
            Some(Ok(Outcome::NotFound)) => Ok(None),
            _ => Err(avlplus_result::UnexpectedError),
        }
    }
}

/// Makes a verifier for hash `hash` (an `avlplus_hash`) with a copy of `limits` into `*out`.
///
/// Returns `AVLPLUS_RESULT_INVALID_PARAMETER` for an unknown hash; `*out` is written only on
/// success. `limits` may be freed right after the call.
///
/// # Safety
///
/// `limits` must be NULL or a live handle from `avlplus_limits_new`; `out` NULL or valid for
/// one pointer write.
#[no_mangle]
pub unsafe extern "C" fn avlplus_verifier_new(
    hash: u32,
    limits: *const avlplus_limits,
    out: *mut *mut avlplus_verifier,
) -> avlplus_result {
    guard(|| {
        // SAFETY: the caller guarantees `limits` is NULL or a live handle.
        let limits = unsafe { limits.as_ref() }.ok_or(avlplus_result::NullParameter)?;
        if out.is_null() {
            return Err(avlplus_result::NullParameter);
        }
        let inner = match hash {
            h if h == avlplus_hash::Sha256 as u32 => {
                Inner::Sha256(Verifier::with_limits(limits.limits))
            }
            h if h == avlplus_hash::Blake3 as u32 => {
                Inner::Blake3(Verifier::with_limits(limits.limits))
            }
            _ => return Err(avlplus_result::InvalidParameter),
        };
        let handle = Box::into_raw(Box::new(avlplus_verifier { inner }));
        // SAFETY: `out` is not NULL and the caller guarantees it is valid for a write.
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// Frees a verifier. NULL is ignored.
///
/// # Safety
///
/// `verifier` must be NULL or a handle from `avlplus_verifier_new`, not freed before, and no
/// thread may use it during or after the call.
#[no_mangle]
pub unsafe extern "C" fn avlplus_verifier_free(verifier: *mut avlplus_verifier) {
    crate::boundary::guard_value(
        || {
            if !verifier.is_null() {
                // SAFETY: the caller guarantees `verifier` came from `Box::into_raw` in
                // `avlplus_verifier_new` and is freed once, by one thread.
                drop(unsafe { Box::from_raw(verifier) });
            }
        },
        (),
    );
}

/// Verifies a block: replays the wire-encoded operations `ops` on `proof` against the trusted
/// root `root` (33 bytes).
///
/// On success writes the new root (33 bytes) into `new_root_out` and the wire-encoded results
/// (`docs/wire-format.md`, one per operation) into `results_out`, and their lengths into
/// `*new_root_needed` and `*results_needed`. If either buffer is too small, sets both
/// `*needed` and returns `AVLPLUS_RESULT_INSUFFICIENT_SIZE` (the block is verified again on
/// the next call). Errors: `..._INVALID_ROOT`, `..._WIRE_*` (the operations; the count limit
/// is the verifier's operation limit, the sizes its key and value sizes), and the
/// verification's `..._PROOF_*` and 100-199 codes.
///
/// # Safety
///
/// Each non-NULL input pointer must be valid for reads of its length, each output pointer for
/// writes of its length, each `needed` for one `size_t` write; outputs must not overlap each
/// other or the inputs; `verifier` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn avlplus_verify(
    verifier: *const avlplus_verifier,
    root: *const u8,
    root_len: usize,
    proof: *const u8,
    proof_len: usize,
    ops: *const u8,
    ops_len: usize,
    new_root_out: *mut u8,
    new_root_out_len: usize,
    new_root_needed: *mut usize,
    results_out: *mut u8,
    results_out_len: usize,
    results_needed: *mut usize,
) -> avlplus_result {
    guard(|| {
        // SAFETY: the caller guarantees `verifier` is NULL or a live handle.
        let verifier = unsafe { verifier.as_ref() }.ok_or(avlplus_result::NullParameter)?;
        // SAFETY: the caller guarantees `root` is valid for reads of `root_len` bytes.
        let root = unsafe { input(root, root_len) }?;
        // SAFETY: the caller guarantees `proof` is valid for reads of `proof_len` bytes.
        let proof = unsafe { input(proof, proof_len) }?;
        // SAFETY: the caller guarantees `ops` is valid for reads of `ops_len` bytes.
        let ops = unsafe { input(ops, ops_len) }?;
        let new_root_out = Output::new(new_root_out, new_root_out_len, new_root_needed)?;
        let results_out = Output::new(results_out, results_out_len, results_needed)?;

        let root = RootDigest::from_bytes(root).ok_or(avlplus_result::InvalidRoot)?;
        let ops = decode_operations(ops, &WireLimits::from(verifier.limits()))?;
        let verified = verifier.verify(&root, proof, &ops)?;
        let results = encode_results(&verified.results);
        let new_root = verified.new_root.to_bytes();
        // SAFETY: the outputs' pointers are valid and overlap nothing (the caller's
        // guarantee); `Output::new` checked them for NULL.
        unsafe { write_all(&[(&new_root_out, &new_root), (&results_out, &results)]) }
    })
}

/// The wallet's question: is `key` present under the trusted root `root`, and with which
/// value? `proof` is the proof of the one-operation batch `lookup(key)` (any proof that covers
/// the key's position under `root` answers it the same way, since it proves that lookup).
///
/// On success sets `*found` and, if found, writes the value into `value_out` and its length
/// into `*value_needed` (0 when absent). If the value does not fit, sets `*value_needed` and
/// returns `AVLPLUS_RESULT_INSUFFICIENT_SIZE`, writing nothing else. Errors as
/// `avlplus_verify`; a proof that does not cover the key's position fails to verify.
///
/// # Safety
///
/// As `avlplus_verify`; `found` must be NULL or valid for one `bool` write.
#[no_mangle]
pub unsafe extern "C" fn avlplus_verify_lookup(
    verifier: *const avlplus_verifier,
    root: *const u8,
    root_len: usize,
    proof: *const u8,
    proof_len: usize,
    key: *const u8,
    key_len: usize,
    found: *mut bool,
    value_out: *mut u8,
    value_out_len: usize,
    value_needed: *mut usize,
) -> avlplus_result {
    guard(|| {
        // SAFETY: the caller guarantees `verifier` is NULL or a live handle.
        let verifier = unsafe { verifier.as_ref() }.ok_or(avlplus_result::NullParameter)?;
        // SAFETY: the caller guarantees `root` is valid for reads of `root_len` bytes.
        let root = unsafe { input(root, root_len) }?;
        // SAFETY: the caller guarantees `proof` is valid for reads of `proof_len` bytes.
        let proof = unsafe { input(proof, proof_len) }?;
        // SAFETY: the caller guarantees `key` is valid for reads of `key_len` bytes.
        let key = unsafe { input(key, key_len) }?;
        if found.is_null() {
            return Err(avlplus_result::NullParameter);
        }
        let value_out = Output::new(value_out, value_out_len, value_needed)?;

        let value = verifier.lookup(root, proof, key)?;
        let bytes = value.as_deref().unwrap_or_default();
        // SAFETY: the output pointers are valid and overlap nothing (the caller's guarantee).
        unsafe { write_all(&[(&value_out, bytes)]) }?;
        // SAFETY: `found` is not NULL and valid for a write (the caller's guarantee).
        unsafe { found.write(value.is_some()) };
        Ok(())
    })
}

/// The wallet's check: under the trusted root `root`, does `key` have exactly the value
/// `expected` (`expected_len` bytes), or, if `expected` is NULL, is `key` absent? `proof` must
/// be the proof of the one-operation batch `lookup(key)`.
///
/// Returns `AVLPLUS_RESULT_OK` if so, `AVLPLUS_RESULT_VALUE_MISMATCH` if the proof is valid
/// but says otherwise, or the verification's error. To expect the empty value, pass any
/// non-NULL pointer with length 0 (NULL means absent here).
///
/// # Safety
///
/// As `avlplus_verify`; `expected` must be NULL or valid for reads of `expected_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn avlplus_verify_value(
    verifier: *const avlplus_verifier,
    root: *const u8,
    root_len: usize,
    proof: *const u8,
    proof_len: usize,
    key: *const u8,
    key_len: usize,
    expected: *const u8,
    expected_len: usize,
) -> avlplus_result {
    guard(|| {
        // SAFETY: the caller guarantees `verifier` is NULL or a live handle.
        let verifier = unsafe { verifier.as_ref() }.ok_or(avlplus_result::NullParameter)?;
        // SAFETY: the caller guarantees `root` is valid for reads of `root_len` bytes.
        let root = unsafe { input(root, root_len) }?;
        // SAFETY: the caller guarantees `proof` is valid for reads of `proof_len` bytes.
        let proof = unsafe { input(proof, proof_len) }?;
        // SAFETY: the caller guarantees `key` is valid for reads of `key_len` bytes.
        let key = unsafe { input(key, key_len) }?;
        let expected = if expected.is_null() {
            if expected_len > 0 {
                return Err(avlplus_result::NullParameter);
            }
            None
        } else {
            // SAFETY: not NULL, and the caller guarantees it is valid for `expected_len`.
            Some(unsafe { input(expected, expected_len) }?)
        };
        let actual = verifier.lookup(root, proof, key)?;
        if actual.as_deref() == expected {
            Ok(())
        } else {
            Err(avlplus_result::ValueMismatch)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_are_send_and_sync() {
        send_sync::<avlplus_verifier>();
        send_sync::<avlplus_limits>();
    }
}
