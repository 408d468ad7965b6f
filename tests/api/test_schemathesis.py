"""Property-based fuzzing of the whole API from its own OpenAPI description: no 5xx, ever.

Every operation of ``/openapi.json`` gets generated requests — valid ones (positive) and ones
that break the schema (negative) — bounded to a few hundred in all so that the run stays well
under a minute. POSTs act as an issuing authority (so submissions reach the node's checks and
its journal), GETs as an auditor (who may read everything); the node must keep serving.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from tests.api.conftest import LiveNode

EXAMPLES_PER_OPERATION = 40
#: Web pages answer a visitor's mistakes in the page itself (HTML), not as problem details.
HTML_PAGES = frozenset({"/verify"})


def _operations(live: LiveNode) -> list[schemathesis.schemas.APIOperation]:
    schema = schemathesis.openapi.from_url(f"{live.base_url}/openapi.json")
    schema.config.base_url = live.base_url
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(
    operation: schemathesis.schemas.APIOperation,
    mode: GenerationMode,
    base_url: str,
    headers: dict[str, str],
    seen: dict[str, int],
) -> None:
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        seen[operation.label] = seen.get(operation.label, 0) + 1
        assert response.status_code < 500, (
            f"{response.status_code} for {case.as_curl_command()}\n{response.text[:2000]}"
        )
        if response.status_code >= 400:
            ctype = response.headers.get("content-type") or [""]
            ctype = ctype[0] if isinstance(ctype, list) else ctype
            expected = "text/html" if operation.path in HTML_PAGES else "application/problem+json"
            assert ctype.split(";")[0] == expected, (
                f"{case.as_curl_command()}\n{response.text[:500]}"
            )

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # nothing to break in an operation without parameters or body (e.g. /v1/health)
        assert mode is GenerationMode.NEGATIVE, operation.label


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors(live: LiveNode, mode: GenerationMode) -> None:
    operations = _operations(live)
    assert len(operations) >= 10
    seen: dict[str, int] = {}
    for operation in operations:
        user = "issuer" if operation.method.upper() == "POST" else "auditor"
        headers = {"Authorization": f"Bearer {live.tokens[user]}"}
        _fuzz(operation, mode, live.base_url, headers, seen)
    if mode is GenerationMode.POSITIVE:
        assert len(seen) == len(operations)
    assert sum(seen.values()) >= 3 * len(seen)
    with live.http() as h:  # and the node is still serving
        assert h.get("/v1/health").json()["status"] == "ok"
