"""Who may read and write what on a node: the access policy of the HTTP API.

Writing is governed by the consortium's entry-type policy (``Membership.policy``: issuing
authorities issue, amend and revoke certificates; exporters apply and declare origin; customs
file declarations and verification results; banks record presentations) plus two rules the
chain cannot know: an API user acts only in the role its token names, and customs act only for
their own country.

Reading is by party: a document is readable by its parties (exporter, importer, issuer, customs
of the exporting and importing countries, a bank it was presented to) and by auditors. Anyone
else is told the document does not exist (404), so that existence does not leak.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ledger.consortium import Membership
from ledger.errors import Forbidden
from nodes.tokens import Caller

AUDITOR = "auditor"
#: a peer node of the consortium: reads every block in full, to hold its own copy
NODE = "node"
CUSTOMS = "customs"


@dataclass(frozen=True)
class DocumentAccess:
    """What the access policy needs to know about one document (from the node's index)."""

    document_id: str
    parties: frozenset[str] = field(default_factory=frozenset)
    countries: frozenset[str] = field(default_factory=frozenset)


def may_read(caller: Caller, doc: DocumentAccess | None, membership: Membership) -> bool:
    """True when ``caller`` may read ``doc`` (a document the index does not know: never)."""
    if doc is None:
        return False
    if caller.role == AUDITOR:
        return True
    if caller.org_id in doc.parties:
        return True
    if caller.role == CUSTOMS:
        org = membership.organisations.get(caller.org_id)
        return org is not None and org.country in doc.countries
    return False


def may_read_entry(
    caller: Caller,
    author: str,
    subjects: Iterable[DocumentAccess | None],
    membership: Membership,
) -> bool:
    """An entry's payload is readable by its author, auditors and the parties of its subject."""
    if caller.role == AUDITOR or caller.org_id == author:
        return True
    return any(may_read(caller, doc, membership) for doc in subjects)


def require_role_for(caller: Caller, entry_type: str, membership: Membership) -> None:
    """Raise :class:`Forbidden` unless the caller's role may append ``entry_type``.

    The caller's token names one role; the organisation must hold it (checked when the token
    was made) and the consortium policy must allow it for the type.
    """
    allowed = membership.policy.get(entry_type)
    if allowed is None:
        raise Forbidden(f"{entry_type!r} is not an entry type of the consortium's policy")
    if caller.role not in allowed:
        raise Forbidden(
            f"acting as {caller.role}, {caller.org_id} may not submit {entry_type}; "
            f"it needs one of {', '.join(sorted(allowed))}"
        )
    org = membership.organisations.get(caller.org_id)
    if org is None or caller.role not in org.roles:
        raise Forbidden(f"{caller.org_id} does not hold the role {caller.role}")


def require_own_country(
    caller: Caller, countries: Iterable[str | None], membership: Membership, what: str
) -> None:
    """Customs act only for their own country: raise unless the caller's country is one of
    ``countries`` (the exporting or importing country the filing concerns)."""
    org = membership.organisations.get(caller.org_id)
    wanted = {c for c in countries if c}
    if org is None or org.country not in wanted:
        raise Forbidden(
            f"{caller.org_id} is customs of {org.country if org else '?'}; {what} is for the "
            f"customs of {', '.join(sorted(wanted)) or 'another country'}"
        )
