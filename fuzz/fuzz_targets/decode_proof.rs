//! Fuzz target `decode_proof`: see `avlplus_fuzz::decode_proof`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| avlplus_fuzz::decode_proof(data));
