"""arq's limit on one job follows the catalog: a chain of clip models may run longer than the
15 minutes an image chain gets."""

from __future__ import annotations

from service.config.settings import Settings
from service.constants import JOB_LOCAL_SECONDS, JOB_TIMEOUT_SECONDS
from service.runtime.services import load_checked_catalog
from service.runtime.worker import job_timeout, make_worker
from tests.redis_test import redis_url


def test_the_job_timeout_covers_the_slowest_chain_and_never_drops_below_15_minutes() -> None:
    catalog = load_checked_catalog(Settings(hf_token="hf_x"))
    animate = catalog.time_budget(catalog.chains["animate"])
    assert animate > JOB_TIMEOUT_SECONDS  # a clip model's 10 minutes, twice, plus the restoration
    assert job_timeout(catalog) == animate + JOB_LOCAL_SECONDS
    only_images = load_checked_catalog(Settings())
    images = {n: c for n, c in only_images.chains.items() if not c.makes_clip}
    assert all(only_images.time_budget(c) + JOB_LOCAL_SECONDS < animate for c in images.values())


def test_the_worker_registers_the_task_with_that_timeout() -> None:
    settings = Settings(hf_token="hf_x")
    worker = make_worker(settings, redis_url(7), watch=False, handle_signals=False)
    (function,) = worker.functions.values()
    assert function.timeout_s == job_timeout(load_checked_catalog(settings))
