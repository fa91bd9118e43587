"""Our image-to-video requests, compared byte for byte with what huggingface_hub's helpers build.

huggingface_hub 2.x is the oracle only: `get_provider_helper(provider, "image-to-video", model)
.prepare_request(...)` with the Hub mapping fetch monkeypatched to a fixed mapping (no network).
The input is the same JPEG for both sides, labelled as one (`MimeBytes(..., "image/jpeg")`).
Compared: method, URL (path and query), headers, and the JSON body serialised (so key order
and values both count). Deliberate differences, and nothing else:

- `user-agent` names photo-restore, not huggingface_hub (not compared).
- MiniMax-H3 is mapped as `image-text-to-video`, a task huggingface_hub has no helper for;
  its wire format is that of `image-to-video`, so the oracle is shown the same mapping
  under `image-to-video` (huggingface_hub refuses a mapping whose task differs).
- together: huggingface_hub sends the image as given, and together refuses an `input_image`
  over ~60 KB; our client first shrinks the photo for together only (`shrink_to_fit`), and the
  request built from that smaller JPEG is then compared as is.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from huggingface_hub.hf_api import InferenceProviderMapping
from huggingface_hub.inference import _providers
from huggingface_hub.inference._common import MimeBytes
from huggingface_hub.inference._providers import _common, get_provider_helper
from inference_support import ROUTER, TOKEN

from service.inference import VIDEO_ADAPTERS, ImagePayload
from service.inference.base import BuildContext, Request, Route
from service.inference.images import prepare_image
from service.inference.together_video import MAX_IMAGE_CHARS
from service.inference.video import shrink_to_fit
from tests.images import photo

BILL_TO = "my-team"
WAN22 = "Wan-AI/Wan2.2-I2V-A14B"
WAN21 = "Wan-AI/Wan2.1-I2V-14B-480P"
H3 = "MiniMaxAI/MiniMax-H3"
LORA = "someone/wan-gentle-motion-lora"

MAPPINGS: dict[str, list[dict[str, Any]]] = {
    WAN22: [
        {"provider": "fal-ai", "providerId": "fal-ai/wan/v2.2-a14b/image-to-video"},
        {"provider": "wavespeed", "providerId": "wavespeed-ai/wan-2.2/i2v-480p"},
        {"provider": "together", "providerId": "Wan-AI/Wan2.2-I2V-A14B"},
    ],
    WAN21: [{"provider": "wavespeed", "providerId": "wavespeed-ai/wan-2.1/i2v-480p"}],
    H3: [
        {"provider": "fal-ai", "providerId": "minimax/h3/image-to-video"},
        {"provider": "wavespeed", "providerId": "minimax/h3-i2v"},
    ],
    LORA: [
        {
            "provider": "fal-ai",
            "providerId": "fal-ai/wan-i2v-lora",
            "adapter": "lora",
            "adapterWeightsPath": "motion.safetensors",
        }
    ],
}

GENTLE = "A gentle blink and a slight smile; the camera still; the face and background unchanged."
FAL_PARAMS = {
    "prompt": GENTLE,
    "negative_prompt": "morphing, extra fingers",
    "num_frames": 81,
    "frames_per_second": 16,
    "resolution": "480p",
    "num_inference_steps": 27,
    "guidance_scale": 3.5,
    "seed": 7,
    "target_size": {"width": 832, "height": 480},
}
WAVESPEED_PARAMS = {"prompt": GENTLE, "duration": 5, "seed": 11, "negative_prompt": None}
TOGETHER_PARAMS = {
    "prompt": GENTLE,
    "num_inference_steps": 30,
    "target_size": {"width": 832, "height": 480},
    "seconds": "5",
    "fps": 16,
    "guidance_scale": None,
}

CASES = [
    ("fal-ai", WAN22, FAL_PARAMS),
    ("fal-ai", WAN22, {"prompt": None}),
    ("fal-ai", H3, {"prompt": GENTLE, "duration": "6"}),
    ("fal-ai", LORA, {"prompt": GENTLE}),
    ("wavespeed", WAN21, WAVESPEED_PARAMS),
    ("wavespeed", WAN22, {}),
    ("wavespeed", H3, {"prompt": GENTLE}),
    ("together", WAN22, TOGETHER_PARAMS),
    ("together", WAN22, {"prompt": GENTLE, "target_size": {"width": 720}}),
]


def _mapping(model: str) -> list[InferenceProviderMapping]:
    return [
        InferenceProviderMapping(hf_model_id=model, task="image-to-video", status="live", **m)
        for m in MAPPINGS[model]
    ]


@pytest.fixture(autouse=True)
def _offline_oracle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "_fetch_inference_provider_mapping", _mapping)
    monkeypatch.setattr(_providers, "_fetch_inference_provider_mapping", _mapping)


@pytest.fixture
def clip_photo() -> ImagePayload:
    """A real photo-like JPEG of 1 MP, larger than together's input cap."""
    return prepare_image(photo(1200, 900), 1_048_576)


def _route(provider: str, model: str) -> Route:
    m = next(m for m in MAPPINGS[model] if m["provider"] == provider)
    task = "image-text-to-video" if model == H3 else "image-to-video"
    return Route(provider, m["providerId"], model, task, m.get("adapterWeightsPath"))


def _sent(provider: str, image: ImagePayload) -> ImagePayload:
    """What the client hands the adapter: the photo, or for together its shrunk copy."""
    cap = VIDEO_ADAPTERS[provider].max_image_chars
    return shrink_to_fit(image, cap) if cap is not None else image


def _theirs(provider: str, model: str, image: ImagePayload, params: dict[str, Any]) -> Any:
    helper = get_provider_helper(provider, "image-to-video", model)
    return helper.prepare_request(
        inputs=MimeBytes(image.data, image.mime),
        parameters=json.loads(json.dumps(params)),  # their helpers mutate what they are given
        headers={"X-HF-Bill-To": BILL_TO},
        model=model,
        api_key=TOKEN,
    )


def _ours(provider: str, model: str, image: ImagePayload, params: dict[str, Any]) -> Request:
    ctx = BuildContext(router_url=ROUTER, token=TOKEN, bill_to=BILL_TO)
    return VIDEO_ADAPTERS[provider].build(ctx, _route(provider, model), image, dict(params))


@pytest.mark.parametrize(("provider", "model", "params"), CASES)
def test_video_request_matches_huggingface_hub(
    provider: str, model: str, params: dict[str, Any], clip_photo: ImagePayload
) -> None:
    image = _sent(provider, clip_photo)
    theirs = _theirs(provider, model, image, params)
    ours = _ours(provider, model, image, params)

    assert ours.method == "POST"
    assert ours.url == theirs.url  # path and query: ?_subdomain=queue for fal, /v2/videos…
    assert theirs.data is None
    assert ours.content is None

    expected_headers = {k.lower(): v for k, v in theirs.headers.items()}
    expected_headers.pop("user-agent")
    got_headers = {k: v for k, v in ours.headers.items() if k != "user-agent"}
    assert got_headers == expected_headers  # no `accept: image/png` for clips

    assert json.dumps(ours.json) == json.dumps(theirs.json)  # keys, order and values


def test_cases_cover_every_video_adapter() -> None:
    assert {provider for provider, _, _ in CASES} == set(VIDEO_ADAPTERS)


def test_the_image_sent_as_a_data_url_is_the_photo_itself(clip_photo: ImagePayload) -> None:
    fal = _ours("fal-ai", WAN22, clip_photo, {"prompt": GENTLE})
    wavespeed = _ours("wavespeed", WAN21, clip_photo, {"prompt": GENTLE})
    assert fal.json is not None
    assert wavespeed.json is not None
    assert fal.json["image_url"] == clip_photo.data_url()
    assert wavespeed.json["image"] == clip_photo.data_url()
    assert clip_photo.data_url().startswith("data:image/jpeg;base64,")


def test_together_gets_a_jpeg_under_its_input_cap(clip_photo: ImagePayload) -> None:
    assert len(clip_photo.data_url()) > MAX_IMAGE_CHARS  # the case being proven
    request = _ours("together", WAN22, _sent("together", clip_photo), {"prompt": GENTLE})
    assert request.json is not None
    (frame,) = request.json["frame_images"]
    assert frame["frame"] == "first"
    assert frame["input_image"].startswith("data:image/jpeg;base64,")
    assert len(frame["input_image"]) <= MAX_IMAGE_CHARS
