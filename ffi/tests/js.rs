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
//! Everything is built into `<target>/avlplus-js` (the wasm into its own target directory,
//! as [`common::static_lib`] does for the native library). A missing `node`, `wasm-opt`
//! (Debian's `binaryen`), `chromium` or `npm` skips the part that needs it, unless `CI=true`:
//! then it fails.
//!
//! `cargo test --release -p avlplus-ffi --test js -- --ignored --nocapture` prints the
//! throughput of the 1000-operation block in Node, in Chromium and natively.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use avlplus::__internal::hex;
use avlplus::wire::{encode_operations, encode_results};
use avlplus::{Operation, Tree};
use common::{have, in_ci, root_dir, vector_file};

/// The budget for the optimized module, in bytes.
const MAX_WASM_BYTES: u64 = 120 * 1024;

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// `<target>/avlplus-js`, beside the test binaries' own directories.
fn out_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe
        .ancestors()
        .nth(3)
        .expect("the test runs from <target>/<profile>/deps")
        .join("avlplus-js");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether `tool` can run; if not, the test is skipped (`false`), or fails under `CI=true`.
fn require(tool: &str, what: &str) -> bool {
    if have(tool) {
        return true;
    }
    assert!(!in_ci(), "{tool} is missing (CI=true: {what} must run)");
    eprintln!("skipped: no {tool} ({what})");
    false
}

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

/// `cargo build --profile wasm --target wasm32-unknown-unknown`, then `wasm-opt -Oz`; returns
/// `<dir>/avlplus.wasm` and prints both sizes.
fn build_wasm(dir: &Path) -> PathBuf {
    let target = dir.join("cargo");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let build = Command::new(cargo)
        .args(["build", "--profile", "wasm", "--lib", "--quiet"])
        .args(["--target", "wasm32-unknown-unknown", "-p", "avlplus-ffi"])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "cargo build of the wasm module failed (is the target installed? `rustup target add \
         wasm32-unknown-unknown`):\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let raw = target.join("wasm32-unknown-unknown/wasm/avlplus_ffi.wasm");
    let wasm = dir.join("avlplus.wasm");
    let opt = Command::new("wasm-opt")
        .args(["-Oz", "--strip-debug", "--strip-producers"])
        .arg(&raw)
        .arg("-o")
        .arg(&wasm)
        .output()
        .unwrap();
    assert!(
        opt.status.success(),
        "wasm-opt failed:\n{}",
        String::from_utf8_lossy(&opt.stderr)
    );
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    let (before, after) = (size(&raw), size(&wasm));
    eprintln!("avlplus.wasm: {before} bytes from cargo, {after} bytes after wasm-opt -Oz");
    assert!(
        after <= MAX_WASM_BYTES,
        "the module is {after} bytes, over the budget of {MAX_WASM_BYTES}"
    );
    wasm
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

fn node(args: &[&str], env: &[(&str, PathBuf)]) -> String {
    let mut cmd = Command::new("node");
    cmd.args(args).current_dir(js_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node {args:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
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

/// playwright-core as locked in `ffi/js/package-lock.json`, installed with `npm ci` unless
/// `node_modules` already has it. Returns false (skip) if npm is missing or cannot install.
fn playwright() -> bool {
    let installed = js_dir().join("node_modules/playwright-core/package.json");
    if installed.exists() {
        return true;
    }
    if !require("npm", "the browser test") {
        return false;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(js_dir())
        .output()
        .unwrap();
    let ok = out.status.success() && installed.exists();
    assert!(
        ok || !in_ci(),
        "npm ci in ffi/js failed (CI=true: the browser test must run):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if !ok {
        eprintln!(
            "skipped: npm ci in ffi/js failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    ok
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

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Median milliseconds of one `avlplus_verify` call on the block, through the C ABI (the
/// entry point the wasm module exports, with the same work: decode the operations, verify,
/// encode the results), over `samples` samples of `reps` calls each.
fn native_median_ms(root: &[u8], proof: &[u8], ops: &[u8], samples: usize, reps: usize) -> f64 {
    use avlplus_ffi::*;
    let mut limits: *mut avlplus_limits = std::ptr::null_mut();
    let mut verifier: *mut avlplus_verifier = std::ptr::null_mut();
    // SAFETY: the out pointers are valid slots; `limits` is live until freed, after the
    // verifier copied it.
    unsafe {
        assert_eq!(avlplus_limits_new(0, &mut limits), avlplus_result::Ok);
        assert_eq!(
            avlplus_verifier_new(1, limits, &mut verifier),
            avlplus_result::Ok
        );
        avlplus_limits_free(limits);
    }
    let mut new_root = [0u8; 33];
    let mut results = vec![0u8; ops.len() + proof.len() + 16];
    let (mut root_needed, mut results_needed) = (0usize, 0usize);
    let mut times = Vec::new();
    for _ in 0..samples {
        let start = Instant::now();
        for _ in 0..reps {
            // SAFETY: every input is a live slice with its length, every output a live
            // buffer with its length, and nothing overlaps; `verifier` is live.
            let code = unsafe {
                avlplus_verify(
                    verifier,
                    root.as_ptr(),
                    root.len(),
                    proof.as_ptr(),
                    proof.len(),
                    ops.as_ptr(),
                    ops.len(),
                    new_root.as_mut_ptr(),
                    new_root.len(),
                    &mut root_needed,
                    results.as_mut_ptr(),
                    results.len(),
                    &mut results_needed,
                )
            };
            assert_eq!(code, avlplus_result::Ok);
        }
        times.push(start.elapsed().as_secs_f64() * 1000.0 / reps as f64);
    }
    // SAFETY: `verifier` came from `avlplus_verifier_new` and is freed once.
    unsafe { avlplus_verifier_free(verifier) };
    median(times)
}

/// The `median_ms=` figure a harness printed.
fn figure(out: &str, label: &str) -> f64 {
    let prefix = format!("{label} median_ms=");
    out.lines()
        .find_map(|l| l.strip_prefix(&prefix)?.parse().ok())
        .unwrap_or_else(|| panic!("no `{label} median_ms=` line in:\n{out}"))
}

/// Verifying the 1000-operation block (`blocks.json` → `mixed`): the median over samples of
/// one call, natively through the C ABI, in Node and in Chromium through the module. A
/// measurement, printed and not asserted; run it in release (the test profile is opt-level
/// 1) on a quiet machine.
#[test]
#[ignore = "a measurement: cargo test --release -p avlplus-ffi --test js -- --ignored --nocapture"]
fn throughput_of_a_1000_operation_block() {
    let (tree, mixed, _) = blocks();
    let proven = tree.prove(&mixed).unwrap();
    let (root, proof, ops) = (
        proven.old_root.to_bytes(),
        proven.proof.as_bytes().to_vec(),
        encode_operations(&mixed),
    );
    let (samples, reps) = (21, 20);
    let native = native_median_ms(&root, &proof, &ops, samples, reps);
    let profile = if cfg!(debug_assertions) {
        "test profile: not representative, use --release"
    } else {
        "release"
    };
    eprintln!(
        "block: 1000 operations, proof {} bytes, operations {} bytes; median of {samples} \
         samples of {reps} calls",
        proof.len(),
        ops.len()
    );
    eprintln!("native ({profile}): {native:.3} ms");
    if !require("node", "the JS measurement") || !require("wasm-opt", "the JS measurement") {
        return;
    }
    let b = built();
    let out = node(&["harness/bench-node.mjs"], &env(b));
    let node_bytes = figure(&out, "node bytes");
    let node_objects = figure(&out, "node objects");
    eprintln!(
        "node {}: {node_bytes:.3} ms ({:.2}x native); with JS encoding and decoding: \
         {node_objects:.3} ms",
        node_version(),
        node_bytes / native
    );
    if !require("chromium", "the browser measurement") || !playwright() {
        return;
    }
    let mut vars = env(b);
    vars.push(("AVLPLUS_BENCH", PathBuf::from("1")));
    let out = node(&["harness/browser.mjs"], &vars);
    let chromium_bytes = figure(&out, "chromium bytes");
    let chromium_objects = figure(&out, "chromium objects");
    eprintln!(
        "chromium: {chromium_bytes:.3} ms ({:.2}x native); with JS encoding and decoding: \
         {chromium_objects:.3} ms",
        chromium_bytes / native
    );
}

fn node_version() -> String {
    Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
