"""``tradeledger network up``: a local multi-node consortium, etcd included, as processes."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import typer

app = typer.Typer(no_args_is_help=True)


@app.command("up")
def up(
    home: Path = typer.Option(
        ..., "--home", help="Directory for the network (created if missing)."
    ),
    nodes: int = typer.Option(..., "--nodes", min=1, help="How many organisations' nodes."),
    base_port: int = typer.Option(
        8100, "--base-port", min=1, max=65000, help="Node i serves its API on this port + i."
    ),
    log_level: str = typer.Option("info", "--log-level", help="The nodes' log level."),
) -> None:
    """Start a 3-member etcd cluster and NODES organisation nodes on 127.0.0.1, one consortium;
    print each node's and each etcd member's URL; stop everything on SIGINT or SIGTERM."""
    from nodes.network import NetworkProcesses, create_network

    layout = create_network(home, nodes, base_port)
    processes = NetworkProcesses(layout, log_level=log_level)
    stopping = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        processes.start()
        for i in range(nodes):
            print(f"node {i} {layout.org(i)} {layout.url(i)}", flush=True)
        for i, url in enumerate(processes.etcd.client_urls):
            print(f"etcd {i} {url}", flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        processes.stop()
    print("network stopped", flush=True)


@app.command("init")
def init(
    home: Path = typer.Option(..., "--home", help="Directory for the homes (new or empty)."),
    nodes: int = typer.Option(..., "--nodes", min=1, help="How many organisations' nodes."),
    node_url: list[str] = typer.Option(
        ..., "--node-url", help="Node i's URL as its peers reach it; once per node, in order."
    ),
    etcd: list[str] = typer.Option(
        ..., "--etcd", help="An etcd member's client URL; repeat for each member."
    ),
) -> None:
    """Write the homes DIR/node<i> of a new consortium for nodes that run elsewhere (containers,
    other machines): one genesis, each organisation's key, node.json with the etcd cluster, the
    node's URL and its peers. Start each with `tradeledger serve --home DIR/node<i>`."""
    from nodes.home import check_public_url
    from nodes.network import NODE_ORGS, init_network

    for url in node_url:
        check_public_url(url, "--node-url")
    for url in etcd:
        check_public_url(url, "--etcd")
    for path in init_network(home, nodes, node_urls=node_url, etcd_urls=etcd):
        i = int(path.name.removeprefix("node"))
        print(f"node {i} {NODE_ORGS[i][0]} {path}")


@app.command("join")
def join(
    home: Path = typer.Option(..., "--home", help="The new node's home (new or empty)."),
    consortium: Path = typer.Option(..., "--consortium", help="The consortium (genesis) file."),
    org: str = typer.Option(..., "--org", help="The joining organisation's id."),
    legal_name: str = typer.Option(..., "--legal-name", help="Its legal name."),
    country: str = typer.Option(..., "--country", help="Its ISO 3166 alpha-2 country code."),
    role: list[str] = typer.Option(..., "--role", help="A role it takes; repeat for more."),
    etcd: list[str] = typer.Option(
        ..., "--etcd", help="An etcd member's client URL; repeat for each member."
    ),
    public_url: str = typer.Option(..., "--public-url", help="This node's URL as peers reach it."),
) -> None:
    """Prepare a new organisation's node: its home, its key, and HOME/add-organisation.json,
    the membership change that admits it (with the `node` role) for the members to propose,
    sign to the configuration quorum and submit. Start it with `tradeledger serve --home HOME`
    once the change is final; it then reads the order from etcd, or catches up from the peers
    named in node.json's ordering.peers (node-role tokens the members issue it)."""
    import json

    from ledger.consortium import Consortium, MemberKey, Organisation
    from ledger.errors import ConfigurationError
    from ledger.keys import SigningKey
    from nodes.home import NodeHome, check_public_url

    check_public_url(public_url, "--public-url")
    for url in etcd:
        check_public_url(url, "--etcd")
    node_home = NodeHome(home)
    if home.exists() and any(home.iterdir()):
        raise ConfigurationError(f"{home} is not empty; use a new --home")
    genesis = Consortium.from_bytes(consortium.read_bytes())
    if org in genesis.membership.organisations:
        raise ConfigurationError(f"{org} is a founding member already")
    key = SigningKey.generate()
    organisation = Organisation(
        org,
        legal_name,
        country,
        frozenset([*role, "node"]),
        {key.key_id: MemberKey(key.public_key)},
        (public_url,),
    )
    change = {"changes": [{"op": "add_organisation", "organisation": organisation.to_dict()}]}
    # the change must make sense against the genesis (it may still clash with later changes)
    genesis.membership.apply(change["changes"])
    home.mkdir(parents=True, exist_ok=True)
    node_home.write_consortium(genesis)
    node_home.save_key(org, key)
    node_home.write_settings(org, [org], None)
    settings = json.loads(node_home.settings_file.read_text())
    settings["public_url"] = public_url
    settings["ordering"] = {"etcd": etcd, "peers": []}
    node_home.settings_file.write_text(json.dumps(settings, indent=2) + "\n")
    change_file = home / "add-organisation.json"
    change_file.write_text(json.dumps(change, indent=2) + "\n")
    print(f"home {home} key {key.key_id} change {change_file}")
