//! What the binding tests share: the vector file (every fixture vector of both hashes and
//! every case of the adversarial corpus, in the line format `ffi/tests/c/verify_vectors.c`
//! documents), the library built as `libavlplus_ffi.a` / `.so`, and tool checks.
#![allow(dead_code)] // each test binary uses part of it

pub mod java;
pub mod js;
pub mod python;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use avlplus::__internal::{from_hex, hex};
use avlplus::wire::{encode_operations, encode_results};
use avlplus::{
    Blake3, OpResult, Operation, Outcome, RootDigest, Sha256, Tree, TreeHasher, Verifier,
};
use serde_json::Value;

pub fn root_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn field(b: &[u8]) -> String {
    if b.is_empty() {
        "-".to_owned()
    } else {
        hex(b)
    }
}

fn bytes(v: &Value) -> Vec<u8> {
    from_hex(v.as_str().unwrap()).unwrap()
}

/// An operation of the fixtures, read with the library's own serde form (the fixtures spell
/// operations and results exactly as it does: `tests/serde.rs`).
fn parse_op(op: &Value) -> Operation {
    serde_json::from_value(op.clone()).unwrap()
}

/// A result of the fixtures, in the flat form of `avlplus::serde_result`.
fn parse_result(r: &Value) -> OpResult {
    avlplus::serde_result::deserialize(r.clone()).unwrap()
}

/// The lines for one fixture file: every batch, and lookups and value checks of keys of
/// every dataset (present and absent) with proofs of one lookup each.
fn fixture_lines<H: TreeHasher>(out: &mut String) {
    let path = root_dir()
        .join("fixtures")
        .join(format!("{}.json", H::NAME));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let hash = H::NAME;
    for b in doc["batches"].as_array().unwrap() {
        let ops: Vec<Operation> = b["ops"].as_array().unwrap().iter().map(parse_op).collect();
        let results: Vec<OpResult> = b["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(parse_result)
            .collect();
        let _ = writeln!(
            out,
            "verify {hash} {} {} {} {} 0 {} {}",
            b["name"].as_str().unwrap(),
            field(&bytes(&b["old_root"])),
            field(&bytes(&b["proof"])),
            field(&encode_operations(&ops)),
            field(&bytes(&b["new_root"])),
            field(&encode_results(&results)),
        );
    }
    for d in doc["datasets"].as_array().unwrap() {
        let name = d["name"].as_str().unwrap();
        let entries: Vec<(Vec<u8>, Vec<u8>)> = d["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (bytes(&e["key"]), bytes(&e["value"])))
            .collect();
        let mut tree = Tree::<H>::empty();
        let inserts: Vec<Operation> = entries
            .iter()
            .map(|(k, v)| Operation::insert(k, v))
            .collect();
        tree.apply_unproven(&inserts).unwrap();
        let root = tree.root();
        assert_eq!(root, RootDigest::from_bytes(&bytes(&d["root"])).unwrap());
        let step = (entries.len() / 12).max(1);
        let mut keys: Vec<Vec<u8>> = entries.iter().step_by(step).map(|e| e.0.clone()).collect();
        keys.extend([
            b"\xff\xff absent".to_vec(),
            b"0 absent".to_vec(),
            Vec::new(),
        ]);
        keys.dedup();
        for (i, key) in keys.iter().enumerate() {
            let proven = tree.prove(&[Operation::lookup(key)]).unwrap();
            let proof = proven.proof.as_bytes();
            let what = format!("{name}-lookup-{i}");
            let value = match &proven.results[0] {
                Ok(Outcome::Found(v)) => Some(v.to_vec()),
                _ => None,
            };
            let (found, v) = match &value {
                Some(v) => ("1", field(v)),
                None => ("0", "-".to_owned()),
            };
            let r = field(&root.to_bytes());
            let p = field(proof);
            let k = field(key);
            let _ = writeln!(out, "lookup {hash} {what} {r} {p} {k} 0 {found} {v}");
            match &value {
                Some(v) => {
                    let mut wrong = v.clone();
                    wrong.push(0);
                    let _ = writeln!(out, "value {hash} {what}-right {r} {p} {k} {} 0", field(v));
                    let _ = writeln!(
                        out,
                        "value {hash} {what}-longer {r} {p} {k} {} 6",
                        hex(&wrong)
                    );
                    let _ = writeln!(out, "value {hash} {what}-absent {r} {p} {k} absent 6");
                }
                None => {
                    let _ = writeln!(out, "value {hash} {what}-absent {r} {p} {k} absent 0");
                    let _ = writeln!(out, "value {hash} {what}-empty {r} {p} {k} - 6");
                }
            }
            // The proof of this lookup does not prove another key's lookup.
            if let Some(other) = keys.get(i + 1).filter(|o| !o.is_empty() && !key.is_empty()) {
                let code = Verifier::<H>::new()
                    .verify(&root, proof, &[Operation::lookup(other)])
                    .map_or_else(|e| avlplus_ffi::avlplus_result::from(e) as u32, |_| 0);
                if code != 0 {
                    let _ = writeln!(
                        out,
                        "lookup {hash} {what}-other-key {r} {p} {} {code} 0 -",
                        field(other)
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The adversarial corpus: the setups of tests/adversarial.rs, rebuilt (the verdict check
// below fails if they drift from that file's), and its manifest's verdicts as codes.

struct Setup {
    roots: Vec<RootDigest>,
    new: RootDigest,
    ops: Vec<Operation>,
}

fn k32(i: u32) -> Vec<u8> {
    i.to_be_bytes().to_vec()
}

fn even_key(i: u32) -> Vec<u8> {
    format!("k{:02}", i * 2).into_bytes()
}

fn build(setup: &[Vec<Operation>], ops: Vec<Operation>) -> Setup {
    let mut tree: Tree = Tree::new();
    let mut roots = vec![tree.root()];
    for batch in setup {
        tree.apply_unproven(batch).unwrap();
        roots.push(tree.root());
    }
    let new = tree.prove(&ops).unwrap().new_root;
    Setup { roots, new, ops }
}

fn setups() -> BTreeMap<&'static str, Setup> {
    let ins = |i: u32| {
        let len = if i.is_multiple_of(2) { 8 } else { 40 };
        Operation::insert(k32(i * 3), vec![i as u8; len])
    };
    let fixed64 = vec![(0..32).map(ins).collect(), (32..64).map(ins).collect()];
    let sixteen: Vec<Vec<Operation>> = vec![(0..16)
        .map(|i| Operation::insert(even_key(i), [b'v', i as u8]))
        .collect()];
    let mut s = BTreeMap::new();
    s.insert(
        "fixed64",
        build(
            &fixed64,
            vec![
                Operation::lookup(k32(30)),
                Operation::lookup(k32(31)),
                Operation::insert(k32(31), b"new"),
                Operation::update(k32(60), b"changed"),
                Operation::remove(k32(93)),
                Operation::remove_if_present(k32(1000)),
                Operation::upsert(k32(0), b"zero"),
            ],
        ),
    );
    s.insert(
        "sixteen-lookup",
        build(&sixteen, vec![Operation::lookup(b"k10")]),
    );
    s.insert(
        "sixteen-remove",
        build(&sixteen, vec![Operation::remove_if_present(b"k10")]),
    );
    s.insert(
        "empty",
        build(
            &[],
            vec![Operation::insert(b"a", b"1"), Operation::lookup(b"a")],
        ),
    );
    s
}

/// The result code a verdict of the manifest (the `Debug` form of a `VerifyError`, or `ok`)
/// stands for. Written out here, independently of the library's mapping.
fn expected_code(verdict: &str) -> u32 {
    let (decode, name) = match verdict.strip_prefix("Decode(") {
        Some(inner) => (true, inner.strip_suffix(')').unwrap()),
        None => (false, verdict),
    };
    let name = name.split('(').next().unwrap();
    let code = if decode {
        match name {
            "TooLong" => 200,
            "Truncated" => 201,
            "UnsupportedVersion" => 202,
            "BadVarint" => 203,
            "TooManyNodes" => 204,
            "TooMuchMemory" => 205,
            "MalformedShape" => 206,
            "TooDeep" => 207,
            "KeyTooLong" => 208,
            "ValueTooLong" => 209,
            "NonZeroPadding" => 210,
            "NonCanonicalWidth" => 211,
            "UnorderedLeaves" => 212,
            _ => 0,
        }
    } else {
        match name {
            "ok" => return 0,
            "TooManyOperations" => 100,
            "RootMismatch" => 103,
            "HeightMismatch" => 104,
            "Incomplete" => 105,
            "ValueWithheld" => 106,
            "WrongLeaf" => 107,
            "DirectionsExhausted" => 108,
            "UnusedDirections" => 109,
            "Malformed" => 110,
            _ => 0,
        }
    };
    assert_ne!(code, 0, "no code for verdict {verdict}");
    code
}

fn adversarial_lines(out: &mut String) -> usize {
    let dir = root_dir().join("tests/adversarial");
    let manifest = std::fs::read_to_string(dir.join("cases.txt")).unwrap();
    let setups = setups();
    let mut n = 0;
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        let [file, setup, root, verdict, _what] = cols[..] else {
            panic!("bad manifest line {line}");
        };
        let setup = setups
            .get(setup)
            .unwrap_or_else(|| panic!("{file}: setup {setup} is not rebuilt here"));
        let trusted = match root {
            "old" => *setup.roots.last().unwrap(),
            "new" => setup.new,
            v => setup.roots[v.strip_prefix('v').unwrap().parse::<usize>().unwrap()],
        };
        let proof = from_hex(std::fs::read_to_string(dir.join(file)).unwrap().trim()).unwrap();
        // The rebuilt setup gives the manifest's verdict (else it drifted from
        // tests/adversarial.rs and the lines below would test something else).
        let got = Verifier::<Sha256>::new().verify(&trusted, &proof, &setup.ops);
        let (new_root, results) = match &got {
            Ok(v) => (v.new_root.to_bytes().to_vec(), encode_results(&v.results)),
            Err(_) => (Vec::new(), Vec::new()),
        };
        let said = got.map_or_else(|e| format!("{e:?}"), |_| "ok".to_owned());
        assert_eq!(
            said, verdict,
            "{file}: the setups here drifted from tests/adversarial.rs"
        );
        let _ = writeln!(
            out,
            "verify sha256 {file} {} {} {} {} {} {}",
            field(&trusted.to_bytes()),
            field(&proof),
            field(&encode_operations(&setup.ops)),
            expected_code(verdict),
            field(&new_root),
            field(&results),
        );
        n += 1;
    }
    n
}

pub fn vectors() -> (String, usize) {
    let mut out = String::from("# written by ffi/tests/common/mod.rs\n");
    fixture_lines::<Sha256>(&mut out);
    fixture_lines::<Blake3>(&mut out);
    let corpus = adversarial_lines(&mut out);
    assert!(corpus >= 40, "{corpus} corpus cases");
    let n = out.lines().filter(|l| !l.starts_with('#')).count();
    (out, n)
}

// ---------------------------------------------------------------------------------------------
// Building and running the C program.

pub fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `<target>`: the directory the running test or benchmark was built under (it runs from
/// `<target>/<profile>/deps`).
pub fn target_root() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .expect("the binary runs from <target>/<profile>/deps")
        .to_path_buf()
}

/// Runs `cmd` and returns what it printed; fails with its status and both streams unless it
/// succeeded. `what` names it in the failure.
pub fn run_ok(cmd: &mut Command, what: &str) -> Output {
    succeeded(cmd.output().unwrap(), what)
}

/// `out`, if its process succeeded; else fails as [`run_ok`] does.
pub fn succeeded(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `cargo build -p avlplus-ffi --lib --quiet` into the target directory `target`, one of its
/// own: `cargo test` builds this crate's lib only as the rlib its tests link, and the outer
/// cargo holds the lock on its own target directory. Kept between runs, so only changed crates
/// rebuild. The caller adds the profile and the target.
pub fn cargo_build_ffi(target: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--lib", "--quiet", "-p", "avlplus-ffi"])
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target)
        .env_remove("CARGO_TARGET_DIR");
    cmd
}

/// Builds the library (static and shared, release) into `<target>/avlplus-ffi-lib` and
/// returns the path of the static one; the shared one is beside it ([`shared_lib`]).
pub fn static_lib() -> PathBuf {
    let target = target_root().join("avlplus-ffi-lib");
    run_ok(
        cargo_build_ffi(&target).arg("--release"),
        "cargo build of the static library",
    );
    let lib = target.join("release/libavlplus_ffi.a");
    assert!(lib.exists(), "{} is missing", lib.display());
    lib
}

/// Builds the library (as [`static_lib`] does) and returns the path of `libavlplus_ffi.so`,
/// which the Java and Python bindings load.
pub fn shared_lib() -> PathBuf {
    let lib = static_lib().with_file_name("libavlplus_ffi.so");
    assert!(lib.exists(), "{} is missing", lib.display());
    lib
}

/// Writes the vector file into `dir` and returns its path and its number of cases.
pub fn vector_file(dir: &Path) -> (PathBuf, usize) {
    let (text, n) = vectors();
    let path = dir.join("vectors.txt");
    std::fs::write(&path, text).unwrap();
    (path, n)
}

/// Compiles `ffi/tests/c/verify_vectors.c` with gcc at optimization `opt` (`-O1` for the test
/// under valgrind, `-O2` for the benchmark) against the committed header and the static
/// library, into `work`; returns the executable's path.
pub fn compile_c(work: &Path, opt: &str) -> PathBuf {
    let ffi = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let exe = work.join("verify_vectors");
    run_ok(
        Command::new("gcc")
            .args(["-std=c11", "-D_POSIX_C_SOURCE=200809L", opt, "-g"])
            .args(["-Wall", "-Wextra", "-Wpedantic", "-Werror"])
            .arg("-I")
            .arg(ffi.join("include"))
            .arg(ffi.join("tests/c/verify_vectors.c"))
            .arg(static_lib())
            // What Rust's std needs from the system on Linux (`--print native-static-libs`).
            .args([
                "-lgcc_s",
                "-lutil",
                "-lrt",
                "-lpthread",
                "-lm",
                "-ldl",
                "-lc",
            ])
            .arg("-o")
            .arg(&exe),
        "gcc",
    );
    exe
}
