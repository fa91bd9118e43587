"""The executor of `video` steps: a short clip of the photo as restored so far, beside it.

    model      = the run's choice (a re-run's "model") > the step's model
    parameters = the model's own for the serving provider < step params < the run's "params"
    prompt     = the run's "prompt" > step prompt > model prompt

The image goes on unchanged; the clip rides beside it in the outcome (`StepOutcome.clip`).
A clip that cannot be had is a *failed step*, not a failed run, so the restored photo is still
written: a refused clip (not an MP4, cut short, of something else…), a provider's own refusal
(a WaveSpeed task that failed, a 4xx) or a missing setting end here with their reason. A
transient failure (every provider overloaded, a poll past its deadline) asks for the job to
be retried, unless this is its last try (`RunContext.last_try`); then it is recorded too.
"""

from __future__ import annotations

import logging
from typing import Any

from PIL import Image

from service.config.catalog import Catalog, ModelSpec, Step
from service.errors import ConfigError, PermanentError, TransientError
from service.pipeline.clipmaker import Clip, ClipMaker
from service.pipeline.runner import RunContext, StepOutcome

log = logging.getLogger(__name__)


class VideoExecutor:
    """Runs `video` steps through a `ClipMaker`; implements the runner's `StepExecutor`."""

    def __init__(self, catalog: Catalog, maker: ClipMaker) -> None:
        self.catalog = catalog
        self.maker = maker

    async def run(self, image: Image.Image, step: Step, ctx: RunContext) -> StepOutcome:
        """The clip of `image`, or the step's failure with its reason; see the module doc."""
        try:
            spec = self.model_for(step, ctx)
            clip = await self.maker.make(image, spec, self.request_for(step, ctx, spec))
        except TransientError as exc:
            if not ctx.last_try:
                raise
            return self._failed(image, step, ctx, f"no clip after the job's last try: {exc}")
        except (PermanentError, ConfigError) as exc:
            return self._failed(image, step, ctx, str(exc))
        return StepOutcome(
            image,
            status=clip.status,
            provider=clip.provider,
            model=clip.model,
            retries=clip.retries,
            cost_usd=clip.cost_usd,
            note=describe(clip),
            clip=clip.data,
        )

    def model_for(self, step: Step, ctx: RunContext) -> ModelSpec:
        """The clip model this run asks for (`chosen`)."""
        name = chosen(step, ctx)
        spec = self.catalog.models.get(name)
        if spec is None or not spec.makes_clips:
            known = ", ".join(n for n, m in self.catalog.models.items() if m.makes_clips)
            raise ConfigError(f"{name!r} is not a clip model of models.toml (clip models: {known})")
        return spec

    def _failed(self, image: Image.Image, step: Step, ctx: RunContext, reason: str) -> StepOutcome:
        """The photo goes on; the step says why there is no clip."""
        name = chosen(step, ctx)
        spec = self.catalog.models.get(name)
        log.warning("no clip for job %s (%s): %s", ctx.job_id or "-", name, reason)
        return StepOutcome(image, status="failed", model=spec.repo if spec else name, note=reason)

    def request_for(self, step: Step, ctx: RunContext, spec: ModelSpec) -> dict[str, Any]:
        """The call's parameters and prompt (the model's own are merged in per provider)."""
        override = ctx.clip.get("params")
        params: dict[str, Any] = {**step.params, **(override if isinstance(override, dict) else {})}
        prompt = (
            ctx.clip.get("prompt")
            or params.pop("prompt", None)
            or step.prompt
            or spec.parameters.get("prompt")
            or spec.prompt
        )
        if prompt:
            params["prompt"] = str(prompt)
        return params


def chosen(step: Step, ctx: RunContext) -> str:
    """The name of the clip model a run asks for: a re-run's choice, else the step's."""
    return str(ctx.clip.get("model") or step.name)


def describe(clip: Clip) -> str:
    """The timeline's note: what the clip is, measured, and where it came from."""
    parts = [
        f"clip {clip.seconds:.1f} s, {clip.frames} frames",
        f"first frame {clip.similarity:.2f} like the photo",
    ]
    if clip.audio_stripped:
        parts.append("sound removed")
    if clip.note:
        parts.append(clip.note)
    return "; ".join(parts)
