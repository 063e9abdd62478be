"""Which other hubs are partners, and what each may do: closed unless listed.

Partners come from two places: `[[federation.partners]]` in the configuration file (fixed
while the hub runs; only the file changes them) and the database (`hub federation add` /
`remove`, seen by a running hub at its next request). A server named in both is the
configuration's. Nobody else is a partner: no request from them is verified, no key of theirs
fetched, no meeting of theirs joined.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import PartnerInstance, utcnow
from hub.ids import ServerName

from .names import parse_base_url, parse_server_name

if TYPE_CHECKING:
    from hub.config import HubConfig
    from hub.config_sections import FederationPartnerConfig

MAX_LABEL = 120


class PolicyError(ValueError):
    """A change to the partner list that is refused; one line for the operator."""


@dataclass(frozen=True)
class Partner:
    """A partner hub and what it may do."""

    server_name: ServerName
    base_url: str
    # Shown after the names of their people, e.g. "Finances".
    label: str
    # Their authenticated people join our TRUSTED meetings without waiting.
    inbound_trusted: bool
    # Our people may join meetings they host.
    outbound_allowed: bool
    # Matrix homeservers whose users belong to that instance.
    matrix_homeservers: tuple[str, ...]
    source: Literal["config", "database"]

    def meeting_url(self, host: str, meeting_id: str) -> str:
        """The partner's own page for a meeting `host` holds: its people join from there
        (hub/federation/routes.py `partner_meeting`)."""
        return f"{self.base_url}/f/{host}/{meeting_id}"


def _from_config(entry: FederationPartnerConfig) -> Partner:
    return Partner(
        server_name=entry.server_name,
        base_url=entry.base_url,
        label=entry.label or entry.server_name,
        inbound_trusted=entry.inbound_trusted,
        outbound_allowed=entry.outbound_allowed,
        matrix_homeservers=entry.matrix_homeservers,
        source="config",
    )


def _from_row(row: PartnerInstance) -> Partner:
    return Partner(
        server_name=ServerName(row.server_name),
        base_url=row.base_url,
        label=row.label or row.server_name,
        inbound_trusted=row.inbound_trusted,
        outbound_allowed=row.outbound_allowed,
        matrix_homeservers=tuple(row.matrix_homeservers or ()),
        source="database",
    )


class PartnerPolicy:
    """Answers who is a partner; reads the database at every call (no cache), so a partner
    removed by `hub federation remove` is refused at once by every hub process.

    Nothing to start or stop; `sync_config()` at start gives the file's partners their rows.
    """

    def __init__(self, config: HubConfig, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._configured = {
            entry.server_name: _from_config(entry) for entry in config.federation.partners
        }
        self._own_name = config.federation.server_name
        self._allow_http = config.dev
        self._sessions = sessions

    async def get(self, server_name: str) -> Partner | None:
        """The partner called `server_name`, or None (also for a malformed name)."""
        try:
            name = parse_server_name(server_name)
        except ValueError:
            return None
        if name in self._configured:
            return self._configured[name]
        async with self._sessions() as session:
            row = await session.get(PartnerInstance, name)
            return _from_row(row) if row is not None and _is_stored_partner(row) else None

    async def all(self) -> list[Partner]:
        """Every partner: the configuration's first, then the database's, each by name."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(PartnerInstance))).all()
        stored = [
            _from_row(row)
            for row in rows
            if _is_stored_partner(row) and row.server_name not in self._configured
        ]
        return sorted(self._configured.values(), key=_name) + sorted(stored, key=_name)

    async def partner_for_homeserver(self, homeserver: str) -> Partner | None:
        """The partner whose people have Matrix accounts on `homeserver`, if any."""
        try:
            name = parse_server_name(homeserver)
        except ValueError:
            return None
        for partner in await self.all():
            if name in partner.matrix_homeservers:
                return partner
        return None

    async def add(
        self,
        server_name: str,
        base_url: str,
        *,
        label: str | None = None,
        inbound_trusted: bool = False,
        outbound_allowed: bool = False,
        matrix_homeservers: Iterable[str] = (),
    ) -> Partner:
        """Add a partner to the database, or replace what it holds about one."""
        try:
            name = parse_server_name(server_name)
            url = parse_base_url(base_url, allow_http=self._allow_http)
            homeservers = tuple(dict.fromkeys(parse_server_name(hs) for hs in matrix_homeservers))
        except ValueError as exc:
            raise PolicyError(str(exc)) from None
        if name == self._own_name:
            raise PolicyError(f"{name} is this hub's own server name")
        if name in self._configured:
            raise PolicyError(
                f"{name} is declared in the configuration file ([[federation.partners]]); "
                "edit the file to change it"
            )
        label = (label or "").strip() or None
        if label is not None and len(label) > MAX_LABEL:
            raise PolicyError(f"label is longer than {MAX_LABEL} characters")
        for other in await self.all():
            shared = set(homeservers) & set(other.matrix_homeservers)
            if other.server_name != name and shared:
                raise PolicyError(
                    f"Matrix homeserver {sorted(shared)[0]} already belongs to partner "
                    f"{other.server_name}"
                )
        async with self._sessions() as session, session.begin():
            row = await self._row(session, name)
            row.base_url = url
            row.label = label
            row.inbound_trusted = inbound_trusted
            row.outbound_allowed = outbound_allowed
            row.matrix_homeservers = list(homeservers)
            row.source = "database"
            row.removed_at = None
        return _from_row(row)

    async def remove(self, server_name: str) -> None:
        """Remove a partner of the database; refused for one the configuration declares.

        Its row stays, marked removed, for the meetings that refer to it.
        """
        try:
            name = parse_server_name(server_name)
        except ValueError as exc:
            raise PolicyError(str(exc)) from None
        if name in self._configured:
            raise PolicyError(
                f"{name} is declared in the configuration file ([[federation.partners]]); "
                "edit the file to remove it"
            )
        async with self._sessions() as session, session.begin():
            row = await session.get(PartnerInstance, name)
            if row is None or not _is_stored_partner(row):
                raise PolicyError(f"{name} is not a partner added with `hub federation add`")
            row.removed_at = utcnow()

    async def sync_config(self) -> None:
        """Give each partner of the file a row (meetings they host refer to it), and mark
        removed the rows of partners the file no longer declares."""
        async with self._sessions() as session, session.begin():
            for partner in self._configured.values():
                row = await self._row(session, partner.server_name)
                row.base_url = partner.base_url
                row.label = partner.label
                row.inbound_trusted = partner.inbound_trusted
                row.outbound_allowed = partner.outbound_allowed
                row.matrix_homeservers = list(partner.matrix_homeservers)
                row.source = "config"
                row.removed_at = None
            stale = await session.scalars(
                select(PartnerInstance).where(
                    PartnerInstance.source == "config",
                    PartnerInstance.removed_at.is_(None),
                    PartnerInstance.server_name.not_in(list(self._configured)),
                )
            )
            for row in stale:
                row.removed_at = utcnow()

    @staticmethod
    async def _row(session: AsyncSession, name: ServerName) -> PartnerInstance:
        row = await session.get(PartnerInstance, name)
        if row is None:
            row = PartnerInstance(server_name=name, added_at=utcnow())
            session.add(row)
        return row


def _is_stored_partner(row: PartnerInstance) -> bool:
    """A row of `hub federation add` not removed since (the file's rows count only while the
    file declares them)."""
    return row.source == "database" and row.removed_at is None


def _name(partner: Partner) -> str:
    return partner.server_name
