"""The partner side of a federated join: mirror the host's meeting, vouch for our person,
open the cascade link.

Our person never leaves our hub: they open our page for the meeting (a mirror row with the
host's id and `host_instance`), connect to our SFU, and we ask the host, by signed request,
to admit them. The host answers enter (with a role) or lobby (with a ticket whose verdict
comes over the link).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pydantic import ValidationError

from hub.db.models import AccessLevel
from hub.errors import Forbidden, NotFound, ServiceUnavailable
from hub.i18n import Text
from hub.ids import MeetingId, ServerName
from hub.meetings.access import Visitor
from hub.meetings.service import MeetingService, MeetingView

from . import messages as m
from .link import LinkSocket

if TYPE_CHECKING:
    from .service import Federation

log = logging.getLogger(__name__)

API = "/_hub/federation/v1"


def meeting_path(meeting_id: str, *rest: str) -> str:
    return "/".join((f"{API}/meetings/{meeting_id}", *rest))


def _unreachable(
    host: ServerName, status: int | str, label: str | None = None
) -> ServiceUnavailable:
    log.warning("partner %s answered %s", host, status)
    if label is not None:
        return ServiceUnavailable(text=Text("federation.refused.unreachable", {"partner": label}))
    return ServiceUnavailable(text=Text("error.federation.host_unreachable"))


async def mirror_meeting(
    federation: Federation, meetings: MeetingService, host: ServerName, meeting_id: MeetingId
) -> MeetingView:
    """Ask the host about its meeting and keep our mirror of it (to join through our hub)."""
    partner = await federation.policy.get(host)
    if partner is None:
        raise Forbidden(text=Text("federation.refused.unknown", {"partner": host}))
    named = {"partner": partner.label}
    if not partner.outbound_allowed:
        raise Forbidden(text=Text("federation.refused.outbound", named))
    try:
        status, body = await federation.client.request(host, "GET", meeting_path(meeting_id), None)
    except Exception as exc:
        raise _unreachable(host, type(exc).__name__, partner.label) from None
    if status == 404:
        raise NotFound(text=Text("federation.refused.no_meeting", named))
    if status == 403:  # off its allow-list (a 401, a key or clock problem, may pass)
        log.warning("partner %s refused our request (%s)", host, status)
        raise Forbidden(text=Text("federation.refused.by_partner", named))
    if status != 200:
        raise _unreachable(host, status, partner.label)
    try:
        info = m.MeetingInfo.model_validate(body)
    except ValidationError:
        raise _unreachable(host, "malformed meeting", partner.label) from None
    if info.id != meeting_id:
        raise _unreachable(host, "another meeting", partner.label)
    return await meetings.mirror(
        meeting_id, host=host, title=info.title, access_level=AccessLevel(info.access_level)
    )


async def ask_admission(
    federation: Federation,
    meeting: MeetingView,
    visitor: Visitor,
    name: str,
    message: str | None = None,
    lang: str = "fr",
) -> m.AdmissionAnswer:
    """Vouch for our person to the host (with what they wrote for its moderators, should
    they wait); its answer is enter (with a role) or lobby, a refusal said in `lang`."""
    host = meeting.host_instance
    assert host is not None
    request = m.AdmissionRequest(
        identity=visitor.identity,
        name=name,
        authenticated=visitor.authenticated,
        message=message or None,
    )
    try:
        status, body = await federation.client.request(
            host, "POST", meeting_path(meeting.id, "admissions"), request.model_dump(), lang
        )
    except Exception as exc:
        raise _unreachable(host, type(exc).__name__) from None
    if status in (403, 404, 409):
        detail = body.get("detail")  # the host's problem answer says why (in `lang`)
        if detail:
            raise Forbidden(str(detail)[:300])
        raise Forbidden(text=Text("error.federation.host_refuses"))
    if status != 200:
        raise _unreachable(host, status)
    try:
        return m.AdmissionAnswer.model_validate(body)
    except ValidationError:
        raise _unreachable(host, "malformed admission") from None


async def open_link(federation: Federation, meeting: MeetingView) -> LinkSocket:
    """The cascade link's WebSocket to the host, opened with a signed upgrade request."""
    assert meeting.host_instance is not None
    socket: LinkSocket = await federation.client.ws_connect(
        meeting.host_instance, meeting_path(meeting.id, "link")
    )
    return socket
