"""API bearer tokens: one per (organisation, role), stored only as SHA-256 hashes.

Tokens are 32 random bytes, so a plain SHA-256 is the right storage hash (no password
stretching is needed for high-entropy secrets) and look-up by hash is constant-time in effect.

A token may carry an expiry, and is revoked by marking its row (never by deleting it, so that
revoking it again says it already was). Every request reads the token's row (one primary-key
look-up on a connection kept for it): a token revoked, expired or deleted by anyone, a
``token revoke`` in another process included, stops acting at the next request. The caller's
organisation must also still hold the token's role and an active key in the membership in
force (:func:`require_in_force`), so a ``config.update`` ends its tokens' power at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import Field, SQLModel

from ledger.consortium import ROLES, Consortium, Membership
from ledger.errors import Forbidden, InvalidInput, StorageError, Unauthenticated
from ledger.timefmt import format_time, now
from nodes.store import LedgerStore

NODE_ROLE = "node"  # a peer node of the consortium (nodes.access.NODE)
TOKEN_PREFIX = "tl_"


class ApiToken(SQLModel, table=True):
    __tablename__ = "node_api_tokens"
    token_hash: str = Field(primary_key=True)
    org_id: str = Field(index=True)
    role: str
    created: str
    # RFC 3339 UTC in the ledger's one fixed format (ledger.timefmt), so that comparing the
    # strings compares the times; NULL: never expires / not revoked.
    expires: str | None = None
    revoked: str | None = None


@dataclass(frozen=True)
class Caller:
    """Who an API request acts as."""

    org_id: str
    role: str


class UnknownOrgOrRole(InvalidInput):
    code = "unknown-org-or-role"
    title = "Unknown organisation or role"
    exit_code = 2


class UnknownToken(InvalidInput):
    code = "unknown-token"
    title = "Unknown token"
    exit_code = 2


class InvalidExpiry(InvalidInput):
    code = "invalid-expiry"
    title = "Invalid token expiry"
    exit_code = 2


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- schema ---------------------------------------------------------------------------------


def create_token_schema(engine: Engine) -> None:
    """Create the token table, or add the columns a table from an older release lacks."""
    table = ApiToken.__table__  # type: ignore[attr-defined]
    try:
        SQLModel.metadata.create_all(engine, tables=[table])
        present = {c["name"] for c in inspect(engine).get_columns(table.name)}
        missing = [c for c in ("expires", "revoked") if c not in present]
        for column in missing:
            try:
                with engine.begin() as conn:
                    conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column} VARCHAR"))
            except (OperationalError, ProgrammingError):
                # another process added it a moment ago; anything else shows up below
                pass
        if missing:
            present = {c["name"] for c in inspect(engine).get_columns(table.name)}
            if not {"expires", "revoked"} <= present:
                raise StorageError(f"cannot add the expiry columns to {table.name}")
    except (OperationalError, ProgrammingError) as exc:
        raise StorageError(f"cannot create the token table: {exc.orig}") from exc


# -- creating -------------------------------------------------------------------------------

_DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: str) -> timedelta:
    """``90d``, ``12h``, ``30m``, ``45s`` or ``2w`` as a time span."""
    match = _DURATION.match(value.strip())
    if match is None or int(match[1]) == 0:
        raise InvalidExpiry(
            f"--expires-in {value!r} is not a duration; write a positive number and a unit "
            "(s, m, h, d or w), e.g. 90d or 12h",
            location="--expires-in",
        )
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def parse_moment(value: str) -> datetime:
    """An RFC 3339 date and time with its offset (``2027-03-31T00:00:00Z``)."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in value.upper():
        raise InvalidExpiry(
            f"--expires {value!r} is not an RFC 3339 date and time with an offset, "
            "e.g. 2027-03-31T00:00:00Z",
            location="--expires",
        )
    return moment


def expiry(
    expires_in: str | None, expires: str | None, *, at: datetime | None = None
) -> datetime | None:
    """When a new token stops acting (``--expires-in`` and ``--expires``: the earlier)."""
    start = at or now()
    moments = []
    if expires_in is not None:
        moments.append(start + parse_duration(expires_in))
    if expires is not None:
        moments.append(parse_moment(expires))
    return min(moments) if moments else None


def create_token(
    store: LedgerStore,
    consortium: Consortium,
    org_id: str,
    role: str,
    *,
    expires: datetime | None = None,
    at: datetime | None = None,
) -> str:
    """A new token for a user of ``org_id`` acting in ``role``, which the organisation must
    hold in the membership in force on the stored chain (genesis and the ``config.update``
    entries after it), not merely in the genesis file."""
    from nodes.writer import stored_membership  # the writer imports the store's heavier parts

    if role not in ROLES:
        raise UnknownOrgOrRole(f"{role!r} is not a role; roles are {', '.join(sorted(ROLES))}")
    membership = stored_membership(store, consortium)
    org = membership.organisations.get(org_id)
    if org is None:
        raise UnknownOrgOrRole(f"{org_id!r} is not an organisation of the consortium")
    if role not in org.roles:
        raise UnknownOrgOrRole(f"{org_id} does not hold the role {role}")
    created = at or now()
    if expires is not None and expires <= created:
        raise InvalidExpiry(
            f"the expiry {format_time(expires)} is not after now ({format_time(created)})"
        )
    token = new_token()
    create_token_schema(store.engine)
    with store.engine.begin() as conn:
        conn.execute(
            ApiToken.__table__.insert(),  # type: ignore[attr-defined]
            {
                "token_hash": _hash(token),
                "org_id": org_id,
                "role": role,
                "created": format_time(created),
                "expires": None if expires is None else format_time(expires),
                "revoked": None,
            },
        )
    return token


def new_token() -> str:
    """A fresh bearer token (what ``create_token`` hands out; only its hash is stored)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return _hash(token)


def ensure_peer_tokens(
    store: LedgerStore, membership: Membership, peer_tokens: list[tuple[str, str]]
) -> int:
    """Make sure the ``node``-role tokens this node issued to its peers exist, given as
    (org id, SHA-256 hex of the token) from ``node.json`` (``ordering.peer_tokens``): a
    consortium's homes are laid out before any database exists. A row already there is left as
    it is (a revoked peer token stays revoked). Returns how many rows were added."""
    create_token_schema(store.engine)
    table = ApiToken.__table__  # type: ignore[attr-defined]
    added = 0
    with store.engine.begin() as conn:
        for org_id, digest in peer_tokens:
            org = membership.organisations.get(org_id)
            if org is None or NODE_ROLE not in org.roles:
                raise UnknownOrgOrRole(f"peer token for {org_id!r}, which runs no node")
            exists = conn.execute(
                select(table.c.token_hash).where(table.c.token_hash == digest)
            ).first()
            if exists is None:
                conn.execute(
                    table.insert(),
                    {
                        "token_hash": digest,
                        "org_id": org_id,
                        "role": NODE_ROLE,
                        "created": format_time(now()),
                        "expires": None,
                        "revoked": None,
                    },
                )
                added += 1
    return added


# -- revoking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Revoked:
    """What ``token revoke TOKEN`` did: ``already`` holds when the token was revoked before."""

    org_id: str
    role: str
    revoked: str
    already: bool


def revoke_token(store: LedgerStore, token: str, *, at: datetime | None = None) -> Revoked:
    """Mark one token revoked (its row stays, so revoking it again says it already was)."""
    create_token_schema(store.engine)
    token_hash = _hash(token.strip())
    moment = format_time(at or now())
    table = ApiToken.__table__  # type: ignore[attr-defined]
    with store.engine.begin() as conn:
        changed = conn.execute(
            table.update()
            .where(table.c.token_hash == token_hash, table.c.revoked.is_(None))
            .values(revoked=moment)
        ).rowcount
        row = conn.execute(
            select(table.c.org_id, table.c.role, table.c.revoked).where(
                table.c.token_hash == token_hash
            )
        ).first()
    if row is None:
        raise UnknownToken("this node has no such token")
    return Revoked(row[0], row[1], row[2], already=changed == 0)


def revoke_org_tokens(
    store: LedgerStore, consortium: Consortium, org_id: str, *, at: datetime | None = None
) -> int:
    """Revoke every token of ``org_id`` not revoked yet; how many that was."""
    from nodes.writer import stored_membership

    create_token_schema(store.engine)
    table = ApiToken.__table__  # type: ignore[attr-defined]
    with store.engine.begin() as conn:
        count = conn.execute(
            table.update()
            .where(table.c.org_id == org_id, table.c.revoked.is_(None))
            .values(revoked=format_time(at or now()))
        ).rowcount
        known = (
            count
            or conn.execute(
                select(table.c.token_hash).where(table.c.org_id == org_id).limit(1)
            ).first()
        )
    if not known and org_id not in stored_membership(store, consortium).organisations:
        raise UnknownOrgOrRole(f"{org_id!r} is not an organisation of the consortium")
    return int(count)


# -- authenticating -------------------------------------------------------------------------


class TokenLookup:
    """Reads a token's row for every request, through one DB-API connection kept for it.

    No answer is kept between requests: that is what makes a revocation (or a deleted row)
    take effect at the next request, whichever process wrote it. The query is a primary-key
    look-up; going around SQLAlchemy's pool and statement compilation keeps it to a few
    microseconds on SQLite, which is less than a cache validated by a version read would cost.
    """

    def __init__(self, store: LedgerStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._conn: Any = None
        mark = "?" if store.is_sqlite else "%s"
        self._query = (
            f"SELECT org_id, role, expires, revoked FROM node_api_tokens WHERE token_hash = {mark}"
        )

    def caller(self, token: str | None) -> Caller:
        if not token or not token.startswith(TOKEN_PREFIX):
            raise Unauthenticated("a bearer token is required")
        row = self._row(_hash(token))
        if row is None:
            raise Unauthenticated("the bearer token is not valid")
        org_id, role, expires, revoked = row
        if revoked is not None:
            raise Unauthenticated(f"the bearer token was revoked at {revoked}")
        if expires is not None and expires <= format_time(now()):
            raise Unauthenticated(f"the bearer token expired at {expires}")
        return Caller(org_id, role)

    def _row(self, token_hash: str) -> tuple[str, str, str | None, str | None] | None:
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._conn is None:
                        self._conn = self.store.engine.raw_connection()
                    cursor = self._conn.cursor()
                    try:
                        cursor.execute(self._query, (token_hash,))
                        row = cursor.fetchone()
                    finally:
                        cursor.close()
                    if not self.store.is_sqlite:
                        self._conn.rollback()  # end the read; see later commits next time
                    return None if row is None else (row[0], row[1], row[2], row[3])
                except Exception as exc:  # any driver's error: a dropped connection, once
                    self._discard()
                    if attempt == 2:
                        raise StorageError(f"cannot read the token store: {exc}") from exc
        raise AssertionError("unreachable")

    def _discard(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # it is being thrown away, broken or not
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self._discard()


def require_in_force(caller: Caller, membership: Membership) -> None:
    """Raise unless the membership in force still lets ``caller`` act: its organisation is a
    member (401 otherwise), holds the token's role and has at least one active key (403)."""
    org = membership.organisations.get(caller.org_id)
    if org is None:
        raise Unauthenticated(f"{caller.org_id} is not a member of the consortium")
    if caller.role not in org.roles:
        raise Forbidden(
            f"{caller.org_id} no longer holds the role {caller.role} in the consortium's "
            f"membership, so tokens for that role no longer act"
        )
    if not any(key.status == "active" for key in org.keys.values()):
        raise Forbidden(
            f"every key of {caller.org_id} has been revoked in the consortium's membership, "
            "so its tokens no longer act"
        )
