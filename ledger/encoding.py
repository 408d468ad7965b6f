"""Canonical bytes: the one encoding of everything tradeledger hashes or signs.

The encoding is RFC 8785 (JSON Canonicalization Scheme), restricted to a data model with no
floating-point numbers: strings, booleans, null, integers in the IEEE-754 safe range
(|n| < 2**53), lists and objects with string keys (any Unicode text). Money and quantities travel
as decimal strings. :func:`canonical_bytes` checks the model and uses the maintained ``rfc8785``
package, the reference. In the model RFC 8785 is Python's compact ``json.dumps(ensure_ascii=False)``
with object keys sorted by UTF-16 code units (RFC 8785 §3.2.3), which :func:`fast_canonical_bytes`
produces at C speed for hot paths (replay's canonicity check, :func:`parse_canonical`).
``sort_keys`` sorts by code point instead; the two orders differ only where one key holds a
character beyond U+FFFF and another one in U+E000-U+FFFF, so only output holding such a key and
such a character pays for re-sorting. ``tests/ledger/test_rfc8785.py`` holds every encoder
equal to ``rfc8785`` on generated values over all of Unicode; ``tests/ledger/test_peer_vectors.py``
runs the JCS author's test data.

Two limits keep bad input from reaching the interpreter's own failures: a string or key may
not hold a lone surrogate (it has no UTF-8 form; ``\\ud800`` is valid JSON all the same), and
values nest at most :data:`MAX_DEPTH` lists and objects deep (the ledger's own objects nest five
deep; deeper input would otherwise end in a RecursionError). Both are refused with
:class:`~ledger.errors.EncodingError`, located by a JSON pointer.

Every object type that is hashed or signed has its own domain-separation tag (:class:`Tag`),
prefixed to the canonical bytes so that the bytes of one type can never be taken for another.
``docs/ledger-format.md`` is the specification.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import operator
import re
from enum import Enum
from typing import Any

import rfc8785

from ledger.errors import EncodingError

MAX_SAFE_INTEGER = 2**53 - 1
#: Lists and objects nested deeper than this are outside the model (docs/ledger-format.md §1).
MAX_DEPTH = 64
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
#: The only way JSON text can carry a surrogate: a \\uD800-\\uDFFF escape (UTF-8 cannot).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
#: A JSON string (skipped when counting depth) or a bracket.
_STRING_OR_BRACKET = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_LOWER_HEX = re.compile(r"[0-9a-f]*")
#: The rest of a JSON string from a byte inside it (not in an escape) through its closing quote.
_REST_OF_STRING = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
#: UTF-8 lead bytes of the characters beyond U+FFFF.
_BEYOND_BMP_LEADS = (b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4")


class Tag(bytes, Enum):
    """Domain-separation tags, one per hashed or signed object type (each ends in a newline)."""

    ENTRY_SIGNATURE = b"tradeledger/v1/entry-signature\n"
    ENTRY_LEAF = b"tradeledger/v1/entry\n"
    BLOCK_HEADER = b"tradeledger/v1/block-header\n"
    CONSORTIUM = b"tradeledger/v1/consortium\n"
    DOCUMENT = b"tradeledger/v1/document\n"
    DETERMINATION = b"tradeledger/v1/origin-determination\n"
    STATUS_KEY = b"tradeledger/v1/status-key\n"
    STATUS_STATE = b"tradeledger/v1/status-state\n"
    STATUS_LEAF = b"tradeledger/v1/status-leaf\n"
    STATUS_NODE = b"tradeledger/v1/status-node\n"
    STATUS_EVENTS = b"tradeledger/v1/status-events\n"


def _pointer_token(key: str) -> str:
    """``key`` as one JSON-pointer reference token (RFC 6901), printable even if it is bad."""
    token = key.replace("~", "~0").replace("/", "~1")
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", token)


#: Where :func:`_check_model` is: a JSON pointer, or (where, list index or object key) below it.
#: The pointer is spelled out only for a refusal, so a value in the model pays a tuple per step.
_Where = str | tuple[Any, int | str]


def _pointer(where: _Where) -> str:
    steps: list[str] = []
    while isinstance(where, tuple):
        where, step = where
        steps.append(str(step) if isinstance(step, int) else _pointer_token(step))
    return where + "".join(f"/{step}" for step in reversed(steps))


def _check_model(value: Any, path: _Where, depth: int = 0) -> None:
    # isascii() is O(1) on str, and a lone surrogate is not ASCII: ASCII text skips the search
    if isinstance(value, str):
        if not value.isascii() and _LONE_SURROGATE.search(value):
            raise EncodingError(
                "a string holds a lone surrogate (not Unicode text)", location=_pointer(path)
            )
        return
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise EncodingError(
                f"integer {value} is outside the safe range", location=_pointer(path)
            )
        return
    if isinstance(value, float):
        raise EncodingError(
            "floating-point numbers are not part of the canonical data model; "
            "write amounts as decimal strings",
            location=_pointer(path),
        )
    if isinstance(value, (list, tuple, dict)) and depth >= MAX_DEPTH:
        raise EncodingError(
            f"values nest more than {MAX_DEPTH} deep", location=_pointer(path) or "/"
        )
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_model(item, (path, i), depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EncodingError(f"object key {key!r} is not a string", location=_pointer(path))
            where = (path, key)
            if not key.isascii() and _LONE_SURROGATE.search(key):
                raise EncodingError(
                    "a key holds a lone surrogate (not Unicode text)", location=_pointer(where)
                )
            _check_model(item, where, depth + 1)
        return
    raise EncodingError(f"{type(value).__name__} cannot be encoded", location=_pointer(path))


def canonical_bytes(value: Any) -> bytes:
    """RFC 8785 canonical JSON of ``value``; raises :class:`EncodingError` outside the model."""
    _check_model(value, "")
    return bytes(rfc8785.dumps(value))


def _refuse_default(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps's own C encoder, built once with dumps's settings below but without the check for
# reference cycles, for values parse_json returned (a tree: no cycle to find). Building the
# encoder is half of what dumps costs for an entry's signed object, which replay encodes once
# per entry. None where the C accelerator is missing.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_TREE_ENCODER = (
    _c_make_encoder(
        None, _refuse_default, json.encoder.encode_basestring, None, ":", ",", True, False, True
    )
    if _c_make_encoder is not None
    else None
)


def fast_canonical_bytes(value: Any, *, parsed: bool = False) -> bytes:
    """Same bytes as :func:`canonical_bytes` for values already known to be in the model.

    Used on hot paths (replay) where ``value`` came from parsing bytes we then compare. A lone
    surrogate or nesting beyond :data:`MAX_DEPTH` is still refused with :class:`EncodingError`
    (found after the fact, so the common case costs two counts of the output). ``parsed`` says
    that ``value`` is what :func:`parse_json` returned, which cannot hold a reference cycle.
    """
    try:
        if parsed and _TREE_ENCODER is not None and not isinstance(value, str):
            text = "".join(_TREE_ENCODER(value, 0))
        else:
            text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        data = text.encode()
    except (UnicodeEncodeError, RecursionError):
        _check_model(value, "")  # locates the surrogate or the depth; raises EncodingError
        raise  # pragma: no cover - _check_model raised for every case that gets here
    if _too_deep_at(data) is not None:
        _check_model(value, "")  # raises EncodingError at the too-deep value's pointer
    # sort_keys ordered keys by code point, RFC 8785 §3.2.3 by UTF-16 code units. isascii() is
    # O(1) on str, so ASCII output (all the ledger's own keys and values) pays nothing.
    if not text.isascii() and _orders_may_differ(data):
        try:
            reordered = _in_utf16_key_order(value)
        except AttributeError:  # a key that is not a string (json.dumps coerced it to one)
            _check_model(value, "")  # raises EncodingError at that object's pointer
            raise  # pragma: no cover - _check_model raised for every case that gets here
        data = json.dumps(reordered, separators=(",", ":"), ensure_ascii=False).encode()
    return data


def _orders_may_differ(data: bytes) -> bool:
    """Whether code-point and UTF-16 order could sort two keys of the JSON text ``data`` apart.

    Two keys compare at their first differing character. Where one holds a character beyond
    U+FFFF (UTF-16: a leading surrogate, D800-DBFF) and the other one in U+E000-U+FFFF, UTF-16
    puts the first before and code points put it after; at every other pair the orders agree.
    So they can differ only if ``data`` holds a character in U+E000-U+FFFF and a key holds one
    beyond U+FFFF. Both are found by their UTF-8 lead bytes (EE-EF, F0-F4; never continuation
    bytes) with ``find``, a memchr-speed scan: a regular expression over the whole text costs a
    third as much again as the encoding, and re-sorting four times as much.
    """
    if b"\xee" not in data and b"\xef" not in data:
        return False
    for lead in _BEYOND_BMP_LEADS:
        at = data.find(lead)
        while at != -1:
            # JSON's structure is ASCII, so the byte is inside a string, outside an escape; the
            # string ends at the next unescaped quote, and a key's is followed by ":".
            rest = _REST_OF_STRING.match(data, at)
            if rest is None or data[rest.end() : rest.end() + 1] == b":":
                return True
            at = data.find(lead, rest.end())
    return False


#: Big-endian UTF-16 compares byte by byte as RFC 8785 §3.2.3 compares code units
#: (a C-level callable: a Python function per key costs a third of the re-sort).
_UTF16_SORT_KEY = operator.methodcaller("encode", "utf-16-be")
_CONTAINERS = (dict, list, tuple)


def _in_utf16_key_order(value: Any) -> Any:
    """A copy of ``value`` whose objects list their keys in RFC 8785 order (for ``json.dumps``
    without ``sort_keys``, which keeps insertion order). Called only once ``value`` is known to
    encode, so it holds no lone surrogate and nests at most :data:`MAX_DEPTH` deep. Scalars are
    not passed to a call of their own: most of a document is scalars."""
    if isinstance(value, dict):
        return {
            key: _in_utf16_key_order(value[key])
            if isinstance(value[key], _CONTAINERS)
            else value[key]
            for key in sorted(value, key=_UTF16_SORT_KEY)
        }
    if isinstance(value, (list, tuple)):
        return [
            _in_utf16_key_order(item) if isinstance(item, _CONTAINERS) else item for item in value
        ]
    return value


def _too_deep_at(data: bytes) -> int | None:
    """The offset of the first bracket nesting deeper than :data:`MAX_DEPTH` in JSON text."""
    if data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return None  # too few brackets to be too deep: the usual case, at C speed
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                return match.start()
        elif token in (b"]", b"}"):
            depth -= 1
    return None


def _no_float(text: str) -> Any:
    raise EncodingError(f"the number {text} is not an integer; the canonical model has no floats")


def _safe_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise EncodingError(f"integer {text} is outside the safe range")
    return value


_DECODER = json.JSONDecoder(parse_float=_no_float, parse_int=_safe_int, parse_constant=_no_float)


def parse_json(data: bytes, what: str = "object") -> Any:
    """Parse JSON within the canonical data model (no floats, NaN or unsafe integers, no lone
    surrogates, nesting at most :data:`MAX_DEPTH` deep)."""
    try:
        too_deep = _too_deep_at(data)  # before decoding, which recurses as deep as the input
        if too_deep is not None:
            line = data.count(b"\n", 0, too_deep) + 1
            column = too_deep - data.rfind(b"\n", 0, too_deep)
            raise EncodingError(
                f"values nest more than {MAX_DEPTH} deep",
                location=f"line {line}, column {column}",
            )
        value = _DECODER.decode(data.decode("utf-8"))
        if _SURROGATE_ESCAPE.search(data):  # only escapes can make one: look closer
            _check_model(value, "")
    except EncodingError as exc:
        raise EncodingError(f"{what}: {exc.detail}", location=exc.location) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise EncodingError(f"{what} is not valid JSON: {exc}") from exc
    return value


def parse_canonical(data: bytes, what: str = "object") -> Any:
    """Parse ``data`` and insist it is exactly the canonical encoding of what it holds."""
    value = parse_json(data, what)
    if fast_canonical_bytes(value, parsed=True) != data:
        raise EncodingError(f"{what} is not in the canonical encoding (RFC 8785)")
    return value


def is_canonical(data: bytes) -> bool:
    try:
        parse_canonical(data)
    except EncodingError:
        return False
    return True


def tagged_hash(tag: Tag, data: bytes) -> bytes:
    """SHA-256 over the domain tag followed by the canonical bytes."""
    return hashlib.sha256(tag.value + data).digest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, what: str = "value") -> bytes:
    """Decode standard base64 in its one canonical form. ``strict_mode`` alone still takes
    padding after a complete group (``YWJj=`` is ``abc``), which would give one value two
    spellings in signed or hashed text; the round trip refuses that."""
    try:
        raw = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise EncodingError(f"{what} is not valid base64") from exc
    if binascii.b2a_base64(raw, newline=False) != text.encode("ascii"):
        raise EncodingError(f"{what} is not canonical base64")
    return raw


def hex_to_bytes(text: str, size: int, what: str = "value") -> bytes:
    """Decode lowercase hex of exactly ``size`` bytes (the only hex form the ledger writes)."""
    # fullmatch, not fromhex alone: fromhex skips whitespace, and "$" would allow a final "\n"
    if len(text) != 2 * size or not _LOWER_HEX.fullmatch(text):
        raise EncodingError(f"{what} must be {2 * size} lowercase hex digits")
    return bytes.fromhex(text)
