"""One retry policy for every client: attempts counted from 1, backoff, the server's hint."""

from __future__ import annotations

import time
from email.utils import formatdate

import httpx
import pytest

from service.errors import StorageUnavailable
from service.httpdate import parse_http_date
from service.inference.policy import retry_after
from service.retry import RetryPolicy, attempts, parse_retry_after
from service.storage.webdav.client import error_for

STEADY = RetryPolicy(attempts=4, base=1.0, factor=2.0, max_delay=5.0, max_wait=30.0, jitter=0.0)


class Sleeps:
    """A sleep that only records."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_backoff_grows_from_the_first_try_and_is_capped() -> None:
    assert [STEADY.delay(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_servers_hint_is_a_floor_and_is_capped() -> None:
    assert STEADY.delay(1, 7.0) == 7.0
    assert STEADY.delay(3, 0.5) == 4.0  # a short hint does not shorten the backoff
    assert RetryPolicy(jitter=0.0, max_hint=60.0).delay(1, 600.0) == 60.0


def test_jitter_stays_within_its_share() -> None:
    policy = RetryPolicy(base=10.0, max_delay=100.0, jitter=0.25)
    waits = [policy.delay(1) for _ in range(200)]
    assert min(waits) >= 7.5
    assert max(waits) <= 12.5
    assert len(set(waits)) > 1


def test_no_wait_once_the_tries_are_spent_or_the_wait_is_too_long() -> None:
    assert STEADY.next_wait(3) == 4.0
    assert STEADY.next_wait(4) is None  # the fourth try was the last
    assert STEADY.next_wait(1, retry_after=31.0) is None  # longer than max_wait
    assert STEADY.next_wait(2, budget=1.5) is None  # more than the time left


async def test_attempts_run_every_try_and_sleep_only_between_them() -> None:
    sleeps = Sleeps()
    tried = []
    for attempt in attempts(STEADY, sleep=sleeps):
        tried.append(attempt.number)
        if not await attempt.again():
            break
    assert tried == [1, 2, 3, 4]
    assert sleeps.waits == [1.0, 2.0, 4.0]


async def test_a_success_ends_the_attempts() -> None:
    sleeps = Sleeps()
    tried = []
    for attempt in attempts(STEADY, sleep=sleeps):
        tried.append(attempt.number)
        if attempt.number == 2:
            break
        assert await attempt.again(retry_after=3.0)
    assert tried == [1, 2]
    assert sleeps.waits == [3.0]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("7", 7.0), (" 120 ", 120.0), ("1.5", 1.5), ("-3", 0.0), ("inf", None), ("nan", None)],
)
def test_retry_after_in_seconds(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_retry_after_as_an_http_date() -> None:
    later = parse_retry_after(formatdate(time.time() + 120, usegmt=True))
    assert later is not None
    assert 110 <= later <= 121
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT") == 0.0  # already past
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    "value",
    ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"],
)
def test_http_dates_in_each_form_servers_send(value: str) -> None:
    assert parse_http_date(value) == 784111777.0


def test_both_clients_read_retry_after_alike() -> None:
    date = formatdate(time.time() + 60, usegmt=True)
    for value in ("7", date):
        response = httpx.Response(503, headers={"Retry-After": value})
        storage = error_for(response, "PROPFIND /")
        assert isinstance(storage, StorageUnavailable)
        provider = retry_after(response)
        assert storage.retry_after is not None
        assert provider is not None
        assert abs(storage.retry_after - provider) < 1.0
