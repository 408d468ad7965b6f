"""The container setup: docker-compose.yml's consortium, run here without Docker.

These machines have no Docker engine. The first test runs what the compose file's node services
run (the same command; for ``node3`` the same ``TRADELEDGER_DATABASE_URL`` form) against a local
PostgreSQL server; another runs the ``init`` service's ``tradeledger network init`` call; the
others read docker-compose.yml and the Dockerfile and check that they still say exactly that, so
the files cannot drift away from what was tested. (The consortium itself — etcd and several
nodes as processes — is tested in ``tests/consortium``.)
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.api.conftest import free_port
from tests.api.test_api import certificate, new_number
from tests.conftest import fresh_postgres_database

ROOT = Path(__file__).resolve().parents[2]
#: The node service's command in docker-compose.yml and the Dockerfile's CMD.
NODE_COMMAND = [
    "tradeledger",
    "serve",
    "--home",
    "/var/lib/tradeledger/home",
    "--host",
    "0.0.0.0",
    "--port",
    "8000",
]
DATABASE_URL = re.compile(r"^postgresql\+psycopg://(?P<user>[^:@/]+)(:[^@]*)?@db:5432/(?P<db>\w+)$")


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _executable() -> list[str]:
    script = Path(sys.executable).parent / "tradeledger"
    return [str(script)] if script.exists() else [sys.executable, "-m", "nodes.cli.main"]


def _command(home: Path, port: int) -> list[str]:
    """NODE_COMMAND with this test's home and a loopback port in place of the container's."""
    values = {"--home": str(home), "--host": "127.0.0.1", "--port": str(port)}
    args = list(NODE_COMMAND[1:])
    for i, arg in enumerate(args[:-1]):
        if arg in values:
            args[i + 1] = values[arg]
    return [*_executable(), *args]


class NodeProcess:
    def __init__(self, home: Path, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "TRADELEDGER_DATABASE_URL": database_url}
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            _command(home, self.port),
            env=self.env,
            cwd=home.parent,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"the node exited at start:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError("the node did not answer /v1/health within 60 s")
            time.sleep(0.2)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        finally:
            self._log.close()


@pytest.mark.postgres
def test_node_on_postgres_keeps_acknowledged_entries_across_restart(
    postgres_server: str, tmp_path: Path
) -> None:
    database_url = fresh_postgres_database(postgres_server)
    home = tmp_path / "home"  # new, like the container's first start
    log = tmp_path / "node.log"
    node = NodeProcess(home, database_url, log)
    try:
        token = subprocess.run(
            [
                *_executable(),
                "token",
                "create",
                "--home",
                str(home),
                "--org",
                "jp-jcci",
                "--role",
                "issuing_authority",
            ],
            env=node.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=node.url, headers=auth, timeout=30) as h:
            first = h.post("/v1/documents?event=co.issued", json=certificate(new_number()))
            assert first.status_code == 201, first.text
            first_id = first.json()["document_id"]
            provenance = _provenance_when_in_block(h, first_id)
            assert [e["entry_hash"] for e in provenance["events"]] == [first.json()["entry_hash"]]
            # acknowledged, then stopped at once: possibly before its block was cut
            last = h.post("/v1/documents?event=co.issued", json=certificate(new_number()))
            assert last.status_code == 201, last.text
    finally:
        code = node.stop()
    assert code == 0, log.read_text()[-3000:]
    assert not (home / "ledger.db").exists(), "the node used SQLite, not TRADELEDGER_DATABASE_URL"

    node = NodeProcess(home, database_url, log)
    try:
        with httpx.Client(base_url=node.url, headers=auth, timeout=30) as h:
            for receipt in (first.json(), last.json()):
                prov = _provenance_when_in_block(h, receipt["document_id"])
                assert [e["entry_hash"] for e in prov["events"]] == [receipt["entry_hash"]]
            assert h.get("/v1/health").json()["tree_size"] >= 2
    finally:
        assert node.stop() == 0, log.read_text()[-3000:]
    import psycopg

    plain = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        stored = {bytes(r[0]).hex() for r in conn.execute("SELECT entry_hash FROM ledger_entries")}
    assert {first.json()["entry_hash"], last.json()["entry_hash"]} <= stored


def _provenance_when_in_block(h: httpx.Client, document_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        r = h.get(f"/v1/documents/{document_id}/provenance")
        if r.status_code == 200 and r.json()["events"]:
            body: dict[str, Any] = r.json()
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{document_id} has no provenance: {r.status_code} {r.text}")
        time.sleep(0.05)


def test_compose_node_services_are_what_the_tests_run() -> None:
    services = compose()["services"]
    nodes = [services[f"node{i}"] for i in range(4)]
    for i, node in enumerate(nodes):
        assert node["command"] == NODE_COMMAND
        assert node["build"] == "."
        # each node its own volume (home, key, SQLite database)
        assert node["volumes"] == [f"node{i}-home:/var/lib/tradeledger"]
        assert node["depends_on"]["init"] == {"condition": "service_completed_successfully"}
        for m in range(3):
            assert node["depends_on"][f"etcd{m}"] == {"condition": "service_healthy"}
    # one node keeps its ledger in PostgreSQL, the others in their own SQLite files
    on_postgres = [n for n in nodes if "TRADELEDGER_DATABASE_URL" in n.get("environment", {})]
    assert on_postgres == [nodes[3]]
    db = services["db"]
    url = nodes[3]["environment"]["TRADELEDGER_DATABASE_URL"]
    url = url.replace("${TRADELEDGER_DB_PASSWORD:-tradeledger}", "tradeledger")
    m = DATABASE_URL.match(url)
    assert m, url
    assert nodes[3]["depends_on"]["db"] == {"condition": "service_healthy"}
    # the database the node's URL names is the one the postgres image creates
    assert db["image"].split(":")[0] == "postgres"
    assert db["environment"]["POSTGRES_USER"] == m["user"]
    assert db["environment"]["POSTGRES_DB"] == m["db"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(v.startswith("pgdata:/var/lib/postgresql/data") for v in db["volumes"])
    assert set(compose()["volumes"]) == {
        *(f"etcd{i}-data" for i in range(3)),
        *(f"node{i}-home" for i in range(4)),
        "pgdata",
    }


def test_compose_runs_a_three_member_etcd_cluster() -> None:
    services = compose()["services"]
    cluster = "etcd0=http://etcd0:2380,etcd1=http://etcd1:2380,etcd2=http://etcd2:2380"
    for i in range(3):
        etcd = services[f"etcd{i}"]
        assert etcd["image"].startswith("quay.io/coreos/etcd:v3.")
        args = etcd["command"]
        option = {args[k]: args[k + 1] for k in range(1, len(args) - 1, 2)}
        assert option["--name"] == f"etcd{i}"
        assert option["--advertise-client-urls"] == f"http://etcd{i}:2379"
        assert option["--initial-cluster"] == cluster
        assert etcd["volumes"] == [f"etcd{i}-data:/etcd-data"]


def _init_arguments() -> list[str]:
    script = compose()["services"]["init"]["command"][2]
    call = script.split("tradeledger network init", 1)[1].split("&&", 1)[0]
    return ["network", "init", *call.split()]


def test_the_compose_init_command_lays_out_homes_naming_etcd_and_the_peers(
    tmp_path: Path,
) -> None:
    args = _init_arguments()
    home = tmp_path / "network"
    args[args.index("--home") + 1] = str(home)
    done = subprocess.run([*_executable(), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    services = compose()["services"]
    for i in range(4):
        settings = json.loads((home / f"node{i}" / "node.json").read_text())
        assert settings["public_url"] == f"http://node{i}:8000"
        assert settings["ordering"]["etcd"] == [f"http://etcd{m}:2379" for m in range(3)]
        assert sorted(p["url"] for p in settings["ordering"]["peers"]) == [
            f"http://node{j}:8000" for j in range(4) if j != i
        ]
        assert services["init"]["volumes"][i] == f"node{i}-home:/homes/node{i}"
    # the home the init script copies into each volume is where the node command looks
    assert (
        "cp -a /tmp/network/node$$i/. /homes/node$$i/home/"
        in compose()["services"]["init"]["command"][2]
    )
    assert NODE_COMMAND[NODE_COMMAND.index("--home") + 1] == "/var/lib/tradeledger/home"


def test_dockerfile_runs_the_same_command_as_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    instructions = [
        line.split(None, 1)
        for line in text.replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    by_name: dict[str, list[str]] = {}
    for name, *rest in instructions:
        by_name.setdefault(name.upper(), []).append(rest[0] if rest else "")
    assert by_name["FROM"] == ["python:3.11-slim"]
    assert json.loads(by_name["CMD"][-1]) == NODE_COMMAND
    assert by_name["USER"][-1] not in ("root", "0")
    assert "/v1/health" in by_name["HEALTHCHECK"][-1]
    assert "pip install ." in " ".join(by_name["RUN"])
