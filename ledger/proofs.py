"""Offline verification of what a node answers, against a checkpoint and the consortium's keys.

A node's provenance (``GET /v1/documents/{id}/provenance``), inclusion-proof
(``GET /v1/entries/{hash}/inclusion-proof``) and verification (``POST /v1/verify``) responses
carry each entry's envelope and an RFC 9162 inclusion proof. :func:`verify_response` checks
them with no trust in the node (``docs/ledger-format.md`` §9):

1. the trusted checkpoint is for this consortium and carries signatures by known consortium
   keys meeting the checkpoint quorum (lines by unknown keys are ignored, C2SP signed-note);
2. every entry envelope is a well-formed entry whose leaf hash is the claimed entry hash, and
   whose author signed it with a key the consortium file gives that author;
3. what the response says about each entry (type, actor, time, payload digest) is what the
   signed envelope says;
4. every inclusion proof leads from the leaf to the root of the checkpoint's tree; if the
   proofs are to a different tree size, a consistency proof between the two sizes must link
   the response's own (signed) checkpoint to the trusted one;
5. what the response says about its document is what the entries show: a provenance's events
   are in log order, none twice, and each is bound to the document (its signed subject is the
   document, or one of its signed refs is an earlier event of the document); the stated kind,
   issuer and status agree with them. A verify answer's defining entry has the document as its
   subject, a defining type of the stated kind and the stated issuer as author.

6. the answer's ``status_proof`` (``docs/ledger-format.md`` §12): its block header is the block a
   verified checkpoint signs, the status map proof leads from the document's record (or its
   absence) to the header's ``status_root``, a provenance's events are exactly the record's
   (none left out), and the stated status is the record's.

What is not proven is said too (:attr:`ProofReport.not_proven`): an answer without a status
proof (accepted only when ``require_status_proof`` is off) leaves the status the node's word.

Pure: callers pass parsed JSON and parsed checkpoints. Every failure is a
:class:`~ledger.errors.ProofInvalid` or :class:`~ledger.errors.CheckpointInvalid` whose one
sentence names what failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ledger.blocks import BlockHeader, Checkpoint, checkpoint_origin
from ledger.consortium import Membership
from ledger.encoding import b64decode
from ledger.entries import Entry, parse_entry
from ledger.errors import (
    CheckpointInvalid,
    EncodingError,
    EntryRejected,
    ProofInvalid,
    UnreadableInput,
)
from ledger.merkle import verify_consistency, verify_inclusion
from ledger.status_map import DocumentState, verify_events, verify_proof

__all__ = [
    "DEFINING_TYPES",
    "ProofReport",
    "VerifiedEntry",
    "parse_checkpoint",
    "response_kind",
    "verify_checkpoint",
    "verify_response",
    "verify_response_bytes",
]


#: The entry types that define a document of each kind, as a node's index reads them
#: (``nodes/index.py``): the last of them with the document as subject gives its kind, issuer
#: (the author) and defining entry.
DEFINING_TYPES: Mapping[str, frozenset[str]] = {
    "certificate_of_origin": frozenset({"co.issued", "co.amended"}),
    "origin_declaration": frozenset({"origin.declaration"}),
    "customs_declaration": frozenset({"customs.export_declaration", "customs.import_declaration"}),
}
_KIND_OF_TYPE = {t: kind for kind, types in DEFINING_TYPES.items() for t in types}
#: The statuses events decide ("expired" is "current" past its validity, which the payload
#: says, not the envelope).
_STATUSES = ("current", "expired", "revoked", "superseded")


@dataclass(frozen=True)
class VerifiedEntry:
    """One entry shown to be in the log under the trusted checkpoint."""

    entry_hash: str
    leaf_index: int
    type: str
    author: str
    timestamp: str
    subject: str | None
    refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProofReport:
    """What :func:`verify_response` established (``proven``) and what it could not
    (``not_proven``), one sentence each."""

    kind: str
    document_id: str | None
    tree_size: int
    height: int
    signers: tuple[str, ...]
    proof_tree_size: int
    entries: tuple[VerifiedEntry, ...]
    status: str | None = None
    proven: tuple[str, ...] = ()
    not_proven: tuple[str, ...] = ()

    @property
    def via_consistency(self) -> bool:
        return self.proof_tree_size != self.tree_size

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": True,
            "kind": self.kind,
            "document_id": self.document_id,
            "status": self.status,
            "tree_size": self.tree_size,
            "height": self.height,
            "signers": list(self.signers),
            "proof_tree_size": self.proof_tree_size,
            "via_consistency": self.via_consistency,
            "entries": [
                {
                    "entry_hash": e.entry_hash,
                    "leaf_index": e.leaf_index,
                    "type": e.type,
                    "author": e.author,
                    "timestamp": e.timestamp,
                    "subject": e.subject,
                    "refs": list(e.refs),
                }
                for e in self.entries
            ],
            "proven": list(self.proven),
            "not_proven": list(self.not_proven),
        }


# --- the checkpoint -------------------------------------------------------------------------


def parse_checkpoint(data: bytes | str) -> Checkpoint:
    """A checkpoint from its signed-note text or from the JSON of ``GET /v1/checkpoint``
    (the ``checkpoint`` member of a ``POST /v1/verify`` response is accepted too)."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise UnreadableInput(f"the checkpoint file is not valid JSON: {exc}") from exc
        if isinstance(doc, dict) and isinstance(doc.get("checkpoint"), dict):
            doc = doc["checkpoint"]  # a POST /v1/verify response
        if not isinstance(doc, dict) or not isinstance(doc.get("checkpoint"), str):
            raise UnreadableInput("the checkpoint JSON has no 'checkpoint' text member")
        text = doc["checkpoint"]
    if not text:
        raise CheckpointInvalid("the checkpoint is empty (the node had no block yet)")
    return _checkpoint_from_text(text, "the checkpoint")


def _checkpoint_from_text(text: str, what: str) -> Checkpoint:
    try:
        checkpoint = Checkpoint.from_text(text)
        _ = checkpoint.height, checkpoint.block_hash
    except CheckpointInvalid as exc:
        raise CheckpointInvalid(f"{what} is malformed: {exc.detail}") from exc
    except ValueError as exc:
        raise CheckpointInvalid(f"{what} is malformed: {exc}") from exc
    return checkpoint


def verify_checkpoint(
    checkpoint: Checkpoint, membership: Membership, what: str = "the checkpoint"
) -> tuple[str, ...]:
    """The organisations whose known keys signed ``checkpoint`` (quorum enforced)."""
    expected = checkpoint_origin(membership.consortium_id)
    if checkpoint.origin != expected:
        raise CheckpointInvalid(
            f"{what} is for {checkpoint.origin!r}, not this consortium ({expected!r})"
        )
    try:
        signers = checkpoint.verify(membership)
    except CheckpointInvalid as exc:
        raise CheckpointInvalid(exc.detail.replace("the checkpoint", what, 1)) from exc
    return tuple(sorted(signers))


# --- responses ------------------------------------------------------------------------------


def response_kind(response: Any) -> str:
    """``provenance``, ``inclusion-proof`` or ``verify``; UnreadableInput for anything else."""
    if isinstance(response, dict):
        if "events" in response and "document_id" in response:
            return "provenance"
        if "found" in response and isinstance(response.get("checkpoint"), dict):
            return "verify"
        if {"leaf_index", "tree_size", "hashes", "envelope"} <= response.keys():
            return "inclusion-proof"
    raise UnreadableInput(
        "the file is not a provenance, inclusion-proof or verify response of a tradeledger node"
    )


@dataclass(frozen=True)
class _Claim:
    """One entry the response claims is in the log, with its proof."""

    where: str
    envelope: bytes
    entry_hash: str
    leaf_index: int
    tree_size: int
    hashes: tuple[bytes, ...]
    stated: Mapping[str, Any]


def verify_response(
    response: Mapping[str, Any],
    checkpoint: Checkpoint,
    membership: Membership,
    consistency: Mapping[str, Any] | None = None,
    *,
    require_status_proof: bool = False,
    today: date | None = None,
) -> ProofReport:
    """Check ``response`` against the trusted ``checkpoint`` and ``membership`` (module doc).

    ``consistency`` is a ``GET /v1/consistency-proof`` response linking the response's tree
    size and the checkpoint's; a ``consistency_proof`` member of the response serves too.
    ``require_status_proof`` refuses a provenance or found verify answer without a
    ``status_proof`` (a node that withholds it would otherwise leave the status unproven);
    ``today`` (default: today, UTC) decides whether a current certificate has expired.
    """
    kind = response_kind(response)
    signers = verify_checkpoint(checkpoint, membership)
    claims, own_checkpoint, document_id = _claims(kind, response)
    proof_size = checkpoint.tree_size
    if claims:
        proof_size = claims[0].tree_size
        for claim in claims:
            if claim.tree_size != proof_size:
                raise ProofInvalid(
                    f"{claim.where}: its proof is to a tree of {claim.tree_size} leaves, "
                    f"the others to {proof_size}"
                )
    root = _root_for(
        proof_size,
        checkpoint,
        own_checkpoint,
        membership,
        consistency if consistency is not None else response.get("consistency_proof"),
    )
    entries = tuple(_verify_claim(c, membership, root) for c in claims)
    proven = [
        f"the checkpoint (height {checkpoint.height}, tree size {checkpoint.tree_size}) is "
        f"signed by {', '.join(signers)}, a quorum of the consortium",
        f"{_count(len(entries))} in the log under it, each signed by its author with a key "
        "the consortium file gives the author, and each as the response describes it",
    ]
    not_proven: list[str] = []
    status = response.get("status")
    status = status if isinstance(status, str) else None
    status_proof = response.get("status_proof") if kind != "inclusion-proof" else None
    if kind != "inclusion-proof" and status_proof is None and require_status_proof:
        raise ProofInvalid(
            f"the response carries no status proof for {document_id}: nothing proves its "
            "status, nor that no event of it was left out"
        )
    if kind == "provenance":
        assert document_id is not None  # _claims requires it
        wheres = [c.where for c in claims]
        _check_order(entries, wheres)
        proven += _check_provenance(document_id, response, entries, wheres)
        if status_proof is None:
            not_proven.append(
                f"that these are all the events of {document_id}; the status "
                f"{_quoted(status)} is the node's word"
            )
    elif kind == "verify":
        proven += _check_defining_entry(document_id, response, entries[0])
        if status_proof is None:
            not_proven.append(
                f"that {document_id} has no event but its defining entry (a revocation or "
                f"amendment may be left out); the status {_quoted(status)} is the node's word"
            )
    if status_proof is not None and document_id is not None:
        anchor = _status_anchor(status_proof, checkpoint, own_checkpoint, membership, proof_size)
        proven.append(
            _check_status_proof(
                kind,
                document_id,
                response,
                entries,
                status_proof,
                anchor,
                today or datetime.now(UTC).date(),
            )
        )
    return ProofReport(
        kind=kind,
        document_id=document_id,
        tree_size=checkpoint.tree_size,
        height=checkpoint.height,
        signers=signers,
        proof_tree_size=proof_size,
        entries=entries,
        status=status if kind != "inclusion-proof" else None,
        proven=tuple(proven),
        not_proven=tuple(not_proven),
    )


# --- the status map (docs/ledger-format.md §12) ----------------------------------------------


def _status_anchor(
    status_proof: Any,
    trusted: Checkpoint,
    own: Checkpoint | None,
    membership: Membership,
    proof_size: int,
) -> tuple[BlockHeader, int]:
    """The block header a status proof is at, shown to be the one a verified checkpoint signs
    (the trusted one, or the response's own, linked to it by the proofs' tree): the header
    and that checkpoint's height."""
    if not isinstance(status_proof, dict):
        raise ProofInvalid("the status proof is not an object")
    height = _field(status_proof, "height", int, "the status proof")
    try:
        header = BlockHeader.from_bytes(
            b64decode(_field(status_proof, "header", str, "the status proof"))
        )
    except (EncodingError, ValueError) as exc:
        detail = exc.detail if isinstance(exc, EncodingError) else str(exc)
        raise ProofInvalid(f"the status proof's block header is unreadable: {detail}") from exc
    if header.height != height:
        raise ProofInvalid(
            f"the status proof is at height {height}, its block header at {header.height}"
        )
    if height == trusted.height:
        anchor = trusted
    elif own is not None and own.height == height and own.tree_size == proof_size:
        verify_checkpoint(own, membership, "the response's checkpoint")
        anchor = own
    else:
        raise ProofInvalid(
            f"the status proof is at height {height}; neither the trusted checkpoint "
            f"(height {trusted.height}) nor the response's own checkpoint is of that block"
        )
    if header.block_hash != anchor.block_hash or header.tree_size != anchor.tree_size:
        raise ProofInvalid(
            f"the status proof's block header is not the block the checkpoint at height "
            f"{height} signs (its hash differs)"
        )
    return header, height


def _check_status_proof(
    kind: str,
    document_id: str,
    response: Mapping[str, Any],
    entries: tuple[VerifiedEntry, ...],
    status_proof: Mapping[str, Any],
    anchor: tuple[BlockHeader, int],
    today: date,
) -> str:
    """The map proof against the header's ``status_root``; a provenance's events against the
    record (all of them, none missing); the stated status against it. The sentence proven."""
    header, height = anchor
    raw_record = status_proof.get("record")
    try:
        record = None if raw_record is None else DocumentState.from_json(raw_record)
        proof = b64decode(_field(status_proof, "proof", str, "the status proof"))
    except (EncodingError, ValueError) as exc:
        detail = exc.detail if isinstance(exc, EncodingError) else str(exc)
        raise ProofInvalid(f"the status proof is unreadable: {detail}") from exc
    verify_proof(bytes.fromhex(header.status_root), document_id, proof, record)
    if kind == "provenance":
        if record is None:
            if entries:
                raise ProofInvalid(
                    f"the status map holds nothing for {document_id} at checkpoint {height}; "
                    f"the answer lists {len(entries)} event(s)"
                )
        else:
            verify_events(record, [bytes.fromhex(e.entry_hash) for e in entries])
    elif record is None:
        raise ProofInvalid(
            f"the status map holds nothing for {document_id} at checkpoint {height}, "
            "yet the answer says it was found"
        )
    status = response.get("status")
    status = status if isinstance(status, str) else None  # a 404 problem's is its HTTP status
    if record is None:
        if status not in (None, "unknown"):
            raise ProofInvalid(
                f"the answer says {document_id} is {_quoted(status)}; the status map at "
                f"checkpoint {height} holds nothing for it"
            )
        return (
            f"{document_id} has no event on the ledger as of checkpoint {height} "
            "(the status map holds nothing for it)"
        )
    allowed = {record.status}
    if record.status == "current" and record.valid_until is not None:
        allowed.add("expired")  # decided by the node's date; ours is below
    if status not in allowed:
        raise ProofInvalid(
            f"the answer says {document_id} is {_quoted(status)}; the status map at "
            f"checkpoint {height} records {_quoted(record.status)}"
        )
    if response.get("superseded_by") != record.superseded_by:
        raise ProofInvalid(
            f"the answer says {document_id} is superseded by "
            f"{response.get('superseded_by')!r}; the status map records "
            f"{record.superseded_by!r}"
        )
    shown = record.status
    if record.status == "superseded" and record.superseded_by:
        shown += f" by {record.superseded_by}"
    if record.valid_until is not None and record.status == "current":
        shown = (
            f"expired (current until {record.valid_until})"
            if record.is_expired(today)
            else f"current (valid until {record.valid_until})"
        )
    events = (
        f"these {record.events} event(s) are all of its events"
        if kind == "provenance"
        else f"it has {record.events} event(s), which its provenance lists"
    )
    return (
        f"status {shown} as of checkpoint {height} (the status map's record of "
        f"{document_id}); {events}"
    )


def _quoted(value: Any) -> str:
    return json.dumps(value)


def _count(n: int) -> str:
    return f"{n} entr{'y is' if n == 1 else 'ies are'}"


# --- what a response says about its document -------------------------------------------------


def _check_order(entries: tuple[VerifiedEntry, ...], wheres: list[str]) -> None:
    """A provenance lists events in log order, each once (a node lists them by leaf index)."""
    seen: dict[str, str] = {}
    for i, entry in enumerate(entries):
        if entry.entry_hash in seen:
            raise ProofInvalid(
                f"{wheres[i]} is {seen[entry.entry_hash]} again: an event may be listed once"
            )
        seen[entry.entry_hash] = wheres[i]
        if i and entry.leaf_index <= entries[i - 1].leaf_index:
            raise ProofInvalid(
                f"{wheres[i]} comes after leaf {entries[i - 1].leaf_index}: the events are "
                "not in log order"
            )


def _check_provenance(
    document_id: str,
    response: Mapping[str, Any],
    entries: tuple[VerifiedEntry, ...],
    wheres: list[str],
) -> list[str]:
    """Every event is bound to the document; the stated kind, issuer and status agree with the
    events. Returns what that proved."""
    bound: set[str] = set()
    for where, entry in zip(wheres, entries, strict=True):
        if entry.subject != document_id and not bound.intersection(entry.refs):
            raise ProofInvalid(
                f"{where} is not an event of {document_id}: its signed subject is "
                f"{entry.subject!r} and none of its signed refs is an earlier event of "
                f"{document_id}"
            )
        bound.add(entry.entry_hash)
    proven = [
        f"every event is bound to {document_id} (its signed subject, or a signed ref to an "
        "earlier event of it), in log order, none twice"
    ]
    # The document as its events define it, folded in log order the way a node's index does.
    defining: tuple[str, VerifiedEntry] | None = None
    implied: str | None = None
    changed_by: tuple[str, VerifiedEntry] | None = None  # the revocation or amendment
    for where, entry in zip(wheres, entries, strict=True):
        if entry.subject == document_id and entry.type in _KIND_OF_TYPE:
            defining = where, entry
            implied = "revoked" if implied == "revoked" else "current"
        elif entry.type == "co.revoked" and entry.subject == document_id:
            implied, changed_by = "revoked", (where, entry)
        elif entry.type == "co.amended" and entry.subject != document_id:
            implied, changed_by = "superseded", (where, entry)
    kind = response.get("kind")
    if defining is not None:
        where, entry = defining
        if kind != _KIND_OF_TYPE[entry.type]:
            raise ProofInvalid(
                f"the response says {document_id} is of kind {_quoted(kind)}, but {where} "
                f"defines it as a {_KIND_OF_TYPE[entry.type]}"
            )
        _check_issuer(response, entry, where, document_id)
        proven.append(f"{document_id} is a {kind} by {entry.author}, defined by {where}")
    elif isinstance(kind, str) and kind in DEFINING_TYPES:
        raise ProofInvalid(
            f"the response says {document_id} is a {kind}, but none of its events is a "
            f"{' or '.join(sorted(DEFINING_TYPES[kind]))} of {document_id}"
        )
    status = response.get("status")
    if implied == "current":
        consistent = status in ("current", "expired")
    elif implied is not None:
        consistent = status == implied
    else:
        consistent = status not in _STATUSES
    if not consistent:
        changed = changed_by[0] if changed_by is not None else "an event"
        why = {
            "revoked": f"{changed} revokes it",
            "superseded": f"{changed} amends it",
            "current": "its events define it and neither revoke nor amend it",
            None: "none of its events defines it",
        }[implied]
        raise ProofInvalid(f"the response says {document_id} is {_quoted(status)}, but {why}")
    if implied == "superseded" and changed_by is not None:
        superseded_by = response.get("superseded_by")
        if superseded_by != changed_by[1].subject:
            raise ProofInvalid(
                f"the response says {document_id} is superseded by {superseded_by!r}, but "
                f"{changed_by[0]} amends it as {changed_by[1].subject!r}"
            )
    proven.append(f"the status {_quoted(status)} is consistent with these events")
    return proven


def _check_issuer(
    response: Mapping[str, Any], entry: VerifiedEntry, where: str, document_id: str | None
) -> None:
    issuer = response.get("issuer")
    if issuer != entry.author:
        raise ProofInvalid(
            f"the response says {document_id} was issued by {issuer!r}, but {where} is "
            f"signed by {entry.author}"
        )


def _check_defining_entry(
    document_id: str | None, response: Mapping[str, Any], entry: VerifiedEntry
) -> list[str]:
    """A verify answer's entry defines the stated document, of the stated kind and issuer."""
    where = f"the defining entry of {document_id}"
    if not isinstance(document_id, str):
        raise ProofInvalid("the response carries an entry but names no document_id")
    if entry.subject != document_id:
        raise ProofInvalid(
            f"the response says its entry defines {document_id!r}, but the entry's signed "
            f"subject is {entry.subject!r}"
        )
    kind = response.get("kind")
    types = DEFINING_TYPES.get(kind) if isinstance(kind, str) else None
    if types is None or entry.type not in types:
        raise ProofInvalid(
            f"the response says {document_id} is of kind {_quoted(kind)}, but its entry is "
            f"a {entry.type}" + (f", not a {' or '.join(sorted(types))}" if types else "")
        )
    _check_issuer(response, entry, where, document_id)
    issued_at = response.get("issued_at")
    if issued_at is not None and issued_at != entry.timestamp:
        raise ProofInvalid(
            f"the response says {document_id} was issued at {issued_at!r}, but its entry "
            f"is signed at {entry.timestamp}"
        )
    return [f"{document_id} is a {kind} by {entry.author}, defined by entry {entry.entry_hash}"]


def _claims(
    kind: str, response: Mapping[str, Any]
) -> tuple[list[_Claim], Checkpoint | None, str | None]:
    if kind == "provenance":
        document_id = _field(response, "document_id", str, "the response")
        events = _field(response, "events", list, "the response")
        if not events:
            status_proof = response.get("status_proof")
            if isinstance(status_proof, dict) and status_proof.get("record") is None:
                # a document the map holds nothing for: the status proof is all there is
                return [], _own_checkpoint(response.get("checkpoint")), document_id
            raise ProofInvalid(f"the provenance of {document_id} lists no events to verify")
        claims = []
        for i, event in enumerate(events):
            where = f"event {i + 1} ({_describe(event)})"
            if not isinstance(event, dict):
                raise ProofInvalid(f"{where} is not an object")
            proof = _field(event, "inclusion_proof", dict, where)
            claims.append(_claim(where, event, proof))
        size = _field(response, "tree_size", int, "the response")
        if claims[0].tree_size != size:
            raise ProofInvalid(
                f"the response says its proofs are to {size} leaves, but they are to "
                f"{claims[0].tree_size}"
            )
        return claims, _own_checkpoint(response.get("checkpoint")), document_id
    if kind == "inclusion-proof":
        where = f"entry {response.get('entry_hash')}"
        return (
            [_claim(where, response, response)],
            _own_checkpoint(response.get("checkpoint")),
            None,
        )
    # verify
    if response.get("found") is not True or response.get("inclusion_proof") is None:
        reason = response.get("reason") or "no inclusion proof in the response"
        raise ProofInvalid(f"the response proves nothing: {reason}")
    document_id = response.get("document_id")
    where = f"the defining entry of {document_id}"
    proof = _field(response, "inclusion_proof", dict, where)
    own = response["checkpoint"].get("checkpoint")
    return (
        [_claim(where, response, proof)],
        _own_checkpoint(own),
        document_id if isinstance(document_id, str) else None,
    )


def _claim(where: str, item: Mapping[str, Any], proof: Mapping[str, Any]) -> _Claim:
    envelope_b64 = _field(item, "envelope", str, where)
    try:
        envelope = b64decode(envelope_b64, "the envelope")
    except EncodingError as exc:
        raise ProofInvalid(f"{where}: {exc.detail}") from exc
    hashes = _field(proof, "hashes", list, where)
    decoded = []
    for j, h in enumerate(hashes):
        if not isinstance(h, str) or len(h) != 64:
            raise ProofInvalid(f"{where}: proof hash {j} is not 64 hex digits")
        try:
            decoded.append(bytes.fromhex(h))
        except ValueError as exc:
            raise ProofInvalid(f"{where}: proof hash {j} is not hex") from exc
    leaf_index = _field(proof, "leaf_index", int, where)
    if "leaf_index" in item and item["leaf_index"] != leaf_index:
        raise ProofInvalid(f"{where}: its leaf index differs from its proof's")
    return _Claim(
        where=where,
        envelope=envelope,
        entry_hash=_field(item, "entry_hash", str, where),
        leaf_index=leaf_index,
        tree_size=_field(proof, "tree_size", int, where),
        hashes=tuple(decoded),
        stated=item,
    )


def _own_checkpoint(text: Any) -> Checkpoint | None:
    if not isinstance(text, str) or not text:
        return None
    return _checkpoint_from_text(text, "the response's checkpoint")


def _root_for(
    size: int,
    trusted: Checkpoint,
    own: Checkpoint | None,
    membership: Membership,
    consistency: Any,
) -> bytes:
    """The root of the tree of ``size`` leaves, established from the trusted checkpoint."""
    # Whatever size the proofs are to, a response checkpoint of the trusted size must agree.
    if (
        own is not None
        and own.tree_size == trusted.tree_size
        and own.root_hash != trusted.root_hash
    ):
        raise ProofInvalid(
            f"the response's checkpoint has a different root for the same tree size "
            f"{trusted.tree_size} than the trusted checkpoint (a fork, or a forged response)"
        )
    if size == trusted.tree_size:
        return trusted.root_hash
    if consistency is None:
        relation = "smaller" if size < trusted.tree_size else "larger"
        raise ProofInvalid(
            f"the response's proofs are to a tree of {size} leaves, {relation} than the "
            f"checkpoint's {trusted.tree_size}, and no consistency proof links the two "
            f"(fetch GET /v1/consistency-proof?first={min(size, trusted.tree_size)}"
            f"&second={max(size, trusted.tree_size)} and pass it with --consistency)"
        )
    if not isinstance(consistency, dict):
        raise ProofInvalid("the consistency proof is not an object")
    first = _field(consistency, "first", int, "the consistency proof")
    second = _field(consistency, "second", int, "the consistency proof")
    if (first, second) != (min(size, trusted.tree_size), max(size, trusted.tree_size)):
        raise ProofInvalid(
            f"the consistency proof is from {first} to {second} leaves; "
            f"{min(size, trusted.tree_size)} to {max(size, trusted.tree_size)} is needed"
        )
    # The other tree's root comes from a signed checkpoint of that size: the response's own,
    # or the one the consistency proof carries.
    other = own if own is not None and own.tree_size == size else None
    if other is None:
        key = "first_checkpoint" if first == size else "second_checkpoint"
        other = _own_checkpoint(consistency.get(key))
        if other is None or other.tree_size != size:
            raise ProofInvalid(f"no checkpoint of the tree of {size} leaves to verify against")
    verify_checkpoint(other, membership, f"the checkpoint of the tree of {size} leaves")
    hashes = []
    for j, h in enumerate(_field(consistency, "hashes", list, "the consistency proof")):
        try:
            hashes.append(bytes.fromhex(h) if isinstance(h, str) and len(h) == 64 else b"")
        except ValueError:
            hashes.append(b"")
        if not hashes[-1]:
            raise ProofInvalid(f"consistency proof hash {j} is not 64 hex digits")
    roots = {size: other.root_hash, trusted.tree_size: trusted.root_hash}
    try:
        verify_consistency(first, second, roots[first], roots[second], hashes)
    except ProofInvalid as exc:
        raise ProofInvalid(
            f"the tree of {size} leaves is not consistent with the checkpoint: {exc.detail}"
        ) from exc
    return other.root_hash


def _verify_claim(claim: _Claim, membership: Membership, root: bytes) -> VerifiedEntry:
    where = claim.where
    try:
        entry = parse_entry(claim.envelope)
    except (EncodingError, EntryRejected) as exc:
        raise ProofInvalid(f"{where}: the envelope is not a valid entry: {exc.detail}") from exc
    if entry.hash_hex != claim.entry_hash:
        raise ProofInvalid(
            f"{where}: the envelope hashes to {entry.hash_hex}, not the stated entry hash"
        )
    _check_signatures(entry, membership, where)
    _check_stated(entry, claim.stated, where)
    try:
        verify_inclusion(entry.entry_hash, claim.leaf_index, claim.tree_size, claim.hashes, root)
    except ProofInvalid as exc:
        raise ProofInvalid(f"{where}: {exc.detail}") from exc
    return VerifiedEntry(
        entry_hash=entry.hash_hex,
        leaf_index=claim.leaf_index,
        type=entry.type,
        author=entry.author,
        timestamp=entry.timestamp,
        subject=entry.subject,
        refs=entry.refs,
    )


def _check_signatures(entry: Entry, membership: Membership, where: str) -> None:
    """The author's signature must verify under a key the consortium file gives the author;
    other signatures by known keys must verify too (unknown co-signers are not judged)."""
    message = entry.signing_message
    for key_id, signature in entry.signatures:
        owner = membership.key_owner(key_id)
        if key_id == entry.key_id and owner != entry.author:
            raise ProofInvalid(
                f"{where}: key {key_id} is not a key of the author {entry.author} in the "
                "consortium file (a key added by a later membership change cannot be checked "
                "offline)"
            )
        public_key = membership.public_key(key_id)
        if public_key is None:
            continue
        if not public_key.verify(signature, message):
            raise ProofInvalid(f"{where}: the signature by {owner} (key {key_id}) does not verify")


def _check_stated(entry: Entry, stated: Mapping[str, Any], where: str) -> None:
    """What the response says beside the envelope must be what the envelope says."""
    fields = {
        "event": entry.type,
        "type": entry.type,
        "actor": entry.author,
        "author": entry.author,
        "timestamp": entry.timestamp,
        "payload_digest": entry.payload_digest,
    }
    for name, signed in fields.items():
        if name in stated and stated[name] != signed:
            raise ProofInvalid(
                f"{where}: the response says {name} {stated[name]!r}, the signed entry "
                f"says {signed!r}"
            )


def _field(doc: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    value = doc.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProofInvalid(f"{where}: {name} is missing or not a {kind.__name__}")
    return value


def _describe(event: Any) -> str:
    if isinstance(event, dict):
        return f"{event.get('event')} at leaf {event.get('leaf_index')}"
    return "?"


def verify_response_bytes(
    response: bytes,
    checkpoint: bytes | str,
    membership: Membership,
    consistency: bytes | None = None,
    *,
    require_status_proof: bool = False,
) -> ProofReport:
    """:func:`verify_response` on the raw files (JSON response, checkpoint, consistency)."""
    return verify_response(
        _json(response, "the response"),
        parse_checkpoint(checkpoint),
        membership,
        None if consistency is None else _json(consistency, "the consistency proof"),
        require_status_proof=require_status_proof,
    )


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise UnreadableInput(f"{what} is not valid JSON: {exc}") from exc
