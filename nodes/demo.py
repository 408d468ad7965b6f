"""``tradeledger demo``: a development consortium and a realistic trade history.

The consortium has the parties of a Japan→Viet Nam / Japan→Thailand trade lane: a Japanese
issuing authority, a Japanese exporter, Japanese, Vietnamese and Thai customs, a bank and an
auditor, each with its own Ed25519 key. The history is generated deterministically from a seed
and appended through :class:`nodes.writer.LedgerWriter`, the path a node uses.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from ledger.consortium import FoundingMember, create_genesis
from ledger.entries import Entry, build_entry
from ledger.keys import DecryptionKey, SigningKey
from ledger.timefmt import now
from nodes import documents_bridge as bridge
from nodes.home import NodeHome
from nodes.writer import LedgerWriter

CONSORTIUM_ID = "tradeledger-dev"
BLOCK_SIZE = 500


@dataclass(frozen=True)
class DemoOrg:
    id: str
    legal_name: str
    country: str
    roles: tuple[str, ...]


DEMO_ORGS: tuple[DemoOrg, ...] = (
    DemoOrg("jp-jcci", "The Japan Chamber of Commerce and Industry", "JP", ("issuing_authority",)),
    DemoOrg("jp-tanaka-machinery", "Tanaka Precision Machinery Co., Ltd.", "JP", ("exporter",)),
    DemoOrg("jp-customs", "Japan Customs, Tokyo Customs Headquarters", "JP", ("customs",)),
    DemoOrg("vn-customs", "General Department of Viet Nam Customs", "VN", ("customs",)),
    DemoOrg("th-customs", "The Customs Department of Thailand", "TH", ("customs",)),
    DemoOrg("jp-sakura-bank", "Sakura Trade Bank, Ltd.", "JP", ("bank",)),
    DemoOrg("jp-kanto-audit", "Kanto Trade Assurance LLC", "JP", ("auditor",)),
)
NODE_ORG = "jp-jcci"

# (HS2012 subheading, description, origin criterion as printed on RCEP and AJCEP certificates)
_GOODS = (
    ("845811", "Horizontal lathes, numerically controlled", "RVC"),
    ("847989", "Industrial robots for welding", "CTC"),
    ("851762", "Network routers", "CTC"),
    ("870830", "Brake assemblies for motor vehicles", "RVC"),
    ("940320", "Steel office furniture", "CTC"),
    ("853931", "Fluorescent hot-cathode lamps", "CTC"),
)
_IMPORTERS = {
    "VN": ("Saigon Industrial Equipment JSC", "Lot B2, Tan Thuan EPZ, Ho Chi Minh City", "VNSGN"),
    "TH": ("Siam Precision Parts Co., Ltd.", "88 Bangna-Trad Rd, Bangkok 10260", "THLCH"),
}
_CUSTOMS_OFFICES = {
    "jp-customs": "Tokyo Customs, Ohi Branch",
    "vn-customs": "Ho Chi Minh City Customs, Cat Lai Port Branch",
    "th-customs": "Laem Chabang Customs House",
}


def ensure_consortium(home: NodeHome, *, encryption: bool = False) -> None:
    """Create the development consortium in ``home`` unless it is already there. With
    ``encryption`` every organisation also gets an X25519 encryption key (its decryption key
    in the home): the node then seals document payloads (issue 16, ``nodes.sealing``)."""
    if home.exists():
        return
    keys = {org.id: SigningKey.generate() for org in DEMO_ORGS}
    sealing = {org.id: DecryptionKey.generate() for org in DEMO_ORGS} if encryption else {}
    members = [
        FoundingMember(
            o.id,
            o.legal_name,
            o.country,
            o.roles,
            keys[o.id],
            ("http://127.0.0.1:8000",) if o.id == NODE_ORG else (),
            sealing[o.id].public_key if o.id in sealing else None,
        )
        for o in DEMO_ORGS
    ]
    consortium = create_genesis(
        CONSORTIUM_ID, "tradeledger development consortium (Japan–ASEAN)", members
    )
    home.write_consortium(consortium)
    for org_id, key in keys.items():
        home.save_key(org_id, key)
    for org_id, dkey in sealing.items():
        home.save_decryption_key(org_id, dkey)
    home.write_settings(NODE_ORG, sorted(keys), None)


def open_writer(home: NodeHome) -> LedgerWriter:
    """A writer whose headers commit to the status map: its blocks are indexed (as the node
    indexes them, with the documents' digests) before the next one is built."""
    from nodes import documents_bridge as bridge
    from nodes.index import DocumentIndex, status_root_hook

    bridge.load_reference_data()
    consortium = home.consortium()
    org_id = home.org_id
    store = home.open_store()
    writer: list[LedgerWriter] = []
    index = DocumentIndex(
        store.engine,
        lambda: writer[0].state.membership,
        document_digest=lambda e: bridge.document_digest(e.payload or b"", e.content_type),
    )
    index.create_schema()
    writer.append(
        LedgerWriter(
            store,
            consortium,
            org_id,
            home.signing_key(org_id),
            status_root=status_root_hook(index, store),
        )
    )
    return writer[0]


#: The worked example of ``examples/documents`` as a ledger story: (file, event, author); the
#: documents the README and the tests show are then on every new demo chain.
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples" / "documents"
EXAMPLE_STORY: tuple[tuple[str, str, str], ...] = (
    ("co-application.json", "co.application", "jp-tanaka-machinery"),
    ("rcep-jp-machinery-to-vn.co.json", "co.issued", "jp-jcci"),
    ("jp-export-declaration.json", "customs.export_declaration", "jp-customs"),
    ("vn-import-declaration.json", "customs.import_declaration", "vn-customs"),
    ("verification-request.json", "customs.verification_requested", "vn-customs"),
    ("verification-result.json", "customs.verification_result", "vn-customs"),
    ("bank-presentation.json", "bank.presentation", "jp-sakura-bank"),
    ("ajcep-jp-switchboards-to-th.co.json", "co.issued", "jp-jcci"),
    ("co-revocation.json", "co.revoked", "jp-jcci"),
)


def example_story(keys: dict[str, SigningKey], consortium_id: str) -> list[Entry]:
    """The example documents as signed entries, with the subjects and references a node gives
    them (empty when the examples are not installed beside the package)."""
    if not all((EXAMPLES_DIR / name).is_file() for name, _, _ in EXAMPLE_STORY):
        return []
    story: list[Entry] = []
    defining: dict[str, str] = {}  # document id -> hash of the entry that defines it
    last_request: str | None = None
    for name, event, author in EXAMPLE_STORY:
        payload = (EXAMPLES_DIR / name).read_bytes()
        doc = json.loads(payload)
        co = doc.get("co") if event == "co.application" else doc
        if "co_reference" in doc:
            subject = doc["co_reference"] if "number" not in doc else f"{author}/{doc['number']}"
            refs = [defining[doc["co_reference"]]]
        else:
            subject, refs = f"{co['issuer']}/{co['number']}", []
        if event == "customs.verification_result" and last_request:
            refs = [last_request]
        entry = build_entry(
            event,
            author,
            keys[author],
            payload,
            "application/json",
            consortium_id=consortium_id,
            subject=subject,
            refs=refs,
        )
        if event in ("co.issued", "co.amended"):
            defining[subject] = entry.hash_hex
        if event == "customs.verification_requested":
            last_request = entry.hash_hex
        story.append(entry)
    return story


def run_demo(home: NodeHome, entries: int, *, seed: int = 2026) -> LedgerWriter:
    """Create the consortium if needed and append ``entries`` entries in blocks of 500: on a
    new chain the example documents' story first, then generated trade."""
    ensure_consortium(home)
    writer = open_writer(home)
    keys = home.signing_keys()
    consortium_id = writer.consortium.consortium_id
    story = example_story(keys, consortium_id) if writer.state.tree_size == 0 else []
    story = story[:entries]
    scenario = TradeScenario(
        random.Random(seed + writer.state.tree_size),
        keys,
        start=writer.state.tree_size,
        consortium_id=consortium_id,
    )
    batch: list[Entry] = []
    for entry in itertools.chain(story, scenario.entries(entries - len(story))):
        writer.offer(entry)
        batch.append(entry)
        if len(batch) >= BLOCK_SIZE:
            writer.cut_block(BLOCK_SIZE)
            batch.clear()
    while writer.pending_count():
        writer.cut_block(BLOCK_SIZE)
    return writer


class TradeScenario:
    """Deterministic stream of trade events: COs and everything that refers to them."""

    def __init__(
        self,
        rng: random.Random,
        keys: dict[str, SigningKey],
        *,
        start: int = 0,
        consortium_id: str = CONSORTIUM_ID,
    ) -> None:
        self.rng = rng
        self.keys = keys
        self.serial = start
        self.consortium_id = consortium_id
        # Half a day back, not more: blocks are cut now, and an entry may not be backdated more
        # than a day before the previous block (ledger.chain.MAX_BACKDATING, less the margin a
        # node keeps when it admits one).
        self.clock = now() - timedelta(hours=12)
        self.open_cos: list[tuple[str, str, str, dict[str, object]]] = []

    def _entry(
        self,
        etype: str,
        author: str,
        subject: str,
        doc: dict[str, object],
        refs: tuple[str, ...] = (),
    ) -> Entry:
        self.clock += timedelta(milliseconds=self.rng.randint(1, 50))
        payload = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        return build_entry(
            etype,
            author,
            self.keys[author],
            payload,
            "application/json",
            consortium_id=self.consortium_id,
            subject=subject,
            refs=refs,
            timestamp=min(self.clock, now()),
            nonce=f"{self.rng.getrandbits(128):032x}",
        )

    def entries(self, count: int) -> Iterator[Entry]:
        produced = 0
        while produced < count:
            for entry in self._next_story():
                yield entry
                produced += 1
                if produced >= count:
                    return

    def _next_story(self) -> Iterator[Entry]:
        roll = self.rng.random()
        if not self.open_cos or roll < 0.35:
            yield from self._issue()
            return
        co_id, co_hash, country, co = self.rng.choice(self.open_cos)
        if roll < 0.55:
            yield self._declaration("customs.export_declaration", "jp-customs", co_id, co_hash, co)
        elif roll < 0.72:
            author = "vn-customs" if country == "VN" else "th-customs"
            yield self._declaration("customs.import_declaration", author, co_id, co_hash, co)
        elif roll < 0.82:
            yield self._presentation(co_id, co_hash, co)
        elif roll < 0.90:
            yield from self._verification(co_id, co_hash, country)
        elif roll < 0.96:
            yield from self._amend(co_id, co_hash, co)
        else:
            yield self._revoke(co_id, co_hash)

    def _co_number(self) -> str:
        self.serial += 1
        return f"JCCI-{self.clock.year}-{self.serial:07d}"

    def _issue(self) -> Iterator[Entry]:
        country = self.rng.choice(("VN", "TH"))
        agreement = "RCEP" if country == "VN" or self.rng.random() < 0.5 else "AJCEP"
        importer = _IMPORTERS[country]
        items = []
        for n in range(1, self.rng.randint(1, 4) + 1):
            hs, desc, criterion = self.rng.choice(_GOODS)
            item: dict[str, object] = {
                "item_number": n,
                "packages": f"{self.rng.randint(1, 6)} wooden crates",
                "description": desc,
                "hs_code": hs,
                "hs_edition": "HS2012",
                "origin_criterion": criterion,
                "country_of_origin": "JP",
                "quantity": str(self.rng.randint(1, 40)),
                "unit": "PCE",
            }
            if criterion == "RVC":  # the FOB value is shown where the criterion is RVC
                item["fob_value"] = f"{self.rng.randint(2_000, 90_000)}.00"
                item["currency"] = "USD"
            items.append(item)
        number = self._co_number()
        issued: date = self.clock.date()
        shipped: date = issued - timedelta(days=1)
        co: dict[str, object] = {
            "document_type": "certificate_of_origin",
            "agreement": agreement,
            "number": number,
            "issuer": "jp-jcci",
            "exporter": {
                "name": "Tanaka Precision Machinery Co., Ltd.",
                "address": "2-1-1 Marunouchi, Chiyoda-ku, Tokyo",
                "country": "JP",
            },
            "importer": {"name": importer[0], "address": importer[1], "country": country},
            "transport": {
                "departure_date": shipped.isoformat(),
                "vessel": "ONE HARMONY 041S",
                "transport_mode": "sea",
                "port_of_loading": "JPTYO",
                "port_of_discharge": importer[2],
            },
            "invoice": {"number": f"INV-{self.serial:07d}", "date": shipped.isoformat()},
            "items": items,
            "issue_date": issued.isoformat(),
            "exporting_country": "JP",
            "importing_country": country,
            "exporter_declaration": {
                "place": "Tokyo",
                "date": shipped.isoformat(),
                "signatory": "Kenji Watanabe, Export Manager",
            },
            "certification": {
                "place": "Tokyo",
                "date": issued.isoformat(),
                "signatory": "Certification Division, JCCI",
            },
        }
        co_id = f"jp-jcci/{number}"
        if self.rng.random() < 0.3:
            application = {k: v for k, v in co.items() if k != "certification"}
            yield self._entry(
                "co.application",
                "jp-tanaka-machinery",
                co_id,
                {
                    "document_type": "co_application",
                    "applicant": "jp-tanaka-machinery",
                    "application_date": shipped.isoformat(),
                    "co": application,
                },
            )
        entry = self._entry("co.issued", "jp-jcci", co_id, co)
        self.open_cos.append((co_id, entry.hash_hex, country, co))
        if len(self.open_cos) > 200:
            self.open_cos.pop(0)
        yield entry

    def _declaration(
        self, etype: str, author: str, co_id: str, co_hash: str, co: dict[str, object]
    ) -> Entry:
        self.serial += 1
        kind = "export" if etype.endswith("export_declaration") else "import"
        number = f"{author[:2].upper()}-{kind[:2].upper()}-{self.serial:08d}"
        items = []
        for item in co["items"]:  # type: ignore[attr-defined]
            items.append(
                {
                    "item_number": item["item_number"],
                    # the national tariff line: the subheading and the country's own digits
                    "tariff_code": item["hs_code"] + ("000" if kind == "export" else "00"),
                    "hs_edition": item["hs_edition"],
                    "description": item["description"],
                    "quantity": item["quantity"],
                    "unit": item["unit"],
                    "customs_value": item.get("fob_value")
                    or f"{self.rng.randint(2_000, 90_000)}.00",
                    "currency": "USD",
                }
            )
        importing = str(co["importing_country"])
        doc = {
            "document_type": "customs_declaration",
            "declaration_type": kind,
            "number": number,
            "issuer": author,
            "declaration_date": self.clock.date().isoformat(),
            "exporter": co["exporter"],
            "importer": co["importer"],
            "exporting_country": "JP",
            "destination_country": importing,
            "customs_office": _CUSTOMS_OFFICES[author],
            "agreement": co["agreement"],
            "preference_claimed": kind == "import",
            "co_reference": co_id,
            "items": items,
        }
        return self._entry(etype, author, f"{author}/{number}", doc, (co_hash,))

    def _presentation(self, co_id: str, co_hash: str, co: dict[str, object]) -> Entry:
        lc = f"LC-SKR-{self.rng.randint(100000, 999999)}"
        return self._entry(
            "bank.presentation",
            "jp-sakura-bank",
            co_id,
            {
                "document_type": "bank_presentation",
                "co_reference": co_id,
                "letter_of_credit": lc,
                "presented_by": "jp-tanaka-machinery",
                "presentation_date": self.clock.date().isoformat(),
                # the bank holds the certificate the exporter gave it: its digest proves that
                "co_digest": bridge.document_digest(json.dumps(co).encode(), "application/json"),
            },
            (co_hash,),
        )

    def _verification(self, co_id: str, co_hash: str, country: str) -> Iterator[Entry]:
        author = "vn-customs" if country == "VN" else "th-customs"
        request = self._entry(
            "customs.verification_requested",
            author,
            co_id,
            {
                "document_type": "verification_request",
                "co_reference": co_id,
                "request_date": self.clock.date().isoformat(),
                "reason": "Random post-importation check of origin criterion",
            },
            (co_hash,),
        )
        yield request
        accepted = self.rng.random() < 0.9
        yield self._entry(
            "customs.verification_result",
            author,
            co_id,
            {
                "document_type": "verification_result",
                "co_reference": co_id,
                "result_date": self.clock.date().isoformat(),
                "result": "accepted" if accepted else "rejected",
                "reason": None if accepted else "Supplier declaration not provided",
            },
            (request.hash_hex,),
        )

    def _amend(self, co_id: str, co_hash: str, co: dict[str, object]) -> Iterator[Entry]:
        number = self._co_number()
        amended = dict(
            co, number=number, supersedes=co_id, remarks="Amended: corrected invoice date"
        )
        amended["issue_date"] = self.clock.date().isoformat()
        amended["certification"] = dict(
            co["certification"],  # type: ignore[arg-type]
            date=amended["issue_date"],
        )
        new_id = f"jp-jcci/{number}"
        entry = self._entry("co.amended", "jp-jcci", new_id, amended, (co_hash,))
        self.open_cos = [c for c in self.open_cos if c[0] != co_id]
        self.open_cos.append((new_id, entry.hash_hex, str(co["importing_country"]), amended))
        yield entry

    def _revoke(self, co_id: str, co_hash: str) -> Entry:
        self.open_cos = [c for c in self.open_cos if c[0] != co_id]
        return self._entry(
            "co.revoked",
            "jp-jcci",
            co_id,
            {
                "document_type": "co_revocation",
                "co_reference": co_id,
                "revocation_date": self.clock.date().isoformat(),
                "reason_code": "not_originating",
                "reason": "Issued in error: goods did not meet the origin criterion",
            },
            (co_hash,),
        )
