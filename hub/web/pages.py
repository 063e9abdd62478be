"""Pages for people, rendered from templates/: home (create or join a meeting) and the meeting.

Creating a meeting works without JavaScript (a plain form with a CSRF token); the meeting page
itself needs JavaScript for media, and gets its strings and settings as JSON blobs so that no
script is inline and no text is hard-coded in JS.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from hub.auth.session import Session
from hub.db.models import AccessLevel, MeetingState
from hub.errors import BadRequest, Forbidden, NotFound
from hub.i18n import CATALOG, DEFAULT_LANGUAGE, Text, negotiate, translate
from hub.ids import MeetingId
from hub.meetings.ids import parse_meeting_id
from hub.meetings.service import MAX_TITLE, MeetingView
from hub.web.kept import meetings_with_kept
from hub.web.keys import CONFIG, FEDERATION, LIMITS, MEETINGS, SESSION_CODEC
from hub.web.login import login_links, login_required_page
from hub.web.render import render
from hub.web.requests import current_session, may_create_meetings, widget_mode

routes = web.RouteTableDef()

ACCESS_LEVELS = (AccessLevel.RESTRICTED, AccessLevel.TRUSTED, AccessLevel.PUBLIC)
# Strings the meeting page's scripts need: every key of the meeting namespace.
_JS_PREFIX = "meeting."
_CODE_SEPARATORS = re.compile(r"[\s\-‐-―]+")  # spaces and every kind of dash
_LINK_MARKER = "/m/"


def meeting_id_from_code(text: str) -> MeetingId | None:
    """The meeting id in what a person pasted: `abc-defg-hij`, `abcdefghij` or a full link."""
    candidate = text.strip()
    if _LINK_MARKER in candidate:
        candidate = candidate.rsplit(_LINK_MARKER, 1)[1]
        candidate = re.split(r"[/?#]", candidate, maxsplit=1)[0]
    letters = _CODE_SEPARATORS.sub("", candidate).lower()
    if len(letters) != 10 or not (letters.isascii() and letters.isalpha()):
        return None
    return parse_meeting_id(f"{letters[:3]}-{letters[3:7]}-{letters[7:]}")


def _page(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    return render(request, name, status=status, **context)


def _csrf_token(request: web.Request, session: Session | None) -> str:
    return request.app[SESSION_CODEC].csrf_token(session) if session is not None else ""


def _account(request: web.Request, session: Session | None, next_path: str) -> dict[str, Any]:
    """Who is logged in (for the logout form), or the login buttons for a guest."""
    logged_in = session is not None and not session.is_guest
    return {
        "account_name": session.display_name if session is not None and logged_in else None,
        "login_providers": [] if logged_in else login_links(request, next_path),
    }


async def _home(
    request: web.Request,
    *,
    status: int = 200,
    title: str = "",
    access_level: str = AccessLevel.RESTRICTED.value,
    title_error: str | None = None,
    access_error: str | None = None,
    code: str = "",
    code_error: str | None = None,
) -> web.Response:
    session = current_session(request)
    mine = await request.app[MEETINGS].list_owned(session.identity) if session else []
    kept = await meetings_with_kept(request.app, session.identity) if session else []
    return _page(
        request,
        "home.html",
        status=status,
        csrf_token=_csrf_token(request, session),
        access_levels=[level.value for level in ACCESS_LEVELS],
        form_title=title,
        form_access=access_level,
        title_error=title_error,
        access_error=access_error,
        form_code=code,
        code_error=code_error,
        my_meetings=mine,
        kept_ids={meeting.id for meeting in kept},
        # What ended meetings (or meetings moderated, not owned) kept: listed on their own.
        kept_elsewhere=[m for m in kept if m.id not in {meeting.id for meeting in mine}],
        max_title=MAX_TITLE,
        lang_path="/",
        can_create=session is not None and may_create_meetings(request, session),
        **_account(request, session, "/"),
    )


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    return await _home(request)


@routes.post("/meetings")
async def create_meeting(request: web.Request) -> web.Response:
    """The no-JS form: check CSRF, validate, create, then 303 to the meeting page."""
    session = current_session(request)
    form = await request.post()
    if session is None:
        raise Forbidden(text=Text("error.csrf"))
    request.app[SESSION_CODEC].require_csrf(request, session, form.get("csrf_token"))
    if not may_create_meetings(request, session):
        return login_required_page(request)
    await request.app[LIMITS].create_meeting.hit(request.remote or "-")
    raw_title = form.get("title")
    raw_access = form.get("access_level")
    title = raw_title if isinstance(raw_title, str) else ""
    access = raw_access if isinstance(raw_access, str) else ""
    title_error = access_error = None
    cleaned = " ".join(title.split())
    if not cleaned:
        title_error = "home.error.title_empty"
    elif len(cleaned) > MAX_TITLE:
        title_error = "home.error.title_long"
    if access not in {level.value for level in ACCESS_LEVELS}:
        access_error = "home.error.access_invalid"
    if title_error is None and access_error is None:
        try:
            meeting = await request.app[MEETINGS].create(
                owner=session.identity, title=title, access_level=AccessLevel(access)
            )
        except BadRequest:  # the service's own checks, e.g. control characters
            title_error = "home.error.title_invalid"
        else:
            raise web.HTTPSeeOther(f"/m/{meeting.id}")
    return await _home(
        request,
        status=400,
        title=title[: MAX_TITLE * 2],
        access_level=access or AccessLevel.RESTRICTED.value,
        title_error=title_error,
        access_error=access_error,
    )


@routes.get("/join")
async def join(request: web.Request) -> web.Response:
    """Turn a pasted code or link into the meeting page, or explain on the home page."""
    code = request.query.get("code", "")
    if not code.strip():
        return await _home(request, status=400, code=code, code_error="home.error.code_empty")
    meeting_id = meeting_id_from_code(code)
    if meeting_id is None:
        return await _home(request, status=400, code=code, code_error="home.error.code_invalid")
    try:
        await request.app[MEETINGS].get(meeting_id)
    except NotFound:
        return await _home(request, status=404, code=code, code_error="home.error.code_unknown")
    raise web.HTTPSeeOther(f"/m/{meeting_id}")


def _meeting_settings(request: web.Request, meeting: MeetingView) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "title": meeting.title,
        "url": f"{request.app[CONFIG].public_url}/m/{meeting.id}",
        "wsPath": f"/api/v1/meetings/{meeting.id}/ws",
    }
    if widget_mode(request):
        # The page checks the Matrix client's origin (from Element's parentUrl) against the
        # same list that the CSP's frame-ancestors allows.
        settings["widget"] = {
            "meetingId": meeting.id,
            "identityPath": "/auth/matrix/widget",
            "parentOrigins": list(request.app[CONFIG].matrix.widget_parent_origins),
        }
    return settings


def _same_page_query(request: web.Request) -> str:
    """The widget page's query string without `lang`: Element's widgetId and parentUrl must
    survive a redirect or a language switch."""
    return urlencode([(k, v) for k, v in request.query.items() if k != "lang"])


@routes.get("/m/{meeting_id}")
async def meeting_page(request: web.Request) -> web.Response:
    """Pre-join and in-meeting states of one meeting; 404 if unknown, 410 once it has ended."""
    meeting = await request.app[MEETINGS].get(request.match_info["meeting_id"])
    if request.match_info["meeting_id"] != meeting.id:  # e.g. upper case: one canonical URL
        raw = request.rel_url.raw_query_string  # still encoded: parentUrl holds a '#'
        query = f"?{raw}" if raw else ""
        raise web.HTTPMovedPermanently(f"/m/{meeting.id}{query}")
    session = current_session(request)
    widget = widget_mode(request)
    lang = negotiate(request)
    strings = {
        key: translate(lang, key) for key in CATALOG[DEFAULT_LANGUAGE] if key.startswith(_JS_PREFIX)
    }
    ended = meeting.state is MeetingState.ENDED
    return _page(
        request,
        "meeting.html",
        status=410 if ended else 200,
        meeting=meeting,
        ended=ended,
        csrf_token=_csrf_token(request, session),
        display_name=session.display_name if session else "",
        # In a Matrix client's iframe the identity comes from Matrix: no login, no name field.
        login_providers=[]
        if widget
        else _account(request, session, f"/m/{meeting.id}")["login_providers"],
        widget=widget,
        lang_path=f"/m/{meeting.id}?{_same_page_query(request)}" if widget else request.path,
        strings=strings,
        settings=_meeting_settings(request, meeting),
        partner_links=[] if widget or ended else await _partner_links(request, meeting),
    )


async def _partner_links(request: web.Request, meeting: MeetingView) -> list[dict[str, str]]:
    """For a meeting hosted here: each partner's link to it (their people join through their
    own hub, signed in there)."""
    federation = request.app.get(FEDERATION)
    if federation is None or meeting.host_instance is not None:
        return []
    return [
        {"label": p.label, "url": p.meeting_url(federation.server_name, meeting.id)}
        for p in await federation.policy.all()
    ]
