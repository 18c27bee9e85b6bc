//! The Java binding (`ffi/java`, JNA): its sources and its test runner
//! (`ffi/java/test/org/avlplus/VerifierTest.java`) compiled with javac into a temporary
//! directory, run with `java` against `libavlplus_ffi.so` on every line of the vector file
//! (`common::vector_file`) and every vector of `fixtures/wire.json` (rewritten here as lines,
//! below), plus its own checks of errors, closing and two threads sharing one verifier.
//!
//! Needs javac, java and JNA's jar (`/usr/share/java/jna.jar`, Debian's `libjna-java`, or the
//! path in `AVLPLUS_JNA_JAR`). Without them the test is skipped, unless `CI=true`: then it fails.
//!
//! `cargo test --release -p avlplus-ffi --test java -- --ignored java_bench --nocapture` times
//! a 1000-operation block through the binding (`--bench`).

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{have, in_ci, root_dir, shared_lib, vector_file};
use serde_json::Value;

struct Java {
    jna: PathBuf,
    classes: PathBuf,
    work: PathBuf,
}

/// javac, java and jna.jar, or why not.
fn find_jna() -> Result<PathBuf, String> {
    if !have("javac") || !have("java") {
        return Err("javac or java is missing".into());
    }
    let jna = std::env::var_os("AVLPLUS_JNA_JAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/java/jna.jar"));
    if !jna.exists() {
        return Err(format!("{} is missing", jna.display()));
    }
    Ok(jna)
}

fn java_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            java_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "java") {
            out.push(path);
        }
    }
}

/// Compiles the binding and its tests (warnings are errors), or skips (returns None).
fn compile(test: &str) -> Option<Java> {
    let jna = match find_jna() {
        Ok(jna) => jna,
        Err(why) => {
            assert!(!in_ci(), "{why} (CI=true: the Java test must run)");
            eprintln!("skipped: {why}");
            return None;
        }
    };
    let work = std::env::temp_dir().join(format!("avlplus-ffi-{test}-{}", std::process::id()));
    let classes = work.join("classes");
    std::fs::create_dir_all(&classes).unwrap();
    let java = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("java");
    let mut sources = Vec::new();
    java_files(&java.join("src"), &mut sources);
    java_files(&java.join("test"), &mut sources);
    sources.sort();
    let javac = Command::new("javac")
        .args(["-Xlint:all", "-Werror", "-encoding", "UTF-8"])
        .arg("-cp")
        .arg(&jna)
        .arg("-d")
        .arg(&classes)
        .args(&sources)
        .output()
        .unwrap();
    assert!(
        javac.status.success(),
        "javac failed:\n{}{}",
        String::from_utf8_lossy(&javac.stdout),
        String::from_utf8_lossy(&javac.stderr)
    );
    Some(Java { jna, classes, work })
}

impl Java {
    /// Runs the test class; `check_jni` adds `-Xcheck:jni`, which aborts the JVM on a JNI
    /// misuse (its warnings are JNA's and the JDK's own start-up, not this binding's: not
    /// asserted on). Not for the benchmark: it slows every call.
    fn run(&self, check_jni: bool, args: &[&Path]) -> Output {
        let lib = shared_lib();
        let mut class_path = self.classes.clone().into_os_string();
        class_path.push(":");
        class_path.push(&self.jna);
        let mut library_path = std::ffi::OsString::from("-Djna.library.path=");
        library_path.push(lib.parent().unwrap());
        let mut java = Command::new("java");
        if check_jni {
            java.arg("-Xcheck:jni");
        }
        java.arg(library_path)
            .arg("-cp")
            .arg(class_path)
            .arg("org.avlplus.VerifierTest")
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Java {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

// ---------------------------------------------------------------------------------------------
// fixtures/wire.json as lines for the Java runner (no JSON parser in the JDK):
//
//   ops NAME HEX ITEM...        ITEM = KIND:KEY[:VALUE], hex, "-" for empty
//   results NAME HEX ITEM...    ITEM = found:VALUE | not_found | inserted | ... | key_missing
//   bad-ops NAME HEX CODE       CODE = the avlplus_result of the Rust WireError
//   bad-results NAME HEX CODE

fn field(v: &Value) -> String {
    match v.as_str().unwrap() {
        "" => "-".to_owned(),
        s => s.to_owned(),
    }
}

/// The result code of a `WireError` in its `Debug` form: a table of its own, independent of
/// the library's mapping.
fn wire_code(error: &str) -> u32 {
    match error.split([' ', '(']).next().unwrap() {
        "Truncated" => 300,
        "UnsupportedVersion" => 301,
        "BadVarint" => 302,
        "TooManyItems" => 303,
        "CountExceedsInput" => 304,
        "BadTag" => 305,
        "TooLong" if error.contains("KeyTooLong") => 306,
        "TooLong" if error.contains("ValueTooLong") => 307,
        "TrailingBytes" => 308,
        _ => panic!("no code for wire error {error}"),
    }
}

fn wire_lines() -> String {
    let text = std::fs::read_to_string(root_dir().join("fixtures/wire.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut out = String::from("# fixtures/wire.json, written by ffi/tests/java.rs\n");
    for v in doc["operations"].as_array().unwrap() {
        let _ = write!(
            out,
            "ops {} {}",
            v["name"].as_str().unwrap(),
            field(&v["bytes"])
        );
        for op in v["ops"].as_array().unwrap() {
            let _ = write!(out, " {}:{}", op["op"].as_str().unwrap(), field(&op["key"]));
            if let Some(value) = op.get("value") {
                let _ = write!(out, ":{}", field(value));
            }
        }
        out.push('\n');
    }
    for v in doc["results"].as_array().unwrap() {
        let _ = write!(
            out,
            "results {} {}",
            v["name"].as_str().unwrap(),
            field(&v["bytes"])
        );
        for r in v["results"].as_array().unwrap() {
            let item = match r {
                Value::String(s) => s.clone(),
                Value::Object(o) => match (o.get("found"), o.get("failure")) {
                    (Some(value), _) => format!("found:{}", field(value)),
                    (_, Some(failure)) => failure.as_str().unwrap().to_owned(),
                    _ => panic!("result {r}"),
                },
                _ => panic!("result {r}"),
            };
            let _ = write!(out, " {item}");
        }
        out.push('\n');
    }
    for (list, kind) in [
        ("malformed_operations", "bad-ops"),
        ("malformed_results", "bad-results"),
    ] {
        for v in doc[list].as_array().unwrap() {
            let _ = writeln!(
                out,
                "{kind} {} {} {}",
                v["name"].as_str().unwrap(),
                field(&v["bytes"]),
                wire_code(v["error"].as_str().unwrap())
            );
        }
    }
    out
}

#[test]
fn wire_lines_cover_the_fixture() {
    let lines = wire_lines();
    for kind in ["ops ", "results ", "bad-ops ", "bad-results "] {
        assert!(
            lines.lines().any(|l| l.starts_with(kind)),
            "no {kind:?} line"
        );
    }
    assert!(lines.contains(" found:- "), "the empty found value");
}

#[test]
fn java_binding_passes_every_vector() {
    let Some(java) = compile("java") else {
        return;
    };
    let (vectors, n) = vector_file(&java.work);
    let wire = java.work.join("wire.txt");
    std::fs::write(&wire, wire_lines()).unwrap();
    let output = java.run(true, &[&vectors, &wire]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Java tests failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(&format!("java: vectors {n} cases\n")) && stdout.contains(" 0 failed"),
        "{stdout}"
    );
    eprintln!("{}", stdout.trim());
}

#[test]
#[ignore = "a benchmark: run with --ignored --nocapture"]
fn java_bench() {
    let Some(java) = compile("java-bench") else {
        return;
    };
    let block = common::bench_block_file(&java.work);
    let output = java.run(false, &[Path::new("--bench"), &block]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{}", stdout.trim());
}
