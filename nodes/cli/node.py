"""Top-level node commands: ``demo``, ``token create`` and ``token revoke``, ``serve``."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import typer
from rich.console import Console

from nodes.home import DEFAULT_HOME, NodeHome, check_public_url

token_app = typer.Typer(no_args_is_help=True, help="API bearer tokens.")


def demo(
    home: Path = typer.Option(..., "--home", help="Directory of the development node."),
    entries: int = typer.Option(100, "--entries", min=0, help="How many entries to append."),
) -> None:
    """Create a development consortium in HOME (if missing) and append realistic entries."""
    from nodes.demo import run_demo  # the store and writer load only for the commands using them

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
    expires_in: str | None = typer.Option(
        None, "--expires-in", help="The token stops acting after this long: 90d, 12h, 30m, 2w."
    ),
    expires: str | None = typer.Option(
        None,
        "--expires",
        help="The token stops acting at this RFC 3339 time (with both: the earlier).",
    ),
) -> None:
    """Print a new API bearer token for a user of ORG acting in ROLE (which ORG must hold in
    the membership in force on this node's chain)."""
    from nodes.tokens import create_token, expiry

    until = expiry(expires_in, expires)
    node_home = NodeHome(home)
    store = node_home.open_store()
    try:
        print(create_token(store, node_home.consortium(), org, role, expires=until))
    finally:
        store.dispose()


@token_app.command("revoke")
def token_revoke(
    token: str | None = typer.Argument(None, help="The token to end."),
    home: Path = typer.Option(DEFAULT_HOME, "--home", help="The node's home."),
    org: str | None = typer.Option(None, "--org", help="End every token of this organisation."),
) -> None:
    """End one TOKEN, or with --org every token of an organisation, at once (also on a node
    already running on this home: it reads the token store on every request)."""
    from nodes.tokens import revoke_org_tokens, revoke_token

    if (token is None) == (org is None):
        raise typer.BadParameter("give either a TOKEN or --org ORG_ID, not both or neither")
    node_home = NodeHome(home)
    store = node_home.open_store()
    try:
        if token is not None:
            done = revoke_token(store, token)
            state = f"was already revoked at {done.revoked}" if done.already else "is revoked"
            print(f"the token of {done.org_id} ({done.role}) {state}")
        else:
            count = revoke_org_tokens(store, node_home.consortium(), str(org))
            print(f"revoked {count} token{'' if count == 1 else 's'} of {org}")
    finally:
        store.dispose()


def serve(
    home: Path = typer.Option(DEFAULT_HOME, "--home", help="The node's home (created if missing)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to listen on."),
    block_interval_ms: int = typer.Option(
        200, "--block-interval-ms", min=1, help="Cut a block at least this often (ms)."
    ),
    block_max_entries: int = typer.Option(
        500, "--block-max-entries", min=1, help="Cut a block as soon as this many are waiting."
    ),
    block_max_backlog: int = typer.Option(
        0,
        "--block-max-backlog",
        min=0,
        help="Entries that may wait for a block (0: --block-max-entries); further "
        "submissions wait for room, then get 503 node-busy.",
    ),
    body_limit: int = typer.Option(
        5 * 1024 * 1024, "--body-limit", min=1024, help="Largest request body (bytes)."
    ),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning, error."),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request."),
    public_url: str | None = typer.Option(
        None,
        "--public-url",
        help="The node's address as readers reach it (http or https, no query), printed in "
        "QR codes and links; default: node.json's public_url, else http://HOST:PORT.",
    ),
) -> None:
    """Run one node with its HTTP API (a new HOME becomes a development consortium)."""
    import uvicorn

    from api.app import create_app
    from nodes import logs
    from nodes.demo import ensure_consortium
    from nodes.service import LedgerNode

    logs.configure(log_level)
    # Several threads share one interpreter (event loop, journal, block cutter): hand the GIL
    # over more often than every 5 ms so that none of them waits long for it.
    sys.setswitchinterval(0.001)
    _GracefulServer = graceful_server_class()
    # a bad address is refused before anything is created or started
    configured_url = None if public_url is None else check_public_url(public_url, "--public-url")
    node_home = NodeHome(home)
    ensure_consortium(node_home)
    configured_url = configured_url or node_home.public_url() or _listening_url(host, port)
    node = LedgerNode.open(
        node_home,
        block_interval=block_interval_ms / 1000,
        block_max_entries=block_max_entries,
        block_max_backlog=block_max_backlog or None,
    )
    # What start-up loaded (the Merkle tree in memory, the consortium) lives as long as the
    # node: keep it out of the garbage collector's full passes, which would pause requests.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)
    try:
        app = create_app(node, body_limit=body_limit, public_url=configured_url)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            log_level=log_level,
            access_log=access_log,
            timeout_graceful_shutdown=30,
            server_header=False,
        )
        # uvicorn handles SIGINT/SIGTERM: it stops accepting, finishes requests in flight,
        # and returns; the node then journals and cuts what is left (see LedgerNode.close).
        _GracefulServer(config).run()
    finally:
        node.close()


def _listening_url(host: str, port: int) -> str:
    """``http://HOST:PORT``, the default public URL (an IPv6 address in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def graceful_server_class() -> type:
    import contextlib
    import signal
    import threading
    from collections.abc import Iterator

    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn's server, except that a SIGINT/SIGTERM it handled gracefully is not raised
        again afterwards (uvicorn does, which would end the process before the node has cut
        its last block, and with a signal's exit status instead of 0)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            sigs = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in sigs}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return GracefulServer


def register(app: typer.Typer) -> None:
    """Attach the node commands to the root app."""
    app.command("demo")(demo)
    app.command("serve")(serve)
    app.add_typer(token_app, name="token")
