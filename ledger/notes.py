"""C2SP signed notes (``c2sp.org/signed-note``), read as strictly as the spec and the Go
reference (``golang.org/x/mod/sumdb/note``, ``Open``) read them.

There is one parser, :func:`parse_note`; checkpoints (``ledger.blocks``) are built on it. A
note is refused when it is not UTF-8, holds a control character other than newline (a CR
included), has no blank line before its signatures, no signature line, a last line without
its newline, more than :data:`MAX_SIGNATURES` signature lines, a key name that is empty or has
a Unicode space or ``+``, or a signature that is not base64 of at least five bytes.

:func:`open_note` is the verifier's side, with ``Open``'s rules: lines whose (name, key hash)
no verifier has are ignored, a repeated line by one key counts once, a known key whose
signature does not verify fails the note, and so does a note no known key signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from ledger.cosignature import CosignerKey
from ledger.errors import CheckpointInvalid, EncodingError
from ledger.keys import PUBLIC_KEY_SIZE, PublicKey, verify_signature

SIGNATURE_PREFIX = "\u2014 "
# Go's Open refuses a note with more than 100 signature lines (repeats included); the spec asks
# every verifier to accept at least 16. A bound keeps the work per note finite.
MAX_SIGNATURES = 100
# Signature type bytes (c2sp.org/signed-note, "Signature types").
ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
KEY_HASH_SIZE = 4
_KEY_HASH_HEX = re.compile(r"[0-9a-fA-F]{8}")

# Go's unicode.IsSpace, which isValidName uses: the Latin-1 spaces plus Unicode White_Space.
# Python's str.isspace() is a different set (it includes U+001C..U+001F, it misses none of
# these today, but it follows the running Python's Unicode version), so the set is spelled out.
_UNICODE_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def is_valid_key_name(name: str) -> bool:
    """Non-empty, with no Unicode space and no ``+`` (signed-note, "Format")."""
    return bool(name) and "+" not in name and _UNICODE_SPACES.isdisjoint(name)


def key_hash(name: str, alg: int, public_key: bytes) -> bytes:
    """The 4-byte key ID: SHA-256(name || 0x0A || signature type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, 4-byte key hash and the signature bytes after it."""

    name: str
    key_hash: bytes
    signature: bytes

    def line(self) -> str:
        blob = base64.b64encode(self.key_hash + self.signature).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {blob}\n"


@dataclass(frozen=True, slots=True)
class SignedNote:
    """A note text (ending in a newline) and its signature lines, in the order written."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def to_text(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def _malformed(detail: str) -> CheckpointInvalid:
    return CheckpointInvalid(f"malformed signed note: {detail}")


# Every ASCII control character but newline; and the lone surrogates a Python str can hold
# (JSON's "\\ud800") but UTF-8 cannot encode. One regex scan is C speed; a loop over the
# characters of a checkpoint was a third of its parse time.
_FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\ud800-\udfff]")


def check_note_characters(text: str) -> None:
    """Refuse text that has no UTF-8 form or holds an ASCII control character but newline."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return
    char = found.group()
    if char >= "\ud800":
        raise _malformed("the note is not valid UTF-8")
    raise _malformed(f"control character U+{ord(char):04X} in the note")


def parse_note(data: str | bytes) -> SignedNote:
    """Split a signed note into its text and signature lines, refusing what Go's Open refuses."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _malformed("the note is not valid UTF-8") from exc
    else:
        text = data
    check_note_characters(text)
    # The text is separated from the signatures by the *last* blank line (the text may hold
    # blank lines of its own; a checkpoint body may not, which its own parser checks).
    split = text.rfind("\n\n")
    if split < 0:
        raise _malformed("no blank line before the signature lines")
    body, block = text[: split + 1], text[split + 2 :]
    if not block:
        raise _malformed("no signature lines")
    if not block.endswith("\n"):
        raise _malformed("the last signature line does not end in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise _malformed(f"{len(lines)} signature lines, more than {MAX_SIGNATURES}")
    return SignedNote(body, tuple(_parse_signature_line(line) for line in lines))


def _b64_length(raw: bytes) -> int:
    """The length of ``raw`` in padded standard base64: ``strict_mode`` still accepts padding
    after a complete group (``YWJj=``), which Go's ``base64.StdEncoding`` refuses."""
    return 4 * ((len(raw) + 2) // 3)


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise _malformed(f"not a signature line: {line[:40]!r}")
    name, _, blob = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not is_valid_key_name(name):
        raise _malformed(f"invalid key name {name[:40]!r}")
    try:
        # strict_mode: padding required, nothing after it, only the standard alphabet, as Go's
        # base64.StdEncoding decodes a line without newlines in it
        raw = binascii.a2b_base64(blob, strict_mode=True) if blob else b""
    except binascii.Error as exc:
        raise _malformed(f"the signature of {name} is not base64") from exc
    if len(blob) != _b64_length(raw):  # padding after a complete group, which Go refuses
        raise _malformed(f"the signature of {name} is not base64")
    if len(raw) <= KEY_HASH_SIZE:
        raise _malformed(f"the signature of {name} is shorter than five bytes")
    return NoteSignature(name, raw[:KEY_HASH_SIZE], raw[KEY_HASH_SIZE:])


# -- verifiers ------------------------------------------------------------------------------


class NoteVerifier(Protocol):
    """A key a verifier knows: its name, key hash, and how it checks a signature on a text."""

    @property
    def name(self) -> str: ...

    @property
    def key_hash(self) -> bytes: ...

    def verify(self, text: str, signature: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class CosignatureNoteVerifier:
    """Signature type 0x04: a tlog-cosignature/v1 (timestamp, then Ed25519 over
    ``cosignature/v1\\ntime <timestamp>\\n`` and the note text)."""

    name: str
    key_hash: bytes
    cosigner: CosignerKey

    @classmethod
    def of(cls, name: str, public_key: bytes) -> CosignatureNoteVerifier:
        cosigner = CosignerKey(name, PublicKey(public_key))
        return cls(name, cosigner.key_id, cosigner)

    def verify(self, text: str, signature: bytes) -> bool:
        return self.cosigner.verify_payload(text, signature) is not None


@dataclass(frozen=True, slots=True)
class Ed25519NoteVerifier:
    """Signature type 0x01: Ed25519 over the note text."""

    name: str
    public_key: bytes
    key_hash: bytes

    @classmethod
    def of(cls, name: str, public_key: bytes) -> Ed25519NoteVerifier:
        return cls(name, public_key, key_hash(name, ALG_ED25519, public_key))

    def verify(self, text: str, signature: bytes) -> bool:
        return verify_signature(self.public_key, signature, text.encode())


def verifier_key(name: str, alg: int, public_key: bytes) -> str:
    """The vkey string ``name+hex(key hash)+base64(alg || public key)`` (signed-note)."""
    if not is_valid_key_name(name):
        raise EncodingError(f"{name[:40]!r} is not a signed-note key name")
    material = bytes([alg]) + public_key
    return f"{name}+{key_hash(name, alg, public_key).hex()}+{base64.b64encode(material).decode()}"


def parse_verifier_key(vkey: str) -> NoteVerifier:
    """A verifier from a vkey string, as Go's NewVerifier reads one.

    tradeledger knows two signature types: Ed25519 (0x01) and tlog-cosignature/v1 Ed25519
    (0x04); Go's NewVerifier knows only 0x01. Any other type is refused.
    """
    name, _, rest = vkey.partition("+")
    hash_hex, _, key_b64 = rest.partition("+")
    malformed = EncodingError("the verifier key is not name+hex(key hash)+base64(type || key)")
    # Go reads the hash with strconv.ParseUint(hash, 16, 32) after checking it has 8
    # characters, so upper-case hex passes there and here; a sign or space does not.
    if not _KEY_HASH_HEX.fullmatch(hash_hex) or not key_b64 or not is_valid_key_name(name):
        raise malformed
    try:
        material = binascii.a2b_base64(key_b64, strict_mode=True)
    except binascii.Error as exc:
        raise malformed from exc
    if len(key_b64) != _b64_length(material):
        raise malformed
    if not material:
        raise malformed
    alg, public_key = material[0], material[1:]
    if key_hash(name, alg, public_key) != bytes.fromhex(hash_hex):
        raise EncodingError("the verifier key's hash does not match its name and key")
    if alg not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise EncodingError(f"unknown verifier algorithm 0x{alg:02x}")
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise EncodingError("the verifier key is not a 32-byte Ed25519 key")
    if alg == ALG_ED25519:
        return Ed25519NoteVerifier.of(name, public_key)
    return CosignatureNoteVerifier.of(name, public_key)


@dataclass(frozen=True, slots=True)
class OpenedNote:
    """A note whose signatures by known keys all verified (each key once)."""

    text: str
    verified: tuple[tuple[NoteVerifier, NoteSignature], ...]
    unverified: tuple[NoteSignature, ...]


def index_verifiers(
    verifiers: Iterable[NoteVerifier],
) -> dict[tuple[str, bytes], list[NoteVerifier]]:
    known: dict[tuple[str, bytes], list[NoteVerifier]] = {}
    for verifier in verifiers:
        known.setdefault((verifier.name, verifier.key_hash), []).append(verifier)
    return known


def verify_note_signatures(
    note: SignedNote,
    verifiers: Iterable[NoteVerifier] | dict[tuple[str, bytes], list[NoteVerifier]],
) -> OpenedNote:
    """Verify ``note``'s signatures by the keys in ``verifiers`` (Go's ``Open`` without its
    last rule: here a note no known key signed opens with nothing verified).

    Lines by unknown (name, key hash) are kept as unverified (identical ones once); a repeated
    line by a known key counts once; a known key's bad signature, or two verifiers for one
    (name, key hash) in use, is an error.
    """
    known = verifiers if isinstance(verifiers, dict) else index_verifiers(verifiers)
    verified: list[tuple[NoteVerifier, NoteSignature]] = []
    unverified: list[NoteSignature] = []
    seen: set[tuple[str, bytes]] = set()
    for sig in note.signatures:
        ident = (sig.name, sig.key_hash)
        candidates = known.get(ident)
        if candidates is None:
            if sig not in unverified:
                unverified.append(sig)
            continue
        if len(candidates) > 1:
            raise CheckpointInvalid(f"ambiguous key {sig.name}+{sig.key_hash.hex()}")
        if ident in seen:
            continue
        seen.add(ident)
        if not candidates[0].verify(note.text, sig.signature):
            raise CheckpointInvalid(
                f"the checkpoint signature by {sig.name}+{sig.key_hash.hex()} does not verify"
            )
        verified.append((candidates[0], sig))
    return OpenedNote(note.text, tuple(verified), tuple(unverified))


def open_note(
    note: SignedNote,
    verifiers: Iterable[NoteVerifier] | dict[tuple[str, bytes], list[NoteVerifier]],
) -> OpenedNote:
    """Go's ``Open``: :func:`verify_note_signatures`, and at least one known key signed."""
    opened = verify_note_signatures(note, verifiers)
    if not opened.verified:
        raise CheckpointInvalid("the note has no verifiable signatures")
    return opened
