//! The JavaScript binding (`ffi/js`): this crate built for `wasm32-unknown-unknown` with the
//! `wasm` profile, shrunk by binaryen's `wasm-opt -Oz`, and driven through `ffi/js/avlplus.mjs`
//!
//! - by `node --test` on `ffi/js/test/*.test.mjs`: every line of the vector file (every
//!   fixture vector and adversarial case, as the C test runs them), the wire vectors of
//!   `fixtures/wire.json`, a 1000-operation block built here, errors and handle lifetimes;
//! - in headless Chromium (`ffi/js/harness/browser.mjs`, with playwright-core from
//!   `ffi/js/package-lock.json`): the light-client page `ffi/js/demo/index.html` verifies a
//!   block and a balance proof from the vectors, and the test checks what the page shows and
//!   saves a screenshot to `<target>/avlplus-js/screenshot.png`.
//!
//! Everything is built into `<target>/avlplus-js` (`common/js.rs`). A missing `node`,
//! `wasm-opt` (Debian's `binaryen`), `chromium` or `npm` skips the part that needs it, unless
//! `CI=true`: then it fails. Throughput in Node and Chromium is measured by
//! `ffi/benches/bindings.rs`.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use avlplus::__internal::hex;
use avlplus::wire::{encode_operations, encode_results};
use avlplus::{Operation, Tree};
use common::js::{build_wasm, js_dir, node, out_dir, playwright, require};
use common::{root_dir, vector_file};

/// What the tests share, made once per test binary: the optimized module, the vector file
/// and the blocks file.
struct Built {
    wasm: PathBuf,
    vectors: PathBuf,
    cases: usize,
    blocks: PathBuf,
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = out_dir();
        let wasm = build_wasm(&dir);
        let (vectors, cases) = vector_file(&dir);
        let blocks = dir.join("blocks.json");
        std::fs::write(&blocks, blocks_json()).unwrap();
        Built {
            wasm,
            vectors,
            cases,
            blocks,
        }
    })
}

/// One block as the JS tests read it: hex fields, the results wire-encoded.
fn block_json(name: &str, tree: &Tree, ops: &[Operation]) -> String {
    let proven = tree.prove(ops).unwrap();
    format!(
        "{{\"name\":\"{name}\",\"hash\":\"sha256\",\"operations\":{},\"root\":\"{}\",\"proof\":\"{}\",\
         \"ops\":\"{}\",\"new_root\":\"{}\",\"results\":\"{}\"}}",
        ops.len(),
        hex(&proven.old_root.to_bytes()),
        hex(proven.proof.as_bytes()),
        hex(&encode_operations(ops)),
        hex(&proven.new_root.to_bytes()),
        hex(&encode_results(&proven.results)),
    )
}

fn key(i: u32) -> Vec<u8> {
    format!("account-{:08}", i.wrapping_mul(2_654_435_761) % 100_000_000).into_bytes()
}

/// A tree of 10 000 accounts and two blocks on it: `mixed`, 1000 operations of every kind (a
/// tenth of them failing), and `repeated_lookups`, 64 lookups of one 2 KiB value, whose
/// results are larger than the proof (the binding's retry with the size the library asks
/// for).
fn blocks() -> (Tree, Vec<Operation>, Vec<Operation>) {
    let mut tree: Tree = Tree::new();
    let accounts: Vec<Operation> = (0..10_000)
        .map(|i| Operation::insert(key(i), format!("balance {}", i * 7)))
        .collect();
    tree.apply_unproven(&accounts).unwrap();
    tree.apply_unproven(&[Operation::upsert(key(5), vec![b'$'; 2048])])
        .unwrap();
    let mixed: Vec<Operation> = (0..1000u32)
        .map(|i| {
            let existing = key(i * 10 % 10_000);
            let fresh = key(10_000 + i);
            let value = format!("new balance {i}");
            match i % 10 {
                0..=2 => Operation::lookup(existing),
                3 => Operation::lookup(fresh),
                4 | 5 => Operation::insert(fresh, value),
                6 => Operation::update(existing, value),
                7 => Operation::upsert(if i % 20 == 7 { existing } else { fresh }, value),
                8 => Operation::remove(existing),
                // Failures: inserting a present key, removing an absent one.
                _ if i % 20 == 9 => Operation::insert(key(i * 10 % 10_000 + 1), value),
                _ => Operation::remove(key(20_000 + i)),
            }
        })
        .collect();
    let repeated = vec![Operation::lookup(key(5)); 64];
    (tree, mixed, repeated)
}

fn blocks_json() -> String {
    let (tree, mixed, repeated) = blocks();
    format!(
        "{{\"mixed\":{},\"repeated_lookups\":{}}}\n",
        block_json("mixed-1000", &tree, &mixed),
        block_json("repeated-lookups", &tree, &repeated)
    )
}

/// The paths the JS side reads (`ffi/js/harness/env.mjs`).
fn env(b: &Built) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("AVLPLUS_WASM", b.wasm.clone()),
        ("AVLPLUS_VECTORS", b.vectors.clone()),
        ("AVLPLUS_BLOCKS", b.blocks.clone()),
        ("AVLPLUS_WIRE", root_dir().join("fixtures/wire.json")),
        ("AVLPLUS_OUT", out_dir()),
    ]
}

fn test_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(js_dir().join("test"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".test.mjs"))
        .map(|n| format!("test/{n}"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    files
}

#[test]
fn node_test_runner_passes_every_vector() {
    if !require("node", "the JS tests") || !require("wasm-opt", "the JS tests") {
        return;
    }
    let b = built();
    let mut args = vec!["--test", "--test-reporter=tap"];
    let files = test_files();
    args.extend(files.iter().map(String::as_str));
    let out = node(&args, &env(b));
    // The vector test reports how many lines it ran: all of them.
    assert!(
        out.contains(&format!("vector file: {} cases", b.cases)),
        "the JS tests did not run every vector:\n{out}"
    );
    assert!(
        out.lines().any(|l| l == "# fail 0") && !out.lines().any(|l| l == "# pass 0"),
        "{out}"
    );
    let summary: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("# pass ") || l.starts_with("# fail "))
        .collect();
    eprintln!("node --test: {}", summary.join(", "));
}

#[test]
fn chromium_shows_the_demo_block_and_balance_verified() {
    if !require("node", "the browser test")
        || !require("wasm-opt", "the browser test")
        || !require("chromium", "the browser test")
        || !playwright()
    {
        return;
    }
    let b = built();
    let out = node(&["harness/browser.mjs"], &env(b));
    assert!(out.contains("browser: ok"), "{out}");
    let shot = out_dir().join("screenshot.png");
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000),
        "no screenshot at {}",
        shot.display()
    );
    eprintln!("{}\nscreenshot: {}", out.trim(), shot.display());
}
