"""What models.toml describes, as frozen values: step kinds, models, steps and chains.

A chain is an ordered list of steps. A step's *kind* says which executor runs it: `local` (a
built-in operation, key `op`), `remote` (an image model of the catalog, key `model`) and
`video` (a clip model of the catalog, key `model` too: a step naming a model whose task is
image-to-video or image-text-to-video is a video step). Kinds live in `STEP_KINDS` with the
media they output; a new kind is one more entry there plus one executor in the pipeline.

A video step outputs a clip *beside* the photo: its chain still writes the restored photo
(in an image format) and adds the clip (always MP4) next to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PROVIDERS = ("fal-ai", "replicate", "wavespeed", "hf-inference", "together")
IMAGE_TASKS = ("image-to-image", "image-text-to-image")
# MiniMax-H3 is mapped on the Hub as `image-text-to-video`; its wire format is image-to-video's.
VIDEO_TASKS = ("image-to-video", "image-text-to-video")
TASKS = (*IMAGE_TASKS, *VIDEO_TASKS)
# Providers with an image-to-video protocol (huggingface_hub's helpers: fal-ai, wavespeed,
# together); replicate has text-to-video only, hf-inference none.
VIDEO_PROVIDERS = ("fal-ai", "wavespeed", "together")
# The name a chain's `restore_with` uses for "whatever restores photos in this process": the
# default chain when it can run (a token is set), else the offline chain.
DEFAULT_RESTORE = "default"
MAX_TILES = 4  # `tiles = N` per side of the grid: 16 calls for one step is plenty


@dataclass(frozen=True)
class StepKind:
    """What a step kind needs in models.toml and what media it outputs."""

    name: str
    key: str  # the table key naming what to run ("op", "model", …)
    output: str = "image"


STEP_KINDS: dict[str, StepKind] = {
    "local": StepKind("local", "op"),
    "remote": StepKind("remote", "model"),
    "video": StepKind("video", "model", output="video"),
}


@dataclass(frozen=True)
class ModelSpec:
    """One remote model: where it runs, how it is asked, what it costs.

    Clip models (`makes_clips`) also say how long a clip is asked to be (`duration`, seconds)
    and at what `resolution`, and are priced per second of video; `provider_parameters` are
    merged over `parameters` for the provider that serves the call, because providers name the
    same knob differently (fal's Wan takes `num_frames`, WaveSpeed's `duration`).
    """

    name: str
    repo: str
    task: str = "image-to-image"
    provider: str = "auto"
    providers: tuple[str, ...] = ()
    prompt: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    provider_parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    max_pixels: int = 1_048_576
    endpoint: str | None = None
    price_usd: float | None = None
    price_per_second: float | None = None
    duration: float | None = None
    resolution: str | None = None
    strip_audio: bool = False
    timeout: float = 180.0
    max_concurrency: int = 4
    title: str = ""
    description: str = ""

    @property
    def needs_token(self) -> bool:
        """Routed calls need an HF token; a dedicated endpoint may be open."""
        return self.endpoint is None

    @property
    def makes_clips(self) -> bool:
        """An image-to-video model: its step outputs a clip."""
        return self.task in VIDEO_TASKS

    @property
    def clip_cost(self) -> float | None:
        """The estimated price of one clip: price per second × the seconds asked."""
        if self.price_per_second is None or self.duration is None:
            return None
        return round(self.price_per_second * self.duration, 4)

    def parameters_for(self, provider: str) -> dict[str, Any]:
        """The model's parameters as sent to `provider` (its own table merged over the rest)."""
        return {**self.parameters, **self.provider_parameters.get(provider, {})}


@dataclass(frozen=True)
class Step:
    """One step of a chain; `name` is the op or model it runs."""

    kind: str
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    prompt: str | None = None
    title: str = ""
    fallback: str | None = None  # a local op run instead when the step cannot run remotely
    tiles: int = 1  # image model steps: the model runs on an N×N grid of overlapping tiles

    @property
    def calls(self) -> int:
        """Model calls this step makes: N² for a tiled image step, 1 for a clip, 0 locally."""
        if self.kind == "remote":
            return self.tiles * self.tiles
        return 1 if self.kind == "video" else 0

    @property
    def output(self) -> str:
        """The media this step produces."""
        return STEP_KINDS[self.kind].output

    def label(self) -> str:
        """Short human name for timelines."""
        return self.title or f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class Chain:
    """A named recipe of steps; its output media is that of the last step.

    `restore_with` names a chain run first (or `default`, see `DEFAULT_RESTORE`); the catalog
    a process runs from has it resolved (`Catalog.resolved`): `steps` then start with that
    chain's steps, `base` names it and `base_steps` counts them.
    """

    name: str
    title: str
    description: str
    steps: tuple[Step, ...]
    output_format: str | None = None  # the photo's format; None: keep the input's format
    fidelity: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    restore_with: str | None = None
    base: str | None = None
    base_steps: int = 0

    @property
    def output(self) -> str:
        """The media a run of this chain produces (a video chain writes the photo as well)."""
        return self.steps[-1].output if self.steps else "image"

    @property
    def makes_clip(self) -> bool:
        """Whether a run ends with a clip beside the photo."""
        return self.output == "video"

    @property
    def unresolved(self) -> bool:
        """Names a chain to run first that is not yet part of its steps."""
        return self.restore_with is not None and self.base is None

    def remote_models(self) -> list[str]:
        """Names of the models (image or clip) this chain calls."""
        return [s.name for s in self.steps if s.kind in ("remote", "video")]
