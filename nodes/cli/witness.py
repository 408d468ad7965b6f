"""`tradeledger witness serve`: run a C2SP tlog-witness over one or more consortia's logs."""

from __future__ import annotations

from pathlib import Path

import typer

from ledger.blocks import checkpoint_origin
from ledger.consortium import Consortium, Membership
from ledger.errors import ConfigurationError

app = typer.Typer(no_args_is_help=True)


def _logs(files: list[Path]) -> dict[str, Membership]:
    logs: dict[str, Membership] = {}
    for path in files:
        try:
            consortium = Consortium.from_bytes(path.read_bytes())
        except OSError as exc:
            raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from exc
        except ConfigurationError as exc:
            raise ConfigurationError(f"{path}: {exc.detail}") from exc
        logs[checkpoint_origin(consortium.consortium_id)] = consortium.membership
    return logs


@app.command("serve")
def serve(
    home: Path = typer.Option(
        ..., "--home", help="The witness's directory (its key and state; created if missing)."
    ),
    log: list[Path] = typer.Option(
        ..., "--log", help="A consortium (genesis) file of a log to witness; repeat for more."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(7380, "--port", min=0, max=65535, help="Port to listen on."),
    name: str | None = typer.Option(
        None,
        "--name",
        help="The witness's name in its cosignatures (first start only; default "
        "tradeledger-witness/<key id>).",
    ),
) -> None:
    """Cosign checkpoints of the given logs that extend the last one cosigned (C2SP
    tlog-witness, POST /add-checkpoint). Prints the witness's vkey on start."""
    import uvicorn

    from api.witness import create_witness_app
    from nodes.cli.node import graceful_server_class
    from nodes.witness import Witness

    logs = _logs(log)
    witness = Witness(home, logs, name)
    typer.echo(f"witness vkey: {witness.vkey}")
    for origin in logs:
        typer.echo(f"witnessing: {origin}")
    try:
        config = uvicorn.Config(
            create_witness_app(witness),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            server_header=False,
        )
        graceful_server_class()(config).run()
    finally:
        witness.close()
