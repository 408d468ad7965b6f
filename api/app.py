"""The HTTP face of a node: ``create_app(node)`` builds the ASGI application ``serve`` runs.

It is the FastAPI application (:func:`build_fastapi`: routers in :mod:`api.routes`, every error
RFC 9457 problem details from :mod:`api.problems`, the one description in ``/openapi.json``)
behind the two hot paths of :mod:`api.hotpaths`, all inside the body limit (413 over
``body_limit`` bytes). Every absolute URL it prints (a certificate's QR code) starts with
``public_url``, never with a request's ``Host`` or ``X-Forwarded-*`` headers, which whoever
sends the request chooses. The hot paths sit in front of FastAPI's own middleware because that
middleware, run for every request, cost a submission more interpreter time than its checks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp

from api import problems
from api.hotpaths import HotPaths
from api.routes import documents, ledger, printable, verify, web
from api.schemas import OriginRequest, Problem, SignedEntry, VerifyByDigest, VerifyById
from nodes.service import LedgerNode

DESCRIPTION = """\
The API of one **tradeledger** node: a permissioned, append-only, hash-chained ledger of trade
documents (certificates of origin, customs declarations) between Japan and ASEAN.

* Authenticated calls carry `Authorization: Bearer <token>` (tokens per organisation and role,
  from `tradeledger token create`).
* Every error is an RFC 9457 problem (`application/problem+json`) with a stable `code`.
* Checkpoints are C2SP signed notes; proofs are RFC 9162 and can be checked offline
  (`tradeledger proof verify`).
"""


def create_app(
    node: LedgerNode,
    *,
    body_limit: int = problems.DEFAULT_BODY_LIMIT,
    close_node_on_shutdown: bool = False,
    public_url: str | None = None,
) -> ASGIApp:
    """The node's whole HTTP application: body limit, then hot paths, then FastAPI.

    ``public_url`` (checked by ``serve``) is the node's address as readers reach it; without
    one (tests, embedding), the address of the socket a request arrived on."""
    app = build_fastapi(node, close_node_on_shutdown=close_node_on_shutdown, public_url=public_url)
    return problems.BodySizeLimit(HotPaths(app, node), limit=body_limit)


def build_fastapi(
    node: LedgerNode, *, close_node_on_shutdown: bool = False, public_url: str | None = None
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if close_node_on_shutdown:
            node.close()

    app = FastAPI(
        title="tradeledger node API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "node", "description": "The node itself."},
            {"name": "ledger", "description": "Checkpoints, blocks and entries."},
            {"name": "proofs", "description": "RFC 9162 inclusion and consistency proofs."},
            {"name": "documents", "description": "Submitting and reading trade documents."},
            {"name": "verification", "description": "Public checks of certificates."},
            {"name": "origin", "description": "Rules-of-origin determinations."},
            {"name": "web", "description": "The public /verify page (HTML, no token)."},
        ],
    )
    app.state.node = node
    app.state.public_url = public_url.rstrip("/") if public_url else None
    problems.install(app)
    app.include_router(ledger.router)
    app.include_router(printable.router)  # before documents: its {id:path} would take /pdf
    app.include_router(documents.router)
    app.include_router(verify.router)
    app.include_router(web.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (Problem, SignedEntry, VerifyByDigest, VerifyById, OriginRequest):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in model_schema.pop("$defs", {}).items():
                components.setdefault(name, sub)
            components.setdefault(model.__name__, model_schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
