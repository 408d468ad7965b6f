"""`tradeledger consortium keys`: the consortium's keys as C2SP verifier keys (vkeys)."""

from __future__ import annotations

from pathlib import Path

import typer

from ledger.blocks import consortium_verifier_keys
from ledger.consortium import Consortium
from ledger.errors import ConfigurationError
from ledger.notes import ALG_COSIGNATURE_V1, ALG_ED25519
from nodes.cli.proof import _read
from nodes.home import DEFAULT_HOME, NodeHome

app = typer.Typer(no_args_is_help=True)


@app.command("keys")
def keys_command(
    consortium: Path | None = typer.Option(
        None, "--consortium", help="The consortium (genesis) file whose keys you trust."
    ),
    home: Path | None = typer.Option(
        None,
        "--home",
        help="Take the consortium file from this node home (default ./.tradeledger).",
    ),
    cosigner: bool = typer.Option(
        False,
        "--cosigner",
        help="Print the tlog-cosignature/v1 (type 0x04) vkeys that check members' "
        "cosignatures, instead of the type-0x01 vkeys that check the proposer's signature.",
    ),
) -> None:
    """Print one verifier key (name+hex(key hash)+base64(type || public key)) per line for
    every key in the genesis, so that other signed-note software (Go's note.NewVerifier,
    witnesses) can check tradeledger checkpoints."""
    if consortium is not None and home is not None:
        raise typer.BadParameter("give --consortium FILE or --home DIR, not both")
    genesis_file = consortium or NodeHome(home or DEFAULT_HOME).consortium_file
    try:
        genesis = Consortium.from_bytes(_read(genesis_file, "consortium file"))
    except ConfigurationError as exc:
        raise ConfigurationError(f"{genesis_file}: {exc.detail}") from exc
    alg = ALG_COSIGNATURE_V1 if cosigner else ALG_ED25519
    for vkey in consortium_verifier_keys(genesis.membership, alg):
        typer.echo(vkey)
