"""OpenAPI fragments shared by the routers."""

from __future__ import annotations

from typing import Any

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
