"""The ledger as the document rules see it (``documents.DocumentRegistry``).

The business rules that depend on the ledger (a number is not taken; an amended or referenced
certificate is on the ledger and current; a declaration claiming preference names a certificate
for the same importing country and subheadings) ask through this adapter over the node's
document index and store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, cast

import documents
from documents.models import CertificateOfOrigin
from ledger.entries import parse_entry
from ledger.errors import TradeLedgerError
from nodes.index import DocumentIndex
from nodes.store import StoredEntry

CertificateStatus = Literal["current", "revoked", "superseded"]


class LedgerRegistry:
    """``has_document`` and ``registered_certificate`` over a node's index and entries."""

    def __init__(
        self, index: DocumentIndex, entry_by_hash: Callable[[bytes], StoredEntry | None]
    ) -> None:
        self.index = index
        self.entry_by_hash = entry_by_hash

    def has_document(self, document_id: str) -> bool:
        """Whether a document with this id is recorded: an exporter's application for a
        number (or a row for an id only named so far) does not take the number."""
        info = self.index.document(document_id)
        return info is not None and info.kind not in (None, "co_application")

    def registered_certificate(self, document_id: str) -> documents.RegisteredCertificate | None:
        info = self.index.document(document_id)
        if info is None or info.kind != "certificate_of_origin" or not info.defining_hash:
            return None
        stored = self.entry_by_hash(bytes.fromhex(info.defining_hash))
        if stored is None or stored.payload is None:
            return None
        try:
            media = parse_entry(stored.envelope).content_type
            co = documents.parse_document(stored.payload, media)
        except TradeLedgerError:
            return None  # recorded before the document schemas (a pre-signed, older payload)
        if not isinstance(co, CertificateOfOrigin):
            return None
        status = info.status if info.status in ("current", "revoked", "superseded") else "current"
        return documents.RegisteredCertificate.of(co, cast(CertificateStatus, status))
