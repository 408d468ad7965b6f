"""The sequencer's backlog bound: how much room there is, and who is told when a cut makes
room (api.admission holds submissions on it; tests/api/test_admission.py drives it over HTTP)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodes.demo import run_demo
from nodes.home import NodeHome
from nodes.sequencer import Sequencer
from nodes.service import LedgerNode
from nodes.tokens import create_token
from tests.api.conftest import USERS
from tests.api.test_api import certificate, new_number


@pytest.fixture
def node(tmp_path: Path) -> Iterator[LedgerNode]:
    home = NodeHome(tmp_path)
    run_demo(home, 20).store.dispose()
    node = LedgerNode.open(home, block_interval=30, block_max_entries=3, block_max_backlog=4)
    try:
        yield node
    finally:
        node.close()


def issue(node: LedgerNode) -> None:
    caller = node.authenticate(create_token(node.store, node.consortium, *USERS["issuer"]))
    body = json.dumps(certificate(new_number())).encode()
    entries = node.prepare_document(caller, "co.issued", body, "application/json")
    node.enqueue_all(entries, lambda _error: None)


def test_the_backlog_is_at_least_one_block(node: LedgerNode) -> None:
    sequencer = node.sequencer
    assert sequencer.max_backlog == 4
    smaller = Sequencer(
        sequencer.writer, sequencer.journal, lambda _s: None, max_entries=5, max_backlog=2
    )
    assert smaller.max_backlog == 5  # a full block must be able to wait, or none is ever cut
    assert (
        Sequencer(sequencer.writer, sequencer.journal, lambda _s: None, max_entries=7).max_backlog
        == 7
    )


def test_room_shrinks_as_entries_wait_and_returns_after_a_cut(node: LedgerNode) -> None:
    cuts = threading.Event()
    node.sequencer.add_cut_listener(cuts.set)
    node.sequencer.add_cut_listener(lambda: 1 / 0)  # a broken listener stops nothing
    assert node.sequencer.room() == 4
    issue(node)
    issue(node)
    assert node.sequencer.room() == 2
    issue(node)  # a full block (3): the block thread cuts it at once
    assert cuts.wait(10)
    assert node.sequencer.pending_count() == 0  # the cut took all three
    assert node.sequencer.room() == 4
    cuts.clear()
    for _ in range(3):
        issue(node)
    assert cuts.wait(10)  # told again: the failing listener did not stop the block thread


def test_a_removed_listener_is_not_called(node: LedgerNode) -> None:
    calls: list[int] = []

    def listener() -> None:
        calls.append(1)

    node.sequencer.add_cut_listener(listener)
    node.sequencer.remove_cut_listener(listener)
    node.sequencer.remove_cut_listener(listener)  # twice is harmless
    done = threading.Event()
    node.sequencer.add_cut_listener(done.set)
    for _ in range(3):
        issue(node)
    assert done.wait(10)
    assert calls == []
