"""docs/threat-model.md names the test that pins each rule: every name must be a real test, and
every attack in tests/security must be named there, so that the page and the suite agree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "threat-model.md"
# `security/test_x.py::test_y` or, after one of those in the same cell, `…::test_z`
REFERENCE = re.compile(r"`(?:([a-z_/]+\.py)|…)::(test_[a-z0-9_]+)`")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def _references() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    current: str | None = None  # a "…" continues the last file named, across wrapped lines
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        for match in REFERENCE.finditer(line):
            current = match.group(1) or current
            assert current is not None, f"'…::{match.group(2)}' follows no file in: {line}"
            found.append((current, match.group(2)))
    return found


def test_every_test_the_threat_model_names_exists() -> None:
    references = _references()
    assert len(references) > 40
    missing = [
        f"{file}::{name}"
        for file, name in references
        if name not in _tests_in(ROOT / "tests" / file)
    ]
    assert not missing, f"docs/threat-model.md names tests that do not exist: {missing}"


def test_every_attack_in_tests_security_is_in_the_threat_model() -> None:
    named = {(file, name) for file, name in _references()}
    unnamed = [
        f"security/{path.name}::{name}"
        for path in sorted((ROOT / "tests" / "security").glob("test_*.py"))
        if path.name != Path(__file__).name
        for name in sorted(_tests_in(path))
        if (f"security/{path.name}", name) not in named
    ]
    assert not unnamed, f"attacks missing from docs/threat-model.md: {unnamed}"
