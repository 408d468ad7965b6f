"""A live node for the API tests: a demo home served by uvicorn on a free loopback port."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.client import TradeLedgerClient
from nodes.demo import run_demo
from nodes.home import NodeHome
from nodes.service import LedgerNode
from nodes.tokens import create_token

#: (org, role) of each kind of user the tests act as.
USERS = {
    "issuer": ("jp-jcci", "issuing_authority"),
    "exporter": ("jp-tanaka-machinery", "exporter"),
    "jp_customs": ("jp-customs", "customs"),
    "vn_customs": ("vn-customs", "customs"),
    "th_customs": ("th-customs", "customs"),
    "bank": ("jp-sakura-bank", "bank"),
    "auditor": ("jp-kanto-audit", "auditor"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveNode:
    base_url: str
    node: LedgerNode
    home: NodeHome
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, user: str | None = None) -> TradeLedgerClient:
        return TradeLedgerClient(self.base_url, self.tokens[user] if user else None)

    def http(self, user: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def settled(self, timeout: float = 10.0) -> int:
        """The tree size once nothing waits for a block and the last block is indexed and
        published (the writer's queue empties when a block is cut, a moment before that)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            head = self.node.head.tree_size
            if not self.node.orderer.pending_count() and self.node.writer.state.tree_size == head:
                return head
            time.sleep(0.01)
        raise AssertionError(f"the node did not settle in {timeout} s")

    def wait_for_block(self, entry_hash: str, timeout: float = 10.0) -> None:
        """Wait until the entry is in a block (the sequencer cuts every few ms in tests)."""
        deadline = time.monotonic() + timeout
        raw = bytes.fromhex(entry_hash)
        while time.monotonic() < deadline:
            if self.node.reads.entry_by_hash(raw) is not None and self.node.head.tree_size > 0:
                stored = self.node.reads.entry_by_hash(raw)
                if stored is not None and stored.idx < self.node.head.tree_size:
                    return
            time.sleep(0.01)
        raise AssertionError(f"entry {entry_hash} did not reach a block in {timeout} s")


def serve_in_thread(node: LedgerNode, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(
        create_app(node), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return server, thread


@contextlib.contextmanager
def serving(home: NodeHome, entries: int, users: Iterable[str] = USERS) -> Iterator[LiveNode]:
    """A demo home with ``entries`` entries, its node served on a free loopback port, and a
    token for each of ``users`` (names of :data:`USERS`); everything stops on exit."""
    run_demo(home, entries).store.dispose()
    node = LedgerNode.open(home, block_interval=0.02)
    port = free_port()
    server, thread = serve_in_thread(node, port)
    live = LiveNode(f"http://127.0.0.1:{port}", node, home)
    for user in users:
        org, role = USERS[user]
        live.tokens[user] = create_token(node.store, node.consortium, org, role)
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        node.close()


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    with serving(NodeHome(tmp_path_factory.mktemp("node")), 700) as node:
        yield node
