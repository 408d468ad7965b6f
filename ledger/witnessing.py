"""The checks of a C2SP ``tlog-witness`` ``add-checkpoint`` request (``docs/ledger-format.md`` §10).

Pure: parsing the request body and deciding whether a witness that last cosigned
``(stored_size, stored_root)`` for a log may cosign the offered checkpoint. Each refusal is the
error whose HTTP status the protocol prescribes (400 malformed, 404 unknown log, 403 signatures,
409 old size, 422 consistency). Storing and signing are the shell's (``nodes/witness.py``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.blocks import Checkpoint
from ledger.consortium import Membership
from ledger.cosignature import CosignerKey
from ledger.errors import (
    CheckpointInconsistent,
    CheckpointInvalid,
    CheckpointUntrusted,
    ConfigurationError,
    MalformedWitnessRequest,
    ProofInvalid,
    WitnessQuorumNotMet,
    WitnessSizeMismatch,
)
from ledger.merkle import verify_consistency

#: tlog-witness: "The client MUST NOT send more than 63 consistency proof lines."
MAX_PROOF_LINES = 63
EMPTY_TREE_ROOT = hashlib.sha256(b"").digest()
_OLD_LINE = re.compile(r"old (0|[1-9][0-9]*)")


@dataclass(frozen=True)
class AddCheckpointRequest:
    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: Checkpoint
    #: the checkpoint's note as sent (body, blank line, signature lines)
    note: str


def format_add_checkpoint(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The request body a log sends: ``old <size>``, proof lines, a blank line, the note."""
    lines = [f"old {old_size}"] + [base64.b64encode(h).decode() for h in proof]
    return ("\n".join(lines) + "\n\n" + note).encode()


def parse_add_checkpoint(body: bytes) -> AddCheckpointRequest:
    """Parse a request body; :class:`MalformedWitnessRequest` (400) if it is not one."""
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise MalformedWitnessRequest("the request body is not UTF-8") from exc
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise MalformedWitnessRequest("the request has no blank line before the checkpoint")
    lines = head.split("\n")
    match = _OLD_LINE.fullmatch(lines[0])
    if match is None:
        raise MalformedWitnessRequest("the request does not start with an `old <size>` line")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise MalformedWitnessRequest(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof: list[bytes] = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            node = base64.b64decode(line, validate=True)
        except binascii.Error as exc:
            raise MalformedWitnessRequest(f"proof line {number} is not base64") from exc
        if len(node) != 32:
            raise MalformedWitnessRequest(f"proof line {number} is not a SHA-256 hash")
        proof.append(node)
    try:
        checkpoint = Checkpoint.from_text(note)
    except (CheckpointInvalid, ValueError) as exc:
        raise MalformedWitnessRequest(f"the checkpoint is malformed: {exc}") from exc
    old_size = int(match.group(1))
    if old_size > checkpoint.tree_size:
        raise MalformedWitnessRequest(
            f"old size {old_size} is larger than the checkpoint's size {checkpoint.tree_size}"
        )
    return AddCheckpointRequest(old_size, tuple(proof), checkpoint, note)


def check_log_signatures(checkpoint: Checkpoint, membership: Membership) -> None:
    """The log's own signatures: the consortium's checkpoint quorum, no bad known signature."""
    try:
        checkpoint.verify(membership)
    except CheckpointInvalid as exc:
        raise CheckpointUntrusted(exc.detail) from exc


def check_extends(request: AddCheckpointRequest, stored_size: int, stored_root: bytes) -> None:
    """Whether the checkpoint extends what the witness last cosigned (``stored_size`` 0 and the
    empty-tree root if it never cosigned for this log)."""
    new = request.checkpoint
    if request.old_size != stored_size:
        raise WitnessSizeMismatch(
            f"old size {request.old_size} is not {stored_size}, the size last cosigned",
            stored_size=stored_size,
        )
    if new.tree_size == 0 and new.root_hash != EMPTY_TREE_ROOT:
        raise CheckpointInconsistent("a checkpoint of size 0 must have the empty tree's root")
    if request.old_size == 0 and request.proof:
        raise CheckpointInconsistent("a proof from size 0 must be empty")
    if request.old_size == new.tree_size and new.root_hash != stored_root:
        raise CheckpointInconsistent(
            f"a checkpoint of size {new.tree_size} with another root than the one cosigned"
        )
    try:
        verify_consistency(
            request.old_size, new.tree_size, stored_root, new.root_hash, request.proof
        )
    except ProofInvalid as exc:
        raise CheckpointInconsistent(
            f"the consistency proof does not verify: {exc.detail}"
        ) from exc


def check_witness_quorum(
    checkpoint: Checkpoint, witnesses: Sequence[CosignerKey], quorum: int
) -> dict[str, int]:
    """At least ``quorum`` of ``witnesses`` have a valid cosignature on ``checkpoint``.

    Returns the witnesses that do (vkey -> cosignature timestamp); lines by other keys are
    ignored. :class:`WitnessQuorumNotMet` otherwise.
    """
    found: dict[str, int] = {}
    for sig in checkpoint.signatures:
        for witness in witnesses:
            if witness.matches(sig.name, sig.key_hash):
                timestamp = witness.verify_payload(checkpoint.body, sig.signature)
                if timestamp is not None:
                    found[witness.vkey()] = timestamp
    if len(found) < quorum:
        names = ", ".join(w.name for w in witnesses)
        raise WitnessQuorumNotMet(
            f"the checkpoint at height {checkpoint.height} has valid cosignatures by "
            f"{len(found)} of the witnesses {names}; {quorum} are needed"
        )
    return found


def parse_witness_policy(vkeys: Sequence[str], quorum: int | None) -> tuple[list[CosignerKey], int]:
    """The ``--witness VKEY … --witness-quorum N`` policy (N defaults to 1 with any witness)."""
    witnesses = [CosignerKey.from_vkey(v) for v in vkeys]
    needed = (1 if witnesses else 0) if quorum is None else quorum
    if needed > len(witnesses):
        raise ConfigurationError(
            f"a witness quorum of {needed} needs at least {needed} --witness vkeys"
        )
    return witnesses, needed
