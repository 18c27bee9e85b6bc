package org.avlplus;

/** The hash function of a tree; a verifier must use the prover's. */
public enum Hash {
  /** SHA-256, the library's default. */
  SHA256(1),
  /** BLAKE3. */
  BLAKE3(2);

  final int code;

  Hash(int code) {
    this.code = code;
  }
}
