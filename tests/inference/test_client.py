"""Every branch of the error policy, against a mocked router (pytest-httpx), on a fake clock."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from inference_support import HUB, ROUTER, TOKEN, FakeClock, png_bytes
from pytest_httpx import HTTPXMock

from service.config.catalog import ModelSpec
from service.errors import (
    ModelNotServed,
    PaymentRequired,
    ProviderDown,
    ProviderRejected,
    ProviderUnavailable,
)
from service.inference import ImagePayload, InferenceClient

REPO = "black-forest-labs/FLUX.2-dev"
FAL = f"{ROUTER}/fal-ai/fal-ai/flux-2/edit?_subdomain=queue"
FAL_REQ = f"{ROUTER}/fal-ai/fal-ai/flux-2/requests/r1"
REPLICATE = f"{ROUTER}/replicate/v1/models/black-forest-labs/flux-2-dev/predictions"
WAVESPEED = f"{ROUTER}/wavespeed/api/v3/wavespeed-ai/flux-2-dev/edit"
TOGETHER = f"{ROUTER}/together/v1/images/generations"
CDN = "https://cdn.example/out.png"
PNG = png_bytes()
PARAMS = {"prompt": "restore", "guidance_scale": 2.5}

Make = Callable[..., InferenceClient]


def spec(provider: str = "auto", timeout: float = 60.0) -> ModelSpec:
    return ModelSpec(name="m", repo=REPO, provider=provider, timeout=timeout)


def hub(httpx_mock: HTTPXMock, mapping: dict[str, str], **entry: Any) -> None:
    body = {
        "id": REPO,
        "inferenceProviderMapping": {
            p: {"status": "live", "providerId": pid, "task": "image-to-image", **entry}
            for p, pid in mapping.items()
        },
    }
    httpx_mock.add_response(
        method="GET", url=f"{HUB}/api/models/{REPO}?expand[]=inferenceProviderMapping", json=body
    )


FAL_QUEUE_REQ = "https://queue.fal.run/fal-ai/flux-2/requests/r1"


def fal_queued(httpx_mock: HTTPXMock, **extra: str) -> None:
    """The Hub maps the model to fal-ai, whose queue accepts request r1."""
    hub(httpx_mock, {"fal-ai": "fal-ai/flux-2/edit"})
    body = {"request_id": "r1", "status": "IN_QUEUE", "response_url": FAL_QUEUE_REQ, **extra}
    httpx_mock.add_response(method="POST", url=FAL, json=body)


def replicate_ok(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="POST",
        url=REPLICATE,
        status_code=201,
        json={"id": "p1", "status": "succeeded", "output": [CDN]},
    )
    httpx_mock.add_response(method="GET", url=CDN, content=PNG)


async def test_429_is_retried_after_the_servers_retry_after(
    httpx_mock: HTTPXMock, make_client: Make, clock: FakeClock, payload: ImagePayload
) -> None:
    hub(httpx_mock, {"replicate": "black-forest-labs/flux-2-dev"})
    httpx_mock.add_response(
        method="POST",
        url=REPLICATE,
        status_code=429,
        headers={"retry-after": "7"},
        json={"error": "slow down"},
    )
    replicate_ok(httpx_mock)
    result = await make_client().image_to_image(spec(), payload, PARAMS)
    assert result.data == PNG
    assert result.provider == "replicate"
    assert clock.sleeps == [7.0]
    assert result.retries == 1


async def test_503_twice_then_success(
    httpx_mock: HTTPXMock, make_client: Make, clock: FakeClock, payload: ImagePayload
) -> None:
    hub(httpx_mock, {"together": "black-forest-labs/FLUX.2-dev"})
    for _ in range(2):
        httpx_mock.add_response(
            method="POST", url=TOGETHER, status_code=503, json={"error": "overloaded"}
        )
    httpx_mock.add_response(
        method="POST", url=TOGETHER, json={"data": [{"b64_json": base64.b64encode(PNG).decode()}]}
    )
    result = await make_client().image_to_image(spec(), payload, PARAMS)
    assert result.data == PNG
    assert clock.sleeps == [1.0, 2.0]  # exponential backoff, no hint from the server
    assert result.retries == 2


async def test_timeouts_are_retried_like_5xx(
    httpx_mock: HTTPXMock, make_client: Make, payload: ImagePayload
) -> None:
    hub(httpx_mock, {"replicate": "black-forest-labs/flux-2-dev"})
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), method="POST", url=REPLICATE)
    replicate_ok(httpx_mock)
    result = await make_client().image_to_image(spec(), payload, PARAMS)
    assert result.retries == 1


async def test_402_on_the_first_provider_is_answered_by_the_second(
    httpx_mock: HTTPXMock, make_client: Make, clock: FakeClock, payload: ImagePayload
) -> None:
    hub(httpx_mock, {"fal-ai": "fal-ai/flux-2/edit", "replicate": "black-forest-labs/flux-2-dev"})
    httpx_mock.add_response(
        method="POST",
        url=FAL,
        status_code=402,
        json={"error": "Pay-as-you go is not enabled for provider fal-ai yet."},
    )
    replicate_ok(httpx_mock)
    result = await make_client().image_to_image(spec(), payload, PARAMS)
    assert result.provider == "replicate"
    assert "fal-ai" in result.note
    assert clock.sleeps == []  # a 402 is not waited on


async def test_402_everywhere_is_permanent_and_says_why(
    httpx_mock: HTTPXMock, make_client: Make, payload: ImagePayload
) -> None:
    hub(httpx_mock, {"fal-ai": "fal-ai/flux-2/edit"})
    httpx_mock.add_response(
        method="POST",
        url=FAL,
        status_code=402,
        json={"error": "You have exceeded your monthly included credits"},
    )
    with pytest.raises(PaymentRequired, match="monthly included credits"):
        await make_client().image_to_image(spec(), payload, PARAMS)


async def test_422_is_permanent_with_the_providers_message_and_request_id(
    httpx_mock: HTTPXMock, make_client: Make, clock: FakeClock, payload: ImagePayload
) -> None:
    hub(httpx_mock, {"fal-ai": "fal-ai/flux-2/edit", "replicate": "black-forest-labs/flux-2-dev"})
    httpx_mock.add_response(
        method="POST",
        url=FAL,
        status_code=422,
        headers={"x-request-id": "Root=1-abc"},
        json={
            "detail": [{"loc": ["body", "image_url"], "msg": "Field required", "type": "missing"}]
        },
    )
    with pytest.raises(ProviderRejected) as info:
        await make_client().image_to_image(spec(), payload, PARAMS)
    assert not isinstance(info.value, ModelNotServed | PaymentRequired)
    assert info.value.status == 422
    assert info.value.request_id == "Root=1-abc"
    assert "image_url: Field required" in str(info.value)
    assert clock.sleeps == []  # neither retried nor sent to replicate


async def test_fal_queue_is_polled_to_completion_then_downloaded_without_the_token(
    httpx_mock: HTTPXMock, make_client: Make, clock: FakeClock, payload: ImagePayload
) -> None:
    fal_queued(httpx_mock, status_url=f"{FAL_QUEUE_REQ}/status")
    for status, code in (("IN_QUEUE", 202), ("IN_PROGRESS", 202), ("COMPLETED", 200)):
        httpx_mock.add_response(
            method="GET",
            url=f"{FAL_REQ}/status?_subdomain=queue",
            status_code=code,
            json={"status": status},
        )
    httpx_mock.add_response(
        method="GET",
        url=f"{FAL_REQ}?_subdomain=queue",
        json={"images": [{"url": CDN, "content_type": "image/png"}]},
    )
    httpx_mock.add_response(method="GET", url=CDN, content=PNG)

    result = await make_client().image_to_image(spec(), payload, PARAMS)

    assert result.data == PNG
    assert result.provider == "fal-ai"
    assert clock.sleeps == [0.5, 0.5, 0.5]
    requests = httpx_mock.get_requests()
    assert [r.method for r in requests] == ["GET", "POST", "GET", "GET", "GET", "GET", "GET"]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in requests[1:6])
    assert "authorization" not in requests[-1].headers  # the CDN is a third party


async def test_wavespeed_failed_task_is_an_explained_failure(
    httpx_mock: HTTPXMock, make_client: Make, payload: ImagePayload
) -> None:
    hub(httpx_mock, {"wavespeed": "wavespeed-ai/flux-2-dev/edit"})
    httpx_mock.add_response(
        method="POST",
        url=WAVESPEED,
        json={
            "code": 200,
            "message": "success",
            "data": {
                "id": "w1",
                "status": "created",
                "urls": {"get": "https://api.wavespeed.ai/api/v3/predictions/w1/result"},
            },
        },
    )
    poll = f"{ROUTER}/wavespeed/api/v3/predictions/w1/result"
    httpx_mock.add_response(
        method="GET", url=poll, json={"code": 200, "data": {"id": "w1", "status": "processing"}}
    )
    httpx_mock.add_response(
        method="GET",
        url=poll,
        json={"code": 200, "data": {"id": "w1", "status": "failed", "error": "image too small"}},
    )
    with pytest.raises(ProviderRejected, match="wavespeed: task failed: image too small"):
        await make_client().image_to_image(spec(), payload, PARAMS)


async def test_replicate_still_processing_after_wait_is_polled(
    httpx_mock: HTTPXMock, make_client: Make, payload: ImagePayload
) -> None:
    hub(httpx_mock, {"replicate": "black-forest-labs/flux-2-dev"})
    httpx_mock.add_response(
        method="POST",
        url=REPLICATE,
        status_code=201,
        json={"id": "p9", "status": "processing", "output": None},
    )
    poll = f"{ROUTER}/replicate/v1/predictions/p9"
    httpx_mock.add_response(method="GET", url=poll, json={"id": "p9", "status": "processing"})
    httpx_mock.add_response(
        method="GET", url=poll, json={"id": "p9", "status": "succeeded", "output": CDN}
    )
    httpx_mock.add_response(method="GET", url=CDN, content=PNG)
    result = await make_client().image_to_image(spec(), payload, PARAMS)
    assert result.data == PNG


async def test_replicate_failed_prediction_surfaces_its_error(
    httpx_mock: HTTPXMock, make_client: Make, payload: ImagePayload
) -> None:
    hub(httpx_mock, {"replicate": "black-forest-labs/flux-2-dev"})
    httpx_mock.add_response(
        method="POST",
        url=REPLICATE,
        status_code=201,
        json={"id": "p2", "status": "failed", "output": None, "error": "NSFW content detected"},
    )
    with pytest.raises(ProviderRejected, match="NSFW content detected"):
        await make_client().image_to_image(spec(), payload, PARAMS)


async def test_deadline_exceeded_is_transient_not_a_hung_worker(
    httpx_mock: HTTPXMock, make_client: Make, clock: FakeClock, payload: ImagePayload
) -> None:
    fal_queued(httpx_mock)  # no status_url: the client derives it from the request id
    httpx_mock.add_response(
        method="GET",
        url=f"{FAL_REQ}/status?_subdomain=queue",
        status_code=202,
        json={"status": "IN_QUEUE"},
        is_reusable=True,
    )
    started = clock.now
    with pytest.raises(ProviderUnavailable, match="before the deadline") as info:
        await make_client().image_to_image(spec(timeout=5.0), payload, PARAMS)
    assert not isinstance(info.value, ProviderDown)  # paid already: no failover, retry the job
    assert clock.now - started <= 5.0


async def test_model_not_supported_drops_the_cached_mapping_and_tries_the_next(
    httpx_mock: HTTPXMock, make_client: Make, payload: ImagePayload
) -> None:
    hub(httpx_mock, {"fal-ai": "fal-ai/flux-2/edit", "replicate": "black-forest-labs/flux-2-dev"})
    httpx_mock.add_response(
        method="POST",
        url=FAL,
        status_code=400,
        json={"error": "Model not supported by provider fal-ai"},
    )
    replicate_ok(httpx_mock)
    client = make_client()
    result = await client.image_to_image(spec(), payload, PARAMS)
    assert result.provider == "replicate"
    # The stale mapping is gone: the next call asks the Hub again.
    hub(httpx_mock, {"replicate": "black-forest-labs/flux-2-dev"})
    replicate_ok(httpx_mock)
    await client.image_to_image(spec(), payload, PARAMS)
    assert client.mapping.fetches == 2


async def test_5xx_everywhere_ends_transient_after_bounded_attempts(
    httpx_mock: HTTPXMock, make_client: Make, clock: FakeClock, payload: ImagePayload
) -> None:
    hub(httpx_mock, {"fal-ai": "fal-ai/flux-2/edit", "replicate": "black-forest-labs/flux-2-dev"})
    httpx_mock.add_response(
        method="POST",
        url=FAL,
        status_code=503,
        is_reusable=True,
        json={"error": "runner_scheduling_failure"},
    )
    httpx_mock.add_response(method="POST", url=REPLICATE, status_code=502, is_reusable=True)
    with pytest.raises(ProviderUnavailable, match="every provider failed"):
        await make_client().image_to_image(spec(), payload, PARAMS)
    assert len(httpx_mock.get_requests(method="POST")) == 8  # 4 attempts on each provider


async def test_a_long_retry_after_ends_the_call_for_a_later_retry(
    httpx_mock: HTTPXMock, make_client: Make, clock: FakeClock, payload: ImagePayload
) -> None:
    hub(httpx_mock, {"replicate": "black-forest-labs/flux-2-dev"})
    httpx_mock.add_response(
        method="POST", url=REPLICATE, status_code=429, headers={"retry-after": "600"}
    )
    with pytest.raises(ProviderUnavailable) as info:
        await make_client().image_to_image(spec(), payload, PARAMS)
    assert info.value.retry_after == 600.0
    assert clock.sleeps == []


async def test_no_live_mapping_for_the_task_means_not_served(
    httpx_mock: HTTPXMock, make_client: Make, payload: ImagePayload
) -> None:
    hub(httpx_mock, {"fal-ai": "fal-ai/flux-2", "replicate": "x/y"}, status="error")
    with pytest.raises(ModelNotServed):
        await make_client().image_to_image(spec(), payload, PARAMS)


async def test_dedicated_endpoint_gets_raw_bytes_and_no_mapping_lookup(
    httpx_mock: HTTPXMock, make_client: Make, payload: ImagePayload
) -> None:
    endpoint = "https://sr.endpoints.huggingface.cloud"
    httpx_mock.add_response(
        method="POST", url=endpoint, content=PNG, headers={"content-type": "image/png"}
    )
    model = ModelSpec(name="sr", repo="caidas/swin2SR-classical-sr-x2-64", endpoint=endpoint)
    result = await make_client().image_to_image(model, payload, {})
    request = httpx_mock.get_request()
    assert request is not None
    assert request.content == payload.data
    assert request.headers["content-type"] == "image/jpeg"
    assert result.data == PNG
    assert result.provider == "hf-inference"


def test_the_token_never_shows_in_reprs(make_client: Make) -> None:
    client = make_client()
    assert TOKEN not in repr(client)
    assert TOKEN not in repr(client.ctx)
