"""The hot paths (api/hotpaths.py) answer exactly as the FastAPI routes they stand in for.

A request the hot paths do not take (here: one with an extra query parameter, which the routes
ignore) goes through FastAPI, so each pair below is the same request answered both ways.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import LiveNode
from tests.api.test_api import certificate, issue, new_number


def same(a: httpx.Response, b: httpx.Response) -> None:
    assert a.status_code == b.status_code, (a.text, b.text)
    assert a.content == b.content
    for name in ("content-type", "content-length", "www-authenticate"):
        assert a.headers.get(name) == b.headers.get(name), name


def test_provenance_answers_as_the_route(live: LiveNode) -> None:
    co_id, _ = issue(live)
    with live.http("issuer") as h, live.http("th_customs") as other, live.http() as anon:
        url = f"/v1/documents/{co_id}/provenance"
        same(h.get(url), h.get(url, params={"via": "route"}))
        same(other.get(url), other.get(url, params={"via": "route"}))  # 404 for a non-party
        missing = "/v1/documents/jp-jcci/NO-SUCH/provenance"
        same(h.get(missing), h.get(missing, params={"via": "route"}))
        bad = {"Authorization": "Bearer not-a-token"}
        same(anon.get(url, headers=bad), anon.get(url, headers=bad, params={"via": "route"}))


def test_submission_answers_as_the_route(live: LiveNode) -> None:
    with live.http("issuer") as h, live.http("bank") as bank:
        hot = h.post("/v1/documents", params={"event": "co.issued"}, json=certificate(new_number()))
        routed = h.post(
            "/v1/documents",
            params={"event": "co.issued", "via": "route"},
            json=certificate(new_number()),
        )
        assert hot.status_code == routed.status_code == 201
        assert hot.json().keys() == routed.json().keys()
        assert hot.headers["location"] == f"/v1/entries/{hot.json()['entry_hash']}"
        assert hot.headers["content-type"] == routed.headers["content-type"]
        live.wait_for_block(hot.json()["entry_hash"])
        for client, body, content_type in (
            (h, b'{"number": ', "application/json"),  # malformed JSON: 422 with a location
            (h, b"<certificate_of_origin><number>", "application/xml"),
            (bank, b"{}", "application/json"),  # wrong role: 403
            (h, b"{}", "text/plain"),  # 415, answered by the route either way
        ):
            headers = {"Content-Type": content_type}
            a = client.post("/v1/documents?event=co.issued", content=body, headers=headers)
            b = client.post(
                "/v1/documents?event=co.issued&via=route", content=body, headers=headers
            )
            assert a.status_code >= 400
            same(a, b)
        # the same certificate number twice: 409 both ways
        number = hot.json()["document_id"].split("/", 1)[1]
        a = h.post("/v1/documents", params={"event": "co.issued"}, json=certificate(number))
        b = h.post(
            "/v1/documents", params={"event": "co.issued", "via": "route"}, json=certificate(number)
        )
        assert a.status_code == 409
        same(a, b)


def test_an_unexpected_error_is_the_same_500_problem_both_ways(
    live: LiveNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(live.node, "provenance", broken)
    monkeypatch.setattr(live.node, "prepare_document", broken)

    def ask(method: str, url: str, **kwargs: Any) -> httpx.Response:
        # a connection each: Starlette re-raises after its 500, and uvicorn then drops it
        with live.http("issuer") as h:
            return h.request(method, url, **kwargs)

    url = "/v1/documents/jp-jcci/ANY/provenance"
    hot, routed = ask("GET", url), ask("GET", url, params={"via": "route"})
    same(hot, routed)
    assert hot.status_code == 500
    assert hot.json()["code"] == "internal"
    assert "a bug" not in hot.text
    cert = certificate(new_number())
    hot = ask("POST", "/v1/documents", params={"event": "co.issued"}, json=cert)
    routed = ask("POST", "/v1/documents", params={"event": "co.issued", "via": "route"}, json=cert)
    same(hot, routed)
    assert hot.status_code == 500
    assert ask("GET", "/v1/health").status_code == 200
