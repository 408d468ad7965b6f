"""`tradeledger doc validate FILE`: exit 0 valid, 1 invalid (each error located), 2 unreadable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nodes.cli.main import app
from tests.documents.helpers import EXAMPLES, RCEP_CO, example_bytes

runner = CliRunner()


@pytest.mark.parametrize("path", sorted(EXAMPLES.iterdir()), ids=lambda p: p.name)
def test_every_example_is_valid(path: Path) -> None:
    result = runner.invoke(app, ["doc", "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout and "digest " in result.stdout


def test_json_report_of_a_valid_document() -> None:
    result = runner.invoke(app, ["doc", "validate", str(EXAMPLES / f"{RCEP_CO}.xml"), "--json"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["valid"] is True and report["errors"] == []
    assert report["document_id"] == "jp-jcci/JCCI-2026-0004512"
    assert report["document_type"] == "certificate_of_origin"
    assert len(report["digest"]) == 64


def test_invalid_document_lists_each_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad-co.json"
    data = example_bytes(RCEP_CO).replace(b"845811", b"845898").replace(b'"120"', b'"-120"')
    bad.write_bytes(data)
    result = runner.invoke(app, ["doc", "validate", str(bad)])
    assert result.exit_code == 1
    assert "invalid (2 errors)" in result.stderr
    assert "/items/0/hs_code: 845898 is not a subheading of HS2012. [unknown-hs-code]" in (
        result.stderr
    )
    assert "/items/4/quantity" in result.stderr
    report = json.loads(runner.invoke(app, ["doc", "validate", str(bad), "--json"]).stdout)
    assert report["valid"] is False
    assert [e["code"] for e in report["errors"]] == ["unknown-hs-code", "quantity-not-positive"]


def test_format_is_sniffed_without_a_suffix(tmp_path: Path) -> None:
    doc = tmp_path / "certificate"
    doc.write_bytes(example_bytes(RCEP_CO, ".xml"))
    assert runner.invoke(app, ["doc", "validate", str(doc)]).exit_code == 0


def test_malformed_file_is_invalid_not_unreadable(tmp_path: Path) -> None:
    doc = tmp_path / "broken.xml"
    doc.write_bytes(b"<CertificateOfOrigin")
    result = runner.invoke(app, ["doc", "validate", str(doc)])
    assert result.exit_code == 1
    assert "line 1" in result.stderr


@pytest.mark.parametrize("target", ["missing.json", "."])
def test_unreadable_file_exits_2(tmp_path: Path, target: str) -> None:
    result = runner.invoke(app, ["doc", "validate", str(tmp_path / target)])
    assert result.exit_code == 2
    assert "cannot read" in result.stderr
    report = runner.invoke(app, ["doc", "validate", str(tmp_path / target), "--json"])
    assert report.exit_code == 2 and json.loads(report.stdout)["readable"] is False
