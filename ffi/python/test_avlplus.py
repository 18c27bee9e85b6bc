"""Tests of avlplus.py, run by ffi/tests/python.rs (stdlib unittest only).

    AVLPLUS_LIB=... AVLPLUS_VECTORS=... AVLPLUS_WIRE_JSON=... python3 test_avlplus.py
    AVLPLUS_LIB=... python3 test_avlplus.py --bench BLOCKS SAMPLES REPS

AVLPLUS_VECTORS is the vector file of ffi/tests/common/mod.rs (its format: the header comment
of ffi/tests/c/verify_vectors.c); AVLPLUS_WIRE_JSON is fixtures/wire.json. --bench times
Verifier.verify on each verify line of BLOCKS, in that format (ffi/benches/bindings.rs).
"""

import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import avlplus  # noqa: E402
from avlplus import (  # noqa: E402
    AvlplusError,
    Code,
    Hash,
    Limit,
    Operation,
    OpResult,
    Preset,
    ResultKind,
    Verifier,
)


def unhex(s):
    return b"" if s == "-" else bytes.fromhex(s)


class Case:
    """One line of the vector file."""

    def __init__(self, line):
        self.f = line.split(" ")
        self.kind, self.hash, self.name = self.f[0], self.f[1], self.f[2]
        self.root, self.proof = unhex(self.f[3]), unhex(self.f[4])


def read_cases(path):
    with open(path, encoding="ascii") as f:
        return [Case(line.rstrip("\n")) for line in f if line.strip() and not line.startswith("#")]


def run_case(v, c):
    """Runs one case with verifier ``v``; returns None if it passed, else what went wrong."""
    f = c.f
    try:
        if c.kind == "verify":
            expected = int(f[6])
            ops = avlplus.decode_operations(unhex(f[5]))
            got = v.verify(c.root, c.proof, ops)
            if expected:
                return f"verified, expected code {expected}"
            if got.new_root != unhex(f[7]):
                return "new root"
            results = unhex(f[8])
            if avlplus.encode_results(got.results) != results:
                return f"results {got.results}"
            if avlplus.decode_results(results) != got.results:
                return "decoded results"
            return None
        if c.kind == "lookup":
            expected, found, value = int(f[6]), f[7] == "1", unhex(f[8])
            got = v.verify_lookup(c.root, c.proof, unhex(f[5]))
            if expected:
                return f"verified, expected code {expected}"
            if (got is not None) != found:
                return f"found {got is not None}"
            return None if not found or got == value else "value"
        if c.kind == "value":
            expected = int(f[7])
            want = None if f[6] == "absent" else unhex(f[6])
            same = v.verify_value(c.root, c.proof, unhex(f[5]), want)
            if expected == Code.OK:
                return None if same else "mismatch, expected a match"
            if expected == Code.VALUE_MISMATCH:
                return "match, expected a mismatch" if same else None
            return f"verified, expected code {expected}"
        return f"unknown line kind {c.kind}"
    except AvlplusError as e:
        if e.code != expected:
            return f"code {e.code} ({e.message}), expected {expected}"
        if not e.message or e.message != avlplus.result_message(expected):
            return f"message {e.message!r}"
        return None


CASES = read_cases(os.environ["AVLPLUS_VECTORS"]) if "AVLPLUS_VECTORS" in os.environ else []


def honest(hash_name="sha256", min_ops=1):
    """The first honest verify case of a hash with at least ``min_ops`` operations."""
    for c in CASES:
        honest_line = (c.kind, c.hash, c.f[6]) == ("verify", hash_name, "0")
        if honest_line and len(c.root) == avlplus.ROOT_LEN:
            ops = avlplus.decode_operations(unhex(c.f[5]))
            if len(ops) >= min_ops:
                return c, ops
    raise AssertionError("no honest verify case")


class CountingLibrary:
    """The library, counting the calls of one function (to see the retry happen)."""

    def __init__(self, lib, name):
        self._lib, self._name, self.calls = lib, name, 0

    def __getattr__(self, name):
        fn = getattr(self._lib, name)
        if name != self._name:
            return fn

        def counted(*args):
            self.calls += 1
            return fn(*args)

        return counted


class Vectors(unittest.TestCase):
    def test_every_vector(self):
        self.assertGreater(len(CASES), 100)
        verifiers = {h: Verifier(Hash[h.upper()]) for h in ("sha256", "blake3")}
        minimal = {h: Verifier(Hash[h.upper()], Preset.DEFAULT) for h in ("sha256", "blake3")}
        for v in minimal.values():
            v._minimal_buffers = True  # every output through the retry
        failures = []
        for c in CASES:
            for label, vs in (("", verifiers), (" (minimal buffers)", minimal)):
                err = run_case(vs[c.hash], c)
                if err is not None:
                    failures.append(f"{c.name}{label}: {err}")
        for v in list(verifiers.values()) + list(minimal.values()):
            v.close()
        self.assertEqual(failures, [])
        print(f"python: vectors {len(CASES)} cases", flush=True)

    def test_insufficient_size_is_retried_inside(self):
        c, ops = honest("sha256", 2)
        with Verifier(Hash.SHA256) as v:
            counting = v._lib = CountingLibrary(v._lib, "avlplus_verify")
            first = v.verify(c.root, c.proof, ops)
            self.assertEqual(counting.calls, 1, "a small block fits the first guess")
            v._minimal_buffers = True
            again = v.verify(c.root, c.proof, ops)
            self.assertEqual(counting.calls, 3, "too small, then the size asked for")
            self.assertEqual(first, again)
            self.assertEqual(again.new_root, unhex(c.f[7]))
        # A found value longer than the first guess of a lookup's buffer.
        big = [
            c for c in CASES if c.kind == "lookup" and c.f[6] == "0" and len(unhex(c.f[8])) > 256
        ]
        for c in big[:3]:
            with Verifier(Hash[c.hash.upper()]) as v:
                counting = v._lib = CountingLibrary(v._lib, "avlplus_verify_lookup")
                self.assertEqual(v.verify_lookup(c.root, c.proof, unhex(c.f[5])), unhex(c.f[8]))
                self.assertEqual(counting.calls, 2)


WIRE_CODES = {
    "Truncated": Code.WIRE_TRUNCATED,
    "UnsupportedVersion": Code.WIRE_UNSUPPORTED_VERSION,
    "BadVarint": Code.WIRE_BAD_VARINT,
    "TooManyItems": Code.WIRE_TOO_MANY_ITEMS,
    "CountExceedsInput": Code.WIRE_COUNT_EXCEEDS_INPUT,
    "BadTag": Code.WIRE_BAD_TAG,
    "TrailingBytes": Code.WIRE_TRAILING_BYTES,
}


def wire_code(error):
    """The code of a Rust ``WireError`` in its Debug form (a table of its own)."""
    if error.startswith("TooLong"):
        return Code.WIRE_KEY_TOO_LONG if "KeyTooLong" in error else Code.WIRE_VALUE_TOO_LONG
    return WIRE_CODES[error.split("(")[0].split(" ")[0]]


class Wire(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.environ["AVLPLUS_WIRE_JSON"], encoding="utf-8") as f:
            cls.doc = json.load(f)

    def test_operations(self):
        for v in self.doc["operations"]:
            ops = [
                Operation(avlplus.OpKind[o["op"].upper()], unhex(o["key"] or "-"),
                          unhex(o["value"] or "-") if "value" in o else None)
                for o in v["ops"]
            ]  # fmt: skip
            data = bytes.fromhex(v["bytes"])
            self.assertEqual(avlplus.encode_operations(ops), data, v["name"])
            self.assertEqual(avlplus.decode_operations(data), ops, v["name"])

    def test_results(self):
        for v in self.doc["results"]:
            results = []
            for r in v["results"]:
                if isinstance(r, str):
                    results.append(OpResult(ResultKind[r.upper()]))
                elif "found" in r:
                    results.append(OpResult(ResultKind.FOUND, bytes.fromhex(r["found"])))
                else:
                    results.append(OpResult(ResultKind[r["failure"].upper()]))
            data = bytes.fromhex(v["bytes"])
            self.assertEqual(avlplus.encode_results(results), data, v["name"])
            self.assertEqual(avlplus.decode_results(data), results, v["name"])

    def test_malformed(self):
        n = 0
        for key, decode in (("malformed_operations", avlplus.decode_operations),
                            ("malformed_results", avlplus.decode_results)):  # fmt: skip
            for v in self.doc[key]:
                with self.assertRaises(AvlplusError, msg=v["name"]) as e:
                    decode(bytes.fromhex(v["bytes"]))
                self.assertEqual(e.exception.code, wire_code(v["error"]), f"{key} {v['name']}")
                n += 1
        self.assertGreater(n, 15)

    def test_bounds(self):
        # Ten-byte varints: 2^64 - 1 is the largest; an eleventh byte or a 65th bit is refused.
        with self.assertRaises(AvlplusError) as e:
            avlplus.decode_results(b"\x01" + b"\xff" * 9 + b"\x01")
        self.assertEqual(e.exception.code, Code.WIRE_TOO_MANY_ITEMS)
        for bad in (b"\x01" + b"\xff" * 9 + b"\x02", b"\x01" + b"\xff" * 10 + b"\x01"):
            with self.assertRaises(AvlplusError) as e:
                avlplus.decode_results(bad)
            self.assertEqual(e.exception.code, Code.WIRE_BAD_VARINT)
        # A found value announced longer than the bytes left.
        with self.assertRaises(AvlplusError) as e:
            avlplus.decode_results(b"\x01\x01\x00\x05ab")
        self.assertEqual(e.exception.code, Code.WIRE_TRUNCATED)
        self.assertEqual(
            avlplus.decode_results(b"\x01\x01\x00\x02ab", max_count=1, max_value_len=2),
            [OpResult(ResultKind.FOUND, b"ab")],
        )
        with self.assertRaises(AvlplusError):
            avlplus.decode_results(b"\x01\x01\x00\x02ab", max_value_len=1)


class Errors(unittest.TestCase):
    def test_versions_and_messages(self):
        self.assertEqual(avlplus.library_version().count("."), 2)
        self.assertEqual(avlplus.result_message(9999), "unknown result code")
        messages = {avlplus.result_message(c) for c in Code}
        self.assertEqual(len(messages), len(Code), "one message per code")

    def test_errors_carry_code_and_message(self):
        c, ops = honest("sha256", 2)
        with Verifier(Hash.SHA256) as v:
            with self.assertRaises(AvlplusError) as e:
                v.verify(c.root[:32], c.proof, ops)
            self.assertEqual(e.exception.code, Code.INVALID_ROOT)
            self.assertEqual(e.exception.message, avlplus.result_message(Code.INVALID_ROOT))
            self.assertIn("code 5", str(e.exception))
            wrong = bytes([c.root[0] ^ 1]) + c.root[1:]
            with self.assertRaises(AvlplusError) as e:
                v.verify(wrong, c.proof, ops)
            self.assertEqual(e.exception.code, Code.ROOT_MISMATCH)
            with self.assertRaises(AvlplusError) as e:
                v.verify(c.root, b"", ops)
            self.assertEqual(e.exception.code, Code.PROOF_TRUNCATED)
            # bytearray and memoryview are bytes too.
            got = v.verify(bytearray(c.root), memoryview(c.proof), ops)
            self.assertEqual(got.new_root, unhex(c.f[7]))
            with self.assertRaises(TypeError):
                v.verify("not bytes", c.proof, ops)
            self.assertEqual(v.limit(Limit.MAX_OPERATIONS), 1 << 20)
            size_max = (1 << (8 * avlplus.ctypes.sizeof(avlplus.ctypes.c_size_t))) - 1
            self.assertEqual(v.limit(Limit.MAX_MEMORY_BYTES), size_max, "no memory cap")
        with Verifier(Hash.BLAKE3) as v, self.assertRaises(AvlplusError) as e:
            v.verify(c.root, c.proof, ops)
        self.assertEqual(e.exception.code, Code.ROOT_MISMATCH)

    def test_limits_reach_the_library(self):
        c, _ = honest("sha256")
        four = [Operation.lookup(bytes([i])) for i in range(4)]
        with Verifier(Hash.SHA256, Preset.PHONE, {Limit.MAX_OPERATIONS: 3}) as v:
            self.assertEqual(v.limit(Limit.MAX_OPERATIONS), 3)
            self.assertEqual(v.limit(Limit.MAX_MEMORY_BYTES), 64 << 20)
            self.assertEqual(v.limit(Limit.MAX_PROOF_BYTES), 8 << 20)
            with self.assertRaises(AvlplusError) as e:
                v.verify(c.root, c.proof, four)
            self.assertEqual(e.exception.code, Code.WIRE_TOO_MANY_ITEMS)
        with Verifier(Hash.SHA256, Preset.PHONE) as v:
            self.assertEqual(v.limit(Limit.MAX_OPERATIONS), 65536)
        with self.assertRaises(ValueError):
            Verifier(Hash.SHA256, limits={Limit.MAX_DEPTH: -1})
        with self.assertRaises(ValueError):
            Verifier(7)
        with self.assertRaises(ValueError):
            Operation(avlplus.OpKind.INSERT, b"k")  # an insert needs a value


class Closing(unittest.TestCase):
    def test_close_twice_and_use_after_close(self):
        c, ops = honest("sha256")
        v = Verifier(Hash.SHA256)
        self.assertEqual(len(v.verify(c.root, c.proof, ops).results), len(ops))
        v.close()
        v.close()
        with self.assertRaises(ValueError):
            v.verify(c.root, c.proof, ops)
        with self.assertRaises(ValueError):
            v.verify_lookup(c.root, c.proof, b"")
        with self.assertRaises(ValueError):
            v.verify_value(c.root, c.proof, b"", None)
        with Verifier() as v:
            pass
        with self.assertRaises(ValueError):
            v.verify(c.root, c.proof, ops)

    def test_close_during_use(self):
        c, _ = honest("sha256")
        shared = Verifier(Hash.SHA256)
        wrong, refused = [], []

        def work():
            while True:
                try:
                    err = run_case(shared, c)
                except ValueError:
                    refused.append(1)
                    return
                if err is not None:
                    wrong.append(err)

        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.05)
        shared.close()
        for t in threads:
            t.join()
        self.assertEqual(wrong, [])
        self.assertEqual(len(refused), 2)


class Threads(unittest.TestCase):
    def test_two_threads_share_one_verifier(self):
        sha = [c for c in CASES if c.hash == "sha256"]
        rounds = 5
        errors, calls = [], [0, 0]
        with Verifier(Hash.SHA256) as shared:

            def work(t):
                start = t * len(sha) // 2  # the two threads walk the cases out of step
                for i in range(rounds * len(sha)):
                    c = sha[(start + i) % len(sha)]
                    err = run_case(shared, c)
                    if err is not None:
                        errors.append(f"{c.name}: {err}")
                    calls[t] += 1

            threads = [threading.Thread(target=work, args=(t,)) for t in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        self.assertEqual(calls, [rounds * len(sha)] * 2)


def wallet_cases():
    """A found lookup and an honest block from the same root: a wallet's two questions."""
    for lookup in CASES:
        if (lookup.kind, lookup.hash, lookup.f[6], lookup.f[7]) == ("lookup", "sha256", "0", "1"):
            for block in CASES:
                honest_block = (block.kind, block.hash, block.f[6]) == ("verify", "sha256", "0")
                if honest_block and block.root == lookup.root:
                    return lookup, block
    raise AssertionError("no lookup and block from one root")


class Wallet(unittest.TestCase):
    def test_the_example_of_docs_mobile_md(self):
        # ffi/tests/docs.rs checks the excerpt in docs/mobile.md against these lines.
        lookup, block = wallet_cases()
        trusted_root, balance_proof, account = lookup.root, lookup.proof, unhex(lookup.f[5])
        block_proof, operations = block.proof, avlplus.decode_operations(unhex(block.f[5]))

        with avlplus.Verifier(avlplus.Hash.SHA256, avlplus.Preset.PHONE) as v:
            balance = v.verify_lookup(trusted_root, balance_proof, account)  # None: absent
            new_root, results = v.verify(trusted_root, block_proof, operations)
        # failures raise avlplus.AvlplusError, with .code (an avlplus.Code) and .message

        self.assertEqual(balance, unhex(lookup.f[8]))
        self.assertEqual(new_root, unhex(block.f[7]))
        self.assertEqual(avlplus.encode_results(results), unhex(block.f[8]))


def bench(path, samples, reps):
    """Times Verifier.verify (operations as objects, results decoded: what an app calls) on
    each line: after warm-up samples, `samples` samples of `reps` calls; prints
    "bench python HASH objects median_ms=MS min_ms=MS" per line."""
    for c in read_cases(path):
        ops = avlplus.decode_operations(unhex(c.f[5]))
        new_root = unhex(c.f[7])
        with Verifier(Hash[c.hash.upper()]) as v:
            times = []
            for s in range(-2, samples):
                t0 = time.perf_counter()
                for _ in range(reps):
                    got = v.verify(c.root, c.proof, ops)
                if s >= 0:
                    times.append((time.perf_counter() - t0) * 1e3 / reps)
                assert got.new_root == new_root, "bench: wrong new root"
        times.sort()
        print(f"bench python {c.hash} objects median_ms={times[samples // 2]:.4f} min_ms={times[0]:.4f}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--bench":
        bench(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        unittest.main()
