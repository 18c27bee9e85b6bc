//! The Python binding (`ffi/python/avlplus.py`, ctypes): its unittest suite
//! (`ffi/python/test_avlplus.py`) run with python3 against `libavlplus_ffi.so` on every line of
//! the vector file (`common::vector_file`) and every vector of `fixtures/wire.json`, plus its
//! own checks of the insufficient-size retry, errors, closing and two threads sharing one
//! verifier.
//!
//! Without python3 the test is skipped, unless `CI=true`: then it fails. The binding's
//! throughput is measured by `ffi/benches/bindings.rs`.

mod common;

use std::path::Path;

use common::python::{python, Work};
use common::{root_dir, vector_file};

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
