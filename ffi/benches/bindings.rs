//! One 1000-operation block verified through every binding, in one run: natively in Rust
//! (the library's `Verifier`, and the C ABI's `avlplus_verify` called from Rust), from C
//! (`ffi/tests/c/verify_vectors.c --bench`, gcc -O2), Java (JNA), Python (ctypes), and the wasm
//! module in Node and in headless Chromium; for SHA-256 and BLAKE3 on the same operations.
//!
//! ```sh
//! cargo bench -p avlplus-ffi --bench bindings                  # 21 samples of 10 calls
//! cargo bench -p avlplus-ffi --bench bindings -- --quick       # 3 samples of 1 call (CI)
//! cargo bench -p avlplus-ffi --bench bindings -- --samples 31 --reps 20
//! ```
//!
//! Each figure is the median over samples of the milliseconds per call, after warm-up samples;
//! "x native" divides by the C ABI called from Rust on the same hash, which does the same work
//! as every binding's call (decode the operations' wire bytes, verify, encode the results).
//! "fastest x" divides the fastest samples: on a host whose speed drifts (a shared VM), it
//! shows the engines' own ratio better than medians taken seconds apart.
//! The block: a 10 000-key tree, 400 lookups (half of absent keys), 200 inserts, 150 updates,
//! 100 upserts, 100 removes and 50 removes-if-present of keys spread over the tree; every
//! harness checks the new root (C also the results) before it prints a figure.
//!
//! The bindings' tools come from `scripts/setup.sh`; a missing one leaves its row out, unless
//! `CI=true`: then the run fails.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use avlplus::wire::{encode_operations, encode_results};
use avlplus::{Blake3, Operation, Sha256, Tree, TreeHasher, Verifier};
use avlplus_ffi::avlplus_hash;
use common::js::{build_wasm, node, node_version, out_dir, playwright, require};
use common::{compile_c, field, have, in_ci, run_ok, succeeded, vector_file};

/// How many samples of how many calls each harness times.
#[derive(Clone, Copy)]
struct Plan {
    samples: usize,
    reps: usize,
}

impl Plan {
    fn from_args() -> Plan {
        let mut plan = Plan {
            samples: 21,
            reps: 10,
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        let value = |i: usize| -> usize {
            args.get(i + 1)
                .and_then(|v| v.parse().ok())
                .filter(|&v| v > 0)
                .unwrap_or_else(|| panic!("{} needs a positive number", args[i]))
        };
        for (i, arg) in args.iter().enumerate() {
            match arg.as_str() {
                "--quick" => {
                    plan = Plan {
                        samples: 3,
                        reps: 1,
                    }
                }
                "--samples" => plan.samples = value(i),
                "--reps" => plan.reps = value(i),
                _ => {} // cargo bench passes --bench; values of the flags above
            }
        }
        plan
    }

    /// What every harness's `--bench` mode takes: the blocks file, samples, calls a sample.
    fn bench_args(&self, blocks: &Path) -> [OsString; 4] {
        [
            "--bench".into(),
            blocks.into(),
            self.samples.to_string().into(),
            self.reps.to_string().into(),
        ]
    }
}

/// The benchmark's operations on a 10 000-key tree (see the module comment).
fn block_ops() -> (Vec<Operation>, Vec<Operation>) {
    let key = |i: u64| format!("account-{i:08}").into_bytes();
    let entries: Vec<Operation> = (0..10_000u64)
        .map(|i| Operation::insert(key(2 * i), [i as u8; 32]))
        .collect();
    // Spread the keys over the tree (an LCG), as a block of unrelated accounts would be.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) % 10_000
    };
    let ops = (0..1000u32)
        .map(|i| {
            let present = key(2 * next());
            let absent = key(2 * next() + 1);
            match i % 20 {
                0..=3 => Operation::lookup(present),
                4..=7 => Operation::lookup(absent),
                8..=11 => Operation::insert(absent, b"new account"),
                12..=14 => Operation::update(present, [i as u8; 32]),
                15..=16 => Operation::upsert(present, b"upserted"),
                17..=18 => Operation::remove(present),
                _ => Operation::remove_if_present(absent),
            }
        })
        .collect();
    (entries, ops)
}

/// A proven block under hash `H`, with the figures of the two native rows.
struct Block {
    hash: &'static str,
    line: String,
    proof_bytes: usize,
    ops_bytes: usize,
    rust: Timing,
    abi: Timing,
}

/// Milliseconds per call: the median and the fastest of the samples.
#[derive(Clone, Copy)]
struct Timing {
    median: f64,
    min: f64,
}

fn block<H: TreeHasher>(plan: Plan, hash: avlplus_hash) -> Block {
    let (entries, ops) = block_ops();
    let mut tree = Tree::<H>::empty();
    tree.apply_unproven(&entries).unwrap();
    let root = tree.root();
    let proven = tree.prove(&ops).unwrap();
    let proof = proven.proof.as_bytes();
    let wire = encode_operations(&ops);
    let line = format!(
        "verify {} bench-1000 {} {} {} 0 {} {}\n",
        H::NAME,
        field(&root.to_bytes()),
        field(proof),
        field(&wire),
        field(&proven.new_root.to_bytes()),
        field(&encode_results(&proven.results)),
    );
    let verifier = Verifier::<H>::new();
    let rust = time_calls(plan, || {
        let v = verifier.verify(&root, proof, &ops).unwrap();
        assert_eq!(v.new_root, proven.new_root);
    });
    let abi = time_abi(plan, hash as u32, &root.to_bytes(), proof, &wire);
    Block {
        hash: H::NAME,
        line,
        proof_bytes: proof.len(),
        ops_bytes: wire.len(),
        rust,
        abi,
    }
}

/// The median and the fastest over `plan.samples` samples (after three warm-up samples) of the
/// milliseconds per call of `call`, `plan.reps` calls a sample.
fn time_calls(plan: Plan, mut call: impl FnMut()) -> Timing {
    let mut ms = Vec::with_capacity(plan.samples);
    for sample in 0..plan.samples + 3 {
        let start = Instant::now();
        for _ in 0..plan.reps {
            call();
        }
        if sample >= 3 {
            ms.push(start.elapsed().as_secs_f64() * 1e3 / plan.reps as f64);
        }
    }
    ms.sort_by(f64::total_cmp);
    Timing {
        median: ms[ms.len() / 2],
        min: ms[0],
    }
}

/// [`time_calls`] of one `avlplus_verify` call through the C ABI, from Rust.
fn time_abi(plan: Plan, hash: u32, root: &[u8], proof: &[u8], ops: &[u8]) -> Timing {
    use avlplus_ffi::*;
    let mut limits: *mut avlplus_limits = std::ptr::null_mut();
    let mut verifier: *mut avlplus_verifier = std::ptr::null_mut();
    // SAFETY: the out pointers are valid slots; `limits` is live until freed, after the
    // verifier copied it.
    unsafe {
        assert_eq!(avlplus_limits_new(0, &mut limits), avlplus_result::Ok);
        assert_eq!(
            avlplus_verifier_new(hash, limits, &mut verifier),
            avlplus_result::Ok
        );
        avlplus_limits_free(limits);
    }
    let mut new_root = [0u8; 33];
    let mut results = vec![0u8; ops.len() + proof.len() + 16];
    let (mut root_needed, mut results_needed) = (0usize, 0usize);
    let timing = time_calls(plan, || {
        // SAFETY: every input is a live slice with its length, every output a live buffer
        // with its length, and nothing overlaps; `verifier` is live.
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
    });
    // SAFETY: `verifier` came from `avlplus_verifier_new` and is freed once.
    unsafe { avlplus_verifier_free(verifier) };
    timing
}

/// The figures a harness printed: `bench ENGINE HASH API median_ms=MS min_ms=MS` lines, keyed
/// by (engine, api, hash).
type Figures = BTreeMap<(String, String, String), Timing>;

fn read_lines(text: &str, figures: &mut Figures) {
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if let ["bench", engine, hash, api, median, min] = f[..] {
            let ms = |field: &str, name: &str| -> f64 {
                field
                    .strip_prefix(name)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("bad figure line {line:?}"))
            };
            let timing = Timing {
                median: ms(median, "median_ms="),
                min: ms(min, "min_ms="),
            };
            figures.insert((engine.into(), api.into(), hash.into()), timing);
        }
    }
}

/// Skips (false) when `tool` is missing, or fails under `CI=true`.
fn want(tool: &str, row: &str) -> bool {
    require(tool, &format!("the {row} row of the benchmark"))
}

fn c_row(dir: &Path, blocks: &Path, plan: Plan, figures: &mut Figures) {
    if !want("gcc", "C") {
        return;
    }
    let mut c = Command::new(compile_c(dir, "-O2"));
    let out = run_ok(c.args(plan.bench_args(blocks)), "the C benchmark");
    read_lines(&String::from_utf8_lossy(&out.stdout), figures);
}

fn java_row(blocks: &Path, plan: Plan, figures: &mut Figures) {
    let Some(java) = common::java::compile("bench") else {
        return;
    };
    let args = plan.bench_args(blocks);
    let args: Vec<&Path> = args.iter().map(Path::new).collect();
    let out = succeeded(java.run(false, &args), "the Java benchmark");
    read_lines(&String::from_utf8_lossy(&out.stdout), figures);
}

fn python_row(blocks: &Path, plan: Plan, figures: &mut Figures) {
    if !common::python::available() {
        return;
    }
    let args = plan.bench_args(blocks);
    let args: Vec<&Path> = args.iter().map(Path::new).collect();
    let out = succeeded(common::python::python(&args, &[]), "the Python benchmark");
    read_lines(&String::from_utf8_lossy(&out.stdout), figures);
}

/// Node and Chromium; returns the module's size in bytes.
fn js_rows(dir: &Path, blocks: &Path, plan: Plan, figures: &mut Figures) -> Option<u64> {
    if !want("node", "Node") || !want("wasm-opt", "Node") {
        return None;
    }
    let wasm = build_wasm(&out_dir());
    let size = std::fs::metadata(&wasm).unwrap().len();
    let (vectors, _) = vector_file(dir);
    let env = vec![
        ("AVLPLUS_WASM", wasm),
        ("AVLPLUS_BENCH_BLOCKS", blocks.to_path_buf()),
        ("AVLPLUS_BENCH_SAMPLES", plan.samples.to_string().into()),
        ("AVLPLUS_BENCH_REPS", plan.reps.to_string().into()),
        ("AVLPLUS_VECTORS", vectors),
        ("AVLPLUS_OUT", dir.to_path_buf()),
    ];
    read_lines(&node(&["harness/bench-node.mjs"], &env), figures);
    if want("chromium", "Chromium") && playwright() {
        let out = node(&["harness/browser.mjs"], &env);
        assert!(out.contains("browser: ok"), "{out}");
        read_lines(&out, figures);
    }
    Some(size)
}

fn version(cmd: &str, arg: &str) -> String {
    Command::new(cmd)
        .arg(arg)
        .output()
        .ok()
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout) + String::from_utf8_lossy(&o.stderr);
            text.lines().next().unwrap_or_default().trim().to_owned()
        })
        .unwrap_or_default()
}

fn cpu() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map_or("unknown CPU".to_owned(), |(_, m)| m.trim().to_owned());
    let sha = if info.contains(" sha_ni") {
        "with SHA-NI"
    } else {
        "without SHA-NI"
    };
    format!("{model}, {sha}")
}

fn main() {
    let plan = Plan::from_args();
    let dir = out_dir().with_file_name("avlplus-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let blocks = [
        block::<Sha256>(plan, avlplus_hash::Sha256),
        block::<Blake3>(plan, avlplus_hash::Blake3),
    ];
    let blocks_file = dir.join("blocks.txt");
    let text: String = blocks.iter().map(|b| b.line.as_str()).collect();
    std::fs::write(&blocks_file, text).unwrap();

    let mut figures = Figures::new();
    for b in &blocks {
        let key = |engine: &str, api: &str| (engine.into(), api.into(), b.hash.into());
        figures.insert(key("rust", "objects"), b.rust);
        figures.insert(key("rust-abi", "bytes"), b.abi);
    }
    c_row(&dir, &blocks_file, plan, &mut figures);
    java_row(&blocks_file, plan, &mut figures);
    python_row(&blocks_file, plan, &mut figures);
    let wasm = js_rows(&dir, &blocks_file, plan, &mut figures);

    println!(
        "block: 1000 operations; SHA-256 proof {} bytes, BLAKE3 proof {} bytes, operations {} \
         bytes",
        blocks[0].proof_bytes, blocks[1].proof_bytes, blocks[0].ops_bytes
    );
    println!(
        "median of {} samples of {} calls; {}; {} cores",
        plan.samples,
        plan.reps,
        cpu(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "rustc: {}; gcc: {}; java: {}; python: {}; node: {}; chromium: {}",
        version("rustc", "--version"),
        version("gcc", "--version"),
        version("java", "-version"),
        version("python3", "--version"),
        node_version(),
        if have("chromium") {
            version("chromium", "--version")
        } else {
            String::new()
        }
    );
    if let Some(size) = wasm {
        println!("wasm module: {size} bytes after wasm-opt");
    }
    println!();
    println!(
        "| binding | operations cross as | SHA-256 ms | ops/s | x native | fastest x | BLAKE3 ms \
         | ops/s | x native | fastest x |"
    );
    println!("|:---|:---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let rows = [
        ("rust", "objects", "Rust `Verifier::verify`"),
        ("rust-abi", "bytes", "Rust via the C ABI (native)"),
        ("c", "bytes", "C (gcc -O2)"),
        ("java", "objects", "Java (JNA)"),
        ("python", "objects", "Python (ctypes)"),
        ("node", "bytes", "Node (wasm)"),
        ("node", "objects", "Node (wasm)"),
        ("chromium", "bytes", "Chromium (wasm)"),
        ("chromium", "objects", "Chromium (wasm)"),
    ];
    for (engine, api, label) in rows {
        let mut line = format!("| {label} | {api} |");
        let mut any = false;
        for b in &blocks {
            let native = b.abi;
            match figures.get(&(engine.into(), api.into(), b.hash.into())) {
                Some(t) => {
                    any = true;
                    line += &format!(
                        " {:.3} | {:.0} | {:.2} | {:.2} |",
                        t.median,
                        1e6 / t.median,
                        t.median / native.median,
                        t.min / native.min
                    );
                }
                None => line += " - | - | - | - |",
            }
        }
        if any {
            println!("{line}");
        } else {
            assert!(!in_ci(), "no figures for {label} ({api})");
        }
    }
}
