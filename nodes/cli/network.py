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
