"""The catalog: models and chains from `models.toml`, validated with errors naming the file,
the key and what was expected (the values themselves are in `service.config.specs`).

The catalog a process runs from is parsed once and `resolved` for that process: a chain
that restores with "the default chain" (`restore_with = "default"`) then holds that chain's
steps first, the default chain when a token is set, the offline chain without one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from service.config.catalog_parse import check_restore_with, load_chain, load_model
from service.config.specs import (
    DEFAULT_RESTORE,
    PROVIDERS,
    STEP_KINDS,
    TASKS,
    VIDEO_TASKS,
    Chain,
    ModelSpec,
    Step,
    StepKind,
)
from service.config.toml_reader import TomlReader
from service.errors import ConfigError

__all__ = [
    "PROVIDERS",
    "STEP_KINDS",
    "TASKS",
    "VIDEO_TASKS",
    "Catalog",
    "Chain",
    "ModelSpec",
    "Step",
    "StepKind",
    "load_catalog",
    "parse_catalog",
]


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
        if chain.unresolved:
            chain = self.flatten(chain, self.restore_chain(has_token=has_token))
        reasons = []
        for step in chain.steps:
            if step.kind == "video" and not has_token:
                model = self.models[step.name]
                reasons.append(
                    f"model {model.name} ({model.repo}) makes clips through the Hugging Face "
                    "router, which needs HF_TOKEN: no clip can be made offline"
                )
            if step.kind != "remote" or step.fallback:
                continue
            model = self.models[step.name]
            if model.needs_token and not has_token:
                reasons.append(f"model {model.name} ({model.repo}) needs HF_TOKEN")
        return reasons

    def costs(self, chain: Chain) -> list[tuple[str, float, str]]:
        """What one run of `chain` is estimated to cost, per priced model: (model, USD, how);
        a clip is priced per second of video × the seconds it is asked to last."""
        out = []
        for step in chain.steps:
            model = self.models.get(step.name) if step.kind in ("remote", "video") else None
            if model is None:
                continue
            if model.clip_cost is not None:
                how = f"${model.price_per_second:g}/s × {model.duration:g} s"
                out.append((model.name, model.clip_cost, how))
            elif model.price_usd is not None and step.calls > 1:  # a tiled step: N² calls
                how = f"{step.calls} calls × ${model.price_usd:g}"
                out.append((model.name, model.price_usd * step.calls, how))
            elif model.price_usd is not None:
                out.append((model.name, model.price_usd, "per call"))
        return out

    def time_budget(self, chain: Chain) -> float:
        """The longest the model calls of a run of `chain` may take: each call's hard stop
        (2 × timeout + 30 s, as the inference client bounds it; a clip step may be re-run with
        any clip model). Local steps, decoding and writing come on top."""
        slowest_clip = max((m.timeout for m in self.models.values() if m.makes_clips), default=0.0)
        total = 0.0
        for step in chain.steps:
            if step.kind == "remote":
                total += 2 * self.models[step.name].timeout + 30
            elif step.kind == "video":
                total += 2 * max(slowest_clip, self.models[step.name].timeout) + 30
        return total

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

    def restore_chain(self, *, has_token: bool, requested: str | None = None) -> str:
        """What `restore_with = "default"` means in this process: DEFAULT_CHAIN, else
        models.toml's default chain, when it is a chain of images that can run; else the
        offline chain."""
        for name in (requested, self.default_chain):
            chain = self.chains.get(name or "")
            if chain is None or chain.restore_with is not None or chain.makes_clip:
                continue
            if not self.missing_for(chain, has_token=has_token):
                return chain.name
        return self.offline_chain

    def flatten(self, chain: Chain, base_name: str) -> Chain:
        """`chain` with the steps of `base_name` first; fidelity levels merged, the photo's
        format the chain's own or else the base's."""
        base = self.chains[base_name]
        levels = dict.fromkeys([*base.fidelity, *chain.fidelity])
        fidelity = {
            level: {**base.fidelity.get(level, {}), **chain.fidelity.get(level, {})}
            for level in levels
        }
        return replace(
            chain,
            steps=(*base.steps, *chain.steps),
            fidelity=fidelity,
            output_format=chain.output_format or base.output_format,
            base=base.name,
            base_steps=len(base.steps),
        )

    def resolved(self, *, has_token: bool, requested: str | None = None) -> Catalog:
        """This catalog as a process with (or without) a token runs it: every chain's
        `restore_with` replaced by the steps it names (see the module docstring)."""
        default = self.restore_chain(has_token=has_token, requested=requested)
        chains = {
            name: self.flatten(c, default if c.restore_with == DEFAULT_RESTORE else c.restore_with)
            if c.unresolved and c.restore_with
            else c
            for name, c in self.chains.items()
        }
        return replace(self, chains=chains)


def parse_catalog(text: str, path: Path, *, local_ops: Collection[str] | None = None) -> Catalog:
    """Parse models.toml text; `local_ops` (when given) checks that every op name exists."""
    r = TomlReader(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    r.check_keys(data, {"default_chain", "offline_chain", "models", "chains"}, "")
    models = {n: load_model(r, n, d) for n, d in r.table(data, "models", "").items()}
    chains = {
        n: load_chain(r, n, d, models, local_ops) for n, d in r.table(data, "chains", "").items()
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
    check_restore_with(r, chains, offline)
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
