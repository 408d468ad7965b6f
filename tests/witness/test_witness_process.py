"""``tradeledger witness serve`` as a process: killed with SIGKILL between its durable write and
its answer, it never cosigns a fork of what it stored and carries on from it after a restart;
SIGTERM ends it cleanly with exit 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger.witnessing import format_add_checkpoint
from nodes.witness import CRASH_AFTER_STORE_ENV
from tests.api.conftest import free_port
from tests.witness.helpers import Log, forked, independent_cosignature_check, new_log

CLI = [sys.executable, "-m", "nodes.cli.main"]


def start_witness(
    home: Path, genesis: Path, port: int, *, crash_after_store: bool = False
) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop(CRASH_AFTER_STORE_ENV, None)
    if crash_after_store:
        env[CRASH_AFTER_STORE_ENV] = "1"
    proc = subprocess.Popen(
        [*CLI, "witness", "serve", "--home", str(home), "--log", str(genesis), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().decode()
    assert first.startswith("witness vkey: "), first + proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
    vkey = first.removeprefix("witness vkey: ").strip()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("the witness exited: " + proc.stderr.read().decode()[-2000:])  # type: ignore[union-attr]
        try:
            httpx.get(f"http://127.0.0.1:{port}/{'0' * 64}/checkpoint", timeout=1)
            return proc, vkey
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the witness did not answer within 60 s")


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def post(port: int, body: bytes) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{port}/add-checkpoint", content=body, timeout=30)


def genesis_file(tmp_path: Path, log: Log) -> Path:
    path = tmp_path / "consortium.json"
    path.write_bytes(log.chain.consortium.to_bytes())
    return path


def test_killed_after_storing_never_cosigns_a_fork(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    log = new_log()
    genesis = genesis_file(tmp_path, log)
    home = tmp_path / "witness"
    port = free_port()
    proc, vkey = start_witness(home, genesis, port, crash_after_store=True)
    procs.append(proc)
    first = log.grow()
    with pytest.raises(httpx.TransportError):
        post(port, log.request(0, first))  # stored, then killed before the answer
    assert proc.wait(timeout=30) == -signal.SIGKILL

    port = free_port()
    proc, again = start_witness(home, genesis, port)
    procs.append(proc)
    assert again == vkey
    fork = forked(log)
    fork_note = fork.grow()
    # a client that never saw the answer starts from 0: told the stored size, not cosigned
    refused = post(port, fork.request(0, fork_note))
    assert refused.status_code == 409
    assert refused.text == f"{log.size(first)}\n"
    # the fork at the stored size, and a longer fork with its own proof, are both refused
    assert post(port, format_add_checkpoint(log.size(first), [], fork_note)).status_code == 422
    longer = fork.grow()
    assert post(port, fork.request(log.size(first), longer)).status_code == 422
    # the genuine log carries on from what was stored before the kill
    second = log.grow()
    answer = post(port, log.request(log.size(first), second))
    assert answer.status_code == 200
    body = second.partition("\n\n")[0] + "\n"
    independent_cosignature_check(body, answer.text, vkey)

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
