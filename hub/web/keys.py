"""Typed keys for the objects an app shares with its handlers (no module-level singletons)."""

from __future__ import annotations

import jinja2
from aiohttp import web

from hub.config import HubConfig
from hub.db.database import Database
from hub.metrics import HubMetrics

CONFIG = web.AppKey("config", HubConfig)
DATABASE = web.AppKey("database", Database)
METRICS = web.AppKey("metrics", HubMetrics)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
