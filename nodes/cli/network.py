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
