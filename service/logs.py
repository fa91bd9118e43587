"""Logging: one root handler, text or JSON lines, the job id on every line, no secrets.

    setup_logging("INFO", json=True, settings=settings)   # once, at process start
    with job_context(job_id):                              # around one job's work
        log.info("step done")    # {"ts": ..., "level": "INFO", "job_id": "...", ...}

Why a contextvar: a job's lines come from many modules (storage, inference, pipeline) and from
`asyncio.to_thread` helpers; a contextvar follows the task and is copied into those threads,
so no function needs a `job_id` argument just to log it.

Why redaction in two places: the `RedactingFilter` cleans each record (message, arguments,
traceback) before any handler sees it, and the formatters clean the final line once more, so
an `extra=` field or a library's own handler cannot leak what the filter did not see. Redacted:
the values of every secret setting (HF_TOKEN, OWNCLOUD_PASSWORD, WEBHOOK_SECRET,
DASHBOARD_PASSWORD, SESSION_SECRET, whatever `Settings` marks `SecretStr`), Hugging Face tokens
(`hf_...`), `Bearer ...` and `Basic ...` credentials, and passwords inside URLs
(`redis://:pw@host`, `https://user:pw@host`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import contextvars
import json as jsonlib
import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError

from service.errors import from_redis

REDACTED = "***"
# Environment variables whose values are secrets even before Settings is loaded.
SECRET_ENV = (
    "HF_TOKEN",
    "OWNCLOUD_PASSWORD",
    "WEBHOOK_SECRET",
    "DASHBOARD_PASSWORD",
    "SESSION_SECRET",
)
# Shorter values would blank out ordinary words all over the log; such a secret is weak anyway.
MIN_SECRET_LENGTH = 4

job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "photo_restore_job_id", default=None
)

_HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{8,}")
_BEARER = re.compile(r"\b([Bb]earer)\s+[A-Za-z0-9._~+/=-]{8,}")
_BASIC = re.compile(r"\b([Bb]asic)\s+([A-Za-z0-9+/]{4,}={0,2})")
_URL_PASSWORD = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@\s/]+@")
# LogRecord's own attributes; anything else on a record came from `extra=` and is emitted.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "job_id"}


def set_job_id(job_id: str | None) -> contextvars.Token[str | None]:
    """Tag this task's (and its threads') log lines with `job_id`; returns a token for reset."""
    return job_id_var.set(job_id)


def reset_job_id(token: contextvars.Token[str | None]) -> None:
    """Undo a `set_job_id`."""
    job_id_var.reset(token)


@contextlib.contextmanager
def job_context(job_id: str | None) -> Iterator[None]:
    """Every log line inside the block carries `job_id`."""
    token = job_id_var.set(job_id)
    try:
        yield
    finally:
        job_id_var.reset(token)


def _basic(match: re.Match[str]) -> str:
    # "Basic" is also an English word: only a token that decodes to "user:password" is hidden.
    try:
        decoded = base64.b64decode(match.group(2) + "==", validate=False).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return match.group(0)
    return f"{match.group(1)} {REDACTED}" if ":" in decoded else match.group(0)


class Redactor:
    """Replaces known secret values and credential-shaped strings with '***'."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *values: Any) -> None:
        """Register more secret values (plain strings or pydantic `SecretStr`)."""
        for value in values:
            if value is None:
                continue
            if hasattr(value, "get_secret_value"):
                value = value.get_secret_value()
            value = str(value)
            if len(value) >= MIN_SECRET_LENGTH:
                self._values.add(value)
        if self._values:
            # Longest first, so a secret containing another is hidden whole.
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def __call__(self, text: str) -> str:
        """The text with every secret replaced."""
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        text = _HF_TOKEN.sub(REDACTED, text)
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        text = _BASIC.sub(_basic, text)
        return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)


# The process-wide redactor; `setup_logging` fills it, `register_secret` adds to it.
redact = Redactor()


def register_secret(*values: Any) -> None:
    """Hide these values from every log line from now on (e.g. a token read at run time)."""
    redact.add(*values)


class RedactingFilter(logging.Filter):
    """Cleans message, arguments and traceback of a record before it is formatted."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - any broken format or argument must not lose the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg = self.redactor(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
        return True


class JobIdFilter(logging.Filter):
    """Copies the current job id onto the record (None outside a job)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate; never drops."""
        record.job_id = job_id_var.get()
        return True


class TextFormatter(logging.Formatter):
    """`2026-01-31 12:00:00,123 INFO [job 1a2b] service.jobs: message` (job part only in a job)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(job_prefix)s%(name)s: %(message)s")
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        """Format, then redact the whole line."""
        job_id = getattr(record, "job_id", None) or job_id_var.get()
        record.job_prefix = f"[job {job_id}] " if job_id else ""
        return self.redactor(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, job_id, extras, exc."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record, then redact the whole line."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "job_id": getattr(record, "job_id", None) or job_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key != "job_prefix" and key not in entry:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return self.redactor(jsonlib.dumps(entry, ensure_ascii=False, default=str))


def _settings_secrets(settings: Any) -> list[Any]:
    """Every `SecretStr` field of a Settings object, so a new secret setting is covered too."""
    if settings is None:
        return []
    return [
        getattr(settings, name)
        for name in type(settings).model_fields
        if hasattr(getattr(settings, name, None), "get_secret_value")
    ]


def setup_logging(
    level: str = "INFO",
    json: bool = False,
    *,
    settings: Any = None,
    secrets: Iterable[Any] = (),
    stream: Any = None,
) -> logging.Handler:
    """Install the one root handler (replacing an earlier one of ours); returns it.

    Secrets come from the environment (`SECRET_ENV`), from `settings` (its `SecretStr`
    fields: values read from `.env` are not in the environment) and from `secrets`.
    """
    redact.add(*(os.environ.get(name) for name in SECRET_ENV))
    redact.add(*_settings_secrets(settings), *secrets)

    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name("photo-restore")
    handler.addFilter(JobIdFilter())
    handler.addFilter(RedactingFilter(redact))
    handler.setFormatter(JsonFormatter(redact) if json else TextFormatter(redact))

    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == "photo-restore":
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())

    # uvicorn and arq bring their own handlers; route them through ours so every line is
    # formatted and redacted the same way.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "arq", "arq.worker"):
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True
    # httpx logs every request URL at INFO: noise at our volume, useful only when debugging.
    quiet = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for name in ("httpx", "httpcore", "hpack"):
        logging.getLogger(name).setLevel(quiet)
    return handler


def report_crash(task: asyncio.Task[Any]) -> None:
    """A done-callback for background tasks: one that died of an exception says so in the log
    at once, with its traceback (asyncio would tell only when the task is garbage-collected,
    and `gather(..., return_exceptions=True)` never)."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        logging.getLogger("service").error(
            "background task %s crashed: %s: %s",
            task.get_name(),
            type(exc).__name__,
            exc,
            exc_info=exc,
        )


class Trouble:
    """A condition that is logged once when it begins and once when it passes, however often
    it is met meanwhile: a Redis outage seen by every poll, job and heartbeat is two lines in
    the log, not a traceback per second.

        trouble = Trouble(log, "Redis")
        trouble.failing(exc)   # first call: WARNING "Redis unavailable: …"; later calls: quiet
        trouble.ok()           # after a failure: WARNING "Redis back after 12.3 s"
    """

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger = logger
        self.what = what
        self.since: float | None = None  # time.monotonic() of the first failure
        self.reason = ""

    def failing(self, reason: object) -> None:
        """Note a failure; only the first of a run of them is logged."""
        if self.since is None:
            self.since = time.monotonic()
            self.reason = str(reason)
            self.logger.warning(
                "%s unavailable: %s (waiting for it; said once until it is back)",
                self.what,
                self.reason,
            )

    def ok(self) -> None:
        """Note a success; the first one after failures says how long the trouble lasted."""
        if self.since is not None:
            self.logger.warning("%s back after %.1f s", self.what, time.monotonic() - self.since)
            self.since = None

    @property
    def down_for(self) -> float:
        """Seconds since the trouble began; 0 while all is well."""
        return 0.0 if self.since is None else time.monotonic() - self.since


@contextlib.contextmanager
def skipping_redis_outage(trouble: Trouble) -> Iterator[None]:
    """Around Redis calls that may be skipped (only for show, or caught up later): while Redis
    is away (`errors.from_redis`) it is noted on `trouble`, said once, and the rest of the
    block is dropped; any other Redis error, a bug of ours, still raises."""
    try:
        yield
    except RedisError as exc:
        outage = from_redis(exc)
        if outage is None:
            raise
        trouble.failing(outage)
