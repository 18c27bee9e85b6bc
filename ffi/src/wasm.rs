//! Memory for a WebAssembly host: the two exports a JavaScript caller needs to pass buffers to
//! the C ABI (`ffi/js/avlplus.mjs`), which has no `malloc` of its own to call.
//!
//! Why a raw C-ABI module rather than wasm-bindgen: the wasm build exports exactly the
//! `avlplus_*` functions of `ffi/include/avlplus.h` (one ABI, one set of codes and ownership
//! rules for C, Java, Python and JS alike), plus these two; it needs no `wasm-bindgen-cli`
//! kept in lock-step with a crate version, and its module is smaller. The JS side does the
//! marshalling by hand, which is one small file.
//!
//! Contract, for a host that shares the module's linear memory:
//! - `avlplus_wasm_alloc(len)` returns a block of `len` bytes aligned to [`ALIGN`] (so that
//!   the ABI's `size_t *needed` and `bool *found` slots may point into it), or NULL when `len`
//!   is 0, too large, or memory cannot grow. Its contents are unspecified.
//! - `avlplus_wasm_free(ptr, len)` returns it; `len` must be the length it was allocated
//!   with. NULL (and any `len` with it) is ignored.
//! - A pointer into linear memory stays valid across calls, but the JS `ArrayBuffer` over
//!   the memory is replaced whenever memory grows: views must be made again after each call.
//!
//! Panics: `wasm32-unknown-unknown` has no unwinding (its standard library is built with
//! `panic = "abort"`, whatever the profile says), so the boundary's `catch_unwind` compiles
//! to a plain call and a panic traps (`unreachable`) instead of returning
//! `AVLPLUS_RESULT_PANIC`. The module's state after a trap is not trusted: the JS wrapper
//! drops the instance and reports the panic code on that call and every later one.
//!
//! These functions are not part of the C header (C hosts have their own allocator): every
//! item here is marked `cbindgen:ignore`, and none is `pub`, which a `#[no_mangle]` export
//! does not need.

use std::alloc::Layout;

use crate::boundary::guard_value;

/// Alignment of every block: at least that of `size_t`, `bool` and pointers, so that any
/// output slot of the ABI may live at the start of a block.
const ALIGN: usize = 8;

/// The layout of a block of `len` bytes, if there is one (`len` > 0 and not too large).
fn layout(len: usize) -> Option<Layout> {
    if len == 0 {
        return None;
    }
    Layout::from_size_align(len, ALIGN).ok()
}

/// Allocates `len` bytes aligned to 8 in linear memory; NULL if `len` is 0 or memory cannot
/// grow.
///
/// cbindgen:ignore
#[no_mangle]
extern "C" fn avlplus_wasm_alloc(len: usize) -> *mut u8 {
    guard_value(
        || match layout(len) {
            // SAFETY: the layout has a non-zero size (`layout` returns None for 0).
            Some(layout) => unsafe { std::alloc::alloc(layout) },
            None => std::ptr::null_mut(),
        },
        std::ptr::null_mut(),
    )
}

/// Frees a block from `avlplus_wasm_alloc`. NULL is ignored.
///
/// # Safety
///
/// `ptr` must be NULL or a block from `avlplus_wasm_alloc(len)` with this same `len`, not
/// freed before and not used after.
///
/// cbindgen:ignore
#[no_mangle]
unsafe extern "C" fn avlplus_wasm_free(ptr: *mut u8, len: usize) {
    guard_value(
        || {
            if let (false, Some(layout)) = (ptr.is_null(), layout(len)) {
                // SAFETY: the caller guarantees `ptr` came from `avlplus_wasm_alloc(len)`,
                // which allocated it with this same layout, and is freed once.
                unsafe { std::alloc::dealloc(ptr, layout) };
            }
        },
        (),
    );
}
