"""`GET /api/openapi.json`: the dashboard's JSON API described from the routes themselves.

Paths, methods and texts come from the mounted routes and their handlers' docstrings, so the
description cannot drift from the code; query parameters and bodies, which a docstring does
not type, are listed here once.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from service.web.auth import SESSION_COOKIE
from service.web.csrf import CSRF_HEADER_NAME

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
_EDIT = {
    "type": "object",
    "required": ["op"],
    "properties": {
        "op": {"type": "string", "enum": ["crop", "rotate", "straighten", "adjust"]},
        "params": {"type": "object"},
    },
}
BODIES: dict[str, dict[str, Any]] = {
    "POST /api/jobs/{job_id}/rerun": {
        "type": "object",
        "properties": {
            "chain": {"type": "string"},
            "prompt": {"type": "string"},
            "params": {"type": "object"},
            "fidelity": {"type": "string"},
            "edits": {"type": "array", "items": _EDIT},
        },
    },
    "POST /api/jobs/retry": {
        "type": "object",
        "properties": {"ids": {"type": "array", "items": {"type": "string"}}},
    },
    "POST /api/queue": {
        "type": "object",
        "required": ["paused"],
        "properties": {"paused": {"type": "boolean"}},
    },
    "POST /api/files/enqueue": {
        "type": "object",
        "required": ["paths"],
        "properties": {
            "paths": {"type": "array", "items": {"type": "string"}},
            "chain": {"type": "string"},
        },
    },
}
MULTIPART = {
    "POST /api/files/upload": {
        "type": "object",
        "required": ["folder", "file"],
        "properties": {
            "folder": {"type": "string"},
            "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
        },
    }
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
    if key in BODIES:
        op["requestBody"] = {"content": {"application/json": {"schema": BODIES[key]}}}
    if key in MULTIPART:
        op["requestBody"] = {"content": {"multipart/form-data": {"schema": MULTIPART[key]}}}
    if method != "GET":
        op["security"] = [{"session": [], "csrf": []}, {"forwardAuth": [], "csrf": []}]
    return op


def _template(path: str) -> str:
    return re.sub(r"{(\w+):\w+}", r"{\1}", path)


def build_schema(routes: list[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every `/api/` route."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route) or not route.path.startswith("/api/"):
            continue
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
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
                "csrf": {"type": "apiKey", "in": "header", "name": CSRF_HEADER_NAME},
                "forwardAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "AUTH_HEADER (set by the ingress)",
                },
            }
        },
    }


async def openapi(request: Request) -> Response:
    """This description of the API."""
    return JSONResponse(build_schema(request.app.routes))


routes = [Route("/api/openapi.json", openapi, methods=["GET"])]
