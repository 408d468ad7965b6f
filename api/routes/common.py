"""What the routers share: OpenAPI fragments, and the node's public URL."""

from __future__ import annotations

from typing import Any

from fastapi import Request

_DESCRIPTIONS = {
    401: "No bearer token, or not a valid one (unknown, revoked or expired).",
    403: "The caller's role may not do this, or the membership in force no longer lets the "
    "token's organisation act in it (role removed, every key revoked).",
    404: "Not found (or not readable by the caller: existence does not leak).",
    409: "Conflicts with the ledger (e.g. the same signed entry submitted again).",
    413: "The request body is too large.",
    415: "The body's media type is not supported here.",
    422: "The input is invalid; `location` says where.",
    503: "The node's storage is unavailable.",
}


def problem_content() -> dict[str, Any]:
    return {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, "Error"),
            "content": problem_content(),
        }
        for status in statuses
    }


def public_url(request: Request) -> str:
    """The node's address for URLs it prints (``create_app``'s ``public_url``). Without one,
    the local address of the socket the request arrived on, which the server knows; never the
    ``Host`` or ``X-Forwarded-*`` headers, which the sender writes."""
    configured: str | None = request.app.state.public_url
    if configured:
        return configured
    server = request.scope.get("server")
    if not server or server[1] is None:  # a Unix socket: no address a reader could use
        return "http://localhost"
    host, port = server
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
