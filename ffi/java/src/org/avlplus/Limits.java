package org.avlplus;

import java.util.Arrays;

/**
 * What a {@link Verifier} accepts: a preset ({@link #DEFAULT} or {@link #PHONE}) with some fields
 * overridden. Immutable: each {@code with...} returns a new value.
 *
 * <pre>{@code
 * Limits limits = Limits.PHONE.withMaxOperations(4096).withMaxMemoryBytes(32L << 20);
 * }</pre>
 *
 * <p>Values are byte counts or counts, as {@code long}; {@link Long#MAX_VALUE} stands for "no
 * limit" (the library's {@code SIZE_MAX}). On a 32-bit platform a value above {@code SIZE_MAX}
 * is taken as {@code SIZE_MAX}. The key and value sizes must equal the prover's.
 */
public final class Limits {
  /** The presets of the library ({@code avlplus_preset}). */
  public enum Preset {
    /** 64 MiB proofs, 2^20 operations, depth 96, 1 KiB keys, 64 KiB values, no memory cap. */
    DEFAULT(0),
    /** At most 64 MiB of memory per verification, 8 MiB proofs, 65 536 operations. */
    PHONE(1);

    final int code;

    Preset(int code) {
      this.code = code;
    }
  }

  /** The fields of a set of limits ({@code avlplus_limit}). */
  public enum Field {
    /** Longest proof accepted, in bytes. */
    MAX_PROOF_BYTES(0),
    /** Most operations in one batch. */
    MAX_OPERATIONS(1),
    /** Deepest proof tree accepted. */
    MAX_DEPTH(2),
    /** Most bytes one verification may allocate. */
    MAX_MEMORY_BYTES(3),
    /** Longest key, in bytes; must equal the prover's. */
    MAX_KEY_LEN(4),
    /** Longest value, in bytes; must equal the prover's. */
    MAX_VALUE_LEN(5);

    final int code;

    Field(int code) {
      this.code = code;
    }
  }

  private static final long UNSET = -1;

  /** The library's default limits. */
  public static final Limits DEFAULT = new Limits(Preset.DEFAULT, noOverrides());

  /** Limits for a phone: bounded memory per verification. */
  public static final Limits PHONE = new Limits(Preset.PHONE, noOverrides());

  private final Preset preset;
  // One slot per Field (by ordinal): UNSET, or the override.
  private final long[] overrides;

  private Limits(Preset preset, long[] overrides) {
    this.preset = preset;
    this.overrides = overrides;
  }

  private static long[] noOverrides() {
    long[] o = new long[Field.values().length];
    Arrays.fill(o, UNSET);
    return o;
  }

  /**
   * The preset these limits start from.
   *
   * @return the preset
   */
  public Preset preset() {
    return preset;
  }

  /**
   * These limits with {@code field} set to {@code value}.
   *
   * @param field the field to override
   * @param value its value, at least 0 ({@link Long#MAX_VALUE}: no limit)
   * @return new limits
   * @throws IllegalArgumentException if {@code value} is negative
   */
  public Limits with(Field field, long value) {
    if (field == null) {
      throw new NullPointerException("field");
    }
    if (value < 0) {
      throw new IllegalArgumentException(field + " must not be negative: " + value);
    }
    long[] o = overrides.clone();
    o[field.ordinal()] = value;
    return new Limits(preset, o);
  }

  /** @param n longest proof, in bytes @return new limits */
  public Limits withMaxProofBytes(long n) {
    return with(Field.MAX_PROOF_BYTES, n);
  }

  /** @param n most operations in one batch @return new limits */
  public Limits withMaxOperations(long n) {
    return with(Field.MAX_OPERATIONS, n);
  }

  /** @param n deepest proof tree @return new limits */
  public Limits withMaxDepth(long n) {
    return with(Field.MAX_DEPTH, n);
  }

  /** @param n most bytes one verification may allocate @return new limits */
  public Limits withMaxMemoryBytes(long n) {
    return with(Field.MAX_MEMORY_BYTES, n);
  }

  /** @param n longest key, in bytes (must equal the prover's) @return new limits */
  public Limits withMaxKeyLen(long n) {
    return with(Field.MAX_KEY_LEN, n);
  }

  /** @param n longest value, in bytes (must equal the prover's) @return new limits */
  public Limits withMaxValueLen(long n) {
    return with(Field.MAX_VALUE_LEN, n);
  }

  /** The override of {@code field}, or -1 when the preset's value applies. */
  long override(Field field) {
    return overrides[field.ordinal()];
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("Limits(").append(preset);
    for (Field f : Field.values()) {
      if (overrides[f.ordinal()] != UNSET) {
        s.append(", ").append(f).append('=').append(overrides[f.ordinal()]);
      }
    }
    return s.append(')').toString();
  }
}
