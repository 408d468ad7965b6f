"""RFC 9457 problem details for every error the API answers with.

* a :class:`~ledger.errors.TradeLedgerError` becomes its own ``problem()``;
* a request that does not match the OpenAPI description (FastAPI's ``RequestValidationError``)
  becomes ``invalid-input`` (422) with a JSON pointer ``location`` per finding;
* unknown routes and methods (404, 405) become problems too;
* a body larger than the limit is refused with ``payload-too-large`` (413) before it is read
  whole, by :class:`BodySizeLimit`;
* input that breaks a parser instead of being refused by it (nesting deep enough to exhaust the
  stack, a lone surrogate that cannot be encoded) is ``invalid-input`` (422), see
  :func:`input_error`: the node's own parsers refuse both with a precise location first;
* anything unexpected is a 500 problem, logged with its traceback, never a stack trace in the
  response.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.errors import (
    PROBLEM_BASE,
    InvalidInput,
    NodeBusy,
    PayloadTooLarge,
    TradeLedgerError,
)

PROBLEM_JSON = "application/problem+json"
DEFAULT_BODY_LIMIT = 5 * 1024 * 1024
log = logging.getLogger("tradeledger.api")


def problem_response(
    body: dict[str, Any], status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def error_response(exc: TradeLedgerError, instance: str) -> JSONResponse:
    headers: dict[str, str] | None = None
    if exc.status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="tradeledger"'}
    elif isinstance(exc, NodeBusy):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem_response(exc.problem(instance=instance), exc.status, headers)


def pointer(loc: Iterable[Any]) -> str:
    """A JSON pointer for a pydantic error location: ``/field/0`` in the body,
    ``/query/name``, ``/path/name`` or ``/header/name`` for parameters."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


async def _trade_ledger_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TradeLedgerError)
    if exc.status >= 500:
        log.error("request failed", extra={"path": request.url.path, "code": exc.code})
    return error_response(exc, request.url.path)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"location": pointer(e.get("loc", ())), "message": e.get("msg", "invalid")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"location": "/", "message": "invalid request"}
    body = {
        "type": PROBLEM_BASE + "invalid-input",
        "title": "Invalid input",
        "status": 422,
        "detail": f"{first['location']}: {first['message']}",
        "code": "invalid-input",
        "instance": request.url.path,
        "location": first["location"],
        "errors": errors,
    }
    return problem_response(_plain(body), 422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not-found", 405: "method-not-allowed", 401: "unauthenticated"}.get(
        exc.status_code, "http-error"
    )
    body = {
        "type": PROBLEM_BASE + code,
        "title": {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error"),
        "status": exc.status_code,
        "detail": str(exc.detail),
        "code": code,
        "instance": request.url.path,
    }
    return problem_response(body, exc.status_code, dict(exc.headers or {}))


async def _broken_parser(request: Request, exc: Exception) -> JSONResponse:
    refusal = input_error(exc)
    if refusal is None:
        return unexpected_response(request.url.path)
    return error_response(refusal, request.url.path)


def input_error(exc: BaseException) -> InvalidInput | None:
    """The 422 for an exception only bad input raises (a RecursionError from a parser given
    deeply nested input; encoding a lone surrogate it decoded), or None for anything else."""
    if isinstance(exc, RecursionError):
        return InvalidInput("the input is nested too deeply to be read", location="/")
    if isinstance(exc, UnicodeEncodeError) and exc.reason == "surrogates not allowed":
        return InvalidInput(
            "the input holds a lone UTF-16 surrogate, which is not a character", location="/"
        )
    return None


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return unexpected_response(request.url.path)


def unexpected_response(path: str) -> JSONResponse:
    """The 500 problem for an error nobody expected (call it in the ``except`` block: the
    traceback is logged, never sent)."""
    log.exception("unexpected error", extra={"path": path})
    body = {
        "type": PROBLEM_BASE + "internal",
        "title": "Internal error",
        "status": 500,
        "detail": "the node could not complete the request; it has been logged",
        "code": "internal",
        "instance": path,
    }
    return problem_response(body, 500)


def _plain(value: Any) -> Any:
    """Make validation-error details JSON-safe (pydantic may include non-JSON inputs)."""
    return json.loads(json.dumps(value, default=str))


def install(app: FastAPI) -> None:
    app.add_exception_handler(TradeLedgerError, _trade_ledger_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RecursionError, _broken_parser)
    app.add_exception_handler(UnicodeEncodeError, _broken_parser)
    app.add_exception_handler(Exception, _unexpected)


class BodySizeLimit:
    """Refuse request bodies over ``limit`` bytes with a 413 problem.

    A declared ``Content-Length`` over the limit is refused before anything is read; a chunked
    body is counted as it arrives and refused as soon as it passes the limit: reading it raises
    :class:`PayloadTooLarge`, which FastAPI's handler answers as any ``TradeLedgerError`` (a
    private exception would reach its catch-all handler first and become a 500) and which is
    answered here when raised outside FastAPI (the hot paths).
    """

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_BODY_LIMIT) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    await self._refuse(send, path)
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise self._too_large()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except PayloadTooLarge:
            if not started:
                await self._refuse(send, path)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"the request body is larger than {self.limit} bytes")

    async def _refuse(self, send: Send, path: str) -> None:
        body = json.dumps(self._too_large().problem(instance=path)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
