//! The Java binding (`ffi/java`, JNA): its sources and its test runner
//! (`ffi/java/test/org/avlplus/VerifierTest.java`) compiled with javac into a temporary
//! directory, run with `java` against `libavlplus_ffi.so` on every line of the vector file
//! (`common::vector_file`) and every vector of `fixtures/wire.json` (rewritten here as lines,
//! below), plus its own checks of errors, closing and two threads sharing one verifier.
//!
//! Needs javac, java and JNA's jar (`common/java.rs`). Without them the test is skipped, unless
//! `CI=true`: then it fails. The binding's throughput is measured by `ffi/benches/bindings.rs`.

mod common;

use std::fmt::Write as _;

use common::java::compile;
use common::{root_dir, vector_file};
use serde_json::Value;

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
