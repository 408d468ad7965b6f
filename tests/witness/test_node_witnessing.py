"""A node with a witness in node.json gets its checkpoints cosigned and serves the
cosignature in GET /v1/checkpoint; ``proof verify`` and ``audit replay`` enforce
``--witness VKEY --witness-quorum N`` on it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from api.witness import create_witness_app
from ledger.blocks import Checkpoint, checkpoint_origin
from ledger.cosignature import CosignerKey
from ledger.keys import SigningKey
from nodes.cli.main import app as cli
from nodes.demo import run_demo
from nodes.home import NodeHome
from nodes.service import LedgerNode
from nodes.witness import Witness
from tests.api.conftest import free_port, serve_in_thread
from tests.witness.helpers import independent_cosignature_check


def serve_witness(witness: Witness, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(
        create_witness_app(witness), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-witness", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the witness did not start"
        time.sleep(0.02)
    return server, thread


def configure_witness(home: NodeHome, url: str, vkey: str) -> None:
    settings = json.loads(home.settings_file.read_text())
    settings["witnesses"] = [{"url": url, "vkey": vkey}]
    home.settings_file.write_text(json.dumps(settings))


def witnessed_checkpoint(base_url: str, witness_name: str, height: int) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        doc = httpx.get(f"{base_url}/v1/checkpoint", timeout=10).json()
        if doc["height"] >= height and f"\u2014 {witness_name} " in doc["checkpoint"]:
            return doc  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError("the node did not serve the witness's cosignature within 30 s")


@pytest.fixture
def witnessed(tmp_path: Path) -> Iterator[tuple[NodeHome, Witness, str]]:
    home = NodeHome(tmp_path / "node")
    run_demo(home, 30).store.dispose()
    consortium = home.consortium()
    witness = Witness(
        tmp_path / "witness", {checkpoint_origin(consortium.consortium_id): consortium.membership}
    )
    witness_port = free_port()
    witness_server, witness_thread = serve_witness(witness, witness_port)
    configure_witness(home, f"http://127.0.0.1:{witness_port}", witness.vkey)
    try:
        yield home, witness, f"http://127.0.0.1:{witness_port}"
    finally:
        witness_server.should_exit = True
        witness_thread.join(timeout=30)
        witness.close()


def open_node(home: NodeHome) -> tuple[LedgerNode, uvicorn.Server, threading.Thread, str]:
    node = LedgerNode.open(home, block_interval=0.02)
    port = free_port()
    server, thread = serve_in_thread(node, port)
    return node, server, thread, f"http://127.0.0.1:{port}"


def close_node(node: LedgerNode, server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(timeout=30)
    node.close()


def test_node_serves_witness_cosignatures_and_verifiers_require_them(
    witnessed: tuple[NodeHome, Witness, str], tmp_path: Path
) -> None:
    home, witness, _ = witnessed
    node, server, thread, base_url = open_node(home)
    try:
        doc = witnessed_checkpoint(base_url, witness.name, node.head.height)
        text = str(doc["checkpoint"])
        checkpoint = Checkpoint.from_text(text)
        line = next(
            ln + "\n" for ln in text.split("\n") if ln.startswith(f"\u2014 {witness.name} ")
        )
        independent_cosignature_check(checkpoint.body, line, witness.vkey)
        # the members' list names members only; the witness's line is in the note text
        assert all(":" in s["name"] for s in doc["signatures"])  # type: ignore[attr-defined]
        entry_hash = node.tree.levels[0][0].hex()
        inclusion = node.inclusion_proof(entry_hash, None)
    finally:
        close_node(node, server, thread)

    response = tmp_path / "inclusion.json"
    response.write_text(json.dumps(inclusion))
    trusted = tmp_path / "checkpoint.json"
    trusted.write_text(json.dumps(doc))
    unwitnessed = tmp_path / "unwitnessed.txt"
    unwitnessed.write_text(text.replace(line, ""))
    genesis = str(home.consortium_file)
    runner = CliRunner()
    args = ["proof", "verify", str(response), "--consortium", genesis]
    policy = ["--witness", witness.vkey, "--witness-quorum", "1"]

    ok = runner.invoke(cli, [*args, "--checkpoint", str(trusted), *policy])
    assert ok.exit_code == 0, ok.output
    assert "cosigned by 1 of 1 witnesses" in ok.output
    refused = runner.invoke(cli, [*args, "--checkpoint", str(unwitnessed), *policy])
    assert refused.exit_code == 1, refused.output
    assert "error[witness-quorum-not-met]" in refused.output
    # a witness key the checkpoint was not cosigned by does not count
    stranger = CosignerKey(witness.name, SigningKey(bytes(32)).public_key).vkey()
    other = runner.invoke(cli, [*args, "--checkpoint", str(trusted), "--witness", stranger])
    assert other.exit_code == 1, other.output
    # without a witness policy the member quorum alone still verifies
    plain = runner.invoke(cli, [*args, "--checkpoint", str(unwitnessed)])
    assert plain.exit_code == 0, plain.output

    replay = ["audit", "replay", "--home", str(home.path), "--workers", "1"]
    assert runner.invoke(cli, [*replay, *policy]).exit_code == 0
    failed = runner.invoke(cli, [*replay, "--witness", stranger])
    assert failed.exit_code == 1
    assert "witness-quorum-not-met" in failed.output


def test_a_restarted_node_proves_consistency_from_the_witness_state(
    witnessed: tuple[NodeHome, Witness, str],
) -> None:
    home, witness, _ = witnessed
    node, server, thread, base_url = open_node(home)
    try:
        first = witnessed_checkpoint(base_url, witness.name, node.head.height)
    finally:
        close_node(node, server, thread)
    run_demo(home, 20).store.dispose()  # more blocks while the node is down
    node, server, thread, base_url = open_node(home)
    try:
        # the new process knows nothing of the witness: it learns the size from the 409 and
        # sends a consistency proof from it
        later = witnessed_checkpoint(base_url, witness.name, node.head.height)
        assert int(str(later["tree_size"])) > int(str(first["tree_size"]))
    finally:
        close_node(node, server, thread)
    origin = Checkpoint.from_text(str(later["checkpoint"])).origin
    assert witness.stored(origin)[0] == later["tree_size"]


def test_a_witness_that_is_down_does_not_stop_the_node(tmp_path: Path) -> None:
    home = NodeHome(tmp_path / "node")
    run_demo(home, 10).store.dispose()
    dead = CosignerKey("witness.example/down", SigningKey(bytes(32)).public_key)
    configure_witness(home, f"http://127.0.0.1:{free_port()}", dead.vkey())
    node, server, thread, base_url = open_node(home)
    try:
        assert httpx.get(f"{base_url}/v1/checkpoint", timeout=10).status_code == 200
        assert node.head.height >= 1
    finally:
        close_node(node, server, thread)
