//! The C test: `ffi/tests/c/verify_vectors.c`, compiled with gcc against the committed header
//! and the static library, run under valgrind (zero errors, zero definite or indirect leaks)
//! on every vector of `fixtures/sha256.json` and `fixtures/blake3.json` and every case of the
//! adversarial corpus `tests/adversarial/`.
//!
//! The C program reads a line format (see its header comment) that this test writes from the
//! JSON fixtures and the corpus into a temporary directory; the lines are rebuilt on every run,
//! so there is no second copy of the vectors to drift. Expected codes come from the corpus's
//! own verdicts through a table written here, not from the library's mapping.
//!
//! Without gcc the test is skipped, and without valgrind the program runs bare, unless
//! `CI=true`: then a missing tool fails the test.

mod common;

use std::process::Command;

use common::{compile_c, have, in_ci, vectors};

#[test]
fn vectors_cover_the_fixtures_and_the_corpus() {
    let (text, n) = vectors();
    assert!(n > 100, "{n} cases");
    for needed in [
        "verify sha256 ",
        "verify blake3 ",
        "lookup blake3 ",
        "value sha256 ",
    ] {
        assert!(text.contains(needed), "no line starting {needed:?}");
    }
    assert!(text.contains(" honest-fixed64.hex ") && text.contains(" depth-bomb.hex "));
}

#[test]
fn c_program_verifies_every_vector_under_valgrind() {
    if !have("gcc") {
        assert!(!in_ci(), "gcc is missing (CI=true: the C test must run)");
        eprintln!("skipped: no gcc");
        return;
    }
    let valgrind = have("valgrind");
    assert!(
        valgrind || !in_ci(),
        "valgrind is missing (CI=true: the C test must run under it)"
    );
    let work = std::env::temp_dir().join(format!("avlplus-ffi-c-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let (text, n) = vectors();
    let vector_file = work.join("vectors.txt");
    std::fs::write(&vector_file, text).unwrap();

    let exe = compile_c(&work, "-O1");

    let mut run = if valgrind {
        let mut c = Command::new("valgrind");
        c.args([
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
            "--quiet",
        ])
        .arg(&exe);
        c
    } else {
        eprintln!("valgrind not found: running the C program without it");
        Command::new(&exe)
    };
    let output = run.arg(&vector_file).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the C program failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(&format!("verify_vectors: {n} cases")) && stdout.contains(" 0 failed"),
        "{stdout}"
    );
    if valgrind {
        // --quiet: valgrind prints nothing unless it found something.
        assert!(stderr.trim().is_empty(), "valgrind reported:\n{stderr}");
    }
    eprintln!("{}", stdout.trim());
    let _ = std::fs::remove_dir_all(&work);
}
