//! Feature `serde`: the JSON and binary forms of `RootDigest`, `Operation`, `Outcome`,
//! `Failure`, `OpResult` (flat, through `ops::serde_result(s)`) and `Proof`.
//!
//! - Round trips (quickcheck) through JSON (hex text) and postcard (raw bytes, a format that is
//!   not self-describing, so nothing may rely on `deserialize_any`).
//! - The committed fixtures spell operations, results, roots and proofs exactly as serde
//!   does: every value in `fixtures/*.json` reads back and re-serialises to the same JSON, and
//!   the fixture batches read with serde verify.
//! - Named malformed inputs give errors that say what is wrong, and no input panics.

#![cfg(feature = "serde")]

use std::path::PathBuf;

use avlplus::{serde_result, serde_results};
use avlplus::{
    Blake3, Failure, OpResult, Operation, OperationError, Outcome, Proof, RootDigest, Sha256,
    SizeLimits, TreeHasher, Verifier,
};
#[path = "common/arbitrary.rs"]
mod arbitrary;

use quickcheck::{Arbitrary, Gen, QuickCheck};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Generators

fn bytes(g: &mut Gen) -> Vec<u8> {
    // Mostly short, sometimes empty, sometimes long enough to cross the hex writer's chunks.
    let len = *g
        .choose(&[0usize, 1, 2, 31, 32, 33, 64, 65, 200])
        .unwrap_or(&1);
    (0..len).map(|_| u8::arbitrary(g)).collect()
}

#[derive(Clone, Debug)]
struct ArbOp(Operation);

impl Arbitrary for ArbOp {
    fn arbitrary(g: &mut Gen) -> Self {
        ArbOp(arbitrary::operation(g, bytes))
    }
}

#[derive(Clone, Debug)]
struct ArbResult(OpResult);

impl Arbitrary for ArbResult {
    fn arbitrary(g: &mut Gen) -> Self {
        ArbResult(arbitrary::result(g, bytes))
    }
}

#[derive(Clone, Debug)]
struct ArbRoot(RootDigest);

impl Arbitrary for ArbRoot {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut label = [0u8; 32];
        label.iter_mut().for_each(|b| *b = u8::arbitrary(g));
        ArbRoot(RootDigest {
            label,
            height: u8::arbitrary(g),
        })
    }
}

/// A batch's results in the flat spelling.
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Results {
    #[serde(with = "serde_results")]
    results: Vec<OpResult>,
}

/// One result in the flat spelling.
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
#[serde(transparent)]
struct One(#[serde(with = "serde_result")] OpResult);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn quickcheck<A: Arbitrary + std::fmt::Debug>(prop: fn(A) -> bool) {
    QuickCheck::new().tests(500).quickcheck(prop);
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn operations_round_trip_through_json_as_hex() {
    fn prop(op: ArbOp) -> bool {
        let op = op.0;
        let Ok(value) = serde_json::to_value(&op) else {
            return false;
        };
        // The shape, independently of the library's own writer.
        let mut expected = json!({ "op": name(&op), "key": hex(op.key()) });
        if let (Some(v), Some(map)) = (op.value(), expected.as_object_mut()) {
            map.insert("value".into(), Value::String(hex(v)));
        }
        let text = serde_json::to_string(&op).unwrap_or_default();
        value == expected
            && serde_json::from_value::<Operation>(value).ok() == Some(op.clone())
            && serde_json::from_str::<Operation>(&text).ok() == Some(op)
    }
    quickcheck(prop as fn(ArbOp) -> bool);
}

#[test]
fn operations_round_trip_through_postcard_as_bytes() {
    fn prop(op: ArbOp) -> bool {
        let op = op.0;
        let Ok(bin) = postcard::to_allocvec(&op) else {
            return false;
        };
        // Variant index, then each byte string as a length and raw bytes (no hex).
        let mut expected = vec![index(&op)];
        for part in std::iter::once(op.key()).chain(op.value()) {
            expected.extend(varint(part.len()));
            expected.extend_from_slice(part);
        }
        bin == expected && postcard::from_bytes::<Operation>(&bin).ok() == Some(op)
    }
    quickcheck(prop as fn(ArbOp) -> bool);
}

#[test]
fn results_round_trip_flat_through_json_and_postcard() {
    fn prop(results: Vec<ArbResult>) -> bool {
        let results = Results {
            results: results.into_iter().map(|r| r.0).collect(),
        };
        let Ok(value) = serde_json::to_value(&results) else {
            return false;
        };
        let expected: Vec<Value> = results.results.iter().map(result_json).collect();
        let Ok(bin) = postcard::to_allocvec(&results) else {
            return false;
        };
        value == json!({ "results": expected })
            && serde_json::from_value::<Results>(value).ok().as_ref() == Some(&results)
            && postcard::from_bytes::<Results>(&bin).ok().as_ref() == Some(&results)
    }
    QuickCheck::new()
        .tests(300)
        .quickcheck(prop as fn(Vec<ArbResult>) -> bool);
}

#[test]
fn outcomes_and_failures_serialise_on_their_own() {
    fn prop(r: ArbResult) -> bool {
        let json = match &r.0 {
            Ok(outcome) => serde_json::to_value(outcome).ok(),
            Err(failure) => serde_json::to_value(failure).ok(),
        };
        // An outcome is spelled as in a flat result; a failure is the flat result's inner part.
        let flat = result_json(&r.0);
        let expected = match &r.0 {
            Ok(_) => Some(flat),
            Err(_) => flat.get("failure").cloned(),
        };
        let back = match &r.0 {
            Ok(o) => serde_json::from_value::<Outcome>(json.clone().unwrap_or_default())
                .ok()
                .map(|b| b == *o),
            Err(f) => serde_json::from_value::<Failure>(json.clone().unwrap_or_default())
                .ok()
                .map(|b| b == *f),
        };
        json == expected && back == Some(true)
    }
    quickcheck(prop as fn(ArbResult) -> bool);
}

#[test]
fn serde_own_result_form_still_works() {
    // OpResult is a `Result`: without `serde_result`, serde's own spelling applies.
    let r: OpResult = Err(Failure::KeyExists);
    assert_eq!(
        serde_json::to_value(r).unwrap(),
        json!({"Err": "key_exists"})
    );
    let r: OpResult = Ok(Outcome::Found(b"\x01"[..].into()));
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v, json!({"Ok": {"found": "01"}}));
    assert_eq!(serde_json::from_value::<OpResult>(v).unwrap(), r);
}

#[test]
fn roots_are_66_hex_digits_in_json_and_33_bytes_in_postcard() {
    fn prop(root: ArbRoot) -> bool {
        let root = root.0;
        let text = serde_json::to_string(&root).unwrap_or_default();
        let bin = postcard::to_allocvec(&root).unwrap_or_default();
        let mut expected_bin = vec![33u8];
        expected_bin.extend_from_slice(&root.to_bytes());
        text == format!("\"{}\"", root.to_hex())
            && serde_json::from_str::<RootDigest>(&text).ok() == Some(root)
            && serde_json::from_str::<RootDigest>(&text.to_uppercase()).ok() == Some(root)
            && bin == expected_bin
            && postcard::from_bytes::<RootDigest>(&bin).ok() == Some(root)
    }
    quickcheck(prop as fn(ArbRoot) -> bool);
}

#[test]
fn proofs_are_hex_in_json_and_bytes_in_postcard() {
    let mut tree = avlplus::Tree::new();
    let ops = [
        Operation::insert(b"alice", b"100"),
        Operation::insert(b"bob", b"50"),
        Operation::lookup(b"alice"),
    ];
    let batch = tree.apply(&ops).unwrap();
    let text = serde_json::to_string(&batch.proof).unwrap();
    assert_eq!(text, format!("\"{}\"", hex(batch.proof.as_bytes())));
    assert_eq!(serde_json::from_str::<Proof>(&text).unwrap(), batch.proof);
    let bin = postcard::to_allocvec(&batch.proof).unwrap();
    assert_eq!(
        &bin[varint(batch.proof.len()).len()..],
        batch.proof.as_bytes()
    );
    assert_eq!(postcard::from_bytes::<Proof>(&bin).unwrap(), batch.proof);
    // Empty proof bytes are a valid byte string (verification rejects them later).
    assert_eq!(
        serde_json::from_str::<Proof>("\"\"").unwrap(),
        Proof::from_bytes(vec![])
    );
}

/// A block as a full node might publish it, read back and verified by a light client.
#[derive(serde::Serialize, serde::Deserialize)]
struct Block {
    old_root: RootDigest,
    ops: Vec<Operation>,
    proof: Proof,
    #[serde(with = "serde_results")]
    results: Vec<OpResult>,
    new_root: RootDigest,
}

#[test]
fn a_published_block_verifies_after_json_and_postcard() {
    let mut tree = avlplus::Tree::new();
    tree.apply(&[Operation::insert(b"a", b"1"), Operation::insert(b"c", b"3")])
        .unwrap();
    let old_root = tree.root();
    let ops = vec![
        Operation::lookup(b"a"),
        Operation::insert(b"b", b"2"),
        Operation::insert(b"a", b"9"),
        Operation::remove(b"c"),
        Operation::remove_if_present(b"zz"),
        Operation::update(b"b", b""),
        Operation::upsert(b"", b"\xff"),
    ];
    let batch = tree.apply(&ops).unwrap();
    let block = Block {
        old_root,
        ops,
        proof: batch.proof,
        results: batch.results,
        new_root: batch.new_root,
    };
    let text = serde_json::to_string_pretty(&block).unwrap();
    let bin = postcard::to_allocvec(&block).unwrap();
    for read in [
        serde_json::from_str::<Block>(&text).unwrap(),
        postcard::from_bytes::<Block>(&bin).unwrap(),
    ] {
        let verified = Verifier::<Sha256>::new()
            .verify(&read.old_root, read.proof.as_bytes(), &read.ops)
            .unwrap();
        assert_eq!(verified.results, block.results);
        assert_eq!(verified.new_root, block.new_root);
        assert_eq!(read.results, block.results);
        assert_eq!(read.new_root, block.new_root);
    }
}

// ---------------------------------------------------------------------------------------------
// The fixtures spell everything as serde does

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn array<'a>(v: &'a Value, field: &str) -> &'a [Value] {
    v[field]
        .as_array()
        .unwrap_or_else(|| panic!("no array {field}"))
}

/// Reads `v` as a `T` and checks that serde writes it back as the same JSON.
fn same_json<T: serde::Serialize + serde::de::DeserializeOwned>(v: &Value, what: &str) -> T {
    let t: T = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{what} {v}: {e}"));
    assert_eq!(&serde_json::to_value(&t).unwrap(), v, "{what}");
    t
}

#[test]
fn fixture_batches_are_spelled_as_serde_spells_them() {
    let mut kinds = std::collections::BTreeSet::new();
    let mut outcomes = std::collections::BTreeSet::new();
    for (file, verify) in [
        ("sha256.json", verify_with::<Sha256> as fn(&Value)),
        ("blake3.json", verify_with::<Blake3>),
    ] {
        let f = fixture(file);
        let batches = array(&f, "batches");
        assert!(!batches.is_empty());
        for b in batches {
            let name = format!("{file} {}", b["name"]);
            for op in array(b, "ops") {
                let op: Operation = same_json(op, &name);
                kinds.insert(self::name(&op));
            }
            for r in array(b, "results") {
                let One(r) = same_json(r, &name);
                outcomes.insert(result_json(&r).to_string());
            }
            same_json::<RootDigest>(&b["old_root"], &name);
            same_json::<RootDigest>(&b["new_root"], &name);
            same_json::<Proof>(&b["proof"], &name);
            same_json::<Results>(&json!({ "results": b["results"] }), &name);
            verify(b);
        }
        for d in array(&f, "datasets") {
            same_json::<RootDigest>(&d["root"], "dataset root");
        }
    }
    // The comparison covers every operation kind (results: at least both failures and a find).
    assert_eq!(kinds.len(), 6, "operation kinds seen: {kinds:?}");
    for needed in ["\"key_exists\"", "\"key_missing\"", "{\"found\":"] {
        assert!(
            outcomes.iter().any(|o| o.contains(needed)),
            "no {needed} in {outcomes:?}"
        );
    }

    let store = fixture("store-v2.json");
    for block in array(&store, "blocks") {
        for op in array(block, "ops") {
            same_json::<Operation>(op, "store-v2 block");
        }
        same_json::<RootDigest>(&block["new_root"], "store-v2 block");
    }
}

/// Reads a fixture batch as a typed [`Block`] (unknown fields ignored) and replays it.
fn verify_with<H: TreeHasher>(batch: &Value) {
    let block: Block = serde_json::from_value(batch.clone()).unwrap();
    let verified = Verifier::<H>::new()
        .verify(&block.old_root, block.proof.as_bytes(), &block.ops)
        .unwrap_or_else(|e| panic!("{}: {e}", batch["name"]));
    assert_eq!(verified.results, block.results, "{}", batch["name"]);
    assert_eq!(verified.new_root, block.new_root, "{}", batch["name"]);
}

#[test]
fn field_order_is_op_key_value() {
    assert_eq!(
        serde_json::to_string(&Operation::upsert(b"k", b"")).unwrap(),
        r#"{"op":"upsert","key":"6b","value":""}"#
    );
    assert_eq!(
        serde_json::to_string(&Operation::remove_if_present(b"")).unwrap(),
        r#"{"op":"remove_if_present","key":""}"#
    );
}

// ---------------------------------------------------------------------------------------------
// Untrusted input

/// (name, JSON, a phrase the error must contain)
const BAD_OPERATIONS: &[(&str, &str, &str)] = &[
    (
        "odd-length key",
        r#"{"op":"lookup","key":"616"}"#,
        "odd number",
    ),
    (
        "odd-length value",
        r#"{"op":"insert","key":"61","value":"3"}"#,
        "odd number",
    ),
    (
        "non-hex key",
        r#"{"op":"lookup","key":"6g"}"#,
        "not a hex digit at byte 1",
    ),
    (
        "non-ascii key",
        r#"{"op":"lookup","key":"é0"}"#,
        "not a hex digit at byte 0",
    ),
    (
        "key with 0x prefix",
        r#"{"op":"lookup","key":"0x61"}"#,
        "not a hex digit at byte 1",
    ),
    (
        "key as bytes array",
        r#"{"op":"lookup","key":[97]}"#,
        "invalid type",
    ),
    (
        "key as number",
        r#"{"op":"lookup","key":61}"#,
        "invalid type",
    ),
    (
        "unknown op tag",
        r#"{"op":"delete","key":"61"}"#,
        "unknown variant `delete`",
    ),
    (
        "op tag in wrong case",
        r#"{"op":"Insert","key":"61","value":""}"#,
        "unknown variant",
    ),
    (
        "op tag as index",
        r#"{"op":1,"key":"61","value":""}"#,
        "invalid type",
    ),
    ("missing op", r#"{"key":"61"}"#, "missing field `op`"),
    ("missing key", r#"{"op":"remove"}"#, "missing field `key`"),
    (
        "missing value",
        r#"{"op":"update","key":"61"}"#,
        "missing field `value`",
    ),
    (
        "value on a lookup",
        r#"{"op":"lookup","key":"61","value":""}"#,
        "no `value` field",
    ),
    (
        "value on a remove",
        r#"{"op":"remove","key":"61","value":"00"}"#,
        "no `value` field",
    ),
    (
        "unknown field",
        r#"{"op":"lookup","key":"61","extra":1}"#,
        "unknown field `extra`",
    ),
    (
        "duplicate key",
        r#"{"op":"lookup","key":"61","key":"62"}"#,
        "duplicate field `key`",
    ),
    (
        "duplicate op",
        r#"{"op":"lookup","op":"remove","key":"61"}"#,
        "duplicate field `op`",
    ),
    ("null key", r#"{"op":"lookup","key":null}"#, "invalid type"),
    ("not an object", r#""lookup""#, "invalid type"),
    (
        "externally tagged",
        r#"{"lookup":"61"}"#,
        "unknown field `lookup`",
    ),
];

#[test]
fn named_malformed_operations_are_refused_with_a_clear_error() {
    for (name, json, phrase) in BAD_OPERATIONS {
        match serde_json::from_str::<Operation>(json) {
            Ok(op) => panic!("{name}: accepted as {op:?}"),
            Err(e) => assert!(e.to_string().contains(phrase), "{name}: {e}"),
        }
    }
}

#[test]
fn named_malformed_roots_results_and_proofs_are_refused() {
    let good = RootDigest::empty::<Sha256>().to_hex();
    let cases: &[(&str, String, &str)] = &[
        (
            "root of 64 digits",
            format!("\"{}\"", &good[..64]),
            "not 64 bytes",
        ),
        ("root of 68 digits", format!("\"{good}00\""), "not 68 bytes"),
        (
            "root of 65 digits",
            format!("\"{}\"", &good[..65]),
            "not 65 bytes",
        ),
        (
            "root with non-hex",
            format!("\"{}zz\"", &good[..64]),
            "not a hex digit at byte 64",
        ),
        ("empty root", "\"\"".into(), "not 0 bytes"),
        ("root as array", "[0]".into(), "invalid type"),
    ];
    for (name, json, phrase) in cases {
        match serde_json::from_str::<RootDigest>(json) {
            Ok(r) => panic!("{name}: accepted as {r}"),
            Err(e) => assert!(e.to_string().contains(phrase), "{name}: {e}"),
        }
    }
    // Binary: exactly 33 bytes.
    for len in [0usize, 32, 34] {
        let mut bin = vec![len as u8];
        bin.extend(vec![0u8; len]);
        assert!(
            postcard::from_bytes::<RootDigest>(&bin).is_err(),
            "{len} bytes"
        );
    }

    let results: &[(&str, &str, &str)] = &[
        ("unknown outcome", r#""found""#, "invalid type"),
        ("unknown unit", r#""deleted""#, "unknown variant `deleted`"),
        (
            "unknown failure",
            r#"{"failure":"key_gone"}"#,
            "unknown variant `key_gone`",
        ),
        ("odd found", r#"{"found":"0"}"#, "odd number"),
        (
            "non-hex found",
            r#"{"found":"zz"}"#,
            "not a hex digit at byte 0",
        ),
        (
            "serde's Ok form",
            r#"{"Ok":"inserted"}"#,
            "unknown variant `Ok`",
        ),
    ];
    for (name, json, phrase) in results {
        match serde_json::from_str::<One>(json) {
            Ok(r) => panic!("{name}: accepted as {r:?}"),
            Err(e) => assert!(e.to_string().contains(phrase), "{name}: {e}"),
        }
    }

    for (name, json, phrase) in [
        ("odd proof", r#""010""#, "odd number"),
        ("non-hex proof", r#""01 2""#, "not a hex digit at byte 2"),
    ] {
        match serde_json::from_str::<Proof>(json) {
            Ok(p) => panic!("{name}: accepted as {p:?}"),
            Err(e) => assert!(e.to_string().contains(phrase), "{name}: {e}"),
        }
    }
}

#[test]
fn binary_malformed_operations_are_refused() {
    let cases: &[(&str, &[u8])] = &[
        ("unknown variant index", &[6, 0]),
        ("truncated key", &[0, 3, b'a']),
        ("insert without value", &[1, 1, b'a']),
        ("empty input", &[]),
    ];
    for (name, bin) in cases {
        assert!(postcard::from_bytes::<Operation>(bin).is_err(), "{name}");
    }
}

#[test]
fn sizes_are_limited_by_check_not_by_deserialising() {
    let key = "00".repeat(SizeLimits::DEFAULT.max_key_len + 1);
    let op: Operation = serde_json::from_str(&format!(r#"{{"op":"lookup","key":"{key}"}}"#))
        .expect("a long key is still a byte string");
    assert_eq!(
        op.check(&SizeLimits::DEFAULT),
        Err(OperationError::KeyTooLong)
    );
    let value = "00".repeat(SizeLimits::DEFAULT.max_value_len + 1);
    let op: Operation =
        serde_json::from_str(&format!(r#"{{"op":"insert","key":"","value":"{value}"}}"#)).unwrap();
    assert_eq!(
        op.check(&SizeLimits::DEFAULT),
        Err(OperationError::ValueTooLong)
    );
}

#[test]
fn mangled_inputs_never_panic() {
    // Valid JSON and postcard for an operation, then bytes replaced, dropped or inserted: every
    // input gives a value or an error. A value read from mangled JSON re-serialises and
    // reads back the same.
    fn prop(op: ArbOp, edits: Vec<(u16, u8, u8)>) -> bool {
        let mut text = serde_json::to_vec(&op.0).unwrap_or_default();
        let mut bin = postcard::to_allocvec(&op.0).unwrap_or_default();
        for (at, kind, byte) in edits {
            for buf in [&mut text, &mut bin] {
                if buf.is_empty() {
                    continue;
                }
                let at = usize::from(at) % buf.len();
                match kind % 3 {
                    0 => buf[at] = byte,
                    1 => {
                        buf.remove(at);
                    }
                    _ => buf.insert(at, byte),
                }
            }
        }
        let _ = postcard::from_bytes::<Operation>(&bin);
        let _ = postcard::from_bytes::<Block>(&bin);
        match serde_json::from_slice::<Operation>(&text) {
            Ok(read) => {
                let again = serde_json::to_vec(&read).unwrap_or_default();
                serde_json::from_slice::<Operation>(&again).ok() == Some(read)
            }
            Err(_) => true,
        }
    }
    QuickCheck::new()
        .tests(2000)
        .quickcheck(prop as fn(ArbOp, Vec<(u16, u8, u8)>) -> bool);
}

// ---------------------------------------------------------------------------------------------
// Spellings written out independently of the library

fn name(op: &Operation) -> &'static str {
    match op {
        Operation::Lookup(_) => "lookup",
        Operation::Insert(..) => "insert",
        Operation::Update(..) => "update",
        Operation::Upsert(..) => "upsert",
        Operation::Remove(_) => "remove",
        Operation::RemoveIfPresent(_) => "remove_if_present",
    }
}

fn index(op: &Operation) -> u8 {
    match op {
        Operation::Lookup(_) => 0,
        Operation::Insert(..) => 1,
        Operation::Update(..) => 2,
        Operation::Upsert(..) => 3,
        Operation::Remove(_) => 4,
        Operation::RemoveIfPresent(_) => 5,
    }
}

/// As `tests/fixtures_gen/mod.rs` writes a result.
fn result_json(r: &OpResult) -> Value {
    match r {
        Ok(Outcome::Found(v)) => json!({ "found": hex(v) }),
        Ok(Outcome::NotFound) => json!("not_found"),
        Ok(Outcome::Inserted) => json!("inserted"),
        Ok(Outcome::Updated) => json!("updated"),
        Ok(Outcome::Removed) => json!("removed"),
        Err(Failure::KeyExists) => json!({ "failure": "key_exists" }),
        Err(Failure::KeyMissing) => json!({ "failure": "key_missing" }),
    }
}

/// Unsigned LEB128, as postcard writes lengths.
fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            return out;
        }
        out.push(low | 0x80);
    }
}
