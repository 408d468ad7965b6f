"""`tradeledger doc …` commands.

``doc validate FILE`` (docs/cli.md): exit 0 when the document is valid, 1 when it is not (each
error with its location, code and reason on stderr, or all of it on stdout with ``--json``),
2 when the file cannot be read. The file is XML or JSON, told by its suffix (``.xml``,
``.json``) or else by its first character.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from ledger.errors import DocumentInvalid

app = typer.Typer(no_args_is_help=True, help="Validate trade documents.")


def _media(path: Path, data: bytes) -> str:
    from documents.parsing import JSON, XML, sniff

    suffix = path.suffix.lower()
    if suffix == ".xml":
        return XML
    if suffix == ".json":
        return JSON
    return sniff(data)


def _report(path: Path, **fields: Any) -> dict[str, Any]:
    return {"file": str(path), **fields}


@app.command("validate")
def validate(
    file: Path = typer.Argument(..., help="The document, XML or JSON."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON report on stdout."),
) -> None:
    """Validate a document against its schema and the business rules."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        message = f"cannot read {file}: {exc.strerror or exc}"
        if as_json:
            typer.echo(json.dumps(_report(file, valid=False, readable=False, error=message)))
        else:
            typer.echo(f"error[unreadable]: {message}", err=True)
        raise typer.Exit(2) from None
    import documents  # pydantic models and the HS tables load only for this command

    media = _media(file, data)
    try:
        doc = documents.parse_document(data, media)
        documents.validate(doc)
    except DocumentInvalid as exc:
        if as_json:
            report = _report(file, valid=False, readable=True, format=media, errors=exc.errors)
            typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            count = len(exc.errors)
            typer.echo(f"{file}: invalid ({count} error{'s' if count != 1 else ''})", err=True)
            for error in exc.errors:
                typer.echo(f"  {error['location']}: {error['message']} [{error['code']}]", err=True)
        raise typer.Exit(1) from None
    digest = documents.document_digest(doc)
    if as_json:
        report = _report(
            file,
            valid=True,
            readable=True,
            format=media,
            document_type=doc.document_type,
            document_id=doc.document_id,
            digest=digest,
            errors=[],
        )
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    typer.echo(f"{file}: valid {doc.document_type} {doc.document_id or ''}".rstrip())
    typer.echo(f"digest {digest}")
