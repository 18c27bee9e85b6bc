//! The committed test vectors in `fixtures/`: that they are current, and that they hold.
//!
//! - The generator's output must equal the committed files byte for byte, so a change to
//!   hashing, the proof format or the tree's shapes cannot slip in unnoticed.
//! - Independently of the generator, the committed JSON is parsed (with the small reader
//!   below) and every vector is checked against the library: hash primitives against their
//!   preimages, dataset roots against a tree built from the entries, and every batch replayed
//!   through the [`Verifier`] from its stated old root.

mod fixtures_gen;

use std::path::PathBuf;

use avlplus::__internal::from_hex;
use avlplus::proof::{decode, DecodeLimits};
use avlplus::{
    Blake3, Failure, Limits, OpResult, Operation, Outcome, RootDigest, Sha256, Tree, TreeHasher,
    Verifier,
};

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn committed(name: &str) -> String {
    let path = fixture_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run `cargo run --example gen_fixtures`",
            path.display()
        )
    })
}

#[test]
fn committed_fixtures_match_the_generator() {
    for (name, generated) in fixtures_gen::files() {
        let on_disk = committed(name);
        if on_disk != generated {
            let line = on_disk
                .lines()
                .zip(generated.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| on_disk.lines().count().min(generated.lines().count()));
            panic!(
                "fixtures/{name} differs from the generator's output (first at line {}). \
                 If the change is intended, run `cargo run --example gen_fixtures` and review \
                 the diff of fixtures/ before committing it.",
                line + 1
            );
        }
    }
}

#[test]
fn sha256_vectors_hold() {
    check_vectors::<Sha256>("sha256.json");
}

#[test]
fn blake3_vectors_hold() {
    check_vectors::<Blake3>("blake3.json");
}

/// The committed store records (format 2) open as a store, at the stated head, with the
/// stated roots, and answer like the blocks say; one damaged byte in any record is refused.
#[test]
fn store_vectors_hold() {
    use avlplus::store::{MemoryStore, StoreBackend, StoreConfig, Table, WriteBatch};
    use std::sync::Arc;
    let json = Json::parse(&committed("store-v2.json")).unwrap();
    assert_eq!(json.get("version").num(), 2);
    let config = StoreConfig::DEFAULT.keep_versions(2);
    let rows: Vec<(Table, Vec<u8>, Vec<u8>)> = Table::ALL
        .iter()
        .flat_map(|t| {
            json.get("tables")
                .get(t.name())
                .arr()
                .iter()
                .map(|r| (*t, r.get("key").bytes(), r.get("value").bytes()))
                .collect::<Vec<_>>()
        })
        .collect();
    let fill = |rows: &[(Table, Vec<u8>, Vec<u8>)]| {
        let store = Arc::new(MemoryStore::new());
        let mut b = WriteBatch::default();
        for (t, k, v) in rows {
            b.put(*t, k.clone(), v.clone());
        }
        store.write(b, true).unwrap();
        store
    };
    let tree: Tree<Sha256> = Tree::open_store(fill(&rows), config).unwrap();
    let blocks = json.get("blocks").arr();
    let last = blocks.last().unwrap();
    assert_eq!(tree.version(), last.get("version").num() as u64);
    assert_eq!(tree.root(), last.get("new_root").root());
    assert_eq!(tree.kept_versions(), Some(2..=3));
    for b in &blocks[1..] {
        let v = b.get("version").num() as u64;
        assert_eq!(tree.snapshot(v).unwrap().root(), b.get("new_root").root());
    }
    assert_eq!(tree.get(b"b").unwrap().as_deref(), Some(&b"22"[..]));
    assert_eq!(tree.get(b"c").unwrap(), None);
    tree.audit().unwrap();
    // Every record is checked: one flipped byte anywhere is refused on open or on read.
    for i in 0..rows.len() {
        let mut damaged = rows.clone();
        damaged[i].2[0] ^= 1;
        let refused = match Tree::<Sha256>::open_store(fill(&damaged), config) {
            Err(_) => true,
            Ok(t) => t.audit().is_err(),
        };
        assert!(refused, "damaged record {i} accepted");
    }
}

/// The committed wire vectors decode to their lists and are those lists' encoding; every
/// malformed one is refused with its error.
#[test]
fn wire_vectors_hold() {
    use avlplus::wire::{
        decode_operations, decode_results, encode_operations, encode_results, WireLimits,
    };
    let doc = Json::parse(&committed("wire.json")).unwrap();
    assert_eq!(doc.get("version").num(), i64::from(avlplus::wire::VERSION));
    let limits = WireLimits::DEFAULT;
    for v in doc.get("operations").arr() {
        let name = v.get("name").str();
        let ops: Vec<Operation> = v.get("ops").arr().iter().map(parse_op).collect();
        let bytes = v.get("bytes").bytes();
        assert_eq!(
            encode_operations(&ops),
            bytes,
            "wire.json: operations {name}"
        );
        assert_eq!(
            decode_operations(&bytes, &limits),
            Ok(ops),
            "wire.json: {name}"
        );
    }
    for v in doc.get("results").arr() {
        let name = v.get("name").str();
        let results: Vec<OpResult> = v.get("results").arr().iter().map(parse_result).collect();
        let bytes = v.get("bytes").bytes();
        assert_eq!(encode_results(&results), bytes, "wire.json: results {name}");
        assert_eq!(
            decode_results(&bytes, &limits),
            Ok(results),
            "wire.json: {name}"
        );
    }
    for (key, ops) in [("malformed_operations", true), ("malformed_results", false)] {
        let cases = doc.get(key).arr();
        assert!(cases.len() >= 6, "wire.json: {key}");
        for v in cases {
            let bytes = v.get("bytes").bytes();
            let error = if ops {
                decode_operations(&bytes, &limits).map(|_| ()).unwrap_err()
            } else {
                decode_results(&bytes, &limits).map(|_| ()).unwrap_err()
            };
            assert_eq!(
                format!("{error:?}"),
                v.get("error").str(),
                "wire.json: {key} {}",
                v.get("name").str()
            );
        }
    }
}

/// The worked examples of `docs/proof-format.md` quote proofs from `fixtures/sha256.json`,
/// and the labels §8.2 prints are the library's.
#[test]
fn spec_examples_quote_the_committed_proofs() {
    let spec = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/proof-format.md"),
    )
    .unwrap();
    let compact: String = spec.chars().filter(|c| !c.is_whitespace()).collect();
    let doc = Json::parse(&committed("sha256.json")).unwrap();
    for name in [
        "one_key_lookups",
        "four_keys_lookup",
        "four_keys_insert",
        "empty_inserts",
    ] {
        let batch = doc
            .get("batches")
            .arr()
            .iter()
            .find(|b| b.get("name").str() == name)
            .unwrap_or_else(|| panic!("no batch {name}"));
        assert!(
            compact.contains(batch.get("proof").str()),
            "docs/proof-format.md quotes a stale proof for {name}: update its worked example"
        );
    }

    // §8.2's verification prints the labels it recomputes, abbreviated `first 8…last 8`.
    let short = |d: &[u8; 32]| {
        let h: String = d.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}…{}", &h[..8], &h[56..])
    };
    let leaf = |k: &[u8], next: Option<&[u8]>, v: &[u8]| Sha256::leaf(k, next, &Sha256::value(v));
    let vd_c = Sha256::value(b"3");
    let leaf_c = leaf(b"c", Some(b"d"), b"3");
    let i1 = Sha256::internal(
        0,
        &leaf(b"a", Some(b"b"), b"1"),
        &leaf(b"b", Some(b"c"), b"2"),
    );
    let i2 = Sha256::internal(0, &leaf_c, &leaf(b"d", None, b"4"));
    let root = Sha256::internal(0, &i1, &i2);
    for (what, label) in [
        ("vd(c)", vd_c),
        ("leaf c", leaf_c),
        ("I2", i2),
        ("root", root),
    ] {
        let line = format!("= {}", short(&label));
        assert!(
            spec.lines()
                .any(|l| l.trim_start().starts_with(what) && l.contains(&line)),
            "docs/proof-format.md §8.2: {what} should be printed as {}",
            short(&label)
        );
    }
}

fn check_vectors<H: TreeHasher>(file: &str) {
    let doc = Json::parse(&committed(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(doc.get("version").num(), 1);
    assert_eq!(doc.get("hash").str(), H::NAME);
    check_primitives::<H>(doc.get("primitives"));

    let mut roots = Vec::new();
    for dataset in doc.get("datasets").arr() {
        let name = dataset.get("name").str();
        let ops: Vec<Operation> = dataset
            .get("entries")
            .arr()
            .iter()
            .map(|e| Operation::insert(e.get("key").bytes(), e.get("value").bytes()))
            .collect();
        let mut tree = Tree::<H>::empty();
        let results = tree.apply_unproven(&ops).unwrap();
        assert!(
            results.iter().all(|r| *r == Ok(Outcome::Inserted)),
            "{file}: dataset {name} has a repeated key"
        );
        assert_eq!(tree.audit().unwrap().leaves, ops.len());
        let root = dataset.get("root").root();
        assert_eq!(tree.root(), root, "{file}: dataset {name}");
        roots.push((name.to_owned(), root));
    }

    let batches = doc.get("batches").arr();
    assert!(!batches.is_empty());
    for batch in batches {
        check_batch::<H>(file, batch, &roots);
    }
}

fn check_primitives<H: TreeHasher>(p: &Json) {
    let empty = p.get("empty");
    assert_eq!(empty.get("preimage").bytes(), [0x02]);
    assert_eq!(empty.get("label").bytes(), H::empty());

    for v in p.get("values").arr() {
        let value = v.get("value").bytes();
        let digest = v.get("digest").bytes();
        assert_eq!(H::hash(&[&v.get("preimage").bytes()]).to_vec(), digest);
        assert_eq!(H::value(&value).to_vec(), digest);
    }

    for leaf in p.get("leaves").arr() {
        let key = leaf.get("key").bytes();
        let next = match leaf.get("next") {
            Json::Null => None,
            n => Some(n.bytes()),
        };
        let vd = H::value(&leaf.get("value").bytes());
        assert_eq!(leaf.get("value_digest").bytes(), vd);
        let label = leaf.get("label").bytes();
        assert_eq!(H::hash(&[&leaf.get("preimage").bytes()]).to_vec(), label);
        assert_eq!(H::leaf(&key, next.as_deref(), &vd).to_vec(), label);
    }

    for node in p.get("internals").arr() {
        let balance = i8::try_from(node.get("balance").num()).unwrap();
        let left: [u8; 32] = node.get("left").bytes().try_into().unwrap();
        let right: [u8; 32] = node.get("right").bytes().try_into().unwrap();
        let label = node.get("label").bytes();
        if H::NAME == "blake3" {
            let key: [u8; 32] = node.get("key").bytes().try_into().unwrap();
            assert_eq!(&key, blake3::hash(&[0x01, balance as u8]).as_bytes());
            let input = node.get("input").bytes();
            assert_eq!(input, [left, right].concat());
            assert_eq!(blake3::keyed_hash(&key, &input).as_bytes().to_vec(), label);
        } else {
            assert_eq!(H::hash(&[&node.get("preimage").bytes()]).to_vec(), label);
        }
        assert_eq!(H::internal(balance, &left, &right).to_vec(), label);
    }
}

fn check_batch<H: TreeHasher>(file: &str, batch: &Json, roots: &[(String, RootDigest)]) {
    let name = batch.get("name").str();
    let what = format!("{file}: batch {name}");
    let dataset = batch.get("dataset").str();
    let old_root = batch.get("old_root").root();
    let dataset_root = roots
        .iter()
        .find(|(n, _)| n == dataset)
        .map(|(_, r)| *r)
        .unwrap_or_else(|| panic!("{what}: unknown dataset {dataset}"));
    assert_eq!(old_root, dataset_root, "{what}: old_root");

    let ops: Vec<Operation> = batch.get("ops").arr().iter().map(parse_op).collect();
    let results: Vec<OpResult> = batch
        .get("results")
        .arr()
        .iter()
        .map(parse_result)
        .collect();
    assert_eq!(results.len(), ops.len(), "{what}: one result per op");
    let new_root = batch.get("new_root").root();
    let proof = batch.get("proof").bytes();

    let verifier = Verifier::<H>::with_limits(Limits::default());
    let verified = verifier
        .verify(&old_root, &proof, &ops)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(verified.results, results, "{what}: results");
    assert_eq!(verified.new_root, new_root, "{what}: new_root");

    // The bytes are the canonical encoding of what they decode to.
    let tree = decode(&proof, &DecodeLimits::default()).unwrap();
    assert_eq!(tree.encode::<H>(), proof, "{what}: re-encoding");

    // Any one-bit change is rejected (or, for a digest byte, at least changes the outcome).
    // Large proofs are sampled to keep the test quick.
    let stride = (proof.len() / 300).max(1);
    for i in (0..proof.len()).step_by(stride) {
        for mask in [0x01u8, 0x80] {
            let mut bad = proof.clone();
            bad[i] ^= mask;
            if let Ok(v) = verifier.verify(&old_root, &bad, &ops) {
                panic!(
                    "{what}: proof with byte {i} ^ {mask:#04x} verified (results equal: {}, root equal: {})",
                    v.results == results,
                    v.new_root == new_root
                );
            }
        }
    }
    // The proof is bound to its root.
    let mut wrong = old_root;
    wrong.label[0] ^= 1;
    assert!(verifier.verify(&wrong, &proof, &ops).is_err(), "{what}");
}

fn parse_op(op: &Json) -> Operation {
    let key = op.get("key").bytes();
    let value = || op.get("value").bytes();
    match op.get("op").str() {
        "lookup" => Operation::lookup(key),
        "insert" => Operation::insert(key, value()),
        "update" => Operation::update(key, value()),
        "upsert" => Operation::upsert(key, value()),
        "remove" => Operation::remove(key),
        "remove_if_present" => Operation::remove_if_present(key),
        other => panic!("unknown op {other}"),
    }
}

fn parse_result(r: &Json) -> OpResult {
    match r {
        Json::Str(s) => match s.as_str() {
            "not_found" => Ok(Outcome::NotFound),
            "inserted" => Ok(Outcome::Inserted),
            "updated" => Ok(Outcome::Updated),
            "removed" => Ok(Outcome::Removed),
            other => panic!("unknown result {other}"),
        },
        Json::Obj(fields) => match fields.as_slice() {
            [(k, v)] if k == "found" => Ok(Outcome::Found(v.bytes().into())),
            [(k, v)] if k == "failure" => match v.str() {
                "key_exists" => Err(Failure::KeyExists),
                "key_missing" => Err(Failure::KeyMissing),
                other => panic!("unknown failure {other}"),
            },
            _ => panic!("unknown result {r:?}"),
        },
        _ => panic!("unknown result {r:?}"),
    }
}

/// Just enough JSON for the fixture files: objects (fields kept in order), arrays, strings
/// with the simple escapes, integers, `true`, `false`, `null`.
#[derive(Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            pos: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.pos != p.s.len() {
            return Err(format!("trailing characters at byte {}", p.pos));
        }
        Ok(v)
    }

    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(fields) => fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("missing field {key:?}")),
            _ => panic!("not an object when looking for {key:?}"),
        }
    }

    fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            _ => panic!("not a string: {self:?}"),
        }
    }

    fn num(&self) -> i64 {
        match self {
            Json::Num(n) => *n,
            _ => panic!("not a number: {self:?}"),
        }
    }

    fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            _ => panic!("not an array: {self:?}"),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        from_hex(self.str()).unwrap_or_else(|| panic!("not hex: {self:?}"))
    }

    fn root(&self) -> RootDigest {
        RootDigest::from_bytes(&self.bytes()).unwrap_or_else(|| panic!("not a root: {self:?}"))
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.pos), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.pos += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.pos))
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.pos) == Some(&c) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(&format!("expected '{}'", c as char))
        }
    }

    fn literal(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            self.err("unknown literal")
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.pos) {
            Some(b'{') => {
                self.pos += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.s.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    return Ok(Json::Obj(fields));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.eat(b':')?;
                    fields.push((key, self.value()?));
                    self.ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Json::Obj(fields));
                        }
                        _ => return self.err("expected ',' or '}'"),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return self.err("expected ',' or ']'"),
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                self.pos += 1;
                while matches!(self.s.get(self.pos), Some(b'0'..=b'9')) {
                    self.pos += 1;
                }
                std::str::from_utf8(&self.s[start..self.pos])
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .map(Json::Num)
                    .map_or_else(|| self.err("bad number"), Ok)
            }
            _ => self.err("unexpected character"),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if self.s.get(self.pos) != Some(&b'"') {
            return self.err("expected a string");
        }
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return self.err("unterminated string");
            };
            self.pos += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else {
                        return self.err("unterminated escape");
                    };
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let code = self
                                .s
                                .get(self.pos..self.pos + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32);
                            let Some(ch) = code else {
                                return self.err("bad \\u escape");
                            };
                            self.pos += 4;
                            out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                        _ => return self.err("unknown escape"),
                    }
                }
                _ => out.push(c),
            }
        }
    }
}

#[test]
fn json_reader_reads_what_the_generator_writes() {
    let doc =
        Json::parse(r#" {"a": [1, -2, "x\"y\u0041"], "b": {"c": null, "d": true}, "e": []} "#)
            .unwrap();
    assert_eq!(
        doc.get("a"),
        &Json::Arr(vec![Json::Num(1), Json::Num(-2), Json::Str("x\"yA".into())])
    );
    assert_eq!(doc.get("b").get("c"), &Json::Null);
    assert_eq!(doc.get("b").get("d"), &Json::Bool(true));
    assert_eq!(doc.get("e"), &Json::Arr(vec![]));
    assert!(Json::parse("{\"a\": 1,}").is_err());
    assert!(Json::parse("[1] x").is_err());
}
