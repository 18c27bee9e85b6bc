package org.avlplus;

import java.util.Arrays;
import java.util.Objects;

/**
 * The result of one operation: what a lookup found, or what a change did, or why a change
 * failed (a failed operation changes nothing, and the rest of the batch still runs). Immutable.
 * Named {@code OpResult}, not {@code Result}, so as not to shadow Kotlin's {@code Result}.
 */
public final class OpResult {
  /** The kinds of result, with their wire tags (docs/wire-format.md §3). */
  public enum Kind {
    /** A lookup found the key; {@link #value()} is its value. */
    FOUND(0),
    /** A lookup did not find the key (or a remove-if-present found nothing to remove). */
    NOT_FOUND(1),
    /** An insert or upsert added the key. */
    INSERTED(2),
    /** An update or upsert changed the value. */
    UPDATED(3),
    /** A remove removed the key. */
    REMOVED(4),
    /** Failure: an insert of a key that is present. */
    KEY_EXISTS(5),
    /** Failure: an update or remove of a key that is absent. */
    KEY_MISSING(6);

    final int tag;

    Kind(int tag) {
      this.tag = tag;
    }

    /** @return whether this kind is a failure (the operation changed nothing) */
    public boolean isFailure() {
      return this == KEY_EXISTS || this == KEY_MISSING;
    }

    static Kind ofTag(int tag) {
      Kind[] all = values();
      return tag >= 0 && tag < all.length ? all[tag] : null;
    }
  }

  private static final OpResult[] VALUELESS = new OpResult[Kind.values().length];

  static {
    for (Kind k : Kind.values()) {
      if (k != Kind.FOUND) {
        VALUELESS[k.ordinal()] = new OpResult(k, null);
      }
    }
  }

  private final Kind kind;
  final byte[] value; // non-null exactly when kind == FOUND

  private OpResult(Kind kind, byte[] value) {
    this.kind = kind;
    this.value = value;
  }

  /**
   * A found result.
   *
   * @param value the value found (copied)
   * @return the result
   */
  public static OpResult found(byte[] value) {
    return new OpResult(Kind.FOUND, Objects.requireNonNull(value, "value").clone());
  }

  static OpResult foundOwning(byte[] value) {
    return new OpResult(Kind.FOUND, value);
  }

  /**
   * The result of kind {@code kind}, which must not be {@link Kind#FOUND}.
   *
   * @param kind any kind but FOUND
   * @return the result
   * @throws IllegalArgumentException for FOUND (use {@link #found(byte[])})
   */
  public static OpResult of(Kind kind) {
    Objects.requireNonNull(kind, "kind");
    if (kind == Kind.FOUND) {
      throw new IllegalArgumentException("a found result needs its value: use found(value)");
    }
    return VALUELESS[kind.ordinal()];
  }

  /** @return the kind */
  public Kind kind() {
    return kind;
  }

  /** @return whether the operation failed (and changed nothing) */
  public boolean isFailure() {
    return kind.isFailure();
  }

  /** @return a copy of the value found, or {@code null} unless the kind is FOUND */
  public byte[] value() {
    return value == null ? null : value.clone();
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof OpResult)) {
      return false;
    }
    OpResult other = (OpResult) o;
    return kind == other.kind && Arrays.equals(value, other.value);
  }

  @Override
  public int hashCode() {
    return 31 * kind.hashCode() + Arrays.hashCode(value);
  }

  @Override
  public String toString() {
    return value == null ? kind.toString() : kind + "(" + Wire.hex(value) + ")";
  }
}
