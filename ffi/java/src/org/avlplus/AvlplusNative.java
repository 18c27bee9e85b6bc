package org.avlplus;

import com.sun.jna.IntegerType;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.ByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * The C ABI of {@code ffi/include/avlplus.h}, bound with JNA direct mapping (static natives
 * registered on this class: the fastest JNA calling path, and the one Android's JNA ships).
 *
 * <p>Type mapping: {@code uint32_t} is {@code int} (codes, hashes, presets and fields are
 * small); {@code size_t} is {@link SizeT} (its width is the platform's: 32-bit Android too);
 * {@code size_t *} is {@link SizeTOut}; {@code const uint8_t *} and {@code uint8_t *} are
 * {@code byte[]} ({@code null} passes NULL, which the ABI accepts with length 0); {@code bool
 * *} is a {@code byte[1]} (C's {@code bool} is one byte); handles are {@link Pointer}.
 *
 * <p>The library is {@code avlplus_ffi} found on {@code jna.library.path} (or the app's native
 * libraries on Android), unless the system property {@code avlplus.library} names a file.
 */
final class AvlplusNative {
  private AvlplusNative() {}

  /** The ABI this binding is written for ({@code AVLPLUS_ABI_VERSION}). */
  static final int ABI_VERSION = 1;

  static {
    String path = System.getProperty("avlplus.library");
    Native.register(
        AvlplusNative.class, NativeLibrary.getInstance(path != null ? path : "avlplus_ffi"));
    int abi = avlplus_abi_version();
    if (abi != ABI_VERSION) {
      throw new UnsatisfiedLinkError(
          "libavlplus_ffi has ABI version " + abi + ", this binding needs " + ABI_VERSION);
    }
  }

  /** {@code size_t}. Public constructors: JNA instantiates it reflectively. */
  public static final class SizeT extends IntegerType {
    private static final long serialVersionUID = 1L;

    public SizeT() {
      this(0);
    }

    public SizeT(long value) {
      super(Native.SIZE_T_SIZE, value, true);
    }
  }

  /** A {@code size_t} the library writes. */
  public static final class SizeTOut extends ByReference {
    public SizeTOut() {
      super(Native.SIZE_T_SIZE);
    }

    /** The value, saturated to {@link Long#MAX_VALUE} (SIZE_MAX on 64 bits reads as -1). */
    long get() {
      long v =
          Native.SIZE_T_SIZE == 8
              ? getPointer().getLong(0)
              : getPointer().getInt(0) & 0xffffffffL;
      return v < 0 ? Long.MAX_VALUE : v;
    }
  }

  /** {@code value} as a {@code size_t}, saturated to SIZE_MAX on 32-bit platforms. */
  static SizeT size(long value) {
    if (Native.SIZE_T_SIZE == 4 && value > 0xffffffffL) {
      value = 0xffffffffL;
    }
    return new SizeT(value);
  }

  static native int avlplus_abi_version();

  static native String avlplus_version();

  static native int avlplus_limits_new(int preset, PointerByReference out);

  static native int avlplus_limits_set(Pointer limits, int field, SizeT value);

  static native int avlplus_limits_get(Pointer limits, int field, SizeTOut value);

  static native void avlplus_limits_free(Pointer limits);

  static native String avlplus_result_message(int code);

  static native int avlplus_verifier_new(int hash, Pointer limits, PointerByReference out);

  static native void avlplus_verifier_free(Pointer verifier);

  static native int avlplus_verify(
      Pointer verifier,
      byte[] root,
      SizeT rootLen,
      byte[] proof,
      SizeT proofLen,
      byte[] ops,
      SizeT opsLen,
      byte[] newRootOut,
      SizeT newRootOutLen,
      SizeTOut newRootNeeded,
      byte[] resultsOut,
      SizeT resultsOutLen,
      SizeTOut resultsNeeded);

  static native int avlplus_verify_lookup(
      Pointer verifier,
      byte[] root,
      SizeT rootLen,
      byte[] proof,
      SizeT proofLen,
      byte[] key,
      SizeT keyLen,
      byte[] found,
      byte[] valueOut,
      SizeT valueOutLen,
      SizeTOut valueNeeded);

  static native int avlplus_verify_value(
      Pointer verifier,
      byte[] root,
      SizeT rootLen,
      byte[] proof,
      SizeT proofLen,
      byte[] key,
      SizeT keyLen,
      byte[] expected,
      SizeT expectedLen);
}
