//! Fuzz target `verify_arbitrary`: see `avlplus_fuzz::verify_arbitrary`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| avlplus_fuzz::verify_arbitrary(data));
