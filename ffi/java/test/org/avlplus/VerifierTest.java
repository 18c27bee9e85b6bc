package org.avlplus;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The binding's tests, run by {@code ffi/tests/java.rs}: a plain {@code main} (no JUnit on the
 * build machine's Maven-less path), printing one line per failure and a summary.
 *
 * <pre>
 *   java org.avlplus.VerifierTest VECTORS WIRE        every check; exit status 0 if all pass
 *   java org.avlplus.VerifierTest --bench BLOCKS SAMPLES REPS   time each verify line
 * </pre>
 *
 * VECTORS is the vector file of {@code ffi/tests/common/mod.rs} (format: the header comment of
 * {@code ffi/tests/c/verify_vectors.c}); WIRE is {@code fixtures/wire.json} rewritten as lines
 * by {@code ffi/tests/java.rs} (format there).
 */
public final class VerifierTest {
  private static int passed;
  private static int failed;

  private VerifierTest() {}

  private static void check(boolean ok, String what) {
    if (ok) {
      passed++;
    } else {
      failed++;
      System.out.println("FAIL " + what);
    }
  }

  private static byte[] hex(String s) {
    if (s.equals("-")) {
      return new byte[0];
    }
    if (s.length() % 2 != 0) {
      throw new IllegalArgumentException("odd hex " + s);
    }
    byte[] b = new byte[s.length() / 2];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
    }
    return b;
  }

  /** One line of the vector file. */
  static final class Case {
    final String[] f;
    final String kind;
    final String hash;
    final String name;
    final byte[] root;
    final byte[] proof;

    Case(String line) {
      f = line.split(" ");
      kind = f[0];
      hash = f[1];
      name = f[2];
      root = hex(f[3]);
      proof = hex(f[4]);
    }
  }

  private static final class Verifiers {
    final Verifier sha256;
    final Verifier blake3;

    Verifiers(boolean minimal) throws AvlplusException {
      sha256 = new Verifier(Hash.SHA256);
      blake3 = new Verifier(Hash.BLAKE3, Limits.DEFAULT);
      sha256.minimalBuffers = minimal;
      blake3.minimalBuffers = minimal;
    }

    Verifier of(String hash) {
      switch (hash) {
        case "sha256":
          return sha256;
        case "blake3":
          return blake3;
        default:
          throw new IllegalArgumentException("hash " + hash);
      }
    }
  }

  private static List<Operation> ops(byte[] wire) throws AvlplusException {
    return Wire.decodeOperations(wire, 1 << 20, 1024, 65536);
  }

  /** Runs one case; returns null if it passed, else what went wrong. */
  static String run(Verifier v, Case c) {
    int expected;
    try {
      switch (c.kind) {
        case "verify":
          {
            List<Operation> ops = ops(hex(c.f[5]));
            expected = Integer.parseInt(c.f[6]);
            try {
              Verified got = v.verify(c.root, c.proof, ops);
              if (expected != 0) {
                return "verified, expected code " + expected;
              }
              if (!Arrays.equals(got.newRoot(), hex(c.f[7]))) {
                return "new root";
              }
              byte[] results = hex(c.f[8]);
              if (!Arrays.equals(Wire.encodeResults(got.results()), results)) {
                return "results " + got.results();
              }
              if (!got.results().equals(Wire.decodeResults(results, ops.size(), 65536))) {
                return "decoded results";
              }
              return null;
            } catch (AvlplusException e) {
              return checkError(e, expected);
            }
          }
        case "lookup":
          {
            byte[] key = hex(c.f[5]);
            expected = Integer.parseInt(c.f[6]);
            boolean found = c.f[7].equals("1");
            byte[] value = hex(c.f[8]);
            try {
              Optional<byte[]> got = v.verifyLookup(c.root, c.proof, key);
              if (expected != 0) {
                return "verified, expected code " + expected;
              }
              if (got.isPresent() != found) {
                return "found " + got.isPresent();
              }
              return !found || Arrays.equals(got.get(), value) ? null : "value";
            } catch (AvlplusException e) {
              return checkError(e, expected);
            }
          }
        case "value":
          {
            byte[] key = hex(c.f[5]);
            byte[] want = c.f[6].equals("absent") ? null : hex(c.f[6]);
            expected = Integer.parseInt(c.f[7]);
            try {
              boolean same = v.verifyValue(c.root, c.proof, key, want);
              if (expected == ResultCode.OK) {
                return same ? null : "value mismatch, expected a match";
              }
              if (expected == ResultCode.VALUE_MISMATCH) {
                return same ? "match, expected a mismatch" : null;
              }
              return "verified, expected code " + expected;
            } catch (AvlplusException e) {
              return checkError(e, expected);
            }
          }
        default:
          return "unknown line kind " + c.kind;
      }
    } catch (IllegalStateException e) {
      throw e; // a closed verifier: the caller's to judge
    } catch (AvlplusException | RuntimeException e) {
      return "unexpected " + e;
    }
  }

  private static String checkError(AvlplusException e, int expected) {
    if (e.code() != expected) {
      return "code " + e.code() + " (" + e.getMessage() + "), expected " + expected;
    }
    String m = e.getMessage();
    if (m == null || m.isEmpty() || !m.equals(AvlplusException.messageFor(expected))) {
      return "message " + m;
    }
    return null;
  }

  private static List<Case> readCases(String path) throws IOException {
    List<Case> cases = new ArrayList<>();
    for (String line : Files.readAllLines(Paths.get(path), StandardCharsets.US_ASCII)) {
      if (!line.isEmpty() && !line.startsWith("#")) {
        cases.add(new Case(line));
      }
    }
    return cases;
  }

  private static void vectors(List<Case> cases) throws AvlplusException {
    Verifiers plain = new Verifiers(false);
    Verifiers minimal = new Verifiers(true); // every output through the retry
    for (Case c : cases) {
      String err = run(plain.of(c.hash), c);
      check(err == null, c.name + ": " + err);
      err = run(minimal.of(c.hash), c);
      check(err == null, c.name + " (minimal buffers): " + err);
    }
    plain.sha256.close();
    plain.blake3.close();
    minimal.sha256.close();
    minimal.blake3.close();
    System.out.println("java: vectors " + cases.size() + " cases");
  }

  // ---------------------------------------------------------------------------------------
  // fixtures/wire.json, as lines: `ops NAME HEX ITEM...`, `results NAME HEX ITEM...`,
  // `bad-ops NAME HEX CODE`, `bad-results NAME HEX CODE` (see ffi/tests/java.rs).

  private static Operation parseOp(String item) {
    String[] p = item.split(":", -1);
    byte[] key = hex(p[1]);
    switch (p[0]) {
      case "lookup":
        return Operation.lookup(key);
      case "insert":
        return Operation.insert(key, hex(p[2]));
      case "update":
        return Operation.update(key, hex(p[2]));
      case "upsert":
        return Operation.upsert(key, hex(p[2]));
      case "remove":
        return Operation.remove(key);
      case "remove_if_present":
        return Operation.removeIfPresent(key);
      default:
        throw new IllegalArgumentException("op " + item);
    }
  }

  private static OpResult parseResult(String item) {
    String[] p = item.split(":", -1);
    if (p[0].equals("found")) {
      return OpResult.found(hex(p[1]));
    }
    return OpResult.of(OpResult.Kind.valueOf(p[0].toUpperCase(java.util.Locale.ROOT)));
  }

  private static int wire(String path) throws IOException {
    int n = 0;
    for (String line : Files.readAllLines(Paths.get(path), StandardCharsets.US_ASCII)) {
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      n++;
      String[] f = line.split(" ");
      String what = "wire " + f[0] + " " + f[1];
      byte[] bytes = hex(f[2]);
      try {
        switch (f[0]) {
          case "ops":
            {
              List<Operation> ops = new ArrayList<>();
              for (int i = 3; i < f.length; i++) {
                ops.add(parseOp(f[i]));
              }
              check(Arrays.equals(Wire.encodeOperations(ops), bytes), what + ": encoding");
              check(ops(bytes).equals(ops), what + ": decoding");
              break;
            }
          case "results":
            {
              List<OpResult> rs = new ArrayList<>();
              for (int i = 3; i < f.length; i++) {
                rs.add(parseResult(f[i]));
              }
              check(Arrays.equals(Wire.encodeResults(rs), bytes), what + ": encoding");
              check(Wire.decodeResults(bytes, 1 << 20, 65536).equals(rs), what + ": decoding");
              break;
            }
          case "bad-ops":
          case "bad-results":
            {
              int code = Integer.parseInt(f[3]);
              try {
                if (f[0].equals("bad-ops")) {
                  ops(bytes);
                } else {
                  Wire.decodeResults(bytes, 1 << 20, 65536);
                }
                check(false, what + ": decoded, expected code " + code);
              } catch (AvlplusException e) {
                check(e.code() == code, what + ": code " + e.code() + ", expected " + code);
              }
              break;
            }
          default:
            check(false, "unknown wire line " + f[0]);
        }
      } catch (AvlplusException | RuntimeException e) {
        check(false, what + ": unexpected " + e);
      }
    }
    check(n > 20, "wire vectors: " + n);
    System.out.println("java: wire " + n + " vectors");
    return n;
  }

  // ---------------------------------------------------------------------------------------

  /** The first honest verify case of a hash with at least `minOps` operations. */
  private static Case honest(List<Case> cases, String hash, int minOps) throws AvlplusException {
    for (Case c : cases) {
      if (c.kind.equals("verify")
          && c.hash.equals(hash)
          && c.f[6].equals("0")
          && c.root.length == Verifier.ROOT_LEN
          && ops(hex(c.f[5])).size() >= minOps) {
        return c;
      }
    }
    throw new IllegalStateException("no honest verify case");
  }

  private static void errors(List<Case> cases) throws AvlplusException {
    check(Verifier.abiVersion() == 1, "ABI version");
    check(Verifier.libraryVersion().matches("\\d+\\.\\d+\\.\\d+"), "library version");
    check(
        !AvlplusException.messageFor(ResultCode.ROOT_MISMATCH)
            .equals(AvlplusException.messageFor(ResultCode.INCOMPLETE)),
        "distinct messages");
    check(AvlplusException.messageFor(9999).equals("unknown result code"), "unknown code");

    Case c = honest(cases, "sha256", 2);
    List<Operation> ops = ops(hex(c.f[5]));
    try (Verifier v = new Verifier(Hash.SHA256)) {
      try {
        v.verify(Arrays.copyOf(c.root, 32), c.proof, ops);
        check(false, "32-byte root verified");
      } catch (AvlplusException e) {
        check(
            e.code() == ResultCode.INVALID_ROOT
                && e.getMessage().equals(AvlplusException.messageFor(ResultCode.INVALID_ROOT))
                && e.toString().contains("(5)"),
            "32-byte root: " + e);
      }
      byte[] wrong = c.root.clone();
      wrong[0] ^= 1;
      try {
        v.verify(wrong, c.proof, ops);
        check(false, "wrong root verified");
      } catch (AvlplusException e) {
        check(e.code() == ResultCode.ROOT_MISMATCH, "wrong root: " + e);
      }
      try {
        v.verify(c.root, new byte[0], ops);
        check(false, "empty proof verified");
      } catch (AvlplusException e) {
        check(e.code() == ResultCode.PROOF_TRUNCATED, "empty proof: " + e);
      }
      check(v.limit(Limits.Field.MAX_MEMORY_BYTES) == Long.MAX_VALUE, "default: no memory cap");
      check(v.limit(Limits.Field.MAX_OPERATIONS) == 1 << 20, "default max operations");
    }
    // Blake3 verifier on a SHA-256 proof: the root does not match.
    try (Verifier v = new Verifier(Hash.BLAKE3)) {
      v.verify(c.root, c.proof, ops);
      check(false, "blake3 verified a sha256 proof");
    } catch (AvlplusException e) {
      check(e.code() == ResultCode.ROOT_MISMATCH, "blake3 on sha256: " + e);
    }
    // Limits reach the library: 4 operations over a limit of 3.
    List<Operation> four = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      four.add(Operation.lookup(new byte[] {(byte) i}));
    }
    try (Verifier v = new Verifier(Hash.SHA256, Limits.PHONE.withMaxOperations(3))) {
      check(v.limit(Limits.Field.MAX_OPERATIONS) == 3, "override");
      check(v.limit(Limits.Field.MAX_MEMORY_BYTES) == 64L << 20, "phone memory");
      check(v.limit(Limits.Field.MAX_PROOF_BYTES) == 8L << 20, "phone proof bytes");
      v.verify(c.root, c.proof, four);
      check(false, "4 operations over a limit of 3");
    } catch (AvlplusException e) {
      check(e.code() == ResultCode.WIRE_TOO_MANY_ITEMS, "limit of 3 operations: " + e);
    }
    try (Verifier v = new Verifier(Hash.SHA256, Limits.PHONE)) {
      check(v.limit(Limits.Field.MAX_OPERATIONS) == 65536, "phone max operations");
    }
    try {
      Limits.DEFAULT.withMaxDepth(-1);
      check(false, "negative limit accepted");
    } catch (IllegalArgumentException e) {
      passed++;
    }
    try {
      Operation.of(Operation.Kind.LOOKUP, new byte[0], new byte[0]);
      check(false, "lookup with a value");
    } catch (IllegalArgumentException e) {
      passed++;
    }
    try (Verifier v = new Verifier(Hash.SHA256)) {
      v.verify(null, c.proof, ops);
      check(false, "null root accepted");
    } catch (NullPointerException e) {
      passed++;
    }
    // Immutability: the arrays handed in and out are copies.
    byte[] key = {1, 2};
    Operation op = Operation.insert(key, key);
    key[0] = 9;
    check(op.key()[0] == 1, "operation copies its key");
    op.key()[1] = 9;
    check(op.key()[1] == 2, "operation hands out copies");
  }

  private static void closing(List<Case> cases) throws AvlplusException {
    Case c = honest(cases, "sha256", 1);
    List<Operation> ops = ops(hex(c.f[5]));
    Verifier v = new Verifier(Hash.SHA256);
    check(v.verify(c.root, c.proof, ops).results().size() == ops.size(), "before close");
    v.close();
    v.close(); // twice: nothing happens
    try {
      v.verify(c.root, c.proof, ops);
      check(false, "verify after close");
    } catch (IllegalStateException e) {
      passed++;
    }
    try {
      v.verifyLookup(c.root, c.proof, new byte[0]);
      check(false, "lookup after close");
    } catch (IllegalStateException e) {
      passed++;
    }
    try {
      v.verifyValue(c.root, c.proof, new byte[0], null);
      check(false, "value after close");
    } catch (IllegalStateException e) {
      passed++;
    }
    v.close();

    // Closed while threads use it: each call either completes correctly or is refused.
    Verifier shared = new Verifier(Hash.SHA256);
    AtomicInteger wrong = new AtomicInteger();
    AtomicInteger refused = new AtomicInteger();
    Thread[] threads = new Thread[2];
    for (int t = 0; t < threads.length; t++) {
      threads[t] =
          new Thread(
              () -> {
                while (true) {
                  try {
                    String err = run(shared, c);
                    if (err != null) {
                      wrong.incrementAndGet();
                    }
                  } catch (IllegalStateException e) {
                    refused.incrementAndGet();
                    return;
                  }
                }
              });
      threads[t].start();
    }
    sleep(50);
    shared.close();
    join(threads);
    check(wrong.get() == 0 && refused.get() == threads.length, "close during use");
  }

  private static void threads(List<Case> cases) throws AvlplusException {
    List<Case> sha = new ArrayList<>();
    for (Case c : cases) {
      if (c.hash.equals("sha256")) {
        sha.add(c);
      }
    }
    final int rounds = 20;
    AtomicInteger done = new AtomicInteger();
    AtomicReference<String> firstError = new AtomicReference<>();
    try (Verifier shared = new Verifier(Hash.SHA256)) {
      Thread[] threads = new Thread[2];
      for (int t = 0; t < threads.length; t++) {
        final int start = t * sha.size() / 2; // the two threads walk the cases out of step
        threads[t] =
            new Thread(
                () -> {
                  for (int i = 0; i < rounds * sha.size(); i++) {
                    Case c = sha.get((start + i) % sha.size());
                    String err = run(shared, c);
                    if (err != null) {
                      firstError.compareAndSet(null, c.name + ": " + err);
                    }
                    done.incrementAndGet();
                  }
                });
        threads[t].start();
      }
      join(threads);
    }
    check(firstError.get() == null, "two threads on one verifier: " + firstError.get());
    check(done.get() == 2 * rounds * sha.size(), "two threads: " + done.get() + " calls");
    System.out.println("java: threads " + done.get() + " calls on one verifier");
  }

  // ---------------------------------------------------------------------------------------
  // The example of docs/mobile.md, whose excerpt ffi/tests/docs.rs checks against this file.

  /** A found lookup and an honest block from the same root: a wallet's two questions. */
  private static Case[] walletCases(List<Case> cases) {
    for (Case lookup : cases) {
      if (lookup.kind.equals("lookup") && lookup.hash.equals("sha256") && lookup.f[6].equals("0")
          && lookup.f[7].equals("1")) {
        for (Case block : cases) {
          if (block.kind.equals("verify") && block.hash.equals("sha256") && block.f[6].equals("0")
              && Arrays.equals(block.root, lookup.root)) {
            return new Case[] {lookup, block};
          }
        }
      }
    }
    throw new IllegalStateException("no lookup and block from one root");
  }

  private static void wallet(List<Case> cases) throws AvlplusException {
    Case[] c = walletCases(cases);
    byte[] trustedRoot = c[0].root;
    byte[] balanceProof = c[0].proof;
    byte[] account = hex(c[0].f[5]);
    byte[] blockProof = c[1].proof;
    List<Operation> operations = ops(hex(c[1].f[5]));

    Optional<byte[]> balance;
    Verified next;
    try (Verifier verifier = new Verifier(Hash.SHA256, Limits.PHONE)) {
      balance = verifier.verifyLookup(trustedRoot, balanceProof, account); // empty: absent
      next = verifier.verify(trustedRoot, blockProof, operations); // newRoot(), results()
    } catch (AvlplusException e) {
      // e.code() is a ResultCode constant (ROOT_MISMATCH: a forged proof), e.getMessage() its text
      check(false, "the wallet example: " + e);
      return;
    }

    check(balance.isPresent() && Arrays.equals(balance.get(), hex(c[0].f[8])), "wallet balance");
    check(Arrays.equals(next.newRoot(), hex(c[1].f[7])), "wallet new root");
    check(Arrays.equals(Wire.encodeResults(next.results()), hex(c[1].f[8])), "wallet results");
    System.out.println("java: wallet example on " + c[0].name + " and " + c[1].name);
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void join(Thread[] threads) {
    for (Thread t : threads) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Times {@link Verifier#verify} (operations as objects, results decoded: what an app calls)
   * on each line of BLOCKS: after warm-up samples (the JIT), SAMPLES samples of REPS calls,
   * printing "bench java HASH objects median_ms=MS min_ms=MS" per line (read by
   * ffi/benches/bindings.rs).
   */
  private static void bench(String path, int samples, int reps)
      throws IOException, AvlplusException {
    for (Case c : readCases(path)) {
      List<Operation> ops = ops(hex(c.f[5]));
      byte[] newRoot = hex(c.f[7]);
      try (Verifier v = new Verifier(c.hash.equals("blake3") ? Hash.BLAKE3 : Hash.SHA256)) {
        double[] ms = new double[samples];
        for (int s = -5; s < samples; s++) {
          long t0 = System.nanoTime();
          Verified got = null;
          for (int r = 0; r < reps; r++) {
            got = v.verify(c.root, c.proof, ops);
          }
          if (got == null || !Arrays.equals(got.newRoot(), newRoot)) {
            throw new IllegalStateException("bench: wrong new root");
          }
          if (s >= 0) {
            ms[s] = (System.nanoTime() - t0) / 1e6 / reps;
          }
        }
        Arrays.sort(ms);
        System.out.printf(
            java.util.Locale.ROOT,
            "bench java %s objects median_ms=%.4f min_ms=%.4f%n",
            c.hash,
            ms[samples / 2],
            ms[0]);
      }
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 4 && args[0].equals("--bench")) {
      bench(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]));
      return;
    }
    if (args.length != 2) {
      System.err.println("usage: VerifierTest VECTORS WIRE | --bench BLOCKS SAMPLES REPS");
      System.exit(2);
    }
    List<Case> cases = readCases(args[0]);
    vectors(cases);
    wire(args[1]);
    errors(cases);
    closing(cases);
    threads(cases);
    wallet(cases);
    System.out.println(
        "java: " + (passed + failed) + " checks: " + passed + " passed, " + failed + " failed");
    System.exit(failed == 0 && !cases.isEmpty() ? 0 : 1);
  }
}
