"""Block headers and checkpoints (``docs/ledger-format.md`` §5–6).

A :class:`BlockHeader` commits to the whole log through ``tree_size`` and ``tree_root``. A
:class:`Checkpoint` is the header's C2SP ``tlog-checkpoint`` body plus C2SP ``signed-note``
signature lines: the proposer's signature first, members' cosignatures added later. Verifiers
ignore lines whose key they do not know, which is what lets cosignatures be added.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.consortium import Membership, require_keys
from ledger.encoding import Tag, canonical_bytes, hex_to_bytes, parse_canonical, tagged_hash
from ledger.errors import CheckpointInvalid, EncodingError
from ledger.keys import PublicKey, SigningKey
from ledger.timefmt import parse_time

BLOCK_VERSION = 1
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
}
ED25519_ALG = b"\x01"
SIGNATURE_PREFIX = "\u2014 "


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
        for name in ("consortium", "prev_hash", "tree_root"):
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
        )


def note_key_name(org_id: str, key_id: str) -> str:
    return f"{org_id}:{key_id}"


def note_key_hash(name: str, public_key: PublicKey) -> bytes:
    """C2SP signed-note key hash: SHA-256(name || "\\n" || alg || key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519_ALG + public_key.raw).digest()[:4]


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


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_hash: bytes
    signature: bytes

    def line(self) -> str:
        blob = base64.b64encode(self.key_hash + self.signature).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {blob}\n"


@dataclass(frozen=True)
class Checkpoint:
    """A signed checkpoint: the body text and its signature lines."""

    body: str
    signatures: tuple[NoteSignature, ...] = field(default_factory=tuple)

    # -- reading the body ---------------------------------------------------------------

    def _lines(self) -> list[str]:
        return self.body.split("\n")[:-1]

    @property
    def origin(self) -> str:
        return self._lines()[0]

    @property
    def tree_size(self) -> int:
        return int(self._lines()[1])

    @property
    def root_hash(self) -> bytes:
        return base64.b64decode(self._lines()[2])

    def extension(self, name: str) -> str | None:
        for line in self._lines()[3:]:
            key, _, value = line.partition(" ")
            if key == name:
                return value
        return None

    @property
    def height(self) -> int:
        value = self.extension("height")
        if value is None:
            raise CheckpointInvalid("the checkpoint has no height line")
        return int(value)

    @property
    def block_hash(self) -> bytes:
        value = self.extension("block")
        if value is None:
            raise CheckpointInvalid("the checkpoint has no block line")
        return base64.b64decode(value)

    # -- text form ------------------------------------------------------------------------

    def to_text(self) -> str:
        return self.body + "\n" + "".join(s.line() for s in self.signatures)

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        body, sep, sigs = text.partition("\n\n")
        if not sep:
            raise CheckpointInvalid("a checkpoint needs a blank line before its signatures")
        body += "\n"
        lines = body.split("\n")[:-1]
        if len(lines) < 3 or not lines[1].isdigit():
            raise CheckpointInvalid("a checkpoint body needs origin, tree size and root lines")
        try:
            if len(base64.b64decode(lines[2], validate=True)) != 32:
                raise CheckpointInvalid("the checkpoint root is not a SHA-256 hash")
        except binascii.Error as exc:
            raise CheckpointInvalid("the checkpoint root is not base64") from exc
        signatures: list[NoteSignature] = []
        for line in sigs.split("\n"):
            if not line:
                continue
            if not line.startswith(SIGNATURE_PREFIX):
                raise CheckpointInvalid(f"not a signature line: {line[:40]!r}")
            name, _, blob = line[len(SIGNATURE_PREFIX) :].rpartition(" ")
            try:
                raw = base64.b64decode(blob, validate=True)
            except binascii.Error as exc:
                raise CheckpointInvalid(f"signature of {name} is not base64") from exc
            if len(raw) < 5 or not name:
                raise CheckpointInvalid(f"signature line of {name or '?'} is malformed")
            signatures.append(NoteSignature(name, raw[:4], raw[4:]))
        return cls(body, tuple(signatures))

    # -- signing and verifying -------------------------------------------------------------

    def signed_by(self, org_id: str, key: SigningKey) -> Checkpoint:
        """This checkpoint with one more signature line (a cosignature if not the first)."""
        name = note_key_name(org_id, key.key_id)
        sig = NoteSignature(name, note_key_hash(name, key.public_key), key.sign(self.body.encode()))
        kept = tuple(s for s in self.signatures if s.name != name)
        return Checkpoint(self.body, (*kept, sig))

    def verified_signers(self, membership: Membership) -> dict[str, str]:
        """Organisations whose known keys signed this body (org id -> key id).

        Lines naming a key the membership does not know are ignored (C2SP signed-note); a
        known key whose signature does not verify is an error.
        """
        signers: dict[str, str] = {}
        message = self.body.encode()
        for sig in self.signatures:
            org_id, _, key_id = sig.name.partition(":")
            if membership.key_owner(key_id) != org_id:
                continue
            key = membership.organisations[org_id].keys[key_id]
            if sig.key_hash != note_key_hash(sig.name, key.public_key):
                continue
            if not key.public_key.verify(sig.signature, message):
                raise CheckpointInvalid(f"the checkpoint signature by {sig.name} does not verify")
            signers[org_id] = key_id
        return signers

    def verify(
        self,
        membership: Membership,
        *,
        quorum: int | None = None,
        required: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Check signatures; require ``quorum`` organisations and the ``required`` keys."""
        signers = self.verified_signers(membership)
        for org_id, key_id in (required or {}).items():
            if signers.get(org_id) != key_id:
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
    for name in ("consortium", "prev_hash", "tree_root"):
        hex_to_bytes(getattr(header, name), 32, name)
