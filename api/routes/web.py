"""The public ``/verify`` web page: server-rendered HTML, no JavaScript, no token.

* ``GET /verify`` — the form; with ``issuer`` and ``number`` (the form) or ``id`` (a link or
  the QR code, ``<issuer>/<number>``) the certificate's status, issuer, dates, timeline and the
  checkpoint it was checked against; with ``d`` (the document digest the QR code carries) also
  its goods.
* ``POST /verify`` — the same for an uploaded certificate file (multipart ``file``).
* ``GET /verify/pdf`` — the printable certificate, for a visitor who holds its digest.

Errors a visitor can make (an unreadable file, a malformed number) are shown in the page with
their 4xx status.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import NodeDep
from api.routes.common import problems, public_url
from documents.printable import items_of, quantity_text
from ledger.errors import InvalidInput, TradeLedgerError
from nodes.public import (
    CertificateView,
    PublicCertificates,
    check_digest,
    document_id_of,
    sniff_media,
    split_id,
)
from nodes.service import LedgerNode

router = APIRouter(tags=["web"])

#: The OpenAPI description of a 200 that is a PDF.
PDF_RESPONSE = {
    "description": "The certificate as a PDF.",
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
}

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


def _when(timestamp: str) -> str:
    """``2026-11-20T09:15:02.123456Z`` as ``2026-11-20 09:15:02 UTC`` (ledger times are UTC)."""
    if len(timestamp) >= 19 and timestamp[10] == "T":
        return f"{timestamp[:10]} {timestamp[11:19]} UTC"
    return timestamp


templates.env.filters["when"] = _when
#: An uploaded certificate larger than this is not a certificate.
MAX_UPLOAD = 2 * 1024 * 1024
#: No script, no external anything: the page needs only its own inline style and forms.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_HTML_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The page.", "content": {"text/html": {"schema": {"type": "string"}}}},
    404: {
        "description": "No certificate with this number is on the ledger (the page says so).",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
    422: {
        "description": "The number, digest or file is unusable (the page says why).",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
}


def _render(
    request: Request,
    node: LedgerNode,
    *,
    view: CertificateView | None = None,
    error: TradeLedgerError | None = None,
    form_issuer: str = "",
    form_number: str = "",
    status: int = 200,
) -> HTMLResponse:
    membership = node.membership
    issuers = sorted(
        (org.id, org.legal_name)
        for org in membership.organisations.values()
        if "issuing_authority" in org.roles
    )
    if view is not None and not form_issuer and view.document_id:
        form_issuer, _, form_number = view.document_id.partition("/")
    pdf_link = None
    if view is not None and view.certificate is not None and view.digest and view.document_id:
        pdf_link = "/verify/pdf?" + urlencode({"id": view.document_id, "d": view.digest})
    if view is not None and status == 200 and not view.found:
        status = 404
    context = {
        "view": view,
        "items": items_of(view.certificate) if view and view.certificate else [],
        "quantity": quantity_text,
        "pdf_link": pdf_link,
        "error": error.detail if error else None,
        "error_title": error.title if error else None,
        "issuers": issuers,
        "form_issuer": form_issuer or (issuers[0][0] if issuers else ""),
        "form_number": form_number,
        "consortium_name": node.consortium.name or node.consortium.consortium_id,
        "consortium_id": node.consortium.consortium_id,
        "node_org": node.org_id,
    }
    return templates.TemplateResponse(
        request, "verify.html", context, status_code=status, headers=SECURITY_HEADERS
    )


@router.get(
    "/verify",
    response_class=HTMLResponse,
    summary="Web page: check a certificate of origin",
    description=(
        "For anyone (no token). Without parameters, the form. With `issuer` and `number`, or "
        "`id` (`<issuer>/<number>`), the certificate's status (valid, revoked, superseded, "
        "expired, unknown), issuer, dates, timeline and the signed checkpoint it was checked "
        "against. With `d`, the document digest printed in the certificate's QR code, also "
        "its goods and parties (proof of possession)."
    ),
    responses=_HTML_RESPONSES,
)
async def verify_page(
    request: Request,
    node: NodeDep,
    issuer: Annotated[str | None, Query(description="The issuing body's org id.")] = None,
    number: Annotated[str | None, Query(description="The certificate number.")] = None,
    id: Annotated[
        str | None,
        Query(description="`<issuer>/<number>`.", examples=["jp-jcci/JCCI-2026-0000042"]),
    ] = None,
    d: Annotated[
        str | None, Query(description="The document digest (64 hex digits), from the QR code.")
    ] = None,
) -> HTMLResponse:
    if id is None and issuer is None and number is None and d is None:
        return _render(request, node)
    form_issuer, form_number = issuer or "", number or ""
    try:
        if id is not None:
            form_issuer, form_number = split_id(id)
        elif issuer is None or number is None:
            raise InvalidInput(
                "choose the issuing body and enter the certificate number",
                location="/query/number",
            )
        document_id = document_id_of(form_issuer, form_number)
        digest = check_digest(d) if d is not None else None
        view = await run_in_threadpool(PublicCertificates(node).lookup, document_id, digest)
    except InvalidInput as exc:
        return _render(
            request,
            node,
            error=exc,
            form_issuer=form_issuer,
            form_number=form_number,
            status=exc.status,
        )
    return _render(request, node, view=view)


@router.post(
    "/verify",
    response_class=HTMLResponse,
    summary="Web page: check an uploaded certificate file",
    description=(
        "For anyone (no token). A multipart form with `file`, a certificate of origin as XML "
        "or JSON. If its digest is on the ledger, the page shows the certificate with its "
        "goods; if it names a certificate on the ledger but does not match it, the page says "
        "so and shows only the ledger's record."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                }
            },
        }
    },
    responses={**_HTML_RESPONSES, **problems(413)},
)
async def verify_upload(request: Request, node: NodeDep) -> HTMLResponse:
    try:
        body, media = await _uploaded(request)
        view = await run_in_threadpool(PublicCertificates(node).lookup_file, body, media)
    except InvalidInput as exc:
        return _render(request, node, error=exc, status=exc.status)
    return _render(request, node, view=view)


async def _uploaded(request: Request) -> tuple[bytes, str]:
    """The uploaded file's bytes and media type (sniffed: browsers label XML and JSON files
    inconsistently, or as application/octet-stream)."""
    try:
        form = await request.form(max_files=1, max_fields=8)
    except (StarletteHTTPException, ValueError, KeyError) as exc:
        raise InvalidInput("the form could not be read; choose a file and send it again") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("choose a certificate file (XML or JSON)", location="/file")
        body = await upload.read(MAX_UPLOAD + 1)
    finally:
        await form.close()
    if len(body) > MAX_UPLOAD:
        raise InvalidInput(
            f"the file is larger than {MAX_UPLOAD // (1024 * 1024)} MB; a certificate is not",
            location="/file",
        )
    return body, sniff_media(body)


@router.get(
    "/verify/pdf",
    name="verify_pdf",
    summary="Web page: the printable certificate, for whoever holds its digest",
    description=(
        "For anyone holding the certificate's document digest (the `d` of its QR code): the "
        "certificate as a PDF laid out like the agreement's form, with the QR code."
    ),
    responses={200: PDF_RESPONSE, **problems(404, 422)},
)
async def verify_pdf(
    request: Request,
    node: NodeDep,
    id: Annotated[
        str, Query(description="`<issuer>/<number>`.", examples=["jp-jcci/JCCI-2026-0000042"])
    ],
    d: Annotated[str, Query(description="The document digest (64 hex digits).")],
) -> Response:
    issuer, number = split_id(id)
    document_id = document_id_of(issuer, number)
    pdf = await run_in_threadpool(
        PublicCertificates(node).pdf_for_holder,
        document_id,
        check_digest(d),
        public_url(request),
    )
    return pdf_response(pdf, document_id)


def pdf_response(pdf: bytes, document_id: str) -> Response:
    filename = "certificate-" + "".join(
        c if c.isalnum() or c in "-_." else "_" for c in document_id
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{filename}.pdf"',
            "Cache-Control": "no-store",
        },
    )
