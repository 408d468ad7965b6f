"""The status map in a node's index (nodes/index.py, nodes/status_store.py): the root a writer
puts in each header is the one indexing the block gives, and the map proves any document at any
stored height, its absence included, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.blocks import BlockHeader
from ledger.entries import parse_entry
from ledger.errors import ProofInvalid
from ledger.status_map import verify_proof
from nodes import documents_bridge as bridge
from nodes.demo import TradeScenario, ensure_consortium
from nodes.home import NodeHome
from nodes.index import (
    DocumentIndex,
    IndexedEntry,
    StatusRootMismatch,
    catch_up,
    status_root_hook,
)
from nodes.store import LedgerStore
from nodes.writer import LedgerWriter


def indexed_chain(
    tmp_path: Path, db_url: str, blocks: int = 4
) -> tuple[LedgerStore, DocumentIndex, list[BlockHeader]]:
    home = NodeHome(tmp_path / "home")
    ensure_consortium(home)
    store = LedgerStore(db_url)
    store.create_schema()
    store.save_consortium(home.consortium_file.read_bytes())
    writers: list[LedgerWriter] = []
    index = DocumentIndex(store.engine, lambda: writers[0].state.membership)
    index.create_schema()
    writer = LedgerWriter(
        store,
        home.consortium(),
        home.org_id,
        home.signing_key(home.org_id),
        status_root=status_root_hook(index, store),
    )
    writers.append(writer)
    bridge.load_reference_data()
    batch = list(TradeScenario(random.Random(5), home.signing_keys()).entries(blocks * 150))
    for start in range(0, len(batch), 150):
        writer.append(batch[start : start + 150])
    catch_up(index, store)  # the last block
    headers = [BlockHeader.from_bytes(raw.header) for raw in store.iter_blocks()]
    return store, index, headers


def test_each_header_commits_to_the_map_indexing_gives(tmp_path: Path, db_url: str) -> None:
    store, index, headers = indexed_chain(tmp_path, db_url)
    assert index.indexed_height() == len(headers) == 4
    roots = [h.status_root for h in headers]
    assert len(set(roots)) == 4 and "00" * 32 not in roots
    for h in headers:
        assert index.status.root_at(h.height).hex() == h.status_root
    store.dispose()


def test_proofs_at_every_height_count_the_events_up_to_it(tmp_path: Path, db_url: str) -> None:
    store, index, headers = indexed_chain(tmp_path, db_url)
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT document_id, height FROM node_document_events")).all()
    per_doc = Counter(doc for doc, _ in rows)
    doc = max(per_doc, key=lambda d: (len({h for d2, h in rows if d2 == d}), per_doc[d]))
    for h in headers:
        record, proof = index.prove_status(doc, h.height)
        expected = sum(1 for d, height in rows if d == doc and height <= h.height)
        root = bytes.fromhex(h.status_root)
        if expected == 0:
            assert record is None
            verify_proof(root, doc, proof, None)
            continue
        assert record is not None and record.events == expected
        verify_proof(root, doc, proof, record)
        assert len(proof.to_bytes()) < 2048
        # the record of one height does not prove at another where it changed
        for other in headers:
            if (
                other.status_root != h.status_root
                and index.prove_status(doc, other.height)[0] != record
            ):
                with pytest.raises(ProofInvalid):
                    verify_proof(bytes.fromhex(other.status_root), doc, proof, record)
    store.dispose()


def test_an_unknown_id_gets_a_non_membership_proof(tmp_path: Path, db_url: str) -> None:
    store, index, headers = indexed_chain(tmp_path, db_url, blocks=2)
    record, proof = index.prove_status("jp-jcci/NO-SUCH", headers[-1].height)
    assert record is None and not proof.is_membership()
    verify_proof(bytes.fromhex(headers[-1].status_root), "jp-jcci/NO-SUCH", proof, None)
    store.dispose()


def test_indexing_refuses_a_header_root_its_rules_do_not_give(tmp_path: Path, db_url: str) -> None:
    store, index, headers = indexed_chain(tmp_path, db_url, blocks=2)
    raw = store.block(2)
    # a second index over the same rows (indexed to height 2): block 2 indexed again against a
    # wrong root is refused before anything is written
    fresh = DocumentIndex(store.engine, index.membership)
    items = [
        IndexedEntry(headers[1].first_index + i, 2, parse_entry(env, pl))
        for i, (env, pl) in enumerate(raw.entries)
    ]
    with pytest.raises(StatusRootMismatch) as err:
        fresh.index_block(2, items, status_root=bytes(32))
    assert err.value.extra["height"] == 2
    assert index.indexed_height() == 2
    store.dispose()
