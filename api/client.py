"""A small typed Python client for a tradeledger node.

    from api.client import TradeLedgerClient

    with TradeLedgerClient("http://127.0.0.1:8000", token) as node:
        # the node signs with the caller organisation's key
        receipt = node.submit_document(certificate, event="co.issued")
        # or sign yourself and submit the entry
        entry = build_entry("co.issued", "jp-jcci", my_key, payload, "application/json",
                            consortium_id=node.health().consortium_id,
                            subject="jp-jcci/JCCI-2026-0000042")
        receipt = node.submit_entry(entry)
        history = node.provenance(receipt.document_id)

Every method returns a pydantic model of :mod:`api.schemas` (or bytes for files). Every error
the node answers with is raised as the matching :class:`~ledger.errors.TradeLedgerError`
subclass, rebuilt from its RFC 9457 problem details (``DuplicateEntry`` for a replayed entry,
``NotFound``, ``Forbidden``…); a node that cannot be reached raises :class:`NodeUnreachable`.
``transport`` lets tests put any ``httpx`` transport underneath.
"""

from __future__ import annotations

import base64
import json
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from api.schemas import (
    BlockResponse,
    CheckpointResponse,
    ConsistencyProofResponse,
    Determination,
    EntryResponse,
    Health,
    InclusionProofResponse,
    OriginEvidenceResponse,
    ProvenanceResponse,
    SubmissionResponse,
    VerifyResponse,
)
from ledger import errors
from ledger.entries import Entry
from ledger.errors import TradeLedgerError

ENTRY_MEDIA_TYPE = "application/vnd.tradeledger.entry+json"
M = TypeVar("M", bound=BaseModel)

__all__ = ["NodeUnreachable", "RemoteError", "TradeLedgerClient"]


class NodeUnreachable(TradeLedgerError):
    """The node could not be reached, or did not answer in time."""

    code = "node-unreachable"
    title = "The node could not be reached"
    status = 503
    exit_code = 2


class RemoteError(TradeLedgerError):
    """A problem the node reported whose ``code`` this client does not know."""

    code = "remote-error"
    title = "The node reported an error"


def _error_classes() -> dict[str, type[TradeLedgerError]]:
    found: dict[str, type[TradeLedgerError]] = {}
    stack: list[type[TradeLedgerError]] = [errors.TradeLedgerError]
    while stack:
        cls = stack.pop()
        found.setdefault(cls.code, cls)
        stack.extend(cls.__subclasses__())
    return found


def error_from_problem(status: int, body: Any) -> TradeLedgerError:
    """The :class:`TradeLedgerError` a problem-details body describes."""
    if not isinstance(body, dict):
        body = {"detail": str(body)[:500]}
    code = str(body.get("code") or "")
    detail = str(body.get("detail") or body.get("title") or f"HTTP {status}")
    extra = {
        k: v
        for k, v in body.items()
        if k not in {"type", "title", "status", "detail", "code", "location", "errors"}
    }
    cls = _error_classes().get(code)
    try:
        if cls is not None and cls is not TradeLedgerError:
            if cls is errors.DocumentInvalid or issubclass(cls, errors.DocumentInvalid):
                exc = cls(detail, errors=body.get("errors"), location=body.get("location"))
            else:
                exc = cls(detail, location=body.get("location"), **extra)
                if body.get("errors") is not None:
                    exc.extra["errors"] = body["errors"]
            return exc
    except TypeError:
        pass  # a subclass with another constructor: fall through to a generic error
    exc = RemoteError(detail, location=body.get("location"), code_reported=code, **extra)
    exc.status = status  # type: ignore[misc]
    return exc


class TradeLedgerClient:
    """Typed access to one node's HTTP API."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        *,
        timeout: float = 30.0,
    ) -> None:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, transport=transport, timeout=timeout
        )

    # -- plumbing --------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TradeLedgerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise NodeUnreachable(f"{method} {path}: {exc}") from exc
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = response.text
            raise error_from_problem(response.status_code, body)
        return response

    def _get(self, path: str, model: type[M], **params: Any) -> M:
        params = {k: v for k, v in params.items() if v is not None}
        return model.model_validate(self._request("GET", path, params=params).json())

    # -- the ledger --------------------------------------------------------------------------

    def health(self) -> Health:
        return self._get("/v1/health", Health)

    def checkpoint(self) -> CheckpointResponse:
        return self._get("/v1/checkpoint", CheckpointResponse)

    def consortium_bytes(self) -> bytes:
        """The consortium (genesis) file exactly as the node holds it."""
        return self._request("GET", "/v1/consortium").content

    def block(self, height: int) -> BlockResponse:
        return self._get(f"/v1/blocks/{height}", BlockResponse)

    def entry(self, entry_hash: str) -> EntryResponse:
        return self._get(f"/v1/entries/{entry_hash}", EntryResponse)

    def inclusion_proof(
        self, entry_hash: str, tree_size: int | None = None
    ) -> InclusionProofResponse:
        return self._get(
            f"/v1/entries/{entry_hash}/inclusion-proof", InclusionProofResponse, tree_size=tree_size
        )

    def consistency_proof(self, first: int, second: int) -> ConsistencyProofResponse:
        return self._get(
            "/v1/consistency-proof", ConsistencyProofResponse, first=first, second=second
        )

    # -- documents ---------------------------------------------------------------------------

    def submit_document(
        self,
        document: dict[str, Any] | bytes | str,
        *,
        event: str,
        content_type: str | None = None,
    ) -> SubmissionResponse:
        """Submit a document for the node to sign with the caller organisation's key.

        ``document`` is a dict (sent as JSON) or the file's bytes/text (JSON unless
        ``content_type`` says ``application/xml``).
        """
        if isinstance(document, dict):
            body = json.dumps(document, ensure_ascii=False).encode()
            content_type = content_type or "application/json"
        else:
            body = document.encode() if isinstance(document, str) else document
            content_type = content_type or (
                "application/xml" if body.lstrip().startswith(b"<") else "application/json"
            )
        response = self._request(
            "POST",
            "/v1/documents",
            params={"event": event},
            content=body,
            headers={"Content-Type": content_type},
        )
        return SubmissionResponse.model_validate(response.json())

    def submit_entry(
        self, entry: Entry | bytes, payload: bytes | None = None
    ) -> SubmissionResponse:
        """Submit an entry signed with your own key (an :class:`Entry`, or envelope + payload)."""
        if isinstance(entry, Entry):
            envelope, payload = entry.envelope, entry.payload
        else:
            envelope = entry
        if payload is None:
            raise errors.InvalidInput("an entry is submitted with its payload")
        body = json.dumps(
            {
                "envelope": base64.b64encode(envelope).decode(),
                "payload": base64.b64encode(payload).decode(),
            }
        ).encode()
        response = self._request(
            "POST", "/v1/documents", content=body, headers={"Content-Type": ENTRY_MEDIA_TYPE}
        )
        return SubmissionResponse.model_validate(response.json())

    def share_document(self, document_id: str, org_id: str) -> SubmissionResponse:
        """Share a sealed document with another organisation (a ``payload.shared`` entry)."""
        response = self._request(
            "POST",
            f"/v1/documents/{document_id}/share",
            content=json.dumps({"org_id": org_id}).encode(),
            headers={"Content-Type": "application/json"},
        )
        return SubmissionResponse.model_validate(response.json())

    def document(self, document_id: str) -> bytes:
        """The document's current content, as the node holds it (JSON or XML bytes)."""
        return self._request("GET", f"/v1/documents/{document_id}").content

    def provenance(self, document_id: str) -> ProvenanceResponse:
        return self._get(f"/v1/documents/{document_id}/provenance", ProvenanceResponse)

    def origin_evidence(self, document_id: str) -> OriginEvidenceResponse:
        """The bills of materials and determinations behind a certificate (issuer, importing
        customs and auditors only)."""
        return self._get(f"/v1/documents/{document_id}/origin-evidence", OriginEvidenceResponse)

    # -- verification and origin -----------------------------------------------------------

    def verify(
        self,
        *,
        document: bytes | None = None,
        content_type: str = "application/json",
        digest: str | None = None,
        document_id: str | None = None,
    ) -> VerifyResponse:
        """Check a certificate by its file, its digest or its id (no token needed)."""
        if document is not None:
            body, ctype = document, content_type
        elif digest is not None:
            body, ctype = json.dumps({"digest": digest}).encode(), "application/json"
        elif document_id is not None:
            body, ctype = json.dumps({"document_id": document_id}).encode(), "application/json"
        else:
            raise errors.InvalidInput("give a document, a digest or a document_id")
        response = self._request(
            "POST", "/v1/verify", content=body, headers={"Content-Type": ctype}
        )
        return VerifyResponse.model_validate(response.json())

    def determine_origin(
        self, bom: dict[str, Any], *, agreement: str, product: str
    ) -> Determination:
        body = json.dumps({**bom, "agreement": agreement, "product": product}).encode()
        response = self._request(
            "POST",
            "/v1/origin/determinations",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        return Determination.model_validate(response.json())
