"""`tradeledger consortium keys` (the keys as C2SP verifier keys) and `consortium change` (propose
and sign a membership change up to the configuration quorum)."""

from __future__ import annotations

from pathlib import Path

import typer

from ledger.blocks import consortium_verifier_keys
from ledger.entries import Entry
from ledger.notes import ALG_COSIGNATURE_V1, ALG_ED25519
from nodes.cli.trusted import CONSORTIUM_OPTION, HOME_OPTION, trusted_consortium
from nodes.home import NodeHome

app = typer.Typer(no_args_is_help=True)


@app.command("keys")
def keys_command(
    consortium: Path | None = CONSORTIUM_OPTION,
    home: Path | None = HOME_OPTION,
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
    genesis = trusted_consortium(consortium, home)
    alg = ALG_COSIGNATURE_V1 if cosigner else ALG_ED25519
    for vkey in consortium_verifier_keys(genesis.membership, alg):
        typer.echo(vkey)


change_app = typer.Typer(no_args_is_help=True)
app.add_typer(
    change_app,
    name="change",
    help="Membership changes (config.update): propose one, sign it, then submit it.",
)


@change_app.command("propose")
def change_propose(
    changes: Path = typer.Argument(
        ..., help='A JSON file {"changes": [...]} (docs/ledger-format.md §4.3).'
    ),
    home: Path = typer.Option(..., "--home", help="A node home holding your key."),
    org: str = typer.Option(..., "--org", help="Your organisation (signs first)."),
    out: Path = typer.Option(..., "--out", help="Where to write the signed entry (JSON)."),
) -> None:
    """Make a config.update entry of CHANGES signed by ORG, for the other members to sign
    (`consortium change sign`) until it has the configuration quorum, then to submit."""
    from ledger.chain import config_changes
    from ledger.consortium import CONFIG_TYPE
    from ledger.entries import build_entry
    from ledger.errors import EncodingError, InvalidInput

    node_home = NodeHome(home)
    try:
        payload = changes.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {changes}: {exc.strerror or exc}") from exc
    entry = build_entry(
        CONFIG_TYPE,
        org,
        node_home.signing_key(org),
        payload,
        "application/json",
        consortium_id=node_home.consortium().consortium_id,
    )
    try:
        node_home.consortium().membership.apply(config_changes(entry))
    except EncodingError as exc:
        raise InvalidInput(f"{changes}: {exc.detail}", location=exc.location) from exc
    _write_entry(out, entry)
    typer.echo(f"proposed: {entry.hash_hex} signed by {org}; now {_signers(entry, node_home)}")


@change_app.command("sign")
def change_sign(
    entry: Path = typer.Argument(..., help="The proposed entry (JSON from `propose`)."),
    home: Path = typer.Option(..., "--home", help="A node home holding your key."),
    org: str = typer.Option(..., "--org", help="Your organisation."),
) -> None:
    """Add ORG's signature to a proposed membership change (in place) after printing what it
    changes; the entry's content is not altered, only its signature list grows."""
    from ledger.chain import config_changes
    from ledger.entries import add_signatures

    node_home = NodeHome(home)
    proposed = _read_entry(entry)
    if proposed.consortium_id != node_home.consortium().consortium_id:
        from ledger.errors import InvalidInput

        raise InvalidInput(f"{entry} is a change of another consortium")
    for change in config_changes(proposed):
        typer.echo(f"change: {change}")
    signed = add_signatures(proposed, [node_home.signing_key(org)])
    _write_entry(entry, signed)
    typer.echo(f"signed: {signed.hash_hex} by {org}; now {_signers(signed, node_home)}")


def _signers(entry: Entry, home: NodeHome) -> str:
    membership = home.consortium().membership
    orgs = sorted({membership.key_owner(k) or k for k, _ in entry.signatures})
    return (
        f"{len(orgs)} of the {membership.config_quorum} organisations a change needs "
        f"({', '.join(orgs)})"
    )


def _write_entry(path: Path, entry: Entry) -> None:
    import base64
    import json

    assert entry.payload is not None  # a membership change always carries its payload
    path.write_text(
        json.dumps(
            {
                "envelope": base64.b64encode(entry.envelope).decode(),
                "payload": base64.b64encode(entry.payload).decode(),
            },
            indent=2,
        )
        + "\n"
    )


def _read_entry(path: Path) -> Entry:
    import base64
    import binascii
    import json

    from ledger.entries import parse_entry
    from ledger.errors import InvalidInput

    try:
        data = json.loads(path.read_text())
        return parse_entry(base64.b64decode(data["envelope"]), base64.b64decode(data["payload"]))
    except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidInput(f"{path} is not a proposed entry ({exc})") from exc
