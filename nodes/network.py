"""A local consortium on one machine: ``tradeledger network up``.

``create_network`` lays out ``DIR/node<i>`` homes — one organisation each, its own key and
database — around one signed genesis, with a 3-member etcd cluster as the ordering service;
``NetworkProcesses`` starts etcd and the nodes as processes on 127.0.0.1 and stops them. The
organisations are the parties of a Japan → Viet Nam / Thailand trade lane; nodes beyond them are
further banks. Organisations that run no node (the exporter, the auditor) are signed for by
node 0, as a chamber of commerce hosting its members would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ledger.consortium import FoundingMember, create_genesis
from ledger.errors import ConfigurationError
from ledger.keys import SigningKey
from nodes.etcd_cluster import EtcdCluster, kill_group, stop_groups
from nodes.home import NodeHome

CONSORTIUM_ID = "tradeledger-local"

#: (org id, legal name, country, roles) of the organisations that run nodes, in node order
NODE_ORGS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("jp-jcci", "The Japan Chamber of Commerce and Industry", "JP", ("issuing_authority",)),
    ("vn-customs", "General Department of Viet Nam Customs", "VN", ("customs",)),
    ("th-customs", "The Customs Department of Thailand", "TH", ("customs",)),
    ("jp-sakura-bank", "Sakura Trade Bank, Ltd.", "JP", ("bank",)),
    ("jp-customs", "Japan Customs, Tokyo Customs Headquarters", "JP", ("customs",)),
    ("vn-vietcombank", "Joint Stock Commercial Bank for Foreign Trade of Vietnam", "VN", ("bank",)),
    ("th-bangkok-bank", "Bangkok Bank Public Company Limited", "TH", ("bank",)),
)
#: organisations without a node of their own (signed for by node 0)
HOSTED_ORGS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("jp-tanaka-machinery", "Tanaka Precision Machinery Co., Ltd.", "JP", ("exporter",)),
    ("jp-kanto-audit", "Kanto Trade Assurance LLC", "JP", ("auditor",)),
)


def bft_quorum(nodes: int) -> int:
    """2f+1 of 3f+1: the cosignatures that make a checkpoint final when up to f = ⌊(n-1)/3⌋
    nodes may be faulty (n=3 or 4: 3; n=7: 5)."""
    return nodes - (nodes - 1) // 3


@dataclass(frozen=True)
class NetworkLayout:
    root: Path
    nodes: int
    base_port: int

    @property
    def etcd_client_port(self) -> int:
        return self.base_port + 100

    @property
    def etcd_peer_port(self) -> int:
        return self.base_port + 200

    def home(self, i: int) -> Path:
        return self.root / f"node{i}"

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.base_port + i}"

    def org(self, i: int) -> str:
        return NODE_ORGS[i][0]

    def etcd(self) -> EtcdCluster:
        return EtcdCluster(
            self.root / "etcd",
            size=3,
            client_port=self.etcd_client_port,
            peer_port=self.etcd_peer_port,
            token=f"tradeledger-{self.base_port}",
        )


def create_network(root: Path, nodes: int, base_port: int = 8100) -> NetworkLayout:
    """Lay out a new local consortium of ``nodes`` organisations' nodes under ``root`` (or
    check that the one there has that many); return its layout."""
    layout = NetworkLayout(root, nodes, base_port)
    marker = root / "network.json"
    if marker.exists():
        existing = json.loads(marker.read_text())
        if existing.get("nodes") != nodes or existing.get("base_port") != base_port:
            raise ConfigurationError(
                f"{root} holds a network of {existing.get('nodes')} nodes on base port "
                f"{existing.get('base_port')}; use those, or another --home"
            )
        return layout
    init_network(
        root,
        nodes,
        node_urls=[layout.url(i) for i in range(nodes)],
        etcd_urls=layout.etcd().client_urls,
    )
    marker.write_text(json.dumps({"nodes": nodes, "base_port": base_port}) + "\n")
    return layout


def init_network(
    root: Path, nodes: int, *, node_urls: list[str], etcd_urls: list[str]
) -> list[Path]:
    """Write the homes ``root/node<i>`` of a new consortium: one signed genesis, each node's
    organisation with its own key, and ``node.json`` naming the etcd cluster, the node's public
    URL and its peers. Peers fetch missing blocks from each other with ``node``-role tokens:
    each home lists the hashes of the tokens it issued (``ordering.peer_tokens``, turned into
    token rows when the node starts) and the tokens it holds (``ordering.peers``). No database
    is touched, so the homes can be made before any exists (containers, other machines)."""
    if not 1 <= nodes <= len(NODE_ORGS):
        raise ConfigurationError(f"--nodes must be between 1 and {len(NODE_ORGS)}")
    if len(node_urls) != nodes:
        raise ConfigurationError(f"give one node URL per node ({nodes}), not {len(node_urls)}")
    if not etcd_urls:
        raise ConfigurationError("give at least one etcd client URL")
    if root.exists() and any(root.iterdir()):
        raise ConfigurationError(
            f"{root} exists and is not a tradeledger network; use another --home"
        )
    root.mkdir(parents=True, exist_ok=True)
    orgs = NODE_ORGS[:nodes] + HOSTED_ORGS
    keys = {org[0]: SigningKey.generate() for org in orgs}
    members = [
        FoundingMember(
            org_id,
            name,
            country,
            roles + (("node",) if i < nodes else ()),
            keys[org_id],
            (node_urls[i],) if i < nodes else (),
        )
        for i, (org_id, name, country, roles) in enumerate(orgs)
    ]
    consortium = create_genesis(
        CONSORTIUM_ID,
        "tradeledger local consortium (Japan–ASEAN)",
        members,
        checkpoint_quorum=bft_quorum(nodes),
        config_quorum=bft_quorum(nodes),
    )
    from nodes.tokens import new_token, token_hash

    # tokens[(j, i)]: issued by node j (it checks it), held by node i (it presents it to j)
    tokens = {(j, i): new_token() for j in range(nodes) for i in range(nodes) if i != j}
    homes = []
    for i in range(nodes):
        org_id = NODE_ORGS[i][0]
        home = NodeHome(root / f"node{i}")
        home.path.mkdir(parents=True)
        home.write_consortium(consortium)
        signs_for = [org_id] + ([o[0] for o in HOSTED_ORGS] if i == 0 else [])
        for org in signs_for:
            home.save_key(org, keys[org])
        home.write_settings(org_id, signs_for, None)
        settings = json.loads(home.settings_file.read_text())
        settings["public_url"] = node_urls[i]
        settings["ordering"] = {
            "etcd": etcd_urls,
            "peers": [
                {"url": node_urls[j], "token": tokens[(j, i)]} for j in range(nodes) if j != i
            ],
            "peer_tokens": [
                {"org_id": NODE_ORGS[k][0], "token_sha256": token_hash(tokens[(i, k)])}
                for k in range(nodes)
                if k != i
            ],
        }
        home.settings_file.write_text(json.dumps(settings, indent=2) + "\n")
        homes.append(home.path)
    return homes


class NetworkProcesses:
    """etcd and the nodes of a :class:`NetworkLayout`, as child processes."""

    def __init__(self, layout: NetworkLayout, *, log_level: str = "info") -> None:
        self.layout = layout
        self.etcd = layout.etcd()
        self.nodes: list[subprocess.Popen[bytes] | None] = [None] * layout.nodes
        self.log_level = log_level

    def start(self, *, timeout: float = 60.0) -> None:
        self.etcd.start(timeout=timeout)
        for i in range(self.layout.nodes):
            self.start_node(i)
        for i in range(self.layout.nodes):
            self.wait_node(i, timeout=timeout)

    def start_node(self, i: int) -> None:
        log = open(self.layout.root / f"node{i}.log", "ab")  # noqa: SIM115 - the process owns it
        self.nodes[i] = subprocess.Popen(
            [
                sys.executable, "-m", "nodes.cli.main", "serve",
                "--home", str(self.layout.home(i)),
                "--port", str(self.layout.base_port + i),
                "--log-level", self.log_level,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()

    def wait_node(self, i: int, *, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = self.layout.url(i) + "/v1/health"
        while time.monotonic() < deadline:
            p = self.nodes[i]
            if p is not None and p.poll() is not None:
                raise ConfigurationError(
                    f"node {i} exited with code {p.returncode}; see {self.layout.root}/node{i}.log"
                )
            try:
                health = httpx.get(url, timeout=1.0)
                # ours, not another process that holds the port (then ours exits: see above)
                if health.status_code == 200 and health.json().get("org_id") == self.layout.org(i):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
        raise ConfigurationError(f"node {i} did not answer within {timeout:.0f} s")

    def kill_node(self, i: int) -> None:
        kill_group(self.nodes[i])

    def stop(self) -> None:
        # nodes first (each finishes what it was writing), then the ordering service
        stop_groups(self.nodes, timeout=30)
        self.etcd.stop()
