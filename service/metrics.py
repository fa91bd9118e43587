"""Prometheus metrics: the metric objects, the helpers the rest of the code calls, the exposition.

Names (all prefixed `photo_restore_`):

    jobs{state}                            gauge    jobs per state, set from Redis at scrape time
    job_transitions_total{state}           counter  jobs entering a state, in this process
    step_seconds{kind,provider,model}      histogram  one chain step's wall time
    provider_errors_total{provider,status} counter  failed remote calls by HTTP status or kind
    queue_depth                            gauge    jobs waiting in the arq queue
    spend_usd_total{provider,model}        counter  estimated spend of remote calls
    storage_errors_total{status}           counter  failed storage (WebDAV) requests

Why a private registry: tests and the `up` command build several apps and workers in one
process; the default registry would refuse a second registration of the same name. Why the
`jobs` gauge is set rather than counted: web replicas, workers and restarts each see only
part of the history, while the job records in Redis are the truth every scrape can read.

Web and worker are separate processes (separate pods in Kubernetes): the web serves
`/metrics` through `render_metrics()`, a worker serves its own with `start_metrics_server()`
on METRICS_PORT, and Prometheus sums across pods.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)

# `*_created` series double the output and no dashboard of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus_client has no hints here

REGISTRY = CollectorRegistry(auto_describe=True)
JOB_STATES = ("queued", "running", "done", "failed")

JOBS = Gauge(
    "photo_restore_jobs", "Jobs per state (from the job records).", ["state"], registry=REGISTRY
)
JOB_TRANSITIONS = Counter(
    "photo_restore_job_transitions",
    "Jobs that entered a state in this process.",
    ["state"],
    registry=REGISTRY,
)
# Buckets span a local crop (tens of ms) to a slow remote model with a cold start (minutes).
STEP_SECONDS = Histogram(
    "photo_restore_step_seconds",
    "Wall time of one chain step.",
    ["kind", "provider", "model"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60, 120, 300, 600),
    registry=REGISTRY,
)
PROVIDER_ERRORS = Counter(
    "photo_restore_provider_errors",
    "Failed calls to an inference provider, by HTTP status (or 'timeout', 'network').",
    ["provider", "status"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge("photo_restore_queue_depth", "Jobs waiting in the queue.", registry=REGISTRY)
SPEND_USD = Counter(
    "photo_restore_spend_usd",
    "Estimated spend on remote inference, in US dollars.",
    ["provider", "model"],
    registry=REGISTRY,
)
STORAGE_ERRORS = Counter(
    "photo_restore_storage_errors",
    "Failed storage requests, by HTTP status (or 'timeout', 'network').",
    ["status"],
    registry=REGISTRY,
)

for _state in JOB_STATES:  # every state shows up as 0 from the first scrape
    JOBS.labels(state=_state)
    JOB_TRANSITIONS.labels(state=_state)


def _label(value: object) -> str:
    # Labels must be strings; None (a local step has no provider) becomes "none", not "None".
    return "none" if value is None or value == "" else str(value)


def observe_step(kind: str, provider: str | None, model: str | None, seconds: float) -> None:
    """Record one step's duration (`kind`: "remote" or the local op's name)."""
    STEP_SECONDS.labels(kind=_label(kind), provider=_label(provider), model=_label(model)).observe(
        max(0.0, seconds)
    )


def count_provider_error(provider: str | None, status: int | str) -> None:
    """Count one failed provider call; `status` is the HTTP status or a word like 'timeout'."""
    PROVIDER_ERRORS.labels(provider=_label(provider), status=_label(status)).inc()


def count_storage_error(status: int | str) -> None:
    """Count one failed storage request."""
    STORAGE_ERRORS.labels(status=_label(status)).inc()


def add_spend(provider: str | None, model: str | None, usd: float) -> None:
    """Add an estimated cost; negative or zero amounts are ignored (counters only go up)."""
    if usd > 0:
        SPEND_USD.labels(provider=_label(provider), model=_label(model)).inc(usd)


def set_queue_depth(n: int) -> None:
    """Jobs waiting now."""
    QUEUE_DEPTH.set(max(0, n))


def job_state_changed(old: str | None, new: str) -> None:
    """A job moved from `old` (None when just created) to `new`.

    Counts the transition and moves the per-state gauge, so a single process (`up`) has a
    live view even before `set_job_counts` runs; a scrape-time `set_job_counts` overrides it.
    """
    JOB_TRANSITIONS.labels(state=_label(new)).inc()
    if old is not None and old != new:
        gauge = JOBS.labels(state=_label(old))
        gauge.set(max(0.0, _value(gauge) - 1))
    if old != new:
        JOBS.labels(state=_label(new)).inc()


def set_job_counts(counts: Mapping[str, int]) -> None:
    """Set the per-state gauge from the job records (e.g. ZCARD of each status set)."""
    for state in set(JOB_STATES) | set(counts):
        JOBS.labels(state=_label(state)).set(max(0, int(counts.get(state, 0))))


def _value(gauge: Gauge) -> float:
    # prometheus_client keeps the number private; a sample collection is the public way.
    for metric in gauge.collect():
        for sample in metric.samples:
            return float(sample.value)
    return 0.0


def render_metrics() -> tuple[bytes, str]:
    """The exposition body and its content type, for the `/metrics` route."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def start_metrics_server(port: int, addr: str = "0.0.0.0") -> None:  # noqa: S104 - pod port
    """Serve this process's metrics on `port` (the worker, which has no web server)."""
    start_http_server(port, addr=addr, registry=REGISTRY)
