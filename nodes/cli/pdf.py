"""``tradeledger doc pdf``: print a certificate-of-origin file as a PDF, offline."""

from __future__ import annotations

from pathlib import Path

import typer

from ledger.errors import InvalidInput

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def register(doc_app: typer.Typer) -> None:
    """Add ``pdf`` to the ``doc`` command group (kept in its own module)."""
    doc_app.command("pdf")(pdf)


def pdf(
    file: Path = typer.Argument(..., help="The certificate file (XML or JSON)."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Where to write the PDF (default: FILE with .pdf)."
    ),
    base_url: str = typer.Option(
        DEFAULT_BASE_URL,
        "--base-url",
        help="The node whose /verify page the QR code opens.",
    ),
) -> None:
    """Render a certificate of origin as a PDF laid out like Form RCEP, with a QR code that
    opens its /verify page (carrying the file's digest, so the page shows the goods)."""
    from nodes.public import print_file  # reportlab and the store load only for this command

    try:
        body = file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror or exc}") from exc
    if not base_url.startswith(("http://", "https://")):
        raise InvalidInput("--base-url is an http:// or https:// address", location="--base-url")
    document_id, link, pdf_bytes = print_file(body, base_url)
    target = out or file.with_suffix(".pdf")
    try:
        target.write_bytes(pdf_bytes)
    except OSError as exc:
        raise InvalidInput(f"cannot write {target}: {exc.strerror or exc}") from exc
    typer.echo(f"{target}: certificate {document_id}, QR code opens {link}")
