"""The consortium file an offline command trusts (`proof verify`, `consortium keys`): one
`--consortium FILE` or `--home DIR` pair of options and one way to read it."""

from __future__ import annotations

from pathlib import Path

import typer

from ledger.consortium import Consortium
from ledger.errors import ConfigurationError, UnreadableInput
from nodes.home import DEFAULT_HOME, NodeHome

CONSORTIUM_OPTION = typer.Option(
    None, "--consortium", help="The consortium (genesis) file whose keys you trust."
)
HOME_OPTION = typer.Option(
    None,
    "--home",
    help="Take the consortium file from this node home (default ./.tradeledger).",
)


def trusted_consortium(consortium: Path | None, home: Path | None) -> Consortium:
    """The consortium from ``--consortium FILE`` or else the ``--home`` (default) node home's
    file; a usage error for both, one clear line for a file that cannot be read or used."""
    if consortium is not None and home is not None:
        raise typer.BadParameter("give --consortium FILE or --home DIR, not both")
    genesis_file = consortium or NodeHome(home or DEFAULT_HOME).consortium_file
    try:
        return Consortium.from_bytes(read_file(genesis_file, "consortium file"))
    except ConfigurationError as exc:
        raise ConfigurationError(f"{genesis_file}: {exc.detail}") from exc


def read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableInput(f"cannot read the {what} {path}: {exc.strerror or exc}") from exc
