"""models.toml's clip models and chains: a model step is a video step when its model makes
clips, clip terms are required where they belong and refused elsewhere, `restore_with` names
the chain run first and is resolved per process, and a clip chain cannot run without a token."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config.catalog import Catalog, parse_catalog
from service.config.settings import Settings
from service.errors import ConfigError
from service.runtime.services import load_checked_catalog

OPS = ["auto_orient", "denoise", "upscale"]
BASE = """
default_chain = "remote"
[models.edit]
repo = "owner/edit"
price_usd = 0.03
[models.wan]
repo = "Wan-AI/Wan2.2-I2V-A14B"
task = "image-to-video"
duration = 5.0
price_per_second = 0.04
[models.wan.provider_parameters.fal-ai]
num_frames = 81
[chains.classic]
[[chains.classic.steps]]
op = "auto_orient"
[chains.remote]
fidelity = { faithful = { guidance_scale = 1.5 } }
[[chains.remote.steps]]
op = "denoise"
[[chains.remote.steps]]
model = "edit"
[chains.alive]
restore_with = "default"
[[chains.alive.steps]]
model = "wan"
"""


def parse(text: str) -> Catalog:
    return parse_catalog(text, Path("models.toml"), local_ops=OPS)


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        parse(text)
    return str(err.value)


def test_a_step_naming_a_clip_model_is_a_video_step_with_a_video_output() -> None:
    c = parse(BASE)
    (step,) = c.chains["alive"].steps
    assert step.kind == "video"
    assert step.output == "video"
    assert c.chains["alive"].makes_clip
    assert c.chains["remote"].steps[1].kind == "remote"
    assert c.models["wan"].makes_clips
    assert c.models["wan"].clip_cost == 0.2
    assert c.models["wan"].parameters_for("fal-ai") == {"num_frames": 81}
    assert c.models["wan"].parameters_for("wavespeed") == {}


@pytest.mark.parametrize(
    ("snippet", "key", "expected"),
    [
        ('kind = "remote"\nmodel = "wan"', "steps[0].kind", "video (the model makes clips)"),
        ('kind = "video"\nmodel = "edit"', "steps[0].kind", "remote (the model makes images)"),
        ('model = "wan"\nfallback = "upscale"', "steps[0].fallback", "no fallback"),
    ],
)
def test_a_step_that_mismatches_its_model_is_refused(snippet: str, key: str, expected: str) -> None:
    message = refused(BASE + f"[[chains.y.steps]]\n{snippet}\n")
    assert f"chains.y.{key}" in message
    assert expected in message


def test_a_clip_step_must_come_last() -> None:
    text = BASE + '[[chains.y.steps]]\nmodel = "wan"\n[[chains.y.steps]]\nop = "denoise"\n'
    assert "only the last step may output video" in refused(text)


@pytest.mark.parametrize(
    ("model", "key", "expected"),
    [
        ('task = "image-to-video"', "models.x.duration", "the clip's length in seconds"),
        ('task = "image-to-video"\nduration = 5\nprice_usd = 0.2', "price_usd", "price_per_second"),
        ('task = "image-to-video"\nduration = 5\nprovider = "replicate"', "provider", "fal-ai"),
        ('task = "image-to-video"\nduration = 5\nendpoint = "https://e.x"', "endpoint", "router"),
        ("duration = 5", "models.x.duration", "a key of clip models only"),
        ("strip_audio = true", "models.x.strip_audio", "a key of clip models only"),
        ('task = "image-to-video"\nduration = 5\nstrip_audio = "yes"', "strip_audio", "true or"),
        (
            "[models.x.provider_parameters]\nacme = {a = 1}",
            "provider_parameters.acme",
            "per provider",
        ),
    ],
)
def test_clip_terms_are_required_on_clip_models_and_refused_elsewhere(
    model: str, key: str, expected: str
) -> None:
    message = refused(BASE + f'[models.x]\nrepo = "a/b"\n{model}\n')
    assert key in message
    assert expected in message


def test_a_clip_chain_names_an_image_format_for_its_photo_not_mp4() -> None:
    text = BASE.replace(
        'restore_with = "default"', 'restore_with = "default"\noutput_format = "MP4"'
    )
    message = refused(text)
    assert "chains.alive.output_format" in message
    assert "the photo's format; the clip beside it is always MP4" in message
    ok = BASE.replace('restore_with = "default"', 'restore_with = "default"\noutput_format = "PNG"')
    assert parse(ok).chains["alive"].output_format == "PNG"


@pytest.mark.parametrize(
    ("target", "expected"),
    [("ghost", "'default' or a chain of images"), ("alive", "a chain of images")],
)
def test_restore_with_names_the_default_or_a_plain_chain(target: str, expected: str) -> None:
    text = (
        BASE + f'[chains.more]\nrestore_with = "{target}"\n[[chains.more.steps]]\nmodel = "wan"\n'
    )
    message = refused(text)
    assert "chains.more.restore_with" in message
    assert expected in message


def test_the_offline_chain_restores_with_nothing_first() -> None:
    text = BASE.replace(
        "[[chains.classic.steps]]", 'restore_with = "remote"\n[[chains.classic.steps]]'
    )
    assert "the offline chain runs alone" in refused(text)


def test_restore_with_default_is_the_default_chain_with_a_token_and_offline_without() -> None:
    c = parse(BASE)
    with_token = c.resolved(has_token=True).chains["alive"]
    assert [s.name for s in with_token.steps] == ["denoise", "edit", "wan"]
    assert (with_token.base, with_token.base_steps) == ("remote", 2)
    assert with_token.fidelity == {"faithful": {"guidance_scale": 1.5}}
    offline = c.resolved(has_token=False).chains["alive"]
    assert [s.name for s in offline.steps] == ["auto_orient", "wan"]
    assert offline.base == "classic"
    chosen = c.resolved(has_token=True, requested="classic").chains["alive"]
    assert chosen.base == "classic"  # DEFAULT_CHAIN picks the restoration
    itself = c.resolved(has_token=True, requested="alive").chains["alive"]
    assert itself.base == "remote"  # …unless it is a clip chain itself


def test_a_clip_chain_cannot_run_without_a_token_and_says_why() -> None:
    c = parse(BASE)
    (reason,) = c.missing_for(c.chains["alive"], has_token=False)
    assert (
        "model wan (Wan-AI/Wan2.2-I2V-A14B) makes clips through the Hugging Face router" in reason
    )
    assert "no clip can be made offline" in reason
    assert c.missing_for(c.resolved(has_token=True).chains["alive"], has_token=True) == []


def test_what_a_run_costs_is_the_price_per_call_plus_the_clip_seconds() -> None:
    c = parse(BASE).resolved(has_token=True)
    assert c.costs(c.chains["alive"]) == [
        ("edit", 0.03, "per call"),
        ("wan", 0.2, "$0.04/s × 5 s"),
    ]
    assert c.costs(c.chains["classic"]) == []


def test_a_clip_chain_may_take_longer_than_an_image_chain() -> None:
    c = parse(BASE.replace("duration = 5.0", "duration = 5.0\ntimeout = 900")).resolved(
        has_token=True
    )
    assert c.time_budget(c.chains["remote"]) == 2 * 180 + 30
    assert c.time_budget(c.chains["alive"]) == (2 * 180 + 30) + (2 * 900 + 30)


def test_the_shipped_animate_chain_restores_then_animates() -> None:
    with_token = load_checked_catalog(Settings(hf_token="hf_x"))
    animate = with_token.chains["animate"]
    assert animate.base == "restore"
    assert [s.kind for s in animate.steps][-2:] == ["local", "video"]
    for name in ("wan22-i2v", "wan21-i2v", "minimax-h3"):
        model = with_token.models[name]
        assert model.makes_clips
        assert model.duration
        assert model.price_per_second
        assert "camera stays completely still" in (model.prompt or "")
    assert with_token.models["minimax-h3"].task == "image-text-to-video"
    assert with_token.models["minimax-h3"].strip_audio
    assert with_token.models["wan21-i2v"].repo == "Wan-AI/Wan2.1-I2V-14B-480P"
    offline = load_checked_catalog(Settings())
    assert offline.chains["animate"].base == "classic"
    assert offline.missing_for(offline.chains["animate"], has_token=False)
