"""Pages for people, rendered from templates/."""

from __future__ import annotations

from aiohttp import web

from hub.web.render import render

routes = web.RouteTableDef()


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    return render(request, "home.html")
