"""API bearer tokens: one per (organisation, role), stored only as SHA-256 hashes.

Tokens are 32 random bytes, so a plain SHA-256 is the right storage hash (no password
stretching is needed for high-entropy secrets) and look-up by hash is constant-time in effect.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Field, SQLModel

from ledger.consortium import ROLES, Consortium
from ledger.errors import InvalidInput, Unauthenticated
from ledger.timefmt import format_time, now
from nodes.store import LedgerStore

TOKEN_PREFIX = "tl_"


class ApiToken(SQLModel, table=True):
    __tablename__ = "node_api_tokens"
    token_hash: str = Field(primary_key=True)
    org_id: str = Field(index=True)
    role: str
    created: str


@dataclass(frozen=True)
class Caller:
    """Who an API request acts as."""

    org_id: str
    role: str


class UnknownOrgOrRole(InvalidInput):
    code = "unknown-org-or-role"
    title = "Unknown organisation or role"
    exit_code = 2


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    store: LedgerStore,
    consortium: Consortium,
    org_id: str,
    role: str,
    *,
    at: datetime | None = None,
) -> str:
    """A new token for a user of ``org_id`` acting in ``role`` (which the org must hold)."""
    org = consortium.membership.organisations.get(org_id)
    if org is None:
        raise UnknownOrgOrRole(f"{org_id!r} is not an organisation of the consortium")
    if role not in ROLES:
        raise UnknownOrgOrRole(f"{role!r} is not a role; roles are {', '.join(sorted(ROLES))}")
    if role not in org.roles:
        raise UnknownOrgOrRole(f"{org_id} does not hold the role {role}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    SQLModel.metadata.create_all(store.engine, tables=[ApiToken.__table__])  # type: ignore[list-item]
    with store.engine.begin() as conn:
        conn.execute(
            ApiToken.__table__.insert(),
            {  # type: ignore[attr-defined]
                "token_hash": _hash(token),
                "org_id": org_id,
                "role": role,
                "created": format_time(at or now()),
            },
        )
    return token


def authenticate(store: LedgerStore, token: str | None) -> Caller:
    if not token or not token.startswith(TOKEN_PREFIX):
        raise Unauthenticated("a bearer token is required")
    with store.engine.connect() as conn:
        row = conn.execute(
            select(ApiToken.org_id, ApiToken.role).where(ApiToken.token_hash == _hash(token))  # type: ignore[arg-type]
        ).first()
    if row is None:
        raise Unauthenticated("the bearer token is not valid")
    return Caller(row[0], row[1])
