"""Typed keys for the objects an app shares with its handlers (no module-level singletons)."""

from __future__ import annotations

import jinja2
from aiohttp import web

from hub.auth.logins import LoginStore
from hub.auth.session import Session, SessionCodec
from hub.auth.tokens import JoinTokens
from hub.config import HubConfig
from hub.db.database import Database
from hub.federation.service import Federation
from hub.meetings.admission import Admissions
from hub.meetings.conference import Conferences
from hub.meetings.events import EventBus
from hub.meetings.invitations import Invitations
from hub.meetings.rooms import RoomLinks, RoomRosters, RoomSettings
from hub.meetings.service import MeetingService
from hub.meetings.transcript_release import TranscriptRelease
from hub.meetings.transcripts import Transcripts
from hub.metrics import HubMetrics
from hub.sfu.port import MediaRooms
from hub.sfu.service import Sfu
from hub.sfu.workers import WorkerPool
from hub.shared.port import SharedState
from hub.web.frames import Frames
from hub.web.limits import RateLimits
from hub.web.node import Node
from hub.web.proxies import Client
from hub.web.recordings import RecordingRelay
from hub.web.relay import NodeRelay
from hub.web.sockets import OpenSockets
from hub.web.subtitles import SubtitleRelay

CONFIG = web.AppKey("config", HubConfig)
DATABASE = web.AppKey("database", Database)
METRICS = web.AppKey("metrics", HubMetrics)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
EVENTS = web.AppKey("events", EventBus)
MEETINGS = web.AppKey("meetings", MeetingService)
LOGIN_STORE = web.AppKey("login_store", LoginStore)
INVITATIONS = web.AppKey("invitations", Invitations)
SESSION_CODEC = web.AppKey("session_codec", SessionCodec)
LIVE = web.AppKey("live", Conferences)
ADMISSIONS = web.AppKey("admissions", Admissions)
FRAMES = web.AppKey("frames", Frames)
SOCKETS = web.AppKey("sockets", OpenSockets)
# This process as a node behind the load balancer: its name, whether it drains (hub/web/node.py).
NODE = web.AppKey("node", Node)
# Every meeting's media, whichever way it is forwarded (hub/sfu/port.py): what handlers use.
MEDIA: web.AppKey[MediaRooms] = web.AppKey("media")
# Present only with sfu.workers = 0: the SFU in this process (its counters feed /metrics).
SFU = web.AppKey("sfu", Sfu)
# Present only with sfu.workers > 0: the worker processes (/metrics, /health/ready).
WORKERS = web.AppKey("workers", WorkerPool)
LIMITS = web.AppKey("limits", RateLimits)
# Rate limits, nonces, spent login states, leases, meeting messages: memory or Redis.
SHARED = web.AppKey("shared", SharedState)
# Only with [redis] url: this node among others, each meeting at home on one of them.
NODES = web.AppKey("nodes", NodeRelay)
JOIN_TOKENS = web.AppKey("join_tokens", JoinTokens)
ROOM_LINKS = web.AppKey("room_links", RoomLinks)
ROOM_ROSTERS = web.AppKey("room_rosters", RoomRosters)
ROOM_SETTINGS = web.AppKey("room_settings", RoomSettings)
# What was said while subtitles ran, kept per meeting (hub/meetings/transcripts.py).
TRANSCRIPTS = web.AppKey("transcripts", Transcripts)
# Hands each complete transcript out once, and asks for its summary (hub/web/transcript_tasks.py).
TRANSCRIPT_RELEASE = web.AppKey("transcript_release", TranscriptRelease)
# Present only while [speech] offers live subtitles (hub/web/subtitles.py).
SUBTITLES = web.AppKey("subtitles", SubtitleRelay)
# Present only while [recording] is enabled with the SFU in process (hub/web/recordings.py).
RECORDINGS = web.AppKey("recordings", RecordingRelay)
# Present only while [federation] server_name is set (hub/federation/server.py).
FEDERATION = web.AppKey("federation", Federation)

SESSION = web.RequestKey("session", Session)
# Who sent the request, behind trusted proxies (hub/web/middleware.py real_client_middleware).
CLIENT = web.RequestKey("client", Client)
