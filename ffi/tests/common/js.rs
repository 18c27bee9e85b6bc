//! The JavaScript binding (`ffi/js`): the wasm module built and optimized, and node run on the
//! harnesses; shared by the JS test (`ffi/tests/js.rs`) and the bindings' benchmark
//! (`ffi/benches/bindings.rs`). Everything is built into `<target>/avlplus-js` (the wasm into
//! its own target directory, as [`super::static_lib`] does for the native library).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{cargo_build_ffi, have, in_ci, run_ok, target_root};

/// The budget for the optimized module, in bytes.
pub const MAX_WASM_BYTES: u64 = 120 * 1024;

pub fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// `<target>/avlplus-js`, beside the test binaries' own directories.
pub fn out_dir() -> PathBuf {
    let dir = target_root().join("avlplus-js");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether `tool` can run; if not, the caller skips (`false`), or fails under `CI=true`.
pub fn require(tool: &str, what: &str) -> bool {
    if have(tool) {
        return true;
    }
    assert!(!in_ci(), "{tool} is missing (CI=true: {what} must run)");
    eprintln!("skipped: no {tool} ({what})");
    false
}

/// The target feature the module is built with: WebAssembly SIMD (every current browser and
/// Node since 16.4; Safari since 16.4), which gives sha2 its SIMD SHA-256.
pub const WASM_RUSTFLAGS: &str =
    r#"target.wasm32-unknown-unknown.rustflags=["-C", "target-feature=+simd128"]"#;

/// `cargo build --profile wasm --target wasm32-unknown-unknown` with [`WASM_RUSTFLAGS`], then
/// `wasm-opt -O3`; returns `<dir>/avlplus.wasm` and prints both sizes.
pub fn build_wasm(dir: &Path) -> PathBuf {
    let target = dir.join("cargo");
    run_ok(
        cargo_build_ffi(&target)
            .args(["--profile", "wasm", "--target", "wasm32-unknown-unknown"])
            .args(["--config", WASM_RUSTFLAGS])
            // They would override the configured target feature.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS"),
        "cargo build of the wasm module (is the target installed? `rustup target add \
         wasm32-unknown-unknown`)",
    );
    let raw = target.join("wasm32-unknown-unknown/wasm/avlplus_ffi.wasm");
    let wasm = dir.join("avlplus.wasm");
    run_ok(
        Command::new("wasm-opt")
            .args(["-O3", "--strip-debug", "--strip-producers"])
            .arg(&raw)
            .arg("-o")
            .arg(&wasm),
        "wasm-opt",
    );
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    let (before, after) = (size(&raw), size(&wasm));
    eprintln!("avlplus.wasm: {before} bytes from cargo, {after} bytes after wasm-opt -O3");
    assert!(
        after <= MAX_WASM_BYTES,
        "the module is {after} bytes, over the budget of {MAX_WASM_BYTES}"
    );
    wasm
}

pub fn node(args: &[&str], env: &[(&str, PathBuf)]) -> String {
    let mut cmd = Command::new("node");
    cmd.args(args).current_dir(js_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run_ok(&mut cmd, &format!("node {args:?}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// playwright-core as locked in `ffi/js/package-lock.json`, installed with `npm ci` unless
/// `node_modules` already has it. Returns false (skip) if npm is missing or cannot install.
pub fn playwright() -> bool {
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

pub fn node_version() -> String {
    Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
