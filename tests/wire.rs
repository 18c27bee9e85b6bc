//! The wire encoding of operations and results (`src/wire.rs`, `docs/wire-format.md`):
//! round trips, canonicality, named malformed inputs, and the spec's worked examples.

use std::path::PathBuf;

use avlplus::__internal::from_hex;
use avlplus::wire::{
    decode_operations, decode_results, encode_operations, encode_results, WireError, WireLimits,
    VERSION,
};
use avlplus::{Failure, OpResult, Operation, OperationError, Outcome, SizeLimits};
#[path = "common/arbitrary.rs"]
mod arbitrary;

use quickcheck::{Arbitrary, Gen, QuickCheck};

const LIMITS: WireLimits = WireLimits::DEFAULT;

fn bytes(g: &mut Gen) -> Vec<u8> {
    // Mostly short, sometimes long enough for a two-byte length.
    let len = match u8::arbitrary(g) % 8 {
        0 => 0,
        1 => 128 + usize::from(u8::arbitrary(g)),
        _ => usize::from(u8::arbitrary(g) % 40),
    };
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

fn quickcheck() -> QuickCheck {
    QuickCheck::new().tests(500)
}

#[test]
fn operations_round_trip() {
    fn prop(ops: Vec<ArbOp>) -> bool {
        let ops: Vec<Operation> = ops.into_iter().map(|o| o.0).collect();
        let bytes = encode_operations(&ops);
        bytes.first() == Some(&VERSION) && decode_operations(&bytes, &LIMITS) == Ok(ops)
    }
    quickcheck().quickcheck(prop as fn(Vec<ArbOp>) -> bool);
}

#[test]
fn results_round_trip() {
    fn prop(results: Vec<ArbResult>) -> bool {
        let results: Vec<OpResult> = results.into_iter().map(|r| r.0).collect();
        let bytes = encode_results(&results);
        bytes.first() == Some(&VERSION) && decode_results(&bytes, &LIMITS) == Ok(results)
    }
    quickcheck().quickcheck(prop as fn(Vec<ArbResult>) -> bool);
}

/// Whatever the bytes, decoding does not panic, and what it accepts is canonical: encoding it
/// again gives the same bytes.
#[test]
fn accepted_bytes_are_canonical() {
    fn prop(mut raw: Vec<u8>, ops: bool) -> bool {
        // Mostly near-valid inputs: a version byte and a small count in front.
        if let Some(first) = raw.first_mut() {
            *first = VERSION;
        }
        if let Some(count) = raw.get_mut(1) {
            *count %= 4;
        }
        if ops {
            decode_operations(&raw, &LIMITS).map_or(true, |o| encode_operations(&o) == raw)
        } else {
            decode_results(&raw, &LIMITS).map_or(true, |r| encode_results(&r) == raw)
        }
    }
    quickcheck()
        .tests(5000)
        .quickcheck(prop as fn(Vec<u8>, bool) -> bool);
}

/// Every proper prefix of a valid encoding is refused as truncated (never accepted, never a
/// different list).
#[test]
fn every_prefix_is_truncated() {
    fn prop(ops: Vec<ArbOp>, results: Vec<ArbResult>) -> bool {
        let ops: Vec<Operation> = ops.into_iter().map(|o| o.0).collect();
        let results: Vec<OpResult> = results.into_iter().map(|r| r.0).collect();
        let o = encode_operations(&ops);
        let r = encode_results(&results);
        (0..o.len()).all(|n| {
            matches!(
                decode_operations(&o[..n], &LIMITS),
                Err(WireError::Truncated | WireError::CountExceedsInput)
            )
        }) && (0..r.len()).all(|n| {
            matches!(
                decode_results(&r[..n], &LIMITS),
                Err(WireError::Truncated | WireError::CountExceedsInput)
            )
        })
    }
    quickcheck()
        .tests(100)
        .quickcheck(prop as fn(Vec<ArbOp>, Vec<ArbResult>) -> bool);
}

fn ops_err(bytes: &[u8]) -> WireError {
    decode_operations(bytes, &LIMITS).unwrap_err()
}

fn results_err(bytes: &[u8]) -> WireError {
    decode_results(bytes, &LIMITS).unwrap_err()
}

#[test]
fn truncated() {
    assert_eq!(ops_err(&[]), WireError::Truncated);
    assert_eq!(results_err(&[]), WireError::Truncated);
    assert_eq!(ops_err(&[0x01]), WireError::Truncated);
    // Insert with its key but no value length.
    assert_eq!(
        ops_err(&[0x01, 0x01, 0x01, 0x01, b'k']),
        WireError::Truncated
    );
    // A value announced as 3 bytes, 2 present.
    assert_eq!(
        results_err(&[0x01, 0x01, 0x00, 0x03, b'a', b'b']),
        WireError::Truncated
    );
}

#[test]
fn bad_version() {
    for v in [0x00, 0x02, 0xff] {
        assert_eq!(ops_err(&[v, 0x00]), WireError::UnsupportedVersion(v));
        assert_eq!(results_err(&[v, 0x00]), WireError::UnsupportedVersion(v));
    }
}

#[test]
fn bad_tag() {
    for tag in 0x06..=0xff {
        assert_eq!(
            ops_err(&[0x01, 0x01, tag, 0x00]),
            WireError::BadTag { index: 0, tag }
        );
    }
    for tag in 0x07..=0xff {
        assert_eq!(
            results_err(&[0x01, 0x02, 0x01, tag]),
            WireError::BadTag { index: 1, tag }
        );
    }
    // The tag is checked before the key: a bad tag with a huge length is still a bad tag.
    assert_eq!(
        ops_err(&[0x01, 0x01, 0x09, 0xff, 0xff, 0x03]),
        WireError::BadTag { index: 0, tag: 9 }
    );
}

#[test]
fn count_bomb() {
    // 2^40 items declared in six bytes: over the item limit.
    let bomb = [0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
    assert_eq!(ops_err(&bomb), WireError::TooManyItems);
    assert_eq!(results_err(&bomb), WireError::TooManyItems);
    // u64::MAX items.
    let max = [
        0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    ];
    assert_eq!(ops_err(&max), WireError::TooManyItems);
    // Under the limit, but more than the bytes can hold: refused before reserving anything.
    let unlimited = WireLimits::DEFAULT.max_count(usize::MAX);
    assert_eq!(
        decode_operations(&bomb, &unlimited),
        Err(WireError::CountExceedsInput)
    );
    assert_eq!(
        decode_results(&bomb, &unlimited),
        Err(WireError::CountExceedsInput)
    );
    // Exactly at the bound: three one-byte results fit in three bytes; two-byte operations
    // need six.
    assert_eq!(
        decode_results(&[0x01, 0x03, 0x01, 0x02, 0x03], &LIMITS),
        Ok(vec![
            Ok(Outcome::NotFound),
            Ok(Outcome::Inserted),
            Ok(Outcome::Updated)
        ])
    );
    assert_eq!(
        ops_err(&[0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00]),
        WireError::CountExceedsInput
    );
    // The count limit itself.
    let one = WireLimits::DEFAULT.max_count(1);
    let two = encode_operations(&[Operation::lookup(b"a"), Operation::lookup(b"b")]);
    assert_eq!(decode_operations(&two, &one), Err(WireError::TooManyItems));
}

#[test]
fn non_shortest_varint() {
    // The count 1 as 81 00.
    assert_eq!(
        ops_err(&[0x01, 0x81, 0x00, 0x00, 0x00]),
        WireError::BadVarint
    );
    // A key length 0 as 80 00.
    assert_eq!(
        ops_err(&[0x01, 0x01, 0x00, 0x80, 0x00]),
        WireError::BadVarint
    );
    // A found value's length 1 as 81 80 00.
    assert_eq!(
        results_err(&[0x01, 0x01, 0x00, 0x81, 0x80, 0x00, b'v']),
        WireError::BadVarint
    );
    // Eleven bytes.
    let mut long = vec![0x01];
    long.extend([0xff; 11]);
    assert_eq!(ops_err(&long), WireError::BadVarint);
}

#[test]
fn over_limit_key_and_value() {
    let sizes = SizeLimits {
        max_key_len: 4,
        max_value_len: 2,
    };
    let limits = WireLimits::DEFAULT.sizes(sizes);
    let at = encode_operations(&[Operation::insert(b"kkkk", b"vv")]);
    assert!(decode_operations(&at, &limits).is_ok());
    let key = encode_operations(&[Operation::lookup(b"a"), Operation::lookup(b"kkkkk")]);
    assert_eq!(
        decode_operations(&key, &limits),
        Err(WireError::TooLong {
            index: 1,
            error: OperationError::KeyTooLong
        })
    );
    let value = encode_operations(&[Operation::upsert(b"k", b"vvv")]);
    assert_eq!(
        decode_operations(&value, &limits),
        Err(WireError::TooLong {
            index: 0,
            error: OperationError::ValueTooLong
        })
    );
    let found = encode_results(&[Ok(Outcome::Found(b"vvv"[..].into()))]);
    assert_eq!(
        decode_results(&found, &limits),
        Err(WireError::TooLong {
            index: 0,
            error: OperationError::ValueTooLong
        })
    );
    // Key limits do not apply to results.
    let limits = WireLimits::DEFAULT.sizes(SizeLimits {
        max_key_len: 0,
        max_value_len: 3,
    });
    assert!(decode_results(&found, &limits).is_ok());
    // A length bomb: 1 GiB announced in a few bytes is refused on its length alone.
    assert_eq!(
        ops_err(&[0x01, 0x01, 0x00, 0x80, 0x80, 0x80, 0x80, 0x04]),
        WireError::TooLong {
            index: 0,
            error: OperationError::KeyTooLong
        }
    );
}

#[test]
fn trailing_bytes() {
    let mut ops = encode_operations(&[Operation::remove(b"x")]);
    ops.push(0x00);
    assert_eq!(ops_err(&ops), WireError::TrailingBytes);
    let mut results = encode_results(&[Err(Failure::KeyMissing)]);
    results.push(0x06);
    assert_eq!(results_err(&results), WireError::TrailingBytes);
}

#[test]
fn errors_display_and_keep_their_cause() {
    use std::error::Error as _;
    let e = WireError::TooLong {
        index: 3,
        error: OperationError::KeyTooLong,
    };
    assert_eq!(e.to_string(), "item 3: key longer than the limit");
    assert_eq!(
        e.source().map(|s| s.to_string()),
        Some(OperationError::KeyTooLong.to_string())
    );
    assert_eq!(
        WireError::BadTag { index: 0, tag: 9 }.to_string(),
        "item 0: unknown tag 0x09"
    );
    assert!(WireError::Truncated.source().is_none());
}

#[test]
fn limits_follow_the_verifier() {
    let limits = avlplus::Limits::PHONE.sizes(SizeLimits {
        max_key_len: 7,
        max_value_len: 9,
    });
    let wire = WireLimits::from(&limits);
    assert_eq!(wire.max_count, limits.max_operations);
    assert_eq!(wire.sizes, limits.sizes);
    assert_eq!(WireLimits::default(), WireLimits::DEFAULT);
}

// ---------------------------------------------------------------------------------------------
// docs/wire-format.md's worked examples.

fn spec() -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/wire-format.md"))
        .unwrap()
}

/// The lines of the first code block after `heading`.
fn block<'a>(spec: &'a str, heading: &str) -> Vec<&'a str> {
    let start = spec.find(heading).unwrap_or_else(|| panic!("no {heading}"));
    spec[start..]
        .lines()
        .skip_while(|l| !l.starts_with("```"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .collect()
}

/// The leading hex tokens of a line, joined, and the rest.
fn split_hex(line: &str) -> (Vec<u8>, String) {
    let mut hex = String::new();
    let mut words = line.split_whitespace().peekable();
    while let Some(w) = words.peek() {
        if from_hex(w).is_none() {
            break;
        }
        hex.push_str(w);
        words.next();
    }
    let rest: Vec<&str> = words.collect();
    (from_hex(&hex).unwrap(), rest.join(" "))
}

fn block_bytes(spec: &str, heading: &str) -> Vec<u8> {
    block(spec, heading)
        .iter()
        .flat_map(|l| split_hex(l).0)
        .collect()
}

#[test]
fn spec_examples_are_the_encoding() {
    let spec = spec();
    let ops = block_bytes(&spec, "### 5.1");
    assert_eq!(
        ops,
        encode_operations(&[
            Operation::lookup(b"alice"),
            Operation::insert(b"alice", b"100"),
            Operation::update(b"bob", b"7"),
            Operation::upsert(b"carol", b""),
            Operation::remove(b"dave"),
            Operation::remove_if_present(b""),
        ]),
        "docs/wire-format.md §5.1"
    );
    let results = block_bytes(&spec, "### 5.2");
    assert_eq!(
        results,
        encode_results(&[
            Ok(Outcome::Found(b"100"[..].into())),
            Ok(Outcome::Found(b""[..].into())),
            Ok(Outcome::NotFound),
            Ok(Outcome::Inserted),
            Ok(Outcome::Updated),
            Ok(Outcome::Removed),
            Err(Failure::KeyExists),
            Err(Failure::KeyMissing),
        ]),
        "docs/wire-format.md §5.2"
    );
    let two_byte = encode_operations(&[Operation::insert([0x6b; 200], [0x5a; 300])]);
    assert_eq!(&two_byte[..5], [0x01, 0x01, 0x01, 0xc8, 0x01]);
    assert_eq!(&two_byte[205..207], [0xac, 0x02]);
    assert!(spec.contains("`01 01 01 c8 01 6b×200 ac 02 5a×300`"));

    let refused = block(&spec, "### 5.4");
    assert!(refused.len() >= 8);
    for line in refused {
        let (bytes, said) = split_hex(line);
        let said = said.trim_start_matches("(no bytes)").trim();
        let expected = match said.find('}') {
            Some(end) => &said[..=end],
            None => said.split(':').next().unwrap().trim(),
        };
        let got = format!("{:?}", ops_err(&bytes));
        assert_eq!(got, expected, "docs/wire-format.md §5.4: {line}");
    }
}
