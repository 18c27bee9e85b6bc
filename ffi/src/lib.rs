//! The C ABI of the avlplus verifier (`ffi/include/avlplus.h`, generated from this crate).
//!
//! A light client in C (or Java, Python, JS through their C bridges) holds a root digest and
//! checks blocks and lookups against it. Conventions, after rustls-ffi:
//!
//! - **Handles** are opaque and made and freed by the library: [`avlplus_limits_new`] /
//!   [`avlplus_limits_free`], [`avlplus_verifier_new`] / [`avlplus_verifier_free`]. A verifier
//!   is immutable after creation and may be shared by any number of threads.
//! - **Every function returns an [`avlplus_result`]** (except the free functions, the message
//!   and the version functions). Its numbers never change; new codes get new numbers.
//! - **Outputs are written only on success.** Every byte output is a buffer, its length and a
//!   `size_t *needed`: when a buffer is too small the function sets every `*needed` of the
//!   call and returns `AVLPLUS_RESULT_INSUFFICIENT_SIZE`, writing nothing else; call again
//!   with buffers that large. On success `*needed` is the number of bytes written.
//! - **Every pointer is checked for NULL** (`AVLPLUS_RESULT_NULL_PARAMETER`), except that an
//!   input or output buffer of length 0 may be NULL.
//! - **No panic crosses the boundary**: every entry point runs inside
//!   `std::panic::catch_unwind` and returns `AVLPLUS_RESULT_PANIC` instead (the verifier
//!   itself never panics on any input; the boundary is a second line). Builds must keep
//!   `panic = "unwind"` (a test checks the workspace's profiles). On
//!   `wasm32-unknown-unknown` panics abort whatever the profile says: a panic there is a
//!   wasm trap, which the JavaScript module (`ffi/js/avlplus.mjs`) turns into
//!   `AVLPLUS_RESULT_PANIC` and after which it refuses that instance (`src/wasm.rs`).
//! - Operations and results cross as bytes in the wire format (`docs/wire-format.md`); roots
//!   are the 33-byte `RootDigest` form (label, then height).
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
// The C names are the Rust names (cbindgen copies them).
#![allow(non_camel_case_types)]
// Every entry point meets untrusted pointers and bytes: the library's lint wall applies.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

mod boundary;
mod limits;
mod result;
mod verifier;
#[cfg(target_arch = "wasm32")]
mod wasm;

pub use limits::{
    avlplus_limit, avlplus_limits, avlplus_limits_free, avlplus_limits_get, avlplus_limits_new,
    avlplus_limits_set, avlplus_preset,
};
pub use result::{avlplus_result, avlplus_result_message};
pub use verifier::{
    avlplus_hash, avlplus_verifier, avlplus_verifier_free, avlplus_verifier_new, avlplus_verify,
    avlplus_verify_lookup, avlplus_verify_value,
};

use core::ffi::c_char;

/// Version of the ABI this header describes: changes whenever a declaration in it changes
/// incompatibly (a new function or code does not change it). Compare with
/// `avlplus_abi_version()` at start-up.
pub const AVLPLUS_ABI_VERSION: u32 = 1;

/// Major version of the library (the crate's version; a test keeps them equal).
pub const AVLPLUS_VERSION_MAJOR: u32 = 0;
/// Minor version of the library.
pub const AVLPLUS_VERSION_MINOR: u32 = 1;
/// Patch version of the library.
pub const AVLPLUS_VERSION_PATCH: u32 = 0;

/// Length in bytes of a root digest: a 32-byte label, then the height.
pub const AVLPLUS_ROOT_LEN: usize = 33;

/// The ABI version of the library linked in (`AVLPLUS_ABI_VERSION` of the header it was built
/// with).
#[no_mangle]
pub extern "C" fn avlplus_abi_version() -> u32 {
    boundary::guard_value(|| AVLPLUS_ABI_VERSION, AVLPLUS_ABI_VERSION)
}

/// The library's version as a static NUL-terminated string, e.g. `"0.1.0"`. Never NULL; do
/// not free it.
#[no_mangle]
pub extern "C" fn avlplus_version() -> *const c_char {
    const VERSION: &core::ffi::CStr = c"0.1.0";
    boundary::guard_value(|| VERSION.as_ptr(), VERSION.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constants_are_the_crate_version() {
        let v = |s: &str| s.parse::<u32>().unwrap();
        assert_eq!(AVLPLUS_VERSION_MAJOR, v(env!("CARGO_PKG_VERSION_MAJOR")));
        assert_eq!(AVLPLUS_VERSION_MINOR, v(env!("CARGO_PKG_VERSION_MINOR")));
        assert_eq!(AVLPLUS_VERSION_PATCH, v(env!("CARGO_PKG_VERSION_PATCH")));
        // SAFETY: avlplus_version returns a static NUL-terminated string.
        let s = unsafe { core::ffi::CStr::from_ptr(avlplus_version()) };
        assert_eq!(s.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
        assert_eq!(AVLPLUS_ROOT_LEN, avlplus::RootDigest::LEN);
    }
}
