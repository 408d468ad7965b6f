"""A certificate of origin on paper: a PDF laid out like Form RCEP (boxes 1–17) with a QR code
that opens the certificate's ``/verify`` page.

Exporters still print and e-mail certificates; whoever holds the paper scans the code and sees
the certificate's status on the ledger, its timeline and (because the code carries the
document's digest, which only a holder of the document can know) its goods.

The renderer takes the certificate as a plain dict (the JSON form of the document) and
tolerates missing optional fields, so it prints whatever the issuer filled in. It is pure: a
dict in, PDF bytes out.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import segno
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.doctemplate import LayoutError

from documents.profiles import RCEP_BOXES
from ledger.errors import InvalidInput

#: "N. title" of the box that holds each certificate field, as the profile (and Form RCEP)
#: numbers and titles them: what is printed under a title follows the profile by construction
_TITLE_OF = {f: f"{box.number}. {box.title}" for box in RCEP_BOXES for f in box.fields}
#: boxes 6 to 10, the item table's first columns, by the field each prints
_ITEM_COLUMNS = ("item_number", "marks", "packages", "hs_code", "origin_criterion")
_OFFICIAL_USE = next(f"{b.number}. {b.title}" for b in RCEP_BOXES if not b.fields)

AGREEMENT_TITLES = {
    "RCEP": "REGIONAL COMPREHENSIVE ECONOMIC PARTNERSHIP AGREEMENT",
    "AJCEP": "AGREEMENT ON COMPREHENSIVE ECONOMIC PARTNERSHIP AMONG JAPAN AND MEMBER STATES "
    "OF THE ASSOCIATION OF SOUTHEAST ASIAN NATIONS",
}
_DECLARATION = (
    "The undersigned hereby declares that the above details and statements are correct and "
    "that the goods covered in this Certificate comply with the requirements specified for "
    "these goods in the {agreement}."
)
_CERTIFICATION = (
    "On the basis of control carried out, it is hereby certified that the information herein "
    "is correct and that the goods described comply with the origin requirements specified in "
    "the {agreement}."
)


def verify_url(base_url: str, document_id: str, digest: str | None) -> str:
    """The ``/verify`` address a printed certificate's QR code opens.

    ``id`` is ``<issuer>/<number>`` (the slash kept readable); ``d`` is the document's digest,
    the proof of possession that lets the page show the goods.
    """
    query = "id=" + quote(document_id, safe="/")
    if digest:
        query += "&" + urlencode({"d": digest})
    return f"{base_url.rstrip('/')}/verify?{query}"


# -- the certificate as printable text ---------------------------------------------------------


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).strip()


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def items_of(certificate: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The certificate's goods as a list of dicts (a single item or an XML-style wrapper such
    as ``{"item": [...]}`` is accepted too)."""
    items = certificate.get("items")
    if isinstance(items, Mapping):
        inner = list(items.values())
        items = inner[0] if len(inner) == 1 else [items]
    if isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, list):
        return []
    return [i for i in items if isinstance(i, Mapping)]


def party_lines(party: Any) -> list[str]:
    """Name, address and country of a party block, each on its own line (blank ones left out)."""
    p = _mapping(party)
    return [
        t for t in (_text(p.get("name")), _text(p.get("address")), _text(p.get("country"))) if t
    ]


def quantity_text(item: Mapping[str, Any]) -> str:
    """Box 12: quantity and unit, and the FOB value where it is given (RVC)."""
    quantity = " ".join(t for t in (_text(item.get("quantity")), _text(item.get("unit"))) if t)
    fob = _text(item.get("fob_value"))
    if fob:
        currency = _text(item.get("currency"))
        quantity += ("; " if quantity else "") + "FOB " + (f"{currency} {fob}" if currency else fob)
    return quantity


def signature_text(signature: Any) -> str:
    """Box 15 or 16: place and date, and the signatory."""
    s = _mapping(signature)
    place_date = ", ".join(t for t in (_text(s.get("place")), _text(s.get("date"))) if t)
    signatory = _text(s.get("signatory"))
    return " — ".join(t for t in (place_date, signatory) if t)


# -- PDF ---------------------------------------------------------------------------------------

_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)


@dataclass(frozen=True)
class _Fonts:
    regular: str
    bold: str


def _fonts() -> _Fonts:
    """A Unicode TrueType font (DejaVu Sans where the system has it, else the Bitstream Vera
    reportlab ships) so that names and addresses beyond Latin-1 print; registered once."""
    registered = pdfmetrics.getRegisteredFontNames()
    if "TL-Regular" in registered:
        return _Fonts("TL-Regular", "TL-Bold")
    import reportlab

    bundled = Path(reportlab.__file__).parent / "fonts"
    regular = next((p for p in _FONT_CANDIDATES if p.is_file()), bundled / "Vera.ttf")
    bold = regular.with_name("DejaVuSans-Bold.ttf")
    if not bold.is_file():
        bold = bundled / "VeraBd.ttf"
    pdfmetrics.registerFont(TTFont("TL-Regular", str(regular)))
    pdfmetrics.registerFont(TTFont("TL-Bold", str(bold)))
    return _Fonts("TL-Regular", "TL-Bold")


class QRCode(Flowable):
    """A QR code drawn as vector squares (sharp at any print resolution)."""

    def __init__(self, payload: str, size: float) -> None:
        super().__init__()
        self.payload = payload
        self.qr = segno.make(payload, error="m", micro=False)
        self.size = size
        self.width = self.height = size

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        rows = list(self.qr.matrix_iter(scale=1, border=2))
        module = self.size / len(rows)
        canvas = self.canv
        canvas.setFillColor(colors.white)
        canvas.rect(0, 0, self.size, self.size, stroke=0, fill=1)
        canvas.setFillColor(colors.black)
        for y, row in enumerate(rows):
            x = 0
            while x < len(row):
                if row[x]:
                    start = x
                    while x < len(row) and row[x]:
                        x += 1
                    # one rectangle per run of dark modules, a hair wider to avoid seams
                    canvas.rect(
                        start * module,
                        self.size - (y + 1) * module,
                        (x - start) * module + 0.05,
                        module + 0.05,
                        stroke=0,
                        fill=1,
                    )
                else:
                    x += 1


def render_certificate_pdf(
    certificate: Mapping[str, Any],
    *,
    verify_link: str | None = None,
    status: str | None = None,
    issuer_name: str | None = None,
) -> bytes:
    """The certificate as an A4 PDF laid out like Form RCEP.

    ``verify_link`` (see :func:`verify_url`) becomes the QR code and is printed under it;
    ``status`` (e.g. ``revoked``), when not current, is printed across the top so that a paper
    copy of a revoked certificate says so; ``issuer_name`` is the issuing body's legal name.
    """
    fonts = _fonts()
    styles = _styles(fonts)
    agreement_code = _text(certificate.get("agreement")) or "RCEP"
    agreement = AGREEMENT_TITLES.get(agreement_code.upper(), agreement_code)
    number = _text(certificate.get("number"))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=14 * mm,
        title=f"Certificate of origin {number}".strip(),
        author=issuer_name or _text(certificate.get("issuer")),
        subject=agreement,
        creator="tradeledger",
    )
    width = doc.width
    story: list[Flowable] = []
    if status and status not in ("current", "valid"):
        story.append(Paragraph(f"LEDGER STATUS: {status.upper()}", styles["alert"]))
        story.append(Spacer(1, 2 * mm))
    story.append(_top(certificate, agreement, number, verify_link, issuer_name, styles, width))
    story.append(_goods(certificate, styles, width))
    story.append(_bottom(certificate, agreement, styles, width))

    def footer(canvas: Any, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(fonts.regular, 6.5)
        canvas.drawString(
            12 * mm,
            7 * mm,
            f"Certificate No. {number} — page {canvas.getPageNumber()} — "
            "check its status on the ledger with the QR code",
        )
        canvas.restoreState()

    try:
        doc.build(story, onFirstPage=footer, onLaterPages=footer)
    except LayoutError as exc:  # a single box taller than a page: the text is unusable
        raise InvalidInput(f"the certificate cannot be laid out on A4: {exc}") from exc
    return buffer.getvalue()


def _styles(fonts: _Fonts) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=fonts.regular, fontSize=8, leading=9.6)
    return {
        "base": base,
        "label": ParagraphStyle("label", parent=base, fontSize=6.5, leading=7.8),
        "bold": ParagraphStyle("bold", parent=base, fontName=fonts.bold),
        "title": ParagraphStyle(
            "title", parent=base, fontName=fonts.bold, fontSize=9, leading=11, alignment=TA_CENTER
        ),
        "center": ParagraphStyle("center", parent=base, alignment=TA_CENTER),
        "small": ParagraphStyle("small", parent=base, fontSize=6, leading=7.2),
        "alert": ParagraphStyle(
            "alert",
            parent=base,
            fontName=fonts.bold,
            fontSize=12,
            leading=14,
            textColor=colors.HexColor("#b00020"),
            alignment=TA_CENTER,
        ),
    }


def _esc(value: str) -> str:
    """Text for a reportlab Paragraph (which reads a little XML markup)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _box(label: str, lines: Sequence[str], styles: Mapping[str, ParagraphStyle]) -> list[Any]:
    cell: list[Any] = [Paragraph(_esc(label), styles["label"])]
    cell.extend(Paragraph(_esc(line), styles["base"]) for line in lines if line)
    return cell


def _checkbox(ticked: bool, label: str) -> str:
    return ("☒ " if ticked else "☐ ") + label


_GRID = [
    ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LEFTPADDING", (0, 0), (-1, -1), 3),
    ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ("TOPPADDING", (0, 0), (-1, -1), 2),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
]


def _top(
    co: Mapping[str, Any],
    agreement: str,
    number: str,
    link: str | None,
    issuer_name: str | None,
    styles: Mapping[str, ParagraphStyle],
    width: float,
) -> Table:
    transport = _mapping(co.get("transport"))
    exporting = _text(co.get("exporting_country")) or _text(
        _mapping(co.get("exporter")).get("country")
    )
    issued_by = issuer_name or _text(co.get("issuer"))
    title: list[Any] = [
        Paragraph(f"Certificate No. <b>{_esc(number)}</b>", styles["base"]),
        Spacer(1, 2 * mm),
        Paragraph(f"Form {_esc(_text(co.get('agreement')) or 'RCEP')}", styles["center"]),
        Paragraph(_esc(agreement), styles["title"]),
        Paragraph("CERTIFICATE OF ORIGIN", styles["title"]),
        Paragraph(f"Issued in {_esc(exporting or '……')} (country)", styles["center"]),
    ]
    if issued_by:
        title.append(Paragraph(f"by {_esc(issued_by)}", styles["center"]))
    qr: list[Any] = []
    if link:
        qr = [QRCode(link, 30 * mm), Paragraph(_esc(link), styles["small"])]
    box4 = [
        f"Departure date: {_text(transport.get('departure_date'))}",
        f"Vessel's name / aircraft flight number, etc.: {_text(transport.get('vessel'))}",
        f"Port of loading: {_text(transport.get('port_of_loading'))}",
        f"Port of discharge: {_text(transport.get('port_of_discharge'))}",
    ]
    box5 = [
        "Preferential treatment: ☐ Given ☐ Not given (please state reasons)",
        "",
        "Signature of authorised signatory of the customs authority of the importing country",
    ]
    left, right = width * 0.5, width * 0.5
    rows = [
        [
            _box(
                _TITLE_OF["/exporter"],
                party_lines(co.get("exporter")),
                styles,
            ),
            title,
            qr,
        ],
        [
            _box(
                _TITLE_OF["/importer"],
                party_lines(co.get("importer")),
                styles,
            ),
            "",
            "",
        ],
        [
            _box(
                _TITLE_OF["/producer"],
                party_lines(co.get("producer"))
                or ["UNKNOWN" if co.get("producer") is None else ""],
                styles,
            ),
            _box(_OFFICIAL_USE, box5, styles),
            "",
        ],
        [_box(_TITLE_OF["/transport"], box4, styles), "", ""],
    ]
    style = TableStyle(
        [
            *_GRID,
            ("SPAN", (1, 0), (1, 1)),
            ("SPAN", (2, 0), (2, 1)),
            ("SPAN", (1, 2), (2, 3)),
            ("LINEAFTER", (1, 0), (1, 1), 0, colors.white),
            ("LINEBEFORE", (2, 0), (2, 1), 0, colors.white),
        ]
    )
    qr_width = 33 * mm
    return Table(rows, colWidths=[left, right - qr_width, qr_width], style=style)


def _goods(co: Mapping[str, Any], styles: Mapping[str, ParagraphStyle], width: float) -> Table:
    headers = [
        *(_TITLE_OF[f"/items/*/{f}"] for f in _ITEM_COLUMNS),
        # the form names its agreement here; a certificate under another prints that one's
        _TITLE_OF["/items/*/country_of_origin"].replace(
            "RCEP", _text(co.get("agreement")) or "RCEP", 1
        ),
        _TITLE_OF["/items/*/quantity"],
    ]
    rows: list[list[Any]] = [[Paragraph(_esc(h), styles["label"]) for h in headers]]
    for item in items_of(co):
        description = "; ".join(
            t for t in (_text(item.get("packages")), _text(item.get("description"))) if t
        )
        hs = _text(item.get("hs_code"))
        edition = _text(item.get("hs_edition"))
        cells = [
            _text(item.get("item_number")),
            _text(item.get("marks")),
            description,
            f"{hs} ({edition})" if hs and edition else hs,
            _text(item.get("origin_criterion")),
            _text(item.get("country_of_origin")),
            quantity_text(item),
        ]
        rows.append([Paragraph(_esc(c), styles["base"]) for c in cells])
    rows.append([Paragraph("***", styles["center"]), "", "", "", "", "", ""])
    fractions = (0.07, 0.13, 0.31, 0.12, 0.1, 0.1, 0.17)
    style = TableStyle([*_GRID, ("SPAN", (0, len(rows) - 1), (-1, len(rows) - 1))])
    return Table(rows, colWidths=[width * f for f in fractions], style=style, repeatRows=1)


def _bottom(
    co: Mapping[str, Any], agreement: str, styles: Mapping[str, ParagraphStyle], width: float
) -> Table:
    invoice = _mapping(co.get("invoice"))
    invoice_line = ", ".join(
        t for t in (_text(invoice.get("number")), _text(invoice.get("date"))) if t
    )
    operator = party_lines(co.get("invoicing_operator"))
    remarks = [_text(co.get("remarks"))]
    if co.get("supersedes"):
        remarks.append(f"Replaces certificate {_text(co.get('supersedes'))}")
    original = _mapping(co.get("original_certificate"))
    if original:
        remarks.append(
            "Original certificate: "
            + ", ".join(
                t
                for t in (
                    _text(original.get("number")),
                    _text(original.get("issue_date")),
                    _text(original.get("first_exporting_country")),
                )
                if t
            )
        )
    if operator:
        remarks.append("Invoicing operator: " + ", ".join(operator))
    importing = _text(co.get("importing_country")) or _text(
        _mapping(co.get("importer")).get("country")
    )
    declaration = [
        _DECLARATION.format(agreement=agreement.title()),
        f"These goods are exported to: {importing}",
        signature_text(co.get("exporter_declaration")),
        "Place and date, and signature of authorised signatory",
    ]
    certification = [
        _CERTIFICATION.format(agreement=agreement.title()),
        signature_text(co.get("certification")) or f"Issue date: {_text(co.get('issue_date'))}",
        "Place and date, signature and seal or stamp of issuing body",
    ]
    flags = (
        _TITLE_OF["/back_to_back"].split(" ", 1)[0]
        + "    "
        + "    ".join(
            (
                _checkbox(bool(co.get("back_to_back")), "Back-to-back certificate of origin"),
                _checkbox(bool(co.get("third_party_invoicing")), "Third-party invoicing"),
                _checkbox(bool(co.get("issued_retroactively")), "Issued retroactively"),
            )
        )
    )
    rows = [
        [
            _box(_TITLE_OF["/invoice"], [invoice_line], styles),
            _box(_TITLE_OF["/remarks"], remarks, styles),
        ],
        [
            _box(_TITLE_OF["/exporter_declaration"], declaration, styles),
            _box(_TITLE_OF["/certification"], certification, styles),
        ],
        [Paragraph(_esc(flags), styles["base"]), ""],
    ]
    style = TableStyle([*_GRID, ("SPAN", (0, 2), (1, 2))])
    return Table(rows, colWidths=[width / 2, width / 2], style=style)


__all__ = [
    "AGREEMENT_TITLES",
    "QRCode",
    "items_of",
    "party_lines",
    "quantity_text",
    "render_certificate_pdf",
    "signature_text",
    "verify_url",
]
