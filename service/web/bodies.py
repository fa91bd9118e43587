"""What the dashboard's API accepts, as pydantic models: one definition validates each request
body and describes it in `/api/openapi.json`, so the two cannot drift apart.

A route takes its body through `json_body(Model)` or `form_body(Model)`: the decorator parses
and validates the request, hands the handler the model, and records which model the route
accepts for `service.web.openapi`. A body that does not fit is an `InvalidRequest` (400)
naming each field and what was wrong with it. JSON is read by `loads` alone (webhooks too):
UTF-8 only and at most `MAX_JSON_DEPTH` levels deep, so no body can make a route answer 500.
The body's size is bounded beneath, by `service.web.limits`.
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
import typing
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
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
from starlette.responses import Response

from service.errors import InvalidRequest
from service.pipeline import registry
from service.web.multipart import receive_form

MAX_EDITS = 20
MAX_PROMPT = 4000
MAX_FILES_PER_REQUEST = 200
MAX_JSON_DEPTH = 32  # the deepest body we take (edits with their params) is four levels
JSON = "application/json"
MULTIPART = "multipart/form-data"

B = TypeVar("B", bound=BaseModel)
Handler = Callable[[Request, B], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
_DECLARED: dict[Endpoint, tuple[str, type[BaseModel]]] = {}


# The brushes' masks are the one non-obvious shape of a parameter (see `ops.keep.decode_mask`).
EDIT_PARAMS = (
    "the operation's parameters; the brushes' masks are PNG data URLs "
    "(data:image/png;base64,…, opaque or white where painted, in proportion to the view they "
    "were painted over): keep_original's `mask` (over the result), damage_mask's `add` and "
    "`erase` (over the aligned before; either may be absent)"
)


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
    params: dict[str, Any] = Field(default_factory=dict, description=EDIT_PARAMS)

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
    clip_model: str | None = Field(
        None, description="chains ending in a clip: another clip model of models.toml"
    )
    clip_prompt: str | None = Field(
        None, max_length=MAX_PROMPT, description="chains ending in a clip: the motion prompt"
    )

    def clip_options(self) -> dict[str, Any]:
        """What the re-run asks of the clip step (see `RunContext.clip`)."""
        options = {"model": self.clip_model, "prompt": self.clip_prompt}
        return {k: v for k, v in options.items() if v is not None}

    @field_validator("chain", "prompt", "fidelity", "clip_model", "clip_prompt", mode="before")
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


def _too_deep(data: Any, limit: int) -> bool:
    """Whether `data` nests deeper than `limit` (without recursion: depth is the attack)."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if not isinstance(item, dict | list):
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def loads(raw: bytes) -> Any:
    """A JSON body, or InvalidRequest: not UTF-8, not JSON, or nested too deep."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the body is not JSON in UTF-8 ({exc})") from None
    if _too_deep(data, MAX_JSON_DEPTH):
        raise InvalidRequest(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    return data


async def read_json(request: Request) -> Any:
    """The body as JSON ({} when empty)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    return loads(raw)


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
    model: type[B], *, max_file: Callable[[Request], int]
) -> Callable[[Handler[B]], Endpoint]:
    """Like `json_body` for a multipart form. Each file is written once, as it arrives, to a
    temporary file (its path: `Path(upload.file.name)`) that lives while the handler runs; a
    file over `max_file(request)` bytes stops the request there (413)."""

    def deco(handler: Handler[B]) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            # Under the state folder (the process's scratch folder), never the system's temp
            # folder: what a killed process leaves there is cleared at the next start.
            scratch: Path = request.app.state.services.scratch
            await asyncio.to_thread(scratch.mkdir, parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix="upload-", dir=scratch) as tmp:
                form, files = await receive_form(
                    request, Path(tmp), max_file=max_file(request), max_files=MAX_FILES_PER_REQUEST
                )
                try:
                    data = {
                        name: form.getlist(name) if _is_list(model, name) else form.get(name)
                        for name in model.model_fields
                        if name in form
                    }
                    return await handler(request, parse(model, data))
                finally:
                    for upload in files:
                        upload.file.close()

        return _declare(endpoint, MULTIPART, model)

    return deco
