"""Attacks with bad input: every bad input is a located 4xx (a one-line error and exit 1 or 2 on
the command line) and records nothing; the node's public URL is configuration, never the
request's ``Host``.

Grouped by input: JSON nested too deeply, lone surrogates, chunked bodies over the limit, a
forged ``Host`` header, a bad ``--public-url``, and random JSON-ish garbage.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from api.app import create_app
from ledger.errors import ConfigurationError, InvalidInput
from nodes import documents_bridge as bridge
from nodes.cli.main import app as cli
from nodes.home import NodeHome, check_public_url
from nodes.service import ENTRY_MEDIA_TYPE
from tests.api.conftest import LiveNode, free_port
from tests.api.test_api import certificate
from tests.api.test_serve import start_serve, token
from tests.api.test_web import digest, issue, new_number
from tests.documents.test_printable import scanned, text_of

PROBLEM = "application/problem+json"
DEEP_ARRAY = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
#: over the node's body limit (5 MB), sent chunked: no Content-Length to refuse it by
OVER_LIMIT = 6 * 1024 * 1024


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def assert_located_problem(r: httpx.Response, status: int = 422) -> dict[str, Any]:
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = r.json()
    assert problem["status"] == status and problem["code"]
    assert problem.get("location"), problem
    assert "\n" not in problem["detail"], problem
    return problem


def assert_nothing_recorded(node: LiveNode, tree_size: int) -> None:
    assert node.settled() == tree_size


def entry_body(envelope: bytes, payload: bytes) -> bytes:
    return json.dumps(
        {
            "envelope": base64.b64encode(envelope).decode(),
            "payload": base64.b64encode(payload).decode(),
        }
    ).encode()


def envelope_with(signed_extra: dict[str, Any], payload: bytes) -> bytes:
    """An entry envelope written by hand (ASCII JSON: a lone surrogate stays a \\u escape),
    as an attacker would, without a valid signature."""
    signed = {
        "v": 1,
        "type": "co.issued",
        "author": "jp-jcci",
        "key_id": "00" * 8,
        "timestamp": "2026-11-20T09:15:02.123456Z",
        "nonce": "11" * 16,
        "subject": "jp-jcci/X",
        "payload": {"content_type": "application/json", "digest": "22" * 32, "size": len(payload)},
        "refs": [],
        **signed_extra,
    }
    signature = {"key_id": "00" * 8, "sig": base64.b64encode(bytes(64)).decode()}
    envelope = {"signatures": [signature], "signed": signed}
    return json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode("ascii")


# -- JSON nested too deeply ----------------------------------------------------------------------


@pytest.mark.parametrize("deep", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_deep_json_to_the_public_verify_is_a_located_422(node: LiveNode, deep: bytes) -> None:
    with node.http() as h:  # no token: the endpoint is public
        r = h.post("/v1/verify", content=deep, headers={"content-type": "application/json"})
    problem = assert_located_problem(r)
    assert "nested" in problem["detail"]


@pytest.mark.parametrize("deep", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_deep_json_documents_are_a_located_422(node: LiveNode, deep: bytes) -> None:
    size = node.settled()
    with node.http("issuer") as h:
        # the hot path's form, and the FastAPI route's (a second query parameter)
        for params in ({"event": "co.issued"}, {"event": "co.issued", "x": "1"}):
            r = h.post(
                "/v1/documents",
                params=params,
                content=deep,
                headers={"content-type": "application/json"},
            )
            assert "nested" in assert_located_problem(r)["detail"]
    assert_nothing_recorded(node, size)


def test_deep_json_in_a_presigned_entry_is_a_located_422(node: LiveNode) -> None:
    size = node.settled()
    payload = json.dumps(certificate(new_number())).encode()
    with node.http("issuer") as h:
        for body in (
            DEEP_ARRAY,  # the {envelope, payload} body itself
            entry_body(DEEP_OBJECT, payload),  # the envelope inside it
        ):
            r = h.post("/v1/documents", content=body, headers={"content-type": ENTRY_MEDIA_TYPE})
            assert "nested" in assert_located_problem(r)["detail"]
    assert_nothing_recorded(node, size)


def test_deep_json_to_origin_determinations_is_a_located_422(node: LiveNode) -> None:
    with node.http("exporter") as h:
        r = h.post(
            "/v1/origin/determinations",
            content=DEEP_OBJECT,
            headers={"content-type": "application/json"},
        )
    assert "nested" in assert_located_problem(r)["detail"]


def test_deep_json_uploaded_to_the_verify_page_is_explained_in_the_page(node: LiveNode) -> None:
    with node.http() as h:
        r = h.post("/verify", files={"file": ("co.json", DEEP_ARRAY, "application/json")})
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in r.text and "nested" in r.text


def test_json_nested_past_the_limit_is_refused_where_it_passes_it() -> None:
    assert bridge.parse_json(json.dumps(nested(bridge.MAX_JSON_DEPTH)).encode())
    with pytest.raises(InvalidInput) as caught:
        bridge.parse_json(json.dumps({"a": {"b": nested(bridge.MAX_JSON_DEPTH - 1)}}).encode())
    assert caught.value.status == 422 and caught.value.location == "line 1, column 75"
    assert str(bridge.MAX_JSON_DEPTH) in caught.value.detail


def test_deep_json_files_on_the_command_line_are_one_line_and_exit_1(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_bytes(DEEP_OBJECT)
    runner = CliRunner()
    for args in (
        ["doc", "validate", str(deep)],
        ["origin", "check", "--agreement", "RCEP", "--product", "853931", "--bom", str(deep)],
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == 1, (args, result.output)
        assert not isinstance(result.exception, RecursionError), args
        assert "nested too deeply" in result.output, (args, result.output)
        assert "Traceback" not in result.output


# -- lone surrogates ---------------------------------------------------------------------------


def test_a_lone_surrogate_anywhere_in_a_document_is_a_located_422(node: LiveNode) -> None:
    size = node.settled()
    cert = certificate(new_number())
    text = json.dumps(cert)
    in_a_value = text.replace('"Importer Co."', '"Importer \\ud800 Co."')
    assert "\\ud800" in in_a_value
    cases = {
        "/importer/name": in_a_value,
        "/remarks\\udc00": json.dumps({**cert, "remarks\udc00": "x"}),  # in a key
        "/origin_evidence/0/bom/note": json.dumps(
            {**cert, "origin_evidence": [{"item_number": 1, "bom": {"note": "\ud800"}}]}
        ),
    }
    with node.http("issuer") as h:
        for location, body in cases.items():
            r = h.post(
                "/v1/documents",
                params={"event": "co.issued"},
                content=body.encode(),
                headers={"content-type": "application/json"},
            )
            problem = assert_located_problem(r)
            assert problem["location"] == location and "surrogate" in problem["detail"], problem
    # a valid pair (an emoji, escaped) is text, and not refused for it
    paired = text.replace('"Importer Co."', '"Importer \\ud83d\\ude00 Co."').encode()
    assert bridge.parse_json(paired)["importer"]["name"] == "Importer \U0001f600 Co."
    assert_nothing_recorded(node, size)


def test_a_lone_surrogate_in_a_presigned_subject_is_a_located_422(node: LiveNode) -> None:
    size = node.settled()
    number = new_number()
    payload = json.dumps(certificate(number)).encode()
    envelope = envelope_with({"subject": f"jp-jcci/{number}\ud800"}, payload)
    assert b"\\ud800" in envelope
    with node.http("issuer") as h:
        r = h.post(
            "/v1/documents",
            content=entry_body(envelope, payload),
            headers={"content-type": ENTRY_MEDIA_TYPE},
        )
    problem = assert_located_problem(r)
    assert problem["location"] == "/signed/subject" and "surrogate" in problem["detail"]
    assert_nothing_recorded(node, size)


def test_a_lone_surrogate_in_a_file_on_the_verify_page_is_explained_in_the_page(
    node: LiveNode,
) -> None:
    body = json.dumps(certificate(new_number(), exporter_reference="\udfff")).encode()
    with node.http() as h:
        r = h.post("/verify", files={"file": ("co.json", body, "application/json")})
        api = h.post("/v1/verify", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and 'role="alert"' in r.text and "surrogate" in r.text
    assert assert_located_problem(api)["location"] == "/exporter_reference"


# -- chunked bodies over the limit -------------------------------------------------------------


def chunks(total: int = OVER_LIMIT, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body httpx sends chunked (a generator has no length)."""
    for _ in range(total // size):
        yield b" " * size


@pytest.mark.parametrize(
    ("path", "params", "content_type", "user"),
    [
        ("/v1/documents", {"event": "co.issued"}, "application/json", "issuer"),
        ("/v1/documents", {}, ENTRY_MEDIA_TYPE, "issuer"),
        ("/v1/verify", {}, "application/json", None),
        ("/v1/origin/determinations", {}, "application/json", "exporter"),
    ],
    ids=["documents", "presigned-entry", "verify", "origin"],
)
def test_a_chunked_body_over_the_limit_is_413(
    node: LiveNode, path: str, params: dict[str, str], content_type: str, user: str | None
) -> None:
    size = node.settled()
    # a document goes through the hot path (api.hotpaths) in its plain form, and through the
    # FastAPI route with any other query
    for query in [params, {**params, "x": "1"}] if params else [params]:
        with node.http(user) as h:
            r = h.post(path, params=query, content=chunks(), headers={"content-type": content_type})
        assert "content-length" not in r.request.headers
        assert r.request.headers["transfer-encoding"] == "chunked"
        assert r.status_code == 413 and r.headers["content-type"] == PROBLEM, r.text[:300]
        assert r.json()["code"] == "payload-too-large"
    assert_nothing_recorded(node, size)


def test_a_chunked_upload_over_the_limit_to_the_verify_page_is_413(node: LiveNode) -> None:
    boundary = "zz"

    def form() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="co.json"'
            "\r\nContent-Type: application/json\r\n\r\n"
        ).encode()
        yield from chunks()
        yield f"\r\n--{boundary}--\r\n".encode()

    with node.http() as h:
        r = h.post(
            "/verify",
            content=form(),
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
    assert r.request.headers["transfer-encoding"] == "chunked"
    assert r.status_code == 413 and 'role="alert"' in r.text


# -- the Host header -----------------------------------------------------------------------------

FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}


def test_a_forged_host_does_not_reach_the_printed_certificate(node: LiveNode) -> None:
    doc_id, body = issue(node)
    with node.http("issuer") as h:
        r = h.get(f"/v1/documents/{doc_id}/pdf", headers=FORGED)
    assert r.status_code == 200, r.text[:300]
    assert "evil.example" not in text_of(r.content)
    assert scanned(r.content) == [f"{node.base_url}/verify?id={doc_id}&d={digest(body)}"]


def test_a_forged_host_does_not_reach_the_verify_page_or_its_pdf(node: LiveNode) -> None:
    doc_id, body = issue(node)
    with node.http() as h:
        page = h.get("/verify", params={"id": doc_id, "d": digest(body)}, headers=FORGED)
        assert page.status_code == 200 and "evil.example" not in page.text
        link = re.search(r'href="([^"]*/verify/pdf\?[^"]+)"', page.text)
        assert link, page.text[:500]
        pdf = h.get(unescape(link.group(1)), headers=FORGED)
    assert pdf.status_code == 200, pdf.text[:300]
    (url,) = scanned(pdf.content)
    assert url == f"{node.base_url}/verify?id={doc_id}&d={digest(body)}"
    assert "evil.example" not in text_of(pdf.content)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served on a free loopback port, for as long as the block runs."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="test-uvicorn-public-url", daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_the_configured_public_url_is_what_a_certificate_prints(node: LiveNode) -> None:
    doc_id, body = issue(node)
    app = create_app(node.node, public_url="https://verify.example.org/jcci/")
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as h:
        r = h.get(
            f"/v1/documents/{doc_id}/pdf",
            headers={"Authorization": f"Bearer {node.tokens['issuer']}", **FORGED},
        )
    assert r.status_code == 200, r.text[:300]
    expected = f"https://verify.example.org/jcci/verify?id={doc_id}&d={digest(body)}"
    assert scanned(r.content) == [expected]


# -- --public-url and node.json's public_url -----------------------------------------------------

BAD_PUBLIC_URLS = [
    "ftp://node.example",
    "node.example:8000",
    "https://",
    "https://node.example/?next=evil",
    "https://node.example/#top",
    "https://user:secret@node.example",
    "https://node.example:99999",
    "https://node example.org",
]


@pytest.mark.parametrize("value", BAD_PUBLIC_URLS)
def test_serve_with_a_bad_public_url_says_so_in_one_line_and_exits_2(
    tmp_path: Path, value: str
) -> None:
    result = CliRunner().invoke(
        cli, ["serve", "--home", str(tmp_path / "home"), "--public-url", value]
    )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error[configuration]: "), result.output
    assert "--public-url" in lines[0]
    assert not (tmp_path / "home").exists()  # refused before anything was created


def test_public_url_from_node_json_is_checked_and_defaults_to_none(tmp_path: Path) -> None:
    home = NodeHome(tmp_path)
    home.write_settings("jp-jcci", ["jp-jcci"], None)
    assert home.public_url() is None
    settings = json.loads(home.settings_file.read_text())
    home.settings_file.write_text(json.dumps({**settings, "public_url": "https://n.example/"}))
    assert home.public_url() == "https://n.example"
    for bad in [*BAD_PUBLIC_URLS, 42]:
        home.settings_file.write_text(json.dumps({**settings, "public_url": bad}))
        with pytest.raises(ConfigurationError) as caught:
            home.public_url()
        assert "node.json" in caught.value.detail and caught.value.exit_code == 2
    assert check_public_url("http://[::1]:8000/tl/", "--public-url") == "http://[::1]:8000/tl"


def test_serve_prints_its_public_url_before_node_json_s(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert CliRunner().invoke(cli, ["demo", "--home", str(home), "--entries", "0"]).exit_code == 0
    settings = json.loads((home / "node.json").read_text())
    (home / "node.json").write_text(json.dumps({**settings, "public_url": "https://json.example"}))
    port = free_port()
    proc = start_serve(home, port, "--public-url", "https://flag.example/tl/")
    try:
        auth = {"Authorization": f"Bearer {token(home, 'jp-jcci', 'issuing_authority')}"}
        body = json.dumps(certificate(new_number())).encode()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=30) as h:
            r = h.post(
                "/v1/documents",
                params={"event": "co.issued"},
                content=body,
                headers={"content-type": "application/json"},
            )
            assert r.status_code == 201, r.text
            doc_id = r.json()["document_id"]
            for _ in range(500):  # readable once its block is cut (every 200 ms)
                pdf = h.get(f"/v1/documents/{doc_id}/pdf", headers=FORGED)
                if pdf.status_code != 404:
                    break
                time.sleep(0.02)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert pdf.status_code == 200, pdf.text[:300]
    assert scanned(pdf.content) == [f"https://flag.example/tl/verify?id={doc_id}&d={digest(body)}"]


# -- random JSON-ish garbage ---------------------------------------------------------------------

_TOKENS = st.sampled_from(
    [
        "[", "]", "{", "}", ":", ",", '"', '"a"', '"number"', '"document_type"',
        '"certificate_of_origin"', '"digest"', '"document_id"', "1", "-0", "1e999", "1.5",
        "true", "null", "NaN", "\\", "\\u", "\\ud800", '"\\ud800"', '"\\udc00\\ud800"', "é",
        "\x00", " ", "\n",
    ]
)  # fmt: skip
_JSONISH = st.one_of(
    st.lists(_TOKENS, max_size=60).map("".join),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=20,
    ).map(json.dumps),
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=_JSONISH)
@example(text="[" * 5000)
@example(text='{"document_type":"certificate_of_origin","number":"\\ud800"}')
@example(text='{"digest":"\\udfff"}')
def test_random_json_ish_garbage_never_gets_a_5xx(node: LiveNode, text: str) -> None:
    body = text.encode("utf-8", "surrogatepass")
    with node.http("issuer") as h:
        for path, params in (("/v1/verify", {}), ("/v1/documents", {"event": "co.issued"})):
            r = h.post(
                path, params=params, content=body, headers={"content-type": "application/json"}
            )
            assert r.status_code < 500, (path, body[:200], r.text[:300])
            assert r.status_code in (200, 201) or r.headers["content-type"] == PROBLEM


# -- whatever a parser raises on bad input -------------------------------------------------------


def test_input_that_breaks_a_parser_is_a_422_not_a_500(
    node: LiveNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API's own boundary, whichever parser (the ledger's, a library's) meets such input
    before the node's checks do: a RecursionError, or encoding a lone surrogate, is the
    input's fault."""
    breakers = [
        RecursionError("maximum recursion depth exceeded while decoding a JSON array"),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
    ]
    document = json.dumps(certificate(new_number())).encode()
    for breaker in breakers:

        def broken(*_args: object, breaker: Exception = breaker) -> Any:
            raise breaker

        monkeypatch.setattr(node.node, "verify", broken)
        monkeypatch.setattr(node.node, "prepare_document", broken)
        with node.http("issuer") as h:
            for params in ({"event": "co.issued"}, {"event": "co.issued", "x": "1"}):
                r = h.post(
                    "/v1/documents",
                    params=params,
                    content=document,
                    headers={"content-type": "application/json"},
                )
                assert_located_problem(r)
            r = h.post("/v1/verify", content=document, headers={"content-type": "application/json"})
            assert_located_problem(r)
