//! The bodies of avlplus's fuzz targets, and what they share.
//!
//! Each target in `fuzz_targets/` is one line that calls a function here, so that the same
//! code also runs on stable Rust: `cargo test` in this directory replays the committed corpus
//! (`corpus/<target>/`) through every target, and `AVLPLUS_FUZZ_SEEDS=1 cargo test
//! write_seeds` rebuilds the seed inputs.
//!
//! | target             | input                                   | must hold                                              |
//! |--------------------|-----------------------------------------|--------------------------------------------------------|
//! | `decode_proof`     | any bytes                               | no panic; decoded bytes re-encode to themselves        |
//! | `verify_arbitrary` | case, root choice, proof bytes          | no panic; accepted only with the honest answer         |
//! | `verify_mutated`   | case, root choice, edit program         | the same, on edits of honest proofs                    |
//! | `model_ops`        | mode, key style, batches                | prover equals a `BTreeMap`; every proof verifies; audit |
//! | `decode_node`      | mode, version, record bytes             | no panic; decodes only under its label; round trip     |
//! | `store_bytes`      | edits of a real store's tables          | typed errors or answers equal to the root's map        |
//! | `ffi_calls`        | case, hash, limits, C ABI arguments     | no panic code; outputs only on success; = Rust verifier |

pub mod cases;
pub mod ffi;
// The model of the proof format, shared with the integration tests that craft hostile proofs.
#[path = "../../tests/common/proof_format.rs"]
pub mod format;
pub mod input;
pub mod judge;
pub mod model;
pub mod mutate;
pub mod record;
pub mod seeds;
pub mod store;

use avlplus::proof::{decode, DecodeLimits};
use avlplus::Sha256;

use crate::cases::cases;
use crate::input::Input;

/// Names of every target, in the order `run.sh` runs them.
pub const TARGETS: [&str; 7] = [
    "decode_proof",
    "verify_arbitrary",
    "verify_mutated",
    "model_ops",
    "decode_node",
    "store_bytes",
    "ffi_calls",
];

/// `decode_proof`: any bytes; what decodes re-encodes to the same bytes.
pub fn decode_proof(data: &[u8]) {
    if let Ok(tree) = decode(data, &DecodeLimits::default()) {
        assert_eq!(tree.encode::<Sha256>(), data, "re-encoding differs");
        let stats = tree.stats();
        assert!(stats.stubs + stats.internal + stats.leaves <= data.len() * 8);
    }
}

/// `verify_arbitrary`: a case, a root choice, then proof bytes.
pub fn verify_arbitrary(data: &[u8]) {
    let mut input = Input::new(data);
    let case = &cases()[input.below(cases().len())];
    let (root, honest) = case.root(input.byte());
    judge::judge(case.name, root, &case.ops, honest, input.rest());
}

/// `verify_mutated`: a case, a root choice, then a program of edits of its honest proof.
pub fn verify_mutated(data: &[u8]) {
    let mut input = Input::new(data);
    let case = &cases()[input.below(cases().len())];
    let (root, honest) = case.root(input.byte());
    let bytes = mutate::mutate(case, &mut input);
    judge::judge(case.name, root, &case.ops, honest, &bytes);
}

/// `model_ops`: see [`model::run`].
pub fn model_ops(data: &[u8]) {
    model::run(data);
}

/// `decode_node`: see [`record::run`].
pub fn decode_node(data: &[u8]) {
    record::run(data);
}

/// `store_bytes`: see [`store::run`].
pub fn store_bytes(data: &[u8]) {
    store::run(data);
}

/// The body of the target called `name`.
pub fn target(name: &str) -> Option<fn(&[u8])> {
    Some(match name {
        "decode_proof" => decode_proof,
        "verify_arbitrary" => verify_arbitrary,
        "verify_mutated" => verify_mutated,
        "model_ops" => model_ops,
        "decode_node" => decode_node,
        "store_bytes" => store_bytes,
        "ffi_calls" => ffi::run,
        _ => return None,
    })
}
