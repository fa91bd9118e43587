"""Reading models.toml's tables into `service.config.specs` values, one mistake at a time,
each reported as `<file>: <key>: expected <what>, got <value>` (see `TomlReader`).

`service.config.catalog.parse_catalog` calls these; they know nothing of the whole catalog but
the models a step may name and the operations that exist.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from service import formats
from service.config.specs import (
    DEFAULT_RESTORE,
    MAX_TILES,
    PROVIDERS,
    STEP_KINDS,
    TASKS,
    VIDEO_PROVIDERS,
    VIDEO_TASKS,
    Chain,
    ModelSpec,
    Step,
    StepKind,
)
from service.config.toml_reader import TomlReader

MODEL_KEYS = {
    "repo",
    "task",
    "provider",
    "providers",
    "prompt",
    "parameters",
    "provider_parameters",
    "max_pixels",
    "endpoint",
    "price_usd",
    "price_per_second",
    "duration",
    "resolution",
    "strip_audio",
    "timeout",
    "max_concurrency",
    "title",
    "description",
}
CHAIN_KEYS = {"title", "description", "steps", "output_format", "fidelity", "restore_with"}
STEP_KEYS = {"kind", "op", "model", "params", "prompt", "title", "fallback", "tiles"}


def _providers(r: TomlReader, data: Mapping[str, Any], where: str, video: bool) -> tuple[str, str]:
    """`provider` and the allowed names: clips have three providers, images five."""
    allowed = VIDEO_PROVIDERS if video else PROVIDERS
    provider = r.string(data, "provider", where, "auto", choices=("auto", *allowed)) or "auto"
    providers = data.get("providers", [])
    if not isinstance(providers, list) or any(p not in allowed for p in providers):
        raise r.fail(f"{where}providers", "a list of " + ", ".join(allowed), providers)
    return provider, ",".join(providers)


def _provider_parameters(
    r: TomlReader, data: Mapping[str, Any], where: str
) -> dict[str, dict[str, Any]]:
    tables = r.table(data, "provider_parameters", where)
    for provider, table in tables.items():
        key = f"{where}provider_parameters.{provider}"
        if provider not in PROVIDERS:
            raise r.fail(key, "a table per provider: " + ", ".join(PROVIDERS), provider)
        if not isinstance(table, dict):
            raise r.fail(key, "a table of parameters", table)
    return tables


def _clip_terms(r: TomlReader, data: Mapping[str, Any], where: str, video: bool) -> dict[str, Any]:
    """Length, resolution, audio and price: required or refused by whether the model makes
    clips, so a per-call price never stands for a per-second one or the reverse."""
    terms: dict[str, Any] = {
        "price_usd": r.number(data, "price_usd", where, None),
        "price_per_second": r.number(data, "price_per_second", where, None),
        "duration": r.number(data, "duration", where, None, minimum=0.5),
        "resolution": r.string(data, "resolution", where),
        "strip_audio": data.get("strip_audio", False),
    }
    if not isinstance(terms["strip_audio"], bool):
        raise r.fail(f"{where}strip_audio", "true or false", terms["strip_audio"])
    clip_only = ("price_per_second", "duration", "resolution", "strip_audio")
    if video:
        if terms["duration"] is None:
            raise r.fail(f"{where}duration", "the clip's length in seconds (clip models)")
        if terms["price_usd"] is not None:
            raise r.fail(f"{where}price_usd", "price_per_second (clips are priced per second)")
        if data.get("endpoint") is not None:
            raise r.fail(f"{where}endpoint", "no endpoint (clips go through the router)")
    else:
        for key in clip_only:
            if key in data:
                task = data.get("task", "image-to-image")
                raise r.fail(f"{where}{key}", "a key of clip models only (task " + task + ")")
    return terms


def load_model(r: TomlReader, name: str, data: Any) -> ModelSpec:
    """One `[models.<name>]` table."""
    where = f"models.{name}."
    if not isinstance(data, dict):
        raise r.fail(f"models.{name}", "a table", data)
    r.check_keys(data, MODEL_KEYS, where)
    repo = r.string(data, "repo", where, required=True)
    assert repo is not None
    if repo.count("/") != 1:
        raise r.fail(f"{where}repo", "a Hub repo id like 'owner/name'", repo)
    task = r.string(data, "task", where, "image-to-image", choices=TASKS) or "image-to-image"
    provider, providers = _providers(r, data, where, task in VIDEO_TASKS)
    endpoint = r.string(data, "endpoint", where)
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise r.fail(f"{where}endpoint", "an http(s) URL", endpoint)
    max_pixels = r.number(data, "max_pixels", where, 1_048_576, minimum=4096)
    return ModelSpec(
        name=name,
        repo=repo,
        task=task,
        provider=provider,
        providers=tuple(p for p in providers.split(",") if p),
        prompt=r.string(data, "prompt", where),
        parameters=r.table(data, "parameters", where),
        provider_parameters=_provider_parameters(r, data, where),
        max_pixels=int(max_pixels or 1_048_576),
        endpoint=endpoint.rstrip("/") if endpoint else None,
        timeout=r.number(data, "timeout", where, 180.0, minimum=1) or 180.0,
        max_concurrency=int(r.number(data, "max_concurrency", where, 4, minimum=1) or 4),
        title=r.string(data, "title", where, "") or "",
        description=r.string(data, "description", where, "") or "",
        **_clip_terms(r, data, where, task in VIDEO_TASKS),
    )


def _step_kind(
    r: TomlReader, data: Mapping[str, Any], where: str, models: Mapping[str, ModelSpec]
) -> StepKind:
    """The step's kind: as written, else from its key; a model step is a video step when its
    model makes clips, a remote one otherwise."""
    kinds = list(STEP_KINDS.values())
    written = r.string(data, "kind", where, choices=list(STEP_KINDS))
    if written is not None:
        candidates = [STEP_KINDS[written]]
        if candidates[0].key not in data:
            raise r.fail(f"{where}{candidates[0].key}", "a string (required)")
    else:
        present = {k.key for k in kinds if k.key in data}
        if len(present) != 1:
            keys = " or ".join(repr(k) for k in dict.fromkeys(k.key for k in kinds))
            raise r.fail(where.rstrip("."), f"exactly one of {keys}", dict(data))
        candidates = [k for k in kinds if k.key in present]
    if candidates[0].key != "model":
        return candidates[0]
    name = data["model"]
    if name not in models:
        raise r.fail(f"{where}model", "a model defined under [models]: " + ", ".join(models), name)
    clips = models[name].makes_clips
    fitting = [k for k in candidates if (k.output == "video") == clips]
    if not fitting:
        what = "video (the model makes clips)" if clips else "remote (the model makes images)"
        raise r.fail(f"{where}kind", what, written)
    return fitting[0]


def load_step(
    r: TomlReader,
    chain: str,
    index: int,
    data: Any,
    models: Mapping[str, ModelSpec],
    local_ops: Collection[str] | None,
) -> Step:
    """One `[[chains.<chain>.steps]]` table."""
    where = f"chains.{chain}.steps[{index}]."
    if not isinstance(data, dict):
        raise r.fail(where.rstrip("."), 'a table like { op = "denoise" }', data)
    r.check_keys(data, STEP_KEYS | {k.key for k in STEP_KINDS.values()}, where)
    kind = _step_kind(r, data, where, models)
    name = r.string(data, kind.key, where, required=True)
    assert name is not None
    fallback = r.string(data, "fallback", where)
    if fallback is not None and kind.name == "video":
        raise r.fail(f"{where}fallback", "no fallback (no clip can be made locally)", fallback)
    tiles = _tiles(r, data, where, kind)
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


def _tiles(r: TomlReader, data: Mapping[str, Any], where: str, kind: StepKind) -> int:
    """`tiles = N` (1 to MAX_TILES), on an image model step only."""
    tiles = data.get("tiles", 1)
    if isinstance(tiles, bool) or not isinstance(tiles, int) or not 1 <= tiles <= MAX_TILES:
        raise r.fail(
            f"{where}tiles", f"a whole number from 1 to {MAX_TILES} (tiles per side)", tiles
        )
    if tiles > 1 and kind.name != "remote":
        raise r.fail(f"{where}tiles", "only on a model step", tiles)
    return tiles


def load_chain(
    r: TomlReader,
    name: str,
    data: Any,
    models: Mapping[str, ModelSpec],
    local_ops: Collection[str] | None,
) -> Chain:
    """One `[chains.<name>]` table; `restore_with` is checked against the others later."""
    where = f"chains.{name}."
    if not isinstance(data, dict):
        raise r.fail(f"chains.{name}", "a table", data)
    r.check_keys(data, CHAIN_KEYS, where)
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise r.fail(
            f"{where}steps", "a non-empty array of step tables ([[chains.X.steps]])", raw_steps
        )
    steps = tuple(load_step(r, name, i, s, models, local_ops) for i, s in enumerate(raw_steps))
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
        check_format(r, f"{where}output_format", output_format, steps[-1].output)
    return Chain(
        name=name,
        title=r.string(data, "title", where, name) or name,
        description=r.string(data, "description", where, "") or "",
        steps=steps,
        output_format=output_format,
        fidelity=fidelity,
        restore_with=r.string(data, "restore_with", where),
    )


def check_format(r: TomlReader, key: str, value: str, media: str) -> None:
    """A chain's output_format is the photo's: an image format it can be written in. A chain
    ending in a clip writes the photo too, and the clip beside it is always MP4."""
    allowed = ", ".join(formats.choices("image"))
    known = formats.FORMATS.get(value)
    if known is not None and known.media != "image":
        why = (
            "the photo's format; the clip beside it is always MP4"
            if known.media == media
            else f"{value} holds {known.media}, which no step of this chain produces"
        )
        raise r.fail(key, f"a format for image: one of {allowed} ({why})", value)
    if known is not None and not known.encodable:
        raise r.fail(key, f"one of {allowed} ({known.why_not})", value)
    if known is None:
        raise r.fail(key, f"a format for image: one of {allowed}", value)


def check_restore_with(r: TomlReader, chains: Mapping[str, Chain], offline: str) -> None:
    """Each `restore_with` names the default (`"default"`) or a chain of images that restores
    with no other chain first; the offline chain restores with none (it is what "default" means
    without a token)."""
    for chain in chains.values():
        target = chain.restore_with
        if target is None:
            continue
        key = f"chains.{chain.name}.restore_with"
        if chain.name == offline:
            raise r.fail(key, "nothing: the offline chain runs alone", target)
        if target == DEFAULT_RESTORE:
            continue
        base = chains.get(target)
        plain = [n for n, c in chains.items() if c.restore_with is None and not c.makes_clip]
        if base is None or base.restore_with is not None or base.makes_clip:
            choices = ", ".join([DEFAULT_RESTORE, *plain])
            raise r.fail(key, f"{DEFAULT_RESTORE!r} or a chain of images: {choices}", target)
