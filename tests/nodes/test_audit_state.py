"""``tradeledger audit replay --state FILE``: the next run verifies only what is new, and a
state it cannot trust (edited, another consortium's, a chain rewritten under it) is refused
with exit 1 and left as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.chain import TruncatedHashSet
from ledger.consortium import Membership
from ledger.entries import parse_entry
from nodes import audit_state
from nodes.cli.main import app
from nodes.demo import run_demo
from nodes.home import NodeHome
from nodes.store import LedgerStore
from tests.nodes.tamper import (
    append_forged_block,
    read_column,
    replayed_state,
    strip_entry_constraints,
)

runner = CliRunner()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("state") / "home"
    run_demo(NodeHome(home), 700).store.dispose()  # blocks of 500 and 200
    return home


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "home"
    shutil.copytree(template, target)
    return target


def audit(home: Path, state: Path, *extra: str) -> tuple[int, str, dict]:
    report = state.parent / "report.json"
    report.unlink(missing_ok=True)
    result = runner.invoke(
        app,
        [
            "audit",
            "replay",
            "--home",
            str(home),
            "--state",
            str(state),
            "--json",
            str(report),
            "--workers",
            "1",
            *extra,
        ],
    )
    data = json.loads(report.read_text()) if report.exists() else {}
    return result.exit_code, result.output, data


def files(state: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(state.parent.glob(state.name + "*"))}


def test_first_run_saves_and_the_next_verifies_only_the_new_blocks(
    home: Path, tmp_path: Path
) -> None:
    state = tmp_path / "audit.json"
    code, out, report = audit(home, state)
    assert code == 0, out
    assert (report["height"], report["entries"], report["resumed_from"]) == (2, 700, None)
    assert state.exists() and len(files(state)) == 2  # the JSON and its entry-hash sidecar

    code, out, report = audit(home, state)  # nothing new
    assert code == 0, out
    assert (report["blocks"], report["entries"], report["height"]) == (0, 0, 2)
    assert report["resumed_from"] == {"height": 2, "tree_size": 700}

    run_demo(NodeHome(home), 300).store.dispose()
    code, out, report = audit(home, state, "--workers", "2")
    assert code == 0, out
    assert (report["blocks"], report["entries"], report["tree_size"]) == (1, 300, 1000)
    # the resumed result is the full replay's result
    full = runner.invoke(app, ["audit", "replay", "--home", str(home), "--workers", "1"])
    assert full.exit_code == 0
    assert report["root"] in full.output and report["head_hash"] in full.output
    saved = json.loads(state.read_text())
    assert (saved["height"], saved["tree_size"], saved["known"]["count"]) == (3, 1000, 1000)
    assert len(files(state)) == 2  # the old sidecar is gone


def test_saved_state_round_trips(home: Path, tmp_path: Path) -> None:
    node = NodeHome(home)
    store = LedgerStore(node.database_url())
    state = replayed_state(store, node.consortium())
    checkpoint, earlier = store.block(state.height).checkpoint, store.block(1).checkpoint
    store.dispose()
    path = tmp_path / "s.json"
    audit_state.save(path, state, earlier)  # the checkpoint must be the head's
    with pytest.raises(audit_state.AuditStateInvalid, match="does not describe"):
        audit_state.load(path, node.consortium())
    audit_state.save(path, state, checkpoint)
    loaded = audit_state.load(path, node.consortium())
    assert loaded is not None
    again = loaded.state
    assert (again.height, again.head_hash, again.head_time) == (
        state.height,
        state.head_hash,
        state.head_time,
    )
    assert again.tree == state.tree and again.membership == state.membership
    assert isinstance(again.known, TruncatedHashSet) and len(again.known) == 700
    assert Membership.from_dict(state.consortium.consortium_id, state.membership.to_dict()) == (
        state.membership
    )


def test_an_entry_seen_before_the_saved_height_is_still_a_duplicate(
    home: Path, tmp_path: Path
) -> None:
    state = tmp_path / "audit.json"
    assert audit(home, state)[0] == 0
    node = NodeHome(home)
    store = LedgerStore(node.database_url())
    first = parse_entry(
        bytes(read_column(store, "ledger_entries", "idx", 3, "envelope")),  # type: ignore[arg-type]
        bytes(read_column(store, "ledger_entries", "idx", 3, "payload")),  # type: ignore[arg-type]
    )
    strip_entry_constraints(store)
    append_forged_block(store, node.consortium(), [first], "jp-jcci", node.signing_key("jp-jcci"))
    store.dispose()
    before = files(state)
    code, out, report = audit(home, state)
    assert code == 1
    assert report["first_failure"]["reason"] == "duplicate-entry", out
    assert files(state) == before


def test_a_chain_rewritten_below_the_saved_height_is_refused(
    template: Path, tmp_path: Path
) -> None:
    one, other = tmp_path / "one", tmp_path / "other"
    shutil.copytree(template, one)
    shutil.copytree(template, other)
    run_demo(NodeHome(one), 100).store.dispose()
    run_demo(NodeHome(other), 200).store.dispose()  # same genesis, another block 3 and on
    state = tmp_path / "audit.json"
    assert audit(one, state)[0] == 0
    before = files(state)
    code, out, report = audit(other, state)
    assert code == 1
    assert report["first_failure"]["reason"] == "chain-broken"
    assert "rewritten" in report["first_failure"]["detail"], out
    assert files(state) == before


def test_a_source_shorter_than_the_saved_state_is_refused(home: Path, tmp_path: Path) -> None:
    state = tmp_path / "audit.json"
    run_demo(NodeHome(home), 100).store.dispose()
    assert audit(home, state)[0] == 0
    shorter = tmp_path / "shorter"
    shutil.copytree(home, shorter)
    store = LedgerStore(NodeHome(shorter).database_url())
    store.drop_append_only_triggers()
    from sqlalchemy import text

    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_entries WHERE height = 3"))
        conn.execute(text("DELETE FROM ledger_blocks WHERE height = 3"))
    store.dispose()
    code, out, report = audit(shorter, state)
    assert code == 1 and report["first_failure"]["reason"] == "chain-broken"
    assert "fewer than" in report["first_failure"]["detail"], out


@pytest.mark.parametrize("edit", ["height", "peak", "membership", "sidecar", "not-json"])
def test_an_edited_or_corrupted_state_is_refused_and_kept(
    home: Path, tmp_path: Path, edit: str
) -> None:
    state = tmp_path / "audit.json"
    assert audit(home, state)[0] == 0
    doc = json.loads(state.read_text())
    if edit == "height":
        doc["height"] = 1
        state.write_text(json.dumps(doc))
    elif edit == "peak":
        doc["tree_peaks"][0] = "00" * 32
        state.write_text(json.dumps(doc))
    elif edit == "membership":
        doc["membership"]["checkpoint_quorum"] = 2
        state.write_text(json.dumps(doc))
    elif edit == "sidecar":
        sidecar = tmp_path / doc["known"]["file"]
        data = bytearray(sidecar.read_bytes())
        data[100] ^= 1
        sidecar.write_bytes(bytes(data))
    else:
        state.write_text(state.read_text()[:-40])
    before = files(state)
    code, out, _ = audit(home, state)
    assert code == 1
    assert "error[audit-state-invalid]" in out
    assert files(state) == before


def test_a_state_of_another_consortium_is_refused(home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    run_demo(NodeHome(other), 10).store.dispose()  # same id, other founders' keys and genesis
    state = tmp_path / "audit.json"
    assert audit(other, state)[0] == 0
    before = files(state)
    code, out, _ = audit(home, state)
    assert code == 1
    assert "error[audit-state-invalid]" in out
    assert NodeHome(other).consortium().hash.hex() in out
    assert files(state) == before


def test_empty_chain_state_resumes(tmp_path: Path) -> None:
    from nodes.demo import ensure_consortium, open_writer

    home = tmp_path / "empty"
    ensure_consortium(NodeHome(home))
    open_writer(NodeHome(home)).store.dispose()  # the schema, no block
    state = tmp_path / "audit.json"
    code, out, report = audit(home, state)
    assert code == 0, out
    assert report["height"] == 0
    run_demo(NodeHome(home), 20).store.dispose()
    code, out, report = audit(home, state)
    assert code == 0, out
    assert report["entries"] == 20 and report["resumed_from"] == {"height": 0, "tree_size": 0}
