"""The catalog: models and chains from `models.toml`, validated with errors naming the file,
the key and what was expected.

A chain is an ordered list of steps. A step's *kind* says which executor runs it:
`local` (a built-in operation, key `op`) and `remote` (a model of this catalog, key `model`).
Kinds live in `STEP_KINDS`; a future kind such as `animate` (photo → short clip) is one more
entry there with its own output media type, plus one executor in the pipeline: no rewrite.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service import formats
from service.config.toml_reader import TomlReader
from service.errors import ConfigError

PROVIDERS = ("fal-ai", "replicate", "wavespeed", "hf-inference", "together")
TASKS = ("image-to-image", "image-text-to-image")


@dataclass(frozen=True)
class StepKind:
    """What a step kind needs in models.toml and what media it outputs."""

    name: str
    key: str  # the table key naming what to run ("op", "model", …)
    output: str = "image"


STEP_KINDS: dict[str, StepKind] = {
    "local": StepKind("local", "op"),
    "remote": StepKind("remote", "model"),
}


@dataclass(frozen=True)
class ModelSpec:
    """One remote model: where it runs, how it is asked, what it costs."""

    name: str
    repo: str
    task: str = "image-to-image"
    provider: str = "auto"
    providers: tuple[str, ...] = ()
    prompt: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    max_pixels: int = 1_048_576
    endpoint: str | None = None
    price_usd: float | None = None
    timeout: float = 180.0
    max_concurrency: int = 4
    title: str = ""
    description: str = ""

    @property
    def needs_token(self) -> bool:
        """Routed calls need an HF token; a dedicated endpoint may be open."""
        return self.endpoint is None


@dataclass(frozen=True)
class Step:
    """One step of a chain; `name` is the op or model it runs."""

    kind: str
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    prompt: str | None = None
    title: str = ""
    fallback: str | None = None  # a local op run instead when the step cannot run remotely
    tiles: int = 1  # remote steps: run the model on an N×N grid of overlapping tiles

    @property
    def calls(self) -> int:
        """Model calls this step makes (0 for local steps)."""
        return self.tiles * self.tiles if self.kind == "remote" else 0

    @property
    def output(self) -> str:
        """The media this step produces."""
        return STEP_KINDS[self.kind].output

    def label(self) -> str:
        """Short human name for timelines."""
        return self.title or f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class Chain:
    """A named recipe of steps; its output media is that of the last step."""

    name: str
    title: str
    description: str
    steps: tuple[Step, ...]
    output_format: str | None = None  # None: keep the input's format
    fidelity: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def output(self) -> str:
        """The media a run of this chain produces."""
        return self.steps[-1].output if self.steps else "image"

    def remote_models(self) -> list[str]:
        """Names of the remote models this chain calls."""
        return [s.name for s in self.steps if s.kind == "remote"]


@dataclass(frozen=True)
class Catalog:
    """Models and chains as loaded; ask it which chain to use and whether a chain can run."""

    path: Path
    models: Mapping[str, ModelSpec]
    chains: Mapping[str, Chain]
    default_chain: str | None
    offline_chain: str

    def chain(self, name: str) -> Chain:
        """The chain called `name`, or a ConfigError listing the known ones."""
        try:
            return self.chains[name]
        except KeyError:
            known = ", ".join(sorted(self.chains))
            raise ConfigError(f"unknown chain {name!r}; known chains: {known}") from None

    def missing_for(self, chain: Chain, *, has_token: bool) -> list[str]:
        """Why `chain` cannot run now (empty when it can)."""
        reasons = []
        for step in chain.steps:
            if step.kind != "remote" or step.fallback:
                continue
            model = self.models[step.name]
            if model.needs_token and not has_token:
                reasons.append(f"model {model.name} ({model.repo}) needs HF_TOKEN")
        return reasons

    def choose_default(self, requested: str | None, *, has_token: bool) -> str:
        """DEFAULT_CHAIN if set, else models.toml's default if it can run, else the offline one."""
        if requested:
            self.chain(requested)
            return requested
        if self.default_chain and not self.missing_for(
            self.chains[self.default_chain], has_token=has_token
        ):
            return self.default_chain
        return self.offline_chain


_MODEL_KEYS = {
    "repo",
    "task",
    "provider",
    "providers",
    "prompt",
    "parameters",
    "max_pixels",
    "endpoint",
    "price_usd",
    "timeout",
    "max_concurrency",
    "title",
    "description",
}
_CHAIN_KEYS = {"title", "description", "steps", "output_format", "fidelity"}
_STEP_KEYS = {"kind", "op", "model", "params", "prompt", "title", "fallback", "tiles"}
MAX_TILES = 4  # per side of the grid: 16 calls for one step is plenty


def _load_model(r: TomlReader, name: str, data: Any) -> ModelSpec:
    where = f"models.{name}."
    if not isinstance(data, dict):
        raise r.fail(f"models.{name}", "a table", data)
    r.check_keys(data, _MODEL_KEYS, where)
    repo = r.string(data, "repo", where, required=True)
    assert repo is not None
    if repo.count("/") != 1:
        raise r.fail(f"{where}repo", "a Hub repo id like 'owner/name'", repo)
    provider = r.string(data, "provider", where, "auto", choices=("auto", *PROVIDERS))
    providers = data.get("providers", [])
    if not isinstance(providers, list) or any(p not in PROVIDERS for p in providers):
        raise r.fail(f"{where}providers", "a list of " + ", ".join(PROVIDERS), providers)
    endpoint = r.string(data, "endpoint", where)
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise r.fail(f"{where}endpoint", "an http(s) URL", endpoint)
    max_pixels = r.number(data, "max_pixels", where, 1_048_576, minimum=4096)
    return ModelSpec(
        name=name,
        repo=repo,
        task=r.string(data, "task", where, "image-to-image", choices=TASKS) or "image-to-image",
        provider=provider or "auto",
        providers=tuple(providers),
        prompt=r.string(data, "prompt", where),
        parameters=r.table(data, "parameters", where),
        max_pixels=int(max_pixels or 1_048_576),
        endpoint=endpoint.rstrip("/") if endpoint else None,
        price_usd=r.number(data, "price_usd", where, None),
        timeout=r.number(data, "timeout", where, 180.0, minimum=1) or 180.0,
        max_concurrency=int(r.number(data, "max_concurrency", where, 4, minimum=1) or 4),
        title=r.string(data, "title", where, "") or "",
        description=r.string(data, "description", where, "") or "",
    )


def _load_step(
    r: TomlReader,
    chain: str,
    index: int,
    data: Any,
    models: Mapping[str, ModelSpec],
    local_ops: Collection[str] | None,
) -> Step:
    where = f"chains.{chain}.steps[{index}]."
    if not isinstance(data, dict):
        raise r.fail(where.rstrip("."), 'a table like { op = "denoise" }', data)
    r.check_keys(data, _STEP_KEYS | {k.key for k in STEP_KINDS.values()}, where)
    kind_name = r.string(data, "kind", where)
    if kind_name is None:
        found = [k for k in STEP_KINDS.values() if k.key in data]
        if len(found) != 1:
            keys = " or ".join(repr(k.key) for k in STEP_KINDS.values())
            raise r.fail(where.rstrip("."), f"exactly one of {keys}", data)
        kind = found[0]
    elif kind_name in STEP_KINDS:
        kind = STEP_KINDS[kind_name]
    else:
        raise r.fail(f"{where}kind", "one of " + ", ".join(STEP_KINDS), kind_name)
    name = r.string(data, kind.key, where, required=True)
    assert name is not None
    if kind.name == "remote" and name not in models:
        raise r.fail(f"{where}model", "a model defined under [models]: " + ", ".join(models), name)
    fallback = r.string(data, "fallback", where)
    tiles = data.get("tiles", 1)
    if isinstance(tiles, bool) or not isinstance(tiles, int) or not 1 <= tiles <= MAX_TILES:
        raise r.fail(
            f"{where}tiles", f"a whole number from 1 to {MAX_TILES} (tiles per side)", tiles
        )
    if tiles > 1 and kind.name != "remote":
        raise r.fail(f"{where}tiles", "only on a model step", tiles)
    for op in filter(None, [name if kind.name == "local" else None, fallback]):
        if local_ops is not None and op not in local_ops:
            raise r.fail(
                f"{where}{'op' if op == name else 'fallback'}",
                "a built-in operation: " + ", ".join(sorted(local_ops)),
                op,
            )
    return Step(
        kind=kind.name,
        name=name,
        params=r.table(data, "params", where),
        prompt=r.string(data, "prompt", where),
        title=r.string(data, "title", where, "") or "",
        fallback=fallback,
        tiles=tiles,
    )


def _load_chain(
    r: TomlReader,
    name: str,
    data: Any,
    models: Mapping[str, ModelSpec],
    local_ops: Collection[str] | None,
) -> Chain:
    where = f"chains.{name}."
    if not isinstance(data, dict):
        raise r.fail(f"chains.{name}", "a table", data)
    r.check_keys(data, _CHAIN_KEYS, where)
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise r.fail(
            f"{where}steps", "a non-empty array of step tables ([[chains.X.steps]])", raw_steps
        )
    steps = tuple(_load_step(r, name, i, s, models, local_ops) for i, s in enumerate(raw_steps))
    for i, step in enumerate(steps[:-1]):
        if step.output != "image":
            raise r.fail(
                f"{where}steps[{i}]",
                f"a step producing an image (only the last step may output {step.output})",
                step.name,
            )
    fidelity = r.table(data, "fidelity", where)
    for level, overrides in fidelity.items():
        if not isinstance(overrides, dict):
            raise r.fail(f"{where}fidelity.{level}", "a table of parameter overrides", overrides)
    output_format = r.string(data, "output_format", where)
    if output_format is not None:
        _check_format(r, f"{where}output_format", output_format, steps[-1].output)
    return Chain(
        name=name,
        title=r.string(data, "title", where, name) or name,
        description=r.string(data, "description", where, "") or "",
        steps=steps,
        output_format=output_format,
        fidelity=fidelity,
    )


def _check_format(r: TomlReader, key: str, value: str, media: str) -> None:
    """A chain's output_format must be one its last step's media can be written in."""
    allowed = ", ".join(formats.choices(media)) or "none yet"
    known = formats.FORMATS.get(value)
    if known is not None and known.media != media:
        raise r.fail(
            key,
            f"a format for {media}: one of {allowed} ({value} holds {known.media}, "
            "which no step of this chain produces)",
            value,
        )
    if known is not None and not known.encodable:
        raise r.fail(key, f"one of {allowed} ({known.why_not})", value)
    if known is None:
        raise r.fail(key, f"a format for {media}: one of {allowed}", value)


def parse_catalog(text: str, path: Path, *, local_ops: Collection[str] | None = None) -> Catalog:
    """Parse models.toml text; `local_ops` (when given) checks that every op name exists."""
    r = TomlReader(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    r.check_keys(data, {"default_chain", "offline_chain", "models", "chains"}, "")
    models = {n: _load_model(r, n, d) for n, d in r.table(data, "models", "").items()}
    chains = {
        n: _load_chain(r, n, d, models, local_ops) for n, d in r.table(data, "chains", "").items()
    }
    if not chains:
        raise r.fail("chains", "at least one chain")
    default = r.string(data, "default_chain", "")
    offline = r.string(data, "offline_chain", "", "classic") or "classic"
    for key, value in (("default_chain", default), ("offline_chain", offline)):
        if value is not None and value not in chains:
            raise r.fail(key, "the name of a chain: " + ", ".join(chains), value)
    offline_chain = chains[offline]
    if offline_chain.remote_models():
        raise r.fail("offline_chain", "a chain with only local steps", offline)
    return Catalog(
        path=path, models=models, chains=chains, default_chain=default, offline_chain=offline
    )


def load_catalog(path: Path, *, local_ops: Collection[str] | None = None) -> Catalog:
    """Read models.toml from `path` (falling back to the copy shipped in the package)."""
    if not path.exists():
        bundled = Path(__file__).with_name("models.toml")
        if path.name == "models.toml" and bundled.exists() and not path.is_absolute():
            path = bundled
        else:
            raise ConfigError(f"{path}: models file not found (setting MODELS_FILE)")
    return parse_catalog(path.read_text(encoding="utf-8"), path, local_ops=local_ops)
