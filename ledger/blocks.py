"""Block headers and checkpoints (``docs/ledger-format.md`` §5–6).

A :class:`BlockHeader` commits to the whole log through ``tree_size`` and ``tree_root``, and to
every document's state through ``status_root`` (the status map, ``ledger.status_map``). A
:class:`Checkpoint` is the header's C2SP ``tlog-checkpoint`` body plus C2SP ``signed-note``
signature lines: the proposer's signature first, members' cosignatures added later. Verifiers
ignore lines whose key they do not know, which is what lets cosignatures be added.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.consortium import Membership, require_keys
from ledger.cosignature import CosignerKey, cosign
from ledger.encoding import Tag, canonical_bytes, hex_to_bytes, parse_canonical, tagged_hash
from ledger.errors import CheckpointInvalid, EncodingError
from ledger.keys import PublicKey, SigningKey
from ledger.notes import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    NoteSignature,
    NoteVerifier,
    SignedNote,
    check_note_characters,
    key_hash,
    parse_note,
    verifier_key,
    verify_note_signatures,
)
from ledger.timefmt import parse_time

BLOCK_VERSION = 2
"""Version 2 added ``status_root`` (the status map's root after the block, §12)."""
_HEADER_FIELDS = {
    "v",
    "consortium",
    "height",
    "prev_hash",
    "time",
    "proposer",
    "key_id",
    "first_index",
    "entry_count",
    "tree_size",
    "tree_root",
    "status_root",
}


@dataclass(frozen=True, slots=True)
class BlockHeader:
    consortium: str
    height: int
    prev_hash: str
    time: str
    proposer: str
    key_id: str
    first_index: int
    entry_count: int
    tree_size: int
    tree_root: str
    status_root: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": BLOCK_VERSION,
            "consortium": self.consortium,
            "height": self.height,
            "prev_hash": self.prev_hash,
            "time": self.time,
            "proposer": self.proposer,
            "key_id": self.key_id,
            "first_index": self.first_index,
            "entry_count": self.entry_count,
            "tree_size": self.tree_size,
            "tree_root": self.tree_root,
            "status_root": self.status_root,
        }

    def to_bytes(self) -> bytes:
        return canonical_bytes(self.to_dict())

    @property
    def block_hash(self) -> bytes:
        return tagged_hash(Tag.BLOCK_HEADER, self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> BlockHeader:
        doc = parse_canonical(data, "the block header")
        require_keys(doc, _HEADER_FIELDS, "")
        if doc["v"] != BLOCK_VERSION:
            raise EncodingError("unsupported block version", location="/v")
        for name in ("height", "first_index", "entry_count", "tree_size"):
            value = doc[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise EncodingError(f"{name} must be a non-negative integer", location=f"/{name}")
        for name in ("consortium", "prev_hash", "tree_root", "status_root"):
            hex_to_bytes(doc[name] if isinstance(doc[name], str) else "", 32, name)
        for name in ("proposer", "key_id"):
            if not isinstance(doc[name], str) or not doc[name]:
                raise EncodingError(f"{name} must be a string", location=f"/{name}")
        parse_time(doc["time"], "block time")
        return cls(
            consortium=doc["consortium"],
            height=doc["height"],
            prev_hash=doc["prev_hash"],
            time=doc["time"],
            proposer=doc["proposer"],
            key_id=doc["key_id"],
            first_index=doc["first_index"],
            entry_count=doc["entry_count"],
            tree_size=doc["tree_size"],
            tree_root=doc["tree_root"],
            status_root=doc["status_root"],
        )


def note_key_name(org_id: str, key_id: str) -> str:
    return f"{org_id}:{key_id}"


def note_key_hash(name: str, public_key: PublicKey) -> bytes:
    """C2SP signed-note key hash of a type-0x01 key: SHA-256(name || "\\n" || 0x01 || key)[:4]."""
    return key_hash(name, ALG_ED25519, public_key.raw)


def cosigner_key_hash(name: str, public_key: PublicKey) -> bytes:
    """tlog-cosignature/v1 key hash: SHA-256(name || "\\n" || 0x04 || key)[:4]."""
    return key_hash(name, ALG_COSIGNATURE_V1, public_key.raw)


def checkpoint_body(origin: str, header: BlockHeader) -> str:
    """The C2SP tlog-checkpoint body for ``header`` (origin, size, root, extension lines)."""
    root = base64.b64encode(bytes.fromhex(header.tree_root)).decode()
    block = base64.b64encode(header.block_hash).decode()
    return (
        f"{origin}\n{header.tree_size}\n{root}\n"
        f"height {header.height}\nblock {block}\ntime {header.time}\n"
    )


def checkpoint_origin(consortium_id: str) -> str:
    return f"tradeledger/{consortium_id}"


def consortium_verifier_keys(membership: Membership, alg: int = ALG_ED25519) -> list[str]:
    """Every key the membership lists as a C2SP vkey of signature type ``alg``, by key name.

    Type 0x01 (``name+hex(key hash)+base64(0x01 || key)``, what Go's ``note.NewVerifier``
    reads) checks a proposer's signature; type 0x04 checks a member's tlog-cosignature/v1
    lines. Revoked keys are listed too: the checkpoints they signed stay verifiable.
    """
    if alg not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise EncodingError(f"tradeledger keys have no vkeys of signature type 0x{alg:02x}")
    return [
        verifier_key(note_key_name(org_id, key_id), alg, member_key.public_key.raw)
        for org_id in sorted(membership.organisations)
        for key_id, member_key in sorted(membership.organisations[org_id].keys.items())
    ]


# Body lines of a tradeledger checkpoint: tlog-checkpoint's three, then §6's extension lines.
_DECIMAL = re.compile(r"0|[1-9][0-9]*")  # ASCII digits only, no leading zero, no sign
_MAX_DECIMAL_DIGITS = 19  # 2^63 - 1 has 19 digits; sizes and heights are signed 64-bit
_EXTENSIONS = ("height", "block", "time")


def parse_decimal(text: str, what: str) -> int:
    """A size or height as tlog-checkpoint writes it: ASCII digits, no leading zero, below 2^63."""
    if len(text) > _MAX_DECIMAL_DIGITS or not _DECIMAL.fullmatch(text):
        raise CheckpointInvalid(
            f"the checkpoint {what} is not ASCII decimal without leading zeros: {text[:24]!r}"
        )
    value = int(text)
    if value >= 2**63:
        raise CheckpointInvalid(f"the checkpoint {what} is larger than 2^63 - 1")
    return value


def _hash_b64(text: str, what: str) -> bytes:
    # Canonical base64 only (re-encoding gives the same text): the body is signed, and one
    # hash must have one spelling, or one checkpoint would have two signed texts.
    try:
        raw = binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error as exc:
        raise CheckpointInvalid(f"the checkpoint {what} is not base64") from exc
    if len(raw) != 32 or base64.b64encode(raw).decode() != text:
        raise CheckpointInvalid(f"the checkpoint {what} is not the base64 of a SHA-256 hash")
    return raw


@dataclass(frozen=True, slots=True)
class CheckpointBody:
    """The fields of a checkpoint body (C2SP tlog-checkpoint plus §6 extension lines)."""

    origin: str
    tree_size: int
    root_hash: bytes
    height: int
    block_hash: bytes
    time: str


def parse_checkpoint_body(body: str) -> CheckpointBody:
    """Parse and check a body: every line non-empty and in its one spelling.

    tlog-checkpoint: origin (non-empty), tree size (ASCII decimal, no leading zeros), root
    hash (base64 of 32 bytes), then non-empty extension lines. tradeledger restricts the
    extension lines to exactly ``height``, ``block``, ``time`` in that order (§6).
    """
    if not body.endswith("\n"):
        raise CheckpointInvalid("the checkpoint body does not end in a newline")
    check_note_characters(body)
    lines = body[:-1].split("\n")
    if len(lines) != 3 + len(_EXTENSIONS):
        raise CheckpointInvalid(
            "a checkpoint body is origin, tree size, root hash, height, block and time lines"
        )
    if not lines[0]:
        raise CheckpointInvalid("the checkpoint origin line is empty")
    values: dict[str, str] = {}
    for name, line in zip(_EXTENSIONS, lines[3:], strict=True):
        key, sep, value = line.partition(" ")
        if key != name or not sep:
            raise CheckpointInvalid(f"the checkpoint has no {name} line where §6 puts it")
        values[name] = value
    try:
        parse_time(values["time"], "the checkpoint time")
    except EncodingError as exc:
        raise CheckpointInvalid(exc.detail) from exc
    return CheckpointBody(
        origin=lines[0],
        tree_size=parse_decimal(lines[1], "tree size"),
        root_hash=_hash_b64(lines[2], "root hash"),
        height=parse_decimal(values["height"], "height"),
        block_hash=_hash_b64(values["block"], "block hash"),
        time=values["time"],
    )


@dataclass(frozen=True, slots=True)
class _MemberVerifier:
    """A consortium key as a signed-note verifier of one signature type: a plain Ed25519
    note signature (``cosigner`` None) or a tlog-cosignature/v1 line."""

    name: str
    key_hash: bytes
    org_id: str
    key_id: str
    public_key: PublicKey
    cosigner: CosignerKey | None

    def verify(self, text: str, signature: bytes) -> bool:
        if self.cosigner is None:
            return self.public_key.verify(signature, text.encode())
        return self.cosigner.verify_payload(text, signature) is not None


# member_verifiers by the identity of the Membership they were built from (kept alive here, so
# an id is never reused while cached): a membership changes only with a config.update, and
# building the table hashes two key IDs per key, a tenth of a checkpoint's verification.
_VERIFIER_CACHE: dict[int, tuple[Membership, dict[tuple[str, bytes], list[NoteVerifier]]]] = {}
_VERIFIER_CACHE_SIZE = 16


def member_verifiers(membership: Membership) -> dict[tuple[str, bytes], list[NoteVerifier]]:
    """(key name, key hash) -> verifier, for both signature types of every listed key."""
    cached = _VERIFIER_CACHE.get(id(membership))
    if cached is not None and cached[0] is membership:
        return cached[1]
    known = _member_verifiers(membership)
    if len(_VERIFIER_CACHE) >= _VERIFIER_CACHE_SIZE:
        _VERIFIER_CACHE.pop(next(iter(_VERIFIER_CACHE)))
    _VERIFIER_CACHE[id(membership)] = (membership, known)
    return known


def _member_verifiers(membership: Membership) -> dict[tuple[str, bytes], list[NoteVerifier]]:
    known: dict[tuple[str, bytes], list[NoteVerifier]] = {}
    for org_id, org in membership.organisations.items():
        for key_id, member_key in org.keys.items():
            name = note_key_name(org_id, key_id)
            public_key = member_key.public_key
            plain = _MemberVerifier(
                name, note_key_hash(name, public_key), org_id, key_id, public_key, None
            )
            cosigner = CosignerKey(name, public_key)
            cosigning = _MemberVerifier(
                name, cosigner_key_hash(name, public_key), org_id, key_id, public_key, cosigner
            )
            for verifier in (plain, cosigning):
                known.setdefault((verifier.name, verifier.key_hash), []).append(verifier)
    return known


@dataclass(frozen=True)
class Checkpoint:
    """A signed checkpoint: the body text and its signature lines."""

    body: str
    signatures: tuple[NoteSignature, ...] = field(default_factory=tuple)

    # -- reading the body ---------------------------------------------------------------

    def fields(self) -> CheckpointBody:
        return parse_checkpoint_body(self.body)

    @property
    def origin(self) -> str:
        return self.fields().origin

    @property
    def tree_size(self) -> int:
        return self.fields().tree_size

    @property
    def root_hash(self) -> bytes:
        return self.fields().root_hash

    def extension(self, name: str) -> str | None:
        for line in self.body.split("\n")[3:-1]:
            key, _, value = line.partition(" ")
            if key == name:
                return value
        return None

    @property
    def height(self) -> int:
        return self.fields().height

    @property
    def block_hash(self) -> bytes:
        return self.fields().block_hash

    # -- text form ------------------------------------------------------------------------

    def to_text(self) -> str:
        return SignedNote(self.body, self.signatures).to_text()

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse a signed checkpoint, refusing whatever signed-note or tlog-checkpoint refuse."""
        note = parse_note(text)
        parse_checkpoint_body(note.text)
        return cls(note.text, note.signatures)

    # -- signing and verifying -------------------------------------------------------------

    def _with(self, line: NoteSignature) -> Checkpoint:
        # As Go's note.Sign: a new signature replaces one by the same (name, key hash).
        kept = tuple(
            s for s in self.signatures if (s.name, s.key_hash) != (line.name, line.key_hash)
        )
        return Checkpoint(self.body, (*kept, line))

    def signed_by(self, org_id: str, key: SigningKey) -> Checkpoint:
        """This checkpoint with a plain Ed25519 (type 0x01) note signature by ``key``.

        This is the proposer's signature on its block; members cosign with :meth:`cosigned_by`.
        """
        name = note_key_name(org_id, key.key_id)
        signature = key.sign(self.body.encode())
        return self._with(NoteSignature(name, note_key_hash(name, key.public_key), signature))

    def cosigned_by(self, org_id: str, key: SigningKey, timestamp: int) -> Checkpoint:
        """This checkpoint with a tlog-cosignature/v1 line by ``key`` at ``timestamp``
        (POSIX seconds)."""
        name = note_key_name(org_id, key.key_id)
        line = parse_note(self.body + "\n" + cosign(self.body, name, key, timestamp))
        return self._with(line.signatures[0])

    def _verified_lines(self, membership: Membership) -> list[_MemberVerifier]:
        note = SignedNote(self.body, self.signatures)
        opened = verify_note_signatures(note, member_verifiers(membership))
        return [v for v, _ in opened.verified if isinstance(v, _MemberVerifier)]

    def verified_signers(self, membership: Membership) -> dict[str, str]:
        """Organisations whose known keys signed or cosigned this body (org id -> key id).

        Lines whose (key name, key hash) the membership does not know are ignored (C2SP
        signed-note); a repeated line by one key counts once; a known key whose signature
        does not verify is an error.
        """
        signers: dict[str, str] = {}
        for verifier in self._verified_lines(membership):
            signers.setdefault(verifier.org_id, verifier.key_id)
        return signers

    def verify(
        self,
        membership: Membership,
        *,
        quorum: int | None = None,
        required: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Check signatures; require ``quorum`` organisations and the ``required`` keys.

        A ``required`` key (the block's proposer) must have signed with a plain type-0x01 note
        signature; cosignatures (type 0x04) count toward the quorum only.
        """
        verified = self._verified_lines(membership)
        signers: dict[str, str] = {}
        note_signers: set[tuple[str, str]] = set()
        for verifier in verified:
            signers.setdefault(verifier.org_id, verifier.key_id)
            if verifier.cosigner is None:
                note_signers.add((verifier.org_id, verifier.key_id))
        for org_id, key_id in (required or {}).items():
            if (org_id, key_id) not in note_signers:
                raise CheckpointInvalid(
                    f"the checkpoint lacks a valid signature by {note_key_name(org_id, key_id)}"
                )
        needed = membership.checkpoint_quorum if quorum is None else quorum
        if len(signers) < needed:
            raise CheckpointInvalid(
                f"the checkpoint has {len(signers)} member signatures; {needed} are needed"
            )
        return signers


def header_matches_checkpoint(origin: str, header: BlockHeader, checkpoint: Checkpoint) -> bool:
    return checkpoint.body == checkpoint_body(origin, header)


def check_header_hashes(header: BlockHeader) -> None:
    """Raise if the header's hex fields are not well-formed (for callers building headers)."""
    for name in ("consortium", "prev_hash", "tree_root", "status_root"):
        hex_to_bytes(getattr(header, name), 32, name)
