"""The node's journal: acknowledged entries not yet in a block, written durably in order."""

from __future__ import annotations

from pathlib import Path
from sqlite3 import IntegrityError

import pytest

from ledger.entries import Entry, build_entry
from ledger.keys import SigningKey
from nodes.demo import CONSORTIUM_ID
from nodes.sequencer import Journal
from nodes.store import LedgerStore


def entries(n: int) -> list[Entry]:
    key = SigningKey.generate()
    return [
        build_entry(
            "test.note",
            "jp-jcci",
            key,
            f"note {i}".encode(),
            "text/plain",
            consortium_id=CONSORTIUM_ID,
        )
        for i in range(n)
    ]


def journal(tmp_path: Path) -> Journal:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    store = LedgerStore(url)
    j = Journal.beside(url, store.engine)
    j.create_schema()
    return j


def test_a_large_batch_is_written_whole_and_in_order(tmp_path: Path) -> None:
    j = journal(tmp_path)
    batch = entries(2_345)
    j.append(batch[:5])
    j.append(batch[5:])
    assert [e.entry_hash for e in j.pending()] == [e.entry_hash for e in batch]
    assert [e.payload for e in j.pending()[:2]] == [b"note 0", b"note 1"]


def test_removing_and_appending_happen_in_one_transaction(tmp_path: Path) -> None:
    j = journal(tmp_path)
    first, second = entries(3), entries(2)
    j.append(first)
    j.append(second, remove=[e.entry_hash for e in first[:2]])
    assert [e.entry_hash for e in j.pending()] == [e.entry_hash for e in [first[2], *second]]
    j.remove([first[2].entry_hash])
    assert j.count() == 2


def test_entries_in_a_block_are_deleted_however_many_there_are(tmp_path: Path) -> None:
    j = journal(tmp_path)
    batch = entries(1_234)
    j.append(batch)
    j.append([], remove=[e.entry_hash for e in batch[:1_200]])
    assert [e.entry_hash for e in j.pending()] == [e.entry_hash for e in batch[1_200:]]


def test_a_failed_commit_writes_nothing_and_the_next_one_works(tmp_path: Path) -> None:
    j = journal(tmp_path)
    first = entries(2)
    j.append(first)
    with pytest.raises(IntegrityError):
        j.append([*entries(1), first[0]])  # the same entry twice: the whole batch is refused
    assert j.count() == 2
    later = entries(1)
    j.append(later)
    assert [e.entry_hash for e in j.pending()] == [e.entry_hash for e in [*first, *later]]
