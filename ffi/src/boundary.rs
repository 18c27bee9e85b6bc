//! What every entry point does at the boundary: catch panics, check pointers, read inputs and
//! write outputs only on success.
//!
//! Invariants kept here for every caller:
//! - an input of length 0 is the empty slice whatever its pointer (NULL allowed);
//! - a non-empty input or output with a NULL pointer, and any NULL `needed`, is refused
//!   before any work;
//! - outputs are written all together, after all work, and only if every one of them fits;
//!   otherwise only the `needed` sizes are.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::result::avlplus_result;

/// Runs `f` inside a panic boundary; a panic becomes [`avlplus_result::Panic`].
///
/// `AssertUnwindSafe`: nothing `f` touches outlives a panic in a broken state. Outputs are
/// written at the end of `f`, by copies that cannot panic, and handles are never mutated.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), avlplus_result>) -> avlplus_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => avlplus_result::Ok,
        Ok(Err(code)) => code,
        Err(_) => avlplus_result::Panic,
    }
}

/// Runs `f` inside a panic boundary, returning `fallback` if it panics.
pub(crate) fn guard_value<T>(f: impl FnOnce() -> T, fallback: T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// The `len` bytes at `ptr`.
///
/// # Safety
///
/// If `len > 0` and `ptr` is not NULL, `ptr` must be valid for reads of `len` bytes, which
/// must not be written to while the slice is in use (the returned lifetime is the caller's
/// to choose: no longer than the call).
pub(crate) unsafe fn input<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], avlplus_result> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(avlplus_result::NullParameter);
    }
    if isize::try_from(len).is_err() {
        return Err(avlplus_result::InvalidParameter);
    }
    // SAFETY: `ptr` is not NULL, and the caller guarantees it is valid for `len` reads that
    // nothing writes meanwhile; `len` fits `isize`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A caller's output buffer and where to report its needed size.
pub(crate) struct Output {
    ptr: *mut u8,
    len: usize,
    needed: *mut usize,
}

impl Output {
    /// Checks the pointers (a buffer may be NULL when `len` is 0; `needed` never).
    pub(crate) fn new(
        ptr: *mut u8,
        len: usize,
        needed: *mut usize,
    ) -> Result<Self, avlplus_result> {
        if needed.is_null() || (ptr.is_null() && len > 0) {
            return Err(avlplus_result::NullParameter);
        }
        Ok(Output { ptr, len, needed })
    }
}

/// Writes each `bytes` into its output if every one fits, and every `*needed`; if one does
/// not fit, writes only the `*needed` sizes and returns
/// [`avlplus_result::InsufficientSize`].
///
/// # Safety
///
/// Each output's `ptr` must be valid for writes of its `len` bytes and its `needed` for one
/// `size_t` write; none of them may overlap each other or any input still in use.
pub(crate) unsafe fn write_all(outputs: &[(&Output, &[u8])]) -> Result<(), avlplus_result> {
    let fits = outputs.iter().all(|(out, bytes)| bytes.len() <= out.len);
    for (out, bytes) in outputs {
        // SAFETY: `needed` is not NULL (checked by `Output::new`) and valid for a write (the
        // caller's guarantee).
        unsafe { out.needed.write(bytes.len()) };
        if fits && !bytes.is_empty() {
            // SAFETY: `bytes.len() <= out.len`, `out.ptr` is not NULL since `out.len > 0`,
            // and it is valid for `out.len` writes and does not overlap `bytes` (the caller's
            // guarantee; `bytes` is the library's own memory).
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out.ptr, bytes.len()) };
        }
    }
    if fits {
        Ok(())
    } else {
        Err(avlplus_result::InsufficientSize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::panic)]
    fn a_panic_becomes_a_code() {
        assert_eq!(guard(|| panic!("boom")), avlplus_result::Panic);
        assert_eq!(guard_value(|| panic!("boom"), 7u32), 7);
        assert_eq!(
            guard(|| Err(avlplus_result::RootMismatch)),
            avlplus_result::RootMismatch
        );
    }
}
