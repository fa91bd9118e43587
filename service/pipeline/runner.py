"""The chain runner: feeds an image through a chain's steps, one executor per step kind.

Executors are looked up by `Step.kind`, so a new kind is a new executor handed to the runner,
not a change here. A `video` step's executor answers the image unchanged and a clip beside it
(`StepOutcome.clip`), which the run hands back (`RunResult.clip`). Local work runs in a
thread, never on the event loop. Each step is told whether it may write into the image it is
given (`OpContext.ownership`): only when nothing but the run still holds that image.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from PIL import Image

from service import metrics
from service.config.catalog import Chain, Step
from service.errors import ConfigError
from service.pipeline import findings, handoff, memory, registry, transforms
from service.pipeline.registry import OpContext


@dataclass
class StepRecord:
    """What happened in one step, for the job timeline and the usage report."""

    index: int
    name: str
    kind: str
    label: str
    status: str = "pending"  # pending, running, done, skipped, cached, fallback, failed
    started_at: float = 0.0
    duration: float = 0.0
    provider: str | None = None
    model: str | None = None
    retries: int = 0
    cost_usd: float | None = None
    note: str = ""
    review: list[str] = field(default_factory=list)  # why a person should look (empty: no need)
    measurements: dict[str, Any] = field(default_factory=dict)  # drift, face scores, … (JSON)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class RunContext:
    """Per-run inputs shared by every step."""

    op_context: OpContext
    job_id: str = ""
    prompt: str | None = None  # replaces the prompt of every remote step (dashboard re-run)
    params: Mapping[str, Any] = field(default_factory=dict)  # merged into remote step params
    fidelity: str | None = None
    intermediate: Callable[[int, Image.Image], Awaitable[None]] | None = None
    # A re-run's choices for the clip step: "model" (another clip model), "prompt", "params".
    clip: Mapping[str, Any] = field(default_factory=dict)
    # The job's last try: a step that would ask for a retry records its failure instead.
    last_try: bool = True


@dataclass
class StepOutcome:
    """An executor's answer: the new image and what to record."""

    image: Image.Image
    status: str = "done"
    provider: str | None = None
    model: str | None = None
    retries: int = 0
    cost_usd: float | None = None
    note: str = ""
    review: list[str] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)
    clip: bytes | None = None  # an MP4 made beside the image (video steps)


class StepExecutor(Protocol):
    """Runs steps of one kind."""

    async def run(self, image: Image.Image, step: Step, ctx: RunContext) -> StepOutcome:
        """Run `step` on `image`."""
        ...


class LocalExecutor:
    """Runs a registered operation in a worker thread."""

    async def run(self, image: Image.Image, step: Step, ctx: RunContext) -> StepOutcome:
        """Apply the operation; 'skipped' when it returned its input unchanged.

        The images go to and from the thread in lists that are emptied on arrival: the
        thread's future and work item outlive the step (a reference cycle, freed whenever the
        collector runs), and must not hold the picture the next step may be let to own.
        """
        info = registry.get(step.name)
        given, params, op = id(image), dict(step.params), ctx.op_context
        inbox = [image]
        del image  # the caller holds it while the step runs; the op alone in the thread

        def work() -> list[Image.Image]:
            return [info.func(inbox.pop(), op, **params)]

        out = (await asyncio.to_thread(work)).pop()
        # The caller's reference keeps the input alive, so its id is not reused by `out`.
        unchanged = id(out) == given and not op.ownership.used
        return StepOutcome(out, status="skipped" if unchanged else "done")


@dataclass
class RunResult:
    """The final image and the record of every step."""

    image: Image.Image
    steps: list[StepRecord]
    clip: bytes | None = None

    @property
    def cost_usd(self) -> float:
        """Estimated spend of this run."""
        return sum(s.cost_usd or 0.0 for s in self.steps)

    @property
    def review(self) -> list[str]:
        """Every step's reasons to have a person look, as "step: reason"."""
        return [f"{s.label}: {reason}" for s in self.steps for reason in s.review]


ProgressCallback = Callable[[list[StepRecord]], Awaitable[None]]


def _record(rec: StepRecord, step: Step, outcome: StepOutcome, found: findings.Findings) -> None:
    """Put a finished step's outcome and findings into its record and the metrics."""
    rec.status, rec.provider, rec.model = outcome.status, outcome.provider, outcome.model
    rec.retries, rec.cost_usd, rec.note = outcome.retries, outcome.cost_usd, outcome.note
    rec.review = [*outcome.review, *(r for r in found.review if r not in outcome.review)]
    rec.measurements = {**found.measurements, **outcome.measurements}
    if outcome.status != "skipped":
        metrics.observe_step(step.kind, outcome.provider, outcome.model or step.name, rec.duration)
    if outcome.cost_usd and outcome.status != "cached":
        metrics.add_spend(outcome.provider, outcome.model, outcome.cost_usd)


class ChainRunner:
    """Runs chains with one executor per step kind."""

    def __init__(self, executors: Mapping[str, StepExecutor]) -> None:
        self.executors = dict(executors)

    async def run(
        self,
        image: Image.Image,
        chain: Chain,
        ctx: RunContext,
        *,
        edits: Sequence[Step] = (),
        on_progress: ProgressCallback | None = None,
    ) -> RunResult:
        """Apply hand edits, then the chain's steps, reporting progress after each."""
        steps = [*edits, *chain.steps]
        records = [
            StepRecord(index=i, name=s.name, kind=s.kind, label=s.label())
            for i, s in enumerate(steps)
        ]
        clip: bytes | None = None
        for i, step in enumerate(steps):
            executor = self.executors.get(step.kind)
            if executor is None:
                raise ConfigError(f"chain {chain.name!r}: no executor for step kind {step.kind!r}")
            rec = records[i]
            rec.status, rec.started_at = "running", time.time()
            if on_progress:
                await on_progress(records)
            t0 = time.perf_counter()
            recorded, size_before = transforms.entries(), image.size
            ownership = ctx.op_context.ownership
            ownership.granted, ownership.used = memory.sole_reference(image), False
            try:
                with findings.collecting() as found:  # what the step reports beyond its image
                    outcome = await executor.run(image, step, ctx)
            except BaseException:
                rec.status, rec.duration = "failed", time.perf_counter() - t0
                handoff.drop(ctx.op_context)
                if on_progress:
                    await on_progress(records)
                raise
            finally:
                written, ownership.granted, ownership.used = ownership.used, False, False
            rec.duration = time.perf_counter() - t0
            if transforms.entries() == recorded and outcome.image.size != size_before:
                # A step that changed the size without saying how (a model's answer, a resize):
                # for the original to line up, it is scaled the same way.
                transforms.record("resize", size=outcome.image.size)
            _record(rec, step, outcome, found)
            if (outcome.image is not image or written) and ctx.intermediate is not None:
                await ctx.intermediate(i, outcome.image)
            image = outcome.image
            clip = outcome.clip if outcome.clip is not None else clip
            del outcome  # `image` alone names the picture now: the next step may own it
            if on_progress:
                await on_progress(records)
        handoff.drop(ctx.op_context)  # a scan left for a merge that never came
        return RunResult(image=image, steps=records, clip=clip)
