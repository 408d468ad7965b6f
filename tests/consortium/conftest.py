"""A local consortium for the fault tests: etcd and the nodes as real processes on 127.0.0.1.

Each test gets its own network in its own directory; ports are spread by xdist worker so that
two workers never share one. Clients submit certificates (through node 0, as the Japanese
chamber of commerce) and import declarations (through node 1, as Viet Nam customs) from threads
and record what was acknowledged (201) and what was refused.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from nodes.home import NodeHome
from nodes.network import NetworkProcesses, create_network
from nodes.tokens import create_token

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "documents"


def _free_base_port(nodes: int) -> int:
    """A base port P with P..P+nodes (the nodes and one spare), P+100..P+102 (etcd clients) and
    P+200..P+202 (etcd peers) all free now: other test runs on this machine (another worker,
    another clone) must not answer a health check meant for ours."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        base = rng.randrange(20_000, 60_000, 10)
        wanted = [*range(base, base + nodes + 1), *range(base + 100, base + 103)]
        wanted += list(range(base + 200, base + 203))
        sockets = []
        try:
            for port in wanted:
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
        return base
    raise RuntimeError("no free ports for a test network")


@dataclass
class Network:
    processes: NetworkProcesses
    tokens: dict[int, str] = field(default_factory=dict)

    @property
    def layout(self) -> Any:
        return self.processes.layout

    def url(self, i: int) -> str:
        return str(self.layout.url(i))

    def health(self, i: int) -> dict[str, Any]:
        return dict(httpx.get(self.url(i) + "/v1/health", timeout=5).json())

    def token(self, i: int, org: str, role: str) -> str:
        home = NodeHome(self.layout.home(i))
        store = home.open_store()
        try:
            return create_token(store, home.consortium(), org, role)
        finally:
            store.dispose()

    def set_ordering(self, i: int, **values: Any) -> None:
        home = NodeHome(self.layout.home(i))
        settings = json.loads(home.settings_file.read_text())
        settings["ordering"].update(values)
        home.settings_file.write_text(json.dumps(settings))

    def wait(self, predicate: Any, timeout: float = 60.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}")

    def settled(self, nodes: list[int], *, timeout: float = 90.0) -> int:
        """Wait until ``nodes`` have the same final head with nothing pending and every block
        built is final; return that height."""

        def same() -> bool:
            hs = [self.health(i) for i in nodes]
            heights = {(h["height"], h["root_hash"]) for h in hs}
            return (
                len(heights) == 1
                and all(h["pending"] == 0 and h["built_height"] == h["height"] for h in hs)
                and hs[0]["height"] > 0
            )

        self.wait(same, timeout, "the nodes to agree on one final head")
        return int(self.health(nodes[0])["height"])


@pytest.fixture
def network_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[NetworkProcesses] = []

    def make(nodes: int, *, slack: int | None = None) -> Network:
        base = _free_base_port(nodes)
        layout = create_network(tmp_path / f"net{len(started)}", nodes, base)
        processes = NetworkProcesses(layout, log_level="warning")
        started.append(processes)
        net = Network(processes)
        if slack is not None:
            for i in range(nodes):
                net.set_ordering(i, compaction_slack=slack)
        processes.start(timeout=90)
        return net

    yield make
    for p in started:
        p.stop()


def certificate(number: str) -> bytes:
    doc = json.loads((EXAMPLES / "rcep-jp-machinery-to-vn.co.json").read_text())
    doc["number"] = number
    doc["items"] = doc["items"][:2]
    return json.dumps(doc).encode()


def issue(net: Network, token: str, number: str, node: int = 0) -> httpx.Response:
    """Submit a certificate numbered ``number`` through ``node`` as the Japanese chamber."""
    return httpx.post(
        f"{net.url(node)}/v1/documents",
        params={"event": "co.issued"},
        content=certificate(number),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=60,
    )


def import_declaration(number: str) -> bytes:
    doc = json.loads((EXAMPLES / "vn-import-declaration.json").read_text())
    doc["number"] = number
    doc.pop("co_reference", None)
    doc["preference_claimed"] = False  # on its own: no certificate to name
    return json.dumps(doc).encode()


@dataclass
class Submitter:
    """Submits documents to one node from a thread until stopped; keeps what was acknowledged."""

    url: str
    token: str
    event: str
    make: Any
    acknowledged: list[str] = field(default_factory=list)
    refused: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Submitter:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        prefix = uuid.uuid4().hex[:8]
        n = 0
        with httpx.Client(timeout=30) as http:
            while not self._stop.is_set():
                n += 1
                try:
                    r = http.post(
                        f"{self.url}/v1/documents",
                        params={"event": self.event},
                        content=self.make(f"T-{prefix}-{n}"),
                        headers={
                            "Authorization": f"Bearer {self.token}",
                            "Content-Type": "application/json",
                        },
                    )
                except httpx.HTTPError:
                    self.errors += 1  # the node died under us: not acknowledged
                    time.sleep(0.05)
                    continue
                if r.status_code == 201:
                    self.acknowledged.append(r.json()["entry_hash"])
                else:
                    self.refused[r.status_code] = self.refused.get(r.status_code, 0) + 1
                    time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)


def leaf_indexes(net: Network, i: int, token: str, hashes: list[str]) -> dict[str, int]:
    out = {}
    with httpx.Client(timeout=30) as http:
        for h in hashes:
            r = http.get(
                f"{net.url(i)}/v1/entries/{h}", headers={"Authorization": f"Bearer {token}"}
            )
            assert r.status_code == 200, (i, h, r.text)
            out[h] = int(r.json()["leaf_index"])
    return out


def audit_replay(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nodes.cli.main", "audit", "replay", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=300,
    )
