//! The Python binding (`ffi/python/avlplus.py`, ctypes): its unittest suite
//! (`ffi/python/test_avlplus.py`) run with python3 against `libavlplus_ffi.so` on every line of
//! the vector file (`common::vector_file`) and every vector of `fixtures/wire.json`, plus its
//! own checks of the insufficient-size retry, errors, closing and two threads sharing one
//! verifier.
//!
//! Without python3 the test is skipped, unless `CI=true`: then it fails.
//!
//! `cargo test --release -p avlplus-ffi --test python -- --ignored python_bench --nocapture`
//! times a 1000-operation block through the binding (`--bench`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{have, in_ci, root_dir, shared_lib, vector_file};

/// A temporary directory, removed when dropped; None (the test skips) without python3.
struct Work(PathBuf);

impl Work {
    fn new(test: &str) -> Option<Work> {
        if !have("python3") {
            assert!(
                !in_ci(),
                "python3 is missing (CI=true: the Python test must run)"
            );
            eprintln!("skipped: no python3");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("avlplus-ffi-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Some(Work(dir))
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn python(args: &[&Path], env: &[(&str, &Path)]) -> Output {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/test_avlplus.py");
    let mut cmd = Command::new("python3");
    // -X dev: warnings shown, faulthandler on (a crash in the library prints a traceback);
    // -B: no __pycache__ written into the source tree.
    cmd.args(["-X", "dev", "-B"])
        .arg(script)
        .args(args)
        .env("AVLPLUS_LIB", shared_lib())
        .env_remove("PYTHONPATH");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn python_binding_passes_every_vector() {
    let Some(work) = Work::new("python") else {
        return;
    };
    let (vectors, n) = vector_file(&work.0);
    let wire = root_dir().join("fixtures/wire.json");
    let output = python(
        &[Path::new("-v")],
        &[("AVLPLUS_VECTORS", &vectors), ("AVLPLUS_WIRE_JSON", &wire)],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python tests failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(&format!("python: vectors {n} cases\n")),
        "{stdout}\n{stderr}"
    );
    // unittest's summary; -X dev turns unclosed resources and the like into warnings.
    assert!(stderr.trim_end().ends_with("OK"), "{stderr}");
    assert!(!stderr.contains("Warning"), "{stderr}");
    eprintln!("{}\n{}", stdout.trim(), stderr.trim());
}

#[test]
#[ignore = "a benchmark: run with --ignored --nocapture"]
fn python_bench() {
    let Some(work) = Work::new("python-bench") else {
        return;
    };
    let block = common::bench_block_file(&work.0);
    let output = python(&[Path::new("--bench"), &block], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{}", stdout.trim());
}
