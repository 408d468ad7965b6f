"""A local etcd cluster as processes on 127.0.0.1 (``tradeledger network up`` and the tests).

Each member gets its own data directory and ports: member ``i`` listens for clients on
``client_port + i`` and for its peers on ``peer_port + i``. Production clusters are set up by
their operators (see ``docker-compose.yml``); this is for trying the consortium on one machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ledger.errors import ConfigurationError


def etcd_binary() -> str:
    found = shutil.which("etcd")
    if found is None:
        raise ConfigurationError(
            "etcd is not installed (Debian/Ubuntu: apt-get install etcd-server); "
            "tradeledger orders a consortium's entries through it"
        )
    return found


@dataclass
class EtcdMember:
    index: int
    name: str
    data_dir: Path
    client_url: str
    peer_url: str
    process: subprocess.Popen[bytes] | None = None


@dataclass
class EtcdCluster:
    root: Path
    size: int = 3
    client_port: int = 2379
    peer_port: int = 2380
    token: str = "tradeledger"
    members: list[EtcdMember] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.members = [
            EtcdMember(
                i,
                f"etcd{i}",
                self.root / f"etcd{i}",
                f"http://127.0.0.1:{self.client_port + i}",
                f"http://127.0.0.1:{self.peer_port + i}",
            )
            for i in range(self.size)
        ]

    @property
    def client_urls(self) -> list[str]:
        return [m.client_url for m in self.members]

    def start(self, *, timeout: float = 30.0) -> None:
        for m in self.members:
            self.start_member(m.index)
        self.wait_ready(timeout=timeout)

    def start_member(self, index: int) -> None:
        m = self.members[index]
        fresh = not (m.data_dir / "member").exists()
        m.data_dir.mkdir(parents=True, exist_ok=True)
        cluster = ",".join(f"{o.name}={o.peer_url}" for o in self.members)
        log = open(self.root / f"{m.name}.log", "ab")  # noqa: SIM115 - the process owns it
        m.process = subprocess.Popen(
            [
                etcd_binary(),
                "--name", m.name,
                "--data-dir", str(m.data_dir),
                "--listen-client-urls", m.client_url,
                "--advertise-client-urls", m.client_url,
                "--listen-peer-urls", m.peer_url,
                "--initial-advertise-peer-urls", m.peer_url,
                "--initial-cluster", cluster,
                "--initial-cluster-state", "new" if fresh else "existing",
                "--initial-cluster-token", self.token,
                # quick fail-over on one machine: heartbeats every 100 ms, elections after 1 s
                "--heartbeat-interval", "100",
                "--election-timeout", "1000",
                "--logger", "zap",
                "--log-level", "warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()

    def wait_ready(self, *, timeout: float = 30.0, members: list[int] | None = None) -> None:
        """Wait until the given members (default all) answer and the cluster has a leader."""
        deadline = time.monotonic() + timeout
        wanted = members if members is not None else [m.index for m in self.members]
        while True:
            if all(self._has_leader(self.members[i].client_url) for i in wanted):
                return
            if time.monotonic() > deadline:
                raise ConfigurationError(
                    f"etcd did not become ready within {timeout:.0f} s; see {self.root}/etcd*.log"
                )
            time.sleep(0.1)

    @staticmethod
    def _has_leader(url: str) -> bool:
        try:
            response = httpx.post(url + "/v3/maintenance/status", json={}, timeout=1.0)
            return response.status_code == 200 and int(response.json().get("leader", 0)) != 0
        except (httpx.HTTPError, ValueError):
            return False

    def leader_index(self) -> int | None:
        for m in self.members:
            if m.process is None or m.process.poll() is not None:
                continue
            try:
                data = httpx.post(m.client_url + "/v3/maintenance/status", json={}, timeout=1.0)
                status = data.json()
            except (httpx.HTTPError, ValueError):
                continue
            if status.get("leader") and status["leader"] == status["header"]["member_id"]:
                return m.index
        return None

    def kill(self, index: int) -> None:
        """SIGKILL one member (its data directory stays)."""
        kill_group(self.members[index].process)

    def stop(self) -> None:
        stop_groups([m.process for m in self.members], timeout=10)


def kill_group(process: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL a child started in its own session (``start_new_session``) and reap it."""
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def stop_groups(processes: list[subprocess.Popen[bytes] | None], *, timeout: float) -> None:
    """SIGTERM every child's process group at once, then wait for each; one that has not
    exited after ``timeout`` seconds is killed."""
    for p in processes:
        if p is not None and p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
    for p in processes:
        if p is not None:
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_group(p)
