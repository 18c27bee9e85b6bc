package org.avlplus;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.avlplus.AvlplusNative.SizeTOut;

/**
 * A light-client verifier: a hash and limits, over the native library's handle. Checks that a
 * block of operations, replayed on a proof, starts from a trusted root, and returns the new
 * root and the results; answers a wallet's lookups.
 *
 * <pre>{@code
 * try (Verifier v = new Verifier(Hash.SHA256, Limits.PHONE)) {
 *   Optional<byte[]> balance = v.verifyLookup(trustedRoot, proof, "alice".getBytes(UTF_8));
 * }
 * }</pre>
 *
 * <p>Thread-safe: the native handle is immutable, so any number of threads may verify with one
 * verifier at the same time. {@link #close()} frees the handle; it waits for calls in progress,
 * may be called again (it does nothing), and any call after it throws {@link
 * IllegalStateException}. A verifier that is never closed leaks its handle (a few hundred
 * bytes): use try-with-resources, or keep one for the life of the app.
 *
 * <p>Arguments are never {@code null} unless documented otherwise.
 */
public final class Verifier implements AutoCloseable {
  /** Length in bytes of a root digest: a 32-byte label, then the height. */
  public static final int ROOT_LEN = 33;

  /** First guess for a looked-up value's buffer; a longer value costs one more call. */
  private static final int LOOKUP_VALUE_CAPACITY = 256;

  /** First guess, per lookup of a block, for its found value's bytes in the results. */
  private static final int RESULT_VALUE_GUESS = 64;

  // Read lock: a call using the handle. Write lock: close(), which waits for those calls.
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private Pointer handle; // null once closed; guarded by lock
  private final Hash hash;
  private final long[] limits; // the effective value of each Limits.Field, by ordinal

  /**
   * Test hook: start every call with empty output buffers, so that each one goes through the
   * library's insufficient-size answer and the retry.
   */
  volatile boolean minimalBuffers;

  /**
   * A verifier for hash {@code hash} with the default limits.
   *
   * @param hash the tree's hash
   * @throws AvlplusException if the library refuses (it should not)
   */
  public Verifier(Hash hash) throws AvlplusException {
    this(hash, Limits.DEFAULT);
  }

  /**
   * A verifier for hash {@code hash} with limits {@code limits}.
   *
   * @param hash the tree's hash
   * @param limits what it accepts
   * @throws AvlplusException if the library refuses a limit ({@link
   *     ResultCode#INVALID_PARAMETER})
   */
  public Verifier(Hash hash, Limits limits) throws AvlplusException {
    this.hash = Objects.requireNonNull(hash, "hash");
    Objects.requireNonNull(limits, "limits");
    PointerByReference out = new PointerByReference();
    check(AvlplusNative.avlplus_limits_new(limits.preset().code, out));
    Pointer l = out.getValue();
    try {
      Limits.Field[] fields = Limits.Field.values();
      this.limits = new long[fields.length];
      for (Limits.Field f : fields) {
        long v = limits.override(f);
        if (v >= 0) {
          check(AvlplusNative.avlplus_limits_set(l, f.code, AvlplusNative.size(v)));
        }
        SizeTOut got = new SizeTOut();
        check(AvlplusNative.avlplus_limits_get(l, f.code, got));
        this.limits[f.ordinal()] = got.get();
      }
      PointerByReference v = new PointerByReference();
      check(AvlplusNative.avlplus_verifier_new(hash.code, l, v));
      handle = v.getValue();
    } finally {
      AvlplusNative.avlplus_limits_free(l); // the verifier keeps its own copy
    }
  }

  /** @return the ABI version of the loaded library (this binding is written for 1) */
  public static int abiVersion() {
    return AvlplusNative.avlplus_abi_version();
  }

  /** @return the loaded library's version, e.g. {@code "0.1.0"} */
  public static String libraryVersion() {
    return AvlplusNative.avlplus_version();
  }

  /** @return the hash this verifier was made with */
  public Hash hash() {
    return hash;
  }

  /**
   * The value of one of this verifier's limits (the preset's, or the override).
   *
   * @param field the field
   * @return its value ({@link Long#MAX_VALUE}: no limit)
   */
  public long limit(Limits.Field field) {
    return limits[field.ordinal()];
  }

  /**
   * Verifies a block: replays {@code operations} on {@code proof} against the trusted root.
   * Failed operations (an insert of a present key...) are results, not exceptions.
   *
   * @param root the trusted root digest ({@link #ROOT_LEN} bytes)
   * @param proof the block's proof, from an untrusted prover
   * @param operations the block's operations, in order
   * @return the new root and one result per operation
   * @throws AvlplusException if the proof does not verify (its code says why)
   * @throws IllegalStateException if this verifier is closed
   */
  public Verified verify(byte[] root, byte[] proof, List<Operation> operations)
      throws AvlplusException {
    Objects.requireNonNull(root, "root");
    Objects.requireNonNull(proof, "proof");
    byte[] ops = Wire.encodeOperations(operations);
    int capacity = minimalBuffers ? 0 : resultsGuess(operations);
    byte[] newRoot = new byte[ROOT_LEN];
    byte[] results;
    long resultsLen;
    lock.readLock().lock();
    try {
      Pointer h = live();
      for (int attempt = 0; ; attempt++) {
        results = new byte[capacity];
        SizeTOut rootNeeded = new SizeTOut();
        SizeTOut resultsNeeded = new SizeTOut();
        int code =
            AvlplusNative.avlplus_verify(
                h,
                root,
                AvlplusNative.size(root.length),
                proof,
                AvlplusNative.size(proof.length),
                ops,
                AvlplusNative.size(ops.length),
                newRoot,
                AvlplusNative.size(ROOT_LEN),
                rootNeeded,
                results,
                AvlplusNative.size(capacity),
                resultsNeeded);
        resultsLen = resultsNeeded.get();
        if (code == ResultCode.OK) {
          if (rootNeeded.get() != ROOT_LEN || resultsLen > capacity) {
            throw unexpected("the library reported output sizes it was not given");
          }
          break;
        }
        // The library verified the block and asks for more room: the size is exact (the
        // encoding of this block's results), so the one retry succeeds; a second refusal, a
        // size that is not larger, or one that could not be an array is thrown, not looped on.
        if (code == ResultCode.INSUFFICIENT_SIZE
            && attempt == 0
            && rootNeeded.get() == ROOT_LEN
            && resultsLen > capacity
            && resultsLen <= resultsBound(operations.size())) {
          capacity = (int) resultsLen;
          continue;
        }
        throw AvlplusException.fromLibrary(code);
      }
    } finally {
      lock.readLock().unlock();
    }
    List<OpResult> decoded;
    try {
      decoded =
          Wire.decodeResults(
              results, (int) resultsLen, operations.size(), limit(Limits.Field.MAX_VALUE_LEN));
    } catch (AvlplusException e) {
      throw new AvlplusException(
          ResultCode.UNEXPECTED_ERROR,
          "the library's results do not decode: " + e.getMessage(),
          e);
    }
    if (decoded.size() != operations.size()) {
      throw unexpected(decoded.size() + " results for " + operations.size() + " operations");
    }
    return new Verified(newRoot, decoded);
  }

  /**
   * The wallet's question: is {@code key} present under the trusted root, and with which
   * value? {@code proof} must be the proof of the one-operation batch {@code lookup(key)}.
   *
   * @param root the trusted root digest ({@link #ROOT_LEN} bytes)
   * @param proof the proof of {@code lookup(key)}
   * @param key the key
   * @return the key's value, or empty if the proof shows it absent
   * @throws AvlplusException if the proof does not verify
   * @throws IllegalStateException if this verifier is closed
   */
  public Optional<byte[]> verifyLookup(byte[] root, byte[] proof, byte[] key)
      throws AvlplusException {
    Objects.requireNonNull(root, "root");
    Objects.requireNonNull(proof, "proof");
    Objects.requireNonNull(key, "key");
    int capacity = minimalBuffers ? 0 : LOOKUP_VALUE_CAPACITY;
    lock.readLock().lock();
    try {
      Pointer h = live();
      for (int attempt = 0; ; attempt++) {
        byte[] found = new byte[1];
        byte[] value = new byte[capacity];
        SizeTOut needed = new SizeTOut();
        int code =
            AvlplusNative.avlplus_verify_lookup(
                h,
                root,
                AvlplusNative.size(root.length),
                proof,
                AvlplusNative.size(proof.length),
                key,
                AvlplusNative.size(key.length),
                found,
                value,
                AvlplusNative.size(capacity),
                needed);
        long n = needed.get();
        if (code == ResultCode.OK) {
          if (found[0] == 0) {
            return Optional.empty();
          }
          if (n > capacity) {
            throw unexpected("the library reported a value longer than its buffer");
          }
          return Optional.of(Arrays.copyOf(value, (int) n));
        }
        if (code == ResultCode.INSUFFICIENT_SIZE
            && attempt == 0
            && n > capacity
            && n <= limit(Limits.Field.MAX_VALUE_LEN)
            && n <= Integer.MAX_VALUE - 8) {
          capacity = (int) n;
          continue;
        }
        throw AvlplusException.fromLibrary(code);
      }
    } finally {
      lock.readLock().unlock();
    }
  }

  /**
   * The wallet's check: under the trusted root, does {@code key} have exactly the value {@code
   * expected}, or, if {@code expected} is {@code null}, is it absent? {@code proof} must be the
   * proof of the one-operation batch {@code lookup(key)}.
   *
   * @param root the trusted root digest ({@link #ROOT_LEN} bytes)
   * @param proof the proof of {@code lookup(key)}
   * @param key the key
   * @param expected the value expected, or {@code null} to expect absence (an empty array
   *     expects the empty value)
   * @return true if so, false if the proof is valid but says otherwise
   * @throws AvlplusException if the proof does not verify
   * @throws IllegalStateException if this verifier is closed
   */
  public boolean verifyValue(byte[] root, byte[] proof, byte[] key, byte[] expected)
      throws AvlplusException {
    Objects.requireNonNull(root, "root");
    Objects.requireNonNull(proof, "proof");
    Objects.requireNonNull(key, "key");
    // NULL means absent, so the empty value must be a non-NULL pointer: never pass JNA an
    // empty array, whose address it may give as NULL.
    byte[] e = expected == null ? null : expected.length == 0 ? new byte[1] : expected;
    long eLen = expected == null ? 0 : expected.length;
    int code;
    lock.readLock().lock();
    try {
      code =
          AvlplusNative.avlplus_verify_value(
              live(),
              root,
              AvlplusNative.size(root.length),
              proof,
              AvlplusNative.size(proof.length),
              key,
              AvlplusNative.size(key.length),
              e,
              AvlplusNative.size(eLen));
    } finally {
      lock.readLock().unlock();
    }
    if (code == ResultCode.OK) {
      return true;
    }
    if (code == ResultCode.VALUE_MISMATCH) {
      return false;
    }
    throw AvlplusException.fromLibrary(code);
  }

  /** Frees the native handle, after the calls in progress. Calling it again does nothing. */
  @Override
  public void close() {
    lock.writeLock().lock();
    try {
      if (handle != null) {
        AvlplusNative.avlplus_verifier_free(handle);
        handle = null;
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  /** The handle; the caller holds the read lock. */
  private Pointer live() {
    Pointer h = handle;
    if (h == null) {
      throw new IllegalStateException("the verifier is closed");
    }
    return h;
  }

  private static int resultsGuess(List<Operation> operations) {
    long n = 11; // version and the longest count
    for (Operation op : operations) {
      n += op.kind() == Operation.Kind.LOOKUP ? 1 + 2 + RESULT_VALUE_GUESS : 1;
    }
    return (int) Math.min(n, 1 << 24);
  }

  /**
   * The longest results a block of {@code n} operations could have (a tag, a length and a value
   * each), and no more than a Java array holds.
   */
  private long resultsBound(int n) {
    long perResult = Math.min(limit(Limits.Field.MAX_VALUE_LEN), Integer.MAX_VALUE) + 11;
    return Math.min(11 + n * perResult, Integer.MAX_VALUE - 8);
  }

  private static void check(int code) throws AvlplusException {
    if (code != ResultCode.OK) {
      throw AvlplusException.fromLibrary(code);
    }
  }

  private static AvlplusException unexpected(String what) {
    return new AvlplusException(ResultCode.UNEXPECTED_ERROR, what);
  }
}
