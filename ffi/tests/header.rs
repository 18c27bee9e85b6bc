//! The committed header `ffi/include/avlplus.h` is what the pinned cbindgen writes from the
//! sources, and its version macros are the crate's.
//!
//! `AVLPLUS_BLESS=1 cargo test -p avlplus-ffi --test header` rewrites the header; review the
//! diff before committing it.

use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate() -> String {
    let config = cbindgen::Config::from_file(dir().join("cbindgen.toml")).unwrap();
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir().join("src/lib.rs"))
        .generate()
        .unwrap()
        .write(&mut out);
    String::from_utf8(out).unwrap()
}

fn header_path() -> PathBuf {
    dir().join("include/avlplus.h")
}

#[test]
fn committed_header_matches_cbindgen() {
    let generated = generate();
    let path = header_path();
    if std::env::var_os("AVLPLUS_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "{} differs from what cbindgen generates (first at line {}): run \
             `AVLPLUS_BLESS=1 cargo test -p avlplus-ffi --test header` and review the diff",
            path.display(),
            line + 1
        );
    }
}

fn define(header: &str, name: &str) -> String {
    let prefix = format!("#define {name} ");
    header
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no #define {name} in the header"))
        .trim()
        .to_owned()
}

#[test]
fn header_version_macros_are_the_crate_version() {
    let header = std::fs::read_to_string(header_path()).unwrap();
    for (name, version) in [
        ("AVLPLUS_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("AVLPLUS_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("AVLPLUS_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        assert_eq!(
            define(&header, name),
            version,
            "{name} in the header is not the crate's version: update ffi/src/lib.rs and bless"
        );
    }
    assert_eq!(
        define(&header, "AVLPLUS_ABI_VERSION"),
        avlplus_ffi::avlplus_abi_version().to_string()
    );
    assert_eq!(define(&header, "AVLPLUS_ROOT_LEN"), "33");
}

/// Every `extern "C"` function of the sources is declared in the header, and nothing else
/// is: a function added without regenerating, or renamed, fails here too.
#[test]
fn header_declares_every_entry_point() {
    let header = std::fs::read_to_string(header_path()).unwrap();
    let mut in_sources = Vec::new();
    for entry in std::fs::read_dir(dir().join("src")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let line = line.trim_start();
            if let Some(rest) = line
                .strip_prefix("pub unsafe extern \"C\" fn ")
                .or_else(|| line.strip_prefix("pub extern \"C\" fn "))
            {
                in_sources.push(rest.split('(').next().unwrap().to_owned());
            }
        }
    }
    in_sources.sort();
    assert!(in_sources.len() >= 12, "{in_sources:?}");
    for name in &in_sources {
        assert!(
            header.contains(&format!(" {name}(")) || header.contains(&format!("*{name}(")),
            "{name} is not declared in the header"
        );
    }
}

/// The release profile unwinds: with `panic = "abort"` the entry points' `catch_unwind`
/// would do nothing and a panic would abort the host application.
#[test]
fn release_profile_unwinds() {
    for manifest in [dir().join("Cargo.toml"), dir().join("../Cargo.toml")] {
        let text = std::fs::read_to_string(&manifest).unwrap();
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(
            !compact.contains("panic=\"abort\""),
            "{} sets panic = \"abort\"",
            manifest.display()
        );
    }
    assert_ne!(
        std::env::var("CARGO_PROFILE_RELEASE_PANIC").as_deref(),
        Ok("abort")
    );
}
