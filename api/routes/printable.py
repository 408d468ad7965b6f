"""``GET /v1/documents/{id}/pdf``: a certificate of origin as a printable PDF, for its parties.

Registered before the documents router, whose ``/v1/documents/{id:path}`` would otherwise take
the ``/pdf`` suffix as part of the id.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.deps import CallerDep, NodeDep
from api.routes.common import problems, public_url
from api.routes.documents import DocumentIdPath
from api.routes.web import PDF_RESPONSE, pdf_response
from nodes.public import PublicCertificates

router = APIRouter(prefix="/v1", tags=["documents"])


@router.get(
    "/documents/{document_id:path}/pdf",
    summary="The certificate as a printable PDF",
    description=(
        "A certificate of origin laid out like its agreement's form (Form RCEP boxes 1–17), "
        "with a QR code that opens its `/verify` page on this node, carrying the document "
        "digest so that whoever scans it sees the goods. Parties to the document and auditors "
        "only (others get 404); a revoked, superseded or expired certificate prints its status "
        "across the top."
    ),
    responses={200: PDF_RESPONSE, **problems(401, 403, 404, 422)},
)
async def certificate_pdf(
    request: Request, node: NodeDep, caller: CallerDep, document_id: DocumentIdPath
) -> Response:
    base_url = public_url(request)

    def render() -> bytes:
        content, media, info = node.document(document_id, caller)
        return PublicCertificates(node).pdf(info, base_url, (content, media))

    return pdf_response(await run_in_threadpool(render), document_id)
