"""Someone holding the database file changes one stored cell (triggers dropped first): whatever
the column, ``audit replay`` exits 1 naming the table. Columns the chain fold reads (envelope,
payload bytes, header, checkpoint) are covered by ``tests/nodes/test_audit.py``; here every
other column a node reads or serves, the document index included."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ledger.blocks import BlockHeader, Checkpoint, checkpoint_body, checkpoint_origin
from nodes.cli.main import app
from nodes.demo import run_demo
from nodes.home import NodeHome
from nodes.service import LedgerNode
from nodes.store import LedgerStore

runner = CliRunner()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = NodeHome(tmp_path_factory.mktemp("attest") / "home")
    run_demo(home, 1200).store.dispose()
    LedgerNode.open(home).close()  # builds the document index
    return home.path


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "home"
    shutil.copytree(template, target)
    return target


def _replay(home: Path) -> tuple[int, str, dict[str, Any]]:
    report = home.parent / "report.json"
    result = runner.invoke(
        app, ["audit", "replay", "--home", str(home), "--json", str(report), "--workers", "1"]
    )
    data = json.loads(report.read_text()) if report.exists() else {}
    return result.exit_code, result.output, data


def _sql(home: Path, statement: str, **params: Any) -> Any:
    store = LedgerStore(NodeHome(home).database_url())
    store.drop_append_only_triggers()
    with store.engine.begin() as conn:
        result = conn.execute(text(statement), params)
        rows = result.all() if result.returns_rows else None
    store.dispose()
    return rows


def _revoked_certificate(home: Path) -> str:
    rows = _sql(home, "SELECT document_id FROM node_documents WHERE status = 'revoked' LIMIT 1")
    assert rows, "the demo chain has a revoked certificate"
    return str(rows[0][0])


def _other(value: Any) -> Any:
    return bytes(32) if isinstance(value, bytes) else "tampered"


def _set(table: str, column: str, where: str, value: Any) -> Callable[[Path], None]:
    return lambda home: _sql(home, f"UPDATE {table} SET {column} = :v WHERE {where}", v=value)


FIRST = "(SELECT min(document_id) FROM node_documents)"

CASES: dict[str, tuple[str | None, Callable[[Path], None]]] = {
    "entries.entry_hash": (
        "ledger_entries",
        _set("ledger_entries", "entry_hash", "idx = 700", b"\x01" * 32),
    ),
    "entries.type": ("ledger_entries", _set("ledger_entries", "type", "idx = 700", "co.revoked")),
    "entries.subject": ("ledger_entries", _set("ledger_entries", "subject", "idx = 700", "x/1")),
    "entries.subject NULL": (
        "ledger_entries",
        _set("ledger_entries", "subject", "idx = 700", None),
    ),
    "entries.height": ("ledger_entries", _set("ledger_entries", "height", "idx = 700", 1)),
    "entries.payload NULL": (
        "ledger_entries",
        _set("ledger_entries", "payload", "idx = 700", None),
    ),
    "blocks.block_hash": (
        "ledger_blocks",
        _set("ledger_blocks", "block_hash", "height = 2", b"\x02" * 32),
    ),
    "blocks.entry_count (last block)": (
        "ledger_blocks",
        _set("ledger_blocks", "entry_count", "height = 3", 201),
    ),
    # read by the store to find a block's entries: the fold finds the short block first
    "blocks.first_index": (
        None,
        _set("ledger_blocks", "first_index", "height = 3", 1001),
    ),
    "tree_nodes.hash": (
        "ledger_tree_nodes",
        _set("ledger_tree_nodes", "hash", "level = 3 AND idx = 50", b"\x03" * 32),
    ),
    "tree_nodes.idx (extra row)": (
        "ledger_tree_nodes",
        lambda h: _sql(
            h,
            "INSERT INTO ledger_tree_nodes (level, idx, hash) VALUES (1, 100000, :v)",
            v=bytes(32),
        ),
    ),
    "tree_nodes.level": (
        "ledger_tree_nodes",
        _set("ledger_tree_nodes", "level", "level = 1 AND idx = 0", 40),
    ),
    "checkpoint_signatures (extra line)": (
        "ledger_checkpoint_signatures",
        lambda h: _sql(
            h,
            "INSERT INTO ledger_checkpoint_signatures (height, name, line) "
            "VALUES (2, 'w.example', :v)",
            v="\u2014 w.example " + "A" * 78 + "==\n",
        ),
    ),
    "checkpoint_signatures (beyond the head)": (
        "ledger_checkpoint_signatures",
        lambda h: _sql(
            h, "INSERT INTO ledger_checkpoint_signatures (height, name, line) VALUES (9, 'w', 'x')"
        ),
    ),
    "ledger_meta.value (genesis copy)": (
        "ledger_meta",
        _set("ledger_meta", "value", "key = 'consortium'", b"{}"),
    ),
    "ledger_meta (extra key)": (
        "ledger_meta",
        lambda h: _sql(h, "INSERT INTO ledger_meta (key, value) VALUES ('x', :v)", v=b"1"),
    ),
    "node_documents.status revoked->current": (
        "node_documents",
        lambda h: _sql(
            h,
            "UPDATE node_documents SET status = 'current' WHERE document_id = :d",
            d=_revoked_certificate(h),
        ),
    ),
    "node_documents.parties": (
        "node_documents",
        lambda h: _sql(
            h,
            "UPDATE node_documents SET parties = parties || ' intruder' WHERE document_id = "
            + FIRST,
        ),
    ),
    "node_documents.document_digest": (
        "node_documents",
        lambda h: _sql(
            h,
            "UPDATE node_documents SET document_digest = 'ab' WHERE document_id = " + FIRST,
        ),
    ),
    "node_documents (deleted row)": (
        "node_documents",
        lambda h: _sql(
            h,
            "DELETE FROM node_documents WHERE document_id = "
            "(SELECT max(document_id) FROM node_documents)",
        ),
    ),
    "node_documents (extra row)": (
        "node_documents",
        lambda h: _sql(
            h,
            "INSERT INTO node_documents (document_id, status, parties) "
            "VALUES ('zz/forged', 'current', 'x')",
        ),
    ),
    "node_document_events.entry_hash": (
        "node_document_events",
        lambda h: _sql(
            h, "UPDATE node_document_events SET entry_hash = :v WHERE idx = 10", v=bytes(32)
        ),
    ),
    "node_document_events (deleted row)": (
        "node_document_events",
        lambda h: _sql(h, "DELETE FROM node_document_events WHERE idx = 11"),
    ),
    "node_status_states.state": (
        "node_status_states",
        lambda h: _sql(
            h,
            "UPDATE node_status_states SET state = :v WHERE document_id = "
            "(SELECT min(document_id) FROM node_status_states)",
            v=b"{}",
        ),
    ),
    "node_status_nodes (deleted row)": (
        "node_status_nodes",
        lambda h: _sql(
            h,
            "DELETE FROM node_status_nodes WHERE rowid = (SELECT max(rowid) FROM "
            "node_status_nodes)",
        ),
    ),
    "node_meta.indexed_height": (
        "node_meta",
        lambda h: _sql(h, "UPDATE node_meta SET value = '9' WHERE key = 'indexed_height'"),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_changed_stored_cell_fails_replay_naming_its_table(home: Path, case: str) -> None:
    table, tamper = CASES[case]
    assert _replay(home)[0] == 0
    tamper(home)
    code, out, report = _replay(home)
    assert code == 1, out
    failure = report["first_failure"]
    assert isinstance(failure["height"], int), failure
    if table is None:
        assert failure["height"] == 3, failure
        return
    assert failure["table"] == table, failure
    assert table in out, out


def test_a_signed_header_with_a_wrong_status_root_fails_replay_naming_its_height(
    home: Path,
) -> None:
    """A proposer signs a header whose status root is not what the chain's documents give (a
    revocation left out of the map, say): every signature holds, and replay, which rebuilds the
    status map with the index's own rules, fails at that block."""
    node_home = NodeHome(home)
    store = node_home.open_store()
    height, _ = store.head()
    raw = store.block(height)
    header = BlockHeader.from_bytes(raw.header)
    forged = replace(header, status_root="00" * 32)
    key = node_home.signing_key(header.proposer)
    origin = checkpoint_origin(node_home.consortium().consortium_id)
    checkpoint = Checkpoint(checkpoint_body(origin, forged)).signed_by(header.proposer, key)
    store.dispose()
    _sql(
        home,
        "UPDATE ledger_blocks SET header = :h, block_hash = :b, checkpoint = :c WHERE height = :n",
        h=forged.to_bytes(),
        b=forged.block_hash,
        c=checkpoint.to_text(),
        n=height,
    )
    code, out, report = _replay(home)
    assert code == 1, out
    assert report["first_failure"]["height"] == height, report
    assert "status root" in report["first_failure"]["detail"], report


def test_attestation_with_every_block_verified_in_workers(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replay workers compute the document digests the index rebuild needs (no block verified
    inline here): the rebuilt index still matches, and a changed digest is still found."""
    import nodes.audit

    monkeypatch.setattr(nodes.audit, "INLINE_ENTRIES", 0)
    monkeypatch.setattr(nodes.audit, "BATCH_ENTRIES", 300)
    code, out, report = _replay(home)
    assert code == 0, out
    assert report["entries"] == 1200
    CASES["node_documents.document_digest"][1](home)
    code, out, report = _replay(home)
    assert code == 1, out
    assert report["first_failure"]["table"] == "node_documents", report
    assert report["first_failure"]["column"] == "document_digest", report


def test_attestation_indexes_in_this_process_when_no_other_can_open_the_store(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An in-memory store cannot be opened by the index process: the index is rebuilt here,
    with the same result."""
    import nodes.attest

    in_memory = nodes.attest._in_memory
    assert in_memory("sqlite://") and in_memory("sqlite:///:memory:")
    assert not in_memory(NodeHome(home).database_url())
    monkeypatch.setattr(nodes.attest, "_in_memory", lambda url: True)
    assert _replay(home)[0] == 0
    CASES["node_documents.parties"][1](home)
    code, out, report = _replay(home)
    assert code == 1, out
    assert report["first_failure"]["table"] == "node_documents", report
