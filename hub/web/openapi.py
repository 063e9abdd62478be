"""The OpenAPI document of the JSON API, written from the same endpoint list that registers the
routes (hub/web/api.py), so it cannot name a route that does not exist. Each endpoint says
why it may refuse; the document lists exactly those answers, and tests/test_openapi.py runs
schemathesis against a real hub to check that no other answer comes back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from hub import __version__
from hub.auth.session import CSRF_HEADER, SAFE_METHODS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Refusal:
    """One reason an operation answers an error status, as the document tells it."""

    status: int
    why: str


NO_SESSION = Refusal(401, "No session cookie (code unauthorized)")
NO_CSRF = Refusal(403, f"The {CSRF_HEADER} header is missing or wrong (code forbidden)")
BAD_BODY = Refusal(
    400,
    "The body is not JSON (code bad_request), nests deeper than 32 levels (code "
    "json_too_deep), or a field is invalid (code bad_request; the detail names the field)",
)
NO_MEETING = Refusal(404, "No such meeting (code not_found)")
TOO_LARGE = Refusal(413, "The body is larger than 1 MiB (code request_entity_too_large)")
# OpenAPI describes the operations a path has, not the methods it lacks: said once, here.
METHOD_NOT_ALLOWED = (
    "Every error is an application/problem+json body (status, code, title, detail). A method "
    "that a path does not list answers 405 (code method_not_allowed) with an Allow header "
    "naming the methods it has (HEAD with GET)."
)


@dataclass(frozen=True)
class Endpoint:
    """One API route and how the OpenAPI document describes it.

    `session`: the handler requires a session (401 without one) and, on a state-changing
    method, the CSRF header (403 without it), as `require_session` enforces. A `request`
    model is read by `read_json` (400 for a bad body, 413 past the size limit). `refusals`
    are the handler's own reasons to refuse. `media_type`: the success is a file of that
    type (text), not JSON."""

    method: str
    path: str
    handler: Handler
    summary: str
    status: int = 200
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    media_type: str | None = None
    websocket: bool = False
    session: bool = True
    refusals: tuple[Refusal, ...] = ()

    @property
    def needs_csrf(self) -> bool:
        return self.session and self.method not in SAFE_METHODS

    def all_refusals(self) -> tuple[Refusal, ...]:
        implied = []
        if self.session:
            implied.append(NO_SESSION)
        if self.needs_csrf:
            implied.append(NO_CSRF)
        if self.request is not None:
            implied += [BAD_BODY, TOO_LARGE]
        return (*implied, *self.refusals)


PROBLEM = {
    "type": "object",
    "required": ["status", "code", "title", "detail"],
    "properties": {
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "title": {"type": "string"},
        "detail": {"type": "string"},
        "reference": {"type": "string"},
    },
}


def _error_responses(refusals: tuple[Refusal, ...]) -> dict[str, Any]:
    """One response per status; its description gives every reason for it."""
    reasons: dict[int, list[str]] = {}
    for refusal in refusals:
        reasons.setdefault(refusal.status, []).append(refusal.why)
    responses: dict[str, Any] = {}
    for status in sorted(reasons):
        response: dict[str, Any] = {
            "description": "; ".join(reasons[status]),
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        if status == 429:
            response["headers"] = {
                "Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 1}}
            }
        responses[str(status)] = response
    return responses


def openapi_document(
    prefix: str, endpoints: tuple[Endpoint, ...], session_cookie: str
) -> dict[str, Any]:
    """OpenAPI 3.1 for `endpoints`: schemas from the pydantic models that validate them."""
    schemas: dict[str, Any] = {"Problem": PROBLEM}
    paths: dict[str, dict[str, Any]] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    for endpoint in endpoints:
        operation: dict[str, Any] = {
            "summary": endpoint.summary,
            "operationId": endpoint.handler.__name__,
            "responses": _error_responses(endpoint.all_refusals()),
        }
        if not endpoint.session:
            operation["security"] = []
        elif endpoint.needs_csrf:
            operation["security"] = [{"session": [], "csrf": []}]
        parameters = [
            {"name": part[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
            for part in endpoint.path.split("/")
            if part.startswith("{")
        ]
        if parameters:
            operation["parameters"] = parameters
        if endpoint.request is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(endpoint.request)}},
            }
        success: dict[str, Any] = {"description": "Success"}
        if endpoint.response is not None:
            success["content"] = {"application/json": {"schema": ref(endpoint.response)}}
        if endpoint.media_type is not None:
            success["content"] = {endpoint.media_type: {"schema": {"type": "string"}}}
        if endpoint.websocket:
            success = {"description": "Switching protocols to a WebSocket"}
        operation["responses"][str(endpoint.status)] = success
        paths.setdefault(prefix + endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Visio hub API",
            "version": __version__,
            "description": METHOD_NOT_ALLOWED,
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": session_cookie},
                "csrf": {"type": "apiKey", "in": "header", "name": CSRF_HEADER},
            },
        },
        # Operations that change state also need the CSRF header; the socket needs neither.
        "security": [{"session": []}],
    }
