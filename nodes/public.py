"""What anyone may learn about a certificate of origin on the public ``/verify`` page.

A customs officer or bank clerk looks a certificate up by issuer and number, or uploads the
file they were given, or scans the QR code printed on it. Anyone learns the certificate's
status, its issuer, its dates and the timeline of its events (what happened, when, by whom, in
which block), checked against the node's current signed checkpoint. The goods and the parties'
details are shown only to a visitor who proves possession of the document: an uploaded file
whose digest is on the ledger, or the document digest the printed QR code carries.

Read-only: everything comes from the node's index, its in-memory tree and its stored entries.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from documents.printable import render_certificate_pdf, verify_url
from ledger.blocks import BlockHeader, Checkpoint
from ledger.encoding import b64decode
from ledger.errors import InvalidInput, NotFound, TradeLedgerError
from ledger.merkle import inclusion_proof, verify_inclusion
from ledger.status_map import DocumentState, verify_events, verify_proof
from nodes import documents_bridge as bridge
from nodes.index import DocumentInfo

if TYPE_CHECKING:
    from nodes.service import LedgerNode

CERTIFICATE = "certificate_of_origin"
#: The words shown for each status (the page also colours them).
STATUS_WORDS = {
    "valid": "Valid — the certificate is current",
    "expired": "Expired — its validity period (one year from issue) is over",
    "superseded": "Superseded — replaced by an amended certificate",
    "revoked": "Revoked by the issuing body",
    "unknown": "Unknown — no certificate with this number is on the ledger",
}
EVENT_LABELS = {
    "co.application": "Applied for",
    "co.issued": "Issued",
    "co.amended": "Amended",
    "co.revoked": "Revoked",
    "origin.declaration": "Declaration of origin",
    "customs.export_declaration": "Export declaration",
    "customs.import_declaration": "Import declaration",
    "customs.verification_requested": "Verification requested",
    "customs.verification_result": "Verification result",
    "bank.presentation": "Presented to a bank",
}
#: What the timeline shows instead of an actor to a visitor who has not proved possession.
HIDDEN_ACTOR = "(shown to holders of the certificate)"
ORG_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_NUMBER = 128


@dataclass(frozen=True)
class TimelineEvent:
    event: str
    label: str
    timestamp: str
    actor: str
    actor_name: str
    height: int
    leaf_index: int
    entry_hash: str


@dataclass(frozen=True)
class CheckpointSeen:
    """The signed checkpoint a lookup was checked against."""

    height: int
    tree_size: int
    root_hash: str
    time: str
    signers: list[tuple[str, str]]  # (org id, legal name) of each valid signature
    text: str


@dataclass
class CertificateView:
    """Everything the ``/verify`` page shows for one lookup."""

    document_id: str | None
    status: str  # valid, expired, superseded, revoked or unknown
    checkpoint: CheckpointSeen
    issuer: str | None = None
    issuer_name: str | None = None
    recorded_at: str | None = None
    valid_until: str | None = None
    superseded_by: str | None = None
    entry_hash: str | None = None
    leaf_index: int | None = None
    included: bool = False
    #: the status map's record at the checkpoint's block was checked against its header and
    #: the events shown (``docs/ledger-format.md`` §12): how many events it counts, or None
    status_proven_events: int | None = None
    events: list[TimelineEvent] = field(default_factory=list)
    #: how the visitor proved possession ("file" or "digest"), or None
    proven_by: str | None = None
    #: the digest the printed QR code and the PDF link carry (only with possession)
    digest: str | None = None
    #: the certificate's content (only with possession)
    certificate: dict[str, Any] | None = None
    #: something the visitor must be warned about (a file or code that does not match)
    warning: str | None = None

    @property
    def status_words(self) -> str:
        return STATUS_WORDS[self.status]

    @property
    def found(self) -> bool:
        return self.status != "unknown"


def document_id_of(issuer: str, number: str) -> str:
    """``issuer/number`` from the page's form, or :class:`InvalidInput` saying what is wrong."""
    issuer, number = issuer.strip(), number.strip()
    if not ORG_ID.match(issuer):
        raise InvalidInput(
            "the issuer is an organisation id of the consortium (lower-case letters, digits "
            "and hyphens)",
            location="/query/issuer",
        )
    if not number:
        raise InvalidInput("enter the certificate number", location="/query/number")
    if len(number) > MAX_NUMBER or "/" in number or not number.isprintable():
        raise InvalidInput(
            f"a certificate number is at most {MAX_NUMBER} printable characters without '/'",
            location="/query/number",
        )
    return f"{issuer}/{number}"


def split_id(document_id: str) -> tuple[str, str]:
    """The issuer and number of an ``id`` parameter (``<issuer>/<number>``)."""
    issuer, sep, number = document_id.strip().partition("/")
    if not sep:
        raise InvalidInput(
            "id is <issuer>/<certificate number>, e.g. jp-jcci/JCCI-2026-0000042",
            location="/query/id",
        )
    return issuer, number


def check_digest(digest: str) -> str:
    if not DIGEST.match(digest.strip()):
        raise InvalidInput("the document digest (d) is 64 hexadecimal digits", location="/query/d")
    return digest.strip().lower()


def digest_for_print(info: DocumentInfo) -> str | None:
    """The digest a printed certificate's QR code carries: the document digest (the same for
    the JSON and XML forms), or none where the ``documents`` package cannot compute one."""
    return info.document_digest


class PublicCertificates:
    """The ``/verify`` page's questions, answered from one node."""

    def __init__(self, node: LedgerNode) -> None:
        self.node = node

    def lookup(self, document_id: str, digest: str | None = None) -> CertificateView:
        """By id; with ``digest`` (from the QR code) the goods too, if it matches."""
        info = self._certificate(document_id)
        if info is None:
            return self._unknown(document_id)
        holder = digest is not None and info.proves_possession(digest)
        view = self._view(info, holder=holder)
        if holder:
            self._reveal(view, info, "digest")
        elif digest is not None:
            view.warning = (
                "The code or link you followed does not match this certificate's content: "
                "the document you hold may have been altered. Only the ledger record is "
                "shown."
            )
        return view

    def lookup_file(self, body: bytes, content_type: str) -> CertificateView:
        """By an uploaded file (JSON or XML): its goods are shown if its digest is on the
        ledger; a file that names a certificate but does not match it is flagged."""
        if not body.strip():
            raise InvalidInput("the file is empty", location="/file")
        fields = bridge.parse_document(body, content_type)
        found = self.node.find_file(body, content_type, CERTIFICATE)
        if found is not None:
            view = self._view(found, holder=True)
            self._reveal(view, found, "file")
            return view
        document_id = _named_id(fields, "/file")
        info = self._certificate(document_id)
        if info is None:
            return self._unknown(document_id)
        view = self._view(info)
        view.warning = (
            "This file does not match the certificate on the ledger: it has been altered or is "
            "not the issued version. Do not rely on its content."
        )
        return view

    # -- building the view ------------------------------------------------------------------

    def _certificate(self, document_id: str) -> DocumentInfo | None:
        info = self.node.index.document(document_id)
        # only issued certificates are public: declarations and applications never are
        if info is None or info.kind != CERTIFICATE:
            return None
        return info

    def _checkpoint(self) -> CheckpointSeen:
        head = self.node.head
        membership = self.node.membership
        signers: list[tuple[str, str]] = []
        if head.checkpoint:
            try:
                verified = Checkpoint.from_text(head.checkpoint).verified_signers(membership)
            except TradeLedgerError:
                verified = {}
            signers = [(org_id, self._name(org_id)) for org_id in sorted(verified)]
        return CheckpointSeen(
            head.height, head.tree_size, head.root_hash.hex(), head.time, signers, head.checkpoint
        )

    def _name(self, org_id: str | None) -> str:
        if org_id is None:
            return ""
        org = self.node.membership.organisations.get(org_id)
        return org.legal_name if org is not None else org_id

    def _unknown(self, document_id: str | None) -> CertificateView:
        return CertificateView(document_id, "unknown", self._checkpoint())

    def _view(self, info: DocumentInfo, *, holder: bool = False) -> CertificateView:
        """The ledger record of a certificate. Who did what is shown to a visitor who proved
        possession; anyone else sees only the issuer named (it is on the certificate's public
        record), not the customs, banks or exporters that acted on it."""
        checkpoint = self._checkpoint()
        status = info.status_on(datetime.now(UTC).date())
        view = CertificateView(
            info.document_id,
            "valid" if status == "current" else status,
            checkpoint,
            issuer=info.issuer,
            issuer_name=self._name(info.issuer),
            recorded_at=info.issued_at,
            valid_until=info.valid_until,
            superseded_by=info.superseded_by,
            entry_hash=info.defining_hash,
        )
        size = checkpoint.tree_size
        for ev in self.node.index.events(info.document_id):
            if ev.idx >= size:
                continue  # in a block newer than the checkpoint we show
            shown = holder or ev.author == info.issuer
            view.events.append(
                TimelineEvent(
                    ev.type,
                    EVENT_LABELS.get(ev.type, ev.type),
                    ev.timestamp,
                    ev.author if shown else "",
                    self._name(ev.author) if shown else HIDDEN_ACTOR,
                    ev.height,
                    ev.idx,
                    ev.entry_hash.hex(),
                )
            )
            if ev.entry_hash.hex() == info.defining_hash:
                view.leaf_index = ev.idx
        record = self._proven_status(info.document_id, checkpoint, view.events)
        if record is not None:
            # the status as of the checkpoint's block, proven (the index may be a block ahead)
            today = datetime.now(UTC).date()
            status = "expired" if record.is_expired(today) else record.status
            view.status = "valid" if status == "current" else status
            view.superseded_by = record.superseded_by
            view.valid_until = record.valid_until
            view.status_proven_events = record.events
        if view.leaf_index is not None and info.defining_hash:
            proof = inclusion_proof(self.node.tree, view.leaf_index, size)
            try:
                verify_inclusion(
                    bytes.fromhex(info.defining_hash),
                    view.leaf_index,
                    size,
                    proof,
                    bytes.fromhex(checkpoint.root_hash),
                )
                view.included = True
            except TradeLedgerError:
                view.included = False
        return view

    def _proven_status(
        self, document_id: str, checkpoint: CheckpointSeen, events: list[TimelineEvent]
    ) -> DocumentState | None:
        """The status map's record at the checkpoint's block, checked as ``proof verify``
        checks it: the header is the block the checkpoint signs, the map proof leads from the
        record to its status root, and the events shown are all the record counts."""
        if not checkpoint.text:
            return None
        try:
            answer = self.node.reads.status_proof(document_id, checkpoint.height)
            if answer is None or answer["record"] is None:
                return None
            header = BlockHeader.from_bytes(b64decode(answer["header"]))
            if header.block_hash != Checkpoint.from_text(checkpoint.text).block_hash:
                return None
            record = DocumentState.from_json(answer["record"])
            verify_proof(
                bytes.fromhex(header.status_root), document_id, b64decode(answer["proof"]), record
            )
            verify_events(record, [bytes.fromhex(ev.entry_hash) for ev in events])
        except (TradeLedgerError, ValueError):
            return None
        return record

    # -- the printable certificate ------------------------------------------------------------

    def pdf(
        self, info: DocumentInfo, base_url: str, content: tuple[bytes, str] | None = None
    ) -> bytes:
        """The certificate as a PDF whose QR code opens its ``/verify`` page on ``base_url``;
        whoever calls has already been allowed to see its content (``content``, the payload
        and its media type, when the caller has read it already)."""
        if info.kind != CERTIFICATE:
            raise InvalidInput(
                f"{info.document_id} is not a certificate of origin; only certificates print"
            )
        payload, content_type = content or self.node.content_of(info)
        return render_certificate_pdf(
            certificate_fields(payload, content_type),
            verify_link=verify_url(base_url, info.document_id, digest_for_print(info)),
            status=info.status_on(datetime.now(UTC).date()),
            issuer_name=self._name(info.issuer),
        )

    def pdf_for_holder(self, document_id: str, digest: str, base_url: str) -> bytes:
        """The PDF for a visitor who proves possession with the document digest; 404 (the same
        answer whether the certificate or the digest is wrong) otherwise."""
        info = self._certificate(document_id)
        if info is None or not info.proves_possession(digest):
            raise NotFound(f"no certificate {document_id!r} with this digest")
        return self.pdf(info, base_url)

    def _reveal(self, view: CertificateView, info: DocumentInfo, how: str) -> None:
        payload, content_type = self.node.content_of(info)
        view.proven_by = how
        view.digest = digest_for_print(info)
        view.certificate = certificate_fields(payload, content_type)


def sniff_media(body: bytes) -> str:
    """``application/xml`` or ``application/json`` from a file's first character: browsers
    and file systems label certificate files inconsistently (or as octet-stream)."""
    if not body.strip():
        raise InvalidInput("the file is empty", location="/file")
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"<":
        return "application/xml"
    if head in (b"{", b"["):
        return "application/json"
    raise InvalidInput(
        "the file is neither XML nor JSON; use the certificate file itself", location="/file"
    )


def print_file(body: bytes, base_url: str) -> tuple[str, str, bytes]:
    """A certificate file printed offline: its document id, the QR code's ``/verify`` address
    on ``base_url`` and the PDF. The QR code carries the digest the ledger indexes for exactly
    these bytes, so it proves possession once this file is the one issued."""
    media = sniff_media(body)
    fields = certificate_fields(body, media)
    kind = fields.get("document_type")
    if kind not in (None, CERTIFICATE):
        raise InvalidInput(f"this file is a {kind}, not a certificate of origin", location="/")
    document_id = _named_id(fields, "/")
    digest = bridge.document_digest(body, media) or hashlib.sha256(body).hexdigest()
    link = verify_url(base_url, document_id, digest)
    return document_id, link, render_certificate_pdf(fields, verify_link=link)


def certificate_fields(payload: bytes, content_type: str) -> dict[str, Any]:
    """A stored certificate as the plain JSON-shaped dict the page and the PDF read (XML is
    read through the ``documents`` models, which give the JSON field names)."""
    return bridge.parse_document(payload, content_type)


def _named_id(fields: dict[str, Any], location: str) -> str:
    """The id of the certificate a file names (its issuer and number), or 422."""
    issuer, number = fields.get("issuer"), fields.get("number")
    if not isinstance(issuer, str) or not isinstance(number, str):
        raise InvalidInput(
            "this file is not a certificate of origin (it names no issuer and number)",
            location=location,
        )
    return document_id_of(issuer, number)
