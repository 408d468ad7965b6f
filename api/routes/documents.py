"""Trade documents: submit (node-signed or pre-signed), read, and their provenance."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api import acknowledgements, admission
from api.deps import CallerDep, NodeDep, json_response
from api.routes.common import problems
from api.schemas import (
    CertificateExample,
    OriginEvidenceResponse,
    ProvenanceResponse,
    SignedEntry,
    SubmissionResponse,
)
from ledger.entries import Entry
from ledger.errors import InvalidInput, NodeBusy, StorageError
from nodes import documents_bridge as bridge
from nodes.service import ENTRY_MEDIA_TYPE, LedgerNode
from nodes.submissions import DOCUMENT_EVENTS, DocumentsPending

router = APIRouter(prefix="/v1", tags=["documents"])

EventName = Literal[
    "co.application",
    "co.issued",
    "co.amended",
    "co.revoked",
    "origin.declaration",
    "customs.export_declaration",
    "customs.import_declaration",
    "customs.verification_requested",
    "customs.verification_result",
    "bank.presentation",
]
assert set(EventName.__args__) == set(DOCUMENT_EVENTS)  # type: ignore[attr-defined]

DocumentIdPath = Annotated[
    str,
    Path(
        description="`<issuer org id>/<document number>` (the slash is part of the id).",
        examples=["jp-jcci/JCCI-2026-0000042"],
    ),
]

_SUBMIT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "description": "A trade document as JSON (see the `event` parameter).",
                "additionalProperties": True,
            },
            "examples": {"certificate": {"value": CertificateExample}},
        },
        "application/xml": {
            "schema": {"type": "string", "description": "A trade document as XML."},
            "example": "<certificate_of_origin><number>JCCI-2026-0000042</number>"
            "<issuer>jp-jcci</issuer><importing_country>VN</importing_country>"
            "</certificate_of_origin>",
        },
        ENTRY_MEDIA_TYPE: {
            "schema": {"$ref": "#/components/schemas/SignedEntry"},
        },
    },
}


@router.post(
    "/documents",
    status_code=201,
    response_model=SubmissionResponse,
    summary="Submit a document or lifecycle event",
    description=(
        "Either a document (JSON or XML; the Content-Type says which) with `event` naming "
        "what it is, signed by this node with the caller organisation's key; or an entry the "
        f"caller signed itself (`{ENTRY_MEDIA_TYPE}`: base64 envelope and payload). The answer "
        "comes only once the entry is durably journaled; it is normally in a block within 200 ms. "
        "Who may submit what: issuing authorities `co.issued`, `co.amended`, `co.revoked`; "
        "exporters `co.application`, `origin.declaration`; customs declarations and "
        "verification for their own country; banks `bank.presentation`. A certificate "
        "(`co.issued`, `co.amended`) sent as JSON may carry `origin_evidence`, "
        '`[{"item_number": 1, "bom": {…}}]`: the node re-determines each evidenced item and '
        "refuses the certificate (422 `origin-not-supported`, per-item reasons) unless the "
        "evidence supports its claimed origin criterion; on success the certificate is "
        "recorded with `origin_determinations` (digests, not the bills of materials) and the "
        "evidence as a separate confidential `origin.evidence` entry. When as many entries "
        "wait for a block as the node holds, a submission waits for room (up to 10 s), then "
        "gets 503 `node-busy` with `Retry-After`, having recorded nothing."
    ),
    openapi_extra={"requestBody": _SUBMIT_BODY},
    responses=problems(401, 403, 409, 413, 415, 422, 503),
)
async def submit(
    request: Request,
    node: NodeDep,
    caller: CallerDep,
    event: Annotated[
        EventName | None,
        Query(description="The lifecycle event the document is (not for pre-signed entries)."),
    ] = None,
) -> Response:
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() == ENTRY_MEDIA_TYPE:
        envelope, payload = _signed_entry(body)
        presigned = partial(node.prepare_entry, caller, envelope, payload)

        def prepare() -> list[Entry]:
            return [presigned()]

    else:
        if event is None:
            raise InvalidInput(
                "say which lifecycle event the document is with ?event=…", location="/query/event"
            )
        if bridge.media_type(content_type) == "application/json":  # 415 before anything else
            # origin evidence is read by another parser before the document's: refuse what
            # would break it (deep nesting, lone surrogates) with its location first
            bridge.check_json(body)
        prepare = partial(node.prepare_document, caller, event, body, content_type)
    result = await _journaled(node, prepare, len(body))
    return json_response(result, 201, headers={"Location": f"/v1/entries/{result['entry_hash']}"})


#: Documents up to this size are checked on the event loop: for them a hop to a worker thread
#: costs more interpreter time than the checks. Larger ones go to a thread, so that a 5 MB
#: document does not hold up every other request while it is parsed.
INLINE_BODY_LIMIT = 64 * 1024


async def _journaled(
    node: LedgerNode, prepare: Callable[[], list[Entry]], body_size: int
) -> dict[str, object]:
    """Check and queue the entries (a document's, and its origin evidence's if it has one),
    then wait for the journal's durable commit without holding a thread (many submissions
    share one commit). First, wait for room in the node's block backlog (``api.admission``)."""
    durable, on_done = acknowledgements.for_running_loop().future()

    def check_and_queue() -> dict[str, object]:
        return node.enqueue_all(prepare(), on_done)

    async def checked_and_queued() -> dict[str, object]:
        if body_size <= INLINE_BODY_LIMIT:
            return check_and_queue()
        return await run_in_threadpool(check_and_queue)

    timeout = node.orderer.admission_timeout
    async with admission.admitted(node.orderer, timeout):
        try:
            result = await checked_and_queued()
        except DocumentsPending as pending:
            # it names a document acknowledged a moment ago: judge it once that one is indexed
            await _until_indexed(node, pending.document_ids, timeout)
            try:
                result = await checked_and_queued()
            except DocumentsPending as still:
                raise NodeBusy(
                    f"{still} is still being written to a block; nothing was recorded, send "
                    "it again"
                ) from None
    # a timer instead of asyncio.wait_for, which wraps every wait in extra futures
    timed_out = False

    def expire() -> None:
        nonlocal timed_out
        timed_out = True
        durable.cancel()

    timer = asyncio.get_running_loop().call_later(node.orderer.ack_timeout, expire)
    try:
        await durable
    except asyncio.CancelledError:
        if timed_out:
            raise StorageError("the journal did not commit the entry in time") from None
        raise  # the request itself was cancelled
    finally:
        timer.cancel()
    return result


async def _until_indexed(node: LedgerNode, document_ids: list[str], timeout: float) -> None:
    """Wait (polling: this is the rare race of a submission right behind the one it names)
    until the documents are indexed, or ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while node.pending_documents(document_ids) and loop.time() < deadline:
        await asyncio.sleep(0.01)


def _signed_entry(body: bytes) -> tuple[bytes, bytes]:
    data = bridge.parse_json(body)
    if not isinstance(data, dict):
        raise InvalidInput("a signed entry is {envelope, payload}", location="/")
    try:
        model = SignedEntry.model_validate(data)
    except ValueError as exc:
        raise InvalidInput(
            "a signed entry is {envelope, payload}, both base64", location="/"
        ) from exc
    out = []
    for name in ("envelope", "payload"):
        try:
            out.append(base64.b64decode(getattr(model, name), validate=True))
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput(f"{name} is not base64", location=f"/{name}") from exc
    try:
        # the ledger's own parser reads the envelope: refuse here what would break it (deep
        # nesting, a lone surrogate in the subject), located in the envelope as it locates
        bridge.check_json(out[0])
    except InvalidInput as exc:
        raise InvalidInput(f"the envelope: {exc.detail}", location=exc.location) from None
    return out[0], out[1]


@router.post(
    "/documents/{document_id:path}/share",
    status_code=201,
    response_model=SubmissionResponse,
    summary="Share a sealed document with another organisation",
    description=(
        'Body `{"org_id": "<organisation>"}`. The node opens the document\'s sealed content '
        "(its defining entry, what `GET /v1/documents/{document_id}` serves) with the caller "
        "organisation's decryption key, grants its key to the target organisation's active "
        "encryption keys in a `payload.shared` entry signed as the caller's organisation, and "
        "orders it; once it is in a block the target reads the document. Parties of the "
        "document only (404 to anyone who may not read it, 403 to a reader that is not a "
        "party); 409 if the target reads it already."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["org_id"],
                        "properties": {"org_id": {"type": "string"}},
                        "additionalProperties": False,
                    },
                    "example": {"org_id": "jp-sakura-bank"},
                }
            },
        }
    },
    responses=problems(401, 403, 404, 409, 415, 422, 503),
)
async def share(
    request: Request, node: NodeDep, caller: CallerDep, document_id: DocumentIdPath
) -> Response:
    body = await request.body()
    if bridge.media_type(request.headers.get("content-type", "")) != "application/json":
        raise bridge.UnsupportedMediaType("send the share as application/json")
    data = bridge.parse_json(body)
    if not isinstance(data, dict) or set(data) != {"org_id"}:
        raise InvalidInput('the body is {"org_id": "<organisation>"}', location="/")
    prepare = partial(node.prepare_share, caller, document_id, data["org_id"])
    result = await _journaled(node, prepare, len(body))
    return json_response(result, 201, headers={"Location": f"/v1/entries/{result['entry_hash']}"})


@router.get(
    "/documents/{document_id:path}/provenance",
    response_model=ProvenanceResponse,
    summary="Every ledger event about a document, with inclusion proofs",
    description="Events in ledger order (issued, amended, verified, declared, presented, "
    "revoked), each with block height, entry hash, actor, time and an inclusion proof to the "
    "same checkpoint (the one returned). Parties to the document and auditors only.",
    responses=problems(401, 403, 404, 422),
)
async def provenance(node: NodeDep, caller: CallerDep, document_id: DocumentIdPath) -> Response:
    # inline on the event loop: cached index reads and in-memory proofs (a thread hop would
    # cost more than the work)
    return json_response(node.provenance(document_id, caller))


@router.get(
    "/documents/{document_id:path}/origin-evidence",
    response_model=OriginEvidenceResponse,
    summary="The origin evidence behind a certificate's origin determinations",
    description="The bills of materials and full determinations the node recorded when it "
    "re-determined the certificate's origin, and per item whether the digest the certificate "
    "records matches the recorded determination. The issuer, the customs of the importing "
    "country and auditors only; anyone else gets 404.",
    responses=problems(401, 403, 404, 422),
)
def origin_evidence(node: NodeDep, caller: CallerDep, document_id: DocumentIdPath) -> Response:
    return json_response(node.origin_evidence(document_id, caller))


@router.get(
    "/documents/{document_id:path}",
    summary="The document",
    description="The current content of the document as submitted (JSON or XML). Parties to "
    "the document and auditors only. Headers give its ledger status and entry hash.",
    responses={
        200: {
            "description": "The document.",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/xml": {"schema": {"type": "string"}},
            },
        },
        **problems(401, 403, 404, 422),
    },
)
def document(node: NodeDep, caller: CallerDep, document_id: DocumentIdPath) -> Response:
    content, media, info = node.document(document_id, caller)
    headers = {
        "TradeLedger-Document-Id": _header_safe(info.document_id),
        "TradeLedger-Status": info.status,
    }
    if info.defining_hash:
        headers["TradeLedger-Entry-Hash"] = info.defining_hash
    return Response(content, media_type=media, headers=headers)


def _header_safe(value: str) -> str:
    return value.encode("ascii", "backslashreplace").decode("ascii")
