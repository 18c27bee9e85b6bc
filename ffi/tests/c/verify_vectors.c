/*
 * Verifies test vectors through the C ABI (ffi/include/avlplus.h), built against the static
 * library and run under valgrind by ffi/tests/c_vectors.rs, which writes the vector file.
 *
 * Vector file: one case per line, fields separated by one space, byte strings in hex ("-" for
 * the empty string), codes as decimal numbers (avlplus_result):
 *
 *   verify <hash> <name> <root> <proof> <ops> <code> <new_root> <results>
 *   lookup <hash> <name> <root> <proof> <key> <code> <found 0|1> <value>
 *   value  <hash> <name> <root> <proof> <key> <expected hex|absent> <code>
 *
 * <hash> is sha256 or blake3; <ops> and <results> are wire-encoded (docs/wire-format.md).
 * Besides the vectors, the program checks the ABI's conventions: NULL pointers, zero-length
 * inputs, too-small output buffers (needed set, nothing else written, retry succeeds),
 * outputs untouched on failure, a message for every code, the version functions.
 *
 * Exit status 0 when every check passed.
 *
 * With --bench BLOCKS SAMPLES REPS (run by ffi/benches/bindings.rs), it instead times
 * avlplus_verify on each verify line of BLOCKS: after warm-up calls, SAMPLES samples of REPS
 * calls each, and prints "bench c <hash> bytes median_ms=<ms per call> min_ms=<fastest>" per
 * line.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avlplus.h"

static int passed = 0;
static int failed = 0;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (cond) {                                            \
      passed++;                                            \
    } else {                                               \
      failed++;                                            \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fprintf(stderr, "\n");                               \
    }                                                      \
  } while (0)

#define SENTINEL 0xA5
#define NEEDED_SENTINEL ((size_t)0x5A5A5A5A)

/* A byte string decoded from hex. */
typedef struct {
  uint8_t *data; /* NULL when len is 0 */
  size_t len;
} bytes;

static int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool from_hex(const char *s, bytes *out) {
  out->data = NULL;
  out->len = 0;
  if (strcmp(s, "-") == 0) return true;
  size_t n = strlen(s);
  if (n % 2 != 0) return false;
  out->len = n / 2;
  out->data = malloc(out->len);
  if (out->data == NULL) return false;
  for (size_t i = 0; i < out->len; i++) {
    int h = nibble(s[2 * i]), l = nibble(s[2 * i + 1]);
    if (h < 0 || l < 0) {
      free(out->data);
      out->data = NULL;
      return false;
    }
    out->data[i] = (uint8_t)(h << 4 | l);
  }
  return true;
}

static void bytes_free(bytes *b) {
  free(b->data);
  b->data = NULL;
  b->len = 0;
}

static bool all_sentinel(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != SENTINEL) return false;
  return true;
}

/* A malloc'd buffer of n bytes (at least 1) filled with the sentinel. */
static uint8_t *sentinel_buf(size_t n) {
  uint8_t *p = malloc(n ? n : 1);
  if (p == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  memset(p, SENTINEL, n ? n : 1);
  return p;
}

/* The default limits' verifiers, and the phone limits' (made by the example's phone_verifier). */
static struct avlplus_verifier *sha256_verifier, *blake3_verifier;
static struct avlplus_verifier *sha256_phone, *blake3_phone;

static const struct avlplus_verifier *verifier_for(const char *hash) {
  if (strcmp(hash, "sha256") == 0) return sha256_verifier;
  if (strcmp(hash, "blake3") == 0) return blake3_verifier;
  return NULL;
}

static const struct avlplus_verifier *phone_verifier_for(const char *hash) {
  if (strcmp(hash, "sha256") == 0) return sha256_phone;
  if (strcmp(hash, "blake3") == 0) return blake3_phone;
  return NULL;
}

/* Every code of the header: each must have its own message. */
static const uint32_t ALL_CODES[] = {
    AVLPLUS_RESULT_OK,
    AVLPLUS_RESULT_NULL_PARAMETER,
    AVLPLUS_RESULT_INSUFFICIENT_SIZE,
    AVLPLUS_RESULT_PANIC,
    AVLPLUS_RESULT_INVALID_PARAMETER,
    AVLPLUS_RESULT_INVALID_ROOT,
    AVLPLUS_RESULT_VALUE_MISMATCH,
    AVLPLUS_RESULT_UNEXPECTED_ERROR,
    AVLPLUS_RESULT_TOO_MANY_OPERATIONS,
    AVLPLUS_RESULT_OPERATION_KEY_TOO_LONG,
    AVLPLUS_RESULT_OPERATION_VALUE_TOO_LONG,
    AVLPLUS_RESULT_ROOT_MISMATCH,
    AVLPLUS_RESULT_HEIGHT_MISMATCH,
    AVLPLUS_RESULT_INCOMPLETE,
    AVLPLUS_RESULT_VALUE_WITHHELD,
    AVLPLUS_RESULT_WRONG_LEAF,
    AVLPLUS_RESULT_DIRECTIONS_EXHAUSTED,
    AVLPLUS_RESULT_UNUSED_DIRECTIONS,
    AVLPLUS_RESULT_MALFORMED,
    AVLPLUS_RESULT_PROOF_TOO_LONG,
    AVLPLUS_RESULT_PROOF_TRUNCATED,
    AVLPLUS_RESULT_PROOF_UNSUPPORTED_VERSION,
    AVLPLUS_RESULT_PROOF_BAD_VARINT,
    AVLPLUS_RESULT_PROOF_TOO_MANY_NODES,
    AVLPLUS_RESULT_PROOF_TOO_MUCH_MEMORY,
    AVLPLUS_RESULT_PROOF_MALFORMED_SHAPE,
    AVLPLUS_RESULT_PROOF_TOO_DEEP,
    AVLPLUS_RESULT_PROOF_KEY_TOO_LONG,
    AVLPLUS_RESULT_PROOF_VALUE_TOO_LONG,
    AVLPLUS_RESULT_PROOF_NON_ZERO_PADDING,
    AVLPLUS_RESULT_PROOF_NON_CANONICAL_WIDTH,
    AVLPLUS_RESULT_PROOF_UNORDERED_LEAVES,
    AVLPLUS_RESULT_WIRE_TRUNCATED,
    AVLPLUS_RESULT_WIRE_UNSUPPORTED_VERSION,
    AVLPLUS_RESULT_WIRE_BAD_VARINT,
    AVLPLUS_RESULT_WIRE_TOO_MANY_ITEMS,
    AVLPLUS_RESULT_WIRE_COUNT_EXCEEDS_INPUT,
    AVLPLUS_RESULT_WIRE_BAD_TAG,
    AVLPLUS_RESULT_WIRE_KEY_TOO_LONG,
    AVLPLUS_RESULT_WIRE_VALUE_TOO_LONG,
    AVLPLUS_RESULT_WIRE_TRAILING_BYTES,
};

static void check_messages_and_versions(void) {
  size_t n = sizeof ALL_CODES / sizeof ALL_CODES[0];
  const char *unknown = avlplus_result_message(9999);
  CHECK(unknown != NULL && strlen(unknown) > 0, "message of an unknown code");
  for (size_t i = 0; i < n; i++) {
    const char *m = avlplus_result_message(ALL_CODES[i]);
    CHECK(m != NULL && strlen(m) > 0 && strcmp(m, unknown) != 0, "message of code %u",
          (unsigned)ALL_CODES[i]);
    for (size_t j = 0; j < i; j++)
      CHECK(strcmp(m, avlplus_result_message(ALL_CODES[j])) != 0, "codes %u and %u share a message",
            (unsigned)ALL_CODES[i], (unsigned)ALL_CODES[j]);
  }
  CHECK(avlplus_abi_version() == AVLPLUS_ABI_VERSION, "ABI version");
  char expected[64];
  snprintf(expected, sizeof expected, "%d.%d.%d", AVLPLUS_VERSION_MAJOR, AVLPLUS_VERSION_MINOR,
           AVLPLUS_VERSION_PATCH);
  CHECK(strcmp(avlplus_version(), expected) == 0, "version %s, header says %s", avlplus_version(),
        expected);
}

static void check_handles(void) {
  struct avlplus_limits *limits = (struct avlplus_limits *)&passed; /* a sentinel pointer */
  struct avlplus_limits *const untouched = limits;
  CHECK(avlplus_limits_new(7, &limits) == AVLPLUS_RESULT_INVALID_PARAMETER, "unknown preset");
  CHECK(limits == untouched, "out written on failure");
  CHECK(avlplus_limits_new(AVLPLUS_PRESET_PHONE, NULL) == AVLPLUS_RESULT_NULL_PARAMETER,
        "NULL out");
  CHECK(avlplus_limits_new(AVLPLUS_PRESET_PHONE, &limits) == AVLPLUS_RESULT_OK, "phone preset");
  size_t v = NEEDED_SENTINEL;
  CHECK(avlplus_limits_get(limits, AVLPLUS_LIMIT_MAX_OPERATIONS, &v) == AVLPLUS_RESULT_OK &&
            v == 65536,
        "phone max operations %zu", v);
  CHECK(avlplus_limits_set(limits, AVLPLUS_LIMIT_MAX_OPERATIONS, 3) == AVLPLUS_RESULT_OK, "set");
  CHECK(avlplus_limits_get(limits, AVLPLUS_LIMIT_MAX_OPERATIONS, &v) == AVLPLUS_RESULT_OK && v == 3,
        "get after set");
  v = NEEDED_SENTINEL;
  CHECK(avlplus_limits_get(limits, 99, &v) == AVLPLUS_RESULT_INVALID_PARAMETER &&
            v == NEEDED_SENTINEL,
        "unknown field");
  CHECK(avlplus_limits_set(limits, 99, 1) == AVLPLUS_RESULT_INVALID_PARAMETER, "unknown field");
  CHECK(avlplus_limits_set(NULL, AVLPLUS_LIMIT_MAX_DEPTH, 1) == AVLPLUS_RESULT_NULL_PARAMETER,
        "NULL limits");
  CHECK(avlplus_limits_get(limits, AVLPLUS_LIMIT_MAX_DEPTH, NULL) == AVLPLUS_RESULT_NULL_PARAMETER,
        "NULL value");

  struct avlplus_verifier *verifier = (struct avlplus_verifier *)&failed;
  struct avlplus_verifier *const v_untouched = verifier;
  CHECK(avlplus_verifier_new(0, limits, &verifier) == AVLPLUS_RESULT_INVALID_PARAMETER &&
            verifier == v_untouched,
        "hash 0 is no hash");
  CHECK(avlplus_verifier_new(3, limits, &verifier) == AVLPLUS_RESULT_INVALID_PARAMETER &&
            verifier == v_untouched,
        "unknown hash");
  CHECK(avlplus_verifier_new(AVLPLUS_HASH_SHA256, NULL, &verifier) ==
                AVLPLUS_RESULT_NULL_PARAMETER &&
            verifier == v_untouched,
        "NULL limits");
  CHECK(avlplus_verifier_new(AVLPLUS_HASH_SHA256, limits, NULL) == AVLPLUS_RESULT_NULL_PARAMETER,
        "NULL out");
  CHECK(avlplus_verifier_new(AVLPLUS_HASH_BLAKE3, limits, &verifier) == AVLPLUS_RESULT_OK,
        "new verifier");
  avlplus_limits_free(limits); /* the verifier keeps its copy */
  /* Four operations are over this verifier's limit of three. */
  static const uint8_t four_lookups[] = {0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
                                         0x00, 0x00, 0x00, 0x00};
  uint8_t root[AVLPLUS_ROOT_LEN] = {0};
  uint8_t new_root[AVLPLUS_ROOT_LEN];
  uint8_t results[16];
  size_t n1 = NEEDED_SENTINEL, n2 = NEEDED_SENTINEL;
  CHECK(avlplus_verify(verifier, root, sizeof root, NULL, 0, four_lookups, sizeof four_lookups,
                       new_root, sizeof new_root, &n1, results, sizeof results,
                       &n2) == AVLPLUS_RESULT_WIRE_TOO_MANY_ITEMS,
        "limits copied into the verifier");
  CHECK(n1 == NEEDED_SENTINEL && n2 == NEEDED_SENTINEL, "needed written on failure");
  avlplus_verifier_free(verifier);
  avlplus_verifier_free(NULL);
  avlplus_limits_free(NULL);
}

/* The ABI's conventions, on one honest vector whose results are `results`. */
static void check_conventions(const struct avlplus_verifier *v, const bytes *root,
                              const bytes *proof, const bytes *ops, const bytes *new_root,
                              const bytes *results) {
  uint8_t *nr = sentinel_buf(AVLPLUS_ROOT_LEN);
  uint8_t *rs = sentinel_buf(results->len);
  size_t nr_needed = NEEDED_SENTINEL, rs_needed = NEEDED_SENTINEL;
#define VERIFY(V, R, RL, P, PL, O, OL, NR, NRL, NRN, RS, RSL, RSN) \
  avlplus_verify(V, R, RL, P, PL, O, OL, NR, NRL, NRN, RS, RSL, RSN)
#define UNTOUCHED()                                                                     \
  (all_sentinel(nr, AVLPLUS_ROOT_LEN) && all_sentinel(rs, results->len) &&              \
   nr_needed == NEEDED_SENTINEL && rs_needed == NEEDED_SENTINEL)

  /* Every pointer NULL in turn. */
  CHECK(VERIFY(NULL, root->data, root->len, proof->data, proof->len, ops->data, ops->len, nr,
               AVLPLUS_ROOT_LEN, &nr_needed, rs, results->len,
               &rs_needed) == AVLPLUS_RESULT_NULL_PARAMETER && UNTOUCHED(),
        "NULL verifier");
  CHECK(VERIFY(v, NULL, root->len, proof->data, proof->len, ops->data, ops->len, nr,
               AVLPLUS_ROOT_LEN, &nr_needed, rs, results->len,
               &rs_needed) == AVLPLUS_RESULT_NULL_PARAMETER && UNTOUCHED(),
        "NULL root");
  CHECK(VERIFY(v, root->data, root->len, NULL, proof->len, ops->data, ops->len, nr,
               AVLPLUS_ROOT_LEN, &nr_needed, rs, results->len,
               &rs_needed) == AVLPLUS_RESULT_NULL_PARAMETER && UNTOUCHED(),
        "NULL proof");
  CHECK(VERIFY(v, root->data, root->len, proof->data, proof->len, NULL, ops->len, nr,
               AVLPLUS_ROOT_LEN, &nr_needed, rs, results->len,
               &rs_needed) == AVLPLUS_RESULT_NULL_PARAMETER && UNTOUCHED(),
        "NULL ops");
  CHECK(VERIFY(v, root->data, root->len, proof->data, proof->len, ops->data, ops->len, NULL,
               AVLPLUS_ROOT_LEN, &nr_needed, rs, results->len,
               &rs_needed) == AVLPLUS_RESULT_NULL_PARAMETER && UNTOUCHED(),
        "NULL new root buffer");
  CHECK(VERIFY(v, root->data, root->len, proof->data, proof->len, ops->data, ops->len, nr,
               AVLPLUS_ROOT_LEN, NULL, rs, results->len,
               &rs_needed) == AVLPLUS_RESULT_NULL_PARAMETER && UNTOUCHED(),
        "NULL new root needed");
  CHECK(VERIFY(v, root->data, root->len, proof->data, proof->len, ops->data, ops->len, nr,
               AVLPLUS_ROOT_LEN, &nr_needed, NULL, results->len,
               &rs_needed) == AVLPLUS_RESULT_NULL_PARAMETER && UNTOUCHED(),
        "NULL results buffer");
  CHECK(VERIFY(v, root->data, root->len, proof->data, proof->len, ops->data, ops->len, nr,
               AVLPLUS_ROOT_LEN, &nr_needed, rs, results->len,
               NULL) == AVLPLUS_RESULT_NULL_PARAMETER && UNTOUCHED(),
        "NULL results needed");

  /* Zero-length inputs: NULL with length 0 is the empty input. */
  CHECK(VERIFY(v, root->data, root->len, proof->data, proof->len, NULL, 0, nr, AVLPLUS_ROOT_LEN,
               &nr_needed, rs, results->len, &rs_needed) == AVLPLUS_RESULT_WIRE_TRUNCATED &&
            UNTOUCHED(),
        "empty operations");
  CHECK(VERIFY(v, NULL, 0, proof->data, proof->len, ops->data, ops->len, nr, AVLPLUS_ROOT_LEN,
               &nr_needed, rs, results->len, &rs_needed) == AVLPLUS_RESULT_INVALID_ROOT &&
            UNTOUCHED(),
        "empty root");
  CHECK(VERIFY(v, root->data, root->len - 1, proof->data, proof->len, ops->data, ops->len, nr,
               AVLPLUS_ROOT_LEN, &nr_needed, rs, results->len,
               &rs_needed) == AVLPLUS_RESULT_INVALID_ROOT && UNTOUCHED(),
        "32-byte root");
  uint32_t empty_proof = VERIFY(v, root->data, root->len, NULL, 0, ops->data, ops->len, nr,
                                AVLPLUS_ROOT_LEN, &nr_needed, rs, results->len, &rs_needed);
  CHECK(empty_proof == AVLPLUS_RESULT_PROOF_TRUNCATED && UNTOUCHED(), "empty proof: %u",
        (unsigned)empty_proof);

  /* Too small: one byte short, then nothing at all; needed set, nothing else written. */
  CHECK(VERIFY(v, root->data, root->len, proof->data, proof->len, ops->data, ops->len, nr,
               AVLPLUS_ROOT_LEN, &nr_needed, rs, results->len - 1,
               &rs_needed) == AVLPLUS_RESULT_INSUFFICIENT_SIZE &&
            nr_needed == AVLPLUS_ROOT_LEN && rs_needed == results->len &&
            all_sentinel(nr, AVLPLUS_ROOT_LEN) && all_sentinel(rs, results->len),
        "results buffer one byte short");
  nr_needed = rs_needed = NEEDED_SENTINEL;
  CHECK(VERIFY(v, root->data, root->len, proof->data, proof->len, ops->data, ops->len, nr,
               AVLPLUS_ROOT_LEN - 1, &nr_needed, rs, results->len,
               &rs_needed) == AVLPLUS_RESULT_INSUFFICIENT_SIZE &&
            nr_needed == AVLPLUS_ROOT_LEN && rs_needed == results->len &&
            all_sentinel(nr, AVLPLUS_ROOT_LEN) && all_sentinel(rs, results->len),
        "root buffer one byte short");
  nr_needed = rs_needed = NEEDED_SENTINEL;
  CHECK(VERIFY(v, root->data, root->len, proof->data, proof->len, ops->data, ops->len, NULL, 0,
               &nr_needed, NULL, 0, &rs_needed) == AVLPLUS_RESULT_INSUFFICIENT_SIZE &&
            nr_needed == AVLPLUS_ROOT_LEN && rs_needed == results->len,
        "size query with NULL buffers");
  /* Retry with buffers of the sizes asked for. */
  uint8_t *rs2 = sentinel_buf(rs_needed);
  CHECK(VERIFY(v, root->data, root->len, proof->data, proof->len, ops->data, ops->len, nr,
               nr_needed, &nr_needed, rs2, rs_needed, &rs_needed) == AVLPLUS_RESULT_OK &&
            memcmp(nr, new_root->data, AVLPLUS_ROOT_LEN) == 0 && rs_needed == results->len &&
            memcmp(rs2, results->data, results->len) == 0,
        "retry after insufficient size");
  free(rs2);
  free(nr);
  free(rs);
#undef VERIFY
#undef UNTOUCHED
}

/* ---------------------------------------------------------------------------------------
 * The C example of docs/mobile.md, whose excerpts ffi/tests/docs.rs checks against this
 * file. run_lookup and run_verify run it on every honest line, with the phone limits.
 */

/* A verifier for `hash` (AVLPLUS_HASH_SHA256 or _BLAKE3) with the phone limits, or NULL. */
static struct avlplus_verifier *phone_verifier(uint32_t hash) {
  struct avlplus_limits *limits = NULL;
  struct avlplus_verifier *verifier = NULL;
  if (avlplus_limits_new(AVLPLUS_PRESET_PHONE, &limits) != AVLPLUS_RESULT_OK) return NULL;
  avlplus_result r = avlplus_verifier_new(hash, limits, &verifier);
  avlplus_limits_free(limits); /* the verifier keeps a copy */
  return r == AVLPLUS_RESULT_OK ? verifier : NULL;
}

/*
 * Is `key` under the trusted root (AVLPLUS_ROOT_LEN bytes), and with which value? On
 * AVLPLUS_RESULT_OK, *value is NULL if the key is absent, else the value, *value_len bytes
 * the caller frees. (A failed malloc comes back as AVLPLUS_RESULT_NULL_PARAMETER.)
 */
static avlplus_result wallet_lookup(const struct avlplus_verifier *verifier, const uint8_t *root,
                                    const uint8_t *proof, size_t proof_len, const uint8_t *key,
                                    size_t key_len, uint8_t **value, size_t *value_len) {
  bool found = false;
  size_t cap = 64, needed = 0; /* a first guess at the value's length */
  uint8_t *buf = malloc(cap);
  avlplus_result r = avlplus_verify_lookup(verifier, root, AVLPLUS_ROOT_LEN, proof, proof_len,
                                           key, key_len, &found, buf, cap, &needed);
  if (r == AVLPLUS_RESULT_INSUFFICIENT_SIZE) { /* longer: again, with the size it needs */
    free(buf);
    cap = needed;
    buf = malloc(cap);
    r = avlplus_verify_lookup(verifier, root, AVLPLUS_ROOT_LEN, proof, proof_len, key, key_len,
                              &found, buf, cap, &needed);
  }
  *value = NULL;
  *value_len = 0;
  if (r == AVLPLUS_RESULT_OK && found) {
    *value = buf;
    *value_len = needed;
  } else {
    free(buf);
  }
  return r;
}

/*
 * Does the block (its wire-encoded operations and its proof) lead from the trusted root? On
 * AVLPLUS_RESULT_OK, new_root is the root after it and *results the wire-encoded results,
 * one per operation, *results_len bytes the caller frees.
 */
static avlplus_result wallet_block(const struct avlplus_verifier *verifier, const uint8_t *root,
                                   const uint8_t *proof, size_t proof_len, const uint8_t *ops,
                                   size_t ops_len, uint8_t new_root[AVLPLUS_ROOT_LEN],
                                   uint8_t **results, size_t *results_len) {
  size_t root_needed = 0, needed = 0;
  size_t cap = 64 + ops_len; /* a first guess: found values can make the results longer */
  uint8_t *buf = malloc(cap);
  avlplus_result r = avlplus_verify(verifier, root, AVLPLUS_ROOT_LEN, proof, proof_len, ops,
                                    ops_len, new_root, AVLPLUS_ROOT_LEN, &root_needed, buf, cap,
                                    &needed);
  if (r == AVLPLUS_RESULT_INSUFFICIENT_SIZE) { /* longer: again, with the size it needs */
    free(buf);
    cap = needed;
    buf = malloc(cap);
    r = avlplus_verify(verifier, root, AVLPLUS_ROOT_LEN, proof, proof_len, ops, ops_len,
                       new_root, AVLPLUS_ROOT_LEN, &root_needed, buf, cap, &needed);
  }
  *results = NULL;
  *results_len = 0;
  if (r == AVLPLUS_RESULT_OK) {
    *results = buf;
    *results_len = needed;
  } else {
    free(buf);
  }
  return r;
}

/* The example's lookup on an honest lookup line: it finds the vector's value. */
static void check_wallet_lookup(const char *hash, const char *name, const bytes *root,
                                const bytes *proof, const bytes *key, bool expected_found,
                                const bytes *expected_value) {
  const struct avlplus_verifier *verifier = phone_verifier_for(hash);
  uint8_t *value = NULL;
  size_t value_len = 0;
  avlplus_result r = wallet_lookup(verifier, root->data, proof->data, proof->len, key->data,
                                   key->len, &value, &value_len);
  if (r != AVLPLUS_RESULT_OK) fprintf(stderr, "lookup: %s\n", avlplus_result_message(r));
  CHECK(verifier != NULL && r == AVLPLUS_RESULT_OK && (value != NULL) == expected_found &&
            value_len == expected_value->len &&
            (value_len == 0 || memcmp(value, expected_value->data, value_len) == 0),
        "%s: the example's lookup (code %u)", name, (unsigned)r);
  free(value);
}

/* The example's block on an honest verify line: the vector's new root and results. */
static void check_wallet_block(const char *hash, const char *name, const bytes *root,
                               const bytes *proof, const bytes *ops, const bytes *expected_root,
                               const bytes *expected_results) {
  const struct avlplus_verifier *verifier = phone_verifier_for(hash);
  uint8_t new_root[AVLPLUS_ROOT_LEN];
  uint8_t *results = NULL;
  size_t results_len = 0;
  avlplus_result r = wallet_block(verifier, root->data, proof->data, proof->len, ops->data,
                                  ops->len, new_root, &results, &results_len);
  if (r != AVLPLUS_RESULT_OK) fprintf(stderr, "block: %s\n", avlplus_result_message(r));
  CHECK(verifier != NULL && r == AVLPLUS_RESULT_OK && expected_root->len == AVLPLUS_ROOT_LEN &&
            memcmp(new_root, expected_root->data, AVLPLUS_ROOT_LEN) == 0 &&
            results_len == expected_results->len &&
            memcmp(results, expected_results->data, results_len) == 0,
        "%s: the example's block (code %u)", name, (unsigned)r);
  free(results);
}

static void run_verify(char **f, int nf) {
  if (nf != 9) {
    CHECK(false, "verify line with %d fields", nf);
    return;
  }
  const char *name = f[2];
  const struct avlplus_verifier *v = verifier_for(f[1]);
  bytes root, proof, ops, new_root, results;
  bool ok = from_hex(f[3], &root) & from_hex(f[4], &proof) & from_hex(f[5], &ops) &
            from_hex(f[7], &new_root) & from_hex(f[8], &results);
  uint32_t expected = (uint32_t)strtoul(f[6], NULL, 10);
  CHECK(ok && v != NULL, "%s: bad vector line", name);
  if (ok && v != NULL) {
    size_t cap = results.len ? results.len : 64;
    uint8_t *nr = sentinel_buf(AVLPLUS_ROOT_LEN);
    uint8_t *rs = sentinel_buf(cap);
    size_t nr_needed = NEEDED_SENTINEL, rs_needed = NEEDED_SENTINEL;
    uint32_t code = avlplus_verify(v, root.data, root.len, proof.data, proof.len, ops.data,
                                   ops.len, nr, AVLPLUS_ROOT_LEN, &nr_needed, rs, cap, &rs_needed);
    CHECK(code == expected, "%s: code %u (%s), expected %u (%s)", name, (unsigned)code,
          avlplus_result_message(code), (unsigned)expected, avlplus_result_message(expected));
    if (expected == AVLPLUS_RESULT_OK && code == AVLPLUS_RESULT_OK) {
      CHECK(nr_needed == AVLPLUS_ROOT_LEN && new_root.len == AVLPLUS_ROOT_LEN &&
                memcmp(nr, new_root.data, AVLPLUS_ROOT_LEN) == 0,
            "%s: new root", name);
      CHECK(rs_needed == results.len && memcmp(rs, results.data, results.len) == 0,
            "%s: results (%zu bytes, expected %zu)", name, rs_needed, results.len);
      if (root.len == AVLPLUS_ROOT_LEN)
        check_wallet_block(f[1], name, &root, &proof, &ops, &new_root, &results);
      static bool conventions_checked = false;
      if (!conventions_checked && ops.len > 2 && root.len == AVLPLUS_ROOT_LEN) {
        conventions_checked = true;
        check_conventions(v, &root, &proof, &ops, &new_root, &results);
      }
    } else {
      CHECK(all_sentinel(nr, AVLPLUS_ROOT_LEN) && all_sentinel(rs, cap) &&
                nr_needed == NEEDED_SENTINEL && rs_needed == NEEDED_SENTINEL,
            "%s: outputs written on failure", name);
    }
    free(nr);
    free(rs);
  }
  bytes_free(&root);
  bytes_free(&proof);
  bytes_free(&ops);
  bytes_free(&new_root);
  bytes_free(&results);
}

static void run_lookup(char **f, int nf) {
  if (nf != 9) {
    CHECK(false, "lookup line with %d fields", nf);
    return;
  }
  const char *name = f[2];
  const struct avlplus_verifier *v = verifier_for(f[1]);
  bytes root, proof, key, value;
  bool ok = from_hex(f[3], &root) & from_hex(f[4], &proof) & from_hex(f[5], &key) &
            from_hex(f[8], &value);
  uint32_t expected = (uint32_t)strtoul(f[6], NULL, 10);
  bool expected_found = strcmp(f[7], "1") == 0;
  CHECK(ok && v != NULL, "%s: bad vector line", name);
  if (ok && v != NULL) {
    /* First with no buffer: a found non-empty value asks for its size. */
    bool found = !expected_found;
    size_t needed = NEEDED_SENTINEL;
    uint32_t code = avlplus_verify_lookup(v, root.data, root.len, proof.data, proof.len, key.data,
                                          key.len, &found, NULL, 0, &needed);
    if (expected != AVLPLUS_RESULT_OK) {
      CHECK(code == expected && needed == NEEDED_SENTINEL && found == !expected_found,
            "%s: code %u, expected %u; outputs untouched", name, (unsigned)code,
            (unsigned)expected);
    } else if (expected_found && value.len > 0) {
      CHECK(code == AVLPLUS_RESULT_INSUFFICIENT_SIZE && needed == value.len &&
                found == !expected_found,
            "%s: size query: code %u needed %zu", name, (unsigned)code, needed);
      uint8_t *buf = sentinel_buf(needed);
      code = avlplus_verify_lookup(v, root.data, root.len, proof.data, proof.len, key.data,
                                   key.len, &found, buf, needed, &needed);
      CHECK(code == AVLPLUS_RESULT_OK && found && needed == value.len &&
                memcmp(buf, value.data, value.len) == 0,
            "%s: lookup value", name);
      free(buf);
    } else {
      CHECK(code == AVLPLUS_RESULT_OK && found == expected_found && needed == 0,
            "%s: code %u found %d needed %zu", name, (unsigned)code, found, needed);
    }
    if (expected == AVLPLUS_RESULT_OK && root.len == AVLPLUS_ROOT_LEN)
      check_wallet_lookup(f[1], name, &root, &proof, &key, expected_found, &value);
  }
  bytes_free(&root);
  bytes_free(&proof);
  bytes_free(&key);
  bytes_free(&value);
}

static void run_value(char **f, int nf) {
  if (nf != 8) {
    CHECK(false, "value line with %d fields", nf);
    return;
  }
  const char *name = f[2];
  const struct avlplus_verifier *v = verifier_for(f[1]);
  bytes root, proof, key, expected_value;
  bool absent = strcmp(f[6], "absent") == 0;
  bool ok = from_hex(f[3], &root) & from_hex(f[4], &proof) & from_hex(f[5], &key) &
            (absent || from_hex(f[6], &expected_value));
  if (absent) expected_value.data = NULL, expected_value.len = 0;
  uint32_t expected = (uint32_t)strtoul(f[7], NULL, 10);
  CHECK(ok && v != NULL, "%s: bad vector line", name);
  if (ok && v != NULL) {
    /* An empty expected value is a non-NULL pointer with length 0 (NULL means absent). */
    static const uint8_t empty[1] = {0};
    const uint8_t *e = absent ? NULL : (expected_value.len ? expected_value.data : empty);
    uint32_t code = avlplus_verify_value(v, root.data, root.len, proof.data, proof.len, key.data,
                                         key.len, e, expected_value.len);
    CHECK(code == expected, "%s: code %u (%s), expected %u", name, (unsigned)code,
          avlplus_result_message(code), (unsigned)expected);
  }
  bytes_free(&root);
  bytes_free(&proof);
  bytes_free(&key);
  bytes_free(&expected_value);
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* One verify line timed (see the header comment); false if it does not verify. */
static bool bench_verify(char **f, int nf, int samples, int reps) {
  if (nf != 9 || strcmp(f[0], "verify") != 0) return false;
  const struct avlplus_verifier *v = verifier_for(f[1]);
  bytes root, proof, ops, new_root, results;
  bool ok = from_hex(f[3], &root) & from_hex(f[4], &proof) & from_hex(f[5], &ops) &
            from_hex(f[7], &new_root) & from_hex(f[8], &results);
  uint8_t nr[AVLPLUS_ROOT_LEN];
  size_t cap = results.len + 64, nr_needed = 0, rs_needed = 0;
  uint8_t *rs = malloc(cap);
  double *ms = malloc(sizeof(double) * (size_t)samples);
  ok = ok && v != NULL && rs != NULL && ms != NULL && new_root.len == AVLPLUS_ROOT_LEN;
  for (int s = -3; ok && s < samples; s++) { /* three warm-up samples */
    double t0 = now_ms();
    for (int r = 0; ok && r < reps; r++)
      ok = avlplus_verify(v, root.data, root.len, proof.data, proof.len, ops.data, ops.len, nr,
                          sizeof nr, &nr_needed, rs, cap, &rs_needed) == AVLPLUS_RESULT_OK;
    if (s >= 0) ms[s] = (now_ms() - t0) / reps;
  }
  ok = ok && memcmp(nr, new_root.data, AVLPLUS_ROOT_LEN) == 0 && rs_needed == results.len &&
       memcmp(rs, results.data, results.len) == 0;
  if (ok) {
    qsort(ms, (size_t)samples, sizeof(double), cmp_double);
    printf("bench c %s bytes median_ms=%.4f min_ms=%.4f\n", f[1], ms[samples / 2], ms[0]);
  }
  free(rs);
  free(ms);
  bytes_free(&root);
  bytes_free(&proof);
  bytes_free(&ops);
  bytes_free(&new_root);
  bytes_free(&results);
  return ok;
}

static bool make_verifiers(void) {
  struct avlplus_limits *limits = NULL;
  bool ok = avlplus_limits_new(AVLPLUS_PRESET_DEFAULT, &limits) == AVLPLUS_RESULT_OK &&
            avlplus_verifier_new(AVLPLUS_HASH_SHA256, limits, &sha256_verifier) ==
                AVLPLUS_RESULT_OK &&
            avlplus_verifier_new(AVLPLUS_HASH_BLAKE3, limits, &blake3_verifier) ==
                AVLPLUS_RESULT_OK;
  avlplus_limits_free(limits);
  sha256_phone = phone_verifier(AVLPLUS_HASH_SHA256);
  blake3_phone = phone_verifier(AVLPLUS_HASH_BLAKE3);
  if (!ok || sha256_phone == NULL || blake3_phone == NULL) {
    fprintf(stderr, "cannot make the verifiers\n");
    return false;
  }
  return true;
}

static void free_verifiers(void) {
  avlplus_verifier_free(sha256_verifier);
  avlplus_verifier_free(blake3_verifier);
  avlplus_verifier_free(sha256_phone);
  avlplus_verifier_free(blake3_phone);
}

/*
 * The next case of a vector file: its fields (at most 16, space-separated, pointing into
 * *line) in f, and their number; blank and comment lines are skipped. -1 at the end.
 */
static int next_case(FILE *in, char **line, size_t *cap, char **f) {
  ssize_t n;
  while ((n = getline(line, cap, in)) >= 0) {
    if (n > 0 && (*line)[n - 1] == '\n') (*line)[--n] = '\0';
    if (n == 0 || (*line)[0] == '#') continue;
    int nf = 0;
    for (char *tok = strtok(*line, " "); tok != NULL && nf < 16; tok = strtok(NULL, " "))
      f[nf++] = tok;
    return nf;
  }
  return -1;
}

static int bench(const char *path, int samples, int reps) {
  FILE *in = fopen(path, "r");
  if (in == NULL || samples < 1 || reps < 1 || !make_verifiers()) {
    if (in == NULL) perror(path);
    return 2;
  }
  char *line = NULL, *f[16];
  size_t cap = 0;
  int nf, timed = 0, bad = 0;
  while ((nf = next_case(in, &line, &cap, f)) >= 0) {
    if (bench_verify(f, nf, samples, reps))
      timed++;
    else
      bad++;
  }
  free(line);
  fclose(in);
  free_verifiers();
  if (bad > 0) fprintf(stderr, "bench: %d lines did not verify\n", bad);
  return bad == 0 && timed > 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "--bench") == 0)
    return bench(argv[2], atoi(argv[3]), atoi(argv[4]));
  if (argc != 2) {
    fprintf(stderr, "usage: %s VECTORS | --bench BLOCKS SAMPLES REPS\n", argv[0]);
    return 2;
  }
  FILE *in = fopen(argv[1], "r");
  if (in == NULL) {
    perror(argv[1]);
    return 2;
  }
  check_messages_and_versions();
  check_handles();
  if (!make_verifiers()) return 2;

  char *line = NULL, *f[16];
  size_t cap = 0;
  int nf, cases = 0;
  while ((nf = next_case(in, &line, &cap, f)) >= 0) {
    if (nf < 3) {
      CHECK(false, "short line");
      continue;
    }
    cases++;
    if (strcmp(f[0], "verify") == 0)
      run_verify(f, nf);
    else if (strcmp(f[0], "lookup") == 0)
      run_lookup(f, nf);
    else if (strcmp(f[0], "value") == 0)
      run_value(f, nf);
    else
      CHECK(false, "unknown line kind %s", f[0]);
  }
  free(line);
  fclose(in);
  free_verifiers();

  printf("verify_vectors: %d cases, %d checks: %d passed, %d failed\n", cases, passed + failed,
         passed, failed);
  return failed == 0 && cases > 0 ? 0 : 1;
}
