//! Rewrites the cross-implementation test vectors in `fixtures/`.
//!
//! ```text
//! cargo run --example gen_fixtures
//! ```
//!
//! `tests/fixtures.rs` fails while the committed files differ from what this writes; after a
//! deliberate change to the format or the hashing, run this and review the diff.

#[path = "../tests/fixtures_gen/mod.rs"]
mod fixtures_gen;

use std::path::Path;

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    std::fs::create_dir_all(&dir)?;
    for (name, content) in fixtures_gen::files() {
        let path = dir.join(name);
        std::fs::write(&path, content)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
