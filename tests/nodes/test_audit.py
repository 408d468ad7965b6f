"""``tradeledger audit replay`` on a real store: a valid chain passes, and every tampering
of the stored bytes makes it exit 1 naming the right height."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.entries import build_entry
from ledger.keys import SigningKey
from nodes.cli.main import app
from nodes.demo import CONSORTIUM_ID, open_writer, run_demo
from nodes.home import NodeHome
from nodes.store import LedgerStore
from tests.nodes.tamper import (
    append_forged_block,
    flip_byte,
    read_column,
    rewrite_entries,
    strip_entry_constraints,
    update_column,
)

runner = CliRunner()
ENTRIES = 1200  # three blocks of 500, 500, 200


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("demo") / "home"
    writer = run_demo(NodeHome(home), ENTRIES)
    writer.store.dispose()
    return home


@pytest.fixture
def home(demo_template: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "home"
    shutil.copytree(demo_template, target)
    return target


def store_of(home: Path) -> LedgerStore:
    return LedgerStore(NodeHome(home).database_url())


def replay(home: Path, *extra: str) -> tuple[int, str, dict]:
    report = home.parent / "report.json"
    result = runner.invoke(
        app,
        ["audit", "replay", "--home", str(home), "--json", str(report), "--workers", "1", *extra],
    )
    data = json.loads(report.read_text()) if report.exists() else {}
    return result.exit_code, result.output, data


def test_valid_chain_replays(home: Path) -> None:
    code, out, report = replay(home)
    assert code == 0, out
    assert report["valid"] is True
    assert report["entries"] == ENTRIES and report["height"] == 3


@pytest.mark.parametrize("inline", [0, 600])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_parallel_replay_gives_the_same_result(
    home: Path, monkeypatch: pytest.MonkeyPatch, workers: str, inline: int
) -> None:
    import nodes.audit

    one = replay(home)[2]  # short enough to run in this process
    monkeypatch.setattr(nodes.audit, "INLINE_ENTRIES", inline)  # the rest in the pool
    code, _, report = replay(home, "--workers", workers)
    assert code == 0
    assert report["entries"] == ENTRIES
    assert (report["root"], report["head_hash"]) == (one["root"], one["head_hash"])


def test_worker_pool_reports_the_failing_entry(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nodes.audit

    monkeypatch.setattr(nodes.audit, "INLINE_ENTRIES", 0)
    store = store_of(home)
    data = bytes(read_column(store, "ledger_entries", "idx", 777, "envelope"))  # type: ignore[arg-type]
    update_column(store, "ledger_entries", "idx", 777, "envelope", flip_byte(data, 20))
    store.dispose()
    code, out, report = replay(home, "--workers", "2")
    assert code == 1, out
    assert (report["first_failure"]["height"], report["first_failure"]["entry_index"]) == (2, 777)


def block_of(index: int) -> int:
    return 1 if index < 500 else 2 if index < 1000 else 3


def assert_invalid_at(home: Path, height: int, reason: str | None = None) -> dict:
    code, out, report = replay(home)
    assert code == 1, out
    failure = report["first_failure"]
    assert failure["height"] == height, failure
    if reason is not None:
        assert failure["reason"] == reason, failure
    assert f"block {height}" in out
    return failure


@pytest.mark.parametrize("index", [0, 499, 500, 777, 1199])
@pytest.mark.parametrize("column", ["envelope", "payload"])
def test_flipped_byte_in_any_entry_is_found(home: Path, index: int, column: str) -> None:
    store = store_of(home)
    data = bytes(read_column(store, "ledger_entries", "idx", index, column))  # type: ignore[arg-type]
    for position in (0, len(data) // 2, len(data) - 1):
        update_column(store, "ledger_entries", "idx", index, column, flip_byte(data, position))
        failure = assert_invalid_at(home, block_of(index))
        assert failure["entry_index"] in (index, None)
    store.dispose()


@pytest.mark.parametrize("height", [1, 2, 3])
def test_flipped_byte_in_any_block_header_is_found(home: Path, height: int) -> None:
    store = store_of(home)
    header = bytes(read_column(store, "ledger_blocks", "height", height, "header"))  # type: ignore[arg-type]
    for position in (5, len(header) // 2, len(header) - 3):
        update_column(
            store, "ledger_blocks", "height", height, "header", flip_byte(header, position)
        )
        assert_invalid_at(home, height)
    store.dispose()


@pytest.mark.parametrize("height", [1, 3])
def test_flipped_byte_in_a_checkpoint_signature_is_found(home: Path, height: int) -> None:
    store = store_of(home)
    text = str(read_column(store, "ledger_blocks", "height", height, "checkpoint"))
    sig_at = text.rindex(" ") + 10  # inside the base64 signature
    forged = text[:sig_at] + ("A" if text[sig_at] != "A" else "B") + text[sig_at + 1 :]
    update_column(store, "ledger_blocks", "height", height, "checkpoint", forged)
    assert_invalid_at(home, height, "checkpoint-invalid")
    store.dispose()


@pytest.mark.parametrize(
    ("name", "transform", "height"),
    [
        ("reordered", lambda rows: [*rows[:10], rows[11], rows[10], *rows[12:]], 1),
        (
            "reordered across blocks",
            lambda rows: [*rows[:499], rows[500], rows[499], *rows[501:]],
            1,
        ),
        ("deleted", lambda rows: rows[:700] + rows[701:], 2),
    ],
)
def test_reordered_inserted_or_deleted_entries_are_found(
    home: Path, name: str, transform: Callable, height: int
) -> None:
    store = store_of(home)
    rewrite_entries(store, transform)
    assert_invalid_at(home, height)
    store.dispose()


def test_inserted_entry_is_found(home: Path) -> None:
    """A validly signed entry slipped into block 3's range shifts every later entry."""
    node = NodeHome(home)
    extra = build_entry(
        "bank.presentation",
        "jp-sakura-bank",
        node.signing_key("jp-sakura-bank"),
        b'{"letter_of_credit": "LC-1"}',
        "application/json",
        consortium_id=CONSORTIUM_ID,
        subject="jp-jcci/JCCI-X",
    )
    row = {
        "height": 3,
        "entry_hash": extra.entry_hash,
        "envelope": extra.envelope,
        "payload": extra.payload,
        "type": extra.type,
        "subject": extra.subject,
    }
    store = store_of(home)
    rewrite_entries(store, lambda rows: [*rows[:1100], row, *rows[1100:]])
    assert_invalid_at(home, 3)
    store.dispose()


def test_root_that_does_not_match_is_found(home: Path) -> None:
    """A malicious proposer re-signs a header whose root is wrong: the root check catches it."""
    from ledger.blocks import BlockHeader, Checkpoint, checkpoint_body, checkpoint_origin

    node = NodeHome(home)
    consortium = node.consortium()
    store = store_of(home)
    header = BlockHeader.from_bytes(
        bytes(read_column(store, "ledger_blocks", "height", 2, "header"))
    )  # type: ignore[arg-type]
    from dataclasses import replace

    bad = replace(header, tree_root="11" * 32)
    cp = Checkpoint(checkpoint_body(checkpoint_origin(consortium.consortium_id), bad)).signed_by(
        "jp-jcci", node.signing_key("jp-jcci")
    )
    update_column(store, "ledger_blocks", "height", 2, "header", bad.to_bytes())
    update_column(store, "ledger_blocks", "height", 2, "checkpoint", cp.to_text())
    assert_invalid_at(home, 2, "merkle-root-mismatch")
    store.dispose()


def test_entry_appended_twice_is_found(home: Path) -> None:
    node = NodeHome(home)
    store = store_of(home)
    from ledger.entries import parse_entry

    first = parse_entry(
        bytes(read_column(store, "ledger_entries", "idx", 3, "envelope")),  # type: ignore[arg-type]
        bytes(read_column(store, "ledger_entries", "idx", 3, "payload")),
    )  # type: ignore[arg-type]
    strip_entry_constraints(store)
    height = append_forged_block(
        store, node.consortium(), [first], "jp-jcci", node.signing_key("jp-jcci")
    )
    failure = assert_invalid_at(home, height, "duplicate-entry")
    assert failure["entry_index"] == ENTRIES
    store.dispose()


def test_entry_signed_with_a_key_revoked_earlier_is_found(home: Path) -> None:
    node = NodeHome(home)
    old = node.signing_key("jp-tanaka-machinery")
    new = SigningKey.generate()
    writer = open_writer(node)
    jcci = node.signing_key("jp-jcci")
    rotate = build_entry(
        "config.update",
        "jp-tanaka-machinery",
        old,
        json.dumps(
            {
                "changes": [
                    {
                        "op": "add_key",
                        "org": "jp-tanaka-machinery",
                        "key": {
                            "key_id": new.key_id,
                            "public_key": new.public_key.to_b64(),
                            "status": "active",
                        },
                    },
                    {"op": "revoke_key", "org": "jp-tanaka-machinery", "key_id": old.key_id},
                ]
            }
        ).encode(),
        "application/json",
        consortium_id=CONSORTIUM_ID,
        cosigners=[jcci],
    )
    writer.append([rotate])
    writer.store.dispose()
    late = build_entry(
        "co.application",
        "jp-tanaka-machinery",
        old,
        b"{}",
        "application/json",
        consortium_id=CONSORTIUM_ID,
    )
    store = store_of(home)
    height = append_forged_block(store, node.consortium(), [late], "jp-jcci", jcci)
    assert_invalid_at(home, height, "key-revoked")
    store.dispose()


def test_membership_change_without_quorum_is_found(tmp_path: Path) -> None:
    from ledger.consortium import FoundingMember, create_genesis
    from nodes.writer import LedgerWriter

    keys = {o: SigningKey.generate() for o in ("jp-jcci", "vn-customs", "jp-bank")}
    consortium = create_genesis(
        "quorum-test",
        "Quorum test",
        [
            FoundingMember("jp-jcci", "JCCI", "JP", ["issuing_authority"], keys["jp-jcci"]),
            FoundingMember("vn-customs", "VN Customs", "VN", ["customs"], keys["vn-customs"]),
            FoundingMember("jp-bank", "Bank", "JP", ["bank"], keys["jp-bank"]),
        ],
        config_quorum=2,
    )
    home = NodeHome(tmp_path / "home")
    home.write_consortium(consortium)
    home.write_settings("jp-jcci", ["jp-jcci"], None)
    home.save_key("jp-jcci", keys["jp-jcci"])
    writer = LedgerWriter(home.open_store(), consortium, "jp-jcci", keys["jp-jcci"])
    writer.append(
        [
            build_entry(
                "co.issued",
                "jp-jcci",
                keys["jp-jcci"],
                b"{}",
                "application/json",
                consortium_id=consortium.consortium_id,
            )
        ]
    )
    change = build_entry(
        "config.update",
        "jp-jcci",
        keys["jp-jcci"],
        json.dumps({"changes": [{"op": "set_quorum", "config_quorum": 1}]}).encode(),
        "application/json",
        consortium_id=consortium.consortium_id,
    )
    writer.store.dispose()
    store = store_of(home.path)
    append_forged_block(store, consortium, [change], "jp-jcci", keys["jp-jcci"])
    assert_invalid_at(home.path, 2, "quorum-not-met")
    store.dispose()


def test_deleted_block_is_found(home: Path) -> None:
    store = store_of(home)
    store.drop_append_only_triggers()
    from sqlalchemy import text

    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_blocks WHERE height = 2"))
    assert_invalid_at(home, 2, "chain-broken")
    store.dispose()


def test_usage_and_io_errors_exit_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["audit", "replay"]).exit_code == 2
    assert runner.invoke(app, ["audit", "replay", "--db", "sqlite:///x.db"]).exit_code == 2
    missing = runner.invoke(app, ["audit", "replay", "--home", str(tmp_path / "nothing")])
    assert missing.exit_code == 2
    garbage = tmp_path / "genesis.json"
    garbage.write_text("{}")
    result = runner.invoke(
        app, ["audit", "replay", "--db", f"sqlite:///{tmp_path}/x.db", "--genesis", str(garbage)]
    )
    assert result.exit_code == 2


def test_cosignatures_are_verified(home: Path) -> None:
    """A member's cosignature added later is checked; a forged one by a known key fails."""
    from ledger.blocks import Checkpoint

    node = NodeHome(home)
    store = store_of(home)
    checkpoint = Checkpoint.from_text(store.block(2).checkpoint)
    cosigned = checkpoint.cosigned_by("vn-customs", node.signing_key("vn-customs"), 1790000000)
    line = cosigned.signatures[-1]
    store.add_cosignature(2, line.name, line.line())
    code, out, report = replay(home)
    assert code == 0, out
    assert report["latest_checkpoint_signers"] == {"jp-jcci": node.signing_key("jp-jcci").key_id}
    # A line whose key hash is right but whose signature is over another block's body.
    forged = Checkpoint(checkpoint.body).cosigned_by(
        "th-customs", node.signing_key("th-customs"), 1790000000
    )
    bad = forged.signatures[-1]
    store.add_cosignature(3, bad.name, bad.line())
    assert_invalid_at(home, 3, "checkpoint-invalid")
    store.dispose()
