//! Fuzz target `ffi_calls`: see `avlplus_fuzz::ffi::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| avlplus_fuzz::ffi::run(data));
