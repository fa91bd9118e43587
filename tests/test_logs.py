"""service.logs: JSON and text lines carry the job id; secrets never reach the output."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from service import logs
from service.config.settings import Settings

HF = "hf_AbCdEfGhIjKlMnOpQrStUvWx"
OC_PASSWORD = "oc-app-pass-Xy12"
WEBHOOK = "whsec-0123456789"
DASHBOARD = "dash-board-pw"
SETTINGS = Settings(
    _env_file=None,  # type: ignore[call-arg]
    hf_token=SecretStr("hf_FromSettingsOnly123456"),
    owncloud_password=SecretStr("pw-from-dotenv-only"),
)


@pytest.fixture
def stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """A fresh root handler writing to a buffer; the previous logging setup comes back after."""
    for name, value in (
        ("HF_TOKEN", HF),
        ("OWNCLOUD_PASSWORD", OC_PASSWORD),
        ("WEBHOOK_SECRET", WEBHOOK),
        ("DASHBOARD_PASSWORD", DASHBOARD),
    ):
        monkeypatch.setenv(name, value)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    # setup_logging also re-plumbs library loggers; put them back for the other test folders.
    libs = [
        logging.getLogger(n)
        for n in (
            "uvicorn",
            "uvicorn.error",
            "uvicorn.access",
            "arq",
            "arq.worker",
            "httpx",
            "httpcore",
            "hpack",
        )
    ]
    saved_libs = [(lib, list(lib.handlers), lib.propagate, lib.level) for lib in libs]
    buffer = io.StringIO()
    yield buffer
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for lib, handlers, propagate, level in saved_libs:
        lib.handlers[:] = handlers
        lib.propagate = propagate
        lib.setLevel(level)


def lines(buffer: io.StringIO) -> list[str]:
    """Output lines so far."""
    return [line for line in buffer.getvalue().splitlines() if line]


def test_json_lines_carry_the_job_id_only_inside_a_job(stream: io.StringIO) -> None:
    logs.setup_logging("INFO", json=True, stream=stream)
    log = logging.getLogger("service.jobs.test")
    log.info("before")
    with logs.job_context("job-123"):
        log.info("during %s", "step", extra={"provider": "fal-ai"})
        logging.getLogger("service.storage.x").warning("from another module")
    log.info("after")
    entries = [json.loads(line) for line in lines(stream)]
    assert [e["job_id"] for e in entries] == [None, "job-123", "job-123", None]
    assert entries[1]["message"] == "during step"
    assert entries[1]["provider"] == "fal-ai"
    assert entries[1]["level"] == "INFO"
    assert entries[1]["logger"] == "service.jobs.test"
    assert entries[1]["ts"].endswith("+00:00")


async def test_job_id_follows_tasks_and_worker_threads(stream: io.StringIO) -> None:
    logs.setup_logging("INFO", json=True, stream=stream)
    log = logging.getLogger("service.pipeline.test")

    async def job(job_id: str) -> None:
        token = logs.set_job_id(job_id)
        try:
            await asyncio.sleep(0)
            await asyncio.to_thread(log.info, "in a thread")
            log.info("in the task")
        finally:
            logs.reset_job_id(token)

    await asyncio.gather(job("a"), job("b"))
    ids = sorted(json.loads(line)["job_id"] for line in lines(stream))
    assert ids == ["a", "a", "b", "b"]


def test_text_lines_prefix_the_job_id(stream: io.StringIO) -> None:
    logs.setup_logging("DEBUG", json=False, stream=stream)
    log = logging.getLogger("service.web")
    log.debug("plain")
    with logs.job_context("abc"):
        log.info("tagged")
    first, second = lines(stream)
    assert "[job" not in first
    assert first.endswith("service.web: plain")
    assert "INFO [job abc] service.web: tagged" in second


@pytest.mark.parametrize("json_mode", [True, False])
def test_secrets_never_reach_the_output(stream: io.StringIO, json_mode: bool) -> None:
    logs.setup_logging("INFO", json=json_mode, settings=SETTINGS, stream=stream)
    log = logging.getLogger("service.inference")
    basic = base64.b64encode(b"alice:" + OC_PASSWORD.encode()).decode()
    log.info("token %s and password %s", HF, OC_PASSWORD)
    log.info("webhook secret=%s dashboard=%s", WEBHOOK, DASHBOARD)
    log.info("headers {'Authorization': 'Bearer sk-live-abcdefgh12345'}")
    log.info("Authorization: Basic %s", basic)
    log.info("unknown token hf_ZzZzZzZzZzZzZzZzZzZz seen")
    log.info("redis at redis://:s3cr3t-pass@redis:6379/0 and https://bob:pw1234@cloud.example")
    log.info("settings-only values %s %s", "hf_FromSettingsOnly123456", "pw-from-dotenv-only")
    log.info("a dict", extra={"auth": {"password": DASHBOARD}})
    try:
        raise RuntimeError(f"upload failed with {WEBHOOK}")
    except RuntimeError:
        log.exception("boom")
    out = stream.getvalue()
    for secret in (
        HF,
        OC_PASSWORD,
        WEBHOOK,
        DASHBOARD,
        basic,
        "sk-live-abcdefgh12345",
        "hf_ZzZzZzZzZzZzZzZzZzZz",
        "s3cr3t-pass",
        "pw1234",
        "hf_FromSettingsOnly123456",
        "pw-from-dotenv-only",
    ):
        assert secret not in out, secret
    assert out.count(logs.REDACTED) >= 12
    assert "redis://:***@redis:6379/0" in out
    assert "https://bob:***@cloud.example" in out
    assert "RuntimeError" in out, "the traceback itself is kept, only the secret is hidden"


def test_ordinary_words_are_not_taken_for_credentials(stream: io.StringIO) -> None:
    logs.setup_logging("INFO", json=False, stream=stream)
    logging.getLogger("x").info("Basic colorize chain; bearer of news; hf_ alone; https://host/a:b")
    assert lines(stream)[0].endswith(
        "Basic colorize chain; bearer of news; hf_ alone; https://host/a:b"
    )


def test_runtime_registered_secret_is_hidden(stream: io.StringIO) -> None:
    logs.setup_logging("INFO", json=True, stream=stream)
    logs.register_secret(SecretStr("late-secret-value"))
    logging.getLogger("x").warning("got late-secret-value from the hub")
    assert "late-secret-value" not in stream.getvalue()


def test_setup_twice_keeps_one_handler(stream: io.StringIO) -> None:
    logs.setup_logging("INFO", json=True, stream=stream)
    logs.setup_logging("INFO", json=True, stream=stream)
    ours = [h for h in logging.getLogger().handlers if h.get_name() == "photo-restore"]
    assert len(ours) == 1
    logging.getLogger("x").info("once")
    assert len(lines(stream)) == 1
