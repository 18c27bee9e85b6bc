package org.avlplus;

/**
 * The library's result codes ({@code avlplus_result} of {@code ffi/include/avlplus.h}), as
 * carried by {@link AvlplusException#code()}. Constants rather than an enum: a newer library
 * may return a code this class does not know, and the number must survive.
 */
public final class ResultCode {
  private ResultCode() {}

  /** Success. */
  public static final int OK = 0;
  /** A required pointer was NULL (a bug in this binding). */
  public static final int NULL_PARAMETER = 1;
  /** An output buffer was too small (handled inside {@link Verifier}). */
  public static final int INSUFFICIENT_SIZE = 2;
  /** The library panicked: a bug, please report it. */
  public static final int PANIC = 3;
  /** A parameter has a value the library does not accept. */
  public static final int INVALID_PARAMETER = 4;
  /** The root digest is not 33 bytes. */
  public static final int INVALID_ROOT = 5;
  /** The proof is valid, but the key's value is not the expected one. */
  public static final int VALUE_MISMATCH = 6;
  /** An error this version of the ABI has no code for (or library output that does not decode). */
  public static final int UNEXPECTED_ERROR = 7;
  /** The batch has more operations than the verifier's limit. */
  public static final int TOO_MANY_OPERATIONS = 100;
  /** An operation's key is longer than the verifier's limit. */
  public static final int OPERATION_KEY_TOO_LONG = 101;
  /** An operation's value is longer than the verifier's limit. */
  public static final int OPERATION_VALUE_TOO_LONG = 102;
  /** The proof does not belong to the trusted root. */
  public static final int ROOT_MISMATCH = 103;
  /** The trusted root's height contradicts the proof. */
  public static final int HEIGHT_MISMATCH = 104;
  /** An operation needs a part of the tree that the proof cut off. */
  public static final int INCOMPLETE = 105;
  /** An operation reads a value the proof sent only as a digest. */
  public static final int VALUE_WITHHELD = 106;
  /** A walk reached a leaf that does not bracket its key. */
  public static final int WRONG_LEAF = 107;
  /** The proof's direction bits ran out. */
  public static final int DIRECTIONS_EXHAUSTED = 108;
  /** Direction bits are left over, or their padding is not zero. */
  public static final int UNUSED_DIRECTIONS = 109;
  /** The proof tree is inconsistent with its own shape. */
  public static final int MALFORMED = 110;
  /** The proof is longer than the verifier's limit. */
  public static final int PROOF_TOO_LONG = 200;
  /** The proof bytes end before the proof does. */
  public static final int PROOF_TRUNCATED = 201;
  /** The proof's version byte is not one the library reads. */
  public static final int PROOF_UNSUPPORTED_VERSION = 202;
  /** A varint in the proof is too long or not in shortest form. */
  public static final int PROOF_BAD_VARINT = 203;
  /** The proof's node count exceeds its bytes or the verifier's limit. */
  public static final int PROOF_TOO_MANY_NODES = 204;
  /** The proof could need more memory than the verifier's limit. */
  public static final int PROOF_TOO_MUCH_MEMORY = 205;
  /** The proof's shape is not exactly one binary tree. */
  public static final int PROOF_MALFORMED_SHAPE = 206;
  /** The proof tree is deeper than the limit or the trusted root's height. */
  public static final int PROOF_TOO_DEEP = 207;
  /** A key in the proof is longer than the limit. */
  public static final int PROOF_KEY_TOO_LONG = 208;
  /** A value in the proof is longer than the limit. */
  public static final int PROOF_VALUE_TOO_LONG = 209;
  /** Padding bits of the proof's shape are not zero. */
  public static final int PROOF_NON_ZERO_PADDING = 210;
  /** A width field of the proof is not the canonical one. */
  public static final int PROOF_NON_CANONICAL_WIDTH = 211;
  /** The proof's leaves are not in strictly increasing key order. */
  public static final int PROOF_UNORDERED_LEAVES = 212;
  /** Wire bytes end before the list does. */
  public static final int WIRE_TRUNCATED = 300;
  /** The wire version byte is not 1. */
  public static final int WIRE_UNSUPPORTED_VERSION = 301;
  /** A varint in the wire bytes is too long or not in shortest form. */
  public static final int WIRE_BAD_VARINT = 302;
  /** The wire list declares more items than the limit. */
  public static final int WIRE_TOO_MANY_ITEMS = 303;
  /** The wire list declares more items than its bytes could hold. */
  public static final int WIRE_COUNT_EXCEEDS_INPUT = 304;
  /** A wire item has an undefined tag. */
  public static final int WIRE_BAD_TAG = 305;
  /** A key in the wire bytes is longer than the limit. */
  public static final int WIRE_KEY_TOO_LONG = 306;
  /** A value in the wire bytes is longer than the limit. */
  public static final int WIRE_VALUE_TOO_LONG = 307;
  /** Bytes follow the last wire item. */
  public static final int WIRE_TRAILING_BYTES = 308;
}
