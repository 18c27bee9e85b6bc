package org.avlplus;

import java.util.Arrays;
import java.util.Objects;

/**
 * One operation of a batch: a kind, a key and, for insert, update and upsert, a value. Keys and
 * values are arbitrary bytes (the empty array is valid). Immutable: the arrays are copied in
 * and out.
 *
 * <pre>{@code
 * List<Operation> block = List.of(
 *     Operation.insert("alice".getBytes(UTF_8), "100".getBytes(UTF_8)),
 *     Operation.lookup("bob".getBytes(UTF_8)));
 * }</pre>
 */
public final class Operation {
  /** The kinds of operation, with their wire tags (docs/wire-format.md §2). */
  public enum Kind {
    /** Reads the key's value. */
    LOOKUP(0, false),
    /** Adds a key that must be absent. */
    INSERT(1, true),
    /** Changes the value of a key that must be present. */
    UPDATE(2, true),
    /** Inserts or updates. */
    UPSERT(3, true),
    /** Removes a key that must be present. */
    REMOVE(4, false),
    /** Removes a key if it is present. */
    REMOVE_IF_PRESENT(5, false);

    final int tag;
    final boolean hasValue;

    Kind(int tag, boolean hasValue) {
      this.tag = tag;
      this.hasValue = hasValue;
    }

    /** @return whether operations of this kind carry a value */
    public boolean hasValue() {
      return hasValue;
    }

    static Kind ofTag(int tag) {
      for (Kind k : values()) {
        if (k.tag == tag) {
          return k;
        }
      }
      return null;
    }
  }

  private final Kind kind;
  final byte[] key;
  final byte[] value; // null exactly when !kind.hasValue

  private Operation(Kind kind, byte[] key, byte[] value) {
    this.kind = kind;
    this.key = key;
    this.value = value;
  }

  /**
   * An operation of kind {@code kind}.
   *
   * @param kind the kind
   * @param key the key (copied)
   * @param value the value (copied) if the kind has one, else {@code null}
   * @return the operation
   * @throws IllegalArgumentException if {@code value} is null for a kind with a value, or not
   *     null for a kind without
   */
  public static Operation of(Kind kind, byte[] key, byte[] value) {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(key, "key");
    if (kind.hasValue != (value != null)) {
      throw new IllegalArgumentException(
          kind + (kind.hasValue ? " needs a value" : " takes no value"));
    }
    return new Operation(kind, key.clone(), value == null ? null : value.clone());
  }

  /** Same as {@code of}, without copies: for arrays nobody else holds (the wire decoder). */
  static Operation owning(Kind kind, byte[] key, byte[] value) {
    return new Operation(kind, key, value);
  }

  /** @param key the key @return a lookup of {@code key} */
  public static Operation lookup(byte[] key) {
    return of(Kind.LOOKUP, key, null);
  }

  /** @param key the key @param value its value @return an insert */
  public static Operation insert(byte[] key, byte[] value) {
    return of(Kind.INSERT, key, Objects.requireNonNull(value, "value"));
  }

  /** @param key the key @param value its new value @return an update */
  public static Operation update(byte[] key, byte[] value) {
    return of(Kind.UPDATE, key, Objects.requireNonNull(value, "value"));
  }

  /** @param key the key @param value its value @return an upsert */
  public static Operation upsert(byte[] key, byte[] value) {
    return of(Kind.UPSERT, key, Objects.requireNonNull(value, "value"));
  }

  /** @param key the key @return a remove of {@code key} (which must be present) */
  public static Operation remove(byte[] key) {
    return of(Kind.REMOVE, key, null);
  }

  /** @param key the key @return a remove of {@code key} if present */
  public static Operation removeIfPresent(byte[] key) {
    return of(Kind.REMOVE_IF_PRESENT, key, null);
  }

  /** @return the kind */
  public Kind kind() {
    return kind;
  }

  /** @return a copy of the key */
  public byte[] key() {
    return key.clone();
  }

  /** @return a copy of the value, or {@code null} for a lookup or a remove */
  public byte[] value() {
    return value == null ? null : value.clone();
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Operation)) {
      return false;
    }
    Operation other = (Operation) o;
    return kind == other.kind
        && Arrays.equals(key, other.key)
        && Arrays.equals(value, other.value);
  }

  @Override
  public int hashCode() {
    return Objects.hash(kind, Arrays.hashCode(key), Arrays.hashCode(value));
  }

  @Override
  public String toString() {
    return kind
        + "("
        + Wire.hex(key)
        + (value == null ? "" : ", " + Wire.hex(value))
        + ")";
  }
}
