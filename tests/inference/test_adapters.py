"""Our requests, compared field by field with what huggingface_hub's own helpers build.

huggingface_hub is the oracle only: its `prepare_request` is called with the Hub mapping
fetch monkeypatched to a fixed mapping, so no network is used. Deliberate differences:

- all providers: `user-agent` names photo-restore, not huggingface_hub (not compared).
- all providers: `accept: image/png` is in our request; huggingface_hub adds it later, in
  `InferenceClient._inner_post`, for every image task, so it is added to the expectation.
- wavespeed: we also send `images: [image]`; WaveSpeed's Qwen edit endpoints require the array
  (huggingface.js sends it since 2025-11; docs/hf-providers.md §3.4).
- hf-inference, no parameters: we set `content-type: image/jpeg` on the raw bytes;
  huggingface_hub leaves it unset for bytes input.
- replicate: same request; only the answer handling differs (we poll a prediction still
  processing after `Prefer: wait` instead of reporting a timeout).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from huggingface_hub.hf_api import InferenceProviderMapping
from huggingface_hub.inference import _providers
from huggingface_hub.inference._providers import _common, get_provider_helper, hf_inference
from inference_support import ROUTER, TOKEN

from service.inference import ADAPTERS, ImagePayload
from service.inference.base import BuildContext, Request, Route

BILL_TO = "my-team"

MAPPINGS: dict[str, list[dict[str, Any]]] = {
    "black-forest-labs/FLUX.2-dev": [
        {"provider": "fal-ai", "providerId": "fal-ai/flux-2/edit"},
        {"provider": "replicate", "providerId": "black-forest-labs/flux-2-dev"},
        {"provider": "wavespeed", "providerId": "wavespeed-ai/flux-2-dev/edit"},
        {"provider": "together", "providerId": "black-forest-labs/FLUX.2-dev"},
    ],
    "black-forest-labs/FLUX.1-Kontext-dev": [
        {"provider": "together", "providerId": "black-forest-labs/FLUX.1-kontext-dev"},
        {"provider": "replicate", "providerId": "owner/kontext:5f2b1c0ffee"},
    ],
    "someone/restore-lora": [
        {
            "provider": "fal-ai",
            "providerId": "fal-ai/flux-kontext-lora",
            "adapter": "lora",
            "adapterWeightsPath": "restore.safetensors",
        },
    ],
}

PARAMS = {
    "prompt": "Repair the scratches; change nothing else.",
    "negative_prompt": None,
    "target_size": {"width": 1024, "height": 768},
    "num_inference_steps": 28,
    "guidance_scale": 2.5,
    "seed": 7,
}

CASES = [
    ("fal-ai", "black-forest-labs/FLUX.2-dev", PARAMS),
    ("fal-ai", "someone/restore-lora", {"prompt": "restore"}),
    ("replicate", "black-forest-labs/FLUX.2-dev", PARAMS),
    ("replicate", "black-forest-labs/FLUX.1-Kontext-dev", {"prompt": "restore"}),
    ("wavespeed", "black-forest-labs/FLUX.2-dev", PARAMS),
    ("together", "black-forest-labs/FLUX.2-dev", PARAMS),
    ("together", "black-forest-labs/FLUX.1-Kontext-dev", PARAMS),
    ("hf-inference", "caidas/swin2SR-classical-sr-x2-64", {"guidance_scale": 1.0}),
    ("hf-inference", "caidas/swin2SR-classical-sr-x2-64", {}),
]


def _mapping(model: str) -> list[InferenceProviderMapping]:
    return [
        InferenceProviderMapping(hf_model_id=model, task="image-to-image", status="live", **m)
        for m in MAPPINGS[model]
    ]


@pytest.fixture(autouse=True)
def _offline_oracle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "_fetch_inference_provider_mapping", _mapping)
    monkeypatch.setattr(_providers, "_fetch_inference_provider_mapping", _mapping)
    monkeypatch.setattr(hf_inference, "_check_supported_task", lambda model, task: None)


def _route(provider: str, model: str) -> Route:
    if provider == "hf-inference":
        return Route(provider, model, model)
    m = next(m for m in MAPPINGS[model] if m["provider"] == provider)
    return Route(provider, m["providerId"], model, adapter_weights_path=m.get("adapterWeightsPath"))


def _theirs(provider: str, model: str, image: ImagePayload, params: dict[str, Any]):
    helper = get_provider_helper(provider, "image-to-image", model)
    return helper.prepare_request(
        inputs=image.data,
        parameters=dict(params),
        headers={"X-HF-Bill-To": BILL_TO},
        model=model,
        api_key=TOKEN,
    )


def _ours(provider: str, model: str, image: ImagePayload, params: dict[str, Any]) -> Request:
    ctx = BuildContext(router_url=ROUTER, token=TOKEN, bill_to=BILL_TO)
    return ADAPTERS[provider].build(ctx, _route(provider, model), image, dict(params))


def _body(req: Any) -> Any:
    if getattr(req, "json", None) is not None:
        return req.json
    raw = req.data if hasattr(req, "data") else req.content
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return bytes(raw)


@pytest.mark.parametrize(("provider", "model", "params"), CASES)
def test_request_matches_huggingface_hub(
    provider: str, model: str, params: dict[str, Any], payload: ImagePayload
) -> None:
    theirs = _theirs(provider, model, payload, params)
    ours = _ours(provider, model, payload, params)

    assert ours.method == "POST"
    assert ours.url == theirs.url  # path and query, e.g. ?_subdomain=queue for fal

    expected_headers = {k.lower(): v for k, v in theirs.headers.items()}
    expected_headers["accept"] = "image/png"  # added by huggingface_hub's _inner_post
    expected_headers.pop("user-agent")
    got_headers = {k: v for k, v in ours.headers.items() if k != "user-agent"}
    if provider == "hf-inference" and not params:
        assert got_headers.pop("content-type") == "image/jpeg"  # deliberate, see module doc
    assert got_headers == expected_headers

    expected_body = _body(theirs)
    if provider == "wavespeed":
        expected_body["images"] = [expected_body["image"]]  # deliberate, see module doc
    assert _body(ours) == expected_body


def test_cases_cover_every_adapter() -> None:
    assert {provider for provider, _, _ in CASES} == set(ADAPTERS)
