"""The checks the brief asks of every change: ruff everywhere, ``mypy --strict`` on ledger/,
and the functional core importing nothing from the shell."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [
            str(BIN / "ruff"),
            "check",
            "ledger",
            "documents",
            "api",
            "nodes",
            "tests",
            "benchmarks",
            "scripts",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = subprocess.run(
        [str(BIN / "ruff"), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_the_core() -> None:
    result = subprocess.run([str(BIN / "mypy")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_ledger_is_pure() -> None:
    forbidden = {
        "api",
        "nodes",
        "documents",
        "fastapi",
        "starlette",
        "sqlalchemy",
        "sqlmodel",
        "httpx",
        "uvicorn",
        "typer",
        "requests",
        "socket",
        "sqlite3",
        "psycopg",
    }
    for path in sorted((ROOT / "ledger").rglob("*.py")):
        bad = _imports(path) & forbidden
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_documents_know_no_storage_or_http() -> None:
    forbidden = {
        "api",
        "nodes",
        "fastapi",
        "starlette",
        "sqlalchemy",
        "sqlmodel",
        "httpx",
        "uvicorn",
        "sqlite3",
        "psycopg",
    }
    for path in sorted((ROOT / "documents").rglob("*.py")):
        bad = _imports(path) & forbidden
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
