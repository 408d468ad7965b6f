"""Verification: a node (or anyone between it and the verifier) edits a genuine answer so that
`tradeledger proof verify` vouches for something the ledger does not say. Each test takes real
responses from the attacked node, tampers with them as an attacker would (every envelope and
proof left genuine) and runs the CLI on them.

The verifier binds every event to the document, refuses an order or a repetition no node
gives and a status the listed events contradict; and, through the status map the block header
commits to (docs/ledger-format.md §12), proves the status and that no event was left out: an
answer that withholds a revocation, edits the map's record or its proof, or drops the proof
fails.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nodes.cli.main import app
from tests.api.conftest import LiveNode
from tests.api.test_api import certificate, declaration, held_digest, issue, new_number, revocation

runner = CliRunner()


@pytest.fixture(scope="module")
def answers(node: LiveNode) -> dict[str, Any]:
    """Genuine answers of one tree size: a revoked certificate with every kind of event bound
    to it, a current one, and an amended one with its amendment."""
    revoked_id, _ = issue(node)
    current_id, _ = issue(node)
    old_id, _ = issue(node)
    with node.client("vn_customs") as c:
        c.submit_document(declaration("import", revoked_id), event="customs.import_declaration")
        c.submit_document(
            {"document_type": "verification_request", "co_reference": revoked_id, "reason": "x"},
            event="customs.verification_requested",
        )
        c.submit_document(
            {
                "document_type": "verification_result",
                "co_reference": revoked_id,
                "result": "accepted",
            },
            event="customs.verification_result",
        )
    with node.client("bank") as c:
        c.submit_document(
            {
                "document_type": "bank_presentation",
                "co_reference": revoked_id,
                "letter_of_credit": "LC-1",
                "presented_by": "jp-tanaka-machinery",
                "co_digest": held_digest(node, revoked_id),
            },
            event="bank.presentation",
        )
    with node.client("issuer") as c:
        c.submit_document(revocation(revoked_id), event="co.revoked")
        amended = c.submit_document(
            certificate(new_number(), supersedes=old_id), event="co.amended"
        )
    node.wait_for_block(amended.entry_hash)
    node.settled()
    with node.http("issuer") as h:
        checkpoint = h.get("/v1/checkpoint").json()
        ids = {"revoked": revoked_id, "current": current_id, "old": old_id}
        ids["new"] = amended.document_id
        provenance = {k: h.get(f"/v1/documents/{v}/provenance").json() for k, v in ids.items()}
        verify = {
            k: h.post("/v1/verify", json={"document_id": ids[k]}).json()
            for k in ("revoked", "current")
        }
    for prov in provenance.values():
        assert prov["tree_size"] == checkpoint["tree_size"]
    assert [e["event"] for e in provenance["revoked"]["events"]] == [
        "co.issued",
        "customs.import_declaration",
        "customs.verification_requested",
        "customs.verification_result",
        "bank.presentation",
        "co.revoked",
    ]
    assert provenance["old"]["status"] == "superseded"
    return {"ids": ids, "checkpoint": checkpoint, "provenance": provenance, "verify": verify}


def proof_verify(
    node: LiveNode, answers: dict[str, Any], body: Any, tmp_path: Path, *extra: str
) -> Any:
    response = tmp_path / "response.json"
    response.write_text(json.dumps(body))
    checkpoint = tmp_path / "checkpoint.json"
    checkpoint.write_text(json.dumps(answers["checkpoint"]))
    return runner.invoke(
        app,
        [
            "proof",
            "verify",
            str(response),
            "--checkpoint",
            str(checkpoint),
            "--consortium",
            str(node.home.consortium_file),
            *extra,
        ],
    )


def provenance(answers: dict[str, Any], which: str) -> dict[str, Any]:
    return copy.deepcopy(answers["provenance"][which])


# --- genuine answers: verified, and the output says what is and is not proven ----------------


def test_genuine_provenance_says_what_it_proved_and_what_not(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    doc = answers["ids"]["revoked"]
    height = answers["checkpoint"]["height"]
    r = proof_verify(node, answers, provenance(answers, "revoked"), tmp_path)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert (
        f"proven: every event is bound to {doc} (its signed subject, or a signed ref to an "
        "earlier event of it), in log order, none twice" in lines
    )
    assert 'proven: the status "revoked" is consistent with these events' in lines
    assert (
        f"proven: status revoked as of checkpoint {height} (the status map's record of {doc}); "
        "these 6 event(s) are all of its events" in lines
    )
    assert not [line for line in lines if line.startswith("not proven")]


def test_genuine_amendment_is_bound_to_the_old_certificate(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    """The amendment's subject is the new certificate; it is bound to the old one by its ref."""
    for which in ("old", "new"):
        r = proof_verify(node, answers, provenance(answers, which), tmp_path)
        assert r.exit_code == 0, (which, r.output)
        assert f"proven: every event is bound to {answers['ids'][which]}" in r.output


def test_json_report_lists_what_was_not_proven(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    r = proof_verify(node, answers, provenance(answers, "current"), tmp_path, "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    doc = answers["ids"]["current"]
    assert report["verified"] is True and report["document_id"] == doc
    assert report["status"] == "current"
    assert [e["type"] for e in report["entries"]] == ["co.issued"]
    assert report["not_proven"] == []
    assert any(p.startswith("status current (valid until ") for p in report["proven"])
    r = proof_verify(node, answers, {**provenance(answers, "current"), "events": []}, tmp_path)
    assert r.exit_code == 1
    r = proof_verify(
        node, answers, {**provenance(answers, "current"), "events": []}, tmp_path, "--json"
    )
    assert r.exit_code == 1
    verdict = json.loads(r.stdout)
    assert verdict["verified"] is False and verdict["error"]["code"] == "proof-invalid"


# --- a withheld or contradicted revocation ---------------------------------------------------


def test_revocation_withheld_fails(node: LiveNode, answers: dict[str, Any], tmp_path: Path) -> None:
    """The node leaves the revocation out and says "current": every event it lists is genuine,
    but the status map the header commits to counts the revocation."""
    forged = provenance(answers, "revoked")
    forged["events"] = [e for e in forged["events"] if e["event"] != "co.revoked"]
    forged["status"] = "current"
    r = proof_verify(node, answers, forged, tmp_path)
    assert r.exit_code == 1, r.output
    assert "the status map records 6 event(s) for the document; the answer lists 5" in r.output


def test_revocation_withheld_with_the_record_edited_fails(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    """... and edits the map's record to match: the proof no longer leads to the root."""
    forged = provenance(answers, "revoked")
    forged["events"] = [e for e in forged["events"] if e["event"] != "co.revoked"]
    forged["status"] = "current"
    record = forged["status_proof"]["record"]
    last = forged["events"][-1]
    record.update(status="current", events=5, latest_event=last["entry_hash"])
    record["latest_type"] = last["event"]
    r = proof_verify(node, answers, forged, tmp_path)
    assert r.exit_code == 1, r.output
    assert "not the checkpoint's status root" in r.output


def test_status_proof_withheld_fails(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    forged = provenance(answers, "revoked")
    forged["events"] = [e for e in forged["events"] if e["event"] != "co.revoked"]
    forged["status"] = "current"
    del forged["status_proof"]
    r = proof_verify(node, answers, forged, tmp_path)
    assert r.exit_code == 1, r.output
    assert "the response carries no status proof" in r.output


def test_tampered_status_map_proof_fails(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    forged = provenance(answers, "revoked")
    proof = bytearray(base64.b64decode(forged["status_proof"]["proof"]))
    proof[-1] ^= 1  # one bit of the deepest sibling
    forged["status_proof"]["proof"] = base64.b64encode(bytes(proof)).decode()
    r = proof_verify(node, answers, forged, tmp_path)
    assert r.exit_code == 1, r.output
    assert "not the checkpoint's status root" in r.output


def test_a_status_proof_under_another_header_fails(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    """A header the checkpoint does not sign (its status root swapped) is refused."""
    forged = provenance(answers, "revoked")
    header = json.loads(base64.b64decode(forged["status_proof"]["header"]))
    header["status_root"] = "00" * 32
    raw = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    forged["status_proof"]["header"] = base64.b64encode(raw).decode()
    r = proof_verify(node, answers, forged, tmp_path)
    assert r.exit_code == 1, r.output
    assert "is not the block the checkpoint at height" in r.output


def test_an_unknown_id_has_a_non_membership_proof(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    """An auditor (who may read every document) asking about an id no document has gets a 404
    carrying the map's proof that it holds nothing for it; anyone else gets a plain 404."""
    unknown = "jp-jcci/NO-SUCH-CERTIFICATE"
    with node.http("auditor") as h:
        checkpoint = h.get("/v1/checkpoint").json()
        r = h.get(f"/v1/documents/{unknown}/provenance")
    assert r.status_code == 404
    answer = r.json()
    with node.http("issuer") as h:
        plain = h.get(f"/v1/documents/{unknown}/provenance")
    assert plain.status_code == 404 and "status_proof" not in plain.json()
    assert answer["events"] == [] and answer["status_proof"]["record"] is None
    mine = {**answers, "checkpoint": checkpoint}
    r = proof_verify(node, mine, answer, tmp_path)
    assert r.exit_code == 0, r.output
    assert (
        f"proven: {unknown} has no event on the ledger as of checkpoint {checkpoint['height']} "
        "(the status map holds nothing for it)" in r.output.splitlines()
    )
    # the same proof for an id that has events is refused
    doc = answers["ids"]["current"]
    r = proof_verify(node, mine, {**answer, "document_id": doc}, tmp_path)
    assert r.exit_code == 1, r.output


def test_status_current_beside_its_revocation_fails(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    doc = answers["ids"]["revoked"]
    forged = provenance(answers, "revoked")
    forged["status"] = "current"
    r = proof_verify(node, answers, forged, tmp_path)
    assert r.exit_code == 1, r.output
    assert f'the response says {doc} is "current", but event 6 (co.revoked at leaf' in r.output
    assert "revokes it" in r.output


def test_status_revoked_without_a_revocation_fails(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    doc = answers["ids"]["current"]
    forged = provenance(answers, "current")
    forged["status"] = "revoked"
    r = proof_verify(node, answers, forged, tmp_path)
    assert r.exit_code == 1, r.output
    assert f'{doc} is "revoked", but its events define it and neither revoke nor amend it' in (
        r.output
    )


def test_superseded_status_must_match_the_amendment(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    old, new = answers["ids"]["old"], answers["ids"]["new"]
    current = provenance(answers, "old")
    current["status"], current["superseded_by"] = "current", None
    r = proof_verify(node, answers, current, tmp_path)
    assert r.exit_code == 1 and "(co.amended at leaf" in r.output and "amends it" in r.output
    elsewhere = provenance(answers, "old")
    elsewhere["superseded_by"] = answers["ids"]["current"]
    r = proof_verify(node, answers, elsewhere, tmp_path)
    assert r.exit_code == 1, r.output
    assert "but event 2 (co.amended at leaf" in r.output and f"amends it as {new!r}" in r.output
    superseded = provenance(answers, "current")
    superseded["status"] = "superseded"
    r = proof_verify(node, answers, superseded, tmp_path)
    assert r.exit_code == 1, r.output
    assert old not in r.output  # nothing amends the current certificate


# --- events of another document, out of order, twice ----------------------------------------


def test_another_certificates_events_under_this_id_fail(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    revoked, current = answers["ids"]["revoked"], answers["ids"]["current"]
    # the whole provenance of one certificate relabelled as the other's
    relabelled = provenance(answers, "current")
    relabelled["document_id"] = revoked
    r = proof_verify(node, answers, relabelled, tmp_path)
    assert r.exit_code == 1, r.output
    assert "event 1 (co.issued at leaf" in r.output
    assert f"is not an event of {revoked}: its signed subject is {current!r}" in r.output
    # one certificate's revocation slipped into the other's events
    spliced = provenance(answers, "current")
    spliced["events"].append(provenance(answers, "revoked")["events"][-1])
    spliced["status"] = "revoked"
    r = proof_verify(node, answers, spliced, tmp_path)
    assert r.exit_code == 1, r.output
    assert "event 2 (co.revoked at leaf" in r.output
    assert f"is not an event of {current}" in r.output


def test_a_declaration_of_another_certificate_fails(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    """Bound by a ref, not a subject: the ref must be to an event of this document."""
    spliced = provenance(answers, "current")
    spliced["events"].append(provenance(answers, "revoked")["events"][1])
    r = proof_verify(node, answers, spliced, tmp_path)
    assert r.exit_code == 1, r.output
    assert "event 2 (customs.import_declaration at leaf" in r.output
    assert "none of its signed refs is an earlier event of" in r.output


def test_events_reversed_fail(node: LiveNode, answers: dict[str, Any], tmp_path: Path) -> None:
    forged = provenance(answers, "revoked")
    forged["events"].reverse()
    r = proof_verify(node, answers, forged, tmp_path)
    assert r.exit_code == 1, r.output
    assert "the events are not in log order" in r.output


def test_an_event_twice_fails(node: LiveNode, answers: dict[str, Any], tmp_path: Path) -> None:
    forged = provenance(answers, "revoked")
    forged["events"].insert(2, copy.deepcopy(forged["events"][1]))
    r = proof_verify(node, answers, forged, tmp_path)
    assert r.exit_code == 1, r.output
    assert "event 3 (customs.import_declaration at leaf" in r.output
    assert "is event 2 (customs.import_declaration" in r.output and "listed once" in r.output


# --- POST /v1/verify answers ------------------------------------------------------------------


def test_verify_answer_proves_its_status(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    doc = answers["ids"]["revoked"]
    height = answers["checkpoint"]["height"]
    genuine = copy.deepcopy(answers["verify"]["revoked"])
    assert genuine["status"] == "revoked"
    r = proof_verify(node, answers, genuine, tmp_path)
    assert r.exit_code == 0, r.output
    assert f"proven: {doc} is a certificate_of_origin by jp-jcci" in r.output
    assert (
        f"proven: status revoked as of checkpoint {height} (the status map's record of {doc}); "
        "it has 6 event(s), which its provenance lists" in r.output.splitlines()
    )
    # the node says "current": the status map's record contradicts it
    r = proof_verify(node, answers, {**genuine, "status": "current"}, tmp_path)
    assert r.exit_code == 1, r.output
    assert f'the answer says {doc} is "current"; the status map at checkpoint {height} ' in r.output


def test_verify_answer_with_a_forged_id_fails(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    revoked, current = answers["ids"]["revoked"], answers["ids"]["current"]
    forged = {**copy.deepcopy(answers["verify"]["revoked"]), "document_id": current}
    r = proof_verify(node, answers, forged, tmp_path)
    assert r.exit_code == 1, r.output
    assert f"defines {current!r}, but the entry's signed subject is {revoked!r}" in r.output


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("issuer", "jp-tanaka-machinery", "was issued by 'jp-tanaka-machinery'"),
        ("kind", "customs_declaration", "its entry is a co.issued, not a customs."),
        ("kind", None, "is of kind null, but its entry is a co.issued"),
        ("issued_at", "2020-01-01T00:00:00Z", "was issued at '2020-01-01T00:00:00Z'"),
    ],
)
def test_verify_answer_with_forged_facts_fails(
    node: LiveNode,
    answers: dict[str, Any],
    tmp_path: Path,
    field: str,
    value: Any,
    message: str,
) -> None:
    forged = {**copy.deepcopy(answers["verify"]["current"]), field: value}
    r = proof_verify(node, answers, forged, tmp_path)
    assert r.exit_code == 1, r.output
    assert message in r.output
