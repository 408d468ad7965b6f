"""`tradeledger proof verify` on responses saved from a live node, and on tampered copies."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ledger.blocks import Checkpoint
from nodes.cli.main import app
from nodes.demo import run_demo
from nodes.home import NodeHome
from tests.api.conftest import LiveNode
from tests.api.test_api import certificate, issue, new_number

runner = CliRunner()


def verify(*args: str) -> Any:
    return runner.invoke(app, ["proof", "verify", *args])


def save(path: Path, body: Any) -> str:
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return str(path)


@pytest.fixture
def saved(live: LiveNode, tmp_path: Path) -> dict[str, Any]:
    """A document with two events, its provenance, and the checkpoint, saved as files."""
    co_id, _ = issue(live)
    with live.client("issuer") as c:
        revoked = c.submit_document(
            {"document_type": "co_revocation", "co_reference": co_id, "reason": "Issued in error"},
            event="co.revoked",
        )
    live.wait_for_block(revoked.entry_hash)
    with live.http("issuer") as h:
        checkpoint = h.get("/v1/checkpoint").json()
        provenance = h.get(f"/v1/documents/{co_id}/provenance").json()
    assert provenance["tree_size"] == checkpoint["tree_size"]
    return {
        "co_id": co_id,
        "provenance": provenance,
        "checkpoint": checkpoint,
        "consortium": str(live.home.consortium_file),
        "dir": tmp_path,
    }


def run_on(saved: dict[str, Any], provenance: Any = None, checkpoint: Any = None) -> Any:
    d: Path = saved["dir"]
    return verify(
        save(d / "prov.json", provenance if provenance is not None else saved["provenance"]),
        "--checkpoint",
        save(d / "cp.json", checkpoint if checkpoint is not None else saved["checkpoint"]),
        "--consortium",
        saved["consortium"],
    )


def flip_b64(value: str, byte: int) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[byte] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_provenance_verifies(saved: dict[str, Any]) -> None:
    r = run_on(saved)
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"verified: provenance of {saved['co_id']}: 2 entries")
    assert "co.issued" in r.output and "co.revoked" in r.output


def test_checkpoint_as_signed_note_text_and_home(saved: dict[str, Any], live: LiveNode) -> None:
    d: Path = saved["dir"]
    r = verify(
        save(d / "prov.json", saved["provenance"]),
        "--checkpoint",
        save(d / "cp.txt", saved["checkpoint"]["checkpoint"]),
        "--home",
        str(live.home.path),
    )
    assert r.exit_code == 0, r.output


def test_tampered_envelope_fails(saved: dict[str, Any]) -> None:
    prov = copy.deepcopy(saved["provenance"])
    ev = prov["events"][0]
    ev["envelope"] = flip_b64(ev["envelope"], len(base64.b64decode(ev["envelope"])) - 5)
    r = run_on(saved, prov)
    assert r.exit_code == 1, r.output
    assert "event 1 (co.issued" in r.output
    assert "envelope" in r.output


def test_envelope_with_other_claims_fails(saved: dict[str, Any]) -> None:
    """Stated fields beside the envelope must match it (a node cannot relabel an event)."""
    prov = copy.deepcopy(saved["provenance"])
    prov["events"][1]["event"] = "co.issued"
    r = run_on(saved, prov)
    assert r.exit_code == 1
    assert "the signed entry says 'co.revoked'" in r.output


def test_tampered_proof_hash_fails(saved: dict[str, Any]) -> None:
    prov = copy.deepcopy(saved["provenance"])
    hashes = prov["events"][1]["inclusion_proof"]["hashes"]
    assert hashes, "a tree of hundreds of leaves gives a non-empty audit path"
    hashes[0] = ("0" if hashes[0][0] != "0" else "1") + hashes[0][1:]
    r = run_on(saved, prov)
    assert r.exit_code == 1, r.output
    assert "event 2 (co.revoked" in r.output and "leads to root" in r.output


def test_tampered_root_fails(saved: dict[str, Any]) -> None:
    cp = Checkpoint.from_text(saved["checkpoint"]["checkpoint"])
    lines = cp.body.split("\n")
    lines[2] = flip_b64(lines[2], 0)
    forged = Checkpoint("\n".join(lines), cp.signatures).to_text()
    r = run_on(saved, checkpoint=forged)
    assert r.exit_code == 1, r.output
    assert "does not verify" in r.output


def test_tampered_checkpoint_signature_fails(saved: dict[str, Any]) -> None:
    text = saved["checkpoint"]["checkpoint"]
    body, _, sigs = text.partition("\n\n")
    first, *rest = sigs.split("\n")
    name, _, blob = first.rpartition(" ")
    forged = body + "\n\n" + "\n".join([f"{name} {flip_b64(blob, 10)}", *rest])
    r = run_on(saved, checkpoint=forged)
    assert r.exit_code == 1, r.output
    assert "checkpoint signature by" in r.output


def test_checkpoint_of_another_consortium_fails(saved: dict[str, Any], tmp_path: Path) -> None:
    other = NodeHome(tmp_path / "other")
    run_demo(other, 3).store.dispose()
    r = run_on(saved, checkpoint=_latest_checkpoint(other))
    assert r.exit_code == 1, r.output
    assert "0 member signatures" in r.output
    # ... and the other consortium's keys do not vouch for this node's checkpoint
    d: Path = saved["dir"]
    r = verify(
        save(d / "prov.json", saved["provenance"]),
        "--checkpoint",
        save(d / "cp.json", saved["checkpoint"]),
        "--consortium",
        str(other.consortium_file),
    )
    assert r.exit_code == 1, r.output


def _latest_checkpoint(home: NodeHome) -> str:
    from nodes.service import LedgerNode

    node = LedgerNode.open(home)
    try:
        return node.head.checkpoint
    finally:
        node.close()


def test_older_checkpoint_needs_a_consistency_proof(live: LiveNode, tmp_path: Path) -> None:
    co_id, _ = issue(live)
    with live.http("issuer") as h:
        old_cp = h.get("/v1/checkpoint").json()
    with live.client("issuer") as c:
        later = c.submit_document(certificate(new_number()), event="co.issued")
    live.wait_for_block(later.entry_hash)
    with live.http("issuer") as h:
        prov = h.get(f"/v1/documents/{co_id}/provenance").json()
        assert prov["tree_size"] > old_cp["tree_size"]
        consistency = h.get(
            "/v1/consistency-proof",
            params={"first": old_cp["tree_size"], "second": prov["tree_size"]},
        ).json()
    args = [
        save(tmp_path / "prov.json", prov),
        "--checkpoint",
        save(tmp_path / "cp.json", old_cp),
        "--consortium",
        str(live.home.consortium_file),
    ]
    r = verify(*args)
    assert r.exit_code == 1 and "no consistency proof" in r.output, r.output
    r = verify(*args, "--consistency", save(tmp_path / "cons.json", consistency))
    assert r.exit_code == 0, r.output
    assert "linked by a consistency proof" in r.output
    # a consistency proof with a wrong hash does not link them
    bad = copy.deepcopy(consistency)
    bad["hashes"][-1] = ("0" if bad["hashes"][-1][0] != "0" else "1") + bad["hashes"][-1][1:]
    r = verify(*args, "--consistency", save(tmp_path / "bad.json", bad))
    assert r.exit_code == 1 and "not consistent" in r.output, r.output


def test_inclusion_proof_and_verify_responses(live: LiveNode, tmp_path: Path) -> None:
    co_id, entry_hash = issue(live)
    with live.http("issuer") as h:
        checkpoint = h.get("/v1/checkpoint").json()
        inclusion = h.get(f"/v1/entries/{entry_hash}/inclusion-proof").json()
        answer = h.post("/v1/verify", json={"document_id": co_id}).json()
    cp = save(tmp_path / "cp.json", checkpoint)
    genesis = str(live.home.consortium_file)
    for name, body in (("inclusion", inclusion), ("verify", answer)):
        r = verify(
            save(tmp_path / f"{name}.json", body), "--checkpoint", cp, "--consortium", genesis
        )
        assert r.exit_code == 0, (name, r.output)
        assert "1 entry" in r.output
    # the verify answer carries its own checkpoint, which works as the trusted one too
    r = verify(
        str(tmp_path / "verify.json"),
        "--checkpoint",
        str(tmp_path / "verify.json"),
        "--consortium",
        genesis,
    )
    assert r.exit_code == 0, r.output
    forged = copy.deepcopy(inclusion)
    forged["leaf_index"] = forged["leaf_index"] + 1
    r = verify(save(tmp_path / "f.json", forged), "--checkpoint", cp, "--consortium", genesis)
    assert r.exit_code == 1, r.output


def test_unreadable_input_exits_2(
    saved: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cp = save(tmp_path / "cp.json", saved["checkpoint"])
    genesis = saved["consortium"]
    r = verify(str(tmp_path / "missing.json"), "--checkpoint", cp, "--consortium", genesis)
    assert r.exit_code == 2 and "cannot read the response" in r.output
    r = verify(save(tmp_path / "x.json", "not json"), "--checkpoint", cp, "--consortium", genesis)
    assert r.exit_code == 2 and "not valid JSON" in r.output
    r = verify(save(tmp_path / "y.json", {"a": 1}), "--checkpoint", cp, "--consortium", genesis)
    assert r.exit_code == 2 and "not a provenance" in r.output
    r = verify(save(tmp_path / "p.json", saved["provenance"]), "--checkpoint", cp)
    assert r.exit_code == 2  # no --consortium and no ./.tradeledger here
    r = verify(save(tmp_path / "p.json", saved["provenance"]))
    assert r.exit_code == 2  # --checkpoint is required
