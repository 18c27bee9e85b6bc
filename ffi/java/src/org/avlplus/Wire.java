package org.avlplus;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * The wire encoding of operations and results (docs/wire-format.md, version 1), in Java.
 *
 * <p>{@link Verifier} encodes the operations it sends and decodes the results it gets back with
 * these; they are public for callers that move batches as bytes themselves. Decoding follows
 * §4 of the format exactly and is bounded by its limits: a declared count is checked against
 * the limit and against what the remaining bytes could hold before anything is allocated for
 * it, every length prefix against its limit before the bytes it announces are read, and no
 * byte may follow the last item. Decode errors carry the library's {@code WIRE_*} codes.
 */
public final class Wire {
  private Wire() {}

  /** The version byte of both lists. */
  public static final int VERSION = 1;

  private static final int MIN_OPERATION_BYTES = 2;
  private static final int MIN_RESULT_BYTES = 1;

  /**
   * Encodes {@code operations}.
   *
   * @param operations the batch, in order
   * @return its one encoding
   * @throws IllegalArgumentException if the encoding would not fit in a Java array
   */
  public static byte[] encodeOperations(List<Operation> operations) {
    Objects.requireNonNull(operations, "operations");
    long len = 1 + varintLen(operations.size());
    for (Operation op : operations) {
      Objects.requireNonNull(op, "operation");
      len += 1 + prefixedLen(op.key) + (op.value == null ? 0 : prefixedLen(op.value));
    }
    Writer w = new Writer(len);
    w.u8(VERSION);
    w.varint(operations.size());
    for (Operation op : operations) {
      w.u8(op.kind().tag);
      w.prefixed(op.key);
      if (op.value != null) {
        w.prefixed(op.value);
      }
    }
    return w.done();
  }

  /**
   * Encodes {@code results}.
   *
   * @param results the results, in order
   * @return their one encoding
   * @throws IllegalArgumentException if the encoding would not fit in a Java array
   */
  public static byte[] encodeResults(List<OpResult> results) {
    Objects.requireNonNull(results, "results");
    long len = 1 + varintLen(results.size());
    for (OpResult r : results) {
      Objects.requireNonNull(r, "result");
      len += 1 + (r.value == null ? 0 : prefixedLen(r.value));
    }
    Writer w = new Writer(len);
    w.u8(VERSION);
    w.varint(results.size());
    for (OpResult r : results) {
      w.u8(r.kind().tag);
      if (r.value != null) {
        w.prefixed(r.value);
      }
    }
    return w.done();
  }

  /**
   * Decodes a list of operations.
   *
   * @param bytes the encoding
   * @param maxCount the most operations accepted
   * @param maxKeyLen the longest key accepted
   * @param maxValueLen the longest value accepted
   * @return the operations (unmodifiable)
   * @throws AvlplusException with a {@code WIRE_*} code if the bytes are not such a list
   * @throws IllegalArgumentException if a limit is negative
   */
  public static List<Operation> decodeOperations(
      byte[] bytes, long maxCount, long maxKeyLen, long maxValueLen) throws AvlplusException {
    Objects.requireNonNull(bytes, "bytes");
    requireLimits(maxCount, maxKeyLen, maxValueLen);
    Reader r = new Reader(bytes, bytes.length);
    int count = r.header(maxCount, MIN_OPERATION_BYTES);
    List<Operation> ops = new ArrayList<>(count);
    for (int index = 0; index < count; index++) {
      int tag = r.u8();
      Operation.Kind kind = Operation.Kind.ofTag(tag);
      if (kind == null) {
        throw badTag(index, tag);
      }
      byte[] key = r.prefixed(maxKeyLen, index, ResultCode.WIRE_KEY_TOO_LONG);
      byte[] value =
          kind.hasValue ? r.prefixed(maxValueLen, index, ResultCode.WIRE_VALUE_TOO_LONG) : null;
      ops.add(Operation.owning(kind, key, value));
    }
    r.finish();
    return Collections.unmodifiableList(ops);
  }

  /**
   * Decodes a list of results.
   *
   * @param bytes the encoding
   * @param maxCount the most results accepted
   * @param maxValueLen the longest found value accepted
   * @return the results (unmodifiable)
   * @throws AvlplusException with a {@code WIRE_*} code if the bytes are not such a list
   * @throws IllegalArgumentException if a limit is negative
   */
  public static List<OpResult> decodeResults(byte[] bytes, long maxCount, long maxValueLen)
      throws AvlplusException {
    Objects.requireNonNull(bytes, "bytes");
    requireLimits(maxCount, 0, maxValueLen);
    return decodeResults(bytes, bytes.length, maxCount, maxValueLen);
  }

  private static void requireLimits(long maxCount, long maxKeyLen, long maxValueLen) {
    if (maxCount < 0 || maxKeyLen < 0 || maxValueLen < 0) {
      throw new IllegalArgumentException("negative wire limit");
    }
  }

  /** Decodes the first {@code length} bytes of {@code bytes}. */
  static List<OpResult> decodeResults(byte[] bytes, int length, long maxCount, long maxValueLen)
      throws AvlplusException {
    Reader r = new Reader(bytes, length);
    int count = r.header(maxCount, MIN_RESULT_BYTES);
    List<OpResult> results = new ArrayList<>(count);
    for (int index = 0; index < count; index++) {
      int tag = r.u8();
      OpResult.Kind kind = OpResult.Kind.ofTag(tag);
      if (kind == null) {
        throw badTag(index, tag);
      }
      results.add(
          kind == OpResult.Kind.FOUND
              ? OpResult.foundOwning(r.prefixed(maxValueLen, index, ResultCode.WIRE_VALUE_TOO_LONG))
              : OpResult.of(kind));
    }
    r.finish();
    return Collections.unmodifiableList(results);
  }

  private static AvlplusException badTag(int index, int tag) {
    return new AvlplusException(
        ResultCode.WIRE_BAD_TAG, "wire: item " + index + " has the undefined tag " + tag);
  }

  private static long varintLen(long v) {
    long n = 1;
    while ((v >>>= 7) != 0) {
      n++;
    }
    return n;
  }

  private static long prefixedLen(byte[] b) {
    return varintLen(b.length) + b.length;
  }

  static String hex(byte[] b) {
    StringBuilder s = new StringBuilder(b.length * 2);
    for (byte x : b) {
      s.append(Character.forDigit((x >> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
    }
    return s.toString();
  }

  private static final class Writer {
    private final byte[] out;
    private int pos;

    Writer(long len) {
      // Java arrays hold at most a little under 2^31 bytes.
      if (len > Integer.MAX_VALUE - 8) {
        throw new IllegalArgumentException("the encoding would take " + len + " bytes");
      }
      out = new byte[(int) len];
    }

    void u8(int b) {
      out[pos++] = (byte) b;
    }

    void varint(long v) {
      while ((v & ~0x7fL) != 0) {
        out[pos++] = (byte) ((v & 0x7f) | 0x80);
        v >>>= 7;
      }
      out[pos++] = (byte) v;
    }

    void prefixed(byte[] b) {
      varint(b.length);
      System.arraycopy(b, 0, out, pos, b.length);
      pos += b.length;
    }

    byte[] done() {
      if (pos != out.length) {
        throw new IllegalStateException("wire: encoded " + pos + " of " + out.length + " bytes");
      }
      return out;
    }
  }

  /** A cursor over untrusted bytes: every read is bounds-checked and fails with a wire code. */
  private static final class Reader {
    private final byte[] in;
    private final int end;
    private int pos;

    Reader(byte[] in, int end) {
      if (end < 0 || end > in.length) {
        throw new IllegalArgumentException("length " + end + " of " + in.length + " bytes");
      }
      this.in = in;
      this.end = end;
    }

    int remaining() {
      return end - pos;
    }

    int u8() throws AvlplusException {
      if (pos >= end) {
        throw truncated();
      }
      return in[pos++] & 0xff;
    }

    /** An unsigned LEB128 varint, shortest form, at most 10 bytes and 64 bits. */
    long varint() throws AvlplusException {
      long value = 0;
      for (int i = 0; i < 10; i++) {
        int b = u8();
        long low = b & 0x7f;
        if (i == 9 && low > 1) {
          throw badVarint();
        }
        value |= low << (7 * i);
        if ((b & 0x80) == 0) {
          if (i > 0 && b == 0) {
            throw badVarint(); // not shortest form: a multi-byte varint ending in a zero group
          }
          return value;
        }
      }
      throw badVarint(); // a tenth byte with the high bit set
    }

    int header(long maxCount, int minItem) throws AvlplusException {
      int version = u8();
      if (version != VERSION) {
        throw new AvlplusException(
            ResultCode.WIRE_UNSUPPORTED_VERSION, "wire: unsupported version " + version);
      }
      // Unsigned comparisons: a varint may use all 64 bits.
      long count = varint();
      if (Long.compareUnsigned(count, maxCount) > 0) {
        throw new AvlplusException(
            ResultCode.WIRE_TOO_MANY_ITEMS, "wire: more items than the limit");
      }
      // Only now may space be reserved for count items: count is at most end/minItem < 2^31.
      if (Long.compareUnsigned(count, remaining() / minItem) > 0) {
        throw new AvlplusException(
            ResultCode.WIRE_COUNT_EXCEEDS_INPUT, "wire: item count exceeds the input");
      }
      return (int) count;
    }

    byte[] prefixed(long max, int index, int overCode) throws AvlplusException {
      long len = varint();
      if (Long.compareUnsigned(len, max) > 0) {
        String what = overCode == ResultCode.WIRE_KEY_TOO_LONG ? "key" : "value";
        throw new AvlplusException(overCode, "wire: item " + index + ": " + what + " too long");
      }
      if (Long.compareUnsigned(len, remaining()) > 0) {
        throw truncated();
      }
      byte[] b = new byte[(int) len];
      System.arraycopy(in, pos, b, 0, b.length);
      pos += b.length;
      return b;
    }

    void finish() throws AvlplusException {
      if (pos != end) {
        throw new AvlplusException(
            ResultCode.WIRE_TRAILING_BYTES, "wire: bytes follow the last item");
      }
    }

    private static AvlplusException truncated() {
      return new AvlplusException(ResultCode.WIRE_TRUNCATED, "wire: the bytes end early");
    }

    private static AvlplusException badVarint() {
      return new AvlplusException(
          ResultCode.WIRE_BAD_VARINT, "wire: varint too long or not in shortest form");
    }
  }
}
