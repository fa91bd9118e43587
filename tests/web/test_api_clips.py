"""The dashboard's API for jobs with a clip, without a browser: the list marks them, a re-run
may choose another clip model or motion prompt, a clip chain is refused at enqueue without a
token, and the catalog says what a clip costs. Clips come from the fake router."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from service.inference import PollPolicy
from tests.fakerouter import FakeRouter
from tests.web.api_support import Api, api_for
from tests.web.live import scan_bytes

ANIMATE = "/Family/to-restore/animate"
H3_SUBMIT = "/fal-ai/minimax/h3/image-to-video"


@pytest.fixture
def router(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRouter]:
    monkeypatch.setattr("service.inference.client.VIDEO_POLL", PollPolicy(interval=0.02))
    with FakeRouter() as fake:
        yield fake


@pytest.fixture
async def api(rdb: redis.Redis, data_dir: Path, router: FakeRouter) -> AsyncIterator[Api]:
    (data_dir / "Family/to-restore/animate").mkdir()
    token = {"hf_token": "hf_x", "hf_router_url": router.url, "hf_endpoint": router.url}
    async with api_for(data_dir, **token) as a:
        yield a


async def upload(api: Api, folder: str = ANIMATE) -> dict[str, object]:
    r = await api.client.post(
        "/api/files/upload",
        data={"folder": folder},
        files={"file": ("oma.jpg", scan_bytes(), "image/jpeg")},
        headers={"x-csrf-token": api.token},
    )
    assert r.status_code == 201, r.text
    return dict(r.json()["results"][0])


async def animated(api: Api) -> str:
    job_id = str((await upload(api))["job"])
    record = await api.run(job_id)
    assert record.status == "done", record.error
    return job_id


async def test_the_jobs_list_marks_a_job_with_a_clip(api: Api) -> None:
    job_id = await animated(api)
    listed = (await api.client.get("/api/jobs")).json()["jobs"]
    assert [j["clip"] for j in listed] == ["/Family/restored/animate/oma.mp4"]
    job = await api.job(job_id)
    (step,) = [s for s in job["steps"] if s["kind"] == "video"]
    assert step["status"] == "done"


async def test_a_rerun_with_another_clip_model_and_prompt_makes_that_clip(
    api: Api, router: FakeRouter
) -> None:
    job_id = await animated(api)
    body = {"clip_model": "minimax-h3", "clip_prompt": "She smiles; nothing else moves."}
    r = await api.post(f"/api/jobs/{job_id}/rerun", body)
    assert r.status_code == 201, r.text
    child = r.json()
    assert child["parent"] == job_id
    assert child["clip_options"] == {"model": "minimax-h3", "prompt": body["clip_prompt"]}
    done = await api.run(child["id"])
    assert done.status == "done", done.error
    (step,) = [s for s in done.steps if s["kind"] == "video"]
    assert step["model"] == "MiniMaxAI/MiniMax-H3"
    sent = [c.json for c in router.calls if c.path == H3_SUBMIT]
    assert len(sent) == 1
    assert sent[0]["prompt"] == body["clip_prompt"]
    again = await api.post(f"/api/jobs/{job_id}/rerun", body)
    assert again.json()["id"] == child["id"]  # the same choices: the same child job


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"clip_model": "flux2-dev"}, "clip_model must be a clip model: one of wan22-i2v"),
        ({"chain": "classic", "clip_prompt": "smile"}, "chain classic makes no clip"),
    ],
)
async def test_a_rerun_with_clip_choices_that_do_not_apply_is_refused(
    api: Api, body: dict[str, str], says: str
) -> None:
    job_id = str((await upload(api))["job"])
    r = await api.post(f"/api/jobs/{job_id}/rerun", body)
    assert r.status_code == 400, r.text
    assert says in r.json()["error"]


async def test_the_catalog_says_what_a_clip_costs(api: Api) -> None:
    catalog = (await api.client.get("/api/chains")).json()
    wan = next(m for m in catalog["clip_models"] if m["name"] == "wan22-i2v")
    assert (wan["duration"], wan["price_per_second"], wan["clip_cost"]) == (5.0, 0.04, 0.2)
    animate = next(c for c in catalog["chains"] if c["name"] == "animate")
    assert animate["output"] == "video"
    assert animate["restores_with"] == "classic"  # DEFAULT_CHAIN of these settings
    assert animate["steps"][-1]["kind"] == "video"
    assert animate["steps"][-1]["clip_cost"] == 0.2
    page = (await api.client.get("/chains")).text
    assert "≈ $0.20 per clip ($0.04 per second × 5.0 s)" in page


async def test_a_job_without_a_clip_has_no_clip_to_serve(api: Api) -> None:
    job_id = str((await upload(api, "/Family/to-restore"))["job"])
    await api.run(job_id)
    r = await api.client.get(f"/api/jobs/{job_id}/clip")
    assert r.status_code == 404


@pytest.fixture
async def offline(rdb: redis.Redis, data_dir: Path) -> AsyncIterator[Api]:
    (data_dir / "Family/to-restore/animate").mkdir()
    async with api_for(data_dir) as a:
        yield a


async def test_without_a_token_a_clip_chain_is_refused_at_enqueue(offline: Api) -> None:
    result = await upload(offline)
    assert "chain animate cannot run" in str(result["error"])
    assert "no clip can be made offline" in str(result["error"])
    assert (await offline.client.get("/api/jobs")).json()["total"] == 0
    animate = next(
        c
        for c in (await offline.client.get("/api/chains")).json()["chains"]
        if c["name"] == "animate"
    )
    assert animate["can_run"] is False
