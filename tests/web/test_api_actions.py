"""Every JSON action of the dashboard without a browser: approve, reject, re-run, bulk retry,
pause and resume, enqueue. Jobs are run to their end in-process, as a worker would."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
from PIL import Image

from service.constants import LEDGER_KEY
from tests.web.api_support import Api, api_for

INBOX = "/Family/to-restore"


@pytest.fixture
async def api(rdb: redis.Redis, data_dir: Path) -> AsyncIterator[Api]:
    async with api_for(data_dir) as a:
        yield a


async def done_job(api: Api, name: str = "scan.jpg") -> str:
    job_id = await api.upload(name)
    record = await api.run(job_id)
    assert record.status == "done", record.error
    return job_id


def ledger_entry(rdb: redis.Redis, identity: str) -> dict[str, object]:
    raw = rdb.hget(LEDGER_KEY, identity)
    assert raw is not None
    return dict(json.loads(raw))


async def test_approving_keeps_the_result_and_settles_the_file(
    api: Api, rdb: redis.Redis, data_dir: Path
) -> None:
    job_id = await done_job(api)
    assert (await api.client.get("/api/jobs", params={"status": "review"})).json()["total"] == 1
    r = await api.post(f"/api/jobs/{job_id}/approve")
    assert r.status_code == 200
    assert r.json()["decision"] == "approved"
    assert r.json()["to_review"] is False
    assert (await api.client.get("/api/jobs", params={"status": "review"})).json()["total"] == 0
    assert (data_dir / "Family/restored/scan.jpg").exists()
    job = await api.job(job_id)
    assert ledger_entry(rdb, job["identity"])["taken"] == job["version"]


async def test_only_a_finished_job_can_be_approved_or_rejected(api: Api) -> None:
    job_id = await api.upload("waiting.jpg")
    for action in ("approve", "reject"):
        r = await api.post(f"/api/jobs/{job_id}/{action}")
        assert r.status_code == 409, action
        assert "finished" in r.json()["error"]
    assert (await api.post("/api/jobs/nope/approve")).status_code == 404


async def test_rejecting_deletes_the_result_keeps_the_original_and_is_never_redone(
    api: Api, rdb: redis.Redis, data_dir: Path
) -> None:
    job_id = await done_job(api)
    r = await api.post(f"/api/jobs/{job_id}/reject")
    assert r.status_code == 200
    assert r.json()["deleted"] is True
    assert r.json()["decision"] == "rejected"
    assert not (data_dir / "Family/restored/scan.jpg").exists()
    assert (data_dir / "Family/to-restore/scan.jpg").exists()
    job = await api.job(job_id)
    assert ledger_entry(rdb, job["identity"])["taken"] == job["version"]
    report = await api.services.watcher().poll_once(full=True)
    assert report.queued == []
    assert (await api.client.get("/api/jobs")).json()["total"] == 1


async def test_rejecting_leaves_a_result_a_newer_run_wrote_alone(api: Api, data_dir: Path) -> None:
    job_id = await done_job(api)
    result = data_dir / "Family/restored/scan.jpg"
    Image.new("RGB", (20, 20), (1, 2, 3)).save(result)  # another run's result, another etag
    r = await api.post(f"/api/jobs/{job_id}/reject")
    assert r.status_code == 200
    assert r.json()["deleted"] is False
    assert "newer run" in r.json()["note"]
    assert result.exists()


async def test_a_rerun_with_another_chain_is_a_child_job(api: Api) -> None:
    job_id = await done_job(api)
    r = await api.post(f"/api/jobs/{job_id}/rerun", {"chain": "upscale"})
    assert r.status_code == 201, r.text
    child = r.json()
    assert child["id"] != job_id
    assert child["parent"] == job_id
    assert child["chain"] == "upscale"
    assert child["origin"] == "rerun"
    assert child["status"] == "queued"
    again = await api.post(f"/api/jobs/{job_id}/rerun", {"chain": "upscale"})
    assert again.status_code == 200  # the same re-run, still queued: nothing new
    assert again.json()["id"] == child["id"]
    assert (await api.run(child["id"])).status == "done"
    once_more = await api.post(f"/api/jobs/{job_id}/rerun", {"chain": "upscale"})
    assert once_more.status_code == 201  # done before: queued again under its id
    assert once_more.json()["id"] == child["id"]
    assert once_more.json()["status"] == "queued"


async def test_a_rerun_carries_edits_prompt_and_params(api: Api) -> None:
    job_id = await done_job(api)
    mask = io.BytesIO()
    Image.new("L", (16, 12), 255).save(mask, "PNG")
    keep = {
        "op": "keep_original",
        "params": {"mask": "data:image/png;base64," + base64.b64encode(mask.getvalue()).decode()},
    }
    body = {
        "chain": "",
        "prompt": "Remove the crease",
        "params": {"seed": 4},
        "fidelity": None,
        "edits": [{"op": "rotate", "params": {"degrees": 90}}, keep],
    }
    r = await api.post(f"/api/jobs/{job_id}/rerun", body)
    assert r.status_code == 201, r.text
    child = r.json()
    assert child["chain"] == "classic"  # an empty chain means: the same chain again
    assert child["prompt"] == "Remove the crease"
    assert child["params"] == {"seed": 4}
    assert [e["op"] for e in child["edits"]] == ["rotate", "keep_original"]
    assert (await api.run(child["id"])).status == "done"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"chain": "nope"}, 400, "unknown chain"),
        ({"chain": "restore"}, 409, "needs HF_TOKEN"),
        ({"fidelity": "wild"}, 400, "fidelity"),
        ({"prompt": "x" * 4001}, 400, "prompt"),
        ({"params": [1, 2]}, 400, "params"),
        ({"edits": [{"op": "denoise"}]}, 400, "op"),
        ({"edits": [{"op": "crop", "params": {"left": 0.8, "right": 0.2}}]}, 400, "crop"),
        ({"edits": [{"op": "rotate", "params": {"degrees": 90, "bogus": 1}}] * 21}, 400, "edits"),
        ([1, 2], 400, "object"),
    ],
)
async def test_a_rerun_that_cannot_be_done_is_refused_with_a_reason(
    api: Api, body: object, status: int, says: str
) -> None:
    job_id = await api.upload("x.jpg")
    r = await api.post(f"/api/jobs/{job_id}/rerun", body)
    assert r.status_code == status, r.text
    assert says in r.json()["error"]


async def test_a_rerun_of_an_original_that_is_gone_is_a_conflict(api: Api, data_dir: Path) -> None:
    job_id = await done_job(api)
    (data_dir / "Family/to-restore/scan.jpg").unlink()
    r = await api.post(f"/api/jobs/{job_id}/rerun", {})
    assert r.status_code == 409
    assert "gone" in r.json()["error"]


async def test_bulk_retry_queues_failed_jobs_again(api: Api) -> None:
    bad = await api.upload("bad.jpg", b"not a photo at all")
    good = await done_job(api, "good.jpg")
    assert (await api.run(bad)).status == "failed"
    r = await api.post("/api/jobs/retry", {})
    assert r.status_code == 200
    assert r.json() == {"retried": [bad], "count": 1}
    assert (await api.job(bad))["status"] == "queued"
    assert (await api.job(good))["status"] == "done"
    picked = await api.post("/api/jobs/retry", {"ids": [good]})
    assert picked.json()["count"] == 1  # a finished job named by id is queued again too
    for body in ({"ids": "all"}, {"ids": [1, 2]}):
        assert (await api.post("/api/jobs/retry", body)).status_code == 400


async def test_pausing_and_resuming_the_queue(api: Api) -> None:
    await api.upload("a.jpg")
    r = await api.post("/api/queue", {"paused": True})
    assert r.status_code == 200
    assert r.json() == {"paused": True, "depth": 1}
    assert (await api.client.get("/api/queue")).json()["paused"] is True
    assert (await api.client.get("/api/jobs")).json()["paused"] is True
    r = await api.post("/api/queue", {"paused": False})
    assert r.json()["paused"] is False
    for body in ({"paused": "yes"}, {"paused": 1}, {}):
        assert (await api.post("/api/queue", body)).status_code == 400, body


async def test_enqueue_queues_picked_files_once(api: Api, data_dir: Path) -> None:
    (data_dir / "Family/to-restore/p.jpg").write_bytes(Image.new("RGB", (30, 20)).tobytes())
    (data_dir / "Family/to-restore/sub").mkdir()
    paths = [f"{INBOX}/p.jpg", f"{INBOX}/sub", f"{INBOX}/missing.jpg"]
    r = await api.post("/api/files/enqueue", {"paths": paths, "chain": "upscale"})
    assert r.status_code == 200
    first, folder, missing = r.json()["results"]
    assert first["new"] is True
    assert (await api.job(first["job"]))["chain"] == "upscale"
    assert folder["error"] == missing["error"] == "not a file in an inbox"
    again = await api.post("/api/files/enqueue", {"paths": [f"{INBOX}/p.jpg"], "chain": "upscale"})
    assert again.json()["results"][0] == {**first, "new": False}
    for body in ({"paths": []}, {"paths": [f"{INBOX}/p.jpg"], "chain": "nope"}, {}):
        assert (await api.post("/api/files/enqueue", body)).status_code == 400, body
