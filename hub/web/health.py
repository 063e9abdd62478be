"""Liveness, readiness and metrics endpoints for the orchestrator and Prometheus."""

from __future__ import annotations

import ipaddress
import logging

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from hub.db.database import describe_failure
from hub.errors import Forbidden
from hub.i18n import Text
from hub.metrics import CONTENT_TYPE_LATEST
from hub.web.keys import CONFIG, DATABASE, METRICS, NODE, WORKERS

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.get("/health/live")
async def live(request: web.Request) -> web.Response:
    """The process answers: nothing else is checked, so a restart is not triggered by the DB
    (nor by a drain: a draining node is alive)."""
    return web.json_response({"status": "ok", "node": request.app[NODE].name})


@routes.get("/health/ready")
async def ready(request: web.Request) -> web.Response:
    """Ready to serve: the database answers `SELECT 1` within its connect timeout (and, with
    sfu.workers, at least one SFU worker is up; each worker's state is listed). A node being
    drained (`hub drain`) is not ready, whatever else: the load balancer sends nobody new."""
    node = request.app[NODE]
    if node.draining:
        return web.json_response(
            {"status": "draining", "node": node.name, "meeting_sockets": node.open_sockets},
            status=503,
        )
    database = request.app[DATABASE]
    metrics = request.app[METRICS]
    try:
        await database.ping()
    except (OSError, SQLAlchemyError, TimeoutError) as exc:
        reason = describe_failure(exc)
        if database.reachable:  # log the transition once, not every probe
            log.warning("database unreachable: %s", reason)
        database.reachable = False
        metrics.database_up.set(0)
        return web.json_response(
            {"status": "unavailable", "node": node.name, "checks": {"database": reason}},
            status=503,
        )
    if not database.reachable:
        log.info("database reachable again")
    database.reachable = True
    metrics.database_up.set(1)
    pool = request.app.get(WORKERS)
    if pool is None:
        return web.json_response({"status": "ok", "node": node.name, "checks": {"database": "ok"}})
    workers = pool.health()
    up = sum(1 for worker in workers if worker["up"])
    return web.json_response(
        {
            "status": "ok" if up else "unavailable",
            "node": node.name,
            "checks": {"database": "ok", "sfu_workers": f"{up}/{len(workers)} up"},
            "workers": workers,
        },
        status=200 if up else 503,
    )


@routes.get("/metrics")
async def metrics_text(request: web.Request) -> web.Response:
    """Prometheus text format; only for the networks in metrics.allow_from."""
    allowed = request.app[CONFIG].metrics.allow_from
    peer = request.remote or ""
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        raise Forbidden(text=Text("error.metrics")) from None
    if not any(address in ipaddress.ip_network(net, strict=False) for net in allowed):
        raise Forbidden(text=Text("error.metrics"))
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
