//! The code in `docs/mobile.md` is code that runs. Each fenced block there is preceded by one
//! of two HTML comments (only blank lines between):
//!
//! - `<!-- from: PATH -->`: the block is an excerpt of PATH (relative to the repository's
//!   root), a file that a test compiles and runs (the C, Java, Python and JS tests, the demo
//!   page). Its non-blank lines, trimmed, must be a contiguous run of PATH's non-blank lines,
//!   trimmed: no elided lines, no `...`. The block's language must fit PATH's extension.
//! - `<!-- not compiled here: REASON -->`: what this machine cannot build (Kotlin, Swift, an
//!   iOS module map). Their names are still checked: the Swift block's `avlplus_*` and
//!   `AVLPLUS_*` against `ffi/include/avlplus.h`, the Kotlin block's classes, constants and
//!   methods against the Java binding's sources, the module map's header and library name.
//!
//! A block with neither fails, and so does a `from:` block that drifted from its file: the
//! message names the first line that is no longer there and what the file has instead.

mod common;

use std::collections::BTreeSet;

use common::root_dir;

const DOC: &str = "docs/mobile.md";

/// The files whose excerpts `docs/mobile.md` must show: one per binding's test, and the demo.
const MUST_QUOTE: &[&str] = &[
    "ffi/tests/c/verify_vectors.c",
    "ffi/java/test/org/avlplus/VerifierTest.java",
    "ffi/python/test_avlplus.py",
    "ffi/js/test/errors.test.mjs",
    "ffi/js/demo/demo.mjs",
];

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(root_dir().join(path)).ok()
}

#[derive(Debug, Clone, PartialEq)]
enum Marker {
    From(String),
    NotCompiled(String),
}

/// A fenced code block: the line of its opening fence (1-based), its info string, the
/// comment before it, and its lines with their line numbers.
#[derive(Debug)]
struct Block {
    line: usize,
    info: String,
    marker: Option<Marker>,
    lines: Vec<(usize, String)>,
}

/// `<!-- from: X -->` or `<!-- not compiled here: X -->`; `Err` for another HTML comment
/// that looks like a marker but is misspelled.
fn marker(line: &str) -> Option<Result<Marker, String>> {
    let inner = line.strip_prefix("<!--")?.strip_suffix("-->")?.trim();
    if let Some(path) = inner.strip_prefix("from:") {
        return Some(Ok(Marker::From(path.trim().to_owned())));
    }
    if let Some(reason) = inner.strip_prefix("not compiled here:") {
        return Some(Ok(Marker::NotCompiled(reason.trim().to_owned())));
    }
    if inner.starts_with("from") || inner.starts_with("not compiled") {
        return Some(Err(format!("a misspelled marker: {line}")));
    }
    None
}

/// The fence of an opening or closing line: its character and length.
fn fence(trimmed: &str) -> Option<(char, usize)> {
    let c = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = trimmed.chars().take_while(|x| *x == c).count();
    (n >= 3).then_some((c, n))
}

/// The fenced blocks of a Markdown text, and what is wrong with its markers.
fn parse(doc: &str) -> (Vec<Block>, Vec<String>) {
    let mut blocks = Vec::new();
    let mut errors = Vec::new();
    let mut pending: Option<(usize, Marker)> = None;
    let mut lines = doc.lines().enumerate().map(|(i, l)| (i + 1, l));
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        match marker(trimmed) {
            Some(Ok(m)) => {
                if let Some((at, _)) = pending.replace((n, m)) {
                    errors.push(format!("{DOC}:{at}: a marker not followed by a code block"));
                }
                continue;
            }
            Some(Err(e)) => {
                errors.push(format!("{DOC}:{n}: {e}"));
                continue;
            }
            None => {}
        }
        let Some((c, len)) = fence(trimmed) else {
            if let Some((at, _)) = pending.take() {
                errors.push(format!("{DOC}:{at}: a marker not followed by a code block"));
            }
            continue;
        };
        let info = trimmed[c.len_utf8() * len..].trim().to_owned();
        let mut block = Block {
            line: n,
            info,
            marker: pending.take().map(|(_, m)| m),
            lines: Vec::new(),
        };
        let mut closed = false;
        for (m, l) in lines.by_ref() {
            let t = l.trim();
            if fence(t)
                .is_some_and(|(c2, len2)| c2 == c && len2 >= len && t.chars().all(|x| x == c))
            {
                closed = true;
                break;
            }
            block.lines.push((m, l.to_owned()));
        }
        if !closed {
            errors.push(format!("{DOC}:{n}: a code block that is never closed"));
        }
        blocks.push(block);
    }
    if let Some((at, _)) = pending {
        errors.push(format!("{DOC}:{at}: a marker not followed by a code block"));
    }
    (blocks, errors)
}

/// The languages a block taken from a file with this extension may be marked with.
fn languages(path: &str) -> &'static [&'static str] {
    match path.rsplit('.').next().unwrap_or("") {
        "c" | "h" => &["c"],
        "java" => &["java"],
        "py" => &["python", "py"],
        "mjs" | "js" => &["js", "javascript"],
        "rs" => &["rust"],
        "sh" => &["sh", "bash"],
        _ => &[],
    }
}

/// A line that stands for lines left out: `...` or `…`, bare or as a comment.
fn is_ellipsis(trimmed: &str) -> bool {
    let t = trimmed
        .trim_start_matches(['/', '*', '#', '-', ' '])
        .trim_end_matches(['/', '*', ' ']);
    t == "..." || t == "…" || trimmed.contains('…')
}

/// The non-blank lines of a text, trimmed, with their line numbers.
fn significant<'a>(lines: impl Iterator<Item = (usize, &'a str)>) -> Vec<(usize, &'a str)> {
    lines
        .map(|(n, l)| (n, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect()
}

/// Checks one `from:` block against the text of its file; returns the file's lines it
/// matches, or why not.
fn check_excerpt(block: &Block, path: &str, text: &str) -> Result<(usize, usize), String> {
    let at = block.line;
    let want = significant(block.lines.iter().map(|(n, l)| (*n, l.as_str())));
    if want.is_empty() {
        return Err(format!("{DOC}:{at}: an empty block from {path}"));
    }
    if !languages(path).contains(&block.info.as_str()) {
        return Err(format!(
            "{DOC}:{at}: a ```{} block from {path}, whose language is {:?}",
            block.info,
            languages(path)
        ));
    }
    if let Some((n, l)) = want.iter().find(|(_, l)| is_ellipsis(l)) {
        return Err(format!(
            "{DOC}:{n}: `{l}` in a block from {path}: excerpts are whole runs of lines, \
             nothing left out (show two blocks instead)"
        ));
    }
    let have = significant(text.lines().enumerate().map(|(i, l)| (i + 1, l)));
    // The longest run of the block's lines found in the file, and where.
    let (mut best, mut best_at) = (0, 0);
    for start in 0..have.len() {
        let k = want
            .iter()
            .zip(&have[start..])
            .take_while(|((_, w), (_, h))| w == h)
            .count();
        if k > best {
            (best, best_at) = (k, start);
        }
    }
    if best == want.len() {
        return Ok((have[best_at].0, have[best_at + best - 1].0));
    }
    let (n, line) = want[best];
    let how = if best == 0 {
        format!("is nowhere in {path}")
    } else {
        let (from, to) = (have[best_at].0, have[best_at + best - 1].0);
        let instead = match have.get(best_at + best) {
            Some((m, l)) => format!("{path}:{m} has `{l}`"),
            None => format!("{path} ends there"),
        };
        format!(
            "does not follow the block's {best} line(s) before it, which are {path}:{from}-{to} \
             ({instead})"
        )
    };
    Err(format!(
        "{DOC}:{n}: the ```{} block of {DOC}:{at} has drifted from {path}: its line\n    \
         `{line}`\n{how}. Copy the excerpt again from the file (a real run of its lines), or \
         change the file's code back.",
        block.info
    ))
}

/// What checking a document found: errors, and the excerpts and exemptions it holds.
#[derive(Default, Debug)]
struct Report {
    errors: Vec<String>,
    excerpts: Vec<(String, usize, usize)>,
    exempt: Vec<(usize, String, String)>,
}

fn check(doc: &str, read: &dyn Fn(&str) -> Option<String>) -> Report {
    let (blocks, errors) = parse(doc);
    let mut report = Report {
        errors,
        ..Report::default()
    };
    if blocks.is_empty() {
        report.errors.push(format!("{DOC}: no code blocks"));
    }
    for block in &blocks {
        match &block.marker {
            None => report.errors.push(format!(
                "{DOC}:{}: a ```{} block with no marker: put `<!-- from: PATH -->` (an excerpt \
                 of a tested file) or `<!-- not compiled here: REASON -->` right before it",
                block.line, block.info
            )),
            Some(Marker::NotCompiled(reason)) if reason.is_empty() => report.errors.push(format!(
                "{DOC}:{}: `not compiled here:` with no reason",
                block.line
            )),
            Some(Marker::NotCompiled(reason)) => {
                report
                    .exempt
                    .push((block.line, block.info.clone(), reason.clone()))
            }
            Some(Marker::From(path)) => match read(path) {
                None => report.errors.push(format!(
                    "{DOC}:{}: `from: {path}`: no such file",
                    block.line
                )),
                Some(text) => match check_excerpt(block, path, &text) {
                    Ok((from, to)) => report.excerpts.push((path.clone(), from, to)),
                    Err(e) => report.errors.push(e),
                },
            },
        }
    }
    report
}

#[test]
fn every_code_block_is_an_excerpt_of_a_tested_file_or_says_why_not() {
    let doc = read(DOC).expect("docs/mobile.md");
    let report = check(&doc, &read);
    assert!(
        report.errors.is_empty(),
        "{DOC}: {} problem(s):\n\n{}",
        report.errors.len(),
        report.errors.join("\n\n")
    );
    let quoted: BTreeSet<&str> = report.excerpts.iter().map(|(p, ..)| p.as_str()).collect();
    for path in MUST_QUOTE {
        assert!(
            quoted.contains(path),
            "{DOC} shows no excerpt of {path} (quoted: {quoted:?})"
        );
    }
    for (path, from, to) in &report.excerpts {
        eprintln!("excerpt: {path}:{from}-{to}");
    }
    for (line, info, reason) in &report.exempt {
        eprintln!("not compiled: {DOC}:{line} ```{info}: {reason}");
    }
}

// ---------------------------------------------------------------------------------------------
// The blocks that are not compiled here: their names exist.

/// The identifiers of a text, with the character before each and the one after it.
fn identifiers(text: &str) -> Vec<(char, String, char)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_alphabetic() || chars[i] == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let before = if start == 0 { ' ' } else { chars[start - 1] };
            let after = chars.get(i).copied().unwrap_or(' ');
            out.push((before, chars[start..i].iter().collect(), after));
        } else {
            i += 1;
        }
    }
    out
}

fn has_word(text: &str, word: &str) -> bool {
    identifiers(text).iter().any(|(_, w, _)| w == word)
}

/// A block's code without `//` comments (the snippets put no `//` in strings).
fn code_of(block: &Block) -> String {
    block
        .lines
        .iter()
        .map(|(_, l)| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

fn exempt_blocks(info: &str) -> Vec<Block> {
    let (blocks, _) = parse(&read(DOC).unwrap());
    blocks
        .into_iter()
        .filter(|b| b.info == info && matches!(b.marker, Some(Marker::NotCompiled(_))))
        .collect()
}

#[test]
fn the_swift_blocks_call_functions_and_constants_of_the_header() {
    let header = read("ffi/include/avlplus.h").unwrap();
    let blocks = exempt_blocks("swift");
    assert!(!blocks.is_empty(), "{DOC} has no Swift block");
    let mut names = BTreeSet::new();
    for b in &blocks {
        for (_, w, _) in identifiers(&code_of(b)) {
            if w.starts_with("avlplus_") || w.starts_with("AVLPLUS_") {
                assert!(
                    has_word(&header, &w),
                    "{DOC}:{}: the Swift block uses {w}, which ffi/include/avlplus.h does not \
                     declare",
                    b.line
                );
                names.insert(w);
            }
        }
    }
    assert!(names.len() >= 5, "{names:?}");
}

/// Kotlin's own classes the Kotlin block may call.
const KOTLIN_STDLIB: &[&str] = &["Pair"];

#[test]
fn the_kotlin_blocks_use_classes_constants_and_methods_of_the_java_binding() {
    let dir = root_dir().join("ffi/java/src/org/avlplus");
    let class = |name: &str| std::fs::read_to_string(dir.join(format!("{name}.java"))).ok();
    let sources: String = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let public_method = |name: &str| {
        sources
            .lines()
            .any(|l| l.contains("public ") && l.contains(&format!(" {name}(")))
    };
    let blocks = exempt_blocks("kotlin");
    assert!(!blocks.is_empty(), "{DOC} has no Kotlin block");
    let mut checked = 0;
    for b in &blocks {
        let code = code_of(b);
        let ids = identifiers(&code);
        for (k, (before, w, after)) in ids.iter().enumerate() {
            let upper = w.starts_with(|c: char| c.is_ascii_uppercase());
            let what = if *before == '.' && *after == '(' {
                // A method call: a public method of the binding.
                public_method(w).then_some(()).ok_or("a public method")
            } else if upper && *before != '.' && (*after == '(' || *after == '.') {
                if KOTLIN_STDLIB.contains(&w.as_str()) {
                    continue;
                }
                // A constructor call or a class's member: a class of the binding.
                class(w).map(|_| ()).ok_or("a class")
            } else if upper && *before == '.' && k > 0 {
                // `Class.CONSTANT`: a name in that class's source.
                let owner = &ids[k - 1].1;
                class(owner)
                    .filter(|src| has_word(src, w))
                    .map(|_| ())
                    .ok_or("a member of the class before it")
            } else {
                continue;
            };
            assert!(
                what.is_ok(),
                "{DOC}:{}: the Kotlin block uses {w}, which is not {} in \
                 ffi/java/src/org/avlplus",
                b.line,
                what.unwrap_err()
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} names checked");
}

#[test]
fn the_module_map_names_the_header_and_the_library() {
    let (blocks, _) = parse(&read(DOC).unwrap());
    let maps: Vec<&Block> = blocks
        .iter()
        .filter(|b| {
            b.lines
                .iter()
                .any(|(_, l)| l.trim_start().starts_with("module "))
        })
        .collect();
    assert_eq!(maps.len(), 1, "{DOC} should have one module map");
    let manifest = read("ffi/Cargo.toml").unwrap();
    for (n, l) in &maps[0].lines {
        let quoted = || l.split('"').nth(1).unwrap_or_default().to_owned();
        match l.split_whitespace().next() {
            Some("header") => assert!(
                root_dir().join("ffi/include").join(quoted()).is_file(),
                "{DOC}:{n}: no header {} in ffi/include",
                quoted()
            ),
            Some("link") => assert!(
                manifest.contains(&format!("name = \"{}\"", quoted())),
                "{DOC}:{n}: the library is not named {} in ffi/Cargo.toml",
                quoted()
            ),
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The checker itself, on small documents.

fn check_with(doc: &str, file: &str) -> Report {
    let file = file.to_owned();
    check(doc, &move |p: &str| (p == "t/a.c").then(|| file.clone()))
}

const FILE: &str = "int f(void) {\n  int x = 1;\n\n  return x;\n}\n";

#[test]
fn checker_accepts_a_contiguous_excerpt_whatever_its_indentation() {
    let doc = "text\n\n<!-- from: t/a.c -->\n\n```c\nint x = 1;\nreturn x;\n```\n\n\
               <!-- not compiled here: no compiler -->\n```swift\nlet a = 1\n```\n";
    let r = check_with(doc, FILE);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.excerpts, vec![("t/a.c".to_owned(), 2, 4)]);
    assert_eq!(r.exempt.len(), 1);
}

#[test]
fn checker_reports_the_first_drifted_line_and_what_the_file_has() {
    let doc = "<!-- from: t/a.c -->\n```c\nint x = 1;\nreturn y;\n```\n";
    let r = check_with(doc, FILE);
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    let e = &r.errors[0];
    assert!(e.starts_with("docs/mobile.md:4: "), "{e}");
    assert!(
        e.contains("`return y;`") && e.contains("t/a.c:4 has `return x;`"),
        "{e}"
    );
    let r = check_with("<!-- from: t/a.c -->\n```c\nint z;\n```\n", FILE);
    assert!(
        r.errors[0].contains("is nowhere in t/a.c"),
        "{:?}",
        r.errors
    );
    // Out of order, or with a line of the file left out: not a contiguous run.
    let r = check_with(
        "<!-- from: t/a.c -->\n```c\nint f(void) {\nreturn x;\n```\n",
        FILE,
    );
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
}

#[test]
fn checker_refuses_unmarked_elided_mislabelled_and_dangling() {
    let unmarked = check_with("```c\nint x = 1;\n```\n", FILE);
    assert!(
        unmarked.errors[0].contains("no marker"),
        "{:?}",
        unmarked.errors
    );
    let elided = check_with(
        "<!-- from: t/a.c -->\n```c\nint x = 1;\n/* ... */\n```\n",
        FILE.replace("\n\n", "\n/* ... */\n").as_str(),
    );
    assert!(
        elided.errors[0].contains("nothing left out"),
        "{:?}",
        elided.errors
    );
    let wrong_language = check_with("<!-- from: t/a.c -->\n```js\nint x = 1;\n```\n", FILE);
    assert!(
        wrong_language.errors[0].contains("language"),
        "{:?}",
        wrong_language.errors
    );
    let missing = check("<!-- from: t/b.c -->\n```c\nx\n```\n", &|_| None);
    assert!(
        missing.errors[0].contains("no such file"),
        "{:?}",
        missing.errors
    );
    let dangling = check_with(
        "<!-- from: t/a.c -->\ntext\n\n```c\nint x = 1;\n```\n",
        FILE,
    );
    assert_eq!(dangling.errors.len(), 2, "{:?}", dangling.errors);
    let no_reason = check_with("<!-- not compiled here: -->\n```c\nx\n```\n", FILE);
    assert!(
        no_reason.errors[0].contains("no reason"),
        "{:?}",
        no_reason.errors
    );
    let misspelled = check_with("<!-- from t/a.c -->\n```c\nint x = 1;\n```\n", FILE);
    assert!(
        misspelled.errors[0].contains("misspelled"),
        "{:?}",
        misspelled.errors
    );
    let open = check_with("<!-- from: t/a.c -->\n```c\nint x = 1;\n", FILE);
    assert!(open.errors[0].contains("never closed"), "{:?}", open.errors);
}
