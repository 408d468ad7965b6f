"""Verification: a node (or anyone between it and the verifier) edits a genuine answer so that
`tradeledger proof verify` vouches for something the ledger does not say. Each test takes real
responses from the attacked node, tampers with them as an attacker would (every envelope and
proof left genuine) and runs the CLI on them.

The verifier cannot yet prove that a provenance lists every event of its document (that needs
a status map, a later issue); what it must do is bind every event to the document, refuse an
order or a repetition no node gives, refuse a status the listed events contradict, and say
plainly that the status is the node's word.
"""

from __future__ import annotations

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
    r = proof_verify(node, answers, provenance(answers, "revoked"), tmp_path)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert (
        f"proven: every event is bound to {doc} (its signed subject, or a signed ref to an "
        "earlier event of it), in log order, none twice" in lines
    )
    assert 'proven: the status "revoked" is consistent with these events' in lines
    assert (
        f'not proven: that these are all the events of {doc}; the status "revoked" is the '
        "node's word" in lines
    )


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
    assert report["not_proven"] == [
        f'that these are all the events of {doc}; the status "current" is the node\'s word'
    ]
    r = proof_verify(node, answers, {**provenance(answers, "current"), "events": []}, tmp_path)
    assert r.exit_code == 1
    r = proof_verify(
        node, answers, {**provenance(answers, "current"), "events": []}, tmp_path, "--json"
    )
    assert r.exit_code == 1
    verdict = json.loads(r.stdout)
    assert verdict["verified"] is False and verdict["error"]["code"] == "proof-invalid"


# --- a withheld or contradicted revocation ---------------------------------------------------


def test_revocation_removed_and_status_current_is_not_proven(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    doc = answers["ids"]["revoked"]
    forged = provenance(answers, "revoked")
    forged["events"] = [e for e in forged["events"] if e["event"] != "co.revoked"]
    forged["status"] = "current"
    r = proof_verify(node, answers, forged, tmp_path)
    # every remaining event is genuine and the log proves no more: the verifier says so
    assert r.exit_code == 0, r.output
    assert (
        f'not proven: that these are all the events of {doc}; the status "current" is the '
        "node's word" in r.output.splitlines()
    )


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


def test_verify_answer_says_its_status_is_the_nodes_word(
    node: LiveNode, answers: dict[str, Any], tmp_path: Path
) -> None:
    doc = answers["ids"]["revoked"]
    genuine = copy.deepcopy(answers["verify"]["revoked"])
    assert genuine["status"] == "revoked"
    forged = {**genuine, "status": "current"}
    r = proof_verify(node, answers, forged, tmp_path)
    # the defining entry alone cannot show the revocation; the output says it proved no status
    assert r.exit_code == 0, r.output
    assert f"proven: {doc} is a certificate_of_origin by jp-jcci" in r.output
    assert (
        f"not proven: that {doc} has no event but its defining entry (a revocation or "
        'amendment may be left out); the status "current" is the node\'s word'
        in r.output.splitlines()
    )


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
