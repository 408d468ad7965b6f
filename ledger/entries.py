"""Signed ledger entries (``docs/ledger-format.md`` §4).

An entry is an envelope ``{"signatures": […], "signed": {…}}`` in canonical bytes plus an
opaque payload carried beside it and committed to by digest and size. :func:`build_entry` makes
one; :func:`parse_entry` reads one back from bytes and checks everything that needs no ledger
state (encoding, fields, payload digest). Signatures and membership are checked by
:mod:`ledger.chain`, which knows who may sign what at each height.
"""

from __future__ import annotations

import dataclasses
import hashlib
import operator
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.encoding import (
    Tag,
    b64decode,
    b64encode,
    fast_canonical_bytes,
    parse_json,
)
from ledger.errors import EncodingError, EntryRejected
from ledger.keys import SigningKey
from ledger.merkle import leaf_hash
from ledger.timefmt import format_time, now, parse_time

ENTRY_VERSION = 1
MAX_REFS = 64
MAX_SUBJECT = 200
MAX_PAYLOAD = 4 * 1024 * 1024
# Patterns are used with fullmatch only: "$" also matches before a final "\n", which would let
# "<hex>\n" through here while a stricter verifier refuses it.
ENTRY_TYPE = re.compile(r"[a-z]+(\.[a-z_]+)+")
HEX64 = re.compile(r"[0-9a-f]{64}")
HEX32 = re.compile(r"[0-9a-f]{32}")
HEX16 = re.compile(r"[0-9a-f]{16}")
CONSORTIUM_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")  # as the genesis's (ledger.consortium)
CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*(;[ -~]*)?")
_SIGNED_FIELDS = frozenset(
    {
        "v",
        "consortium_id",
        "type",
        "author",
        "key_id",
        "timestamp",
        "nonce",
        "subject",
        "payload",
        "refs",
    }
)
_PAYLOAD_FIELDS = frozenset({"content_type", "digest", "size"})
_SIG_PREFIX = b'{"signatures":'
_SIGNED_SEP = b',"signed":'


@dataclass(frozen=True, slots=True)
class Entry:
    """A parsed entry: ``envelope`` is its canonical bytes, ``entry_hash`` its leaf hash."""

    envelope: bytes
    entry_hash: bytes
    signed_bytes: bytes
    signatures: tuple[tuple[str, bytes], ...]
    consortium_id: str
    type: str
    author: str
    key_id: str
    timestamp: str
    nonce: str
    subject: str | None
    refs: tuple[str, ...]
    content_type: str
    payload_digest: str
    payload_size: int
    payload: bytes | None

    @property
    def hash_hex(self) -> str:
        return self.entry_hash.hex()

    @property
    def signing_message(self) -> bytes:
        """What each signer signed: the entry-signature tag and the canonical ``signed`` object."""
        return Tag.ENTRY_SIGNATURE.value + self.signed_bytes

    @property
    def canonical_size(self) -> int:
        """Bytes of the entry in canonical form: envelope plus payload."""
        return len(self.envelope) + self.payload_size

    def signed_dict(self) -> dict[str, Any]:
        return {
            "v": ENTRY_VERSION,
            "consortium_id": self.consortium_id,
            "type": self.type,
            "author": self.author,
            "key_id": self.key_id,
            "timestamp": self.timestamp,
            "nonce": self.nonce,
            "subject": self.subject,
            "payload": {
                "content_type": self.content_type,
                "digest": self.payload_digest,
                "size": self.payload_size,
            },
            "refs": list(self.refs),
        }

    def __reduce__(self) -> tuple[Any, tuple[object, ...]]:
        # Pickle as a plain tuple of fields: several times faster than the slots default, and
        # replay workers send every entry back to the fold.
        return (_restore_entry, (_entry_fields(self),))

    def slim(self, shared: dict[Any, Any] | None = None) -> Entry:
        """The same entry without its bytes (envelope, signatures, payload): what a replay
        worker sends back once it has checked the signatures, so the fold is not fed kilobytes
        it will not read. Membership changes keep their payload, which the fold applies.

        ``shared`` (a dict the caller keeps across entries) maps each value that repeats from
        entry to entry (consortium id, type, author, key ids, content type) to one object, so
        that pickling a batch of slim entries writes each such value once and unpickling
        builds it once: about a third of what crossing between processes costs an entry."""
        return _restore_entry(slim_fields(_entry_fields(self), shared))

    def with_payload(self, payload: bytes | None) -> Entry:
        return parse_entry(self.envelope, payload)


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Entry))
assert _FIELD_NAMES[2:4] == ("signed_bytes", "signatures")  # ledger.chain reads them by place
_entry_fields = operator.attrgetter(*_FIELD_NAMES)
#: An entry's field values, in the order of its fields (what :func:`restore_entry` takes).
entry_fields: Any = _entry_fields
_SLOT_SETTERS = tuple(getattr(Entry, name).__set__ for name in _FIELD_NAMES)


def _restore_entry(values: tuple[object, ...]) -> Entry:
    """Unpickle without the frozen dataclass ``__init__`` (one ``object.__setattr__`` per
    field): the fields were valid when pickled, and slot setters are direct C calls (written
    out, not looped: replay's fold unpickles every entry)."""
    entry = object.__new__(Entry)
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15 = _SLOT_SETTERS
    v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15 = values
    s0(entry, v0)
    s1(entry, v1)
    s2(entry, v2)
    s3(entry, v3)
    s4(entry, v4)
    s5(entry, v5)
    s6(entry, v6)
    s7(entry, v7)
    s8(entry, v8)
    s9(entry, v9)
    s10(entry, v10)
    s11(entry, v11)
    s12(entry, v12)
    s13(entry, v13)
    s14(entry, v14)
    s15(entry, v15)
    return entry


def _same(value: Any) -> Any:
    return value


def slim_fields(fields: tuple[Any, ...], shared: dict[Any, Any] | None = None) -> tuple[Any, ...]:
    """:meth:`Entry.slim` on an entry's field values (in :data:`_FIELD_NAMES` order)."""
    one = _same if shared is None else (lambda value: shared.setdefault(value, value))
    etype = fields[5]
    return (
        b"",
        fields[1],
        b"",
        one(tuple((k, b"") for k, _ in fields[3])),
        one(fields[4]),
        one(etype),
        one(fields[6]),
        one(fields[7]),
        fields[8],
        fields[9],
        fields[10],
        fields[11],
        one(fields[12]),
        fields[13],
        fields[14],
        fields[15] if etype.startswith("config.") else None,
    )


def restore_entry(values: tuple[object, ...]) -> Entry:
    """An entry from field values that were checked when it was parsed (by
    :func:`parse_entry_fields`, then perhaps :func:`slim_fields` and pickling)."""
    return _restore_entry(values)


def entry_leaf_hash(envelope: bytes) -> bytes:
    return leaf_hash(Tag.ENTRY_LEAF.value + envelope)


def build_entry(
    entry_type: str,
    author: str,
    signing_key: SigningKey,
    payload: bytes,
    content_type: str,
    *,
    consortium_id: str,
    subject: str | None = None,
    refs: Sequence[str] = (),
    timestamp: datetime | None = None,
    nonce: str | None = None,
    cosigners: Sequence[SigningKey] = (),
) -> Entry:
    """Make and sign an entry for the consortium ``consortium_id`` (signed, so that another
    consortium whose members use the same keys refuses it). ``cosigners`` add signatures
    (membership changes need a quorum)."""
    signed = {
        "v": ENTRY_VERSION,
        "consortium_id": consortium_id,
        "type": entry_type,
        "author": author,
        "key_id": signing_key.key_id,
        "timestamp": format_time(timestamp or now()),
        "nonce": nonce or secrets.token_hex(16),
        "subject": subject,
        "payload": {
            "content_type": content_type,
            "digest": hashlib.sha256(payload).hexdigest(),
            "size": len(payload),
        },
        "refs": list(refs),
    }
    # Its keys are fixed ASCII and its values strings, small integers, null and a list of
    # strings, where RFC 8785 equals sorted compact JSON (ledger.encoding; property-tested):
    # the fast encoder applies, and _entry_from_signed below checks every field's type.
    try:
        signed_bytes = fast_canonical_bytes(signed)
    except (TypeError, ValueError) as exc:  # a value no JSON holds, or a lone surrogate
        raise EncodingError(f"the entry cannot be encoded: {exc}") from exc
    message = Tag.ENTRY_SIGNATURE.value + signed_bytes
    signers = {k.key_id: k for k in (signing_key, *cosigners)}
    sigs = [(kid, signers[kid].sign(message)) for kid in sorted(signers)]
    envelope = _envelope(sigs, signed_bytes)
    # The envelope is canonical by construction: check the fields as parse_entry would, without
    # decoding the JSON just written (tests compare the result with parse_entry's).
    return _entry_from_signed(envelope, signed, signed_bytes, tuple(sigs), payload)


def add_signatures(entry: Entry, keys: Sequence[SigningKey]) -> Entry:
    """The same entry with more signatures (collecting a quorum for a membership change)."""
    sigs = dict(entry.signatures)
    for key in keys:
        sigs[key.key_id] = key.sign(entry.signing_message)
    envelope = _envelope(sorted(sigs.items()), entry.signed_bytes)
    return parse_entry(envelope, entry.payload)


def _envelope(signatures: Sequence[tuple[str, bytes]], signed_bytes: bytes) -> bytes:
    """The canonical envelope: the signatures (sorted by key id) and the signed object."""
    signature_list = [{"key_id": kid, "sig": b64encode(sig)} for kid, sig in signatures]
    return _SIG_PREFIX + fast_canonical_bytes(signature_list) + _SIGNED_SEP + signed_bytes + b"}"


def parse_entry(envelope: bytes, payload: bytes | None = None) -> Entry:
    """Read an entry from its canonical bytes; raise :class:`EncodingError` or
    :class:`EntryRejected` for anything wrong that needs no ledger state to see."""
    return _restore_entry(parse_entry_fields(envelope, payload))


def parse_entry_fields(envelope: bytes, payload: bytes | None = None) -> tuple[Any, ...]:
    """:func:`parse_entry`'s checks, returning the entry's field values (in the order of
    :class:`Entry`'s fields) rather than an :class:`Entry`: replay's workers build only the
    slim entry they send back (:func:`slim_fields`)."""
    doc = parse_json(envelope, "the entry")
    if not isinstance(doc, dict) or doc.keys() != {"signatures", "signed"}:
        raise EncodingError("an entry is an object with exactly signatures and signed")
    signed, sig_list = doc["signed"], doc["signatures"]
    if not isinstance(signed, dict) or not isinstance(sig_list, list):
        raise EncodingError("an entry's signed must be an object and signatures a list")
    signatures = _signatures(sig_list)
    signed_bytes = fast_canonical_bytes(signed, parsed=True)
    # The signature list is validated hex and canonical base64, which JSON never escapes, so
    # its canonical bytes can be written directly (cheaper than re-encoding on replay's path).
    sig_bytes = b",".join(
        b'{"key_id":"%s","sig":"%s"}' % (item["key_id"].encode(), item["sig"].encode())
        for item in sig_list
    )
    if envelope != b"%s[%s]%s%s}" % (_SIG_PREFIX, sig_bytes, _SIGNED_SEP, signed_bytes):
        raise EncodingError("the entry is not in the canonical encoding (RFC 8785)")
    return _fields_from_signed(envelope, signed, signed_bytes, signatures, payload)


def _entry_from_signed(
    envelope: bytes,
    signed: dict[str, Any],
    signed_bytes: bytes,
    signatures: tuple[tuple[str, bytes], ...],
    payload: bytes | None,
) -> Entry:
    return _restore_entry(_fields_from_signed(envelope, signed, signed_bytes, signatures, payload))


def _fields_from_signed(
    envelope: bytes,
    signed: dict[str, Any],
    signed_bytes: bytes,
    signatures: tuple[tuple[str, bytes], ...],
    payload: bytes | None,
) -> tuple[Any, ...]:
    if signed.keys() != _SIGNED_FIELDS:
        missing = _SIGNED_FIELDS - signed.keys()
        extra = signed.keys() - _SIGNED_FIELDS
        detail = (
            f"missing {', '.join(sorted(missing))}"
            if missing
            else f"unexpected {', '.join(sorted(extra))}"
        )
        raise EncodingError(f"the entry's signed object: {detail}", location="/signed")
    if signed["v"] != ENTRY_VERSION:
        raise EncodingError("unsupported entry version", location="/signed/v")
    consortium_id = signed["consortium_id"]
    if not isinstance(consortium_id, str) or not CONSORTIUM_ID.fullmatch(consortium_id):
        raise EncodingError(
            "consortium_id must be a consortium id", location="/signed/consortium_id"
        )
    etype, author, key_id = signed["type"], signed["author"], signed["key_id"]
    if not isinstance(etype, str) or not ENTRY_TYPE.fullmatch(etype):
        raise EncodingError("entry type must look like 'co.issued'", location="/signed/type")
    if not isinstance(author, str) or not author:
        raise EncodingError("author must be an organisation id", location="/signed/author")
    if not isinstance(key_id, str) or not HEX16.fullmatch(key_id):
        raise EncodingError("key_id must be 16 hex digits", location="/signed/key_id")
    timestamp = signed["timestamp"]
    parse_time(timestamp, "timestamp")
    nonce = signed["nonce"]
    if not isinstance(nonce, str) or not HEX32.fullmatch(nonce):
        raise EncodingError("nonce must be 32 hex digits", location="/signed/nonce")
    subject = signed["subject"]
    if subject is not None and (
        not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT
    ):
        raise EncodingError("subject must be a document id or null", location="/signed/subject")
    refs = signed["refs"]
    if (
        not isinstance(refs, list)
        or len(refs) > MAX_REFS
        or not all(isinstance(r, str) and HEX64.fullmatch(r) for r in refs)
        or len(set(refs)) != len(refs)
    ):
        raise EncodingError(
            f"refs must be at most {MAX_REFS} distinct entry hashes", location="/signed/refs"
        )
    pl = signed["payload"]
    if not isinstance(pl, dict) or pl.keys() != _PAYLOAD_FIELDS:
        raise EncodingError(
            "payload must have content_type, digest and size", location="/signed/payload"
        )
    content_type, digest, size = pl["content_type"], pl["digest"], pl["size"]
    if not isinstance(content_type, str) or not CONTENT_TYPE.fullmatch(content_type):
        raise EncodingError("payload content_type is not a media type", location="/signed/payload")
    if not isinstance(digest, str) or not HEX64.fullmatch(digest):
        raise EncodingError("payload digest must be SHA-256 hex", location="/signed/payload")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_PAYLOAD:
        raise EncodingError("payload size is out of range", location="/signed/payload")
    if payload is not None and (
        len(payload) != size or hashlib.sha256(payload).hexdigest() != digest
    ):
        raise EntryRejected("the payload does not match the entry's payload digest and size")
    if key_id not in {k for k, _ in signatures}:
        raise EntryRejected("the entry carries no signature by its own key_id")
    # Every field was checked above (the caller builds through the slot setters, see
    # _restore_entry).
    return (
        envelope,
        entry_leaf_hash(envelope),
        signed_bytes,
        signatures,
        consortium_id,
        etype,
        author,
        key_id,
        timestamp,
        nonce,
        subject,
        tuple(refs),
        content_type,
        digest,
        size,
        payload,
    )


def _signatures(sig_list: list[Any]) -> tuple[tuple[str, bytes], ...]:
    if not sig_list:
        raise EncodingError("an entry needs at least one signature", location="/signatures")
    out: list[tuple[str, bytes]] = []
    for i, item in enumerate(sig_list):
        if not isinstance(item, dict) or item.keys() != {"key_id", "sig"}:
            raise EncodingError("a signature is {key_id, sig}", location=f"/signatures/{i}")
        kid, sig = item["key_id"], item["sig"]
        if not isinstance(kid, str) or not HEX16.fullmatch(kid) or not isinstance(sig, str):
            raise EncodingError("a signature is {key_id, sig}", location=f"/signatures/{i}")
        # one spelling per signature (b64decode refuses the others), or envelopes are malleable
        try:
            raw = b64decode(sig, "signature")
        except EncodingError as exc:
            raise EncodingError(f"a {exc.detail}", location=f"/signatures/{i}") from exc
        if len(raw) != 64:
            raise EncodingError("an Ed25519 signature is 64 bytes", location=f"/signatures/{i}")
        out.append((kid, raw))
    ids = [k for k, _ in out]
    if ids != sorted(set(ids)):
        raise EncodingError(
            "signatures must be sorted by key_id with no key twice", location="/signatures"
        )
    return tuple(out)
