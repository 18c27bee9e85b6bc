//! Fuzz target `model_ops`: see `avlplus_fuzz::model_ops`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| avlplus_fuzz::model_ops(data));
