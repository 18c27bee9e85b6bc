//! Fuzz target `verify_mutated`: see `avlplus_fuzz::verify_mutated`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| avlplus_fuzz::verify_mutated(data));
