"""Top-level node commands: ``demo``, ``token create`` (and ``serve``, ``network``)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from nodes.demo import run_demo
from nodes.home import DEFAULT_HOME, NodeHome
from nodes.tokens import create_token

token_app = typer.Typer(no_args_is_help=True, help="API bearer tokens.")


def demo(
    home: Path = typer.Option(..., "--home", help="Directory of the development node."),
    entries: int = typer.Option(100, "--entries", min=0, help="How many entries to append."),
) -> None:
    """Create a development consortium in HOME (if missing) and append realistic entries."""
    writer = run_demo(NodeHome(home), entries)
    state = writer.state
    console = Console()
    console.print(f"consortium {state.consortium.consortium_id} in {home}")
    console.print(f"height {state.height}  tree_size {state.tree_size}")
    console.print(f"head   {state.head_hash.hex()}")
    console.print(f"root   {state.tree.root().hex()}")
    writer.store.dispose()


@token_app.command("create")
def token_create(
    home: Path = typer.Option(DEFAULT_HOME, "--home", help="The node's home."),
    org: str = typer.Option(..., "--org", help="Organisation id of the user."),
    role: str = typer.Option(..., "--role", help="Role the user acts in."),
) -> None:
    """Print a new API bearer token for a user of ORG acting in ROLE."""
    node_home = NodeHome(home)
    store = node_home.open_store()
    try:
        print(create_token(store, node_home.consortium(), org, role))
    finally:
        store.dispose()


def register(app: typer.Typer) -> None:
    """Attach the node commands to the root app."""
    app.command("demo")(demo)
    app.add_typer(token_app, name="token")
