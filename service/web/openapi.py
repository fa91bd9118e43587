"""`GET /api/openapi.json`: the dashboard's JSON API described from the routes themselves.

Paths, methods and texts come from the mounted routes and their handlers' docstrings, and
request bodies from the pydantic models the handlers are given (`service.web.bodies`), so the
description cannot drift from the code; query parameters, which are read by hand, are listed
here once.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from service.web.auth import SESSION_COOKIE
from service.web.bodies import declared
from service.web.csrf import CSRF_HEADER_NAME

REF = "#/components/schemas/{model}"

_Q = {"in": "query", "required": False}
QUERY: dict[str, list[dict[str, Any]]] = {
    "GET /api/jobs": [
        {
            **_Q,
            "name": "status",
            "schema": {
                "type": "string",
                "enum": ["all", "queued", "running", "done", "failed", "review"],
            },
        },
        {**_Q, "name": "q", "schema": {"type": "string"}, "description": "part of the path"},
        {**_Q, "name": "offset", "schema": {"type": "integer", "minimum": 0}},
        {**_Q, "name": "limit", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
    ],
    "GET /api/files": [
        {"in": "query", "name": "path", "required": True, "schema": {"type": "string"}}
    ],
    "GET /api/files/thumb": [
        {"in": "query", "name": "path", "required": True, "schema": {"type": "string"}}
    ],
    "GET /api/files/download": [
        {"in": "query", "name": "path", "required": True, "schema": {"type": "string"}},
        {**_Q, "name": "inline", "schema": {"type": "string"}},
    ],
    "GET /api/jobs/{job_id}/file/{which}": [
        {**_Q, "name": "download", "schema": {"type": "string", "enum": ["1"]}}
    ],
}
ERRORS = {
    "400": "bad request (message in `error`)",
    "401": "not signed in",
    "403": "CSRF token missing/wrong, or a path outside every inbox",
    "404": "not found",
    "409": "not possible in the job's current state",
}


def _operation(route: Route, method: str) -> dict[str, Any]:
    doc = inspect.getdoc(route.endpoint) or ""
    summary, _, rest = doc.partition("\n")
    key = f"{method} {_template(route.path)}"
    op: dict[str, Any] = {
        "summary": summary.strip(),
        "operationId": route.endpoint.__name__,
        "responses": {
            "200": {"description": "JSON"},
            **{c: {"description": d} for c, d in ERRORS.items()},
        },
    }
    if rest.strip():
        op["description"] = " ".join(rest.split())
    params = [
        {"in": "path", "name": n, "required": True, "schema": {"type": "string"}}
        for n in route.param_convertors
    ]
    params += QUERY.get(key, [])
    if params:
        op["parameters"] = params
    body = declared(route.endpoint)
    if body is not None:
        media, model = body
        ref = {"$ref": REF.format(model=model.__name__)}
        required = any(field.is_required() for field in model.model_fields.values())
        op["requestBody"] = {"required": required, "content": {media: {"schema": ref}}}
    if method != "GET":
        op["security"] = [{"session": [], "csrf": []}, {"forwardAuth": [], "csrf": []}]
    return op


def _template(path: str) -> str:
    return re.sub(r"{(\w+):\w+}", r"{\1}", path)


def _schemas(routes: list[Route]) -> dict[str, Any]:
    """JSON Schemas of every body model the routes accept, nested models included."""
    out: dict[str, Any] = {}
    for route in routes:
        body = declared(route.endpoint)
        if body is None:
            continue
        schema = body[1].model_json_schema(ref_template=REF)
        out.update(schema.pop("$defs", {}))
        out[body[1].__name__] = schema
    return dict(sorted(out.items()))


def build_schema(routes: list[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every `/api/` route."""
    paths: dict[str, dict[str, Any]] = {}
    api = [r for r in routes if isinstance(r, Route) and r.path.startswith("/api/")]
    for route in api:
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(_template(route.path), {})[method.lower()] = _operation(route, method)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "photo-restore dashboard API",
            "version": "1",
            "description": "Used by the dashboard. Sign in (session cookie) or come "
            "through the forward-auth ingress; every POST also needs the session's CSRF "
            f"token in the {CSRF_HEADER_NAME} header (from <meta name=csrf-token>).",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": _schemas(api),
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
                "csrf": {"type": "apiKey", "in": "header", "name": CSRF_HEADER_NAME},
                "forwardAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "AUTH_HEADER (set by the ingress)",
                },
            },
        },
    }


async def openapi(request: Request) -> Response:
    """This description of the API."""
    return JSONResponse(build_schema(request.app.routes))


routes = [Route("/api/openapi.json", openapi, methods=["GET"])]
