"""Confidential payloads (issue 16): a consortium whose organisations have encryption keys.

Node A runs every organisation of the demo consortium (it holds all their decryption keys) and
takes the submissions; node B runs ``th-customs`` only, on a copy of A's database whose document
index it rebuilds itself: every node stores the same sealed bytes, so B is any member's node
that is not a reader of a Japan→Viet Nam certificate, holding the full database file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from api.client import TradeLedgerClient
from ledger import errors
from ledger import sealed_payload as sp
from ledger.entries import build_entry
from nodes import sealing
from nodes.cli.main import app
from nodes.demo import ensure_consortium, run_demo
from nodes.home import NodeHome
from nodes.service import LedgerNode
from nodes.tokens import Caller, create_token
from tests.api.conftest import USERS, LiveNode, free_port, serve_in_thread

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "documents"
SECRET = "QUOKKA-LATHE-77X1-CONFIDENTIAL"
OTHER_ORG = "th-customs"


def _certificate(number: str) -> dict[str, Any]:
    co = json.loads((EXAMPLES / "rcep-jp-machinery-to-vn.co.json").read_text())
    co["number"] = number
    co["items"][0]["description"] = f"{SECRET} horizontal lathe"
    co.pop("origin_determinations", None)
    return co


@dataclass
class Sealed:
    a: LiveNode
    co_id: str
    co_hash: str
    b_home: NodeHome


@contextlib.contextmanager
def sealing_node(root: Path) -> Iterator[LiveNode]:
    """Node A: a development consortium with encryption keys, running every organisation,
    served over HTTP, with a token for each of the tests' users."""
    home = NodeHome(root / "a")
    ensure_consortium(home, encryption=True)
    run_demo(home, 0).store.dispose()
    node = LedgerNode.open(home, block_interval=0.02)
    server, thread = serve_in_thread(node, port := free_port())
    live = LiveNode(f"http://127.0.0.1:{port}", node, home)
    for user, (org, role) in USERS.items():
        live.tokens[user] = create_token(node.store, node.consortium, org, role)
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        node.close()


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sealed]:
    root = tmp_path_factory.mktemp("sealed")
    with sealing_node(root) as live:
        receipt = live.client("issuer").submit_document(
            _certificate("SEAL-0001"), event="co.issued"
        )
        live.wait_for_block(receipt.entry_hash)
        live.settled()
        yield Sealed(
            live, receipt.document_id, receipt.entry_hash, _other_home(live.home, root / "b")
        )


def _other_home(
    a: NodeHome, path: Path, org: str = OTHER_ORG, key_ids: set[str] | None = None
) -> NodeHome:
    """B: the consortium, ``org``'s keys only (of its decryption keys, those of ``key_ids``
    if given), and a copy of A's ledger with no index."""
    b = NodeHome(path)
    b.keys_dir.mkdir(parents=True)
    shutil.copy(a.consortium_file, b.consortium_file)
    b.write_settings(org, [org], None)
    shutil.copy(a.keys_dir / f"{org}.pem", b.keys_dir / f"{org}.pem")
    for key in a.keys_dir.glob(f"{org}.*.x25519"):
        if key_ids is None or key.name.split(".")[1] in key_ids:
            shutil.copy(key, b.keys_dir / key.name)
    store = a.open_store()
    with store.engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    store.dispose()
    shutil.copy(a.path / "ledger.db", b.path / "ledger.db")
    store = b.open_store()
    with store.engine.begin() as conn:
        for table in (
            "node_documents",
            "node_document_events",
            "node_meta",
            "node_status_nodes",  # the status map is part of the index
            "node_status_states",
        ):
            conn.execute(text(f"DELETE FROM {table}"))
    store.dispose()
    return b


def _files_hold(root: Path, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_a_node_that_is_no_recipient_cannot_read_a_sealed_payload(
    sealed: Sealed, caplog: pytest.LogCaptureFixture
) -> None:
    """B holds the whole database file: the certificate's distinctive string is in none of its
    files (database, WAL, journal) nor its log output, nor in A's; B indexes the certificate
    from its envelope and its API refuses the content, even to an auditor's token."""
    caplog.set_level(logging.DEBUG)
    node = LedgerNode.open(sealed.b_home, block_interval=0.02)
    try:
        info = node.index.document(sealed.co_id)
        assert info is not None and info.kind == "certificate_of_origin"
        assert info.defining_hash == sealed.co_hash and info.document_digest is None
        assert {"jp-jcci", "jp-tanaka-machinery", "vn-customs"} <= info.parties
        assert OTHER_ORG not in info.parties
        for caller in (Caller(OTHER_ORG, "customs"), Caller("jp-kanto-audit", "auditor")):
            with pytest.raises(errors.NotFound):
                node.document(sealed.co_id, caller)
        entry = node.entry(sealed.co_hash, Caller("jp-kanto-audit", "auditor"))
        assert entry["payload"] is not None  # the sealed bytes: the auditor is a recipient
        assert node.entry(sealed.co_hash, Caller(OTHER_ORG, "customs"))["payload"] is None
    finally:
        node.close()
    needle = SECRET.encode()
    assert not _files_hold(sealed.b_home.path, needle)
    assert not _files_hold(sealed.a.home.path, needle)
    assert SECRET not in caplog.text
    assert all(SECRET not in str(r.__dict__) for r in caplog.records)


def test_parties_and_auditors_read_a_sealed_document(sealed: Sealed) -> None:
    a = sealed.a
    for user in ("issuer", "exporter", "vn_customs", "jp_customs", "auditor"):
        body = a.client(user).document(sealed.co_id)
        assert SECRET.encode() in body, user
    for user in ("th_customs", "bank"):
        with pytest.raises(errors.NotFound):
            a.client(user).document(sealed.co_id)
    stored = a.client("auditor").entry(sealed.co_hash)
    assert stored.payload is not None
    assert SECRET.encode() not in (stored.payload if isinstance(stored.payload, bytes) else b"")
    file = json.dumps(_certificate("SEAL-0001"), ensure_ascii=False).encode()
    found = TradeLedgerClient(a.base_url).verify(document=file)
    assert found.found and found.document_id == sealed.co_id


def test_replay_verifies_a_sealed_chain_with_no_decryption_key(
    sealed: Sealed, tmp_path: Path
) -> None:
    """`audit replay` on B's home, whose keys open nothing here, verifies every signature,
    hash and Merkle root, and attests B's index rows built from the envelopes."""
    LedgerNode.open(sealed.b_home).close()
    for key in sealed.b_home.keys_dir.glob("*.x25519"):
        key.unlink()
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        ["audit", "replay", "--home", str(sealed.b_home.path), "--json", str(report)],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["valid"] is True


def _presigned(sealed: Sealed, number: str, seal: Any) -> Any:
    home = sealed.a.home
    key = home.signing_key("jp-jcci")
    membership = sealed.a.node.writer.state.membership
    plaintext = json.dumps(_certificate(number)).encode()
    nonce = "ab" * 16
    binding = sp.PayloadBinding(sealed.a.node.consortium.consortium_id, "jp-jcci", nonce)
    return build_entry(
        "co.issued",
        "jp-jcci",
        key,
        seal(plaintext, membership, binding),
        sealing.sealed_content_type("application/json"),
        consortium_id=binding.consortium_id,
        subject=f"jp-jcci/{number}",
        nonce=nonce,
    )


def _refused(sealed: Sealed, entry: Any, error: type[errors.TradeLedgerError]) -> None:
    size = sealed.a.settled()
    with pytest.raises(error):
        sealed.a.client("issuer").submit_entry(entry)
    time.sleep(0.1)
    assert sealed.a.settled() == size  # nothing appended
    assert sealed.a.node.index.document(entry.subject) is None


def test_a_payload_sealed_to_the_wrong_recipients_is_refused(sealed: Sealed) -> None:
    """Sealed to the issuer alone (the exporter, both customs and the auditor left out)."""

    def to_issuer_only(plaintext: bytes, membership: Any, binding: Any) -> bytes:
        return sp.seal_payload(plaintext, membership.recipient_keys(["jp-jcci"]), binding)

    _refused(sealed, _presigned(sealed, "SEAL-WRONG", to_issuer_only), errors.InvalidInput)


def test_a_sealed_payload_whose_commitment_does_not_match_is_refused(sealed: Sealed) -> None:
    """The commitment byte changed after sealing: it no longer names the plaintext."""

    def tampered(plaintext: bytes, membership: Any, binding: Any) -> bytes:
        readers = sealing.document_readers(
            membership, {"jp-jcci", "jp-tanaka-machinery"}, {"JP", "VN"}
        )
        raw = bytearray(sp.seal_payload(plaintext, membership.recipient_keys(readers), binding))
        raw[2] ^= 1
        return bytes(raw)

    _refused(sealed, _presigned(sealed, "SEAL-COMMIT", tampered), errors.SealedPayloadInvalid)


def test_a_plaintext_payload_is_refused_where_payloads_are_sealed(sealed: Sealed) -> None:
    co = _certificate("SEAL-PLAIN")
    entry = build_entry(
        "co.issued",
        "jp-jcci",
        sealed.a.home.signing_key("jp-jcci"),
        json.dumps(co).encode(),
        "application/json",
        consortium_id=sealed.a.node.consortium.consortium_id,
        subject="jp-jcci/SEAL-PLAIN",
    )
    _refused(sealed, entry, errors.InvalidInput)
