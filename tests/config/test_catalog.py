"""models.toml: mistakes are reported with file, key and expectation; new step kinds fit."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import catalog as cat
from service.config.catalog import StepKind, load_catalog, parse_catalog
from service.errors import ConfigError
from service.pipeline import registry

REPO = Path(__file__).resolve().parents[2]
OPS = ["auto_orient", "denoise", "upscale"]

BASE = """
[models.m]
repo = "owner/model"
[chains.classic]
title = "Classic"
[[chains.classic.steps]]
op = "auto_orient"
"""


def parse(text: str) -> cat.Catalog:
    return parse_catalog(text, Path("models.toml"), local_ops=OPS)


def test_shipped_catalog_loads_with_every_op_registered() -> None:
    c = load_catalog(REPO / "models.toml", local_ops=registry.names())
    for name in ("classic", "restore", "restore-color", "faces", "upscale"):
        assert name in c.chains
    assert c.offline_chain == "classic"
    assert not c.chains["classic"].remote_models()


def test_default_is_classic_without_token_and_restore_with_one() -> None:
    c = load_catalog(REPO / "models.toml", local_ops=registry.names())
    assert c.choose_default(None, has_token=False) == "classic"
    assert c.choose_default(None, has_token=True) == "restore"
    assert c.choose_default("faces", has_token=False) == "faces"
    with pytest.raises(ConfigError, match="unknown chain 'nope'"):
        c.choose_default("nope", has_token=True)


@pytest.mark.parametrize(
    ("snippet", "key", "expected"),
    [
        ('[models.x]\nrepo = "no-slash"\n', "models.x.repo", "owner/name"),
        ('[models.x]\nrepo = "a/b"\nprovider = "acme"\n', "models.x.provider", "one of auto"),
        ('[models.x]\nrepo = "a/b"\nmax_pixels = "big"\n', "models.x.max_pixels", "a number"),
        ('[models.x]\nrepo = "a/b"\ncolour = 1\n', "models.x.colour", "one of the keys"),
        ("[chains.y]\nsteps = []\n", "chains.y.steps", "non-empty array"),
        ('[[chains.y.steps]]\nop = "sharpen_more"\n', "chains.y.steps[0].op", "built-in operation"),
        ('[[chains.y.steps]]\nmodel = "ghost"\n', "chains.y.steps[0].model", "a model defined"),
        ('[[chains.y.steps]]\nop = "denoise"\nmodel = "m"\n', "chains.y.steps[0]", "exactly one"),
        ('[[chains.y.steps]]\nkind = "teleport"\nop = "x"\n', "chains.y.steps[0].kind", "one of"),
    ],
)
def test_mistakes_name_file_key_and_expectation(snippet: str, key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(BASE + snippet)
    msg = str(err.value)
    assert msg.startswith("models.toml: ")
    assert key in msg
    assert expected in msg


def test_invalid_toml_is_reported_with_the_file() -> None:
    with pytest.raises(ConfigError, match=r"models\.toml: not valid TOML"):
        parse("[chains\n")


def test_offline_chain_must_be_local_only() -> None:
    text = BASE.replace(
        "[[chains.classic.steps]]\nop", '[[chains.classic.steps]]\nmodel = "m"\n#op'
    )
    with pytest.raises(ConfigError, match="offline_chain: expected a chain with only local"):
        parse(text)


def test_a_new_step_kind_is_an_addition(monkeypatch: pytest.MonkeyPatch) -> None:
    # A kind with a key of its own that outputs something other than an image.
    monkeypatch.setitem(cat.STEP_KINDS, "morph", StepKind("morph", "motion", output="video"))
    c = parse(
        BASE + "[chains.alive]\n[[chains.alive.steps]]\n"
        'op = "auto_orient"\n[[chains.alive.steps]]\nmotion = "wan-i2v"\n'
    )
    chain = c.chains["alive"]
    assert chain.steps[-1].kind == "morph"
    assert chain.output == "video"
    # …and only as the last step: a clip cannot feed an image step.
    with pytest.raises(ConfigError, match="only the last step"):
        parse(BASE + '[[chains.bad.steps]]\nmotion = "wan"\n[[chains.bad.steps]]\nop = "denoise"\n')


def test_a_gif_output_is_refused_with_the_formats_that_can_be_written() -> None:
    with pytest.raises(ConfigError) as info:
        parse(
            BASE.replace(
                "[[chains.classic.steps]]", 'output_format = "GIF"\n[[chains.classic.steps]]'
            )
        )
    message = str(info.value)
    assert "models.toml: chains.classic.output_format: expected one of JPEG, PNG" in message
    assert "256 colours" in message
    assert "got 'GIF'" in message


def test_a_clip_format_for_a_chain_of_images_is_refused() -> None:
    text = BASE.replace(
        "[[chains.classic.steps]]", 'output_format = "MP4"\n[[chains.classic.steps]]'
    )
    with pytest.raises(ConfigError, match="no step of this chain produces"):
        parse(text)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "WEBP"])
def test_an_image_chain_may_name_an_image_format(fmt: str) -> None:
    text = BASE.replace(
        "[[chains.classic.steps]]", f'output_format = "{fmt}"\n[[chains.classic.steps]]'
    )
    assert parse(text).chains["classic"].output_format == fmt


def test_an_unknown_format_is_refused() -> None:
    text = BASE.replace(
        "[[chains.classic.steps]]", 'output_format = "png"\n[[chains.classic.steps]]'
    )
    with pytest.raises(ConfigError, match="expected a format for image: one of JPEG, PNG"):
        parse(text)


def test_remote_chain_needs_token_unless_it_has_a_fallback() -> None:
    c = load_catalog(REPO / "models.toml", local_ops=registry.names())
    assert c.missing_for(c.chains["restore"], has_token=False)
    assert not c.missing_for(c.chains["restore"], has_token=True)
    assert not c.missing_for(c.chains["upscale"], has_token=False)  # local fallback
