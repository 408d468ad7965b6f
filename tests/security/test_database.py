"""Someone holding a node's database file: they can change any row (triggers can be dropped),
but the node checks what it needs of its store against its last signed block before it signs
or serves anything on top of it, and refuses to start, naming the height, when they differ.
(Before, a restarted node with a few subtree hashes zeroed signed its next block with a wrong
tree root, making the chain permanently invalid.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.errors import StoreInconsistent
from nodes.demo import run_demo
from nodes.home import NodeHome
from nodes.service import LedgerNode
from nodes.store import LedgerStore
from tests.nodes.tamper import update_column


@pytest.fixture
def home(tmp_path: Path) -> NodeHome:
    home = NodeHome(tmp_path / "home")
    writer = run_demo(home, 30)
    writer.store.dispose()
    return home


def _tamper(home: NodeHome, sql: str) -> None:
    store: LedgerStore = home.open_store()
    store.drop_append_only_triggers()
    with store.engine.begin() as conn:
        conn.execute(text(sql))
    store.dispose()


def _refused(home: NodeHome) -> StoreInconsistent:
    with pytest.raises(StoreInconsistent) as caught:
        LedgerNode.open(home)
    return caught.value


def test_zeroed_subtree_hashes_stop_the_node_before_it_signs(home: NodeHome) -> None:
    _tamper(home, "UPDATE ledger_tree_nodes SET hash = zeroblob(32)")
    refused = _refused(home)
    assert "height" in refused.detail and refused.extra["height"] >= 1


def test_a_changed_entry_hash_stops_the_node_before_it_serves_proofs(home: NodeHome) -> None:
    store = home.open_store()
    update_column(store, "ledger_entries", "idx", 0, "entry_hash", bytes(32))
    store.dispose()
    assert "ledger_entries" in _refused(home).detail


def test_a_rewritten_last_checkpoint_stops_the_node(home: NodeHome) -> None:
    store = home.open_store()
    height, _ = store.head()
    with store.engine.connect() as conn:
        checkpoint = conn.execute(
            text("SELECT checkpoint FROM ledger_blocks WHERE height = :h"), {"h": height}
        ).scalar()
    forged = checkpoint.replace("\n\n", "\nforged extension\n\n", 1)
    update_column(store, "ledger_blocks", "height", height, "checkpoint", forged)
    store.dispose()
    assert "checkpoint" in _refused(home).detail


def test_serve_on_a_tampered_store_says_why_in_one_line_and_exits_2(home: NodeHome) -> None:
    _tamper(home, "UPDATE ledger_tree_nodes SET hash = zeroblob(32)")
    done = subprocess.run(
        [sys.executable, "-m", "nodes.cli.main", "serve", "--home", str(home.path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if "store-inconsistent" in line]
    assert len(lines) == 1 and "refusing to sign" in lines[0], done.stderr


def test_an_untouched_store_starts(home: NodeHome) -> None:
    LedgerNode.open(home).close()


def test_an_index_event_that_names_another_entry_stops_the_node(home: NodeHome) -> None:
    LedgerNode.open(home).close()  # builds the index
    _tamper(home, "UPDATE node_document_events SET entry_hash = zeroblob(32) WHERE idx = 3")
    refused = _refused(home)
    assert "node_document_events" in refused.detail and refused.extra["height"] == 1
