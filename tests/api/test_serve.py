"""End to end: ``tradeledger serve`` as a process, its shutdown, its crash recovery, and
``tradeledger audit replay --node`` against a live node."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from api.client import TradeLedgerClient
from nodes.cli.main import app as cli
from nodes.home import NodeHome
from nodes.store import LedgerStore
from tests.api.conftest import LiveNode, free_port

CLI = [sys.executable, "-m", "nodes.cli.main"]


def start_serve(home: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [*CLI, "serve", "--home", str(home), "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("serve did not answer /v1/health within 60 s")


def token(home: Path, org: str, role: str) -> str:
    out = subprocess.run(
        [*CLI, "token", "create", "--home", str(home), "--org", org, "--role", role],
        capture_output=True,
        check=True,
    )
    return out.stdout.decode().strip()


def certificate(number: str) -> dict[str, object]:
    from tests.api.test_api import certificate as valid_certificate

    return valid_certificate(number, "VN")


def in_ledger(home: Path, entry_hash: str) -> bool:
    store = LedgerStore(NodeHome(home).database_url())
    try:
        return store.contains_entry(bytes.fromhex(entry_hash))
    finally:
        store.dispose()


@pytest.fixture
def stopper() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=30)


def test_serve_creates_a_home_serves_and_stops_cleanly(
    tmp_path: Path, stopper: list[subprocess.Popen[bytes]]
) -> None:
    home = tmp_path / "fresh"  # does not exist: becomes a development consortium
    port = free_port()
    proc = start_serve(home, port)
    stopper.append(proc)
    issuer = token(home, "jp-jcci", "issuing_authority")
    with TradeLedgerClient(f"http://127.0.0.1:{port}", issuer) as c:
        receipt = c.submit_document(certificate("E2E-1"), event="co.issued")
        assert receipt.status == "accepted"
        deadline = time.monotonic() + 10
        while c.health().tree_size < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        prov = c.provenance("jp-jcci/E2E-1")
    assert [e.event for e in prov.events] == ["co.issued"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    logs = [json.loads(line) for line in proc.stderr.read().decode().splitlines() if line]  # type: ignore[union-attr]
    events = [rec["event"] for rec in logs]
    assert "node started" in events and "node stopped" in events and "block" in events
    assert in_ledger(home, receipt.entry_hash)


def test_acknowledged_entries_survive_a_crash(
    tmp_path: Path, stopper: list[subprocess.Popen[bytes]]
) -> None:
    home = tmp_path / "crash"
    port = free_port()
    # blocks only every 10 minutes: acknowledged entries sit in the journal alone
    proc = start_serve(home, port, "--block-interval-ms", "600000", "--block-max-entries", "100000")
    stopper.append(proc)
    issuer = token(home, "jp-jcci", "issuing_authority")
    with TradeLedgerClient(f"http://127.0.0.1:{port}", issuer) as c:
        receipts = [
            c.submit_document(certificate(f"CRASH-{i}"), event="co.issued") for i in range(5)
        ]
        assert c.health().pending == 5
    proc.send_signal(signal.SIGKILL)  # no shutdown at all
    proc.wait(timeout=30)
    assert not any(in_ledger(home, r.entry_hash) for r in receipts)

    port = free_port()
    proc = start_serve(home, port)
    stopper.append(proc)
    with TradeLedgerClient(f"http://127.0.0.1:{port}", issuer) as c:
        assert c.health().tree_size == 5  # recovered from the journal before serving
        for i, r in enumerate(receipts):
            prov = c.provenance(f"jp-jcci/CRASH-{i}")
            assert prov.events[0].entry_hash == r.entry_hash
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    assert all(in_ledger(home, r.entry_hash) for r in receipts)


def test_audit_replay_against_a_live_node(live: LiveNode, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        cli,
        [
            "audit",
            "replay",
            "--node",
            live.base_url,
            "--token",
            live.tokens["auditor"],
            "--workers",
            "1",
            "--json",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert data["valid"] is True
    assert data["height"] >= 2 and data["entries"] >= 700
    # and with a token that may not read every payload, signatures and roots still verify
    bank = CliRunner().invoke(
        cli,
        [
            "audit",
            "replay",
            "--node",
            live.base_url,
            "--token",
            live.tokens["bank"],
            "--workers",
            "1",
        ],
    )
    assert bank.exit_code == 0, bank.output
