"""`tradeledger consortium keys`: the genesis's keys as C2SP vkeys (issue 13)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ledger.blocks import Checkpoint
from ledger.notes import open_note, parse_note, parse_verifier_key
from nodes.cli.main import app
from tests.chainbuilder import make_chain


def test_consortium_keys_prints_vkeys_that_verify_a_cosigned_checkpoint(tmp_path: Path) -> None:
    chain = make_chain()
    chain.block([chain.entry()])
    genesis = tmp_path / "consortium.json"
    genesis.write_bytes(chain.consortium.to_bytes())
    runner = CliRunner()
    plain = runner.invoke(app, ["consortium", "keys", "--consortium", str(genesis)])
    cosigner = runner.invoke(
        app, ["consortium", "keys", "--consortium", str(genesis), "--cosigner"]
    )
    assert plain.exit_code == 0 and cosigner.exit_code == 0, plain.output + cosigner.output
    note_keys = plain.output.splitlines()
    cosigner_keys = cosigner.output.splitlines()
    # one vkey per key the consortium lists, of each kind
    assert len(note_keys) == len(cosigner_keys) == len(chain.keys)
    assert {k.split("+")[0] for k in note_keys} == {
        f"{org}:{key.key_id}" for org, key in chain.keys.items()
    }
    assert all(k.split("+")[2].startswith("A") for k in note_keys)  # base64 of 0x01 || key
    assert all(k.split("+")[2].startswith("B") for k in cosigner_keys)  # 0x04 || key

    _, text, _ = chain.blocks[-1]
    cosigned = Checkpoint.from_text(text).cosigned_by(
        "vn-customs", chain.keys["vn-customs"], 1790000000
    )
    opened = open_note(
        parse_note(cosigned.to_text()), [parse_verifier_key(k) for k in note_keys + cosigner_keys]
    )
    assert [s.name.split(":")[0] for _, s in opened.verified] == ["jp-jcci", "vn-customs"]


def test_consortium_keys_of_an_unreadable_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["consortium", "keys", "--consortium", str(tmp_path / "missing.json")]
    )
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error[")
