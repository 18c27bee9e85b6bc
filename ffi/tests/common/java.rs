//! The Java binding (`ffi/java`, JNA) compiled with javac and run with `java` against
//! `libavlplus_ffi.so`: shared by the Java test (`ffi/tests/java.rs`) and the bindings'
//! benchmark (`ffi/benches/bindings.rs`).
//!
//! Needs javac, java and JNA's jar (`/usr/share/java/jna.jar`, Debian's `libjna-java`, or the
//! path in `AVLPLUS_JNA_JAR`). Without them [`compile`] returns None (the caller skips),
//! unless `CI=true`: then it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{have, in_ci, run_ok, shared_lib};

/// The compiled classes in a temporary directory, removed when dropped.
pub struct Java {
    jna: PathBuf,
    classes: PathBuf,
    /// A scratch directory for the run's input files.
    pub work: PathBuf,
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
pub fn compile(test: &str) -> Option<Java> {
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
    run_ok(
        Command::new("javac")
            .args(["-Xlint:all", "-Werror", "-encoding", "UTF-8"])
            .arg("-cp")
            .arg(&jna)
            .arg("-d")
            .arg(&classes)
            .args(&sources),
        "javac",
    );
    Some(Java { jna, classes, work })
}

impl Java {
    /// Runs the test class; `check_jni` adds `-Xcheck:jni`, which aborts the JVM on a JNI
    /// misuse (its warnings are JNA's and the JDK's own start-up, not this binding's: not
    /// asserted on). Not for the benchmark: it slows every call.
    pub fn run(&self, check_jni: bool, args: &[&Path]) -> Output {
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
