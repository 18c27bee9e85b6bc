package org.avlplus;

import java.util.List;

/** A verified block: the root after it, and one result per operation, in order. */
public final class Verified {
  private final byte[] newRoot;
  private final List<OpResult> results;

  Verified(byte[] newRoot, List<OpResult> results) {
    this.newRoot = newRoot;
    this.results = results;
  }

  /** @return a copy of the root digest after the block ({@link Verifier#ROOT_LEN} bytes) */
  public byte[] newRoot() {
    return newRoot.clone();
  }

  /** @return the results, one per operation, in order (unmodifiable) */
  public List<OpResult> results() {
    return results;
  }
}
