"""service.metrics: the helpers move the right series and `/metrics` parses as Prometheus text."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service import metrics


def sample(name: str, **labels: str) -> float:
    """Current value of one series, parsed back from the exposition like Prometheus would."""
    body, _ = metrics.render_metrics()
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def test_exposition_is_prometheus_text_with_every_family() -> None:
    body, content_type = metrics.render_metrics()
    assert content_type.startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert {
        "photo_restore_jobs",
        "photo_restore_job_transitions",
        "photo_restore_step_seconds",
        "photo_restore_provider_errors",
        "photo_restore_queue_depth",
        "photo_restore_spend_usd",
        "photo_restore_storage_errors",
    } <= names
    assert b"_created" not in body


def test_step_latency_is_labelled_by_kind_provider_and_model() -> None:
    before = sample(
        "photo_restore_step_seconds_count", kind="remote", provider="fal-ai", model="acme/upscaler"
    )
    metrics.observe_step("remote", "fal-ai", "acme/upscaler", 2.0)
    metrics.observe_step("crop", None, None, 0.01)
    assert (
        sample(
            "photo_restore_step_seconds_count",
            kind="remote",
            provider="fal-ai",
            model="acme/upscaler",
        )
        == before + 1
    )
    assert (
        sample("photo_restore_step_seconds_count", kind="crop", provider="none", model="none") >= 1
    )


def test_provider_errors_spend_storage_errors_and_queue_depth() -> None:
    errors = sample("photo_restore_provider_errors_total", provider="replicate", status="429")
    metrics.count_provider_error("replicate", 429)
    assert (
        sample("photo_restore_provider_errors_total", provider="replicate", status="429")
        == errors + 1
    )

    spend = sample("photo_restore_spend_usd_total", provider="replicate", model="a/b")
    metrics.add_spend("replicate", "a/b", 0.25)
    metrics.add_spend("replicate", "a/b", -1.0)  # ignored: a counter never goes down
    assert sample(
        "photo_restore_spend_usd_total", provider="replicate", model="a/b"
    ) == pytest.approx(spend + 0.25)

    storage = sample("photo_restore_storage_errors_total", status="507")
    metrics.count_storage_error(507)
    assert sample("photo_restore_storage_errors_total", status="507") == storage + 1

    metrics.set_queue_depth(12)
    assert sample("photo_restore_queue_depth") == 12
    metrics.set_queue_depth(-3)
    assert sample("photo_restore_queue_depth") == 0


def test_job_states_follow_transitions_and_scrape_time_counts() -> None:
    metrics.set_job_counts({})
    metrics.job_state_changed(None, "queued")
    metrics.job_state_changed("queued", "running")
    assert sample("photo_restore_jobs", state="queued") == 0
    assert sample("photo_restore_jobs", state="running") == 1
    metrics.job_state_changed("running", "done")
    assert sample("photo_restore_jobs", state="running") == 0
    assert sample("photo_restore_jobs", state="done") == 1
    assert sample("photo_restore_job_transitions_total", state="done") >= 1

    metrics.set_job_counts({"queued": 4, "failed": 2})
    assert sample("photo_restore_jobs", state="queued") == 4
    assert sample("photo_restore_jobs", state="failed") == 2
    assert sample("photo_restore_jobs", state="done") == 0


def test_worker_metrics_server_serves_the_same_registry(unused_tcp_port: int) -> None:
    metrics.set_queue_depth(5)
    metrics.start_metrics_server(unused_tcp_port, addr="127.0.0.1")
    with urllib.request.urlopen(f"http://127.0.0.1:{unused_tcp_port}/metrics", timeout=5) as r:
        body = r.read().decode()
    assert "photo_restore_queue_depth 5.0" in body
