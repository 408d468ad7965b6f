"""FastAPI dependencies: the node behind the app, and who is calling (HTTP bearer tokens)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ledger.errors import Unauthenticated
from nodes.service import LedgerNode
from nodes.tokens import Caller

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    description="A token from `tradeledger token create --org ORG --role ROLE`.",
)


async def get_node(request: Request) -> LedgerNode:
    node: LedgerNode = request.app.state.node
    return node


async def get_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
    node: LedgerNode = request.app.state.node
    return node.authenticate(credentials.credentials)


NodeDep = Annotated[LedgerNode, Depends(get_node)]
CallerDep = Annotated[Caller, Depends(get_caller)]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Serialise once, without re-validating against the response model (the hot path)."""
    return Response(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )
