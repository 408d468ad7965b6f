"""The one error hierarchy of tradeledger.

Every error a user can meet is a :class:`TradeLedgerError`. Each subclass knows

* ``code``: a stable machine-readable slug (the last part of its RFC 9457 problem type URI),
* ``status``: the HTTP status the API answers with,
* ``exit_code``: what the CLI exits with,
* ``title``: a short human summary that does not change between occurrences,

and each instance carries ``detail`` (one plain sentence about this occurrence) and optional
``location`` (a JSON pointer, XPath or ``height/entry`` reference). The API turns any of these
into a problem-details body with :meth:`TradeLedgerError.problem`; the CLI prints
:meth:`TradeLedgerError.one_line` and exits with ``exit_code``.

The tree, at a glance::

    TradeLedgerError
    ├── InvalidInput                  422  bad input from a user or a file
    │   ├── EncodingError             422  not in the canonical encoding
    │   ├── UnreadableInput           422  not the kind of file asked for (CLI exit 2)
    │   ├── DocumentInvalid           422  a trade document fails its schema or business rules
    │   ├── OriginInputError          422  a bill of materials or rule table is unusable
    │   ├── SealedPayloadInvalid      422  a sealed payload is malformed or does not open
    │   └── PayloadTooLarge           413
    ├── NoRuleData                    422  no rule data for a product (CLI exit 3)
    ├── OriginNotSupported            422  a CO's origin claim is not supported by its evidence
    ├── Unauthenticated               401
    ├── Forbidden                     403
    │   └── NotARecipient             403  a sealed payload was not sealed to this key
    ├── NotFound                      404
    ├── Conflict                      409
    │   └── DuplicateEntry            409  an entry already on the ledger (or the same nonce)
    ├── EntryRejected                 422  an entry that cannot be appended
    │   ├── UnknownKey / KeyRevoked / RoleNotAllowed / SignatureInvalid
    │   ├── UnknownReference / TimestampInFuture / TimestampTooOld / QuorumNotMet
    │   └── WrongConsortium           422  signed for another consortium
    ├── IntegrityError                     the ledger's bytes do not verify (audit exit 1)
    │   ├── BlockInvalid, MerkleRootMismatch, ChainBroken, CheckpointInvalid
    │   ├── ProofInvalid
    │   ├── WitnessQuorumNotMet        too few trusted witnesses cosigned a checkpoint
    │   ├── AuditStateInvalid          an auditor's saved state is corrupted or not this log's
    │   └── SplitView                  two signed checkpoints that are not consistent
    ├── WitnessRefused           4xx  a witness will not cosign (status per C2SP tlog-witness)
    │   ├── MalformedWitnessRequest 400 / UnknownLog 404 / CheckpointUntrusted 403
    │   └── WitnessSizeMismatch 409 / CheckpointInconsistent 422
    ├── ConfigurationError            500  a home, genesis or settings file is unusable (exit 2)
    ├── StorageError                  503  the database failed (exit 2)
    └── NodeBusy                      503  too much is waiting for a block; retry (exit 2)
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "https://tradeledger.dev/problems/"


class TradeLedgerError(Exception):
    """Base of every error tradeledger raises on purpose."""

    code: ClassVar[str] = "error"
    title: ClassVar[str] = "Trade ledger error"
    status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, detail: str, *, location: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.location = location
        self.extra: dict[str, Any] = extra

    @property
    def problem_type(self) -> str:
        return PROBLEM_BASE + self.code

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """RFC 9457 problem details for this error (extension members from ``extra``)."""
        body: dict[str, Any] = {
            "type": self.problem_type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance is not None:
            body["instance"] = instance
        if self.location is not None:
            body["location"] = self.location
        body.update(self.extra)
        return body

    def one_line(self) -> str:
        """The single line the CLI prints."""
        where = f" (at {self.location})" if self.location else ""
        return f"error[{self.code}]: {self.detail}{where}"


# --- bad input ---------------------------------------------------------------------------


class InvalidInput(TradeLedgerError):
    code = "invalid-input"
    title = "Invalid input"
    status = 422
    exit_code = 1


class EncodingError(InvalidInput):
    code = "non-canonical-encoding"
    title = "Not in the canonical encoding"


class UnreadableInput(InvalidInput):
    """A file or body that is not even the kind of thing asked for (CLI exit 2, "unreadable")."""

    code = "unreadable-input"
    title = "Unreadable input"
    exit_code = 2


class DocumentInvalid(InvalidInput):
    """A trade document that fails schema or business-rule validation.

    ``errors`` is a list of ``{"code", "location", "message"}`` dicts, one per finding.
    """

    code = "document-invalid"
    title = "The document is not valid"

    def __init__(
        self, detail: str, *, errors: list[dict[str, str]] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail, errors=errors or [], **extra)
        self.errors: list[dict[str, str]] = errors or []


class OriginInputError(InvalidInput):
    code = "origin-input-invalid"
    title = "The origin input is not usable"


class SealedPayloadInvalid(InvalidInput):
    """A sealed payload or key grant (``ledger.sealed_payload``) that is malformed, altered,
    bound to another entry, or does not open with the key given."""

    code = "sealed-payload-invalid"
    title = "The sealed payload is not valid"


class PayloadTooLarge(InvalidInput):
    code = "payload-too-large"
    title = "The request body is too large"
    status = 413


class NoRuleData(TradeLedgerError):
    code = "no-rule-data"
    title = "No rule data for this product"
    status = 422
    exit_code = 3


class OriginNotSupported(TradeLedgerError):
    """A certificate of origin whose origin evidence does not support what it claims.

    ``items`` lists, per refused item, ``item_number``, ``claimed``, ``outcome`` (a slug:
    ``not-originating``, ``criterion-not-supported``, ``needs-decision``, ``no-rule-data``),
    ``reasons`` (plain sentences) and, where known, ``supported``
    (the criterion the evidence does support), ``failing_materials`` and ``coverage``.
    """

    code = "origin-not-supported"
    title = "The origin evidence does not support the certificate's claim"
    status = 422
    exit_code = 1

    def __init__(self, detail: str, *, items: list[dict[str, Any]], **extra: Any) -> None:
        super().__init__(detail, items=items, **extra)
        self.items = items


# --- access ------------------------------------------------------------------------------


class Unauthenticated(TradeLedgerError):
    code = "unauthenticated"
    title = "Authentication required"
    status = 401
    exit_code = 2


class Forbidden(TradeLedgerError):
    code = "forbidden"
    title = "Not allowed for this role"
    status = 403
    exit_code = 2


class NotARecipient(Forbidden):
    """The sealed payload (or key grant) has no wrapped key for the decryption key given."""

    code = "not-a-recipient"
    title = "Not a recipient of the sealed payload"


class NotFound(TradeLedgerError):
    code = "not-found"
    title = "Not found"
    status = 404
    exit_code = 1


class EntryLeftOut(NotFound):
    """Acknowledged (the ordering service committed it) but left out of the ledger when its
    block was cut, by every honest node alike: it failed the chain's rules then (another
    node's entry for the same document came first, say). It will never be on the ledger."""

    code = "entry-left-out"
    title = "Entry left out of the ledger"
    status = 410


class Conflict(TradeLedgerError):
    code = "conflict"
    title = "Conflicts with the ledger's state"
    status = 409


class DuplicateEntry(Conflict):
    code = "duplicate-entry"
    title = "The entry is already on the ledger"


# --- entries refused at append time (and found again by replay) ---------------------------


class EntryRejected(TradeLedgerError):
    code = "entry-rejected"
    title = "The entry cannot be appended"
    status = 422


class UnknownKey(EntryRejected):
    code = "unknown-key"
    title = "The signing key is not a member's key"


class KeyRevoked(EntryRejected):
    code = "key-revoked"
    title = "The signing key was revoked"


class RoleNotAllowed(EntryRejected):
    code = "role-not-allowed"
    title = "The author's roles do not allow this entry type"
    status = 403


class SignatureInvalid(EntryRejected):
    code = "bad-signature"
    title = "A signature does not verify"


class UnknownReference(EntryRejected):
    code = "unknown-reference"
    title = "The entry refers to an entry that is not on the ledger"


class TimestampInFuture(EntryRejected):
    code = "timestamp-in-future"
    title = "The entry's timestamp is too far in the future"


class TimestampTooOld(EntryRejected):
    code = "timestamp-too-old"
    title = "The entry's timestamp is too far before the previous block"


class WrongConsortium(EntryRejected):
    code = "wrong-consortium"
    title = "The entry was signed for another consortium"


class QuorumNotMet(EntryRejected):
    code = "quorum-not-met"
    title = "Not enough member signatures"


# --- integrity of stored bytes -------------------------------------------------------------


class IntegrityError(TradeLedgerError):
    """The ledger's bytes do not verify. ``height`` and ``entry`` name the first failure."""

    code = "integrity"
    title = "The ledger does not verify"
    status = 500
    exit_code = 1


class BlockInvalid(IntegrityError):
    code = "block-invalid"
    title = "A block does not verify"


class ChainBroken(IntegrityError):
    code = "chain-broken"
    title = "A block does not link to its predecessor"


class MerkleRootMismatch(IntegrityError):
    code = "merkle-root-mismatch"
    title = "A block's Merkle root does not match its entries"


class CheckpointInvalid(IntegrityError):
    code = "checkpoint-invalid"
    title = "A checkpoint does not verify"


class ProofInvalid(IntegrityError):
    code = "proof-invalid"
    title = "A Merkle proof does not verify"
    status = 422


class WitnessQuorumNotMet(IntegrityError):
    code = "witness-quorum-not-met"
    title = "Too few trusted witnesses cosigned the checkpoint"
    status = 422


class AuditStateInvalid(IntegrityError):
    """An auditor's saved state (``audit replay --state``, ``audit watch --state``) that is
    corrupted, edited, or made for another consortium or node: nothing it vouches for is
    taken, and it is left as it is."""

    code = "audit-state-invalid"
    title = "The saved audit state cannot be used"
    status = 422


class SplitView(IntegrityError):
    """Two checkpoints of one log, both properly signed, that no single append-only log can
    have produced (a fork shown to different readers, or a rollback)."""

    code = "split-view"
    title = "Two signed checkpoints are not consistent"
    status = 422


# --- witnessing (C2SP tlog-witness): each refusal has the status the protocol prescribes ----


class WitnessRefused(TradeLedgerError):
    code = "witness-refused"
    title = "The witness does not cosign this checkpoint"
    status = 400
    exit_code = 1


class MalformedWitnessRequest(WitnessRefused):
    code = "witness-bad-request"
    title = "Not an add-checkpoint request"
    status = 400


class UnknownLog(WitnessRefused):
    code = "unknown-log"
    title = "The witness does not witness this log"
    status = 404


class CheckpointUntrusted(WitnessRefused):
    code = "checkpoint-untrusted"
    title = "The checkpoint lacks the log's valid signatures"
    status = 403


class WitnessSizeMismatch(WitnessRefused):
    """``old`` is not the size the witness last cosigned; ``stored_size`` tells the client."""

    code = "witness-size-mismatch"
    title = "The old size is not the last size the witness cosigned"
    status = 409

    def __init__(self, detail: str, *, stored_size: int) -> None:
        super().__init__(detail, stored_size=stored_size)
        self.stored_size = stored_size


class CheckpointInconsistent(WitnessRefused):
    code = "checkpoint-inconsistent"
    title = "The checkpoint is not consistent with what the witness cosigned"
    status = 422


# --- the shell ---------------------------------------------------------------------------


class ConfigurationError(TradeLedgerError):
    code = "configuration"
    title = "The configuration is unusable"
    status = 500
    exit_code = 2


class StoreInconsistent(IntegrityError):
    """What a node's store holds does not match the chain it signed: the node refuses to serve
    or sign on top of it (someone changed its database, or it is damaged)."""

    code = "store-inconsistent"
    title = "The node's store does not match its signed chain"
    exit_code = 2


class StorageError(TradeLedgerError):
    code = "storage"
    title = "The ledger store failed"
    status = 503
    exit_code = 2


class NodeBusy(TradeLedgerError):
    """The node has as many entries waiting for a block as it holds; nothing was recorded.
    ``retry_after`` (seconds) becomes the answer's ``Retry-After`` header."""

    code = "node-busy"
    title = "The node is busy"
    status = 503
    exit_code = 2

    def __init__(self, detail: str, *, retry_after: int = 1, **extra: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extra)
        self.retry_after = retry_after
