//! Fuzz target `store_bytes`: see `avlplus_fuzz::store_bytes`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| avlplus_fuzz::store_bytes(data));
