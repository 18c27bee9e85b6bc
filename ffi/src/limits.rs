//! The verifier's limits, as an opaque builder.
//!
//! Why a handle with setters rather than a C struct: `Limits` is `#[non_exhaustive]` in Rust
//! so that limits can be added; a C struct cannot grow without breaking every caller compiled
//! against the old layout (or needing a `size` field that callers forget to set and the
//! library must interpret for every past layout). With a handle, a new limit is a new field
//! number: old callers keep working, and a new caller on an old library gets
//! `AVLPLUS_RESULT_INVALID_PARAMETER` for the field it does not know instead of a misread
//! struct.

use avlplus::Limits;

use crate::boundary::guard;
use crate::result::avlplus_result;

/// A set of verifier limits: start from a preset, change fields, pass it to
/// `avlplus_verifier_new` (which copies it), free it with `avlplus_limits_free`.
#[derive(Clone, Copy, Debug)]
pub struct avlplus_limits {
    pub(crate) limits: Limits,
}

/// The presets `avlplus_limits_new` starts from.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum avlplus_preset {
    /// `Limits::DEFAULT`: 64 MiB proofs, 2^20 operations, depth 96, 1 KiB keys, 64 KiB
    /// values, no memory cap beyond what those imply.
    Default = 0,
    /// `Limits::PHONE`: at most 64 MiB of memory per verification, 8 MiB proofs, 65 536
    /// operations, depth 96, 1 KiB keys, 64 KiB values.
    Phone = 1,
}

/// The fields of a limits handle (`avlplus_limits_set`, `avlplus_limits_get`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum avlplus_limit {
    /// Longest proof accepted, in bytes.
    MaxProofBytes = 0,
    /// Most operations in one batch.
    MaxOperations = 1,
    /// Deepest proof tree accepted.
    MaxDepth = 2,
    /// Most bytes one verification may allocate.
    MaxMemoryBytes = 3,
    /// Longest key, in bytes; must equal the prover's.
    MaxKeyLen = 4,
    /// Longest value, in bytes; must equal the prover's.
    MaxValueLen = 5,
}

impl avlplus_limit {
    fn from_u32(field: u32) -> Option<Self> {
        use avlplus_limit::*;
        [
            MaxProofBytes,
            MaxOperations,
            MaxDepth,
            MaxMemoryBytes,
            MaxKeyLen,
            MaxValueLen,
        ]
        .into_iter()
        .find(|f| *f as u32 == field)
    }

    fn slot(self, limits: &mut Limits) -> &mut usize {
        match self {
            avlplus_limit::MaxProofBytes => &mut limits.max_proof_bytes,
            avlplus_limit::MaxOperations => &mut limits.max_operations,
            avlplus_limit::MaxDepth => &mut limits.max_depth,
            avlplus_limit::MaxMemoryBytes => &mut limits.max_memory_bytes,
            avlplus_limit::MaxKeyLen => &mut limits.sizes.max_key_len,
            avlplus_limit::MaxValueLen => &mut limits.sizes.max_value_len,
        }
    }
}

/// Makes a limits handle from preset `preset` (an `avlplus_preset`) into `*out`.
///
/// Returns `AVLPLUS_RESULT_INVALID_PARAMETER` for an unknown preset, `..._NULL_PARAMETER` if
/// `out` is NULL; `*out` is written only on success.
///
/// # Safety
///
/// `out` must be NULL or valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn avlplus_limits_new(
    preset: u32,
    out: *mut *mut avlplus_limits,
) -> avlplus_result {
    guard(|| {
        if out.is_null() {
            return Err(avlplus_result::NullParameter);
        }
        let limits = match preset {
            p if p == avlplus_preset::Default as u32 => Limits::DEFAULT,
            p if p == avlplus_preset::Phone as u32 => Limits::PHONE,
            _ => return Err(avlplus_result::InvalidParameter),
        };
        let handle = Box::into_raw(Box::new(avlplus_limits { limits }));
        // SAFETY: `out` is not NULL and the caller guarantees it is valid for a write.
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// Sets field `field` (an `avlplus_limit`) of `limits` to `value`.
///
/// Returns `AVLPLUS_RESULT_INVALID_PARAMETER` for an unknown field (nothing changes).
///
/// # Safety
///
/// `limits` must be NULL or a handle from `avlplus_limits_new` not yet freed, not used by
/// another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn avlplus_limits_set(
    limits: *mut avlplus_limits,
    field: u32,
    value: usize,
) -> avlplus_result {
    guard(|| {
        // SAFETY: the caller guarantees `limits` is NULL or a live handle used by no one else.
        let limits = unsafe { limits.as_mut() }.ok_or(avlplus_result::NullParameter)?;
        let field = avlplus_limit::from_u32(field).ok_or(avlplus_result::InvalidParameter)?;
        *field.slot(&mut limits.limits) = value;
        Ok(())
    })
}

/// Reads field `field` (an `avlplus_limit`) of `limits` into `*value`.
///
/// # Safety
///
/// `limits` must be NULL or a live handle; `value` NULL or valid for one `size_t` write.
#[no_mangle]
pub unsafe extern "C" fn avlplus_limits_get(
    limits: *const avlplus_limits,
    field: u32,
    value: *mut usize,
) -> avlplus_result {
    guard(|| {
        // SAFETY: the caller guarantees `limits` is NULL or a live handle.
        let limits = unsafe { limits.as_ref() }.ok_or(avlplus_result::NullParameter)?;
        if value.is_null() {
            return Err(avlplus_result::NullParameter);
        }
        let field = avlplus_limit::from_u32(field).ok_or(avlplus_result::InvalidParameter)?;
        let mut copy = limits.limits;
        let v = *field.slot(&mut copy);
        // SAFETY: `value` is not NULL and the caller guarantees it is valid for a write.
        unsafe { value.write(v) };
        Ok(())
    })
}

/// Frees a limits handle. NULL is ignored.
///
/// # Safety
///
/// `limits` must be NULL or a handle from `avlplus_limits_new`, not freed before and not used
/// after.
#[no_mangle]
pub unsafe extern "C" fn avlplus_limits_free(limits: *mut avlplus_limits) {
    crate::boundary::guard_value(
        || {
            if !limits.is_null() {
                // SAFETY: the caller guarantees `limits` came from `Box::into_raw` in
                // `avlplus_limits_new` and is freed once.
                drop(unsafe { Box::from_raw(limits) });
            }
        },
        (),
    );
}
