//! Builds the cross-implementation test vectors in `fixtures/` (one JSON file per hash, the
//! store records, and the wire encoding of operations and results).
//!
//! Shared by `examples/gen_fixtures.rs`, which writes the files, and `tests/fixtures.rs`, which
//! regenerates them in memory and fails if the committed files differ. The JSON is written by
//! hand (no serde) in a fixed layout, so regenerating is byte-for-byte deterministic.
//!
//! Layout of a file (every byte string is lower-case hex; every root is the 33-byte
//! `RootDigest` form, label then height):
//!
//! ```text
//! { "format", "version", "hash", "notes": [..],
//!   "primitives": { "empty", "values": [..], "leaves": [..], "internals": [..] },
//!   "datasets":   [ { "name", "description", "entries": [ {key, value} .. ], "root" } .. ],
//!   "batches":    [ { "name", "dataset", "description", "old_root", "ops": [..],
//!                     "proof", "results": [..], "new_root" } .. ] }
//! ```

use std::fmt::Write as _;

use avlplus::__internal::hex;
use avlplus::{Blake3, Failure, OpResult, Operation, Outcome, Sha256, Tree, TreeHasher};

/// File name and content of every fixture file, in a fixed order.
pub fn files() -> Vec<(&'static str, String)> {
    vec![
        ("sha256.json", render::<Sha256>()),
        ("blake3.json", render::<Blake3>()),
        ("store-v2.json", render_store()),
        ("wire.json", render_wire()),
    ]
}

/// The wire encoding of operations and results (docs/wire-format.md): lists with their bytes,
/// and malformed bytes with the error a decoder with the default limits must give.
pub fn render_wire() -> String {
    use avlplus::wire::{
        decode_operations, decode_results, encode_operations, encode_results, WireLimits,
    };
    let limits = WireLimits::DEFAULT;
    let long_key = vec![0x6b; 200];
    let long_value = vec![0x5a; 300];
    let operations: [(&str, &str, Vec<Operation>); 4] = [
        ("no_operations", "The empty list.", vec![]),
        (
            "one_of_each",
            "Every operation kind once, with the empty key and an empty value among them.",
            vec![
                Operation::lookup(b"alice"),
                Operation::insert(b"alice", b"100"),
                Operation::update(b"bob", b"7"),
                Operation::upsert(b"carol", b""),
                Operation::remove(b"dave"),
                Operation::remove_if_present(b""),
            ],
        ),
        (
            "two_byte_lengths",
            "A 200-byte key and a 300-byte value: lengths that need two-byte varints.",
            vec![Operation::insert(&long_key, &long_value)],
        ),
        (
            "fixture_batch",
            "The ops of sha256.json's batch sequential_16_mixed.",
            batches(&datasets())
                .into_iter()
                .find(|b| b.name == "sequential_16_mixed")
                .map(|b| b.ops)
                .unwrap_or_default(),
        ),
    ];
    let results: [(&str, &str, Vec<OpResult>); 3] = [
        ("no_results", "The empty list.", vec![]),
        (
            "one_of_each",
            "Every result kind once, with an empty found value among them.",
            vec![
                Ok(Outcome::Found(b"100"[..].into())),
                Ok(Outcome::Found(b""[..].into())),
                Ok(Outcome::NotFound),
                Ok(Outcome::Inserted),
                Ok(Outcome::Updated),
                Ok(Outcome::Removed),
                Err(Failure::KeyExists),
                Err(Failure::KeyMissing),
            ],
        ),
        (
            "two_byte_length",
            "A found value of 300 bytes.",
            vec![Ok(Outcome::Found(long_value.clone().into()))],
        ),
    ];
    let one_of_each = encode_operations(&operations[1].2);
    let malformed_operations: Vec<(&str, &str, Vec<u8>)> =
        vec![
        ("empty_input", "No bytes at all.", vec![]),
        (
            "truncated",
            "one_of_each without its last byte.",
            one_of_each[..one_of_each.len() - 1].to_vec(),
        ),
        ("unsupported_version", "Version 2.", vec![0x02, 0x00]),
        ("bad_tag", "Tag 0x06 (not an operation).", vec![0x01, 0x01, 0x06, 0x00]),
        (
            "count_bomb",
            "A count of 2^40 in six bytes.",
            vec![0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20],
        ),
        (
            "count_exceeds_input",
            "A count of 3 (under the limit) with room for one operation.",
            vec![0x01, 0x03, 0x00, 0x00],
        ),
        (
            "count_not_shortest",
            "The count 1 as the two-byte varint 81 00.",
            vec![0x01, 0x81, 0x00, 0x00, 0x00],
        ),
        (
            "length_not_shortest",
            "A key length 0 as the two-byte varint 80 00.",
            vec![0x01, 0x01, 0x00, 0x80, 0x00],
        ),
        (
            "key_too_long",
            "A key length of 1025 (one over the default limit), refused before its bytes are read.",
            vec![0x01, 0x01, 0x00, 0x81, 0x08],
        ),
        (
            "value_too_long",
            "An insert whose value length is 65537 (one over the default limit).",
            vec![0x01, 0x01, 0x01, 0x01, 0x6b, 0x81, 0x80, 0x04],
        ),
        (
            "trailing_byte",
            "The empty list followed by one byte.",
            vec![0x01, 0x00, 0x00],
        ),
    ];
    let malformed_results: Vec<(&str, &str, Vec<u8>)> = vec![
        ("empty_input", "No bytes at all.", vec![]),
        (
            "truncated",
            "A found value of 3 bytes with 2 present.",
            vec![0x01, 0x01, 0x00, 0x03, 0x31, 0x30],
        ),
        ("unsupported_version", "Version 0.", vec![0x00, 0x00]),
        (
            "bad_tag",
            "Tag 0x07 (not a result).",
            vec![0x01, 0x01, 0x07],
        ),
        (
            "count_bomb",
            "A count of 2^40 in six bytes.",
            vec![0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20],
        ),
        (
            "count_exceeds_input",
            "A count of 2 with room for one result.",
            vec![0x01, 0x02, 0x01],
        ),
        (
            "value_too_long",
            "A found value length of 65537 (one over the default limit).",
            vec![0x01, 0x01, 0x00, 0x81, 0x80, 0x04],
        ),
        (
            "trailing_byte",
            "One result followed by one byte.",
            vec![0x01, 0x01, 0x01, 0x01],
        ),
    ];

    let mut out = String::new();
    out.push_str("{\n");
    out.push_str("  \"format\": \"avlplus wire vectors\",\n");
    let _ = writeln!(out, "  \"version\": {},", avlplus::wire::VERSION);
    out.push_str("  \"notes\": [\n");
    for (i, note) in WIRE_NOTES.iter().enumerate() {
        let _ = writeln!(out, "    {}{}", string(note), comma(i, WIRE_NOTES.len()));
    }
    out.push_str("  ],\n");
    out.push_str("  \"operations\": [\n");
    for (i, (name, description, ops)) in operations.iter().enumerate() {
        let items: Vec<String> = ops.iter().map(op_json).collect();
        let _ = writeln!(
            out,
            "    {{\"name\": {}, \"description\": {}, \"ops\": [{}], \"bytes\": \"{}\"}}{}",
            string(name),
            string(description),
            items.join(", "),
            hex(&encode_operations(ops)),
            comma(i, operations.len())
        );
    }
    out.push_str("  ],\n");
    out.push_str("  \"results\": [\n");
    for (i, (name, description, list)) in results.iter().enumerate() {
        let items: Vec<String> = list.iter().map(result_json).collect();
        let _ = writeln!(
            out,
            "    {{\"name\": {}, \"description\": {}, \"results\": [{}], \"bytes\": \"{}\"}}{}",
            string(name),
            string(description),
            items.join(", "),
            hex(&encode_results(list)),
            comma(i, results.len())
        );
    }
    out.push_str("  ],\n");
    let malformed = |out: &mut String, key: &str, cases: &[(&str, &str, Vec<u8>)], ops: bool| {
        let _ = writeln!(out, "  \"{key}\": [");
        for (i, (name, description, bytes)) in cases.iter().enumerate() {
            let error = if ops {
                decode_operations(bytes, &limits).map(|_| ())
            } else {
                decode_results(bytes, &limits).map(|_| ())
            };
            let Err(error) = error else {
                panic!("malformed wire vector {name} decodes");
            };
            let _ = writeln!(
                out,
                "    {{\"name\": {}, \"description\": {}, \"bytes\": \"{}\", \"error\": {}}}{}",
                string(name),
                string(description),
                hex(bytes),
                string(&format!("{error:?}")),
                comma(i, cases.len())
            );
        }
    };
    malformed(
        &mut out,
        "malformed_operations",
        &malformed_operations,
        true,
    );
    out.push_str("  ],\n");
    malformed(&mut out, "malformed_results", &malformed_results, false);
    out.push_str("  ]\n");
    out.push_str("}\n");
    out
}

const WIRE_NOTES: &[&str] = &[
    "All byte strings are lower-case hex. The encoding is specified in docs/wire-format.md.",
    "Every bytes field of operations and results is the one encoding of its list: a decoder must give back the list, and an encoder must write exactly these bytes.",
    "Malformed bytes are decoded with the default limits (2^20 items, keys up to 1024 bytes, values up to 65536 bytes); error is the Rust WireError's Debug form.",
    "Ops and results are spelled as in sha256.json.",
];

/// A small store, table by table: the byte-exact records of store format 2
/// (docs/store-format.md), after three commits with two versions kept (so one version was
/// collected).
pub fn render_store() -> String {
    use avlplus::store::{MemoryStore, StoreBackend, StoreConfig, Table};
    use std::sync::Arc;
    let store = Arc::new(MemoryStore::new());
    let config = StoreConfig::DEFAULT.keep_versions(2);
    let mut tree: Tree<Sha256> = Tree::create_store(store.clone(), config).unwrap_or_else(|e| {
        panic!("create: {e}");
    });
    let blocks: [&[Operation]; 3] = [
        &[
            Operation::insert(b"a", b"1"),
            Operation::insert(b"b", b"2"),
            Operation::insert(b"c", b"3"),
        ],
        &[Operation::update(b"b", b"22"), Operation::remove(b"c")],
        &[Operation::insert(b"d", b"4")],
    ];
    let mut roots = Vec::new();
    for ops in blocks {
        let b = tree.apply(ops).unwrap_or_else(|e| panic!("apply: {e}"));
        roots.push(b.new_root);
    }
    let mut out = String::new();
    out.push_str("{\n");
    out.push_str("  \"format\": \"avlplus store records\",\n");
    out.push_str("  \"version\": 2,\n");
    out.push_str("  \"hash\": \"sha256\",\n");
    out.push_str("  \"keep_versions\": 2,\n");
    out.push_str("  \"blocks\": [\n");
    for (i, ops) in blocks.iter().enumerate() {
        let ops: Vec<String> = ops.iter().map(op_json).collect();
        let _ = writeln!(
            out,
            "    {{\"version\": {}, \"ops\": [{}], \"new_root\": \"{}\"}}{}",
            i + 1,
            ops.join(", "),
            hex(&roots[i].to_bytes()),
            comma(i, blocks.len())
        );
    }
    out.push_str("  ],\n");
    out.push_str("  \"tables\": {\n");
    for (ti, table) in Table::ALL.iter().enumerate() {
        let rows = store
            .scan(*table, &[], &[0xff; 64], usize::MAX)
            .unwrap_or_else(|e| panic!("scan: {e}"));
        let _ = writeln!(out, "    {}: [", string(table.name()));
        for (i, (k, v)) in rows.iter().enumerate() {
            let _ = writeln!(
                out,
                "      {{\"key\": \"{}\", \"value\": \"{}\"}}{}",
                hex(k),
                hex(v),
                comma(i, rows.len())
            );
        }
        let _ = writeln!(out, "    ]{}", comma(ti, Table::ALL.len()));
    }
    out.push_str("  }\n}\n");
    out
}

/// The fixture file for hash `H`.
pub fn render<H: TreeHasher>() -> String {
    let datasets = datasets();
    let mut out = String::new();
    out.push_str("{\n");
    out.push_str("  \"format\": \"avlplus test vectors\",\n");
    out.push_str("  \"version\": 1,\n");
    let _ = writeln!(out, "  \"hash\": {},", string(H::NAME));
    out.push_str("  \"notes\": [\n");
    let notes = NOTES;
    for (i, note) in notes.iter().enumerate() {
        let _ = writeln!(out, "    {}{}", string(note), comma(i, notes.len()));
    }
    out.push_str("  ],\n");
    render_primitives::<H>(&mut out);
    out.push_str("  \"datasets\": [\n");
    for (i, d) in datasets.iter().enumerate() {
        let tree = build::<H>(&d.entries);
        out.push_str("    {\n");
        let _ = writeln!(out, "      \"name\": {},", string(d.name));
        let _ = writeln!(out, "      \"description\": {},", string(d.description));
        out.push_str("      \"entries\": [");
        for (j, (k, v)) in d.entries.iter().enumerate() {
            let _ = write!(
                out,
                "\n        {{\"key\": \"{}\", \"value\": \"{}\"}}{}",
                hex(k),
                hex(v),
                comma(j, d.entries.len())
            );
        }
        if !d.entries.is_empty() {
            out.push_str("\n      ");
        }
        out.push_str("],\n");
        let _ = writeln!(out, "      \"root\": \"{}\"", tree.root().to_hex());
        let _ = writeln!(out, "    }}{}", comma(i, datasets.len()));
    }
    out.push_str("  ],\n");
    let batches = batches(&datasets);
    out.push_str("  \"batches\": [\n");
    for (i, b) in batches.iter().enumerate() {
        let Some(d) = datasets.iter().find(|d| d.name == b.dataset) else {
            panic!("batch {} names an unknown dataset {}", b.name, b.dataset);
        };
        let tree = build::<H>(&d.entries);
        let proven = match tree.prove(&b.ops) {
            Ok(p) => p,
            Err(e) => panic!("batch {}: {e}", b.name),
        };
        out.push_str("    {\n");
        let _ = writeln!(out, "      \"name\": {},", string(b.name));
        let _ = writeln!(out, "      \"dataset\": {},", string(b.dataset));
        let _ = writeln!(out, "      \"description\": {},", string(b.description));
        let _ = writeln!(out, "      \"old_root\": \"{}\",", proven.old_root.to_hex());
        out.push_str("      \"ops\": [\n");
        for (j, op) in b.ops.iter().enumerate() {
            let _ = writeln!(out, "        {}{}", op_json(op), comma(j, b.ops.len()));
        }
        out.push_str("      ],\n");
        let _ = writeln!(
            out,
            "      \"proof\": \"{}\",",
            hex(proven.proof.as_bytes())
        );
        out.push_str("      \"results\": [\n");
        for (j, r) in proven.results.iter().enumerate() {
            let _ = writeln!(
                out,
                "        {}{}",
                result_json(r),
                comma(j, proven.results.len())
            );
        }
        out.push_str("      ],\n");
        let _ = writeln!(out, "      \"new_root\": \"{}\"", proven.new_root.to_hex());
        let _ = writeln!(out, "    }}{}", comma(i, batches.len()));
    }
    out.push_str("  ]\n");
    out.push_str("}\n");
    out
}

const NOTES: &[&str] = &[
    "All byte strings are lower-case hex. Roots are the 33-byte RootDigest form: 32-byte label, then the height (1 byte).",
    "A dataset's tree is built from the empty tree by inserting its entries one at a time in the order listed (AVL+ shapes depend on insertion order).",
    "Every batch starts from the state of its dataset; batches are independent of each other.",
    "A verifier holding old_root replays ops on proof and must get exactly results and new_root. Proof bytes are the canonical v1 encoding (docs/proof-format.md).",
    "Results: {\"found\": value} | \"not_found\" | \"inserted\" | \"updated\" | \"removed\" | {\"failure\": \"key_exists\" | \"key_missing\"}.",
    "Primitives: label = H(preimage); with BLAKE3, internal nodes instead give key and input, label = BLAKE3 keyed hash of input under key, key = BLAKE3(0x01 || balance byte). Tags: 0x00 leaf, 0x01 internal, 0x02 empty tree, 0x03 value digest; lengths are shortest-form unsigned LEB128.",
];

fn comma(i: usize, len: usize) -> &'static str {
    if i + 1 < len {
        ","
    } else {
        ""
    }
}

/// A JSON string literal. Fixture text is plain ASCII; anything else is escaped.
fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

fn op_json(op: &Operation) -> String {
    let (name, key, value) = match op {
        Operation::Lookup(k) => ("lookup", k, None),
        Operation::Insert(k, v) => ("insert", k, Some(v)),
        Operation::Update(k, v) => ("update", k, Some(v)),
        Operation::Upsert(k, v) => ("upsert", k, Some(v)),
        Operation::Remove(k) => ("remove", k, None),
        Operation::RemoveIfPresent(k) => ("remove_if_present", k, None),
    };
    match value {
        Some(v) => format!(
            "{{\"op\": \"{name}\", \"key\": \"{}\", \"value\": \"{}\"}}",
            hex(key),
            hex(v)
        ),
        None => format!("{{\"op\": \"{name}\", \"key\": \"{}\"}}", hex(key)),
    }
}

fn result_json(r: &OpResult) -> String {
    match r {
        Ok(Outcome::Found(v)) => format!("{{\"found\": \"{}\"}}", hex(v)),
        Ok(Outcome::NotFound) => "\"not_found\"".into(),
        Ok(Outcome::Inserted) => "\"inserted\"".into(),
        Ok(Outcome::Updated) => "\"updated\"".into(),
        Ok(Outcome::Removed) => "\"removed\"".into(),
        Err(Failure::KeyExists) => "{\"failure\": \"key_exists\"}".into(),
        Err(Failure::KeyMissing) => "{\"failure\": \"key_missing\"}".into(),
    }
}

fn render_primitives<H: TreeHasher>(out: &mut String) {
    out.push_str("  \"primitives\": {\n");
    let _ = writeln!(
        out,
        "    \"empty\": {{\"preimage\": \"02\", \"label\": \"{}\"}},",
        hex(&H::empty())
    );

    let values: [&[u8]; 4] = [b"", b"v", &[0xab; 32], &[0x5a; 200]];
    out.push_str("    \"values\": [\n");
    for (i, v) in values.iter().enumerate() {
        let mut pre = vec![0x03];
        pre.extend_from_slice(v);
        let _ = writeln!(
            out,
            "      {{\"value\": \"{}\", \"preimage\": \"{}\", \"digest\": \"{}\"}}{}",
            hex(v),
            hex(&pre),
            hex(&H::value(v)),
            comma(i, values.len())
        );
    }
    out.push_str("    ],\n");

    // (key, next, value): the empty key, a last leaf, a key whose length needs a two-byte
    // varint (200 = 0xc8 0x01).
    let long_key = [0x6b; 200];
    let leaves: [LeafVector; 4] = [
        (b"alice", Some(b"bob"), b"100"),
        (b"zed", None, b""),
        (b"", Some(b"\x00"), &[0xab; 32]),
        (&long_key, Some(b"l"), b"v"),
    ];
    out.push_str("    \"leaves\": [\n");
    for (i, (key, next, value)) in leaves.iter().enumerate() {
        let vd = H::value(value);
        let mut pre = vec![0x00];
        push_len(&mut pre, key.len());
        pre.extend_from_slice(key);
        match next {
            None => pre.push(0x00),
            Some(n) => {
                pre.push(0x01);
                push_len(&mut pre, n.len());
                pre.extend_from_slice(n);
            }
        }
        pre.extend_from_slice(&vd);
        let next_json = match next {
            Some(n) => format!("\"{}\"", hex(n)),
            None => "null".into(),
        };
        let _ = writeln!(
            out,
            "      {{\"key\": \"{}\", \"next\": {next_json}, \"value\": \"{}\", \"value_digest\": \"{}\", \"preimage\": \"{}\", \"label\": \"{}\"}}{}",
            hex(key),
            hex(value),
            hex(&vd),
            hex(&pre),
            hex(&H::leaf(key, *next, &vd)),
            comma(i, leaves.len())
        );
    }
    out.push_str("    ],\n");

    let left = H::leaf(b"a", Some(b"b"), &H::value(b"1"));
    let right = H::leaf(b"b", None, &H::value(b"2"));
    let internals: [(i8, [u8; 32], [u8; 32]); 3] = [
        (0, left, right),
        (-1, H::empty(), left),
        (1, right, H::empty()),
    ];
    out.push_str("    \"internals\": [\n");
    for (i, (balance, l, r)) in internals.iter().enumerate() {
        let mut pre = vec![0x01, *balance as u8];
        pre.extend_from_slice(l);
        pre.extend_from_slice(r);
        // BLAKE3 moves the two-byte prefix into a key (docs/proof-format.md §2.2).
        let how = if H::NAME == "blake3" {
            let key = blake3::hash(&pre[..2]);
            format!(
                "\"key\": \"{}\", \"input\": \"{}\"",
                hex(key.as_bytes()),
                hex(&pre[2..])
            )
        } else {
            format!("\"preimage\": \"{}\"", hex(&pre))
        };
        let _ = writeln!(
            out,
            "      {{\"balance\": {balance}, \"left\": \"{}\", \"right\": \"{}\", {how}, \"label\": \"{}\"}}{}",
            hex(l),
            hex(r),
            hex(&H::internal(*balance, l, r)),
            comma(i, internals.len())
        );
    }
    out.push_str("    ]\n");
    out.push_str("  },\n");
}

/// Shortest-form unsigned LEB128, written out here rather than taken from the crate so that
/// the preimages in the file are built independently of `TreeHasher::leaf`.
fn push_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Key, next key and value of a leaf primitive.
type LeafVector<'a> = (&'a [u8], Option<&'a [u8]>, &'a [u8]);

struct Dataset {
    name: &'static str,
    description: &'static str,
    entries: Entries,
}

struct Batch {
    name: &'static str,
    dataset: &'static str,
    description: &'static str,
    ops: Vec<Operation>,
}

fn build<H: TreeHasher>(entries: &Entries) -> Tree<H> {
    let mut tree = Tree::<H>::empty();
    let ops: Vec<Operation> = entries
        .iter()
        .map(|(k, v)| Operation::insert(k, v))
        .collect();
    match tree.apply_unproven(&ops) {
        Ok(results) => assert!(
            results.iter().all(|r| *r == Ok(Outcome::Inserted)),
            "dataset keys must be distinct"
        ),
        Err(e) => panic!("building a dataset: {e}"),
    }
    tree
}

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fixed, and easy to reimplement.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Value lengths cycled through by the generated datasets: empty, short, exactly one digest,
/// one byte over a digest (withheld from proofs unless read), long.
const VALUE_LENS: [usize; 5] = [0, 8, 32, 33, 128];

fn seq_key(i: u32) -> Vec<u8> {
    i.to_be_bytes().to_vec()
}

fn seq_value(i: u32) -> Vec<u8> {
    let len = VALUE_LENS[i as usize % VALUE_LENS.len()];
    (0..len)
        .map(|j| (i as u8).wrapping_mul(16) ^ j as u8)
        .collect()
}

fn random_entries() -> Entries {
    let mut rng = SplitMix64(0x6176_6c70_6c75_7301);
    let mut seen = std::collections::BTreeSet::new();
    let mut entries = Vec::new();
    while entries.len() < 200 {
        // The empty key first; then lengths 1..=40, skewed short so that short keys collide
        // with prefixes of long ones.
        let key = if entries.is_empty() {
            Vec::new()
        } else {
            let len = match rng.below(4) {
                0 => 1 + rng.below(3),
                _ => 1 + rng.below(40),
            };
            rng.bytes(len as usize)
        };
        if !seen.insert(key.clone()) {
            continue;
        }
        let value = rng.bytes(VALUE_LENS[entries.len() % VALUE_LENS.len()]);
        entries.push((key, value));
    }
    entries
}

fn datasets() -> Vec<Dataset> {
    vec![
        Dataset {
            name: "empty",
            description: "The empty tree.",
            entries: Vec::new(),
        },
        Dataset {
            name: "one_key",
            description: "A single leaf (height 0).",
            entries: vec![(b"key".to_vec(), b"value".to_vec())],
        },
        Dataset {
            name: "four_keys",
            description: "Keys a, b, c, d (one byte each) with values 1, 2, 3, 4, inserted in that order.",
            entries: [b"a", b"b", b"c", b"d"]
                .iter()
                .zip([b"1", b"2", b"3", b"4"])
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect(),
        },
        Dataset {
            name: "sequential_16",
            description: "Keys 0..16 as 4-byte big-endian integers, inserted in order; value lengths cycle 0, 8, 32, 33, 128.",
            entries: (0..16).map(|i| (seq_key(i), seq_value(i))).collect(),
        },
        Dataset {
            name: "random_200",
            description: "200 distinct keys from splitmix64 (seed 0x6176_6c70_6c75_7301): the empty key, then lengths 1..=40; value lengths cycle 0, 8, 32, 33, 128.",
            entries: random_entries(),
        },
    ]
}

fn batches(datasets: &[Dataset]) -> Vec<Batch> {
    let random = datasets
        .iter()
        .find(|d| d.name == "random_200")
        .map(|d| d.entries.clone())
        .unwrap_or_default();
    let mut rng = SplitMix64(0x6261_7463_6865_7301);
    let pick = |rng: &mut SplitMix64| random[rng.below(random.len() as u64) as usize].0.clone();
    let absent = |rng: &mut SplitMix64| {
        let len = 1 + rng.below(40) as usize;
        rng.bytes(len)
    };

    let random_lookups = {
        let mut ops = vec![Operation::lookup(b"")];
        for i in 0..15 {
            ops.push(Operation::lookup(if i % 3 == 2 {
                absent(&mut rng)
            } else {
                pick(&mut rng)
            }));
        }
        ops
    };
    let random_inserts = (0..20)
        .map(|i| Operation::insert(absent(&mut rng), rng.bytes(VALUE_LENS[i % 5])))
        .collect();
    let random_mixed = {
        let mut ops = Vec::new();
        for i in 0..40 {
            let key = if i % 4 == 3 {
                absent(&mut rng)
            } else {
                pick(&mut rng)
            };
            let value = rng.bytes(VALUE_LENS[i % 5]);
            ops.push(match rng.below(6) {
                0 => Operation::lookup(key),
                1 => Operation::insert(key, value),
                2 => Operation::update(key, value),
                3 => Operation::upsert(key, value),
                4 => Operation::remove(key),
                _ => Operation::remove_if_present(key),
            });
        }
        ops
    };

    vec![
        Batch {
            name: "empty_lookups",
            dataset: "empty",
            description: "Reads and failing writes on the empty tree.",
            ops: vec![
                Operation::lookup(b"key"),
                Operation::remove_if_present(b""),
                Operation::update(b"key", b"x"),
                Operation::remove(b"key"),
            ],
        },
        Batch {
            name: "empty_inserts",
            dataset: "empty",
            description: "Builds a three-key tree from nothing, then reads it.",
            ops: vec![
                Operation::insert(b"b", b"2"),
                Operation::insert(b"a", b"1"),
                Operation::upsert(b"c", b"3"),
                Operation::lookup(b"a"),
                Operation::insert(b"b", b"again"),
            ],
        },
        Batch {
            name: "one_key_lookups",
            dataset: "one_key",
            description: "The key, a key before it, a key after it.",
            ops: vec![
                Operation::lookup(b"key"),
                Operation::lookup(b"a"),
                Operation::lookup(b"z"),
            ],
        },
        Batch {
            name: "one_key_remove",
            dataset: "one_key",
            description: "Removes the only key: the new root is the empty tree.",
            ops: vec![Operation::remove(b"key"), Operation::lookup(b"key")],
        },
        Batch {
            name: "four_keys_lookup",
            dataset: "four_keys",
            description: "One lookup: the small proof annotated in docs/proof-format.md.",
            ops: vec![Operation::lookup(b"c")],
        },
        Batch {
            name: "four_keys_insert",
            dataset: "four_keys",
            description: "Inserts before the first key, between keys and after the last key.",
            ops: vec![
                Operation::insert(b"", b"0"),
                Operation::insert(b"bb", b"22"),
                Operation::insert(b"e", b"5"),
            ],
        },
        Batch {
            name: "sequential_16_lookups",
            dataset: "sequential_16",
            description: "Present keys (short and long values), absent keys between, before and after all keys.",
            ops: vec![
                Operation::lookup(seq_key(0)),
                Operation::lookup(seq_key(3)),
                Operation::lookup(seq_key(9)),
                Operation::lookup(seq_key(15)),
                Operation::lookup(b"\x00\x00\x00\x05\x00"),
                Operation::lookup(b""),
                Operation::lookup(b"\xff"),
            ],
        },
        Batch {
            name: "sequential_16_inserts",
            dataset: "sequential_16",
            description: "Insert-only: keys 16..24 appended (rotations), and one key between 7 and 8.",
            ops: (16..24)
                .map(|i| Operation::insert(seq_key(i), seq_value(i)))
                .chain([Operation::insert(b"\x00\x00\x00\x07\x80", b"between")])
                .collect(),
        },
        Batch {
            name: "sequential_16_mixed",
            dataset: "sequential_16",
            description: "Every operation kind, including failing ones and reads of values written earlier in the batch.",
            ops: vec![
                Operation::insert(seq_key(4), b"dup"),
                Operation::update(seq_key(99), b"nope"),
                Operation::remove(seq_key(99)),
                Operation::remove_if_present(seq_key(98)),
                Operation::update(seq_key(3), [0x33; 40]),
                Operation::lookup(seq_key(3)),
                Operation::upsert(seq_key(5), b"five"),
                Operation::upsert(seq_key(40), b"forty"),
                Operation::remove(seq_key(8)),
                Operation::lookup(seq_key(8)),
                Operation::remove_if_present(seq_key(11)),
                Operation::insert(seq_key(8), b"back"),
                Operation::lookup(seq_key(8)),
                Operation::lookup(seq_key(12)),
            ],
        },
        Batch {
            name: "sequential_16_remove_all",
            dataset: "sequential_16",
            description: "Removes every key in a shuffled order: the new root is the empty tree.",
            ops: [7u32, 0, 15, 3, 11, 8, 1, 14, 5, 10, 2, 13, 6, 9, 4, 12]
                .iter()
                .map(|i| Operation::remove(seq_key(*i)))
                .collect(),
        },
        Batch {
            name: "random_200_lookups",
            dataset: "random_200",
            description: "The empty key and 15 pseudo-random lookups, about a third of them absent.",
            ops: random_lookups,
        },
        Batch {
            name: "random_200_inserts",
            dataset: "random_200",
            description: "Twenty pseudo-random inserts of absent keys.",
            ops: random_inserts,
        },
        Batch {
            name: "random_200_mixed",
            dataset: "random_200",
            description: "Forty pseudo-random operations of every kind, hits and misses.",
            ops: random_mixed,
        },
    ]
}
