"""Public verification of a certificate, and rules-of-origin determinations."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.deps import CallerDep, NodeDep, json_response
from api.routes.common import problems
from api.schemas import CertificateExample, Determination, VerifyResponse
from nodes import documents_bridge as bridge

router = APIRouter(prefix="/v1")

_VERIFY_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"$ref": "#/components/schemas/VerifyByDigest"},
                    {"$ref": "#/components/schemas/VerifyById"},
                    {
                        "type": "object",
                        "description": "A document file (JSON).",
                        "additionalProperties": True,
                    },
                ]
            },
            "examples": {
                "by_id": {"value": {"document_id": "jp-jcci/JCCI-2026-0000042"}},
                "by_digest": {
                    "value": {
                        "digest": "9b2e4f7a1c3d5e6f8a0b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f2a3b5c7d9e1f"
                    }
                },
                "document": {"value": CertificateExample},
            },
        },
        "application/xml": {"schema": {"type": "string", "description": "A document file."}},
    },
}


@router.post(
    "/verify",
    response_model=VerifyResponse,
    tags=["verification"],
    summary="Is this certificate on the ledger, and is it current?",
    description=(
        "For anyone (no token): send the document file itself (JSON or XML), its digest "
        '(`{"digest": hex}`: SHA-256 of the file, or its document digest), or its id '
        '(`{"document_id": …}`). The answer says whether it is on the ledger, whether it is '
        "current, revoked, superseded or expired, who issued it and when, with an inclusion "
        "proof of the issuing entry to the checkpoint it was checked against."
    ),
    openapi_extra={"requestBody": _VERIFY_BODY},
    responses=problems(413, 415, 422),
)
async def verify(request: Request, node: NodeDep) -> Response:
    body = await request.body()
    media = bridge.media_type(request.headers.get("content-type"))
    return json_response(await run_in_threadpool(node.verify, body, media))


@router.post(
    "/origin/determinations",
    response_model=Determination,
    tags=["origin"],
    summary="Decide whether a good originates under an agreement",
    description="The body is the bill of materials (docs/origin-formats.md) plus `agreement` and "
    "`product` (6-digit HS). The answer is the determination: the rule applied, the verdict, "
    "the origin criterion and one reason per test.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/OriginRequest"}}
            },
        }
    },
    responses=problems(401, 403, 413, 415, 422),
)
async def determine(request: Request, node: NodeDep, caller: CallerDep) -> Response:
    del caller  # members only
    body = await request.body()
    bridge.media_type(request.headers.get("content-type"))
    return json_response(await run_in_threadpool(node.determine_origin, body))
