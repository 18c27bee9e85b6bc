//! Figures the docs quote that the code defines: each is rebuilt here from the library's own
//! constants (or counted from the files it describes) and looked up in the doc, so a change
//! to a limit, a cost constant or the adversarial corpus fails here until the doc follows.
//!
//! Measured figures (peak memory of hostile proofs) are checked where they are measured, in
//! `tests/bounds.rs`; the proof-format worked examples in `tests/fixtures.rs`.

use std::path::PathBuf;

use avlplus::proof::DecodeLimits;
use avlplus::{Limits, SizeLimits};

fn doc(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Asserts that `doc` quotes `figure`, naming where it should be.
fn quotes(doc_name: &str, text: &str, figure: &str) {
    assert!(
        text.contains(figure),
        "{doc_name} should quote `{figure}` (the library's value changed, or the doc did)"
    );
}

/// `n` as the docs write sizes: `64 MiB`, `1 KiB`, `96`.
fn size(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n.is_multiple_of(1 << 20) => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n.is_multiple_of(1 << 10) => format!("{} KiB", n >> 10),
        n => n.to_string(),
    }
}

/// `n` as a power of two, `2^20`.
fn power_of_two(n: usize) -> String {
    assert!(n.is_power_of_two(), "{n}");
    format!("2^{}", n.trailing_zeros())
}

/// `n` with thin groups of three digits, as the docs print counts: `65 536`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[test]
fn security_resource_table_quotes_the_default_limits() {
    let name = "docs/security.md";
    let text = doc(name);
    let d = Limits::DEFAULT;
    let s = SizeLimits::DEFAULT;
    quotes(
        name,
        &text,
        &format!(
            "`ops.len() ≤ max_operations` ({})",
            power_of_two(d.max_operations)
        ),
    );
    quotes(
        name,
        &text,
        &format!(
            "every key `≤ max_key_len` ({}), value `≤ max_value_len` ({})",
            size(s.max_key_len),
            size(s.max_value_len)
        ),
    );
    quotes(
        name,
        &text,
        &format!(
            "`proof.len() ≤ max_proof_bytes` ({})",
            size(d.max_proof_bytes)
        ),
    );
    quotes(name, &text, &format!("(`max_depth` {};", d.max_depth));
    assert_eq!(d.sizes, s);
    assert_eq!(
        d.max_memory_bytes,
        usize::MAX,
        "the doc says DEFAULT has no memory cap"
    );
    quotes(name, &text, "`Limits::DEFAULT` has no memory cap");
}

#[test]
fn security_quotes_the_phone_preset() {
    let name = "docs/security.md";
    let text = doc(name);
    let p = Limits::PHONE;
    quotes(
        name,
        &text,
        &format!(
            "`Limits::PHONE` caps it at {} (with {} proofs and {} operations)",
            size(p.max_memory_bytes),
            size(p.max_proof_bytes),
            grouped(p.max_operations)
        ),
    );
}

#[test]
fn security_quotes_the_decoders_memory_charge_per_token() {
    let name = "docs/security.md";
    let text = doc(name);
    let bound = DecodeLimits::DEFAULT;
    let per_node = bound.memory_bound(1, 0);
    // The bound is affine: nodes × per_node + bytes.
    assert_eq!(bound.memory_bound(1000, 7), 1000 * per_node + 7);
    quotes(name, &text, &format!("`node_count × {per_node} + bytes`"));
    let decode_rs = doc("src/proof/decode.rs");
    quotes(
        "src/proof/decode.rs",
        &decode_rs,
        &format!("`nodes × {per_node} + len`"),
    );
    assert_eq!(bound.max_depth, Limits::DEFAULT.max_depth);
    assert_eq!(bound.max_proof_bytes, Limits::DEFAULT.max_proof_bytes);
}

#[test]
fn design_limits_table_quotes_the_defaults() {
    let name = "docs/design.md";
    let text = doc(name);
    let d = Limits::DEFAULT;
    let s = SizeLimits::DEFAULT;
    for (row, value) in [
        ("| key length |", size(s.max_key_len)),
        ("| value length |", size(s.max_value_len)),
        ("| proof bytes |", size(d.max_proof_bytes)),
        ("| operations per batch |", power_of_two(d.max_operations)),
        ("| proof tree depth |", d.max_depth.to_string()),
    ] {
        quotes(name, &text, &format!("{row} {value} |"));
    }
}

#[test]
fn proof_format_limits_table_quotes_the_decoder_defaults() {
    let name = "docs/proof-format.md";
    let text = doc(name);
    let d = DecodeLimits::DEFAULT;
    assert_eq!(
        d.max_nodes,
        usize::MAX,
        "the doc says the node count is unbounded"
    );
    assert_eq!(
        d.max_memory_bytes,
        usize::MAX,
        "the doc says memory is unbounded"
    );
    for figure in [
        format!(
            "| `max_proof_bytes` | {} ({}) | {} |",
            size(d.max_proof_bytes),
            grouped(d.max_proof_bytes),
            size(Limits::DEFAULT.max_proof_bytes)
        ),
        format!(
            "| {} | `min({}, trusted root height)` |",
            d.max_depth,
            Limits::DEFAULT.max_depth
        ),
        format!(
            "| `max_key_len` | {} | `SizeLimits::max_key_len` ({}) |",
            d.max_key_len,
            SizeLimits::DEFAULT.max_key_len
        ),
        format!(
            "| `max_value_len` | {} | `SizeLimits::max_value_len` ({}) |",
            grouped(d.max_value_len),
            grouped(SizeLimits::DEFAULT.max_value_len)
        ),
        format!(
            "; {} in `Limits::PHONE`)",
            size(Limits::PHONE.max_memory_bytes)
        ),
        format!(
            "to `max_operations` ({}) operations",
            power_of_two(Limits::DEFAULT.max_operations)
        ),
    ] {
        quotes(name, &text, &figure);
    }
}

#[test]
fn security_counts_the_adversarial_corpus() {
    let cases = doc("tests/adversarial/cases.txt");
    let n = cases
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    let name = "docs/security.md";
    quotes(name, &doc(name), &format!("| {n} named proofs,"));
}

#[test]
fn size_and_grouping_print_as_the_docs_do() {
    assert_eq!(size(64 << 20), "64 MiB");
    assert_eq!(size(1024), "1 KiB");
    assert_eq!(size(96), "96");
    assert_eq!(grouped(65_536), "65 536");
    assert_eq!(grouped(262_143), "262 143");
    assert_eq!(grouped(999), "999");
    assert_eq!(power_of_two(1 << 20), "2^20");
}
