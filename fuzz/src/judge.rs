//! The rule every verification target enforces.
//!
//! For a trusted root and a batch, the results and the new root are fixed by the pre-state:
//! a verifier may reject any bytes, but whatever it accepts must carry exactly the honest
//! answer. Separately, bytes that decode must re-encode to themselves (one encoding per
//! proof tree), so two different byte strings never pass as the same proof.

use avlplus::__internal::hex;
use avlplus::proof::{decode, DecodeLimits};
use avlplus::{Operation, RootDigest, Sha256, Verified, Verifier};

/// Checks decode/encode round trip and the verifier's verdict; panics on a violation.
pub fn judge(name: &str, root: &RootDigest, ops: &[Operation], honest: &Verified, bytes: &[u8]) {
    if let Ok(tree) = decode(bytes, &DecodeLimits::default()) {
        let again = tree.encode::<Sha256>();
        assert!(
            again == bytes,
            "{name}: decoded bytes re-encode differently\n in  {}\n out {}",
            hex(bytes),
            hex(&again)
        );
    }
    if let Ok(verified) = Verifier::<Sha256>::new().verify(root, bytes, ops) {
        assert!(
            verified == *honest,
            "{name}: accepted a dishonest answer\n root {}\n ops {ops:?}\n proof {}\n got {verified:?}\n honest {honest:?}",
            root.to_hex(),
            hex(bytes),
        );
    }
}
