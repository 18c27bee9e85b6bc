//! Quickcheck generators of operations and results, shared by the tests that round-trip them
//! (`tests/wire.rs`, `tests/serde.rs`). Each test keeps its own distribution of key and value
//! lengths, the part that differs, and passes it in as a `bytes` function.

use avlplus::{Failure, OpResult, Operation, Outcome};
use quickcheck::{Arbitrary, Gen};

/// One operation of each kind, keys and values from `bytes`.
pub fn operation(g: &mut Gen, bytes: fn(&mut Gen) -> Vec<u8>) -> Operation {
    let (k, v) = (bytes(g), bytes(g));
    match u8::arbitrary(g) % 6 {
        0 => Operation::lookup(k),
        1 => Operation::insert(k, v),
        2 => Operation::update(k, v),
        3 => Operation::upsert(k, v),
        4 => Operation::remove(k),
        _ => Operation::remove_if_present(k),
    }
}

/// One result of each kind, found values from `bytes`.
pub fn result(g: &mut Gen, bytes: fn(&mut Gen) -> Vec<u8>) -> OpResult {
    match u8::arbitrary(g) % 7 {
        0 => Ok(Outcome::Found(bytes(g).into())),
        1 => Ok(Outcome::NotFound),
        2 => Ok(Outcome::Inserted),
        3 => Ok(Outcome::Updated),
        4 => Ok(Outcome::Removed),
        5 => Err(Failure::KeyExists),
        _ => Err(Failure::KeyMissing),
    }
}
