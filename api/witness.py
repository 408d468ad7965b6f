"""The HTTP face of a witness (C2SP ``tlog-witness``): ``POST /add-checkpoint`` and the
monitoring ``GET /<origin hash>/checkpoint``.

Bodies are what the protocol says (a cosignature line; on 409 the stored size as
``text/x.tlog.size``); other refusals carry an RFC 9457 problem with the protocol's status.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from api.problems import error_response
from ledger.errors import MalformedWitnessRequest, NotFound, TradeLedgerError, WitnessSizeMismatch
from nodes.witness import Witness

#: A checkpoint with a few dozen signature lines and 63 proof lines is a few KiB.
MAX_REQUEST_BYTES = 64 * 1024
NOTE_TYPE = "text/plain; charset=utf-8"


def create_witness_app(witness: Witness) -> Starlette:
    async def add_checkpoint(request: Request) -> Response:
        try:
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_REQUEST_BYTES:
                    raise MalformedWitnessRequest(f"the request is over {MAX_REQUEST_BYTES} bytes")
            # SQLite's fsync would stall the event loop: the witness works in a thread.
            line = await run_in_threadpool(witness.add_checkpoint, body)
        except WitnessSizeMismatch as exc:
            # the protocol names this exact type, without a charset parameter
            size = f"{exc.stored_size}\n".encode()
            return Response(size, 409, headers={"Content-Type": "text/x.tlog.size"})
        except TradeLedgerError as exc:
            return error_response(exc, request.url.path)
        return PlainTextResponse(line, media_type=NOTE_TYPE)

    async def latest(request: Request) -> Response:
        origin_hash = request.path_params["origin_hash"]
        text = await run_in_threadpool(witness.latest_checkpoint, origin_hash)
        if text is None:
            exc = NotFound("this witness has cosigned no checkpoint of that log")
            return error_response(exc, request.url.path)
        return PlainTextResponse(text, media_type=NOTE_TYPE)

    return Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/{origin_hash:str}/checkpoint", latest, methods=["GET"]),
        ]
    )
