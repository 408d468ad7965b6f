"""The two hottest requests answered without FastAPI's per-request machinery.

``api.app.create_app`` puts this in front of the FastAPI application (inside the body limit).

``GET /v1/documents/{id}/provenance`` and ``POST /v1/documents?event=…`` (a JSON or XML
document) are what the issue's figures measure. On two cores shared by one interpreter, FastAPI's
routing, dependency solving and parameter validation cost about as much CPU as the node's own
work for them (``benchmarks/bench_api.py`` prints CPU per request). This ASGI middleware
recognises exactly those requests in their ordinary form and calls the same node methods, the
same ``_journaled`` acknowledgement (after the durable journal commit) and the same
``json_response``/``error_response`` as the routes, so the answers are byte for byte the
routes' answers. Anything else — another path, a missing or non-bearer Authorization header,
another query, a pre-signed entry, a media type the node does not take — goes to the FastAPI app
unchanged (with the body replayed), which stays the one description in ``/openapi.json``.
An unexpected exception is answered with the same 500 problem FastAPI's handler gives.
"""

from __future__ import annotations

import logging
from functools import partial
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import json_response
from api.problems import error_response, input_error, unexpected_response
from api.routes.documents import _journaled
from ledger.errors import TradeLedgerError
from nodes import documents_bridge as bridge
from nodes.service import DOCUMENT_EVENTS, ENTRY_MEDIA_TYPE, LedgerNode

log = logging.getLogger("tradeledger.api")
_DOCUMENTS = "/v1/documents"
_PROVENANCE_PREFIX = "/v1/documents/"
_PROVENANCE_SUFFIX = "/provenance"
_EVENTS = frozenset(DOCUMENT_EVENTS)


class HotPaths:
    def __init__(self, app: ASGIApp, node: LedgerNode) -> None:
        self.app = app
        self.node = node

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            if (
                method == "GET"
                and path.startswith(_PROVENANCE_PREFIX)
                and path.endswith(_PROVENANCE_SUFFIX)
                and len(path) > len(_PROVENANCE_PREFIX) + len(_PROVENANCE_SUFFIX)
                and not scope.get("query_string")
            ):
                token = _bearer(scope)
                if token is not None:
                    await self._provenance(scope, receive, send, path, token)
                    return
            elif method == "POST" and path == _DOCUMENTS:
                receive = await self._submit(scope, receive, send, path)
                if receive is None:
                    return
        await self.app(scope, receive, send)

    async def _provenance(
        self, scope: Scope, receive: Receive, send: Send, path: str, token: str
    ) -> None:
        document_id = path[len(_PROVENANCE_PREFIX) : -len(_PROVENANCE_SUFFIX)]
        try:
            caller = self.node.authenticate(token)
            response = json_response(self.node.provenance(document_id, caller))
        except TradeLedgerError as exc:
            response = _error(exc, path)
        except Exception:
            response = unexpected_response(path)
        await response(scope, receive, send)

    async def _submit(
        self, scope: Scope, receive: Receive, send: Send, path: str
    ) -> Receive | None:
        """Answer a plain document submission and return None; otherwise return the receive
        callable the FastAPI app should read the request from."""
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        token = _bearer(scope)
        content_type = _header(scope, b"content-type") or ""
        if (
            token is None
            or len(query) != 1
            or query[0][0] != "event"
            or query[0][1] not in _EVENTS
            or content_type.split(";")[0].strip().lower() == ENTRY_MEDIA_TYPE
        ):
            return receive
        try:
            media = bridge.media_type(content_type)
        except TradeLedgerError:
            return receive  # the route answers 415 with its own wording
        body = await _read_body(receive)
        try:
            caller = self.node.authenticate(token)
            if media == "application/json":
                bridge.check_json(body)  # as the route does, before any parser reads it
            prepare = partial(self.node.prepare_document, caller, query[0][1], body, content_type)
            result = await _journaled(self.node, prepare, len(body))
            response = json_response(
                result, 201, headers={"Location": f"/v1/entries/{result['entry_hash']}"}
            )
        except TradeLedgerError as exc:
            response = _error(exc, path)
        except Exception as exc:
            refusal = input_error(exc)
            response = unexpected_response(path) if refusal is None else _error(refusal, path)
        await response(scope, receive, send)
        return None


def _error(exc: TradeLedgerError, path: str) -> object:
    if exc.status >= 500:  # as api.problems logs it for the routes
        log.error("request failed", extra={"path": path, "code": exc.code})
    return error_response(exc, path)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _bearer(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (as fastapi's HTTPBearer reads
    it), or None when the route should answer (no header, another scheme, no token)."""
    value = _header(scope, b"authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return token


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
