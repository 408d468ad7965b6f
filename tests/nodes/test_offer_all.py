"""A certificate and its origin evidence are offered as one unit: both queued or neither."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.entries import build_entry
from ledger.errors import RoleNotAllowed, UnknownReference
from nodes.demo import CONSORTIUM_ID, ensure_consortium
from nodes.home import NodeHome
from nodes.store import LedgerStore
from nodes.writer import LedgerWriter


def writer_for(tmp_path: Path) -> tuple[NodeHome, LedgerWriter]:
    home = NodeHome(tmp_path / "home")
    ensure_consortium(home)
    store = LedgerStore(f"sqlite:///{tmp_path / 'l.db'}")
    store.create_schema()
    store.save_consortium(home.consortium_file.read_bytes())
    return home, LedgerWriter(store, home.consortium(), home.org_id, home.signing_key(home.org_id))


def test_a_later_entry_may_refer_to_an_earlier_one_of_the_unit(tmp_path: Path) -> None:
    home, writer = writer_for(tmp_path)
    key = home.signing_keys()["jp-jcci"]
    co = build_entry(
        "co.issued",
        "jp-jcci",
        key,
        b'{"number":"A-1"}',
        "application/json",
        consortium_id=CONSORTIUM_ID,
        subject="jp-jcci/A-1",
    )
    evidence = build_entry(
        "origin.evidence",
        "jp-jcci",
        key,
        b'{"items":[]}',
        "application/json",
        consortium_id=CONSORTIUM_ID,
        subject="jp-jcci/A-1",
        refs=[co.hash_hex],
    )
    writer.offer_all([co, evidence])
    summary = writer.cut_block()
    assert summary is not None
    assert [e.type for e in summary.entries] == ["co.issued", "origin.evidence"]


@pytest.mark.parametrize("bad", ["author", "reference"])
def test_a_refused_entry_leaves_nothing_queued(tmp_path: Path, bad: str) -> None:
    home, writer = writer_for(tmp_path)
    keys = home.signing_keys()
    co = build_entry(
        "co.issued",
        "jp-jcci",
        keys["jp-jcci"],
        b'{"number":"A-2"}',
        "application/json",
        consortium_id=CONSORTIUM_ID,
        subject="jp-jcci/A-2",
    )
    if bad == "author":  # an exporter may not record origin evidence
        second = build_entry(
            "origin.evidence",
            "jp-tanaka-machinery",
            keys["jp-tanaka-machinery"],
            json.dumps({}).encode(),
            "application/json",
            consortium_id=CONSORTIUM_ID,
            subject="jp-jcci/A-2",
            refs=[co.hash_hex],
        )
        error: type[Exception] = RoleNotAllowed
    else:
        second = build_entry(
            "origin.evidence",
            "jp-jcci",
            keys["jp-jcci"],
            b"{}",
            "application/json",
            consortium_id=CONSORTIUM_ID,
            subject="jp-jcci/A-2",
            refs=["ab" * 32],
        )
        error = UnknownReference
    with pytest.raises(error):
        writer.offer_all([co, second])
    assert writer.pending_count() == 0
    writer.offer(co)  # the certificate alone is still new to the writer
    assert writer.pending_count() == 1
