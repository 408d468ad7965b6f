"""Attacks on one node: each test here plays an attacker (an anonymous visitor, a member in
one of its roles, a node operator, someone holding the database file) and asserts that the
attack fails. The tests are grouped by threat: confidentiality, integrity, verification,
authentication and input. ``docs/threat-model.md`` names the test that pins each rule.

Every module gets its own node (a small demo consortium served on a free loopback port), so
that what one module's attacks leave on the ledger cannot hide or cause another's result.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nodes.home import NodeHome
from tests.api.conftest import LiveNode, serving


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    with serving(NodeHome(tmp_path_factory.mktemp("attacked")), 40) as live:
        yield live
