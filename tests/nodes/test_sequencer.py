"""The sequencer's backlog bound: how much room there is, and who is told when a cut makes
room (api.admission holds submissions on it; tests/api/test_admission.py drives it over HTTP)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ledger.chain import ADMISSION_MARGIN, MAX_BACKDATING
from ledger.consortium import FoundingMember, create_genesis
from ledger.entries import Entry, build_entry
from ledger.errors import TimestampTooOld
from ledger.keys import SigningKey
from ledger.timefmt import now
from nodes.demo import run_demo
from nodes.home import NodeHome
from nodes.sequencer import Journal, Sequencer
from nodes.service import LedgerNode
from nodes.store import LedgerStore
from nodes.tokens import create_token
from nodes.writer import LedgerWriter
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
    sequencer = node.orderer
    assert isinstance(sequencer, Sequencer)  # the embedded orderer, the node's default
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
    node.orderer.add_cut_listener(cuts.set)
    node.orderer.add_cut_listener(lambda: 1 / 0)  # a broken listener stops nothing
    assert node.orderer.room() == 4
    issue(node)
    issue(node)
    assert node.orderer.room() == 2
    issue(node)  # a full block (3): the block thread cuts it at once
    assert cuts.wait(10)
    assert node.orderer.pending_count() == 0  # the cut took all three
    assert node.orderer.room() == 4
    cuts.clear()
    for _ in range(3):
        issue(node)
    assert cuts.wait(10)  # told again: the failing listener did not stop the block thread


def test_a_removed_listener_is_not_called(node: LedgerNode) -> None:
    calls: list[int] = []

    def listener() -> None:
        calls.append(1)

    node.orderer.add_cut_listener(listener)
    node.orderer.remove_cut_listener(listener)
    node.orderer.remove_cut_listener(listener)  # twice is harmless
    done = threading.Event()
    node.orderer.add_cut_listener(done.set)
    for _ in range(3):
        issue(node)
    assert done.wait(10)
    assert calls == []


KEY = SigningKey(b"\x07" * 32)


def one_issuer_ledger(tmp_path: Path, created: datetime) -> tuple[LedgerStore, LedgerWriter]:
    consortium = create_genesis(
        "recovery-test",
        "Recovery test",
        [FoundingMember("jp-jcci", "JCCI", "JP", ["issuing_authority"], KEY)],
        created=created,
    )
    store = LedgerStore(f"sqlite:///{tmp_path / 'ledger.db'}")
    store.create_schema()
    store.save_consortium(consortium.to_bytes())
    return store, LedgerWriter(store, consortium, "jp-jcci", KEY)


def certificate_entry(n: int, at: datetime) -> Entry:
    return build_entry(
        "co.issued",
        "jp-jcci",
        KEY,
        f'{{"n":{n}}}'.encode(),
        "application/json",
        consortium_id="recovery-test",
        subject=f"jp-jcci/R-{n}",
        timestamp=at,
    )


def test_the_node_admits_an_entry_only_within_the_window_less_the_margin(tmp_path: Path) -> None:
    head = now() - timedelta(hours=1)
    _store, writer = one_issuer_ledger(tmp_path, head)
    writer.append([certificate_entry(0, head)], time=head)
    within_margin = certificate_entry(1, head - MAX_BACKDATING + ADMISSION_MARGIN / 2)
    writer.state.check_entry(within_margin, reference_time=now())  # the chain's rule takes it
    with pytest.raises(TimestampTooOld):
        writer.offer(within_margin)  # a node does not admit it
    assert writer.pending_count() == 0


def test_recovery_appends_every_journaled_entry_after_a_long_stop(tmp_path: Path) -> None:
    """Entries acknowledged before a stop, backdated as far as the node admitted them, are all
    appended when it restarts two days later, though a block was cut after they were admitted
    and they are more than a block holds: they are checked with the chain's full window and go
    into one block, whose predecessor is the head they are checked against (a second block's
    would be the first, cut at restart, and refuse them as too old)."""
    stopped = now() - timedelta(days=2)
    store, writer = one_issuer_ledger(tmp_path, stopped - timedelta(hours=1))
    admitted_at = stopped - timedelta(seconds=10)
    writer.append([certificate_entry(0, admitted_at)], time=admitted_at)
    oldest_admitted = admitted_at - MAX_BACKDATING + ADMISSION_MARGIN
    acknowledged = [certificate_entry(n, oldest_admitted) for n in range(1, 6)]
    for e in acknowledged:
        writer.check(e)  # the node admitted each of them against that head ...
    writer.append([certificate_entry(99, stopped)], time=stopped)  # ... cut a block, stopped
    journal = Journal.beside(store.url, store.engine)
    journal.create_schema()
    journal.append(acknowledged)

    restarted = LedgerWriter(store, writer.consortium, "jp-jcci", KEY)
    sequencer = Sequencer(restarted, journal, lambda summary: None, max_entries=2)
    assert sequencer.recover() == 5
    assert (restarted.height, restarted.state.tree_size) == (3, 7)
    assert journal.count() == 0
