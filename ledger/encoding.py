"""Canonical bytes: the one encoding of everything tradeledger hashes or signs.

The encoding is RFC 8785 (JSON Canonicalization Scheme) produced by the maintained ``rfc8785``
package, restricted to a data model with no floating-point numbers: strings, booleans, null,
integers in the IEEE-754 safe range (|n| < 2**53), lists and objects with string keys. Money and
quantities travel as decimal strings. In that restricted model RFC 8785 coincides byte for byte
with Python's ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` for keys
of the Basic Multilingual Plane, which lets replay check canonicity at C speed
(:func:`is_canonical`); ``tests/ledger/test_encoding.py`` checks the two agree on generated values.

Every object type that is hashed or signed has its own domain-separation tag (:class:`Tag`),
prefixed to the canonical bytes so that the bytes of one type can never be taken for another.
``docs/ledger-format.md`` is the specification.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from enum import Enum
from typing import Any

import rfc8785

from ledger.errors import EncodingError

MAX_SAFE_INTEGER = 2**53 - 1
_LOWER_HEX = re.compile(r"[0-9a-f]*")


class Tag(bytes, Enum):
    """Domain-separation tags, one per hashed or signed object type (each ends in a newline)."""

    ENTRY_SIGNATURE = b"tradeledger/v1/entry-signature\n"
    ENTRY_LEAF = b"tradeledger/v1/entry\n"
    BLOCK_HEADER = b"tradeledger/v1/block-header\n"
    CONSORTIUM = b"tradeledger/v1/consortium\n"
    DOCUMENT = b"tradeledger/v1/document\n"
    DETERMINATION = b"tradeledger/v1/origin-determination\n"


def _check_model(value: Any, path: str) -> None:
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise EncodingError(f"integer {value} is outside the safe range", location=path)
        return
    if isinstance(value, float):
        raise EncodingError(
            "floating-point numbers are not part of the canonical data model; "
            "write amounts as decimal strings",
            location=path,
        )
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_model(item, f"{path}/{i}")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EncodingError(f"object key {key!r} is not a string", location=path)
            _check_model(item, f"{path}/{key}")
        return
    raise EncodingError(f"{type(value).__name__} cannot be encoded", location=path)


def canonical_bytes(value: Any) -> bytes:
    """RFC 8785 canonical JSON of ``value``; raises :class:`EncodingError` outside the model."""
    _check_model(value, "")
    return bytes(rfc8785.dumps(value))


def fast_canonical_bytes(value: Any) -> bytes:
    """Same bytes as :func:`canonical_bytes` for values already known to be in the model.

    Used on hot paths (replay) where ``value`` came from parsing bytes we then compare.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _no_float(text: str) -> Any:
    raise EncodingError(f"the number {text} is not an integer; the canonical model has no floats")


def _safe_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise EncodingError(f"integer {text} is outside the safe range")
    return value


_DECODER = json.JSONDecoder(parse_float=_no_float, parse_int=_safe_int, parse_constant=_no_float)


def parse_json(data: bytes, what: str = "object") -> Any:
    """Parse JSON within the canonical data model (no floats, NaN or unsafe integers)."""
    try:
        return _DECODER.decode(data.decode("utf-8"))
    except EncodingError as exc:
        raise EncodingError(f"{what}: {exc.detail}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise EncodingError(f"{what} is not valid JSON: {exc}") from exc


def parse_canonical(data: bytes, what: str = "object") -> Any:
    """Parse ``data`` and insist it is exactly the canonical encoding of what it holds."""
    value = parse_json(data, what)
    if fast_canonical_bytes(value) != data:
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
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise EncodingError(f"{what} is not valid base64") from exc


def hex_to_bytes(text: str, size: int, what: str = "value") -> bytes:
    """Decode lowercase hex of exactly ``size`` bytes (the only hex form the ledger writes)."""
    # fullmatch, not fromhex alone: fromhex skips whitespace, and "$" would allow a final "\n"
    if len(text) != 2 * size or not _LOWER_HEX.fullmatch(text):
        raise EncodingError(f"{what} must be {2 * size} lowercase hex digits")
    return bytes.fromhex(text)
