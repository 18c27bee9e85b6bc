//! Fuzz target `decode_node`: see `avlplus_fuzz::decode_node`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| avlplus_fuzz::decode_node(data));
