"""The bound on entries waiting for a block: a submission beyond it waits for room (first come,
first served, let in after each block is cut); one that waits too long is answered 503
``node-busy`` with ``Retry-After`` and records nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.client import TradeLedgerClient
from ledger.errors import NodeBusy
from nodes.demo import run_demo
from nodes.home import NodeHome
from nodes.service import LedgerNode
from nodes.tokens import create_token
from tests.api.conftest import USERS, free_port, serve_in_thread
from tests.api.test_api import certificate, declaration, new_number


@dataclass
class StalledNode:
    """A node whose block writes wait for ``disk`` (a disk that stopped answering)."""

    node: LedgerNode
    base_url: str
    token: str
    disk: threading.Event

    def submit(self, number: str) -> httpx.Response:
        with httpx.Client(base_url=self.base_url, timeout=60) as client:
            return client.post(
                "/v1/documents",
                params={"event": "co.issued"},
                json=certificate(number),
                headers={"Authorization": f"Bearer {self.token}"},
            )

    def wait_for_pending(self, n: int) -> None:
        deadline = time.monotonic() + 10
        while self.node.orderer.pending_count() != n:
            assert time.monotonic() < deadline, f"the backlog never reached {n}"
            time.sleep(0.01)


@pytest.fixture
def stalled(tmp_path: Path) -> Iterator[StalledNode]:
    home = NodeHome(tmp_path)
    run_demo(home, 40).store.dispose()
    # blocks of 2, at most 2 waiting, and no cut by the clock during a test
    node = LedgerNode.open(home, block_interval=30, block_max_entries=2, block_max_backlog=2)
    disk = threading.Event()
    cut_block = node.writer.cut_block

    def slow_cut(*args: Any, **kwargs: Any) -> Any:
        disk.wait(30)
        return cut_block(*args, **kwargs)

    node.writer.cut_block = slow_cut  # type: ignore[method-assign]
    token = create_token(node.store, node.consortium, *USERS["issuer"])
    port = free_port()
    server, thread = serve_in_thread(node, port)
    try:
        yield StalledNode(node, f"http://127.0.0.1:{port}", token, disk)
    finally:
        disk.set()
        server.should_exit = True
        thread.join(timeout=30)
        node.close()


def test_a_submission_beyond_the_backlog_waits_for_a_block_then_is_recorded(
    stalled: StalledNode,
) -> None:
    for _ in range(2):
        assert stalled.submit(new_number()).status_code == 201
    # two entries wait for a block whose write is stuck: the backlog is full
    stalled.wait_for_pending(2)
    assert stalled.node.orderer.room() == 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(stalled.submit, new_number())
        time.sleep(0.5)
        assert not waiting.done()  # held, not refused and not queued
        assert stalled.node.orderer.pending_count() == 2
        stalled.disk.set()  # the block is written: there is room again
        answer = waiting.result(timeout=30)
    assert answer.status_code == 201
    # the first two are in a block; the admitted one is journaled and waits for the next
    stalled.wait_for_pending(1)
    journaled = {e.entry_hash.hex() for e in stalled.node.journal.pending()}
    assert answer.json()["entry_hash"] in journaled


def test_a_submission_that_waits_too_long_gets_503_and_records_nothing(
    stalled: StalledNode,
) -> None:
    stalled.node.orderer.admission_timeout = 0.3
    for _ in range(2):
        assert stalled.submit(new_number()).status_code == 201
    stalled.wait_for_pending(2)
    journaled = stalled.node.journal.count()
    number = new_number()
    answer = stalled.submit(number)
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "1"
    problem = answer.json()
    assert problem["code"] == "node-busy"
    assert problem["retry_after"] == 1
    assert "nothing was recorded" in problem["detail"]
    assert stalled.node.journal.count() == journaled
    assert stalled.node.orderer.pending_count() == 2
    with httpx.Client(base_url=stalled.base_url) as client:
        assert client.get("/v1/health").status_code == 200  # still serving
    # the project's client raises it as the typed error, with when to try again
    with (
        TradeLedgerClient(stalled.base_url, stalled.token) as client,
        pytest.raises(NodeBusy) as busy,
    ):
        client.submit_document(certificate(new_number()), event="co.issued")
    assert busy.value.retry_after == 1
    assert busy.value.status == 503
    # nothing of the refused one was kept: the same number is taken once there is room
    stalled.disk.set()
    stalled.wait_for_pending(0)
    assert stalled.submit(number).status_code == 201


def test_waiting_submissions_are_let_in_as_room_allows(stalled: StalledNode) -> None:
    for _ in range(2):
        assert stalled.submit(new_number()).status_code == 201
    stalled.wait_for_pending(2)
    backlogs: list[int] = []
    offer = stalled.node.writer.offer

    def recorded(*args: Any, **kwargs: Any) -> Any:
        checked = offer(*args, **kwargs)
        backlogs.append(stalled.node.writer.pending_count())
        return checked

    stalled.node.writer.offer = recorded  # type: ignore[method-assign]
    with ThreadPoolExecutor(max_workers=6) as pool:
        waiting = [pool.submit(stalled.submit, new_number()) for _ in range(6)]
        time.sleep(0.5)
        assert not any(w.done() for w in waiting)
        stalled.disk.set()
        answers = [w.result(timeout=30) for w in waiting]
    assert [a.status_code for a in answers] == [201] * 6
    assert len(backlogs) == 6
    assert max(backlogs) <= 2  # the bound held while they were let in
    stalled.wait_for_pending(0)


def test_a_submission_naming_a_certificate_stuck_before_its_block_gets_503(
    stalled: StalledNode,
) -> None:
    stalled.node.orderer.admission_timeout = 0.3
    issued = stalled.submit(new_number())
    assert issued.status_code == 201
    co_id = issued.json()["document_id"]
    customs = create_token(stalled.node.store, stalled.node.consortium, *USERS["vn_customs"])
    journaled = stalled.node.journal.count()
    with httpx.Client(base_url=stalled.base_url, timeout=30) as client:
        answer = client.post(
            "/v1/documents",
            params={"event": "customs.import_declaration"},
            json=declaration("import", co_id),
            headers={"Authorization": f"Bearer {customs}"},
        )
    assert answer.status_code == 503
    assert answer.json()["code"] == "node-busy"
    assert co_id in answer.json()["detail"]
    assert answer.headers["retry-after"] == "1"
    assert stalled.node.journal.count() == journaled  # nothing recorded
