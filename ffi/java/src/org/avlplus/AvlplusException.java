package org.avlplus;

/**
 * A call into the library failed: {@link #code()} is the library's result code (one of
 * {@link ResultCode}), {@link #getMessage()} the library's message for it.
 *
 * <p>Checked, because a proof that fails to verify is an ordinary outcome a wallet must handle
 * (an untrusted server sent it), not a programming error. Kotlin callers see it as any other
 * exception. Programming errors (a {@code null} argument, a closed verifier) are unchecked
 * ({@link NullPointerException}, {@link IllegalStateException}).
 */
public class AvlplusException extends Exception {
  private static final long serialVersionUID = 1L;

  private final int code;

  /**
   * An exception for result code {@code code} with message {@code message}.
   *
   * @param code the result code ({@link ResultCode})
   * @param message what went wrong
   */
  public AvlplusException(int code, String message) {
    super(message);
    this.code = code;
  }

  AvlplusException(int code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  /** The exception for a code the library returned, with the library's message for it. */
  static AvlplusException fromLibrary(int code) {
    return new AvlplusException(code, messageFor(code));
  }

  /**
   * The library's message for result code {@code code} ({@code "unknown result code"} for a
   * number that is no code).
   *
   * @param code any number
   * @return the message, never {@code null}
   */
  public static String messageFor(int code) {
    String m = AvlplusNative.avlplus_result_message(code);
    return m == null ? "unknown result code" : m;
  }

  /**
   * The result code: compare it with the constants of {@link ResultCode}.
   *
   * @return the code, never {@link ResultCode#OK}
   */
  public int code() {
    return code;
  }

  @Override
  public String toString() {
    return "AvlplusException(" + code + "): " + getMessage();
  }
}
