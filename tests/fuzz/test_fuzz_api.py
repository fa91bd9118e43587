"""The JSON API fuzzed against its own OpenAPI description (schemathesis): a live server the
test starts, signed in, with a fixed number of derandomized examples per operation, so the run
is bounded and the same every time. Whatever schemathesis sends, no answer is a 5xx."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.web.live import PASSWORD, LiveServer, make_settings

EXAMPLES = 12  # per operation: about 200 requests in all, a few seconds


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # hypothesis keeps caches in ./.hypothesis unless told otherwise: the checkout stays clean.
    set_hypothesis_home_dir(str(tmp_path_factory.mktemp("hypothesis")))
    data = tmp_path_factory.mktemp("fuzz") / "data"
    (data / "Family" / "to-restore").mkdir(parents=True)
    client = redis.Redis.from_url(make_settings(data).redis_url or "")
    client.flushdb()
    server = LiveServer(make_settings(data, webhook_secret="fuzz-secret"), worker=False).start()
    yield server
    server.stop()
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def signed_in(live: LiveServer) -> tuple[requests.Session, str]:
    session = requests.Session()
    html = session.get(live.url + "/login", timeout=10).text
    field = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert field is not None
    r = session.post(
        live.url + "/login",
        data={"password": PASSWORD, "csrf_token": field.group(1), "next": "/"},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 303
    page = session.get(live.url + "/", timeout=10).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert token is not None
    return session, token.group(1)


@pytest.fixture(scope="module")
def api_schema(live: LiveServer, signed_in: tuple[requests.Session, str]) -> Any:
    """The description the app serves; valid and invalid data both ("mode": "all")."""
    document = signed_in[0].get(live.url + "/api/openapi.json", timeout=10).json()
    config = schemathesis.Config.from_dict({"generation": {"mode": "all"}})
    return schemathesis.openapi.from_dict(document, config=config)


STREAMS = {"GET /api/events"}  # server-sent events: an answer that never ends by design


def _operations(api_schema: Any) -> list[Any]:
    ops = [result.ok() for result in api_schema.get_all_operations()]
    return [op for op in ops if op.label not in STREAMS]


# schemathesis's pytest plugin needs pytest internals that pytest 9 no longer has: the cases
# are drawn with hypothesis directly, one bounded, derandomized search per operation and mode.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_the_api_describes_ends_in_a_server_error(
    api_schema: Any, live: LiveServer, signed_in: tuple[requests.Session, str], mode: Any
) -> None:
    session, token = signed_in
    seen: list[str] = []
    for operation in _operations(api_schema):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            response = case.call(
                base_url=live.url, session=session, headers={"x-csrf-token": token}, timeout=30
            )
            assert response.status_code < 500, (case.method, case.path, response.text[:300])

        try:
            call()
        except Unsatisfiable:  # nothing to make invalid (no body, no parameter)
            assert mode is GenerationMode.NEGATIVE
        seen.append(operation.label)
    assert len(seen) >= 12  # every operation of the description was fuzzed
