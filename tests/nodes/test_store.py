"""The store on SQLite and PostgreSQL: durable blocks, append-only tables, proofs from stored
subtree hashes, and auditor replay straight from a database URL."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from ledger.blocks import BlockHeader
from ledger.merkle import (
    consistency_proof,
    inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from nodes.cli.main import app
from nodes.demo import CONSORTIUM_ID, TradeScenario, ensure_consortium
from nodes.home import NodeHome
from nodes.store import LEDGER_TABLES, LedgerStore
from nodes.writer import LedgerWriter, load_state


def filled_store(tmp_path: Path, db_url: str, entries: int = 1100) -> tuple[NodeHome, LedgerStore]:
    home = NodeHome(tmp_path / "home")
    ensure_consortium(home)
    store = LedgerStore(db_url)
    store.create_schema()
    store.save_consortium(home.consortium_file.read_bytes())
    writer = LedgerWriter(store, home.consortium(), home.org_id, home.signing_key(home.org_id))
    batch = list(TradeScenario(random.Random(3), home.signing_keys()).entries(entries))
    for start in range(0, len(batch), 300):  # blocks of 300, 300, 300, 200
        writer.append(batch[start : start + 300])
    return home, store


def test_blocks_round_trip_and_head(tmp_path: Path, db_url: str) -> None:
    home, store = filled_store(tmp_path, db_url)
    assert store.head() == (4, 1100)
    blocks = list(store.iter_blocks())
    assert [b.height for b in blocks] == [1, 2, 3, 4]
    assert sum(len(b.entries) for b in blocks) == 1100
    last = BlockHeader.from_bytes(blocks[-1].header)
    leaves = [store.subtree_hash(0, i) for i in range(1100)]
    assert root_from_leaf_hashes(leaves).hex() == last.tree_root
    # A reopened node resumes from exactly the stored head.
    state = load_state(store, home.consortium())
    assert state.tree.root().hex() == last.tree_root and state.head_hash == last.block_hash
    store.dispose()


@pytest.mark.parametrize("table", LEDGER_TABLES)
def test_ledger_tables_refuse_update_and_delete(tmp_path: Path, db_url: str, table: str) -> None:
    _, store = filled_store(tmp_path, db_url, entries=10)
    store.add_cosignature(1, "vn-customs:0000000000000000", "— vn-customs:0 AAAA\n")
    for statement in (
        f"UPDATE {table} SET {_column(table)} = {_column(table)}",
        f"DELETE FROM {table}",
    ):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))
    store.dispose()


@pytest.mark.postgres
def test_postgres_refuses_truncate(tmp_path: Path, postgres_server: str) -> None:
    from tests.conftest import fresh_postgres_database

    _, store = filled_store(tmp_path, fresh_postgres_database(postgres_server), entries=10)
    for table in LEDGER_TABLES:
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {table} CASCADE"))
    store.dispose()


def _column(table: str) -> str:
    return {
        "ledger_meta": "key",
        "ledger_blocks": "height",
        "ledger_entries": "idx",
        "ledger_tree_nodes": "level",
        "ledger_checkpoint_signatures": "height",
    }[table]


def test_proofs_from_stored_subtrees_verify(tmp_path: Path, db_url: str) -> None:
    _, store = filled_store(tmp_path, db_url)
    headers = [BlockHeader.from_bytes(b.header) for b in store.iter_blocks()]
    rng = random.Random(5)
    for header in headers:
        root = bytes.fromhex(header.tree_root)
        for index in {0, header.tree_size - 1, *rng.sample(range(header.tree_size), 5)}:
            proof = inclusion_proof(store, index, header.tree_size)
            assert store.inclusion_proof(index, header.tree_size) == proof
            verify_inclusion(store.subtree_hash(0, index), index, header.tree_size, proof, root)
    for a, b in [(headers[0], headers[3]), (headers[1], headers[2]), (headers[2], headers[3])]:
        proof = consistency_proof(store, a.tree_size, b.tree_size)
        assert store.consistency_proof(a.tree_size, b.tree_size) == proof
        verify_consistency(
            a.tree_size, b.tree_size, bytes.fromhex(a.tree_root), bytes.fromhex(b.tree_root), proof
        )
    store.dispose()


def test_replay_from_a_database_url(tmp_path: Path, db_url: str) -> None:
    home, store = filled_store(tmp_path, db_url, entries=700)
    store.dispose()
    result = CliRunner().invoke(
        app,
        [
            "audit",
            "replay",
            "--db",
            db_url,
            "--genesis",
            str(home.consortium_file),
            "--workers",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "valid: 700 entries in 3 blocks" in result.output


def test_another_consortium_is_refused(tmp_path: Path, db_url: str) -> None:
    _, store = filled_store(tmp_path, db_url, entries=5)
    other = NodeHome(tmp_path / "other")
    ensure_consortium(other)
    from ledger.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        store.save_consortium(other.consortium_file.read_bytes())
    store.dispose()


def test_reopening_a_ledger_with_a_membership_change(tmp_path: Path, db_url: str) -> None:
    """load_state rebuilds membership from stored config entries (a regression: reading
    entries back by type once failed on SQLAlchemy 2.1)."""
    import json

    from ledger.entries import build_entry
    from ledger.keys import SigningKey

    home, store = filled_store(tmp_path, db_url, entries=5)
    consortium = home.consortium()
    writer = LedgerWriter(store, consortium, home.org_id, home.signing_key(home.org_id))
    new = SigningKey.generate()
    change = build_entry(
        "config.update",
        "jp-sakura-bank",
        home.signing_key("jp-sakura-bank"),
        json.dumps(
            {
                "changes": [
                    {
                        "op": "add_key",
                        "org": "jp-sakura-bank",
                        "key": {
                            "key_id": new.key_id,
                            "public_key": new.public_key.to_b64(),
                            "status": "active",
                        },
                    }
                ]
            }
        ).encode(),
        "application/json",
        consortium_id=CONSORTIUM_ID,
    )
    writer.append([change])
    stored = store.entry_by_hash(change.entry_hash)
    assert stored is not None and stored.type == "config.update" and stored.payload
    assert [e.entry_hash for e in store.entries_of_type("config.update")] == [change.entry_hash]
    reopened = load_state(store, consortium)
    assert reopened.membership.key_owner(new.key_id) == "jp-sakura-bank"
    assert reopened.head_hash == writer.state.head_hash
    store.dispose()


def test_a_failed_block_write_stops_the_writer(tmp_path: Path) -> None:
    """Fail-stop: after a block could not be stored nothing more is accepted, and a restart
    resumes from what is on disk."""
    from ledger.errors import StorageError

    home, store = filled_store(tmp_path, f"sqlite:///{tmp_path / 'l.db'}", entries=5)
    writer = LedgerWriter(store, home.consortium(), home.org_id, home.signing_key(home.org_id))
    entries = list(TradeScenario(random.Random(99), home.signing_keys()).entries(3))

    def broken(*_args: object) -> None:
        raise OSError("disk full")

    store.append_block = broken  # type: ignore[method-assign]
    with pytest.raises(StorageError, match="block 2"):
        writer.append(entries[:1])
    with pytest.raises(StorageError):
        writer.offer(entries[1])
    store2 = LedgerStore(f"sqlite:///{tmp_path / 'l.db'}")
    fresh = LedgerWriter(store2, home.consortium(), home.org_id, home.signing_key(home.org_id))
    assert fresh.height == 1
    fresh.append(entries[:1])  # the entry that was never stored can be appended now
    assert fresh.height == 2
