"""The aiohttp application factory: one app per config, every resource in a cleanup context."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial

from aiohttp import web

from hub.auth.logins import LoginStore
from hub.auth.session import SessionCodec
from hub.auth.tokens import JoinTokens
from hub.config import HubConfig, ensure_data_dir
from hub.db.database import Database
from hub.db.migrate import prepare_schema
from hub.federation import routes as federation_routes
from hub.federation.cascade import cascade_context
from hub.federation.forward import forwarding_context, partner_forwarding
from hub.federation.server import add_federation_routes, federation_context, federation_middleware
from hub.meetings.admission import Admissions
from hub.meetings.conference import Conferences
from hub.meetings.events import EventBus
from hub.meetings.invitations import Invitations
from hub.meetings.rooms import RoomLinks, RoomRosters, RoomSettings
from hub.meetings.service import MeetingService
from hub.meetings.transcripts import Transcripts
from hub.metrics import HubMetrics
from hub.recording.storage import open_store
from hub.resources import resource_dir
from hub.sfu.service import Sfu, SfuCollector
from hub.sfu.worker_metrics import WorkersCollector
from hub.sfu.workers import WorkerPool
from hub.shared import open_shared_state
from hub.stalls import LoopLag, PauseMeter
from hub.web import health, kept, matrix_login, pages
from hub.web.api import add_api_routes
from hub.web.bot_host import bridge_context
from hub.web.bridge_api import add_bridge_api
from hub.web.errors import error_middleware
from hub.web.frames import Frames
from hub.web.keys import (
    ADMISSIONS,
    CONFIG,
    DATABASE,
    EVENTS,
    FRAMES,
    INVITATIONS,
    JOIN_TOKENS,
    LIMITS,
    LIVE,
    LOGIN_STORE,
    MEDIA,
    MEETINGS,
    METRICS,
    NODE,
    NODES,
    RECORDINGS,
    ROOM_LINKS,
    ROOM_ROSTERS,
    ROOM_SETTINGS,
    SESSION_CODEC,
    SFU,
    SHARED,
    SOCKETS,
    SUBTITLES,
    TEMPLATES,
    TRANSCRIPTS,
    WORKERS,
)
from hub.web.limits import RateLimits
from hub.web.login import add_login
from hub.web.meeting_socket import (
    end_here,
    meeting_end_listener,
    meeting_socket,
    run_page,
    say_farewell,
)
from hub.web.middleware import (
    metrics_middleware,
    name_the_server,
    real_client_middleware,
    request_id_middleware,
    security_headers_middleware,
    session_middleware,
)
from hub.web.node import Node, NodeCollector, refuse_while_draining
from hub.web.proxies import TrustedProxies
from hub.web.recordings import RecordingRelay, recording_metrics, recordings_context
from hub.web.relay import NodeRelay, RelayCollector
from hub.web.render import template_environment
from hub.web.sockets import OpenSockets
from hub.web.subtitles import SubtitleRelay, subtitle_metrics, subtitles_context, subtitles_enabled
from hub.web.transcript_tasks import release_context, retention_context

log = logging.getLogger(__name__)


async def data_dir_context(app: web.Application) -> AsyncIterator[None]:
    """Create `server.data_dir` at start when it is missing (before the database, the keys and
    the bot's store are looked for in it); nothing to close."""
    ensure_data_dir(app[CONFIG].server.data_dir)
    yield


async def database_context(app: web.Application) -> AsyncIterator[None]:
    """Open the database, bring its schema to head (or refuse), and close it on shutdown."""
    config = app[CONFIG]
    database = Database(config)
    await database.open()
    try:
        await prepare_schema(
            database.engine, database.display_url, auto_migrate=config.database.auto_migrate
        )
        app[DATABASE] = database
        app[MEETINGS] = MeetingService(database.sessions, app[EVENTS])
        app[INVITATIONS] = Invitations(database.sessions)
        app[LOGIN_STORE] = LoginStore(database.sessions)
        app[ROOM_LINKS] = RoomLinks(database.sessions)
        app[ROOM_SETTINGS] = RoomSettings(database.sessions)
        relay, recorder = app.get(SUBTITLES), app.get(RECORDINGS)
        app[LIVE] = Conferences(app[MEETINGS], app[EVENTS], relay, recorder)
        app[TRANSCRIPTS] = Transcripts(database.sessions)
        if relay is not None:
            relay.conferences = app[LIVE]
            relay.transcripts = app[TRANSCRIPTS]
        if recorder is not None:
            recorder.conferences = app[LIVE]
        app[ADMISSIONS] = Admissions(
            app[LIVE], app[INVITATIONS], app[ROOM_LINKS], app[ROOM_ROSTERS],
            max_participants=config.sfu.max_participants,
        )  # fmt: skip
        log.info("database ready", extra={"database": database.display_url})
        yield
    finally:
        await database.close()


async def nodes_context(app: web.Application) -> AsyncIterator[None]:
    """With `[redis] url`: this node among others (hub/web/relay.py), listening on its
    channel once the database and the shared state are open; its home leases let go first
    at shutdown (after the pages were told, by `say_farewell`)."""
    if not app[CONFIG].redis.url.get_secret_value():
        yield
        return
    relay = NodeRelay(
        app[SHARED], meetings=app[MEETINGS], codec=app[SESSION_CODEC], sockets=app[SOCKETS],
        run_page=partial(run_page, app), end_meeting=partial(end_here, app),
        address=app[CONFIG].server.node_url,
    )  # fmt: skip
    await relay.start()
    app[NODES] = relay
    collector = RelayCollector(relay)
    app[METRICS].registry.register(collector)
    try:
        yield
    finally:
        app[METRICS].registry.unregister(collector)
        await relay.close()


async def shared_state_context(app: web.Application) -> AsyncIterator[None]:
    """Check the shared state answers before anything relies on it (StartupError with one
    line if Redis does not); close it last."""
    shared = app[SHARED]
    await shared.start()
    try:
        yield
    finally:
        await shared.close()


def add_media(app: web.Application, config: HubConfig) -> None:
    """The SFU in this process (sfu.workers = 0), or the pool of worker processes."""
    if not config.sfu.pooled:
        app[SFU] = app[MEDIA] = Sfu(config.sfu)
        app[METRICS].registry.register(SfuCollector(app[SFU]))
        return
    form = config.logging.format
    pool = WorkerPool(
        config.sfu,
        log_level=config.logging.level,
        log_format=form if form != "auto" else "text" if config.dev else "json",
    )
    app[WORKERS] = app[MEDIA] = pool
    app[METRICS].registry.register(WorkersCollector(pool))


def add_recordings(app: web.Application, config: HubConfig) -> None:
    """Recording, with the SFU in this process or in workers (their taps' batches come over
    the control socket: hub/sfu/worker_taps.py)."""
    if config.recording.enabled:
        spool = config.server.data_dir / "recording-spool"
        store = open_store(config)
        relay = app[RECORDINGS] = RecordingRelay(config.recording, app[MEDIA], store, spool)
        app[METRICS].registry.register(recording_metrics(relay))
        app.cleanup_ctx.append(recordings_context(relay, config.recording))


async def sfu_context(app: web.Application) -> AsyncIterator[None]:
    """Start the SFU's periodic work (or its workers); on shutdown close every media
    connection (and stop the workers)."""
    pool = app.get(WORKERS)
    if pool is not None:
        await pool.open()
    else:
        app[SFU].start()
    try:
        yield
    finally:
        await app[MEDIA].close()


async def stalls_context(app: web.Application) -> AsyncIterator[None]:
    """The garbage collector's pauses and the event loop's lateness in /metrics while the
    app runs."""
    meter = PauseMeter(app[METRICS].gc_pauses)
    meter.install()
    probe = asyncio.get_running_loop().create_task(LoopLag(app[METRICS].loop_lag).run())
    try:
        yield
    finally:
        probe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probe
        meter.remove()


async def settle_sockets_context(app: web.Application) -> AsyncIterator[None]:
    """Registered last, so at shutdown it runs first: sockets still leaving take their
    people out of the meeting while the SFU and the database they need are open."""
    yield
    await app[SOCKETS].settle()


def _is_meeting_socket(request: web.Request) -> bool:
    return request.match_info.handler is meeting_socket


def create_app(config: HubConfig) -> web.Application:
    """Build the hub's app; nothing is connected until the runner starts its cleanup contexts."""
    sockets = OpenSockets()
    node = Node(config.server.node_name, sockets)
    app = web.Application(
        middlewares=[
            real_client_middleware(
                TrustedProxies(config.server.trusted_proxies, config.server.forwarded_header)
            ),
            request_id_middleware,
            security_headers_middleware,
            metrics_middleware,
            refuse_while_draining(node, _is_meeting_socket),
            error_middleware,
            partner_forwarding,  # a partner's request for a meeting goes to its home node
            federation_middleware,  # verifies every request under /_hub/federation/v1/
            session_middleware,
        ],
        client_max_size=1024 * 1024,
    )
    app.on_response_prepare.append(name_the_server)
    app[CONFIG] = config
    app[METRICS] = HubMetrics()
    app[TEMPLATES] = template_environment()
    app[EVENTS] = EventBus()
    app[SESSION_CODEC] = SessionCodec(
        config.security.secret_key.get_secret_value(), secure=not config.dev
    )
    app[JOIN_TOKENS] = JoinTokens(config.security.secret_key.get_secret_value(), config.public_url)
    app[SHARED] = open_shared_state(config.redis.url.get_secret_value())
    app[LIMITS] = RateLimits(
        app[SHARED],
        login_per_minute=config.limits.login_per_minute,
        lobby_per_minute=config.limits.lobby_per_minute,
        meetings_per_hour=config.limits.meetings_per_hour,
    )
    app[FRAMES] = Frames()
    app[SOCKETS] = sockets
    app[NODE] = node
    app[METRICS].registry.register(NodeCollector(node))
    app.on_shutdown.append(say_farewell)
    app[ROOM_ROSTERS] = RoomRosters(app[SHARED])
    app[EVENTS].subscribe(meeting_end_listener(app))
    add_media(app, config)
    app.cleanup_ctx.append(stalls_context)
    app.cleanup_ctx.append(data_dir_context)
    app.cleanup_ctx.append(shared_state_context)
    app.cleanup_ctx.append(database_context)
    app.cleanup_ctx.append(sfu_context)
    app.cleanup_ctx.append(retention_context(config.speech.transcript_retention_days))
    app.cleanup_ctx.append(release_context)  # complete transcripts to the rooms, summaries
    if subtitles_enabled(config.speech):  # the speech worker process, started when needed
        relay = app[SUBTITLES] = SubtitleRelay(config.speech, app[MEDIA])
        app[METRICS].registry.register(subtitle_metrics(relay))
        app.cleanup_ctx.append(subtitles_context(relay))
    add_recordings(app, config)
    app.cleanup_ctx.append(nodes_context)  # with [redis] url: meetings at home on one node
    app.cleanup_ctx.append(federation_context)  # partner hubs, when [federation] names us
    app.cleanup_ctx.append(cascade_context)  # links to partners' SFUs (closed before the above)
    app.cleanup_ctx.append(forwarding_context)  # with several nodes: partners reach homes
    app.cleanup_ctx.append(bridge_context)  # the Matrix bot, when [matrix] names its account
    app.cleanup_ctx.append(settle_sockets_context)  # last in, first out: leaving sockets end
    app.router.add_routes(health.routes)
    app.router.add_routes(pages.routes)
    app.router.add_routes(kept.routes)  # /m/{id}/kept: what a meeting kept, for its moderators
    add_login(app)  # /auth/* routes and the HTTP session to identity providers
    app.router.add_routes(matrix_login.routes)  # /auth/matrix: Matrix OpenID tokens
    add_api_routes(app)
    add_bridge_api(app)  # /api/v1/bridge: HubPort over HTTP for `hub bridge` (off without a token)
    add_federation_routes(app)  # /.well-known/hub/keys and the ping (off without a server name)
    app.router.add_routes(federation_routes.routes)  # /_hub/federation/v1 and /f/…
    app.router.add_static("/static", resource_dir("static"), name="static", append_version=True)
    return app
