//! The Python binding's test module (`ffi/python/test_avlplus.py`) run with python3 against
//! `libavlplus_ffi.so`: shared by the Python test (`ffi/tests/python.rs`) and the bindings'
//! benchmark (`ffi/benches/bindings.rs`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{have, in_ci, shared_lib};

/// Whether python3 runs; if not, the caller skips (`false`), or fails under `CI=true`.
pub fn available() -> bool {
    if have("python3") {
        return true;
    }
    assert!(
        !in_ci(),
        "python3 is missing (CI=true: the Python test must run)"
    );
    eprintln!("skipped: no python3");
    false
}

/// A temporary directory, removed when dropped.
pub struct Work(pub PathBuf);

impl Work {
    /// None (the caller skips) without python3 ([`available`]).
    pub fn new(test: &str) -> Option<Work> {
        if !available() {
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

/// `python3 -X dev -B ffi/python/test_avlplus.py ARGS`, with the library in `AVLPLUS_LIB`.
pub fn python(args: &[&Path], env: &[(&str, &Path)]) -> Output {
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
