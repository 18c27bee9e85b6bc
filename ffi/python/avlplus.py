"""avlplus light-client verifier for Python, over the C ABI of ``libavlplus_ffi`` (ctypes).

Verify a block of operations against a trusted root, or answer a wallet's lookup::

    import avlplus

    with avlplus.Verifier(avlplus.Hash.SHA256, avlplus.Preset.PHONE) as v:
        verified = v.verify(trusted_root, proof, [avlplus.Operation.lookup(b"alice")])
        balance = v.verify_lookup(trusted_root, lookup_proof, b"alice")  # bytes or None

The library is found at the ``library`` argument of :class:`Verifier`, else at the path in the
``AVLPLUS_LIB`` environment variable, else by the system's search for ``avlplus_ffi``.

Bytes in, bytes out: keys, values, roots and proofs are ``bytes`` (``bytearray`` and
``memoryview`` are accepted and copied). Operations and results cross the library wire-encoded
(docs/wire-format.md); the encoding is written here in Python, and decoding is bounded as the
format's §4 requires, since the bytes come from outside this module.

A :class:`Verifier` is thread-safe: its native handle is immutable, and ctypes releases the GIL
during each call, so threads sharing one verifier verify in parallel. ``close()`` waits for
calls in progress; calling it again does nothing; a call after it raises ``ValueError``. A
verifier that is garbage-collected unclosed frees its handle then.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import enum
import os
import threading
from dataclasses import dataclass
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Union

__all__ = [
    "ABI_VERSION",
    "ROOT_LEN",
    "AvlplusError",
    "Code",
    "Hash",
    "Preset",
    "Limit",
    "OpKind",
    "Operation",
    "ResultKind",
    "OpResult",
    "Verified",
    "Verifier",
    "encode_operations",
    "decode_operations",
    "encode_results",
    "decode_results",
    "result_message",
    "library_version",
]

ABI_VERSION = 1
"""The ABI this module is written for (``AVLPLUS_ABI_VERSION``)."""

ROOT_LEN = 33
"""Length in bytes of a root digest: a 32-byte label, then the height."""

WIRE_VERSION = 1

Buffer = Union[bytes, bytearray, memoryview]


class Code(enum.IntEnum):
    """The library's result codes (``avlplus_result``)."""

    OK = 0
    NULL_PARAMETER = 1
    INSUFFICIENT_SIZE = 2
    PANIC = 3
    INVALID_PARAMETER = 4
    INVALID_ROOT = 5
    VALUE_MISMATCH = 6
    UNEXPECTED_ERROR = 7
    TOO_MANY_OPERATIONS = 100
    OPERATION_KEY_TOO_LONG = 101
    OPERATION_VALUE_TOO_LONG = 102
    ROOT_MISMATCH = 103
    HEIGHT_MISMATCH = 104
    INCOMPLETE = 105
    VALUE_WITHHELD = 106
    WRONG_LEAF = 107
    DIRECTIONS_EXHAUSTED = 108
    UNUSED_DIRECTIONS = 109
    MALFORMED = 110
    PROOF_TOO_LONG = 200
    PROOF_TRUNCATED = 201
    PROOF_UNSUPPORTED_VERSION = 202
    PROOF_BAD_VARINT = 203
    PROOF_TOO_MANY_NODES = 204
    PROOF_TOO_MUCH_MEMORY = 205
    PROOF_MALFORMED_SHAPE = 206
    PROOF_TOO_DEEP = 207
    PROOF_KEY_TOO_LONG = 208
    PROOF_VALUE_TOO_LONG = 209
    PROOF_NON_ZERO_PADDING = 210
    PROOF_NON_CANONICAL_WIDTH = 211
    PROOF_UNORDERED_LEAVES = 212
    WIRE_TRUNCATED = 300
    WIRE_UNSUPPORTED_VERSION = 301
    WIRE_BAD_VARINT = 302
    WIRE_TOO_MANY_ITEMS = 303
    WIRE_COUNT_EXCEEDS_INPUT = 304
    WIRE_BAD_TAG = 305
    WIRE_KEY_TOO_LONG = 306
    WIRE_VALUE_TOO_LONG = 307
    WIRE_TRAILING_BYTES = 308


class AvlplusError(Exception):
    """A call failed: ``code`` is the library's result code (an ``int``; compare it with
    :class:`Code`; a newer library may return one this module does not name), ``message`` the
    library's message for it (or, for a wire decoding error, this module's)."""

    def __init__(self, code: int, message: str):
        super().__init__(code, message)
        self.code = int(code)
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} (code {self.code})"


class Hash(enum.IntEnum):
    """The tree's hash function; a verifier must use the prover's."""

    SHA256 = 1
    BLAKE3 = 2


class Preset(enum.IntEnum):
    """The limits a verifier starts from."""

    DEFAULT = 0
    """64 MiB proofs, 2^20 operations, depth 96, 1 KiB keys, 64 KiB values, no memory cap."""
    PHONE = 1
    """At most 64 MiB of memory per verification, 8 MiB proofs, 65 536 operations."""


class Limit(enum.IntEnum):
    """The fields of a verifier's limits (``avlplus_limit``)."""

    MAX_PROOF_BYTES = 0
    MAX_OPERATIONS = 1
    MAX_DEPTH = 2
    MAX_MEMORY_BYTES = 3
    MAX_KEY_LEN = 4
    """Must equal the prover's."""
    MAX_VALUE_LEN = 5
    """Must equal the prover's."""


# ---------------------------------------------------------------------------------------------
# Operations and results.


class OpKind(enum.IntEnum):
    """The kinds of operation; the values are the wire tags (docs/wire-format.md §2)."""

    LOOKUP = 0
    INSERT = 1
    UPDATE = 2
    UPSERT = 3
    REMOVE = 4
    REMOVE_IF_PRESENT = 5


_WITH_VALUE = frozenset({OpKind.INSERT, OpKind.UPDATE, OpKind.UPSERT})


@dataclass(frozen=True)
class Operation:
    """One operation of a batch. ``value`` is ``None`` exactly for lookups and removes. Build
    them with the class methods: ``Operation.insert(b"alice", b"100")``."""

    kind: OpKind
    key: bytes
    value: Optional[bytes] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", OpKind(self.kind))
        object.__setattr__(self, "key", _bytes(self.key, "key"))
        if (self.kind in _WITH_VALUE) != (self.value is not None):
            need = "needs a value" if self.kind in _WITH_VALUE else "takes no value"
            raise ValueError(f"{self.kind.name} {need}")
        if self.value is not None:
            object.__setattr__(self, "value", _bytes(self.value, "value"))

    @classmethod
    def lookup(cls, key: Buffer) -> "Operation":
        return cls(OpKind.LOOKUP, key)

    @classmethod
    def insert(cls, key: Buffer, value: Buffer) -> "Operation":
        return cls(OpKind.INSERT, key, value)

    @classmethod
    def update(cls, key: Buffer, value: Buffer) -> "Operation":
        return cls(OpKind.UPDATE, key, value)

    @classmethod
    def upsert(cls, key: Buffer, value: Buffer) -> "Operation":
        return cls(OpKind.UPSERT, key, value)

    @classmethod
    def remove(cls, key: Buffer) -> "Operation":
        return cls(OpKind.REMOVE, key)

    @classmethod
    def remove_if_present(cls, key: Buffer) -> "Operation":
        return cls(OpKind.REMOVE_IF_PRESENT, key)


class ResultKind(enum.IntEnum):
    """The kinds of result; the values are the wire tags (docs/wire-format.md §3)."""

    FOUND = 0
    NOT_FOUND = 1
    INSERTED = 2
    UPDATED = 3
    REMOVED = 4
    KEY_EXISTS = 5
    """Failure: an insert of a present key (the operation changed nothing)."""
    KEY_MISSING = 6
    """Failure: an update or remove of an absent key (the operation changed nothing)."""


@dataclass(frozen=True)
class OpResult:
    """The result of one operation; ``value`` is the value found, ``None`` unless FOUND."""

    kind: ResultKind
    value: Optional[bytes] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ResultKind(self.kind))
        if (self.kind == ResultKind.FOUND) != (self.value is not None):
            raise ValueError("a FOUND result, and only it, has a value")
        if self.value is not None:
            object.__setattr__(self, "value", _bytes(self.value, "value"))

    @property
    def is_failure(self) -> bool:
        return self.kind in (ResultKind.KEY_EXISTS, ResultKind.KEY_MISSING)


class Verified(NamedTuple):
    """A verified block: the root after it, and one result per operation, in order."""

    new_root: bytes
    results: List[OpResult]


def _bytes(b: Buffer, what: str) -> bytes:
    if isinstance(b, bytes):
        return b
    if isinstance(b, (bytearray, memoryview)):
        return bytes(b)
    raise TypeError(f"{what} must be bytes, not {type(b).__name__}")


# ---------------------------------------------------------------------------------------------
# The wire format (docs/wire-format.md, version 1).


def _varint(out: bytearray, v: int) -> None:
    while v > 0x7F:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def encode_operations(operations: Sequence[Operation]) -> bytes:
    """The one encoding of ``operations``."""
    out = bytearray([WIRE_VERSION])
    _varint(out, len(operations))
    for op in operations:
        if not isinstance(op, Operation):
            raise TypeError(f"not an Operation: {op!r}")
        out.append(op.kind)
        _varint(out, len(op.key))
        out += op.key
        if op.value is not None:
            _varint(out, len(op.value))
            out += op.value
    return bytes(out)


def encode_results(results: Sequence[OpResult]) -> bytes:
    """The one encoding of ``results``."""
    out = bytearray([WIRE_VERSION])
    _varint(out, len(results))
    for r in results:
        if not isinstance(r, OpResult):
            raise TypeError(f"not an OpResult: {r!r}")
        out.append(r.kind)
        if r.value is not None:
            _varint(out, len(r.value))
            out += r.value
    return bytes(out)


class _Reader:
    """A cursor over untrusted bytes: every read is bounds-checked and fails with a wire code."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, end: int):
        self.data = data
        self.pos = 0
        self.end = end

    def remaining(self) -> int:
        return self.end - self.pos

    def u8(self) -> int:
        if self.pos >= self.end:
            raise AvlplusError(Code.WIRE_TRUNCATED, "wire: the bytes end early")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        """Unsigned LEB128, shortest form, at most 10 bytes and 64 bits."""
        value = 0
        for i in range(10):
            b = self.u8()
            low = b & 0x7F
            if i == 9 and low > 1:
                raise _bad_varint()
            value |= low << (7 * i)
            if not b & 0x80:
                if i > 0 and b == 0:
                    raise _bad_varint()  # not shortest form: a last group of zero
                return value
        raise _bad_varint()  # a tenth byte with the high bit set

    def header(self, max_count: int, min_item: int) -> int:
        version = self.u8()
        if version != WIRE_VERSION:
            raise AvlplusError(
                Code.WIRE_UNSUPPORTED_VERSION, f"wire: unsupported version {version}"
            )
        count = self.varint()
        if count > max_count:
            raise AvlplusError(Code.WIRE_TOO_MANY_ITEMS, "wire: more items than the limit")
        if count > self.remaining() // min_item:
            raise AvlplusError(Code.WIRE_COUNT_EXCEEDS_INPUT, "wire: item count exceeds the input")
        return count

    def prefixed(self, max_len: int, index: int, over: Code) -> bytes:
        n = self.varint()
        if n > max_len:
            what = "key" if over == Code.WIRE_KEY_TOO_LONG else "value"
            raise AvlplusError(over, f"wire: item {index}: {what} too long")
        if n > self.remaining():
            raise AvlplusError(Code.WIRE_TRUNCATED, "wire: the bytes end early")
        b = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return b

    def finish(self) -> None:
        if self.pos != self.end:
            raise AvlplusError(Code.WIRE_TRAILING_BYTES, "wire: bytes follow the last item")


def _bad_varint() -> AvlplusError:
    return AvlplusError(Code.WIRE_BAD_VARINT, "wire: varint too long or not in shortest form")


def _bad_tag(index: int, tag: int) -> AvlplusError:
    return AvlplusError(Code.WIRE_BAD_TAG, f"wire: item {index} has the undefined tag {tag}")


def _found(value: bytes) -> OpResult:
    """A FOUND result of decoded bytes, valid by construction: skips ``__post_init__``'s checks
    (a third of the decoding time of a block of lookups)."""
    r = object.__new__(OpResult)
    object.__setattr__(r, "kind", ResultKind.FOUND)
    object.__setattr__(r, "value", value)
    return r


_OP_KINDS = {k.value: k for k in OpKind}
_VALUELESS_BY_TAG = {k.value: OpResult(k) for k in ResultKind if k != ResultKind.FOUND}


def decode_operations(
    data: Buffer, max_count: int = 1 << 20, max_key_len: int = 1024, max_value_len: int = 65536
) -> List[Operation]:
    """Decodes a list of operations (defaults: the library's default limits). Raises
    :class:`AvlplusError` with a ``WIRE_*`` code if ``data`` is not one."""
    data = _bytes(data, "data")
    r = _Reader(data, len(data))
    count = r.header(max_count, 2)
    ops = []
    for index in range(count):
        tag = r.u8()
        kind = _OP_KINDS.get(tag)
        if kind is None:
            raise _bad_tag(index, tag)
        key = r.prefixed(max_key_len, index, Code.WIRE_KEY_TOO_LONG)
        value = None
        if kind in _WITH_VALUE:
            value = r.prefixed(max_value_len, index, Code.WIRE_VALUE_TOO_LONG)
        ops.append(Operation(kind, key, value))
    r.finish()
    return ops


def decode_results(
    data: Buffer, max_count: int = 1 << 20, max_value_len: int = 65536
) -> List[OpResult]:
    """Decodes a list of results (defaults: the library's default limits). Raises
    :class:`AvlplusError` with a ``WIRE_*`` code if ``data`` is not one."""
    data = _bytes(data, "data")
    return _decode_results(data, len(data), max_count, max_value_len)


def _decode_results(data: bytes, end: int, max_count: int, max_value_len: int) -> List[OpResult]:
    r = _Reader(data, end)
    count = r.header(max_count, 1)
    results = []
    for index in range(count):
        tag = r.u8()
        if tag == 0:  # ResultKind.FOUND, as a plain int: IntEnum comparisons are slow
            value = r.prefixed(max_value_len, index, Code.WIRE_VALUE_TOO_LONG)
            results.append(_found(value))
        else:
            result = _VALUELESS_BY_TAG.get(tag)
            if result is None:
                raise _bad_tag(index, tag)
            results.append(result)
    r.finish()
    return results


# ---------------------------------------------------------------------------------------------
# The C ABI (ffi/include/avlplus.h).


class _Limits(ctypes.Structure):
    """``struct avlplus_limits``: opaque."""


class _Verifier(ctypes.Structure):
    """``struct avlplus_verifier``: opaque."""


_u8p = ctypes.POINTER(ctypes.c_ubyte)  # uint8_t * (outputs)
_in = ctypes.c_char_p  # const uint8_t * (inputs: bytes pass without a copy; None is NULL)
_size = ctypes.c_size_t
_sizep = ctypes.POINTER(ctypes.c_size_t)
_result = ctypes.c_uint32

_SIGNATURES = {
    "avlplus_abi_version": (ctypes.c_uint32, []),
    "avlplus_version": (ctypes.c_char_p, []),
    "avlplus_limits_new": (_result, [ctypes.c_uint32, ctypes.POINTER(ctypes.POINTER(_Limits))]),
    "avlplus_limits_set": (_result, [ctypes.POINTER(_Limits), ctypes.c_uint32, _size]),
    "avlplus_limits_get": (_result, [ctypes.POINTER(_Limits), ctypes.c_uint32, _sizep]),
    "avlplus_limits_free": (None, [ctypes.POINTER(_Limits)]),
    "avlplus_result_message": (ctypes.c_char_p, [ctypes.c_uint32]),
    "avlplus_verifier_new": (
        _result,
        [ctypes.c_uint32, ctypes.POINTER(_Limits), ctypes.POINTER(ctypes.POINTER(_Verifier))],
    ),
    "avlplus_verifier_free": (None, [ctypes.POINTER(_Verifier)]),
    "avlplus_verify": (
        _result,
        [ctypes.POINTER(_Verifier), _in, _size, _in, _size, _in, _size]
        + [_u8p, _size, _sizep, _u8p, _size, _sizep],
    ),
    "avlplus_verify_lookup": (
        _result,
        [ctypes.POINTER(_Verifier), _in, _size, _in, _size, _in, _size]
        + [ctypes.POINTER(ctypes.c_bool), _u8p, _size, _sizep],
    ),
    "avlplus_verify_value": (
        _result,
        [ctypes.POINTER(_Verifier), _in, _size, _in, _size, _in, _size, _in, _size],
    ),
}

_libraries: Dict[str, ctypes.CDLL] = {}
_libraries_lock = threading.Lock()


def _load(path: Optional[str] = None) -> ctypes.CDLL:
    """The library at ``path``, ``$AVLPLUS_LIB``, or found by name; loaded and typed once."""
    path = path or os.environ.get("AVLPLUS_LIB") or ctypes.util.find_library("avlplus_ffi")
    if not path:
        raise OSError("libavlplus_ffi not found: pass library= or set AVLPLUS_LIB")
    with _libraries_lock:
        lib = _libraries.get(path)
        if lib is None:
            lib = ctypes.CDLL(path)
            for name, (restype, argtypes) in _SIGNATURES.items():
                fn = getattr(lib, name)
                fn.restype = restype
                fn.argtypes = argtypes
            abi = lib.avlplus_abi_version()
            if abi != ABI_VERSION:
                raise OSError(f"{path} has ABI version {abi}, this module needs {ABI_VERSION}")
            _libraries[path] = lib
        return lib


def result_message(code: int, library: Optional[str] = None) -> str:
    """The library's message for result code ``code``."""
    return _load(library).avlplus_result_message(code).decode("utf-8", "replace")


def library_version(library: Optional[str] = None) -> str:
    """The loaded library's version, e.g. ``"0.1.0"``."""
    return _load(library).avlplus_version().decode("ascii", "replace")


def _unexpected(what: str) -> AvlplusError:
    return AvlplusError(Code.UNEXPECTED_ERROR, what)


def _error(lib: ctypes.CDLL, code: int) -> AvlplusError:
    return AvlplusError(code, lib.avlplus_result_message(code).decode("utf-8", "replace"))


# First guesses for output buffers; a longer output costs one more call (the library says how
# much it needs).
_LOOKUP_VALUE_CAPACITY = 256
_RESULT_VALUE_GUESS = 64


class Verifier:
    """A light-client verifier: a hash and limits, over the library's handle.

    ``Verifier(hash=Hash.SHA256, preset=Preset.DEFAULT, limits=None, library=None)``:
    ``limits`` maps :class:`Limit` fields to values overriding the preset's; ``library`` is the
    path of ``libavlplus_ffi`` (default: ``$AVLPLUS_LIB``, then the system's search).

    Use it as a context manager, or call :meth:`close`. Thread-safe (see the module's doc).
    """

    # Test hook: start each call with empty output buffers, so that every output goes through
    # the library's insufficient-size answer and the retry.
    _minimal_buffers = False

    def __init__(
        self,
        hash: Hash = Hash.SHA256,
        preset: Preset = Preset.DEFAULT,
        limits: Optional[Mapping[Limit, int]] = None,
        library: Optional[str] = None,
    ):
        self._lib = lib = _load(library)
        self._hash = Hash(hash)
        self._cond = threading.Condition()
        self._calls = 0  # calls in progress; guarded by _cond
        self._handle = None
        raw = ctypes.POINTER(_Limits)()
        code = lib.avlplus_limits_new(Preset(preset), ctypes.byref(raw))
        if code != Code.OK:
            raise _error(lib, code)
        try:
            for field, value in (limits or {}).items():
                field = Limit(field)
                if not isinstance(value, int) or value < 0:
                    raise ValueError(f"{field.name} must be a non-negative int, not {value!r}")
                # Saturate to SIZE_MAX: "more than the platform can hold" is no limit.
                value = min(value, (1 << (8 * ctypes.sizeof(_size))) - 1)
                code = lib.avlplus_limits_set(raw, field, value)
                if code != Code.OK:
                    raise _error(lib, code)
            self._limits = {}
            for field in Limit:
                v = _size()
                code = lib.avlplus_limits_get(raw, field, ctypes.byref(v))
                if code != Code.OK:
                    raise _error(lib, code)
                self._limits[field] = v.value
            handle = ctypes.POINTER(_Verifier)()
            code = lib.avlplus_verifier_new(self._hash, raw, ctypes.byref(handle))
            if code != Code.OK:
                raise _error(lib, code)
            self._handle = handle
        finally:
            lib.avlplus_limits_free(raw)  # the verifier keeps its own copy

    @property
    def hash(self) -> Hash:
        return self._hash

    def limit(self, field: Limit) -> int:
        """The value of one of this verifier's limits (the preset's, or the override)."""
        return self._limits[Limit(field)]

    # -- the handle's life ---------------------------------------------------------------------

    def _enter(self):
        with self._cond:
            if self._handle is None:
                raise ValueError("the verifier is closed")
            self._calls += 1
            return self._handle

    def _leave(self) -> None:
        with self._cond:
            self._calls -= 1
            if self._calls == 0:
                self._cond.notify_all()

    def close(self) -> None:
        """Frees the native handle, after the calls in progress. Calling it again does nothing."""
        with self._cond:
            # Refuse new calls first, then wait for those in progress: waiting for a moment
            # with no call in progress could wait for ever on a busy verifier.
            handle, self._handle = self._handle, None
            while self._calls:
                self._cond.wait()
        if handle is not None:
            self._lib.avlplus_verifier_free(handle)

    def __enter__(self) -> "Verifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        # A verifier dropped without close(): free its handle. No call can be in progress (a
        # call holds a reference to self), and at interpreter exit the library may be gone.
        handle = getattr(self, "_handle", None)
        if handle is not None:
            self._handle = None
            try:
                self._lib.avlplus_verifier_free(handle)
            except Exception:
                pass

    # -- verification --------------------------------------------------------------------------

    def verify(self, root: Buffer, proof: Buffer, operations: Sequence[Operation]) -> Verified:
        """Verifies a block: replays ``operations`` on ``proof`` against the trusted ``root``.
        Returns the new root and one :class:`OpResult` per operation; raises
        :class:`AvlplusError` if the proof does not verify. Failed operations (an insert of a
        present key...) are results, not errors."""
        root, proof = _bytes(root, "root"), _bytes(proof, "proof")
        ops = encode_operations(operations)
        if self._minimal_buffers:
            capacity = 0
        else:
            lookups = sum(1 for op in operations if op.kind == OpKind.LOOKUP)
            capacity = 11 + len(operations) + lookups * (2 + _RESULT_VALUE_GUESS)
        # The longest results this block could have: a tag, a length and a value each.
        bound = 11 + len(operations) * (11 + self._limits[Limit.MAX_VALUE_LEN])
        lib = self._lib
        new_root = (ctypes.c_ubyte * ROOT_LEN)()
        root_needed, results_needed = _size(), _size()
        handle = self._enter()
        try:
            for attempt in range(2):  # the size asked for is exact: one retry
                results = (ctypes.c_ubyte * capacity)()
                code = lib.avlplus_verify(
                    handle, root, len(root), proof, len(proof), ops, len(ops),
                    new_root, ROOT_LEN, ctypes.byref(root_needed),
                    results, capacity, ctypes.byref(results_needed),
                )  # fmt: skip
                n = results_needed.value
                if code == Code.OK:
                    if root_needed.value != ROOT_LEN or n > capacity:
                        raise _unexpected("the library reported sizes it was not given")
                    break
                # The size asked for is exact (the encoding of this block's results), so the
                # one retry succeeds; a second refusal, or a size that is not larger or more
                # than any results of this block could take, is raised rather than looped on.
                if (
                    code == Code.INSUFFICIENT_SIZE
                    and attempt == 0
                    and root_needed.value == ROOT_LEN
                    and capacity < n <= bound
                ):
                    capacity = n
                    continue
                raise _error(lib, code)
        finally:
            self._leave()
        try:
            encoded = ctypes.string_at(results, n)
            max_value = self._limits[Limit.MAX_VALUE_LEN]
            decoded = _decode_results(encoded, n, len(operations), max_value)
        except AvlplusError as e:
            raise _unexpected(f"the library's results do not decode: {e.message}") from e
        if len(decoded) != len(operations):
            raise _unexpected(f"{len(decoded)} results for {len(operations)} operations")
        return Verified(bytes(new_root), decoded)

    def verify_lookup(self, root: Buffer, proof: Buffer, key: Buffer) -> Optional[bytes]:
        """The wallet's question: is ``key`` present under the trusted ``root``, with which
        value? ``proof`` must be the proof of the one-operation batch ``lookup(key)``. Returns
        the value, or ``None`` if the proof shows the key absent; raises
        :class:`AvlplusError` if the proof does not verify."""
        root, proof, key = _bytes(root, "root"), _bytes(proof, "proof"), _bytes(key, "key")
        capacity = 0 if self._minimal_buffers else _LOOKUP_VALUE_CAPACITY
        max_value = self._limits[Limit.MAX_VALUE_LEN]
        lib = self._lib
        found, needed = ctypes.c_bool(), _size()
        handle = self._enter()
        try:
            for attempt in range(2):  # the size asked for is exact: one retry
                value = (ctypes.c_ubyte * capacity)()
                code = lib.avlplus_verify_lookup(
                    handle, root, len(root), proof, len(proof), key, len(key),
                    ctypes.byref(found), value, capacity, ctypes.byref(needed),
                )  # fmt: skip
                n = needed.value
                if code == Code.OK:
                    if not found.value:
                        return None
                    if n > capacity:
                        raise _unexpected("the library reported a value longer than its buffer")
                    return ctypes.string_at(value, n)
                if code == Code.INSUFFICIENT_SIZE and attempt == 0 and capacity < n <= max_value:
                    capacity = n
                    continue
                raise _error(lib, code)
        finally:
            self._leave()

    def verify_value(
        self, root: Buffer, proof: Buffer, key: Buffer, expected: Optional[Buffer]
    ) -> bool:
        """The wallet's check: under the trusted ``root``, does ``key`` have exactly the value
        ``expected`` (``b""`` is the empty value), or, if ``expected`` is ``None``, is it
        absent? ``proof`` must be the proof of ``lookup(key)``. Returns ``False`` if the proof
        is valid but says otherwise; raises :class:`AvlplusError` if it does not verify."""
        root, proof, key = _bytes(root, "root"), _bytes(proof, "proof"), _bytes(key, "key")
        # None is NULL (absent); b"" is a non-NULL pointer with length 0 (the empty value).
        e = None if expected is None else _bytes(expected, "expected")
        handle = self._enter()
        try:
            code = self._lib.avlplus_verify_value(
                handle, root, len(root), proof, len(proof), key, len(key),
                e, 0 if e is None else len(e),
            )  # fmt: skip
        finally:
            self._leave()
        if code == Code.OK:
            return True
        if code == Code.VALUE_MISMATCH:
            return False
        raise _error(self._lib, code)
