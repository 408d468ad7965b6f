"""Attacks on one node: each test here plays an attacker (an anonymous visitor, a member in
one of its roles, a node operator, someone holding the database file) and asserts that the
attack fails. The tests are grouped by threat: confidentiality, integrity, verification,
authentication and input. ``docs/threat-model.md`` names the test that pins each rule.

Every module gets its own node (a small demo consortium served on a free loopback port), so
that what one module's attacks leave on the ledger cannot hide or cause another's result.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nodes.demo import run_demo
from nodes.home import NodeHome
from nodes.service import LedgerNode
from nodes.tokens import create_token
from tests.api.conftest import USERS, LiveNode, free_port, serve_in_thread


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    path: Path = tmp_path_factory.mktemp("attacked")
    home = NodeHome(path)
    writer = run_demo(home, 40)
    writer.store.dispose()
    ledger_node = LedgerNode.open(home, block_interval=0.02)
    port = free_port()
    server, thread = serve_in_thread(ledger_node, port)
    live = LiveNode(f"http://127.0.0.1:{port}", ledger_node, home)
    for user, (org, role) in USERS.items():
        live.tokens[user] = create_token(ledger_node.store, ledger_node.consortium, org, role)
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        ledger_node.close()
