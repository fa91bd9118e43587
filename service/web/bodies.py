"""What the dashboard's API accepts, as pydantic models: one definition validates each request
body and describes it in `/api/openapi.json`, so the two cannot drift apart.

A route takes its body through `json_body(Model)` or `form_body(Model)`: the decorator parses
and validates the request, hands the handler the model, and records which model the route
accepts for `service.web.openapi`. A body that does not fit is an `InvalidRequest` (400)
naming each field and what was wrong with it.
"""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import ErrorDetails
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.errors import InvalidRequest
from service.pipeline import registry

MAX_EDITS = 20
MAX_PROMPT = 4000
MAX_FILES_PER_REQUEST = 200
JSON = "application/json"
MULTIPART = "multipart/form-data"

B = TypeVar("B", bound=BaseModel)
Handler = Callable[[Request, B], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
_DECLARED: dict[Endpoint, tuple[str, type[BaseModel]]] = {}


def manual_ops() -> list[str]:
    """The operations a hand edit may name (registered with `manual=True`)."""
    return sorted(op.name for op in registry.all_ops() if op.manual)


def _manual_enum(schema: dict[str, Any]) -> None:
    schema["enum"] = manual_ops()


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


class Body(BaseModel):
    """A request body; keys we do not know are ignored, as before there were models."""

    model_config = ConfigDict(extra="ignore")


class Edit(Body):
    """A hand edit: one manual operation and its parameters."""

    op: str = Field(description="a hand-edit operation", json_schema_extra=_manual_enum)
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("op")
    @classmethod
    def _known_op(cls, value: str) -> str:
        if value not in manual_ops():
            raise ValueError(f"op must be one of {', '.join(manual_ops())}")
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _no_params(cls, value: Any) -> Any:
        return {} if value is None else value


class RerunBody(Body):
    """Run the same original again with other settings; every field is optional."""

    chain: str | None = Field(None, description="another chain (default: the job's)")
    prompt: str | None = Field(None, max_length=MAX_PROMPT, description="replaces the prompts")
    params: dict[str, Any] = Field(default_factory=dict, description="merged into the steps'")
    fidelity: str | None = Field(None, description="one of the chain's fidelity levels")
    edits: list[Edit] = Field(default_factory=list, max_length=MAX_EDITS)

    @field_validator("chain", "prompt", "fidelity", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return _blank_is_none(value)

    @field_validator("params", "edits", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return {} if info.field_name == "params" else []
        return value


class RetryBody(Body):
    """Which failed jobs to queue again; without `ids`, every failed job."""

    ids: list[str] | None = None


class QueueBody(Body):
    """Pause or resume taking new jobs (running ones finish either way)."""

    paused: StrictBool


class EnqueueBody(Body):
    """Files to queue now, as the watcher would, optionally with a chain."""

    paths: list[str] = Field(min_length=1, max_length=MAX_FILES_PER_REQUEST)
    chain: str | None = None

    @field_validator("chain", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return _blank_is_none(value)


BinaryFile = Annotated[UploadFile, WithJsonSchema({"type": "string", "format": "binary"})]


class UploadForm(Body):
    """Scans to put into an inbox folder (then queued at once)."""

    model_config = ConfigDict(extra="ignore", arbitrary_types_allowed=True)

    folder: str = Field(min_length=1, description="an inbox folder")
    file: list[BinaryFile] = Field(min_length=1, max_length=MAX_FILES_PER_REQUEST)


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _message(error: ErrorDetails) -> str:
    ctx = error.get("ctx") or {}
    text = str(ctx["error"]) if error["type"] == "value_error" and "error" in ctx else error["msg"]
    return f"{_where(tuple(error['loc']))}: {text}"


def parse(model: type[B], data: Any) -> B:
    """`data` as `model`, or an InvalidRequest saying what is wrong where."""
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest("; ".join(_message(e) for e in exc.errors())) from None


async def read_json(request: Request) -> Any:
    """The body as JSON ({} when empty)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise InvalidRequest("the body is not JSON") from None


def _declare(endpoint: Endpoint, media: str, model: type[BaseModel]) -> Endpoint:
    _DECLARED[endpoint] = (media, model)
    return endpoint


def declared(endpoint: Callable[..., Any]) -> tuple[str, type[BaseModel]] | None:
    """The media type and model a route's endpoint accepts, for the API description."""
    return _DECLARED.get(endpoint)


def json_body(model: type[B]) -> Callable[[Handler[B]], Endpoint]:
    """Decorate a handler `(request, body)` into a route endpoint taking a JSON `model`."""

    def deco(handler: Handler[B]) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            return await handler(request, parse(model, await read_json(request)))

        return _declare(endpoint, JSON, model)

    return deco


def _is_list(model: type[BaseModel], name: str) -> bool:
    return typing.get_origin(model.model_fields[name].annotation) is list


def form_body(
    model: type[B], *, max_bytes: Callable[[Request], int]
) -> Callable[[Handler[B]], Endpoint]:
    """Like `json_body` for a multipart form; the files stay open while the handler runs. A
    request announcing more than `max_bytes(request)` is refused (413) before it is read."""

    def deco(handler: Handler[B]) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            length = request.headers.get("content-length")
            if length and length.isdigit() and int(length) > max_bytes(request):
                return JSONResponse({"error": "upload too large"}, status_code=413)
            async with request.form(max_files=MAX_FILES_PER_REQUEST) as form:
                data = {
                    name: form.getlist(name) if _is_list(model, name) else form.get(name)
                    for name in model.model_fields
                    if name in form
                }
                return await handler(request, parse(model, data))

        return _declare(endpoint, MULTIPART, model)

    return deco
